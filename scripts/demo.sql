-- The main job on the generated sample: per-customer RFM metrics as of
-- 2025-01-01, their scores and segments, and the summaries a user came for.
\set QUIET on
\pset footer off
SET TimeZone = 'UTC';
\echo
\echo '== Sample =='
SELECT count(*) AS orders, count(DISTINCT customer_id) AS customers,
	min(order_time)::date AS first_order, max(order_time)::date AS last_order,
	count(*) FILTER (WHERE amount < 0) AS refunds,
	count(*) FILTER (WHERE order_time > '2025-01-01 00:00+00') AS after_as_of
FROM rfm_sample_orders;

\echo '== Per-customer metrics as of 2025-01-01 (one rfm_metrics pass) =='
SELECT clock_timestamp() AS started \gset
CREATE TEMP TABLE customer_rfm AS
SELECT customer_id, (rfm_metrics(order_time, amount, '2025-01-01 00:00+00')).*
FROM rfm_sample_orders GROUP BY customer_id;
SELECT round(extract(epoch FROM clock_timestamp() - :'started'::timestamptz) * 1000) AS elapsed_ms,
	count(*) AS customers,
	count(*) FILTER (WHERE frequency = 0) AS only_after_as_of,
	sum(monetary) AS revenue
FROM customer_rfm;

\echo '== Distribution (customers with an order on or before as_of) =='
SELECT 'recency_days' AS metric,
	round(min(recency_days)::numeric, 1) AS min,
	round(percentile_cont(0.25) WITHIN GROUP (ORDER BY recency_days)::numeric, 1) AS p25,
	round(percentile_cont(0.5) WITHIN GROUP (ORDER BY recency_days)::numeric, 1) AS median,
	round(percentile_cont(0.75) WITHIN GROUP (ORDER BY recency_days)::numeric, 1) AS p75,
	round(percentile_cont(0.9) WITHIN GROUP (ORDER BY recency_days)::numeric, 1) AS p90,
	round(max(recency_days)::numeric, 1) AS max
FROM customer_rfm WHERE frequency > 0
UNION ALL
SELECT 'frequency', min(frequency),
	percentile_cont(0.25) WITHIN GROUP (ORDER BY frequency)::numeric,
	percentile_cont(0.5) WITHIN GROUP (ORDER BY frequency)::numeric,
	percentile_cont(0.75) WITHIN GROUP (ORDER BY frequency)::numeric,
	percentile_cont(0.9) WITHIN GROUP (ORDER BY frequency)::numeric,
	max(frequency)
FROM customer_rfm WHERE frequency > 0
UNION ALL
SELECT 'monetary', min(monetary),
	round(percentile_cont(0.25) WITHIN GROUP (ORDER BY monetary)::numeric, 2),
	round(percentile_cont(0.5) WITHIN GROUP (ORDER BY monetary)::numeric, 2),
	round(percentile_cont(0.75) WITHIN GROUP (ORDER BY monetary)::numeric, 2),
	round(percentile_cont(0.9) WITHIN GROUP (ORDER BY monetary)::numeric, 2),
	max(monetary)
FROM customer_rfm WHERE frequency > 0;

\echo '== Customers by number of orders =='
SELECT CASE WHEN frequency >= 10 THEN '10+' ELSE frequency::text END AS orders,
	count(*) AS customers, round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS pct,
	sum(monetary) AS revenue
FROM customer_rfm WHERE frequency > 0
GROUP BY 1 ORDER BY min(frequency);

\echo '== Top 10 customers by revenue =='
SELECT customer_id, frequency, monetary, avg_amount::numeric(12, 2) AS avg_order,
	round(recency_days::numeric, 1) AS recency_days, first_event::date AS first_order,
	frequency_last_period AS orders_last_30d
FROM customer_rfm WHERE frequency > 0
ORDER BY monetary DESC NULLS LAST, customer_id LIMIT 10;

\echo '== Scores (5 bins, quantile breaks; recency: fewer days scores higher) =='
CREATE TEMP TABLE customer_breaks AS
SELECT rfm_breaks(recency_days, 5) AS r, rfm_breaks(frequency, 5) AS f, rfm_breaks(monetary, 5) AS m
FROM customer_rfm WHERE frequency > 0;
SELECT 'recency_days' AS metric, (SELECT array_agg(round(x::numeric, 1)) FROM unnest(r) x) AS breaks FROM customer_breaks
UNION ALL SELECT 'frequency', f::numeric[] FROM customer_breaks
UNION ALL SELECT 'monetary', (SELECT array_agg(round(x::numeric, 2)) FROM unnest(m) x) FROM customer_breaks;

CREATE TEMP TABLE customer_segments AS
SELECT s.*, rfm_segment(s.r, s.f, s.m) AS segment
FROM (SELECT c.customer_id, c.recency_days, c.frequency, c.monetary,
		  rfm_score_desc(c.recency_days, b.r) AS r, rfm_score(c.frequency, b.f) AS f,
		  rfm_score(c.monetary, b.m) AS m
	  FROM customer_rfm c, customer_breaks b
	  WHERE c.frequency > 0) s;

\echo 'customers per score (ties share a score, so counts are not all equal)'
SELECT s.score,
	count(*) FILTER (WHERE r = s.score) AS r, count(*) FILTER (WHERE f = s.score) AS f,
	count(*) FILTER (WHERE m = s.score) AS m
FROM customer_segments, generate_series(1, 5) s(score) GROUP BY 1 ORDER BY 1;

\echo '== Segments (the standard rule set; no segment: no order with an amount) =='
SELECT segment, count(*) AS customers, round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS pct,
	sum(monetary) AS revenue, round(avg(recency_days)::numeric, 0) AS avg_recency_days,
	round(avg(frequency), 1) AS avg_orders
FROM customer_segments GROUP BY 1 ORDER BY 4 DESC NULLS LAST;

\echo '== The same in one call: rfm_analyze (one scan, metrics + scores + segments) =='
SELECT clock_timestamp() AS started \gset
CREATE TEMP TABLE analyzed AS
SELECT * FROM rfm_analyze('rfm_sample_orders', 'customer_id', 'order_time', 'amount',
						  as_of => '2025-01-01 00:00+00');
SELECT round(extract(epoch FROM clock_timestamp() - :'started'::timestamptz) * 1000) AS elapsed_ms,
	count(*) AS customers,
	count(*) FILTER (WHERE a.segment IS NOT DISTINCT FROM s.segment
				   AND (a.r, a.f, a.m) IS NOT DISTINCT FROM (s.r, s.f, s.m)) AS same_as_step_by_step
FROM analyzed a
LEFT JOIN customer_segments s ON s.customer_id::text = a.customer_key;
