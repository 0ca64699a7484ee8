-- fact_order: one row per completed order (Order Completed event), refunds attached.
CREATE TABLE IF NOT EXISTS fact_order (
    event_id         VARCHAR(256)   NOT NULL ENCODE ZSTD,
    order_id         VARCHAR(128)   NOT NULL ENCODE ZSTD,
    customer_key     BIGINT         NOT NULL ENCODE ZSTD,
    customer_id      VARCHAR(256)   NOT NULL ENCODE ZSTD,
    date_key         INTEGER        NOT NULL ENCODE RAW,
    channel_key      BIGINT         NOT NULL ENCODE ZSTD,
    order_ts         TIMESTAMP      NOT NULL ENCODE ZSTD,
    order_total      DECIMAL(18,2)  NOT NULL ENCODE ZSTD,
    discount         DECIMAL(18,2)  ENCODE ZSTD,
    shipping         DECIMAL(18,2)  ENCODE ZSTD,
    tax              DECIMAL(18,2)  ENCODE ZSTD,
    line_count       INTEGER        NOT NULL ENCODE ZSTD,
    units            INTEGER        NOT NULL ENCODE ZSTD,
    refunded_amount  DECIMAL(18,2)  NOT NULL ENCODE ZSTD,
    PRIMARY KEY (event_id)
)
DISTKEY (customer_key)
SORTKEY (date_key);
