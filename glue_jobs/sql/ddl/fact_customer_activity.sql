-- fact_customer_activity: one row per accepted event (event grain), with its session.
CREATE TABLE IF NOT EXISTS fact_customer_activity (
    event_id        VARCHAR(256)  NOT NULL ENCODE ZSTD,
    customer_key    BIGINT        NOT NULL ENCODE ZSTD,
    customer_id     VARCHAR(256)  NOT NULL ENCODE ZSTD,
    date_key        INTEGER       NOT NULL ENCODE RAW,
    channel_key     BIGINT        NOT NULL ENCODE ZSTD,
    product_key     BIGINT        ENCODE ZSTD,
    session_id      VARCHAR(32)   ENCODE ZSTD,
    event_ts        TIMESTAMP     NOT NULL ENCODE ZSTD,
    event_type      VARCHAR(16)   NOT NULL ENCODE ZSTD,
    event_name      VARCHAR(200)  ENCODE ZSTD,
    page_name       VARCHAR(200)  ENCODE ZSTD,
    is_interactive  BOOLEAN       NOT NULL ENCODE ZSTD,
    PRIMARY KEY (event_id)
)
DISTKEY (customer_key)
SORTKEY (date_key);
