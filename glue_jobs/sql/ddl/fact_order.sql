-- fact_order: one row per order (order_id); event_id names the Order Completed event that won (the first), the
-- later copies count nowhere (duplicate_events). Own-currency amounts DECIMAL(18,4) in `currency`; *_rc in the
-- reporting currency at the order day's rate (NULL when is_converted is false: never summed).
-- Distributed on order_id, as fact_order_line is: an order and its lines sit on the same slice, so joining them on
-- order_id (and MERGE on the key order_id) needs no redistribution. Text widths are bytes (Redshift VARCHAR(n)
-- counts bytes): 4 per character of the contract's limit (order_id 128, ids 256 characters).
CREATE TABLE IF NOT EXISTS fact_order (
    order_id            VARCHAR(512)   NOT NULL ENCODE ZSTD,
    event_id            VARCHAR(1024)  NOT NULL ENCODE ZSTD,
    duplicate_events    INTEGER        NOT NULL ENCODE ZSTD,
    customer_key        BIGINT         NOT NULL ENCODE ZSTD,
    customer_id         VARCHAR(1024)  NOT NULL ENCODE ZSTD,
    date_key            INTEGER        NOT NULL ENCODE RAW,
    channel_key         BIGINT         NOT NULL ENCODE ZSTD,
    order_ts            TIMESTAMP      NOT NULL ENCODE ZSTD,
    currency            VARCHAR(3)     NOT NULL ENCODE ZSTD,
    value_source        VARCHAR(16)    ENCODE ZSTD,
    order_value         DECIMAL(18,4)  NOT NULL ENCODE ZSTD,
    discount            DECIMAL(18,4)  ENCODE ZSTD,
    shipping            DECIMAL(18,4)  ENCODE ZSTD,
    tax                 DECIMAL(18,4)  ENCODE ZSTD,
    line_count          INTEGER        NOT NULL ENCODE ZSTD,
    units               INTEGER        NOT NULL ENCODE ZSTD,
    is_updated          BOOLEAN        NOT NULL ENCODE ZSTD,
    is_cancelled        BOOLEAN        NOT NULL ENCODE ZSTD,
    cancelled_ts        TIMESTAMP      ENCODE ZSTD,
    refund_count        INTEGER        NOT NULL ENCODE ZSTD,
    refunded_amount     DECIMAL(18,4)  NOT NULL ENCODE ZSTD,
    refund_capped       BOOLEAN        NOT NULL ENCODE ZSTD,
    rate                DECIMAL(18,8)  ENCODE ZSTD,
    is_converted        BOOLEAN        NOT NULL ENCODE ZSTD,
    order_value_rc      DECIMAL(18,2)  ENCODE ZSTD,
    refunded_amount_rc  DECIMAL(18,2)  ENCODE ZSTD,
    net_revenue_rc      DECIMAL(18,2)  ENCODE ZSTD,
    PRIMARY KEY (order_id)
)
DISTKEY (order_id)
SORTKEY (date_key);
