-- fact_order_line: one row per product line of an order's winning Order Completed event. category: the line's,
-- else the product's known one, else 'unknown'. line_amount in `currency`, line_amount_rc in the reporting currency.
CREATE TABLE IF NOT EXISTS fact_order_line (
    event_id        VARCHAR(256)   NOT NULL ENCODE ZSTD,
    line_number     INTEGER        NOT NULL ENCODE ZSTD,
    order_id        VARCHAR(128)   NOT NULL ENCODE ZSTD,
    customer_key    BIGINT         NOT NULL ENCODE ZSTD,
    customer_id     VARCHAR(256)   NOT NULL ENCODE ZSTD,
    product_key     BIGINT         NOT NULL ENCODE ZSTD,
    category        VARCHAR(256)   NOT NULL ENCODE ZSTD,
    date_key        INTEGER        NOT NULL ENCODE RAW,
    channel_key     BIGINT         NOT NULL ENCODE ZSTD,
    order_ts        TIMESTAMP      NOT NULL ENCODE ZSTD,
    quantity        INTEGER        NOT NULL ENCODE ZSTD,
    unit_price      DECIMAL(18,4)  ENCODE ZSTD,
    currency        VARCHAR(3)     NOT NULL ENCODE ZSTD,
    line_amount     DECIMAL(18,4)  ENCODE ZSTD,
    line_amount_rc  DECIMAL(18,2)  ENCODE ZSTD,
    is_cancelled    BOOLEAN        NOT NULL ENCODE ZSTD,
    PRIMARY KEY (event_id, line_number)
)
DISTKEY (event_id)
SORTKEY (date_key);
