-- The daily KPI board: DAU, sessions, orders, revenue, AOV and conversion (purchasers / DAU). Money in the
-- reporting currency; unconverted_orders = the day's orders whose value had no rate (in orders, not in revenue).
CREATE OR REPLACE VIEW mart_daily_kpis AS
SELECT d.full_date,
       d.year_month,
       d.day_name,
       d.is_weekend,
       k.dau,
       k.new_customers,
       k.sessions,
       k.orders,
       k.purchasers,
       k.units_sold,
       k.revenue,
       k.refunds,
       k.aov,
       k.conversion_rate,
       k.unconverted_orders
FROM fact_daily_kpis AS k
JOIN dim_date AS d ON d.date_key = k.date_key;
