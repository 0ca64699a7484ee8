-- fact_customer_scores: one row per customer and scoring cutoff (key customer_id, cutoff_date): the churn and
-- purchase probabilities, the predicted CLV (reporting currency) and the top three reasons of one scoring run.
-- Written by the ML scoring run (ml/serving.py: warehouse/fact_customer_scores/cutoff_date=…/run=…/) and loaded by
-- glue_jobs/warehouse/load.py:load_scores, not by the star load: a re-score replaces its cutoff's rows only, every
-- other cutoff is kept (the history of scores), so this file lives outside sql/ddl (the star load's tables).
-- Distributed on customer_id as dim_customer and the customer-grain facts; sorted by cutoff_date (readers ask for
-- one cutoff, usually the latest). churn_probability and risk_band are NULL for a customer without an order before
-- the cutoff: churn is defined for customers who ordered (docs/ml.md).
CREATE TABLE IF NOT EXISTS fact_customer_scores (
    customer_id               VARCHAR(1024)     NOT NULL ENCODE ZSTD,
    cutoff_date               DATE              NOT NULL ENCODE RAW,
    run_id                    VARCHAR(64)       NOT NULL ENCODE ZSTD,
    scored_at                 TIMESTAMP         NOT NULL ENCODE ZSTD,
    churn_probability         DOUBLE PRECISION  ENCODE ZSTD,
    purchase_probability      DOUBLE PRECISION  NOT NULL ENCODE ZSTD,
    predicted_clv             DECIMAL(18,2)     NOT NULL ENCODE ZSTD,
    reporting_currency        VARCHAR(3)        NOT NULL ENCODE ZSTD,
    risk_band                 VARCHAR(8)        ENCODE ZSTD,
    reason_1                  VARCHAR(256)      ENCODE ZSTD,
    reason_2                  VARCHAR(256)      ENCODE ZSTD,
    reason_3                  VARCHAR(256)      ENCODE ZSTD,
    churn_model_version       VARCHAR(64)       NOT NULL ENCODE ZSTD,
    propensity_model_version  VARCHAR(64)       NOT NULL ENCODE ZSTD,
    clv_model_version         VARCHAR(64)       NOT NULL ENCODE ZSTD,
    PRIMARY KEY (customer_id, cutoff_date)
)
DISTKEY (customer_id)
SORTKEY (cutoff_date);
