-- fact_support_ticket: one row per support ticket (opened and, when resolved, its resolution).
-- Distributed on customer_id, as dim_customer and every customer-grain fact are: the marts join them on
-- customer_id (the current version of dim_customer), so those joins are collocated.
CREATE TABLE IF NOT EXISTS fact_support_ticket (
    ticket_id         VARCHAR(512)      NOT NULL ENCODE ZSTD,
    customer_key      BIGINT            NOT NULL ENCODE ZSTD,
    customer_id       VARCHAR(1024)     NOT NULL ENCODE ZSTD,
    issue_key         BIGINT            NOT NULL ENCODE ZSTD,
    channel_key       BIGINT            NOT NULL ENCODE ZSTD,
    opened_date_key   INTEGER           NOT NULL ENCODE RAW,
    opened_ts         TIMESTAMP         NOT NULL ENCODE ZSTD,
    resolved_ts       TIMESTAMP         ENCODE ZSTD,
    resolution_hours  DOUBLE PRECISION  ENCODE ZSTD,
    satisfaction      INTEGER           ENCODE ZSTD,
    is_resolved       BOOLEAN           NOT NULL ENCODE ZSTD,
    PRIMARY KEY (ticket_id)
)
DISTKEY (customer_id)
SORTKEY (opened_date_key);
