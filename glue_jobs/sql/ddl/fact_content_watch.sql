-- fact_content_watch: one row per Content Watched event (what and how long a customer streamed).
-- Distributed on customer_id, as dim_customer and every customer-grain fact are: the marts join them on
-- customer_id (the current version of dim_customer), so those joins are collocated.
CREATE TABLE IF NOT EXISTS fact_content_watch (
    event_id       VARCHAR(1024)     NOT NULL ENCODE ZSTD,
    customer_key   BIGINT            NOT NULL ENCODE ZSTD,
    customer_id    VARCHAR(1024)     NOT NULL ENCODE ZSTD,
    date_key       INTEGER           NOT NULL ENCODE RAW,
    channel_key    BIGINT            NOT NULL ENCODE ZSTD,
    content_id     VARCHAR(512)      NOT NULL ENCODE ZSTD,
    category       VARCHAR(256)      NOT NULL ENCODE ZSTD,
    app            VARCHAR(256)      NOT NULL ENCODE ZSTD,
    watch_seconds  DOUBLE PRECISION  NOT NULL ENCODE ZSTD,
    PRIMARY KEY (event_id)
)
DISTKEY (customer_id)
SORTKEY (date_key);
