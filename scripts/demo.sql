-- The main job on the generated sample, told as a story: who the customers
-- are as of 2025-01-01, how they score, which segment each is in, what the
-- segments mean and what to do about them.
\set QUIET on
\pset footer off
SET TimeZone = 'UTC';
SET client_min_messages = warning;
\echo
\echo '== 1. The orders =='
\echo 'A shop''s order log: a few customers buy often, most once or twice; refunds are negative'
\echo 'amounts; some orders have no amount; orders after 2025-01-01 arrived late and are left out.'
SELECT count(*) AS orders, count(DISTINCT customer_id) AS customers,
	min(order_time)::date AS first_order, max(order_time)::date AS last_order,
	count(*) FILTER (WHERE amount < 0) AS refunds,
	count(*) FILTER (WHERE amount IS NULL) AS without_amount,
	count(*) FILTER (WHERE order_time > '2025-01-01 00:00+00') AS after_as_of
FROM rfm_sample_orders;

\echo
\echo '== 2. Every customer''s recency, frequency and monetary, in one aggregate pass =='
\echo 'Refunds are adjusted: a refund lowers the customer''s money but is not a visit, so it moves'
\echo 'neither frequency nor recency.'
SELECT clock_timestamp() AS started \gset
CREATE TEMP TABLE customer_rfm AS
SELECT customer_id, (rfm_metrics(order_time, amount, 1, '2025-01-01 00:00+00', '30 days', 'adjust')).*
FROM rfm_sample_orders GROUP BY customer_id;
SELECT round(extract(epoch FROM clock_timestamp() - :'started'::timestamptz) * 1000) AS elapsed_ms,
	count(*) FILTER (WHERE frequency > 0) AS buyers,
	count(*) FILTER (WHERE frequency = 0 AND monetary IS NOT NULL) AS refunds_only,
	count(*) FILTER (WHERE monetary < 0) AS negative_value,
	sum(monetary) AS revenue
FROM customer_rfm;
\echo 'negative_value: customers whose refunds exceed what they bought by 2025-01-01 (a return of an'
\echo 'earlier purchase, or of one before the data starts). They count, with their negative money.'

\echo
\echo '== 3. How the buyers spread =='
SELECT 'days since the last order' AS metric,
	round(percentile_cont(0.25) WITHIN GROUP (ORDER BY recency_days)::numeric, 0) AS p25,
	round(percentile_cont(0.5) WITHIN GROUP (ORDER BY recency_days)::numeric, 0) AS median,
	round(percentile_cont(0.75) WITHIN GROUP (ORDER BY recency_days)::numeric, 0) AS p75,
	round(max(recency_days)::numeric, 0) AS max
FROM customer_rfm WHERE frequency > 0
UNION ALL
SELECT 'orders', percentile_cont(0.25) WITHIN GROUP (ORDER BY frequency)::numeric,
	percentile_cont(0.5) WITHIN GROUP (ORDER BY frequency)::numeric,
	percentile_cont(0.75) WITHIN GROUP (ORDER BY frequency)::numeric, max(frequency)
FROM customer_rfm WHERE frequency > 0
UNION ALL
SELECT 'money spent', round(percentile_cont(0.25) WITHIN GROUP (ORDER BY monetary)::numeric, 2),
	round(percentile_cont(0.5) WITHIN GROUP (ORDER BY monetary)::numeric, 2),
	round(percentile_cont(0.75) WITHIN GROUP (ORDER BY monetary)::numeric, 2), max(monetary)
FROM customer_rfm WHERE frequency > 0;

\echo
\echo '== 4. Scores 1 to 5: where the cut points fall =='
\echo 'Each metric is cut at its quantiles, so each score holds about a fifth of the buyers; equal'
\echo 'values always share a score, which can leave a score nearly empty.'
CREATE TEMP TABLE customer_breaks AS
SELECT rfm_breaks(recency_days, 5) AS r, rfm_breaks(frequency, 5) AS f, rfm_breaks(monetary, 5) AS m
FROM customer_rfm WHERE frequency > 0;
CREATE TEMP TABLE customer_segments AS
SELECT s.*, rfm_segment(s.r, s.f, s.m) AS segment
FROM (SELECT c.customer_id, c.recency_days, c.frequency, c.monetary,
		  rfm_score_desc(c.recency_days, b.r) AS r, rfm_score(c.frequency, b.f) AS f,
		  rfm_score(c.monetary, b.m) AS m
	  FROM customer_rfm c, customer_breaks b WHERE c.frequency > 0) s;
WITH b AS (SELECT r, f, m, floor(f[1])::int AS f1, floor(f[2])::int AS f2, floor(f[3])::int AS f3,
				  floor(f[4])::int AS f4 FROM customer_breaks),
	 orders AS (SELECT s, CASE s WHEN 1 THEN 1 WHEN 2 THEN b.f1 + 1 WHEN 3 THEN b.f2 + 1 WHEN 4 THEN b.f3 + 1
								 ELSE b.f4 + 1 END AS lo,
					   CASE s WHEN 1 THEN b.f1 WHEN 2 THEN b.f2 WHEN 3 THEN b.f3 WHEN 4 THEN b.f4 END AS hi
				FROM generate_series(1, 5) s, b)
SELECT s AS score,
	CASE s WHEN 5 THEN 'at most ' || round(b.r[1]::numeric) || ' days'
		   WHEN 1 THEN 'over ' || round(b.r[4]::numeric) || ' days'
		   ELSE round(b.r[5 - s]::numeric) || ' to ' || round(b.r[6 - s]::numeric) || ' days' END AS recency,
	CASE WHEN o.hi IS NULL THEN o.lo || ' or more'
		 WHEN o.lo > o.hi THEN 'none (a tie)'
		 WHEN o.lo = o.hi THEN o.lo::text
		 ELSE o.lo || ' to ' || o.hi END AS orders,
	CASE s WHEN 1 THEN 'up to ' || round(b.m[1]::numeric, 2) WHEN 5 THEN 'over ' || round(b.m[4]::numeric, 2)
		   ELSE round(b.m[s - 1]::numeric, 2) || ' to ' || round(b.m[s]::numeric, 2) END AS monetary,
	(SELECT count(*) FROM customer_segments c WHERE c.r = s) AS r_customers,
	(SELECT count(*) FROM customer_segments c WHERE c.f = s) AS f_customers,
	(SELECT count(*) FROM customer_segments c WHERE c.m = s) AS m_customers
FROM orders o JOIN generate_series(5, 1, -1) s USING (s), b
ORDER BY s DESC;

\echo
\echo '== 5. Segments: who they are, what they are worth, what to do =='
WITH s AS (
	SELECT coalesce(c.segment, CASE WHEN c.monetary IS NULL THEN '(no amount)' END) AS segment,
		count(*) AS customers, sum(c.monetary) AS revenue,
		round(avg(c.recency_days)::numeric, 0) AS avg_days, round(avg(c.frequency), 1) AS avg_orders
	FROM customer_segments c GROUP BY 1
	UNION ALL
	SELECT '(refunds only)', count(*), sum(monetary), NULL, 0 FROM customer_rfm
	WHERE frequency = 0 AND monetary IS NOT NULL
), t AS (
	SELECT sum(customers) AS customers, sum(revenue) AS revenue FROM s
)
SELECT segment, customers, "% cust", revenue, "% rev", avg_days, avg_orders, what_to_do FROM (
	SELECT s.segment, s.customers, round(100.0 * s.customers / t.customers, 1) AS "% cust",
		s.revenue, round(100 * s.revenue / t.revenue, 1) AS "% rev", s.avg_days, s.avg_orders,
		coalesce(r.action, CASE s.segment WHEN 'Others' THEN 'Scores no rule matches: see rfm_check_rules.'
										  WHEN '(no amount)' THEN 'Orders without an amount: no money score.'
										  WHEN '(refunds only)' THEN 'Refunds, no purchase: not buyers.' END) AS what_to_do,
		0 AS last
	FROM s CROSS JOIN t
	LEFT JOIN rfm_segment_rule r ON r.rule_set = 'standard' AND r.segment = s.segment
	UNION ALL
	SELECT 'All customers', t.customers, 100.0, t.revenue, 100.0, NULL, NULL, NULL, 1 FROM t) x
ORDER BY last, revenue DESC NULLS LAST, segment;
\echo 'What each segment means (rfm_segment_rule.description):'
SELECT segment, description FROM rfm_segment_rule WHERE rule_set = 'standard' ORDER BY priority;

\echo
\echo '== 6. The same in one call: rfm_analyze (one scan: metrics, scores, segments) =='
SELECT clock_timestamp() AS started \gset
CREATE TEMP TABLE analyzed AS
SELECT * FROM rfm_analyze('rfm_sample_orders', 'customer_id', 'order_time', 'amount',
						  as_of => '2025-01-01 00:00+00', refunds => 'adjust');
SELECT round(extract(epoch FROM clock_timestamp() - :'started'::timestamptz) * 1000) AS elapsed_ms,
	count(*) FILTER (WHERE a.frequency > 0) AS buyers,
	CASE WHEN count(*) FILTER (WHERE a.frequency > 0)
			  = count(*) FILTER (WHERE a.frequency > 0 AND a.segment IS NOT DISTINCT FROM s.segment
								 AND (a.r, a.f, a.m) IS NOT DISTINCT FROM (s.r, s.f, s.m))
		 THEN 'yes, every buyer' ELSE 'NO' END AS same_scores_and_segment_as_steps_4_and_5
FROM analyzed a
LEFT JOIN customer_segments s ON s.customer_id::text = a.customer_key;
