-- rfm_analyze and rfm_snapshots read the source in one of two ways: every
-- row into a hash table of customers, or one state per customer from a
-- GROUP BY (pushed down, parallel, spilled to disk).  Both give the same
-- rows, for every kind of column and option; the states way completes
-- where the customers do not fit rfm_segment.max_memory.
\set VERBOSITY terse
SET TimeZone = 'UTC';
SET extra_float_digits = 0;
-- parallel workers as many as PostgreSQL plans, whatever the cores
SET rfm_segment.max_parallel_workers = 8;

CREATE TABLE sev AS
SELECT CASE WHEN g % 997 = 0 THEN NULL ELSE (g * 7919) % 500 END::bigint AS cust,
	'c' || ((g * 7919) % 500) AS tag,
	CASE WHEN g % 503 = 0 THEN NULL
		 ELSE '2023-01-01 00:00+00'::timestamptz + ((g::bigint * 104729) % 63072000) * interval '1 second' END AS t,
	CASE WHEN g % 11 = 0 THEN NULL WHEN g % 13 = 0 THEN -((g % 300) / 4.0) ELSE (g % 400) / 4.0 END AS amount,
	CASE g % 4 WHEN 0 THEN NULL WHEN 1 THEN 0.1::float8 WHEN 2 THEN 1 ELSE 0.35 END AS w
FROM generate_series(1, 20000) g;
ALTER TABLE sev ADD COLUMN d date, ADD COLUMN ts timestamp;
UPDATE sev SET d = (t AT TIME ZONE 'UTC')::date, ts = t AT TIME ZONE 'UTC';
ANALYZE sev;

-- rows of a query under each setting of rfm_segment.scan, and how many
-- appear under one only
CREATE FUNCTION both_ways(query text, OUT rows_way bigint, OUT only_rows bigint, OUT only_states bigint)
LANGUAGE plpgsql AS $$
BEGIN
	SET LOCAL rfm_segment.scan = 'rows';
	EXECUTE 'CREATE TEMP TABLE by_rows AS ' || query;
	SET LOCAL rfm_segment.scan = 'states';
	EXECUTE 'CREATE TEMP TABLE by_states AS ' || query;
	SELECT count(*) INTO rows_way FROM by_rows;
	SELECT count(*) INTO only_rows FROM (SELECT * FROM by_rows EXCEPT ALL SELECT * FROM by_states) x;
	SELECT count(*) INTO only_states FROM (SELECT * FROM by_states EXCEPT ALL SELECT * FROM by_rows) x;
	DROP TABLE by_rows, by_states;
END $$;

SELECT * FROM both_ways($$SELECT * FROM rfm_analyze('sev', 'cust', 't', 'amount', as_of => '2024-06-30')$$);
SELECT * FROM both_ways($$SELECT * FROM rfm_analyze('sev', 'cust', 't', 'amount', 'w', '2024-06-30', '7 days')$$);
SELECT * FROM both_ways($$SELECT * FROM rfm_analyze('sev', 'cust', 't', weight_column => 'w', as_of => '2024-06-30')$$);
SELECT * FROM both_ways($$SELECT * FROM rfm_analyze('sev', 'tag', 'd', 'amount', method => 'r_rfm', bins => 4)$$);
SELECT * FROM both_ways($$SELECT * FROM rfm_analyze('sev', 'cust', 'ts', 'amount', as_of => '2024-01-15 12:00+00', bins => 3)$$);
SELECT * FROM both_ways($$SELECT * FROM rfm_analyze('sev', 'cust', 't', 'amount', as_of => '2024-06-30', refunds => 'adjust')$$);
SELECT * FROM both_ways($$SELECT * FROM rfm_snapshots('sev', 'cust', 't', 'amount', 'w',
	as_of => ARRAY['2023-03-31', '2023-12-31', '2024-06-30', '2026-01-01']::timestamptz[])$$);
SELECT * FROM both_ways($$SELECT * FROM rfm_snapshots('sev', 'tag', 'd', 'amount',
	as_of => rfm_period_ends('2023-01-01', '2024-12-01', 'quarter', 'UTC'), refunds => 'adjust')$$);
-- rfm_retention too: by states, PostgreSQL groups customers and periods
-- and only the counts per cohort and period come back
SELECT * FROM both_ways($$SELECT * FROM rfm_retention('sev', 'cust', 't')$$);
SELECT * FROM both_ways($$SELECT * FROM rfm_retention('sev', 'cust', 't', 'week', 'Europe/Berlin', '2024-03-10 12:00+00')$$);
SELECT * FROM both_ways($$SELECT * FROM rfm_retention('sev', 'tag', 'd', 'quarter', as_of => '2024-06-30')$$);
SELECT * FROM both_ways($$SELECT * FROM rfm_retention('sev', 'cust', 'ts', 'day', 'Asia/Tokyo', '2023-02-01 00:00+00')$$);
SELECT * FROM both_ways($$SELECT * FROM rfm_retention('sev', 'tag', 't', 'year', 'America/New_York')$$);
-- an as_of before every event: nothing, both ways
SELECT * FROM both_ways($$SELECT * FROM rfm_retention('sev', 'cust', 't', as_of => '2022-06-30')$$);
-- an infinite event time is an error both ways (by states it names
-- rfm_cohort_start's argument); after as_of it is left out both ways
CREATE TABLE sev_inf (cust int, t timestamptz);
INSERT INTO sev_inf VALUES (1, '2024-01-05'), (1, 'infinity');
SET rfm_segment.scan = 'rows';
SELECT count(*) FROM rfm_retention('sev_inf', 'cust', 't');
SET rfm_segment.scan = 'states';
SELECT count(*) FROM rfm_retention('sev_inf', 'cust', 't');
RESET rfm_segment.scan;
SELECT * FROM both_ways($$SELECT * FROM rfm_retention('sev_inf', 'cust', 't', as_of => '2024-02-01')$$);
DROP TABLE sev_inf;
-- a customer whose rows all lack a time is in neither; NULL customers group
SELECT count(*) FILTER (WHERE customer_key IS NULL) AS null_customer
FROM rfm_analyze('sev', 'cust', 't', 'amount', as_of => '2024-06-30');

-- in parallel workers too: the GROUP BY is partly aggregated there
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SELECT * FROM both_ways($$SELECT * FROM rfm_analyze('sev', 'cust', 't', 'amount', 'w', '2024-06-30', '7 days')$$);
SELECT * FROM both_ways($$SELECT * FROM rfm_snapshots('sev', 'tag', 'd', 'amount',
	as_of => ARRAY['2023-06-30', '2024-06-30']::timestamptz[], refunds => 'adjust')$$);
SELECT * FROM both_ways($$SELECT * FROM rfm_retention('sev', 'cust', 't', 'month', as_of => '2024-06-30')$$);
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;

-- A partitioned source of local partitions is read by rows (auto), as a
-- plain table: no states query in the DEBUG lines, and the same rows as
-- the plain table.  Its customers are estimated from its partitions'
-- statistics when it has none of its own.
CREATE TABLE sev_parts (cust bigint, t timestamptz, amount numeric) PARTITION BY HASH (cust);
CREATE TABLE sev_parts_0 PARTITION OF sev_parts FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE sev_parts_1 PARTITION OF sev_parts FOR VALUES WITH (MODULUS 2, REMAINDER 1);
INSERT INTO sev_parts SELECT cust, t, amount FROM sev;
ANALYZE sev_parts_0, sev_parts_1;
SET client_min_messages = debug1;
SELECT count(*) AS customers FROM rfm_analyze('sev_parts', 'cust', 't', 'amount', as_of => '2024-06-30');
SELECT count(*) AS cells FROM rfm_retention('sev_parts', 'cust', 't', 'month');
-- past the bound, where not one customer fits (a block of the table is
-- 1MB), every row is set aside, no part fits alone either, and the states
-- query answers
SET rfm_segment.max_memory = '64kB';
SELECT count(*) AS customers FROM rfm_analyze('sev_parts', 'cust', 't', 'amount', as_of => '2024-06-30');
RESET rfm_segment.max_memory;
RESET client_min_messages;
SELECT count(*) AS customers,
	(SELECT count(*) FROM (SELECT * FROM rfm_analyze('sev_parts', 'cust', 't', 'amount', as_of => '2024-06-30')
						   EXCEPT ALL
						   SELECT * FROM rfm_analyze('sev', 'cust', 't', 'amount', as_of => '2024-06-30')) x) AS differ
FROM rfm_analyze('sev_parts', 'cust', 't', 'amount', as_of => '2024-06-30');
SELECT count(*) AS cells,
	(SELECT count(*) FROM (SELECT * FROM rfm_retention('sev_parts', 'cust', 't', 'month')
						   EXCEPT ALL
						   SELECT * FROM rfm_retention('sev', 'cust', 't', 'month')) x) AS differ
FROM rfm_retention('sev_parts', 'cust', 't', 'month');

-- No memory wall: 400,000 events of 30,000 customers under a 2MB bound.
-- The hash table stops at the bound; auto reads states, as the table's
-- customers (30,000 in the statistics) would not fit, and finishes with
-- the unbounded answer, for one
-- date, for 12 month ends and for the retention triangle.
CREATE TABLE big AS
SELECT (g::bigint * 7919) % 30000 AS cust,
	'2024-01-01 00:00+00'::timestamptz + (g::bigint * 104729 % 31536000) * interval '1 second' AS t,
	((g * 31) % 20000) / 100.0 AS amount
FROM generate_series(1, 400000) g;
ANALYZE big;
CREATE TEMP TABLE unbounded AS
SELECT * FROM rfm_analyze('big', 'cust', 't', 'amount', as_of => '2024-12-31');
CREATE TEMP TABLE unbounded_snapshots AS
SELECT * FROM rfm_snapshots('big', 'cust', 't', 'amount', as_of => rfm_period_ends('2024-01-01', '2024-12-01', 'month', 'UTC'));
CREATE TEMP TABLE unbounded_retention AS
SELECT * FROM rfm_retention('big', 'cust', 't', 'week', as_of => '2024-12-31');
SET rfm_segment.max_memory = '2MB';
SET rfm_segment.scan = 'rows';
SELECT count(*) FROM rfm_analyze('big', 'cust', 't', 'amount', as_of => '2024-12-31');
\echo SQLSTATE :SQLSTATE
SELECT count(*) FROM rfm_retention('big', 'cust', 't', 'week', as_of => '2024-12-31');
\echo SQLSTATE :SQLSTATE
RESET rfm_segment.scan;
CREATE TEMP TABLE bounded_retention AS
SELECT * FROM rfm_retention('big', 'cust', 't', 'week', as_of => '2024-12-31');
SELECT count(*) AS cells, sum(active) AS active,
	(SELECT count(*) FROM (SELECT * FROM unbounded_retention EXCEPT ALL SELECT * FROM bounded_retention) x) AS only_unbounded,
	(SELECT count(*) FROM (SELECT * FROM bounded_retention EXCEPT ALL SELECT * FROM unbounded_retention) x) AS only_bounded
FROM unbounded_retention;
SELECT count(*) AS customers,
	(SELECT count(*) FROM (SELECT * FROM unbounded EXCEPT ALL
						   SELECT * FROM rfm_analyze('big', 'cust', 't', 'amount', as_of => '2024-12-31')) x) AS differ
FROM unbounded;
SELECT count(*) AS customer_snapshots,
	(SELECT count(*) FROM (SELECT * FROM unbounded_snapshots EXCEPT ALL
						   SELECT * FROM rfm_snapshots('big', 'cust', 't', 'amount',
									as_of => rfm_period_ends('2024-01-01', '2024-12-01', 'month', 'UTC'))) x) AS differ
FROM unbounded_snapshots;
RESET rfm_segment.max_memory;

-- Statistics that say the customers fit, when they do not (analyzed with
-- 500 customers, then 29,500 more): auto builds the hash table, which
-- stops at the bound in a parallel worker; the rows are read again in one
-- process, the others' set aside, with the same answer.
CREATE TABLE stale (LIKE big) WITH (autovacuum_enabled = false);
INSERT INTO stale SELECT * FROM big WHERE cust < 500;
ANALYZE stale;
INSERT INTO stale SELECT * FROM big WHERE cust >= 500;
SELECT reltuples < 20000 AS stale_statistics FROM pg_class WHERE relname = 'stale';
CREATE TEMP TABLE fallback AS SELECT * FROM unbounded WITH NO DATA;
SET rfm_segment.max_memory = '2MB';
SET client_min_messages = debug1;
INSERT INTO fallback SELECT * FROM rfm_analyze('stale', 'cust', 't', 'amount', as_of => '2024-12-31');
RESET client_min_messages;
SELECT count(*) AS customers,
	(SELECT count(*) FROM (SELECT * FROM unbounded EXCEPT ALL SELECT * FROM fallback) x) AS only_unbounded,
	(SELECT count(*) FROM (SELECT * FROM fallback EXCEPT ALL SELECT * FROM unbounded) x) AS only_fallback
FROM unbounded;
-- rfm_retention likewise: its hash table stops at the bound, the states
-- answer, and the triangle is the unbounded one
CREATE TEMP TABLE fallback_retention AS SELECT * FROM unbounded_retention WITH NO DATA;
SET client_min_messages = debug1;
INSERT INTO fallback_retention SELECT * FROM rfm_retention('stale', 'cust', 't', 'week', as_of => '2024-12-31');
RESET client_min_messages;
SELECT count(*) AS cells,
	(SELECT count(*) FROM (SELECT * FROM unbounded_retention EXCEPT ALL SELECT * FROM fallback_retention) x) AS only_unbounded,
	(SELECT count(*) FROM (SELECT * FROM fallback_retention EXCEPT ALL SELECT * FROM unbounded_retention) x) AS only_fallback
FROM unbounded_retention;
-- customers that fit, with a triangle that does not fit beside them: the
-- states way holds the triangle alone (3,000 customers over 400 days)
CREATE TABLE wide AS
SELECT g AS cust, '2023-01-01 00:00+00'::timestamptz + (g % 400) * interval '1 day' AS t
FROM generate_series(1, 3000) g;
ANALYZE wide;
RESET rfm_segment.max_memory;
CREATE TEMP TABLE wide_unbounded AS SELECT * FROM rfm_retention('wide', 'cust', 't', 'day', as_of => '2024-02-05');
CREATE TEMP TABLE wide_bounded AS SELECT * FROM wide_unbounded WITH NO DATA;
SET rfm_segment.max_memory = '2MB';
SET client_min_messages = debug1;
INSERT INTO wide_bounded SELECT * FROM rfm_retention('wide', 'cust', 't', 'day', as_of => '2024-02-05');
RESET client_min_messages;
SELECT count(*) AS cells, sum(active) AS active,
	(SELECT count(*) FROM (SELECT * FROM wide_unbounded EXCEPT ALL SELECT * FROM wide_bounded) x) AS only_unbounded,
	(SELECT count(*) FROM (SELECT * FROM wide_bounded EXCEPT ALL SELECT * FROM wide_unbounded) x) AS only_bounded
FROM wide_unbounded;
SET rfm_segment.scan = 'rows';
SELECT count(*) FROM rfm_retention('wide', 'cust', 't', 'day', as_of => '2024-02-05');
RESET rfm_segment.scan;
DROP TABLE wide;
-- and where they do fit, the hash table answers
RESET rfm_segment.max_memory;
SET client_min_messages = debug1;
SELECT count(*) AS cells,
	(SELECT count(*) FROM (SELECT * FROM unbounded_retention EXCEPT ALL
						   SELECT * FROM rfm_retention('stale', 'cust', 't', 'week', as_of => '2024-12-31')) x) AS differ
FROM unbounded_retention;
RESET client_min_messages;
SELECT count(*) AS customers,
	(SELECT count(*) FROM (SELECT * FROM unbounded EXCEPT ALL
						   SELECT * FROM rfm_analyze('stale', 'cust', 't', 'amount', as_of => '2024-12-31')) x) AS differ
FROM unbounded;


-- Past the bound the rows way goes on: the table takes no new customer,
-- the rows of the others are set aside by the hash of their key and read
-- back part by part after the scan, and every customer's state is scored
-- with the others (analyze.c's spill).  The answer is the unbounded
-- table's, for every kind of key, column and option: 30,000 customers,
-- about 7 MB of them, under a 2MB bound.
SET rfm_segment.max_parallel_workers = 0;
CREATE TABLE wev AS
SELECT CASE WHEN g % 997 = 0 THEN NULL ELSE (g::bigint * 7919) % 30000 END AS cust,
	'c' || ((g::bigint * 7919) % 30000) AS tag,
	CASE WHEN g % 503 = 0 THEN NULL
		 ELSE '2023-01-01 00:00+00'::timestamptz + ((g::bigint * 104729) % 63072000) * interval '1 second' END AS t,
	CASE WHEN g % 11 = 0 THEN NULL WHEN g % 13 = 0 THEN -((g % 300) / 4.0) ELSE (g % 400) / 4.0 END AS amount,
	CASE g % 4 WHEN 0 THEN NULL WHEN 1 THEN 0.1 WHEN 2 THEN 1 ELSE 0.35 END AS w
FROM generate_series(1, 150000) g;
ALTER TABLE wev ADD COLUMN d date;
UPDATE wev SET d = (t AT TIME ZONE 'UTC')::date;
ANALYZE wev;

-- rows of a query with the default bound and under 2MB, and how many
-- appear in one only
CREATE FUNCTION set_aside(query text, under text DEFAULT '2MB', OUT unbounded_rows bigint, OUT differ bigint)
LANGUAGE plpgsql AS $$
DECLARE
	bound text := current_setting('rfm_segment.max_memory');
BEGIN
	EXECUTE 'CREATE TEMP TABLE by_table AS ' || query;
	PERFORM set_config('rfm_segment.max_memory', under, true);
	EXECUTE 'CREATE TEMP TABLE by_parts AS ' || query;
	PERFORM set_config('rfm_segment.max_memory', bound, true);
	SELECT count(*) INTO unbounded_rows FROM by_table;
	SELECT count(*) INTO differ FROM (
		(SELECT * FROM by_table EXCEPT ALL SELECT * FROM by_parts)
		UNION ALL
		(SELECT * FROM by_parts EXCEPT ALL SELECT * FROM by_table)) x;
	DROP TABLE by_table, by_parts;
END $$;

-- rfm_analyze of wev under a bound, at DEBUG1 (how it read), against the
-- unbounded rows
CREATE TEMP TABLE wev_unbounded AS SELECT * FROM rfm_analyze('wev', 'cust', 't', 'amount', as_of => '2024-06-30');
CREATE TEMP TABLE wev_bounded AS SELECT * FROM wev_unbounded WITH NO DATA;
CREATE FUNCTION wev_under(bound text, OUT customers bigint, OUT only_unbounded bigint, OUT only_bounded bigint)
LANGUAGE plpgsql AS $$
DECLARE
	memory text := current_setting('rfm_segment.max_memory');
	messages text := current_setting('client_min_messages');
BEGIN
	TRUNCATE wev_bounded;
	PERFORM set_config('rfm_segment.max_memory', bound, true);
	PERFORM set_config('client_min_messages', 'debug1', true);
	INSERT INTO wev_bounded SELECT * FROM rfm_analyze('wev', 'cust', 't', 'amount', as_of => '2024-06-30');
	PERFORM set_config('client_min_messages', messages, true);
	PERFORM set_config('rfm_segment.max_memory', memory, true);
	SELECT count(*) INTO customers FROM wev_unbounded;
	SELECT count(*) INTO only_unbounded FROM (SELECT * FROM wev_unbounded EXCEPT ALL SELECT * FROM wev_bounded) x;
	SELECT count(*) INTO only_bounded FROM (SELECT * FROM wev_bounded EXCEPT ALL SELECT * FROM wev_unbounded) x;
END $$;
SELECT * FROM wev_under('2MB');
SELECT * FROM set_aside($$SELECT * FROM rfm_analyze('wev', 'cust', 't', 'amount', 'w', '2024-06-30', '7 days')$$);
SELECT * FROM set_aside($$SELECT * FROM rfm_analyze('wev', 'tag', 'd', 'amount', method => 'r_rfm', bins => 4)$$);
SELECT * FROM set_aside($$SELECT * FROM rfm_analyze('wev', 'cust', 't', weight_column => 'w', as_of => '2024-06-30', refunds => 'adjust')$$);
SELECT * FROM set_aside($$SELECT * FROM rfm_snapshots('wev', 'cust', 't', 'amount', 'w',
	as_of => ARRAY['2023-03-31', '2023-12-31', '2024-06-30', '2026-01-01']::timestamptz[])$$);
SELECT * FROM set_aside($$SELECT * FROM rfm_snapshots('wev', 'tag', 'd', 'amount',
	as_of => rfm_period_ends('2023-01-01', '2024-12-01', 'quarter', 'UTC'), refunds => 'adjust')$$);
-- a part whose customers do not fit alone (24 states each, about 465
-- customers a part, under 1.5MB): the states query answers
SET rfm_segment.max_memory = '1536kB';
SET client_min_messages = debug1;
SELECT count(*) FROM rfm_snapshots('wev', 'cust', 't', as_of => rfm_period_ends('2023-01-01', '2023-01-24', 'day', 'UTC'));
RESET client_min_messages;
RESET rfm_segment.max_memory;
SELECT * FROM set_aside($$SELECT * FROM rfm_snapshots('wev', 'cust', 't',
	as_of => rfm_period_ends('2023-01-01', '2023-01-24', 'day', 'UTC'))$$, '1536kB');

-- Customers that fit, with no room left for their scores: none is set
-- aside, and their states go to the same sink.  The bound is the largest
-- at which the call fails under scan = rows, where the scores come last
-- (in steps of 64kB: the scores of 30,000 customers take 1.4MB).
CREATE FUNCTION rows_peak(query text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	lo int := 4096;
	hi int := 16384;
	mid int;
	memory text := current_setting('rfm_segment.max_memory');
	scan text := current_setting('rfm_segment.scan');
BEGIN
	PERFORM set_config('rfm_segment.scan', 'rows', true);
	WHILE hi - lo > 64 LOOP
		mid := (lo + hi) / 128 * 64;
		PERFORM set_config('rfm_segment.max_memory', mid || 'kB', true);
		BEGIN
			EXECUTE 'SELECT count(*) FROM (' || query || ') x';
			hi := mid;
		EXCEPTION WHEN configuration_limit_exceeded THEN
			lo := mid;
		END;
	END LOOP;
	PERFORM set_config('rfm_segment.scan', scan, true);
	PERFORM set_config('rfm_segment.max_memory', memory, true);
	RETURN lo || 'kB';
END $$;
SELECT * FROM wev_under(rows_peak($$SELECT * FROM rfm_analyze('wev', 'cust', 't', 'amount', as_of => '2024-06-30')$$));
RESET rfm_segment.max_parallel_workers;

DROP TABLE sev, sev_parts, big, stale, wev;
DROP FUNCTION both_ways(text), set_aside(text, text), rows_peak(text), wev_under(text);
