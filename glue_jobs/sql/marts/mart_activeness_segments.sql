-- Activeness segments per month: size, average active days, watch time, and what each segment watches most.
CREATE OR REPLACE VIEW mart_activeness_segments AS
WITH watched AS (
    SELECT m.year_month, m.activeness_segment, w.category,
           ROW_NUMBER() OVER (PARTITION BY m.year_month, m.activeness_segment
                              ORDER BY SUM(w.watch_seconds) DESC, w.category) AS category_rank
    FROM mart_customer_activeness AS m
    JOIN fact_content_watch AS w ON w.customer_id = m.customer_id
    JOIN dim_date AS d ON d.date_key = w.date_key AND d.year_month = m.year_month
    GROUP BY m.year_month, m.activeness_segment, w.category
)
SELECT m.year_month,
       m.activeness_segment,
       COUNT(*) AS customers,
       AVG(m.active_days::DOUBLE PRECISION) AS avg_active_days,
       SUM(m.watch_hours) AS watch_hours,
       MAX(w.category) AS most_watched_category
FROM mart_customer_activeness AS m
LEFT JOIN watched AS w
  ON w.year_month = m.year_month AND w.activeness_segment = m.activeness_segment AND w.category_rank = 1
GROUP BY m.year_month, m.activeness_segment;
