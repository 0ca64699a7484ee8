-- fact_session: one row per session (a customer's interactive events with gaps of at most 30 minutes).
-- Distributed on customer_id, as dim_customer and every customer-grain fact are: the marts join them on
-- customer_id (the current version of dim_customer), so those joins are collocated.
CREATE TABLE IF NOT EXISTS fact_session (
    session_id        VARCHAR(32)   NOT NULL ENCODE ZSTD,
    customer_key      BIGINT        NOT NULL ENCODE ZSTD,
    customer_id       VARCHAR(1024) NOT NULL ENCODE ZSTD,
    date_key          INTEGER       NOT NULL ENCODE RAW,
    channel_key       BIGINT        NOT NULL ENCODE ZSTD,
    session_start     TIMESTAMP     NOT NULL ENCODE ZSTD,
    session_end       TIMESTAMP     NOT NULL ENCODE ZSTD,
    duration_seconds  BIGINT        NOT NULL ENCODE ZSTD,
    event_count       INTEGER       NOT NULL ENCODE ZSTD,
    page_views        INTEGER       NOT NULL ENCODE ZSTD,
    product_views     INTEGER       NOT NULL ENCODE ZSTD,
    cart_adds         INTEGER       NOT NULL ENCODE ZSTD,
    orders            INTEGER       NOT NULL ENCODE ZSTD,
    PRIMARY KEY (session_id)
)
DISTKEY (customer_id)
SORTKEY (date_key);
