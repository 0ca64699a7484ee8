-- fact_offer_response: one row per offer and customer (offer_id, customer_id): sent, or answered with no send on record (sent_ts NULL), with the response if any.
-- Distributed on customer_id, as dim_customer and every customer-grain fact are: the marts join them on
-- customer_id (the current version of dim_customer), so those joins are collocated.
CREATE TABLE IF NOT EXISTS fact_offer_response (
    offer_id       VARCHAR(512)  NOT NULL ENCODE ZSTD,
    customer_id    VARCHAR(1024) NOT NULL ENCODE ZSTD,
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
DISTKEY (customer_id)
SORTKEY (sent_date_key);
