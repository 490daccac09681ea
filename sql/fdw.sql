-- Shards on foreign servers: a table partitioned by customer over two
-- postgres_fdw servers (loopback to this cluster, each partition a table in
-- a schema of its own) gives the answers of the same rows in one local
-- table, for rfm_analyze, rfm_snapshots, rfm_retention, rfm_clv_summary
-- and a model, and under enable_partitionwise_aggregate the servers
-- receive the per-customer GROUP BY, not the rows (issue 19, item 7).
\set VERBOSITY terse
SET TimeZone = 'UTC';
SET extra_float_digits = 0;
-- postgres_fdw is part of PostgreSQL's contrib (the postgresql-15 package)
SELECT count(*) AS postgres_fdw_available FROM pg_available_extensions WHERE name = 'postgres_fdw';
CREATE EXTENSION postgres_fdw;

-- Two servers on this cluster's own socket and port.
DO $$
BEGIN
	FOR i IN 1 .. 2 LOOP
		EXECUTE format('CREATE SERVER fdw_shard_%s FOREIGN DATA WRAPPER postgres_fdw '
					   'OPTIONS (host %L, port %L, dbname %L, extensions %L)',
					   i, split_part(current_setting('unix_socket_directories'), ',', 1),
					   current_setting('port'), current_database(), 'rfm_segment');
		EXECUTE format('CREATE USER MAPPING FOR CURRENT_USER SERVER fdw_shard_%s OPTIONS (user %L)',
					   i, current_user);
	END LOOP;
END $$;

-- The rows: 600 customers over two years, some amounts NULL, some refunds.
CREATE TABLE fdw_local (customer int, at timestamptz, amount numeric);
INSERT INTO fdw_local
SELECT (g * 7919) % 600,
	'2023-01-01 00:00+00'::timestamptz + ((g::bigint * 104729) % 63072000) * interval '1 second',
	CASE WHEN g % 11 = 0 THEN NULL WHEN g % 13 = 0 THEN -((g % 300) / 4.0) ELSE (g % 400) / 4.0 END
FROM generate_series(1, 9000) g;

-- The shards' tables, and the partitioned table whose partitions name them.
CREATE SCHEMA fdw_remote_1;
CREATE SCHEMA fdw_remote_2;
CREATE TABLE fdw_remote_1.orders (customer int, at timestamptz, amount numeric);
CREATE TABLE fdw_remote_2.orders (customer int, at timestamptz, amount numeric);
INSERT INTO fdw_remote_1.orders SELECT * FROM fdw_local WHERE customer < 300;
INSERT INTO fdw_remote_2.orders SELECT * FROM fdw_local WHERE customer >= 300;
CREATE TABLE fdw_orders (customer int, at timestamptz, amount numeric) PARTITION BY RANGE (customer);
CREATE FOREIGN TABLE fdw_orders_1 PARTITION OF fdw_orders FOR VALUES FROM (MINVALUE) TO (300)
	SERVER fdw_shard_1 OPTIONS (schema_name 'fdw_remote_1', table_name 'orders');
CREATE FOREIGN TABLE fdw_orders_2 PARTITION OF fdw_orders FOR VALUES FROM (300) TO (MAXVALUE)
	SERVER fdw_shard_2 OPTIONS (schema_name 'fdw_remote_2', table_name 'orders');
ANALYZE fdw_local, fdw_remote_1.orders, fdw_remote_2.orders, fdw_orders_1, fdw_orders_2;
SELECT count(*) AS through_the_shards, (SELECT count(*) FROM fdw_local) AS local FROM fdw_orders;

-- rows of a query over the shards and over the local table, and how many
-- appear on one side only (the query names its table as %s)
CREATE FUNCTION fdw_compare(query text, OUT sharded bigint, OUT only_sharded bigint, OUT only_local bigint)
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE 'CREATE TEMP TABLE by_shards AS ' || format(query, 'fdw_orders');
	EXECUTE 'CREATE TEMP TABLE by_local AS ' || format(query, 'fdw_local');
	SELECT count(*) INTO sharded FROM by_shards;
	SELECT count(*) INTO only_sharded FROM (SELECT * FROM by_shards EXCEPT ALL SELECT * FROM by_local) x;
	SELECT count(*) INTO only_local FROM (SELECT * FROM by_local EXCEPT ALL SELECT * FROM by_shards) x;
	DROP TABLE by_shards, by_local;
END $$;

SET enable_partitionwise_aggregate = on;

-- 1. The per-customer GROUP BY goes to the servers.  The query rfm_analyze
--    runs (shown at DEBUG1; rfm_segment.scan 'auto' reads a partitioned
--    table by states), planned here: each shard's Foreign Scan sends the
--    GROUP BY with rfm_metrics_state_agg, so one state per customer comes
--    back.
SET client_min_messages = debug1;
SELECT count(*) AS customers FROM rfm_analyze('fdw_orders', 'customer', 'at', 'amount', as_of => '2025-01-01');
SELECT count(*) AS snapshot_rows FROM rfm_snapshots('fdw_orders', 'customer', 'at', 'amount',
	as_of => ARRAY['2024-06-30', '2024-12-31']::timestamptz[]);
RESET client_min_messages;
PREPARE fdw_states(timestamptz, interval) AS
SELECT customer, public.rfm_metrics_state_agg(at, amount::pg_catalog.numeric, 1::pg_catalog.numeric, $1, $2)
FROM public.fdw_orders GROUP BY 1;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE fdw_states('2025-01-01', '30 days');
-- the control: without partitionwise aggregation the rows come back and
-- are grouped here
SET enable_partitionwise_aggregate = off;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE fdw_states('2025-01-01', '30 days');
SET enable_partitionwise_aggregate = on;
DEALLOCATE fdw_states;

-- the plans of rfm_snapshots' query (an aggregate per date) count one
-- aggregate sent to each shard (Relations: Aggregate on ...), as do those
-- of rfm_metrics
CREATE FUNCTION fdw_pushed(query text) RETURNS TABLE (foreign_scans bigint, aggregated_remotely bigint)
LANGUAGE plpgsql AS $$
DECLARE
	plan text;
BEGIN
	FOR plan IN EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF) ' || query LOOP
		foreign_scans := coalesce(foreign_scans, 0) + (plan ~ 'Foreign Scan')::int;
		aggregated_remotely := coalesce(aggregated_remotely, 0) + (plan ~ 'Relations: Aggregate on')::int;
	END LOOP;
	RETURN NEXT;
END $$;
SELECT * FROM fdw_pushed($$SELECT customer,
	public.rfm_metrics_state_agg(at, amount::numeric, 1::numeric, '2024-01-31 23:59:59.999999+00', '30 days'),
	public.rfm_metrics_state_agg(at, amount::numeric, 1::numeric, '2024-02-29 23:59:59.999999+00', '30 days'),
	public.rfm_metrics_state_agg(at, amount::numeric, 1::numeric, '2024-12-31 23:59:59.999999+00', '30 days')
	FROM public.fdw_orders GROUP BY 1$$);
SELECT * FROM fdw_pushed($$SELECT customer, rfm_metrics(at, amount, '2025-01-01') FROM fdw_orders GROUP BY 1$$);
-- but an aggregate with a text argument stays here: postgres_fdw sends no
-- collatable constant (so rfm_analyze with refunds 'adjust' reads the rows)
SELECT * FROM fdw_pushed($$SELECT customer,
	public.rfm_metrics_state_agg(at, amount::numeric, 1::numeric, '2025-01-01', '30 days', 'adjust')
	FROM public.fdw_orders GROUP BY 1$$);

-- rfm_retention's states query (shown at DEBUG1) groups per customer with
-- rfm_active_periods, whose grain and zone travel in a composite
-- rfm_period_spec (no collation): each shard sends one list of periods per
-- customer, and the cohorts are counted here
SET client_min_messages = debug1;
SELECT count(*) AS retention_rows FROM rfm_retention('fdw_orders', 'customer', 'at', 'month', as_of => '2025-01-01');
RESET client_min_messages;
PREPARE fdw_periods(timestamptz, rfm_period_spec) AS
SELECT c.ps[1], p.p, count(*), min(c.lo), max(c.hi)
FROM (SELECT public.rfm_active_periods(at, $2) FILTER (WHERE at <= $1) AS ps,
	min(at) FILTER (WHERE isfinite(at)) AS lo, max(at) FILTER (WHERE isfinite(at)) AS hi
	FROM public.fdw_orders WHERE at IS NOT NULL GROUP BY customer) c
LEFT JOIN LATERAL unnest(c.ps) p(p) ON true GROUP BY 1, 2;
SELECT * FROM fdw_pushed($$EXECUTE fdw_periods('2025-01-01', '(month,UTC)')$$);
DEALLOCATE fdw_periods;

-- rfm_clv_summary's states query groups per customer with
-- rfm_clv_state_agg, whose calibration and holdout ends and zone travel in
-- a composite rfm_clv_spec: each shard sends one rfm_clv_state per customer
-- (purchase days and exact sums), summarized here
SET client_min_messages = debug1;
SELECT count(*) AS clv_rows FROM rfm_clv_summary('fdw_orders', 'customer', 'at', 'amount', '2024-09-30', '2024-12-31');
RESET client_min_messages;
PREPARE fdw_clv(rfm_clv_spec) AS
SELECT g.k::text, g.st FROM (SELECT customer AS k, public.rfm_clv_state_agg(at, amount::numeric, $1) AS st
	FROM public.fdw_orders GROUP BY customer) g WHERE g.st IS NOT NULL;
SELECT * FROM fdw_pushed($$EXECUTE fdw_clv('(2024-09-30,2024-12-31,UTC)')$$);
DEALLOCATE fdw_clv;

-- and rfm_breaks_state_agg of each foreign table goes to its server: the
-- shards send their (value, count) pairs, merged here into the breaks of
-- the local table
SELECT * FROM fdw_pushed($$SELECT rfm_breaks_state_agg(amount::float8, 5) FROM fdw_orders_1
	UNION ALL SELECT rfm_breaks_state_agg(amount::float8, 5) FROM fdw_orders_2$$);
SELECT rfm_breaks(s) = (SELECT rfm_breaks(amount::float8, 5) FROM fdw_local) AS shard_breaks_equal
FROM (SELECT rfm_breaks_state_agg(amount::float8, 5) AS s FROM fdw_orders_1
	  UNION ALL SELECT rfm_breaks_state_agg(amount::float8, 5) FROM fdw_orders_2) t;

-- 2. The same answers as one local table.
SELECT * FROM fdw_compare($$SELECT * FROM rfm_analyze('%s', 'customer', 'at', 'amount', as_of => '2025-01-01')$$);
SELECT * FROM fdw_compare($$SELECT * FROM rfm_analyze('%s', 'customer', 'at', 'amount', as_of => '2024-06-30',
	bins => 4, method => 'r_rfm', refunds => 'adjust')$$);
SELECT * FROM fdw_compare($$SELECT * FROM rfm_analyze('%s', 'customer', 'at', as_of => '2025-01-01')$$);
SELECT * FROM fdw_compare($$SELECT * FROM rfm_snapshots('%s', 'customer', 'at', 'amount',
	as_of => rfm_period_ends('2024-01-01', '2024-12-01', 'month', 'UTC'))$$);
SELECT * FROM fdw_compare($$SELECT * FROM rfm_retention('%s', 'customer', 'at', 'month', as_of => '2025-01-01')$$);
SELECT * FROM fdw_compare($$SELECT * FROM rfm_retention('%s', 'customer', 'at', 'quarter', 'Europe/Berlin')$$);
SELECT * FROM fdw_compare($$SELECT customer, (rfm_metrics(at, amount, '2025-01-01')).* FROM %s GROUP BY customer$$);
SELECT * FROM fdw_compare($$SELECT * FROM rfm_clv_summary('%s', 'customer', 'at', 'amount', '2024-09-30', '2024-12-31', tz => 'Asia/Tokyo')$$);
SELECT * FROM fdw_compare($$SELECT * FROM rfm_clv_summary('%s', 'customer', 'at', 'amount')$$);
-- churn alerts on P(alive) refit lifetime value from the summaries at two
-- dates, read by states from the shards (the fits' convergence warnings
-- are silenced; both sides fit the same rows)
SET client_min_messages = error;
SELECT * FROM fdw_compare($$SELECT * FROM rfm_churn_alerts('%s', 'customer', 'at', 'amount', from_as_of => '2024-09-30',
	to_as_of => '2024-12-31', p_alive_below => 0.5)$$);
RESET client_min_messages;

-- The journeys read by states too: rfm_journey_state_agg, whose as_of,
-- period and zone travel in a composite rfm_journey_spec, runs on each
-- shard, which sends each customer's two main categories; the transitions
-- are counted and the moves sorted here.  The shards' tables gain a
-- category (NULL for some rows).
ALTER TABLE fdw_remote_1.orders ADD COLUMN category text;
ALTER TABLE fdw_remote_2.orders ADD COLUMN category text;
ALTER TABLE fdw_local ADD COLUMN category text;
ALTER TABLE fdw_orders ADD COLUMN category text;
UPDATE fdw_local SET category = (ARRAY['auto', 'jobs', 'realty', NULL])[1 + (customer + extract(day FROM at)::int) % 4];
UPDATE fdw_remote_1.orders SET category = (ARRAY['auto', 'jobs', 'realty', NULL])[1 + (customer + extract(day FROM at)::int) % 4];
UPDATE fdw_remote_2.orders SET category = (ARRAY['auto', 'jobs', 'realty', NULL])[1 + (customer + extract(day FROM at)::int) % 4];
ANALYZE fdw_local, fdw_remote_1.orders, fdw_remote_2.orders, fdw_orders_1, fdw_orders_2;
-- (run once before, so that no catalog cache grows, and reports it, under debug1)
SELECT count(*) AS transitions FROM rfm_category_transitions('fdw_orders', 'customer', 'at', 'category', '2024-12-31');
SET client_min_messages = debug1;
SELECT count(*) AS transitions FROM rfm_category_transitions('fdw_orders', 'customer', 'at', 'category', '2024-12-31');
RESET client_min_messages;
PREPARE fdw_journeys(rfm_journey_spec, timestamptz, timestamptz) AS
SELECT customer AS k, public.rfm_journey_state_agg(at, category::pg_catalog.text, amount::pg_catalog.numeric, $1) AS st
FROM public.fdw_orders WHERE at >= $2 AND at <= $3 GROUP BY customer;
SELECT * FROM fdw_pushed($$EXECUTE fdw_journeys('(2024-12-31,30 days,UTC)', '2024-10-30', '2025-01-02')$$);
-- and only the rows of the two windows leave each server (a range of the
-- time column, which an index there would serve)
CREATE FUNCTION fdw_plan(query text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
	line text;
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF) ' || query LOOP
		RETURN NEXT pg_catalog.btrim(line);
	END LOOP;
END $$;
SELECT line FROM fdw_plan($$EXECUTE fdw_journeys('(2024-12-31,30 days,UTC)', '2024-10-30', '2025-01-02')$$) line
WHERE line LIKE 'Remote SQL:%';
DROP FUNCTION fdw_plan(text);
DEALLOCATE fdw_journeys;
SELECT * FROM fdw_compare($$SELECT * FROM rfm_category_transitions('%s', 'customer', 'at', 'category', '2024-12-31')$$);
SELECT * FROM fdw_compare($$SELECT * FROM rfm_category_moves('%s', 'customer', 'at', 'category', '2024-06-30', '1 month', 'amount')$$);
-- The graph functions without a weight column read each distinct pair
-- once with its number of rows: a GROUP BY of the two columns, which each
-- shard runs (here customers and their categories, as a purchase graph)
SELECT count(*) AS nodes FROM rfm_micro_segments('fdw_orders', 'customer', 'category');
SET client_min_messages = debug1;
SELECT count(*) AS nodes FROM rfm_micro_segments('fdw_orders', 'customer', 'category');
RESET client_min_messages;
SELECT * FROM fdw_pushed($$SELECT customer, category, pg_catalog.count(*) FROM public.fdw_orders GROUP BY 1, 2$$);
SELECT * FROM fdw_compare($$SELECT * FROM rfm_micro_segments('%s', 'customer', 'category')$$);
-- Times sent to the servers keep their zone under any DateStyle: with
-- TimeZone Asia/Kolkata, DateStyle Postgres writes a time as '... IST',
-- which a server's default abbreviations read as Israel's (UTC+2), not
-- India's.  The states queries pass them as parameters, which postgres_fdw
-- sends in ISO style: the answers equal the local table's.
SET TimeZone = 'Asia/Kolkata';
SET DateStyle = 'Postgres, MDY';
SELECT * FROM fdw_compare($$SELECT * FROM rfm_analyze('%s', 'customer', 'at', 'amount', as_of => '2024-06-30 02:00+05:30',
	last_period => '1 day')$$);
SELECT * FROM fdw_compare($$SELECT * FROM rfm_category_moves('%s', 'customer', 'at', 'category', '2024-06-30 02:00+05:30', '3 days')$$);
SET TimeZone = 'UTC';
RESET DateStyle;

-- 3. A model over the shards has the views of a model over the local table.
SELECT cardinality(rfm_create_model('fdw_shop', 'fdw_orders', 'customer', 'at', 'amount', as_of => '2025-01-01')) AS views;
SELECT cardinality(rfm_create_model('fdw_here', 'fdw_local', 'customer', 'at', 'amount', as_of => '2025-01-01')) AS views;
CREATE FUNCTION fdw_model_compare(view text, OUT sharded bigint, OUT only_sharded bigint, OUT only_local bigint)
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('SELECT count(*) FROM %I', 'fdw_shop_' || view) INTO sharded;
	EXECUTE format('SELECT count(*) FROM (SELECT * FROM %I EXCEPT ALL SELECT * FROM %I) x',
				   'fdw_shop_' || view, 'fdw_here_' || view) INTO only_sharded;
	EXECUTE format('SELECT count(*) FROM (SELECT * FROM %I EXCEPT ALL SELECT * FROM %I) x',
				   'fdw_here_' || view, 'fdw_shop_' || view) INTO only_local;
END $$;
-- every view, the segment summary's averages included: they do not depend
-- on the order in which the shards' rows arrive (issue 19, item 6)
SELECT v.view, c.* FROM unnest(ARRAY['metrics', 'segments', 'segment_summary', 'cohort_segments', 'retention']) v(view),
	fdw_model_compare(v.view) c ORDER BY v.view;
SELECT rfm_drop_model('fdw_shop');
SELECT rfm_drop_model('fdw_here');

-- rfm_analyze and rfm_snapshots hold the shards' states in memory where
-- the statistics say the customers fit rfm_segment.max_memory (the
-- "holding" lines above).  Where the statistics undercount them, the
-- table passes the limit, and the states are read again into the batch,
-- which spills: the same rows.
ALTER FOREIGN TABLE fdw_orders_1 ALTER COLUMN customer SET (n_distinct = 10);
ALTER FOREIGN TABLE fdw_orders_2 ALTER COLUMN customer SET (n_distinct = 10);
ANALYZE fdw_orders_1, fdw_orders_2;
SET rfm_segment.max_memory = '64kB';
SET client_min_messages = debug1;
SELECT count(*) AS customers FROM rfm_analyze('fdw_orders', 'customer', 'at', 'amount', as_of => '2025-01-01');
RESET client_min_messages;
SELECT * FROM fdw_compare($$SELECT * FROM rfm_analyze('%s', 'customer', 'at', 'amount', as_of => '2025-01-01')$$);
SELECT * FROM fdw_compare($$SELECT * FROM rfm_snapshots('%s', 'customer', 'at', 'amount',
	as_of => ARRAY['2024-06-30', '2024-12-31']::timestamptz[])$$);
RESET rfm_segment.max_memory;
-- held too: sums past 38 digits, whose states are longer than their fixed
-- part, and the rows with no customer, as the local table's rows way
-- reads them
CREATE TABLE fdw_remote_1.long_sums (customer int, at timestamptz, amount numeric);
INSERT INTO fdw_remote_1.long_sums VALUES
	(1, '2024-01-01 00:00+00', 9.5e37), (1, '2024-02-01 00:00+00', 9.5e37), (2, '2024-04-01 00:00+00', 1),
	(NULL, '2024-03-01 00:00+00', 5), (NULL, '2024-03-02 00:00+00', 9.5e37), (NULL, '2024-03-03 00:00+00', 9.5e37);
CREATE FOREIGN TABLE fdw_long_sums (customer int, at timestamptz, amount numeric)
	SERVER fdw_shard_1 OPTIONS (schema_name 'fdw_remote_1', table_name 'long_sums');
SET client_min_messages = debug1;
SELECT customer_key, frequency, monetary, r, f, m
FROM rfm_analyze('fdw_long_sums', 'customer', 'at', 'amount', as_of => '2024-04-02') ORDER BY 1;
RESET client_min_messages;
SELECT count(*) AS differing_rows
FROM ((SELECT * FROM rfm_analyze('fdw_long_sums', 'customer', 'at', 'amount', as_of => '2024-04-02')
	   EXCEPT ALL SELECT * FROM rfm_analyze('fdw_remote_1.long_sums', 'customer', 'at', 'amount', as_of => '2024-04-02'))
	  UNION ALL (SELECT * FROM rfm_analyze('fdw_remote_1.long_sums', 'customer', 'at', 'amount', as_of => '2024-04-02')
	   EXCEPT ALL SELECT * FROM rfm_analyze('fdw_long_sums', 'customer', 'at', 'amount', as_of => '2024-04-02'))) d;
DROP FOREIGN TABLE fdw_long_sums;
DROP TABLE fdw_remote_1.long_sums;

RESET enable_partitionwise_aggregate;
DROP FUNCTION fdw_compare(text), fdw_pushed(text), fdw_model_compare(text);
DROP TABLE fdw_orders, fdw_local;
DROP SCHEMA fdw_remote_1 CASCADE;
DROP SCHEMA fdw_remote_2 CASCADE;
DROP EXTENSION postgres_fdw CASCADE;
