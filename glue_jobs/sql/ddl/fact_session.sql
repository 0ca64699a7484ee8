-- fact_session: one row per session (a customer's interactive events with gaps of at most 30 minutes).
CREATE TABLE IF NOT EXISTS fact_session (
    session_id        VARCHAR(32)   NOT NULL ENCODE ZSTD,
    customer_key      BIGINT        NOT NULL ENCODE ZSTD,
    customer_id       VARCHAR(256)  NOT NULL ENCODE ZSTD,
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
DISTKEY (customer_key)
SORTKEY (date_key);
