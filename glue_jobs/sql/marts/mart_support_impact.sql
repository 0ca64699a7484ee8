-- How does support move retention and value? For each issue type x severity: the customers who had such a
-- ticket, their churn rate and average CLV (latest snapshot), resolution time and satisfaction; plus a
-- baseline row for registered customers who never opened a ticket.
CREATE OR REPLACE VIEW mart_support_impact AS
WITH latest AS (
    SELECT customer_id, is_churned, clv_to_date
    FROM fact_customer_metrics
    WHERE snapshot_date = (SELECT MAX(snapshot_date) FROM fact_customer_metrics)
), tickets AS (
    SELECT t.customer_id, i.issue_type, i.severity, i.severity_rank, t.resolution_hours, t.satisfaction
    FROM fact_support_ticket AS t
    JOIN dim_support_issue AS i ON i.issue_key = t.issue_key
), by_issue AS (
    SELECT issue_type, severity, severity_rank,
           COUNT(*) AS tickets,
           AVG(resolution_hours) AS avg_resolution_hours,
           AVG(satisfaction::DOUBLE PRECISION) AS avg_satisfaction
    FROM tickets
    GROUP BY issue_type, severity, severity_rank
), affected AS (
    SELECT k.issue_type, k.severity,
           COUNT(*) AS customers,
           SUM(CASE WHEN l.is_churned THEN 1 ELSE 0 END) AS churned_customers,
           AVG(l.clv_to_date::DOUBLE PRECISION) AS avg_clv
    FROM (SELECT DISTINCT customer_id, issue_type, severity FROM tickets) AS k
    JOIN latest AS l ON l.customer_id = k.customer_id
    GROUP BY k.issue_type, k.severity
)
SELECT b.issue_type,
       b.severity,
       b.severity_rank,
       b.tickets,
       COALESCE(a.customers, 0) AS customers,
       COALESCE(a.churned_customers, 0) AS churned_customers,
       a.churned_customers::DOUBLE PRECISION / NULLIF(a.customers, 0) AS churn_rate,
       a.avg_clv,
       b.avg_resolution_hours,
       b.avg_satisfaction
FROM by_issue AS b
LEFT JOIN affected AS a ON a.issue_type = b.issue_type AND a.severity = b.severity
UNION ALL
SELECT 'no ticket' AS issue_type,
       'none' AS severity,
       0 AS severity_rank,
       0 AS tickets,
       COUNT(*) AS customers,
       SUM(CASE WHEN l.is_churned THEN 1 ELSE 0 END) AS churned_customers,
       SUM(CASE WHEN l.is_churned THEN 1 ELSE 0 END)::DOUBLE PRECISION / NULLIF(COUNT(*), 0) AS churn_rate,
       AVG(l.clv_to_date::DOUBLE PRECISION) AS avg_clv,
       NULL AS avg_resolution_hours,
       NULL AS avg_satisfaction
FROM latest AS l
WHERE NOT EXISTS (SELECT 1 FROM tickets AS t WHERE t.customer_id = l.customer_id);
