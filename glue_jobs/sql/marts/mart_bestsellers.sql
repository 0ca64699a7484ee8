-- Which products sell? Units, revenue (line amounts in the reporting currency) and orders per product, ranked
-- overall and in category. Lines of cancelled orders are not sales; lines of unconverted orders count in units
-- and orders, not in revenue.
CREATE OR REPLACE VIEW mart_bestsellers AS
WITH sales AS (
    SELECT l.product_key,
           SUM(l.quantity) AS units_sold,
           COALESCE(SUM(l.line_amount_rc), 0) AS revenue,
           COUNT(DISTINCT l.order_id) AS orders
    FROM fact_order_line AS l
    WHERE NOT l.is_cancelled
    GROUP BY l.product_key
)
SELECT p.product_id,
       p.product_name,
       p.category,
       s.units_sold,
       s.revenue,
       s.orders,
       RANK() OVER (ORDER BY s.revenue DESC) AS revenue_rank,
       RANK() OVER (PARTITION BY p.category ORDER BY s.revenue DESC) AS category_rank
FROM sales AS s
JOIN dim_product AS p ON p.product_key = s.product_key;
