-- dim_channel: where an interaction happened (event context channel or source, ticket and offer channels).
CREATE TABLE IF NOT EXISTS dim_channel (
    channel_key  BIGINT       NOT NULL ENCODE RAW,
    channel      VARCHAR(256) NOT NULL ENCODE ZSTD,
    PRIMARY KEY (channel_key)
)
DISTSTYLE ALL
SORTKEY (channel_key);
