-- How big and how valuable is each RFM segment (latest snapshot)?
-- One row per segment label as of as_of_date (the latest snapshot day, scored as of that day's end). The labels
-- are lakehouse.core.rfm's vocabulary (docs/rfm.md): this view groups them and names none.
CREATE OR REPLACE VIEW mart_rfm_segments AS
SELECT rfm_segment,
       snapshot_date AS as_of_date,
       COUNT(*) AS customers,
       COUNT(*)::DOUBLE PRECISION / SUM(COUNT(*)) OVER () AS share_of_customers,
       AVG(recency_days::DOUBLE PRECISION) AS avg_recency_days,
       AVG(frequency::DOUBLE PRECISION) AS avg_frequency,
       AVG(monetary::DOUBLE PRECISION) AS avg_monetary,
       SUM(monetary) AS total_monetary,
       AVG(clv_to_date::DOUBLE PRECISION) AS avg_clv
FROM fact_customer_metrics
WHERE snapshot_date = (SELECT MAX(snapshot_date) FROM fact_customer_metrics)
GROUP BY rfm_segment, snapshot_date;
