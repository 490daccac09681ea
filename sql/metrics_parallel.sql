-- The same results, byte for byte, with and without parallel workers, with
-- hash and sorted grouping, and when hash aggregation spills to disk.
\set VERBOSITY terse
SET TimeZone = 'UTC';

CREATE TABLE events AS
SELECT (g * 7919) % 5000 AS customer,
	'2019-01-01 00:00+00'::timestamptz + ((g::bigint * 104729) % 40000000) * interval '1 second' AS t,
	CASE WHEN g % 17 = 0 THEN NULL
		 WHEN g % 23 = 0 THEN -((g % 5000) / 100.0)       -- refunds
		 WHEN g % 4999 = 0 THEN 1e37 * g + 0.001          -- sums past 38 digits
		 ELSE ((g * 31) % 100000) / 100.0 END AS amount,
	CASE g % 3 WHEN 0 THEN 0.1::float8 WHEN 1 THEN 1.0 ELSE 0.35 END AS weight
FROM generate_series(1, 200000) g;
ANALYZE events;

-- One row per customer, as text, so that every digit is compared.
CREATE TABLE results (config text, customer int, metrics text, metrics_date text);

-- Run the grouped query under the current settings and keep its rows.
CREATE FUNCTION run_config(config text) RETURNS bigint LANGUAGE sql AS $$
	WITH kept AS (
		INSERT INTO results
		SELECT config, customer,
			rfm_metrics(t, amount, weight, '2020-03-01 00:00+00', '45 days')::text,
			rfm_metrics(t::date, amount, weight, '2020-03-01', '45 days')::text
		FROM events GROUP BY customer
		RETURNING 1)
	SELECT count(*) FROM kept;
$$;

-- Facts about the plan of that query under the current settings.
CREATE FUNCTION plan_facts(OUT node text, OUT workers int, OUT spilled bool) LANGUAGE plpgsql AS $$
DECLARE
	plan json;
BEGIN
	EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON) SELECT customer, rfm_metrics(t, amount, weight, ''2020-03-01 00:00+00'', ''45 days'')
			 FROM events GROUP BY customer' INTO plan;
	plan := plan->0->'Plan';
	node := coalesce(plan->>'Strategy', '') || ' ' || coalesce(plan->>'Partial Mode', '');
	SELECT coalesce(max((m[1])::int), 0) INTO workers
	FROM regexp_matches(plan::text, '"Workers Launched": ([0-9]+)', 'g') m;
	spilled := plan::text ~ '"HashAgg Batches": ([2-9]|[1-9][0-9])';
END $$;

-- 1. serial, hash grouping
SET max_parallel_workers_per_gather = 0;
SET enable_hashagg = on; SET enable_sort = off;
SELECT * FROM plan_facts();
SELECT run_config('serial hash');

-- 2. serial, sorted grouping
SET enable_hashagg = off; SET enable_sort = on;
SELECT * FROM plan_facts();
SELECT run_config('serial sort');

-- 3. forced parallel, the leader only gathers
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET parallel_leader_participation = off;
SET max_parallel_workers_per_gather = 2;
SET enable_hashagg = on; SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT customer, rfm_metrics(t, amount, weight, '2020-03-01 00:00+00', '45 days') FROM events GROUP BY customer;
SELECT * FROM plan_facts();
SELECT run_config('parallel hash');

SET enable_hashagg = off; SET enable_sort = on;
EXPLAIN (COSTS OFF) SELECT customer, rfm_metrics(t, amount, weight, '2020-03-01 00:00+00', '45 days') FROM events GROUP BY customer;
SELECT * FROM plan_facts();
SELECT run_config('parallel sort');

-- 4. hash aggregation that spills to disk, serial and parallel
SET work_mem = '64kB';
SET enable_hashagg = on; SET enable_sort = off;
SELECT * FROM plan_facts();
SELECT run_config('parallel hash spill');
SET max_parallel_workers_per_gather = 0;
SELECT * FROM plan_facts();
SELECT run_config('serial hash spill');
RESET work_mem;

-- 5. one group over the whole table, in parallel (Partial + Finalize)
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT rfm_metrics(t, amount, '2020-03-01 00:00+00') FROM events;
CREATE TABLE whole AS
SELECT 'parallel' AS config, rfm_metrics(t, amount, '2020-03-01 00:00+00')::text AS m FROM events;
SET max_parallel_workers_per_gather = 0;
INSERT INTO whole SELECT 'serial', rfm_metrics(t, amount, '2020-03-01 00:00+00')::text FROM events;
SELECT count(DISTINCT m) AS distinct_results, count(*) AS runs FROM whole;
SELECT m FROM whole WHERE config = 'serial';

-- Every configuration gave the same rows.
SELECT config, count(*) AS customers,
	md5(string_agg(customer || ':' || metrics || metrics_date, ';' ORDER BY customer)) =
	(SELECT md5(string_agg(customer || ':' || metrics || metrics_date, ';' ORDER BY customer))
	 FROM results WHERE config = 'serial hash') AS same_as_serial
FROM results GROUP BY config ORDER BY config;

-- And they are right: a few customers against plain SQL.
SELECT customer, (m).frequency = n AS frequency_ok, (m).monetary = total AS monetary_ok,
	(m).weighted_frequency = wsum AS weighted_ok
FROM (SELECT customer, rfm_metrics(t, amount, weight, '2020-03-01 00:00+00', '45 days') AS m,
		count(*) FILTER (WHERE t <= '2020-03-01 00:00+00') AS n,
		sum(amount) FILTER (WHERE t <= '2020-03-01 00:00+00') AS total,
		sum(weight::numeric) FILTER (WHERE t <= '2020-03-01 00:00+00') AS wsum
	  FROM events WHERE customer IN (0, 1, 2499, 4999) GROUP BY customer) s
ORDER BY customer;

DROP TABLE events, results, whole;
DROP FUNCTION run_config(text), plan_facts();
