-- fact_daily_kpis: one row per day from the first event date to the as-of date (quiet days included, with zero
-- counts). Orders exclude cancelled ones; revenue, refunds and aov are in the reporting currency; orders whose
-- value has no rate count in orders and unconverted_orders, never in revenue.
CREATE TABLE IF NOT EXISTS fact_daily_kpis (
    date_key         INTEGER           NOT NULL ENCODE RAW,
    full_date        DATE              NOT NULL ENCODE ZSTD,
    dau              INTEGER           NOT NULL ENCODE ZSTD,
    new_customers    INTEGER           NOT NULL ENCODE ZSTD,
    sessions         INTEGER           NOT NULL ENCODE ZSTD,
    orders           INTEGER           NOT NULL ENCODE ZSTD,
    purchasers       INTEGER           NOT NULL ENCODE ZSTD,
    units_sold       INTEGER           NOT NULL ENCODE ZSTD,
    revenue          DECIMAL(18,2)     NOT NULL ENCODE ZSTD,
    refunds          DECIMAL(18,2)     NOT NULL ENCODE ZSTD,
    aov              DECIMAL(18,2)     ENCODE ZSTD,
    conversion_rate  DOUBLE PRECISION  ENCODE ZSTD,
    unconverted_orders  INTEGER        NOT NULL ENCODE ZSTD,
    PRIMARY KEY (date_key)
)
DISTSTYLE ALL
SORTKEY (date_key);
