-- dim_offer: one row per offer id.
CREATE TABLE IF NOT EXISTS dim_offer (
    offer_key        BIGINT        NOT NULL ENCODE RAW,
    offer_id         VARCHAR(512)  NOT NULL ENCODE ZSTD,
    offer_type       VARCHAR(32)   NOT NULL ENCODE ZSTD,
    channel          VARCHAR(256)  NOT NULL ENCODE ZSTD,
    first_sent_date  DATE          ENCODE ZSTD,
    PRIMARY KEY (offer_key)
)
DISTSTYLE ALL
SORTKEY (offer_key);
