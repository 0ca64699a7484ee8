-- fact_content_watch: one row per Content Watched event (what and how long a customer streamed).
CREATE TABLE IF NOT EXISTS fact_content_watch (
    event_id       VARCHAR(256)      NOT NULL ENCODE ZSTD,
    customer_key   BIGINT            NOT NULL ENCODE ZSTD,
    customer_id    VARCHAR(256)      NOT NULL ENCODE ZSTD,
    date_key       INTEGER           NOT NULL ENCODE RAW,
    channel_key    BIGINT            NOT NULL ENCODE ZSTD,
    content_id     VARCHAR(128)      NOT NULL ENCODE ZSTD,
    category       VARCHAR(64)       NOT NULL ENCODE ZSTD,
    app            VARCHAR(64)       NOT NULL ENCODE ZSTD,
    watch_seconds  DOUBLE PRECISION  NOT NULL ENCODE ZSTD,
    PRIMARY KEY (event_id)
)
DISTKEY (customer_key)
SORTKEY (date_key);
