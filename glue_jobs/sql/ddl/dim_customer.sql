-- dim_customer: SCD type 2, one row per customer profile version, valid over [dw_start_date, dw_end_date):
-- UTC timestamps, start inclusive (the instant the version took effect), end exclusive (the next version's
-- start; 9999-12-31 00:00:00 for the current row). customer_key = hash(customer_id, dw_start_date).
-- Rules: docs/batch.md, "SCD type 2".
-- Distributed on customer_id, as dim_customer and every customer-grain fact are: the marts join them on
-- customer_id (the current version of dim_customer), so those joins are collocated.
CREATE TABLE IF NOT EXISTS dim_customer (
    customer_key     BIGINT        NOT NULL ENCODE ZSTD,
    customer_id      VARCHAR(1024) NOT NULL ENCODE RAW,
    version          INTEGER       NOT NULL ENCODE ZSTD,
    is_registered    BOOLEAN       NOT NULL ENCODE ZSTD,
    name             VARCHAR(1024) ENCODE ZSTD,
    email            VARCHAR(1280) ENCODE ZSTD,
    age              INTEGER       ENCODE ZSTD,
    age_band         VARCHAR(16)   NOT NULL ENCODE ZSTD,
    gender           VARCHAR(16)   ENCODE ZSTD,
    geography        VARCHAR(256)  NOT NULL ENCODE ZSTD,
    city             VARCHAR(512)  NOT NULL ENCODE ZSTD,
    geography_key    BIGINT        NOT NULL ENCODE ZSTD,
    signup_date      DATE          ENCODE ZSTD,
    first_seen_date  DATE          NOT NULL ENCODE ZSTD,
    dw_start_date    TIMESTAMP     NOT NULL ENCODE ZSTD,
    dw_end_date      TIMESTAMP     NOT NULL ENCODE ZSTD,
    is_current       BOOLEAN       NOT NULL ENCODE ZSTD,
    PRIMARY KEY (customer_key)
)
DISTKEY (customer_id)
SORTKEY (customer_id, dw_start_date);
