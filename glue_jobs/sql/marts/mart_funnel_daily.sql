-- Conversion funnel per day (Segment e-commerce spec v2's steps): distinct customers who viewed a product, added
-- one to a cart, reached checkout (Checkout Started, a Checkout Step Viewed/Completed or Payment Info Entered),
-- and placed an order that counts (fact_order: one row per order_id, cancelled orders excluded, as in the daily
-- KPIs). Customers are stitched identities: pre-login steps count for the customer.
CREATE OR REPLACE VIEW mart_funnel_daily AS
WITH steps AS (
    SELECT d.full_date,
           COUNT(DISTINCT CASE WHEN a.event_name = 'Product Viewed' THEN a.customer_id END) AS viewers,
           COUNT(DISTINCT CASE WHEN a.event_name = 'Product Added' THEN a.customer_id END) AS cart_adders,
           COUNT(DISTINCT CASE WHEN a.event_name IN ('Checkout Started', 'Checkout Step Viewed',
                                                     'Checkout Step Completed', 'Payment Info Entered')
                               THEN a.customer_id END) AS checkout_starters
    FROM fact_customer_activity AS a
    JOIN dim_date AS d ON d.date_key = a.date_key
    WHERE a.event_type = 'track'
    GROUP BY d.full_date
),
buyers AS (
    SELECT d.full_date, COUNT(DISTINCT o.customer_id) AS purchasers
    FROM fact_order AS o
    JOIN dim_date AS d ON d.date_key = o.date_key
    WHERE NOT o.is_cancelled
    GROUP BY d.full_date
),
days AS (
    SELECT COALESCE(s.full_date, b.full_date) AS full_date,
           COALESCE(s.viewers, 0) AS viewers,
           COALESCE(s.cart_adders, 0) AS cart_adders,
           COALESCE(s.checkout_starters, 0) AS checkout_starters,
           COALESCE(b.purchasers, 0) AS purchasers
    FROM steps AS s
    FULL OUTER JOIN buyers AS b ON b.full_date = s.full_date
)
SELECT full_date,
       viewers,
       cart_adders,
       checkout_starters,
       purchasers,
       cart_adders::DOUBLE PRECISION / NULLIF(viewers, 0) AS view_to_cart_rate,
       checkout_starters::DOUBLE PRECISION / NULLIF(cart_adders, 0) AS cart_to_checkout_rate,
       purchasers::DOUBLE PRECISION / NULLIF(checkout_starters, 0) AS checkout_to_purchase_rate,
       purchasers::DOUBLE PRECISION / NULLIF(cart_adders, 0) AS cart_to_purchase_rate,
       purchasers::DOUBLE PRECISION / NULLIF(viewers, 0) AS view_to_purchase_rate
FROM days;
