-- The R rfm package's sample orders (../shared/data/rfm_data_orders.csv):
-- every customer's metrics equal the plain SQL computation.  Runs only where
-- the reference data is present (see the Makefile).
\set VERBOSITY terse
SET TimeZone = 'UTC';

CREATE TABLE orders (customer_id text, order_date date, revenue numeric);
\copy orders FROM '../shared/data/rfm_data_orders.csv' WITH (FORMAT csv, HEADER true)
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
