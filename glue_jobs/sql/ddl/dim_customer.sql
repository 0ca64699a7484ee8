-- dim_customer: SCD type 2, one row per customer profile version, valid over [dw_start_date, dw_end_date).
CREATE TABLE IF NOT EXISTS dim_customer (
    customer_key     BIGINT        NOT NULL ENCODE ZSTD,
    customer_id      VARCHAR(256)  NOT NULL ENCODE RAW,
    version          INTEGER       NOT NULL ENCODE ZSTD,
    is_registered    BOOLEAN       NOT NULL ENCODE ZSTD,
    name             VARCHAR(256)  ENCODE ZSTD,
    email            VARCHAR(320)  ENCODE ZSTD,
    age              INTEGER       ENCODE ZSTD,
    age_band         VARCHAR(16)   NOT NULL ENCODE ZSTD,
    gender           VARCHAR(16)   ENCODE ZSTD,
    geography        VARCHAR(64)   NOT NULL ENCODE ZSTD,
    city             VARCHAR(128)  NOT NULL ENCODE ZSTD,
    geography_key    BIGINT        NOT NULL ENCODE ZSTD,
    signup_date      DATE          ENCODE ZSTD,
    first_seen_date  DATE          NOT NULL ENCODE ZSTD,
    dw_start_date    TIMESTAMP     NOT NULL ENCODE ZSTD,
    dw_end_date      TIMESTAMP     NOT NULL ENCODE ZSTD,
    is_current       BOOLEAN       NOT NULL ENCODE ZSTD,
    PRIMARY KEY (customer_key)
)
DISTKEY (customer_key)
SORTKEY (customer_id, dw_start_date);
