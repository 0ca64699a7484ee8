-- fact_daily_kpis: one row per day from the first to the last event date (quiet days included, with zero counts).
CREATE TABLE IF NOT EXISTS fact_daily_kpis (
    date_key         INTEGER           NOT NULL ENCODE RAW,
    full_date        DATE              NOT NULL ENCODE ZSTD,
    dau              INTEGER           NOT NULL ENCODE ZSTD,
    new_customers    INTEGER           NOT NULL ENCODE ZSTD,
    sessions         INTEGER           NOT NULL ENCODE ZSTD,
    orders           INTEGER           NOT NULL ENCODE ZSTD,
    purchasers       INTEGER           NOT NULL ENCODE ZSTD,
    units_sold       INTEGER           NOT NULL ENCODE ZSTD,
    revenue          DECIMAL(18,2)     NOT NULL ENCODE ZSTD,
    refunds          DECIMAL(18,2)     NOT NULL ENCODE ZSTD,
    aov              DECIMAL(18,2)     ENCODE ZSTD,
    conversion_rate  DOUBLE PRECISION  ENCODE ZSTD,
    PRIMARY KEY (date_key)
)
DISTSTYLE ALL
SORTKEY (date_key);
