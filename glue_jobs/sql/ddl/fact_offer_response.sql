-- fact_offer_response: one row per offer and customer (offer_id, customer_id): sent, or answered with no send on record (sent_ts NULL), with the response if any.
CREATE TABLE IF NOT EXISTS fact_offer_response (
    offer_id       VARCHAR(128)  NOT NULL ENCODE ZSTD,
    customer_id    VARCHAR(256)  NOT NULL ENCODE ZSTD,
    offer_key      BIGINT        NOT NULL ENCODE ZSTD,
    customer_key   BIGINT        NOT NULL ENCODE ZSTD,
    channel_key    BIGINT        NOT NULL ENCODE ZSTD,
    sent_date_key  INTEGER       NOT NULL ENCODE RAW,
    sent_ts        TIMESTAMP     ENCODE ZSTD,
    responded_ts   TIMESTAMP     ENCODE ZSTD,
    responded      BOOLEAN       NOT NULL ENCODE ZSTD,
    accepted       BOOLEAN       ENCODE ZSTD,
    PRIMARY KEY (offer_id, customer_id)
)
DISTKEY (customer_key)
SORTKEY (sent_date_key);
