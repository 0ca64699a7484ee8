-- Revenue, transaction volume and AOV per day, with 7-day moving averages.
CREATE OR REPLACE VIEW mart_sales_trends AS
SELECT d.full_date,
       d.year_month,
       k.orders AS transactions,
       k.revenue,
       k.aov,
       k.units_sold,
       AVG(k.revenue::DOUBLE PRECISION) OVER (ORDER BY d.full_date ROWS BETWEEN 6 PRECEDING AND CURRENT ROW)
           AS revenue_7d_avg,
       AVG(k.orders::DOUBLE PRECISION) OVER (ORDER BY d.full_date ROWS BETWEEN 6 PRECEDING AND CURRENT ROW)
           AS transactions_7d_avg
FROM fact_daily_kpis AS k
JOIN dim_date AS d ON d.date_key = k.date_key;
