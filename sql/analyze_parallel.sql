-- rfm_analyze, rfm_snapshots, rfm_retention and rfm_clv_summary read a
-- table by rows in parallel workers: every process reads all the rows and
-- keeps the customers whose key hashes into its part; the workers send the
-- leader their values for the breaks, then their rows (retention: their
-- counts per cohort and period; lifetime value: their rows, after the
-- leader has told them the latest purchase of all).  The rows equal one
-- backend's for every kind of key and option (also where each process
-- reads its own blocks, at the end); what a worker cannot read
-- (temporary tables, row security, views, foreign tables) is read by the
-- leader alone, and a worker past rfm_segment.max_memory stops the call as
-- one backend would.
\set VERBOSITY terse
SET TimeZone = 'UTC';
SET extra_float_digits = 0;
SET rfm_segment.scan = 'rows';
-- by default the workers are at most the cores less one; the counts below
-- must not depend on the machine
SET rfm_segment.max_parallel_workers = 8;

CREATE TABLE pev AS
SELECT CASE WHEN g % 997 = 0 THEN NULL ELSE (g * 7919) % 3000 END::bigint AS cust,
	'customer-' || ((g * 7919) % 3000) ||
		CASE WHEN g % 7 = 0 THEN repeat('x', 200) ELSE '' END AS tag,	-- some keys need a 4-byte header
	md5(((g * 7919) % 3000)::text)::uuid AS id,
	((g * 7919) % 3000) / 7.0 AS num,
	CASE WHEN g % 503 = 0 THEN NULL
		 ELSE '2023-01-01 00:00+00'::timestamptz + ((g::bigint * 104729) % 63072000) * interval '1 second' END AS t,
	CASE WHEN g % 11 = 0 THEN NULL WHEN g % 13 = 0 THEN -((g % 300) / 4.0) ELSE (g % 400) / 4.0 END AS amount,
	CASE g % 4 WHEN 0 THEN NULL WHEN 1 THEN 0.1::float8 WHEN 2 THEN 1 ELSE 0.35 END AS w
FROM generate_series(1, 30000) g;
-- sums past 38 digits, whose states are longer than the fixed part
UPDATE pev SET amount = 9.5e37 WHERE cust IN (17, 18, 2999);
ALTER TABLE pev ADD COLUMN d date, ADD COLUMN ts timestamp;
UPDATE pev SET d = (t AT TIME ZONE 'UTC')::date, ts = t AT TIME ZONE 'UTC';
ANALYZE pev;

-- rows of a query in one backend and with workers, and how many appear in
-- one way only; notes says how many workers the parallel run launched
CREATE FUNCTION with_workers(query text, workers int DEFAULT 2,
	OUT serial_rows bigint, OUT only_serial bigint, OUT only_parallel bigint)
LANGUAGE plpgsql AS $$
BEGIN
	SET LOCAL max_parallel_workers_per_gather = 0;
	EXECUTE 'CREATE TEMP TABLE serial_run AS ' || query;
	EXECUTE format('SET LOCAL max_parallel_workers_per_gather = %s', workers);
	SET LOCAL min_parallel_table_scan_size = 0;
	EXECUTE 'CREATE TEMP TABLE parallel_run AS ' || query;
	SELECT count(*) INTO serial_rows FROM serial_run;
	SELECT count(*) INTO only_serial FROM (TABLE serial_run EXCEPT ALL TABLE parallel_run) x;
	SELECT count(*) INTO only_parallel FROM (TABLE parallel_run EXCEPT ALL TABLE serial_run) x;
	DROP TABLE serial_run, parallel_run;
END $$;

SELECT * FROM with_workers($$SELECT * FROM rfm_analyze('pev', 'cust', 't', 'amount', as_of => '2024-06-30')$$);
SELECT * FROM with_workers($$SELECT * FROM rfm_analyze('pev', 'cust', 't', 'amount', as_of => '2024-06-30')$$, 3);
SELECT * FROM with_workers($$SELECT * FROM rfm_analyze('pev', 'cust', 't', 'amount', 'w', '2024-06-30', '7 days')$$);
SELECT * FROM with_workers($$SELECT * FROM rfm_analyze('pev', 'cust', 't', weight_column => 'w', as_of => '2024-06-30')$$);
SELECT * FROM with_workers($$SELECT * FROM rfm_analyze('pev', 'tag', 'd', 'amount', method => 'r_rfm', bins => 4)$$);
SELECT * FROM with_workers($$SELECT * FROM rfm_analyze('pev', 'id', 't', 'amount', as_of => '2024-06-30', refunds => 'adjust')$$);
SELECT * FROM with_workers($$SELECT * FROM rfm_analyze('pev', 'num', 't', 'amount', as_of => '2024-01-15 12:00+00', bins => 3)$$);
SELECT * FROM with_workers($$SELECT * FROM rfm_snapshots('pev', 'cust', 't', 'amount', 'w',
	as_of => ARRAY['2023-03-31', '2023-12-31', '2024-06-30', '2026-01-01']::timestamptz[])$$, 3);
SELECT * FROM with_workers($$SELECT * FROM rfm_snapshots('pev', 'tag', 'd', 'amount',
	as_of => rfm_period_ends('2023-01-01', '2024-12-01', 'quarter', 'UTC'), refunds => 'adjust')$$);
-- a user's rule set: the workers take the leader's compiled map (they do
-- not read the rule table, which Citus makes a reference table)
SELECT rfm_copy_rule_set('standard', 'par_rules');
UPDATE rfm_segment_rule SET segment = 'Best of all' WHERE rule_set = 'par_rules' AND segment = 'Champions';
SELECT * FROM with_workers($$SELECT * FROM rfm_analyze('pev', 'cust', 't', 'amount', as_of => '2024-06-30', rule_set => 'par_rules')$$);
SET max_parallel_workers_per_gather = 2;
SET min_parallel_table_scan_size = 0;
SELECT segment, count(*) FROM rfm_analyze('pev', 'cust', 't', 'amount', as_of => '2024-06-30', rule_set => 'par_rules')
WHERE segment IN ('Best of all', 'Champions') GROUP BY 1;
RESET max_parallel_workers_per_gather;
RESET min_parallel_table_scan_size;
DELETE FROM rfm_segment_rule WHERE rule_set = 'par_rules';
-- as_of left out: the latest event, found before the workers start
SELECT * FROM with_workers($$SELECT * FROM rfm_analyze('pev', 'cust', 't', 'amount')$$);
-- rfm_retention likewise: each worker counts its customers per cohort and
-- period, and the leader adds the counts
SELECT * FROM with_workers($$SELECT * FROM rfm_retention('pev', 'cust', 't')$$);
SELECT * FROM with_workers($$SELECT * FROM rfm_retention('pev', 'cust', 't', 'week', 'Europe/Berlin', '2024-03-10 12:00+00')$$, 3);
SELECT * FROM with_workers($$SELECT * FROM rfm_retention('pev', 'tag', 'd', 'quarter', as_of => '2024-06-30')$$);
SELECT * FROM with_workers($$SELECT * FROM rfm_retention('pev', 'id', 'ts', 'day', 'Asia/Tokyo', '2023-02-01 00:00+00')$$);
SELECT * FROM with_workers($$SELECT * FROM rfm_retention('pev', 'num', 't', 'year', 'America/New_York')$$);
SELECT * FROM with_workers($$SELECT * FROM rfm_retention('pev', 'cust', 't', as_of => '2022-06-30')$$);
-- rfm_clv_summary likewise: each worker sends its customers' rows.
-- Without calibration_end the latest purchase of all, which one process
-- saw, ends every customer's calibration: the leader sends it to the
-- workers before they form their rows.
SELECT * FROM with_workers($$SELECT * FROM rfm_clv_summary('pev', 'cust', 't', 'amount')$$);
SELECT * FROM with_workers($$SELECT * FROM rfm_clv_summary('pev', 'tag', 'd', 'amount', '2024-03-31', '2024-09-30', 'day')$$, 3);
SELECT * FROM with_workers($$SELECT * FROM rfm_clv_summary('pev', 'id', 'ts', NULL, '2023-12-31', unit => 'month')$$);
SELECT * FROM with_workers($$SELECT * FROM rfm_clv_summary('pev', 'num', 't', 'amount', unit => 'year', tz => 'Asia/Tokyo')$$);
SELECT * FROM with_workers($$SELECT * FROM rfm_clv_summary('pev', 'cust', 't', 'amount', '2022-06-30')$$);

-- the workers launched are reported at DEBUG1 (none: no line)
SET max_parallel_workers_per_gather = 2;
SET min_parallel_table_scan_size = 0;
SET client_min_messages = debug1;
SELECT count(*) FROM rfm_analyze('pev', 'cust', 't', 'amount', as_of => '2024-06-30');
SET max_parallel_workers_per_gather = 3;
SELECT count(*) FROM rfm_snapshots('pev', 'cust', 't', 'amount', as_of => ARRAY['2023-12-31', '2024-06-30']::timestamptz[]);
SELECT count(*) FROM rfm_retention('pev', 'cust', 't');
SELECT count(*) FROM rfm_clv_summary('pev', 'cust', 't', 'amount');
SET max_parallel_workers_per_gather = 0;
SELECT count(*) FROM rfm_analyze('pev', 'cust', 't', 'amount', as_of => '2024-06-30');
SET max_parallel_workers_per_gather = 2;
-- rfm_segment.max_parallel_workers bounds them too (every process reads
-- every row, so by default, -1, at most the cores less one); 0: none
SET rfm_segment.max_parallel_workers = 1;
SELECT count(*) FROM rfm_analyze('pev', 'cust', 't', 'amount', as_of => '2024-06-30');
SELECT count(*) FROM rfm_clv_summary('pev', 'cust', 't', 'amount');
SET rfm_segment.max_parallel_workers = 0;
SELECT count(*) FROM rfm_retention('pev', 'cust', 't');
RESET rfm_segment.max_parallel_workers;
SHOW rfm_segment.max_parallel_workers;
SET rfm_segment.max_parallel_workers = 64;
SET rfm_segment.max_parallel_workers = 8;
-- a table smaller than min_parallel_table_scan_size is read by one backend
SET min_parallel_table_scan_size = '1GB';
SELECT count(*) FROM rfm_analyze('pev', 'cust', 't', 'amount', as_of => '2024-06-30');
SET min_parallel_table_scan_size = 0;
-- The leader launches its workers also when another part of the query
-- runs in parallel (a Gather has put it in parallel mode), as in a model's
-- view, which finds the latest event by a parallel max(): the calls are
-- PARALLEL RESTRICTED, so they run in the leader, never in a worker.
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
-- (the plan's Gather, read from EXPLAIN, whose lines differ between
-- PostgreSQL versions)
CREATE FUNCTION pg_temp.plan_has(query text, node text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	line text;
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
		IF line LIKE '%' || node || '%' THEN
			RETURN true;
		END IF;
	END LOOP;
	RETURN false;
END
$$;
SELECT pg_temp.plan_has($$SELECT count(*) FROM (SELECT (SELECT max(t) FROM pev) AS as_of OFFSET 0) l,
	LATERAL rfm_analyze('pev', 'cust', 't', 'amount', as_of => l.as_of) a$$, 'Gather') AS max_under_gather;
SELECT count(*) FROM (SELECT (SELECT max(t) FROM pev) AS as_of OFFSET 0) l,
	LATERAL rfm_analyze('pev', 'cust', 't', 'amount', as_of => l.as_of) a;
SELECT count(*) FROM (SELECT (SELECT max(t) FROM pev) AS as_of OFFSET 0) l,
	LATERAL rfm_retention('pev', 'cust', 't', as_of => l.as_of) a;
SELECT count(*) FROM (SELECT (SELECT max(t) FROM pev) AS as_of OFFSET 0) l,
	LATERAL rfm_clv_summary('pev', 'cust', 't', 'amount', (l.as_of AT TIME ZONE 'UTC')::date) a;
RESET client_min_messages;
SELECT * FROM with_workers($$SELECT a.* FROM (SELECT (SELECT max(t) FROM pev) AS as_of OFFSET 0) l,
	LATERAL rfm_analyze('pev', 'cust', 't', 'amount', as_of => l.as_of) a$$);
SELECT * FROM with_workers($$SELECT a.* FROM (SELECT (SELECT max(t) FROM pev) AS as_of OFFSET 0) l,
	LATERAL rfm_retention('pev', 'cust', 't', as_of => l.as_of) a$$);
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
-- the long sums are whole (one of the workers has them)
SELECT customer_key, monetary FROM rfm_analyze('pev', 'cust', 't', 'amount', as_of => '2024-06-30')
WHERE customer_key IN ('17', '18', '2999') ORDER BY customer_key;

-- a partitioned table of tables is read in parallel; a table under row
-- security, a temporary table, a view, or a table whose parallel_workers
-- is 0 by the leader alone (no DEBUG line)
CREATE TABLE pev_parts (LIKE pev) PARTITION BY HASH (cust);
CREATE TABLE pev_parts_0 PARTITION OF pev_parts FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE pev_parts_1 PARTITION OF pev_parts FOR VALUES WITH (MODULUS 2, REMAINDER 1);
INSERT INTO pev_parts SELECT * FROM pev;
CREATE TABLE pev_secure AS TABLE pev;
ALTER TABLE pev_secure ENABLE ROW LEVEL SECURITY;
CREATE TEMP TABLE pev_temp AS TABLE pev;
CREATE VIEW pev_view AS TABLE pev;
CREATE TABLE pev_one AS TABLE pev;
ALTER TABLE pev_one SET (parallel_workers = 0);
SET client_min_messages = debug1;
SELECT count(*) FROM rfm_analyze('pev_parts', 'cust', 't', 'amount', as_of => '2024-06-30');
SELECT count(*) FROM rfm_analyze('pev_secure', 'cust', 't', 'amount', as_of => '2024-06-30');
SELECT count(*) FROM rfm_analyze('pev_temp', 'cust', 't', 'amount', as_of => '2024-06-30');
SELECT count(*) FROM rfm_analyze('pev_view', 'cust', 't', 'amount', as_of => '2024-06-30');
SELECT count(*) FROM rfm_analyze('pev_one', 'cust', 't', 'amount', as_of => '2024-06-30');
RESET client_min_messages;
SELECT (SELECT count(*) FROM (SELECT * FROM rfm_analyze('pev_parts', 'cust', 't', 'amount', as_of => '2024-06-30')
							  EXCEPT ALL SELECT * FROM rfm_analyze('pev_view', 'cust', 't', 'amount', as_of => '2024-06-30')) x) AS only_partitioned;

-- a model refreshed with workers equals one made by one backend
SET max_parallel_workers_per_gather = 0;
SELECT count(*) AS views FROM unnest(rfm_create_model('pev_serial', 'pev', 'cust', 't', 'amount', as_of => '2024-06-30'));
SET max_parallel_workers_per_gather = 2;
SELECT count(*) AS views FROM unnest(rfm_create_model('pev_parallel', 'pev', 'cust', 't', 'amount', as_of => '2024-06-30'));
SELECT 'refreshed' AS done FROM (SELECT rfm_refresh('pev_parallel')) r;
SELECT (SELECT count(*) FROM (TABLE pev_serial_metrics EXCEPT ALL TABLE pev_parallel_metrics) x) AS only_serial,
	(SELECT count(*) FROM (TABLE pev_parallel_metrics EXCEPT ALL TABLE pev_serial_metrics) x) AS only_parallel,
	(SELECT count(*) FROM (TABLE pev_serial_segment_summary EXCEPT ALL TABLE pev_parallel_segment_summary) x) AS summary_differs;

-- a bad row in any process's part is the same error as in one backend
CREATE TABLE pev_bad AS TABLE pev;
UPDATE pev_bad SET amount = 'NaN' WHERE cust % 2 = 0;
SELECT count(*) FROM rfm_analyze('pev_bad', 'cust', 't', 'amount', as_of => '2024-06-30');
SELECT count(*) FROM rfm_clv_summary('pev_bad', 'cust', 't', 'amount');
SET max_parallel_workers_per_gather = 0;
SELECT count(*) FROM rfm_analyze('pev_bad', 'cust', 't', 'amount', as_of => '2024-06-30');
SELECT count(*) FROM rfm_clv_summary('pev_bad', 'cust', 't', 'amount');
SET max_parallel_workers_per_gather = 2;

-- past rfm_segment.max_memory: under auto the same rows (rfm_snapshots
-- reads them again in one process, setting aside the rows of the
-- customers past the bound; the others read by states); under rows, the
-- memory error, whichever process passes it
SET rfm_segment.scan = 'auto';
SET rfm_segment.max_memory = '1MB';
SELECT * FROM with_workers($$SELECT * FROM rfm_snapshots('pev', 'tag', 't', 'amount',
	as_of => ARRAY['2023-03-31', '2023-12-31', '2024-06-30', '2026-01-01']::timestamptz[])$$);
SELECT * FROM with_workers($$SELECT * FROM rfm_retention('pev', 'tag', 't', 'week')$$);
SELECT * FROM with_workers($$SELECT * FROM rfm_clv_summary('pev', 'tag', 't', 'amount')$$);
SET rfm_segment.scan = 'rows';
SELECT count(*) FROM rfm_snapshots('pev', 'tag', 't', 'amount',
	as_of => ARRAY['2023-03-31', '2023-12-31', '2024-06-30', '2026-01-01']::timestamptz[]);

-- A worker past the limit while the leader is not.  With one worker, a
-- text key is the worker's when hashtext, the hash scan.c takes of its
-- bytes, is negative: here the worker has 19,993 customers and the leader
-- 21.  The statistics, taken before the worker's customers came, say they
-- all fit in 2MB.
CREATE TABLE lopsided (cust text, t timestamptz, amount numeric) WITH (autovacuum_enabled = false);
INSERT INTO lopsided SELECT 'c' || g, '2024-01-01 00:00+00'::timestamptz + g * interval '1 hour', g % 50
FROM generate_series(1, 40) g WHERE hashtext('c' || g) >= 0;
ANALYZE lopsided;
INSERT INTO lopsided SELECT 'c' || g, '2024-01-01 00:00+00'::timestamptz + (g % 5000) * interval '1 hour', g % 50
FROM generate_series(41, 40000) g WHERE hashtext('c' || g) < 0;
SELECT count(*) FILTER (WHERE hashtext(cust) < 0) AS worker_part,
	count(*) FILTER (WHERE hashtext(cust) >= 0) AS leader_part FROM lopsided;
-- which process raised the memory error
CREATE FUNCTION memory_error(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	message text;
	context text;
BEGIN
	EXECUTE query;
	RETURN 'no error';
EXCEPTION WHEN configuration_limit_exceeded THEN
	GET STACKED DIAGNOSTICS message = MESSAGE_TEXT, context = PG_EXCEPTION_CONTEXT;
	RETURN message || CASE WHEN context LIKE '%parallel worker%' THEN ' (the worker)' ELSE ' (the leader)' END;
END $$;
SET rfm_segment.max_memory = '2MB';
SET max_parallel_workers_per_gather = 1;
SELECT memory_error($$SELECT count(*) FROM rfm_analyze('lopsided', 'cust', 't', 'amount', as_of => '2024-12-31')$$);
SELECT memory_error($$SELECT count(*) FROM rfm_retention('lopsided', 'cust', 't')$$);
SELECT memory_error($$SELECT count(*) FROM rfm_clv_summary('lopsided', 'cust', 't', 'amount')$$);
-- under auto the worker's overflow sends the call to one process (rows
-- set aside past the bound) or to the states way, and the rows are those
-- of one backend (which passes the limit itself)
SET rfm_segment.scan = 'auto';
SELECT * FROM with_workers($$SELECT * FROM rfm_analyze('lopsided', 'cust', 't', 'amount', as_of => '2024-12-31')$$, 1);
SELECT * FROM with_workers($$SELECT * FROM rfm_retention('lopsided', 'cust', 't', 'day')$$, 1);
SELECT * FROM with_workers($$SELECT * FROM rfm_clv_summary('lopsided', 'cust', 't', 'amount')$$, 1);
RESET rfm_segment.max_memory;
RESET rfm_segment.scan;
SET max_parallel_workers_per_gather = 2;

-- Split by blocks (rfm_segment.parallel_split): each process reads its own
-- range of blocks, and the customers two processes met go to the process
-- of their part, merged.  bev stores pev's rows customer by customer, as a
-- table loaded or clustered by customer; under auto a sample of its blocks
-- finds them together and the processes split the blocks, while pev, whose
-- rows are spread, keeps the split by customer.
CREATE TABLE bev AS SELECT * FROM pev ORDER BY cust, t;
ANALYZE bev;
-- and the same rows in hash partitions by customer
CREATE TABLE bev_parts (LIKE bev) PARTITION BY HASH (cust);
CREATE TABLE bev_parts_0 PARTITION OF bev_parts FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE bev_parts_1 PARTITION OF bev_parts FOR VALUES WITH (MODULUS 2, REMAINDER 1);
INSERT INTO bev_parts SELECT * FROM bev;
ANALYZE bev_parts_0, bev_parts_1;
SET rfm_segment.scan = 'rows';
SET client_min_messages = debug1;
SELECT count(*) FROM rfm_analyze('bev', 'cust', 't', 'amount', as_of => '2024-06-30');
SELECT count(*) FROM rfm_analyze('pev', 'cust', 't', 'amount', as_of => '2024-06-30');
SET rfm_segment.parallel_split = 'customers';
SELECT count(*) FROM rfm_analyze('bev', 'cust', 't', 'amount', as_of => '2024-06-30');
-- a partitioned table: each process reads the same range of blocks of
-- every partition; under auto its largest partition is sampled
RESET rfm_segment.parallel_split;
SELECT count(*) FROM rfm_analyze('bev_parts', 'cust', 't', 'amount', as_of => '2024-06-30');
SELECT count(*) FROM rfm_analyze('pev_parts', 'cust', 't', 'amount', as_of => '2024-06-30');
-- forced, on the spread tables too
SET rfm_segment.parallel_split = 'blocks';
SELECT count(*) FROM rfm_analyze('pev', 'cust', 't', 'amount', as_of => '2024-06-30');
SELECT count(*) FROM rfm_analyze('pev_parts', 'cust', 't', 'amount', as_of => '2024-06-30');
RESET client_min_messages;
-- the same rows as one backend for every kind of key, option and number of
-- workers: on bev few customers move, on pev nearly all (with three
-- workers, through the leader to the worker of their part)
SELECT * FROM with_workers($$SELECT * FROM rfm_analyze('bev', 'cust', 't', 'amount', as_of => '2024-06-30')$$);
SELECT * FROM with_workers($$SELECT * FROM rfm_analyze('bev', 'cust', 't', 'amount', 'w', '2024-06-30', '7 days')$$, 3);
SELECT * FROM with_workers($$SELECT * FROM rfm_analyze('bev', 'tag', 'd', 'amount', method => 'r_rfm', bins => 4)$$);
SELECT * FROM with_workers($$SELECT * FROM rfm_analyze('bev', 'id', 't', 'amount', as_of => '2024-06-30', refunds => 'adjust')$$, 3);
SELECT * FROM with_workers($$SELECT * FROM rfm_analyze('bev', 'num', 't', 'amount', as_of => '2024-01-15 12:00+00', bins => 3)$$);
SELECT * FROM with_workers($$SELECT * FROM rfm_snapshots('bev', 'cust', 't', 'amount', 'w',
	as_of => ARRAY['2023-03-31', '2023-12-31', '2024-06-30', '2026-01-01']::timestamptz[])$$, 3);
SELECT * FROM with_workers($$SELECT * FROM rfm_analyze('pev', 'cust', 't', 'amount', as_of => '2024-06-30')$$);
SELECT * FROM with_workers($$SELECT * FROM rfm_analyze('pev', 'tag', 'ts', 'amount', 'w', as_of => '2024-06-30')$$, 3);
SELECT * FROM with_workers($$SELECT * FROM rfm_snapshots('pev', 'id', 'd', 'amount',
	as_of => rfm_period_ends('2023-01-01', '2024-12-01', 'quarter', 'UTC'), refunds => 'adjust')$$, 3);
SELECT * FROM with_workers($$SELECT * FROM rfm_analyze('pev', 'num', 't', 'amount')$$);
SELECT * FROM with_workers($$SELECT * FROM rfm_analyze('bev_parts', 'tag', 't', 'amount', as_of => '2024-06-30')$$, 3);
SELECT * FROM with_workers($$SELECT * FROM rfm_snapshots('pev_parts', 'cust', 't', 'amount', 'w',
	as_of => ARRAY['2023-12-31', '2024-06-30']::timestamptz[])$$);
-- workers that could not be launched leave their ranges of blocks, and
-- their parts of the customers, to the leader
SET max_parallel_workers = 1;
SET client_min_messages = debug1;
SELECT count(*) FROM rfm_analyze('bev', 'cust', 't', 'amount', as_of => '2024-06-30', bins => 3);
RESET client_min_messages;
SELECT * FROM with_workers($$SELECT * FROM rfm_analyze('bev', 'cust', 't', 'amount', as_of => '2024-06-30')$$, 3);
SELECT * FROM with_workers($$SELECT * FROM rfm_clv_summary('pev', 'cust', 't', 'amount')$$, 3);
RESET max_parallel_workers;
-- the long sums, whose states outgrow their fixed part, and the NULL
-- customer move whole
SELECT customer_key, frequency, monetary FROM rfm_analyze('pev', 'cust', 't', 'amount', as_of => '2024-06-30')
WHERE customer_key IN ('17', '18', '2999') OR customer_key IS NULL ORDER BY customer_key;
-- past rfm_segment.max_memory: under rows the error, under auto one
-- process or the states way, with the rows of one backend
SET rfm_segment.max_memory = '1MB';
SELECT count(*) FROM rfm_snapshots('pev', 'tag', 't', 'amount',
	as_of => ARRAY['2023-03-31', '2023-12-31', '2024-06-30', '2026-01-01']::timestamptz[]);
SELECT count(*) FROM rfm_clv_summary('pev', 'tag', 't', 'amount');
SET rfm_segment.scan = 'auto';
SELECT * FROM with_workers($$SELECT * FROM rfm_snapshots('pev', 'tag', 't', 'amount',
	as_of => ARRAY['2023-03-31', '2023-12-31', '2024-06-30', '2026-01-01']::timestamptz[])$$, 3);
SELECT * FROM with_workers($$SELECT * FROM rfm_retention('pev', 'tag', 't', 'week')$$, 3);
SELECT * FROM with_workers($$SELECT * FROM rfm_clv_summary('pev', 'tag', 't', 'amount')$$, 3);
RESET rfm_segment.max_memory;
RESET rfm_segment.scan;
-- The exchange's own limit: where the scan fits but the customers met
-- twice, arriving on top of those each process read, do not.
-- parallel_limit is the largest rfm_segment.max_memory under which the
-- call fails with three workers under rows (the error stops it wherever a
-- process passes the limit): its peak, the exchange.  Under auto there,
-- the exchange stops, the workers are cancelled and the call reads again
-- in one process (rfm_analyze, whose customers then fit) or by states:
-- the rows of one backend.
CREATE FUNCTION parallel_limit(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	lo int := 64;
	hi int := 65536;
	mid int;
BEGIN
	SET LOCAL rfm_segment.scan = 'rows';
	SET LOCAL max_parallel_workers_per_gather = 3;
	WHILE lo < hi LOOP
		mid := (lo + hi) / 2;
		PERFORM set_config('rfm_segment.max_memory', mid || 'kB', true);
		BEGIN
			EXECUTE query;
			hi := mid;
		EXCEPTION WHEN configuration_limit_exceeded THEN
			lo := mid + 1;
		END;
	END LOOP;
	RETURN lo - 1 || 'kB';
END $$;
SET rfm_segment.scan = 'auto';
SET max_parallel_workers_per_gather = 3;
SELECT set_config('rfm_segment.max_memory', parallel_limit(
	$$SELECT count(*) FROM rfm_analyze('pev', 'cust', 't', 'amount', as_of => '2024-06-30')$$), false) IS NOT NULL AS set;
SET client_min_messages = debug1;
SELECT count(*) FROM rfm_analyze('pev', 'cust', 't', 'amount', as_of => '2024-06-30');
RESET client_min_messages;
SELECT * FROM with_workers($$SELECT * FROM rfm_analyze('pev', 'cust', 't', 'amount', as_of => '2024-06-30')$$, 3);
SELECT set_config('rfm_segment.max_memory', parallel_limit(
	$$SELECT count(*) FROM rfm_retention('pev', 'cust', 't')$$), false) IS NOT NULL AS set;
SET client_min_messages = debug1;
SELECT count(*) FROM rfm_retention('pev', 'cust', 't');
RESET client_min_messages;
SELECT * FROM with_workers($$SELECT * FROM rfm_retention('pev', 'cust', 't')$$, 3);
SELECT set_config('rfm_segment.max_memory', parallel_limit(
	$$SELECT count(*) FROM rfm_clv_summary('pev', 'cust', 't', 'amount')$$), false) IS NOT NULL AS set;
SET client_min_messages = debug1;
SELECT count(*) FROM rfm_clv_summary('pev', 'cust', 't', 'amount');
RESET client_min_messages;
SELECT * FROM with_workers($$SELECT * FROM rfm_clv_summary('pev', 'cust', 't', 'amount')$$, 3);
RESET rfm_segment.max_memory;
RESET rfm_segment.scan;
SET max_parallel_workers_per_gather = 2;
-- rfm_retention and rfm_clv_summary split the blocks too: the customers
-- met twice move with their periods, or their purchase days and sums
SET rfm_segment.parallel_split = 'auto';
SET client_min_messages = debug1;
SELECT count(*) FROM rfm_retention('bev', 'cust', 't');
SELECT count(*) FROM rfm_clv_summary('bev', 'cust', 't', 'amount');
SELECT count(*) FROM rfm_retention('pev', 'cust', 't');
RESET client_min_messages;
SET rfm_segment.parallel_split = 'blocks';
SELECT * FROM with_workers($$SELECT * FROM rfm_retention('bev', 'cust', 't')$$);
SELECT * FROM with_workers($$SELECT * FROM rfm_retention('bev', 'tag', 'd', 'quarter', as_of => '2024-06-30')$$, 3);
SELECT * FROM with_workers($$SELECT * FROM rfm_retention('pev', 'id', 'ts', 'day', 'Asia/Tokyo', '2023-02-01 00:00+00')$$, 3);
SELECT * FROM with_workers($$SELECT * FROM rfm_retention('pev', 'num', 't', 'year', 'America/New_York')$$);
SELECT * FROM with_workers($$SELECT * FROM rfm_clv_summary('bev', 'cust', 't', 'amount')$$);
SELECT * FROM with_workers($$SELECT * FROM rfm_clv_summary('bev', 'tag', 'd', 'amount', '2024-03-31', '2024-09-30', 'day')$$, 3);
SELECT * FROM with_workers($$SELECT * FROM rfm_clv_summary('pev', 'id', 'ts', NULL, '2023-12-31', unit => 'month')$$, 3);
SELECT * FROM with_workers($$SELECT * FROM rfm_clv_summary('pev', 'cust', 't', 'amount', unit => 'year', tz => 'Asia/Tokyo')$$);
SELECT * FROM with_workers($$SELECT * FROM rfm_retention('bev_parts', 'cust', 't', 'week')$$);
SELECT * FROM with_workers($$SELECT * FROM rfm_clv_summary('bev_parts', 'id', 't', 'amount', '2024-03-31')$$, 3);
-- the 38-digit sums of the purchases move whole
SELECT customer_key, x, mean_spend FROM rfm_clv_summary('pev', 'cust', 't', 'amount', '2024-06-30')
WHERE customer_key IN ('17', '18', '2999') ORDER BY customer_key;
-- a bad row in any process's blocks is one backend's error
SELECT count(*) FROM rfm_analyze('pev_bad', 'cust', 't', 'amount', as_of => '2024-06-30');
SELECT count(*) FROM rfm_clv_summary('pev_bad', 'cust', 't', 'amount');
SET rfm_segment.parallel_split = 'rows';
RESET rfm_segment.parallel_split;
SHOW rfm_segment.parallel_split;
SELECT rfm_drop_model('pev_serial'), rfm_drop_model('pev_parallel');
