-- Who churns and where? Churn rate of registered customers by current geography and age band,
-- as of the latest daily snapshot (churned = the customer closed their account on or before that day).
CREATE OR REPLACE VIEW mart_churn_by_geography_age AS
SELECT c.geography,
       c.age_band,
       COUNT(*) AS customers,
       SUM(CASE WHEN m.is_churned THEN 1 ELSE 0 END) AS churned_customers,
       SUM(CASE WHEN m.is_churned THEN 1 ELSE 0 END)::DOUBLE PRECISION / COUNT(*) AS churn_rate
FROM fact_customer_metrics AS m
JOIN dim_customer AS c
  ON c.customer_id = m.customer_id AND c.is_current
WHERE m.snapshot_date = (SELECT MAX(snapshot_date) FROM fact_customer_metrics)
GROUP BY c.geography, c.age_band;
