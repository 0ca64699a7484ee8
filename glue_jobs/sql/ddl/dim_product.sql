-- dim_product: one row per product id (latest name, category ('unknown' when never sent) and price seen), plus the
-- member 'unknown' for lines and events naming no product (no first_seen_date).
CREATE TABLE IF NOT EXISTS dim_product (
    product_key      BIGINT         NOT NULL ENCODE RAW,
    product_id       VARCHAR(512)   NOT NULL ENCODE ZSTD,
    product_name     VARCHAR(1024)  ENCODE ZSTD,
    category         VARCHAR(256)   NOT NULL ENCODE ZSTD,
    list_price       DECIMAL(18,2)  ENCODE ZSTD,
    first_seen_date  DATE           ENCODE ZSTD,
    PRIMARY KEY (product_key)
)
DISTSTYLE ALL
SORTKEY (product_key);
