-- What could not be converted into the reporting currency? Per kind ('order': orders whose currency has no rate
-- for their day; 'refund': refunds in another currency than their order's, without rates) and currency: how many
-- and their amount in that currency. These amounts are in no revenue measure; the sum is per currency only.
CREATE OR REPLACE VIEW mart_unconverted_amounts AS
SELECT 'order' AS kind,
       o.currency,
       COUNT(*) AS items,
       SUM(o.order_value) AS amount,
       MIN(o.order_ts) AS first_ts,
       MAX(o.order_ts) AS last_ts
FROM fact_order AS o
WHERE NOT o.is_converted
GROUP BY o.currency
UNION ALL
SELECT 'refund' AS kind,
       r.currency,
       COUNT(*) AS items,
       SUM(r.requested_amount) AS amount,
       MIN(r.refund_ts) AS first_ts,
       MAX(r.refund_ts) AS last_ts
FROM fact_refund AS r
WHERE r.status = 'unconverted'
GROUP BY r.currency;
