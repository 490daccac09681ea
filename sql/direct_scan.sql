-- A query that is a bare scan of a table (its columns, every row) is read
-- without the executor (direct_scan.c); any other goes through it.  The
-- two must give the same rows, with the same privileges.  DEBUG2 says
-- which way each scan went.
\set VERBOSITY terse
SET TimeZone = 'UTC';
-- columns out of the functions' order, and a dropped one before them
CREATE TABLE ds_ev (gone int, amount numeric, note text, t timestamptz, cust int, tw timestamp, qty int);
ALTER TABLE ds_ev DROP COLUMN gone;
INSERT INTO ds_ev (amount, note, t, cust, tw, qty)
SELECT CASE WHEN g % 17 = 0 THEN NULL ELSE round((g % 97) * 1.25 + g % 7, 2) END,
	repeat('x', g % 5), '2024-01-01 00:00+00'::timestamptz + (g * 37 % 400) * interval '1 day' + (g % 13) * interval '1 hour',
	CASE WHEN g % 101 = 0 THEN NULL ELSE g % 300 END,
	'2024-01-01 00:00'::timestamp + (g * 37 % 400) * interval '1 day', g % 4
FROM generate_series(1, 5000) g;
ANALYZE ds_ev;
-- the same rows through a filter the planner keeps: read by the executor
CREATE VIEW ds_filtered AS SELECT * FROM ds_ev WHERE cust IS NOT NULL OR cust IS NULL;

SET client_min_messages = debug2;
SELECT count(*) FROM rfm_analyze('ds_ev', 'cust', 't', 'amount', as_of => '2025-01-01');
SELECT count(*) FROM rfm_analyze('ds_filtered', 'cust', 't', 'amount', as_of => '2025-01-01');
-- a cast is an expression: a wall-time column, an integer weight
SELECT count(*) FROM rfm_analyze('ds_ev', 'cust', 'tw', 'amount', as_of => '2025-01-01');
SELECT count(*) FROM rfm_analyze('ds_ev', 'cust', 't', 'amount', 'qty', as_of => '2025-01-01');
RESET client_min_messages;

-- every row equal, both ways, for each function that reads rows
-- (q: a query of %L, the source; a and b: the two sources)
CREATE FUNCTION ds_differ(q text, a text DEFAULT 'ds_ev', b text DEFAULT 'ds_filtered')
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	EXECUTE format('SELECT count(*) FROM ((%1$s EXCEPT ALL %2$s) UNION ALL (%2$s EXCEPT ALL %1$s)) d',
				   format(q, a), format(q, b)) INTO n;
	RETURN n;
END
$$;
SELECT f, ds_differ(q) AS differing_rows FROM (VALUES
	('rfm_analyze', 'SELECT * FROM rfm_analyze(%L, ''cust'', ''t'', ''amount'', as_of => ''2025-01-01'')'),
	('rfm_analyze, weights, refunds', 'SELECT * FROM rfm_analyze(%L, ''cust'', ''t'', ''amount'', ''amount'', as_of => ''2024-09-01'', refunds => ''adjust'')'),
	('rfm_snapshots', 'SELECT * FROM rfm_snapshots(%L, ''cust'', ''t'', ''amount'', as_of => ARRAY[''2024-03-31'', ''2024-06-30'', ''2024-12-31'']::timestamptz[])'),
	('rfm_retention', 'SELECT * FROM rfm_retention(%L, ''cust'', ''t'', ''month'', ''UTC'', ''2025-01-31'')'),
	('rfm_clv_summary', 'SELECT * FROM rfm_clv_summary(%L, ''cust'', ''t'', ''amount'', calibration_end => ''2024-10-01'', holdout_end => ''2025-02-01'')')
) v(f, q);

-- the same with the rows split among parallel processes by ranges of
-- blocks (each process reads its own blocks without the executor)
SET rfm_segment.max_parallel_workers = 8;
SET rfm_segment.parallel_split = 'blocks';
SET parallel_setup_cost = 0;
SET min_parallel_table_scan_size = 0;
SET client_min_messages = debug2;
SELECT count(*) FROM rfm_analyze('ds_ev', 'cust', 't', 'amount', as_of => '2025-01-01');
RESET client_min_messages;
SELECT f, ds_differ(q) AS differing_rows FROM (VALUES
	('rfm_analyze', 'SELECT * FROM rfm_analyze(%L, ''cust'', ''t'', ''amount'', as_of => ''2025-01-01'')'),
	('rfm_retention', 'SELECT * FROM rfm_retention(%L, ''cust'', ''t'', ''month'', ''UTC'', ''2025-01-31'')')
) v(f, q);
RESET rfm_segment.max_parallel_workers;
RESET rfm_segment.parallel_split;
RESET parallel_setup_cost;
RESET min_parallel_table_scan_size;

-- A partitioned table is an Append of its partitions' scans: each is
-- read without the executor, in the executor's order, whatever its own
-- columns' order (one partition attached with another layout); runtime
-- pruning or a filter keeps the executor.
CREATE TABLE ds_parts (cust int, t timestamptz, amount numeric) PARTITION BY HASH (cust);
CREATE TABLE ds_parts_0 PARTITION OF ds_parts FOR VALUES WITH (MODULUS 3, REMAINDER 0);
CREATE TABLE ds_parts_1 PARTITION OF ds_parts FOR VALUES WITH (MODULUS 3, REMAINDER 1);
CREATE TABLE ds_parts_2 (note text, amount numeric, t timestamptz, cust int);
ALTER TABLE ds_parts_2 DROP COLUMN note;
ALTER TABLE ds_parts ATTACH PARTITION ds_parts_2 FOR VALUES WITH (MODULUS 3, REMAINDER 2);
INSERT INTO ds_parts SELECT cust, t, amount FROM ds_ev WHERE cust IS NOT NULL;
ANALYZE ds_parts;
CREATE VIEW ds_parts_filtered AS SELECT * FROM ds_parts WHERE cust IS NOT NULL OR cust IS NULL;
SET client_min_messages = debug2;
SELECT count(*) FROM rfm_analyze('ds_parts', 'cust', 't', 'amount', as_of => '2025-01-01');
RESET client_min_messages;
SELECT ds_differ('SELECT * FROM rfm_analyze(%L, ''cust'', ''t'', ''amount'', as_of => ''2025-01-01'')',
	'ds_parts', 'ds_parts_filtered') AS differing_rows;
SELECT ds_differ('SELECT * FROM rfm_retention(%L, ''cust'', ''t'', ''week'', ''UTC'', ''2025-01-01'')',
	'ds_parts', 'ds_parts_filtered') AS differing_rows;
-- split by blocks among parallel processes: the same range of every partition
SET rfm_segment.max_parallel_workers = 8;
SET rfm_segment.parallel_split = 'blocks';
SET parallel_setup_cost = 0;
SET min_parallel_table_scan_size = 0;
SELECT ds_differ('SELECT * FROM rfm_analyze(%L, ''cust'', ''t'', ''amount'', as_of => ''2025-01-01'')',
	'ds_parts', 'ds_parts_filtered') AS differing_rows;
RESET rfm_segment.max_parallel_workers;
RESET rfm_segment.parallel_split;
RESET parallel_setup_cost;
RESET min_parallel_table_scan_size;
DROP VIEW ds_parts_filtered;
DROP TABLE ds_parts;

-- Privileges are checked as the executor checks them: the columns read,
-- and a view's owner's for the table under it.
CREATE ROLE regress_rfm_columns;
GRANT SELECT (cust, t, amount) ON ds_ev TO regress_rfm_columns;
GRANT SELECT ON ds_filtered TO regress_rfm_columns;
CREATE VIEW ds_plain AS SELECT cust, t, amount FROM ds_ev;
GRANT SELECT ON ds_plain TO regress_rfm_columns;
SET ROLE regress_rfm_columns;
SELECT count(*) FROM rfm_analyze('ds_ev', 'cust', 't', 'amount', as_of => '2025-01-01');
SELECT count(*) FROM rfm_analyze('ds_ev', 'cust', 't', 'amount', 'qty', as_of => '2025-01-01');
SELECT count(*) FROM rfm_analyze('ds_ev', 'cust', 'tw', as_of => '2025-01-01');
SELECT count(*) FROM rfm_retention('ds_ev', 'cust', 't', 'month', 'UTC', '2025-01-31');
SET client_min_messages = debug2;
SELECT count(*) FROM rfm_analyze('ds_plain', 'cust', 't', 'amount', as_of => '2025-01-01');
RESET client_min_messages;
RESET ROLE;
REVOKE SELECT (amount) ON ds_ev FROM regress_rfm_columns;
SET ROLE regress_rfm_columns;
SELECT count(*) FROM rfm_analyze('ds_ev', 'cust', 't', 'amount', as_of => '2025-01-01');
\echo SQLSTATE :SQLSTATE
SELECT count(*) FROM rfm_analyze('ds_ev', 'cust', 't', as_of => '2025-01-01');
RESET ROLE;
DROP VIEW ds_plain;
REVOKE ALL ON ds_ev, ds_filtered FROM regress_rfm_columns;
DROP ROLE regress_rfm_columns;

-- Rows added by the same transaction are seen, rows it deleted are not:
-- the scan takes the statement's snapshot.
BEGIN;
INSERT INTO ds_ev (amount, t, cust) VALUES (1000, '2024-12-31', 100000);
DELETE FROM ds_ev WHERE cust = 1;
SELECT count(*) FILTER (WHERE customer_key = '100000') AS added, count(*) FILTER (WHERE customer_key = '1') AS deleted
FROM rfm_analyze('ds_ev', 'cust', 't', 'amount', as_of => '2025-01-01');
ROLLBACK;

DROP FUNCTION ds_differ(text, text, text);
DROP VIEW ds_filtered;
DROP TABLE ds_ev;
