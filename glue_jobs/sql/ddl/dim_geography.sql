-- dim_geography: one row per (geography, city) seen in a customer profile, plus 'unknown'.
CREATE TABLE IF NOT EXISTS dim_geography (
    geography_key  BIGINT        NOT NULL ENCODE RAW,
    geography      VARCHAR(256)  NOT NULL ENCODE ZSTD,
    city           VARCHAR(512)  NOT NULL ENCODE ZSTD,
    PRIMARY KEY (geography_key)
)
DISTSTYLE ALL
SORTKEY (geography_key);
