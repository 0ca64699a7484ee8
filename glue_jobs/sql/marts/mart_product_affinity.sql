-- Which products sell together? For every ordered pair (A -> B) of products in the same order:
-- support = orders with both / all orders, confidence = orders with both / orders with A,
-- lift = confidence / (orders with B / all orders); cancelled orders are no baskets. Thresholds come from
-- mart_parameters.
CREATE OR REPLACE VIEW mart_product_affinity AS
WITH baskets AS (
    SELECT DISTINCT order_id AS order_key, product_key FROM fact_order_line WHERE NOT is_cancelled
), totals AS (
    SELECT COUNT(DISTINCT order_key) AS orders FROM baskets
), product_orders AS (
    SELECT product_key, COUNT(*) AS orders FROM baskets GROUP BY product_key
), pairs AS (
    SELECT a.product_key AS antecedent_key, b.product_key AS consequent_key, COUNT(*) AS pair_orders
    FROM baskets AS a
    JOIN baskets AS b ON b.order_key = a.order_key AND b.product_key <> a.product_key
    GROUP BY a.product_key, b.product_key
), params AS (
    SELECT MAX(CASE WHEN name = 'affinity_min_support' THEN value END) AS min_support,
           MAX(CASE WHEN name = 'affinity_min_confidence' THEN value END) AS min_confidence,
           MAX(CASE WHEN name = 'affinity_min_pair_orders' THEN value END) AS min_pair_orders
    FROM mart_parameters
), scored AS (
    SELECT p.antecedent_key, p.consequent_key, p.pair_orders,
           p.pair_orders::DOUBLE PRECISION / t.orders AS support,
           p.pair_orders::DOUBLE PRECISION / ao.orders AS confidence,
           (p.pair_orders::DOUBLE PRECISION / ao.orders) / (bo.orders::DOUBLE PRECISION / t.orders) AS lift
    FROM pairs AS p
    CROSS JOIN totals AS t
    JOIN product_orders AS ao ON ao.product_key = p.antecedent_key
    JOIN product_orders AS bo ON bo.product_key = p.consequent_key
)
SELECT pa.product_id AS antecedent_product_id,
       pa.product_name AS antecedent_name,
       pb.product_id AS consequent_product_id,
       pb.product_name AS consequent_name,
       s.pair_orders,
       s.support,
       s.confidence,
       s.lift
FROM scored AS s
CROSS JOIN params AS x
JOIN dim_product AS pa ON pa.product_key = s.antecedent_key
JOIN dim_product AS pb ON pb.product_key = s.consequent_key
WHERE s.pair_orders >= COALESCE(x.min_pair_orders, 1)
  AND s.support >= COALESCE(x.min_support, 0)
  AND s.confidence >= COALESCE(x.min_confidence, 0);
