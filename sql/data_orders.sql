-- The R rfm package's sample orders ($RFM_SHARED_DATA/rfm_data_orders.csv, ../shared/data by default):
-- every customer's metrics equal the plain SQL computation.  Runs only where
-- the reference data is present (see the Makefile).
\set VERBOSITY terse
SET TimeZone = 'UTC';

CREATE TABLE orders (customer_id text, order_date date, revenue numeric);
\copy orders FROM PROGRAM 'cat "$RFM_SHARED_DATA/rfm_data_orders.csv"' WITH (FORMAT csv, HEADER true)
SELECT count(*) AS orders, count(DISTINCT customer_id) AS customers FROM orders;

CREATE TABLE m AS
SELECT customer_id, (rfm_metrics(order_date, revenue, DATE '2006-12-31')).*
FROM orders GROUP BY customer_id;

-- recency = as_of - max(order_date), frequency = count(*), monetary = sum(revenue)
SELECT count(*) AS customers,
	count(*) FILTER (WHERE m.recency_days = DATE '2006-12-31' - s.last_order
				   AND m.frequency = s.n AND m.monetary = s.total
				   AND m.first_event = s.first_order AND m.last_event = s.last_order
				   AND m.avg_amount = s.average) AS equal
FROM m JOIN (SELECT customer_id, max(order_date) AS last_order, min(order_date) AS first_order,
				count(*) AS n, sum(revenue) AS total, avg(revenue) AS average
			 FROM orders GROUP BY customer_id) s USING (customer_id);

SELECT customer_id, recency_days, frequency, monetary
FROM m WHERE customer_id IN ('Abbey O''Reilly DVM', 'Add Senger') ORDER BY customer_id;

-- The whole data set, serial and in parallel.
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
ANALYZE orders;
SELECT rfm_metrics(order_date, revenue, DATE '2006-12-31')::text AS parallel_result FROM orders;
SET max_parallel_workers_per_gather = 0;
SELECT rfm_metrics(order_date, revenue, DATE '2006-12-31')::text AS serial_result FROM orders;

DROP TABLE orders, m;

-- Scores and segments as the R rfm package computes them (method 'r_rfm',
-- 5 bins, monetary scored on its float8 value as R sums revenue in double).
CREATE TABLE orders2 (customer_id text, order_date date, revenue numeric);
\copy orders2 FROM PROGRAM 'cat "$RFM_SHARED_DATA/rfm_data_orders.csv"' WITH (FORMAT csv, HEADER true)
CREATE TABLE m AS
SELECT customer_id, (rfm_metrics(order_date, revenue, DATE '2006-12-31')).*
FROM orders2 GROUP BY customer_id;
CREATE TABLE b AS
SELECT rfm_breaks(recency_days, 5, 'r_rfm') AS r, rfm_breaks(frequency, 5, 'r_rfm') AS f,
	rfm_breaks(monetary, 5, 'r_rfm') AS m,
	rfm_breaks(recency_days, 5) AS qr, rfm_breaks(frequency, 5) AS qf, rfm_breaks(monetary, 5) AS qm
FROM m;
-- breaks: recency 115, 181, 297.4, 482; frequency 4, 5, 6, 8;
-- monetary 255.8, 382, 506.4, 666 (rounded to 9 decimals here)
SELECT (SELECT array_agg(round(x::numeric, 9)) FROM unnest(r) x) AS recency,
	f AS frequency, (SELECT array_agg(round(x::numeric, 9)) FROM unnest(m) x) AS monetary FROM b;
-- every digit of the doubles (R prints them rounded to 7 digits)
SET extra_float_digits = 1;
SELECT r, m FROM b;
RESET extra_float_digits;
CREATE TABLE scores AS
SELECT m.customer_id, m.recency_days, m.frequency, m.monetary,
	rfm_score_desc(m.recency_days, b.r, 'r_rfm') AS r, rfm_score(m.frequency, b.f, 'r_rfm') AS f,
	rfm_score(m.monetary, b.m, 'r_rfm') AS m,
	rfm_score_desc(m.recency_days, b.qr) AS qr, rfm_score(m.frequency, b.qf) AS qf,
	rfm_score(m.monetary, b.qm) AS qm
FROM m, b;
-- customers per score 1..5: recency 197/200/199/199/200, frequency
-- 268/187/176/244/120, monetary 200/200/198/202/195
SELECT s.score,
	count(*) FILTER (WHERE r = s.score) AS recency,
	count(*) FILTER (WHERE f = s.score) AS frequency,
	count(*) FILTER (WHERE m = s.score) AS monetary
FROM scores, generate_series(1, 5) s(score) GROUP BY s.score ORDER BY s.score;
SELECT customer_id, r, f, m FROM scores
WHERE customer_id IN ('Abbey O''Reilly DVM', 'Add Senger') ORDER BY customer_id;
-- standard segments
SELECT rfm_segment(r, f, m) AS segment, count(*) FROM scores GROUP BY 1 ORDER BY 2 DESC, 1;
SELECT count(*) FILTER (WHERE rfm_segment(r, f, m) = rfm_segment_standard(r, f, m)) AS same_with_map FROM scores;
-- How the default 'quantile' differs here: its cuts are R's minus 1, and a
-- value on a cut goes down, so integer values land in the same bins; only
-- values between a fractional cut and the next integer move.
SELECT b.qr AS recency_cuts, b.qf AS frequency_cuts, b.qm AS monetary_cuts FROM b;
SELECT count(*) FILTER (WHERE r <> qr) AS recency_moved, count(*) FILTER (WHERE f <> qf) AS frequency_moved,
	count(*) FILTER (WHERE m <> qm) AS monetary_moved FROM scores;
SELECT customer_id, recency_days, r, qr FROM scores WHERE r <> qr ORDER BY customer_id;
DROP TABLE orders2, m, b, scores;

-- k-means on the R package's orders: recency days, order count, revenue,
-- z-scored with the population standard deviation, k = 4, 10 restarts:
-- inertia at most 0.1% above 894.26 (the best of 200 k-means++ restarts
-- elsewhere), sizes about 382/248/185/180; the same seed gives the same
-- model serial and parallel.
CREATE TABLE orders3 (customer_id text, order_date date, revenue numeric);
\copy orders3 FROM PROGRAM 'cat "$RFM_SHARED_DATA/rfm_data_orders.csv"' WITH (FORMAT csv, HEADER true)
CREATE TABLE features AS
SELECT customer_id, ARRAY[(m).recency_days, (m).frequency, (m).monetary]::float8[] AS x
FROM (SELECT customer_id, rfm_metrics(order_date, revenue, DATE '2006-12-31') AS m FROM orders3 GROUP BY 1) s;
ANALYZE features;
CREATE TABLE km (config text, m rfm_kmeans_model);
SET max_parallel_workers_per_gather = 0;
INSERT INTO km SELECT 'serial', rfm_kmeans(x, 4, 'seed=1 n_init=10') FROM features;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET parallel_leader_participation = off;
SET max_parallel_workers_per_gather = 2;
INSERT INTO km SELECT 'parallel', rfm_kmeans(x, 4, 'seed=1 n_init=10') FROM features;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET parallel_leader_participation;
RESET max_parallel_workers_per_gather;
SELECT config, (m).inertia <= 894.26 * 1.001 AS within_0_1_percent, round((m).inertia::numeric, 2) AS inertia,
	(SELECT array_agg(s ORDER BY s DESC) FROM unnest((m).sizes) s) AS sizes
FROM km ORDER BY config;
SELECT count(DISTINCT m::text) AS distinct_models FROM km;
-- and the customers of each cluster, with their dominant standard segment
WITH scored AS (
	SELECT f.customer_id, rfm_cluster(f.x, (SELECT m FROM km WHERE config = 'serial')) AS cluster, a.segment, a.monetary
	FROM features f JOIN rfm_analyze('orders3', 'customer_id', 'order_date', 'revenue', as_of => '2006-12-31') a
		ON a.customer_key = f.customer_id
)
SELECT cluster, count(*) AS customers, round(100.0 * sum(monetary) / sum(sum(monetary)) OVER (), 1) AS revenue_pct,
	mode() WITHIN GROUP (ORDER BY segment) AS dominant_segment
FROM scored GROUP BY cluster ORDER BY revenue_pct DESC;
DROP TABLE orders3, features, km;
