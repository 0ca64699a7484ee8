-- fact_customer_activity: one row per accepted event (event grain), with its session.
-- Distributed on customer_id, as dim_customer and every customer-grain fact are: the marts join them on
-- customer_id (the current version of dim_customer), so those joins are collocated.
CREATE TABLE IF NOT EXISTS fact_customer_activity (
    event_id        VARCHAR(1024) NOT NULL ENCODE ZSTD,
    customer_key    BIGINT        NOT NULL ENCODE ZSTD,
    customer_id     VARCHAR(1024) NOT NULL ENCODE ZSTD,
    date_key        INTEGER       NOT NULL ENCODE RAW,
    channel_key     BIGINT        NOT NULL ENCODE ZSTD,
    product_key     BIGINT        ENCODE ZSTD,
    session_id      VARCHAR(32)   ENCODE ZSTD,
    event_ts        TIMESTAMP     NOT NULL ENCODE ZSTD,
    event_type      VARCHAR(16)   NOT NULL ENCODE ZSTD,
    event_name      VARCHAR(800)  ENCODE ZSTD,
    page_name       VARCHAR(800)  ENCODE ZSTD,
    is_interactive  BOOLEAN       NOT NULL ENCODE ZSTD,
    PRIMARY KEY (event_id)
)
DISTKEY (customer_id)
SORTKEY (date_key);
