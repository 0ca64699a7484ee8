-- How active is each registered customer in each month? Active days (days with any interactive event)
-- give the segment: 1-6 At Risk, 7-13 Need Attention, 14-20 Valuable, 21+ Loyal. Watch time, the most-watched
-- content category and the customer's taste (their two most-watched categories) come from streaming.
CREATE OR REPLACE VIEW mart_customer_activeness AS
WITH active AS (
    SELECT a.customer_id, d.year_month, COUNT(DISTINCT a.date_key) AS active_days
    FROM fact_customer_activity AS a
    JOIN dim_date AS d ON d.date_key = a.date_key
    JOIN dim_customer AS c ON c.customer_id = a.customer_id AND c.is_current AND c.is_registered
    WHERE a.is_interactive
    GROUP BY a.customer_id, d.year_month
), watched AS (
    SELECT w.customer_id, d.year_month, w.category,
           SUM(w.watch_seconds) AS seconds,
           ROW_NUMBER() OVER (PARTITION BY w.customer_id, d.year_month
                              ORDER BY SUM(w.watch_seconds) DESC, w.category) AS category_rank
    FROM fact_content_watch AS w
    JOIN dim_date AS d ON d.date_key = w.date_key
    GROUP BY w.customer_id, d.year_month, w.category
), taste AS (
    SELECT customer_id, year_month,
           SUM(seconds) / 3600.0 AS watch_hours,
           MAX(CASE WHEN category_rank = 1 THEN category END) AS most_watched_category,
           LISTAGG(CASE WHEN category_rank <= 2 THEN category END, ', ')
               WITHIN GROUP (ORDER BY category_rank) AS taste
    FROM watched
    GROUP BY customer_id, year_month
)
SELECT a.year_month,
       a.customer_id,
       a.active_days,
       CASE WHEN a.active_days <= 6 THEN 'At Risk'
            WHEN a.active_days <= 13 THEN 'Need Attention'
            WHEN a.active_days <= 20 THEN 'Valuable'
            ELSE 'Loyal' END AS activeness_segment,
       COALESCE(t.watch_hours, 0) AS watch_hours,
       t.most_watched_category,
       t.taste
FROM active AS a
LEFT JOIN taste AS t ON t.customer_id = a.customer_id AND t.year_month = a.year_month;
