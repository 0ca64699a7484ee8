-- What are customers worth? Balance and CLV (net revenue to date) by RFM segment and current geography.
CREATE OR REPLACE VIEW mart_customer_value AS
SELECT m.rfm_segment,
       c.geography,
       COUNT(*) AS customers,
       SUM(m.clv_to_date) AS total_clv,
       AVG(m.clv_to_date::DOUBLE PRECISION) AS avg_clv,
       SUM(m.balance) AS total_balance,
       AVG(m.balance::DOUBLE PRECISION) AS avg_balance
FROM fact_customer_metrics AS m
JOIN dim_customer AS c
  ON c.customer_id = m.customer_id AND c.is_current
WHERE m.snapshot_date = (SELECT MAX(snapshot_date) FROM fact_customer_metrics)
GROUP BY m.rfm_segment, c.geography;
