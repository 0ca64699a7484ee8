-- fact_order_line: one row per product line of an order's winning Order Completed event. category: the line's,
-- else the product's known one, else 'unknown'. line_amount in `currency`, line_amount_rc in the reporting currency.
-- Distributed on order_id, as fact_order is: the join of lines to their order and mart_product_affinity's self-join
-- of baskets (lines of one order) are collocated. Text widths are bytes: 4 per character of the contract's limit.
CREATE TABLE IF NOT EXISTS fact_order_line (
    event_id        VARCHAR(1024)  NOT NULL ENCODE ZSTD,
    line_number     INTEGER        NOT NULL ENCODE ZSTD,
    order_id        VARCHAR(512)   NOT NULL ENCODE ZSTD,
    customer_key    BIGINT         NOT NULL ENCODE ZSTD,
    customer_id     VARCHAR(1024)  NOT NULL ENCODE ZSTD,
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
DISTKEY (order_id)
SORTKEY (date_key);
