-- dim_date: one row per calendar day from the first to the last event date.
CREATE TABLE IF NOT EXISTS dim_date (
    date_key      INTEGER     NOT NULL ENCODE RAW,
    full_date     DATE        NOT NULL ENCODE ZSTD,
    year          INTEGER     NOT NULL ENCODE ZSTD,
    quarter       INTEGER     NOT NULL ENCODE ZSTD,
    month         INTEGER     NOT NULL ENCODE ZSTD,
    month_name    VARCHAR(9)  NOT NULL ENCODE ZSTD,
    year_month    VARCHAR(7)  NOT NULL ENCODE ZSTD,
    day_of_month  INTEGER     NOT NULL ENCODE ZSTD,
    day_of_week   INTEGER     NOT NULL ENCODE ZSTD,
    day_name      VARCHAR(9)  NOT NULL ENCODE ZSTD,
    week_of_year  INTEGER     NOT NULL ENCODE ZSTD,
    is_weekend    BOOLEAN     NOT NULL ENCODE ZSTD,
    PRIMARY KEY (date_key)
)
DISTSTYLE ALL
SORTKEY (date_key);
