-- Which offers work? Offers (one per offer and customer), responses and acceptances by offer type.
CREATE OR REPLACE VIEW mart_offer_acceptance AS
WITH counts AS (
    SELECT o.offer_type,
           COUNT(*) AS offers,
           SUM(CASE WHEN f.responded THEN 1 ELSE 0 END) AS responses,
           SUM(CASE WHEN f.accepted THEN 1 ELSE 0 END) AS accepted
    FROM fact_offer_response AS f
    JOIN dim_offer AS o ON o.offer_key = f.offer_key
    GROUP BY o.offer_type
)
SELECT offer_type,
       offers,
       responses,
       accepted,
       accepted::DOUBLE PRECISION / offers AS acceptance_rate,
       responses::DOUBLE PRECISION / offers AS response_rate,
       accepted::DOUBLE PRECISION / NULLIF(responses, 0) AS acceptance_among_responses
FROM counts;
