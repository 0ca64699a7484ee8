-- fact_customer_metrics: monthly periodic snapshot, one row per registered customer per calendar month end from
-- the month first seen, plus one on the batch's as-of date when it is not a month end (key customer_id, snapshot_date;
-- every column as of the end of snapshot_date).
-- Distributed on customer_id, as dim_customer and every customer-grain fact are: the marts join them on
-- customer_id (the current version of dim_customer), so those joins are collocated.
CREATE TABLE IF NOT EXISTS fact_customer_metrics (
    customer_id           VARCHAR(1024)     NOT NULL ENCODE ZSTD,
    snapshot_date         DATE              NOT NULL ENCODE ZSTD,
    date_key              INTEGER           NOT NULL ENCODE RAW,
    customer_key          BIGINT            NOT NULL ENCODE ZSTD,
    is_churned            BOOLEAN           NOT NULL ENCODE ZSTD,
    churn_date            DATE              ENCODE ZSTD,
    tenure_days           INTEGER           NOT NULL ENCODE ZSTD,
    orders_to_date        INTEGER           NOT NULL ENCODE ZSTD,
    revenue_to_date       DECIMAL(18,2)     NOT NULL ENCODE ZSTD,
    refunds_to_date       DECIMAL(18,2)     NOT NULL ENCODE ZSTD,
    clv_to_date           DECIMAL(18,2)     NOT NULL ENCODE ZSTD,
    recency_days          INTEGER           ENCODE ZSTD,
    frequency             INTEGER           NOT NULL ENCODE ZSTD,
    monetary              DECIMAL(18,2)     NOT NULL ENCODE ZSTD,
    r_score               INTEGER           ENCODE ZSTD,
    f_score               INTEGER           ENCODE ZSTD,
    m_score               INTEGER           ENCODE ZSTD,
    rfm_segment           VARCHAR(32)       NOT NULL ENCODE ZSTD,
    tickets_to_date       INTEGER           NOT NULL ENCODE ZSTD,
    avg_resolution_hours  DOUBLE PRECISION  ENCODE ZSTD,
    products_held         INTEGER           ENCODE ZSTD,
    balance               DECIMAL(18,2)     ENCODE ZSTD,
    PRIMARY KEY (customer_id, snapshot_date)
)
DISTKEY (customer_id)
SORTKEY (date_key);
