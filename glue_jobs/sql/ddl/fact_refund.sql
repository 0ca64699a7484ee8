-- fact_refund: one row per Order Refunded event. refund_amount is what nets against its order (order currency,
-- capped at what remained: is_capped); status 'netted', 'unknown_order' or 'unconverted' (reported, not netted).
-- Distributed on customer_id, as dim_customer and every customer-grain fact are: the marts join them on
-- customer_id (the current version of dim_customer), so those joins are collocated.
CREATE TABLE IF NOT EXISTS fact_refund (
    event_id          VARCHAR(1024)  NOT NULL ENCODE ZSTD,
    order_id          VARCHAR(512)   ENCODE ZSTD,
    customer_key      BIGINT         ENCODE ZSTD,
    customer_id       VARCHAR(1024)  NOT NULL ENCODE ZSTD,
    date_key          INTEGER        NOT NULL ENCODE RAW,
    refund_ts         TIMESTAMP      NOT NULL ENCODE ZSTD,
    currency          VARCHAR(3)     ENCODE ZSTD,
    requested_amount  DECIMAL(18,4)  ENCODE ZSTD,
    is_full_refund    BOOLEAN        NOT NULL ENCODE ZSTD,
    order_currency    VARCHAR(3)     ENCODE ZSTD,
    refund_amount     DECIMAL(18,4)  ENCODE ZSTD,
    refund_amount_rc  DECIMAL(18,2)  ENCODE ZSTD,
    is_capped         BOOLEAN        NOT NULL ENCODE ZSTD,
    status            VARCHAR(16)    NOT NULL ENCODE ZSTD,
    PRIMARY KEY (event_id)
)
DISTKEY (customer_id)
SORTKEY (date_key);
