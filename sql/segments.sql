-- Segment rule sets: the built-in ones, editing a copy, checking, the
-- IMMUTABLE map for generated columns.
\set VERBOSITY terse

SELECT rule_set, priority, segment, r_min, r_max, f_min, f_max, m_min, m_max, builtin
FROM rfm_segment_rule ORDER BY rule_set, priority;

SELECT rfm_segment(5, 5, 5), rfm_segment(1, 1, 1), rfm_segment(3, 4, 3), rfm_segment(2, 5, 1),
	rfm_segment(5, 5, 5, 'rffl'), rfm_segment(4, 2, 4, 'rffl'), rfm_segment(1, 5, 5, 'rffl');

-- The compiled-in standard map agrees with the standard rule set on every
-- score cell 1..10.
SELECT count(*) AS cells,
	count(*) FILTER (WHERE rfm_segment(r, f, m) = rfm_segment_standard(r, f, m)) AS agree
FROM generate_series(1, 10) r, generate_series(1, 10) f, generate_series(1, 10) m;

-- In parallel workers (rfm_segment reads the rule table there too), the
-- same answer as serial.
CREATE TABLE cells AS SELECT (i % 5) + 1 AS r, (i % 3) + 1 AS f, (i % 4) + 1 AS m FROM generate_series(1, 100000) i;
ANALYZE cells;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT rfm_segment(r, f, m), count(*) FROM cells GROUP BY 1;
CREATE TABLE seg_runs AS SELECT 'parallel' AS config, rfm_segment(r, f, m) AS segment, count(*) FROM cells GROUP BY 2;
SET max_parallel_workers_per_gather = 0;
INSERT INTO seg_runs SELECT 'serial', rfm_segment(r, f, m), count(*) FROM cells GROUP BY 2;
SELECT segment, count FROM seg_runs WHERE config = 'serial'
EXCEPT SELECT segment, count FROM seg_runs WHERE config = 'parallel';
SELECT segment, count FROM seg_runs WHERE config = 'parallel' ORDER BY 1;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET parallel_leader_participation;
RESET max_parallel_workers_per_gather;
DROP TABLE cells, seg_runs;

-- Segment sizes over all 125 cells of five bins
SELECT rfm_segment_standard(r, f, m) AS segment, count(*) AS cells
FROM generate_series(1, 5) r, generate_series(1, 5) f, generate_series(1, 5) m
GROUP BY 1 ORDER BY 2 DESC, 1;
SELECT rfm_segment(r, f, m, 'rffl') AS segment, count(*) AS cells
FROM generate_series(1, 5) r, generate_series(1, 5) f, generate_series(1, 5) m
GROUP BY 1 ORDER BY 2 DESC, 1;

-- Checking rule sets: overlaps are normal (the earlier rule wins), but
-- unreachable rules and uncovered cells are mistakes worth seeing.
SELECT problem, count(*) FROM rfm_check_rules('standard') GROUP BY 1 ORDER BY 1;
SELECT * FROM rfm_check_rules('standard') WHERE problem <> 'overlap';
SELECT * FROM rfm_check_rules('rffl');

-- Editing: copy a built-in set, then change the copy.
SELECT rfm_copy_rule_set('standard', 'my_rules');
UPDATE rfm_segment_rule SET r_min = 4 WHERE rule_set = 'my_rules' AND segment = 'Champions';
INSERT INTO rfm_segment_rule (rule_set, priority, segment, r_min, r_max, f_min, f_max, m_min, m_max)
VALUES ('my_rules', 11, 'Big Spenders', 1, 5, 1, 5, 5, 5),
	   ('my_rules', 12, 'Never Wins', 5, 5, 5, 5, 5, 5);
SELECT rfm_segment(4, 5, 5, 'my_rules') AS edited, rfm_segment(4, 5, 5) AS standard;
SELECT * FROM rfm_check_rules('my_rules') WHERE problem <> 'overlap';
-- a rule set with a gap
INSERT INTO rfm_segment_rule (rule_set, priority, segment, r_min, r_max) VALUES ('gappy', 1, 'Recent', 3, 5);
SELECT problem, count(*) FROM rfm_check_rules('gappy') GROUP BY 1;
SELECT rfm_segment(1, 1, 1, 'gappy'), rfm_segment(3, 1, 1, 'gappy');
-- two rule sets in one query
SELECT rfm_segment(r, 3, 3, rs) FROM (VALUES (1, 'gappy'), (4, 'gappy'), (4, 'standard'), (1, 'gappy')) v(r, rs);
-- with more bins: scores above 5 match no standard rule
SELECT rfm_segment(7, 7, 7), rfm_segment_standard(7, 7, 7), rfm_segment(10, 1, 1, 'gappy');

-- Built-in rule sets are read-only, even for their owner, without a
-- trigger (Citus cannot make a table with one a reference table): a CHECK
-- refuses every row under a built-in name that is not the library's rule.
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'rfm_segment_rule'::regclass;
UPDATE rfm_segment_rule SET segment = 'Heroes' WHERE rule_set = 'standard' AND priority = 1;
UPDATE rfm_segment_rule SET description = NULL WHERE rule_set = 'rffl' AND priority = 2;
UPDATE rfm_segment_rule SET builtin = false WHERE rule_set = 'standard';
UPDATE rfm_segment_rule SET rule_set = 'rffl' WHERE rule_set = 'my_rules' AND priority = 1;
UPDATE rfm_segment_rule SET builtin = true WHERE rule_set = 'my_rules';
INSERT INTO rfm_segment_rule (rule_set, priority, segment) VALUES ('standard', 99, 'Mine');
INSERT INTO rfm_segment_rule (rule_set, priority, segment, builtin) VALUES ('sneaky', 1, 'Mine', true);
INSERT INTO rfm_segment_rule (rule_set, priority, segment, builtin) VALUES ('standard', 11, 'Champions', true);
-- a no-op update of a seeded row passes: the row is still the library's
UPDATE rfm_segment_rule SET segment = segment WHERE rule_set = 'standard' AND priority = 1;
-- DELETE and TRUNCATE cannot be refused by a CHECK, so a built-in name is
-- compiled from the library, never from the table: removing the seeded
-- rows changes no segment, and they can be put back from the library.
CREATE TABLE rule_cube AS
SELECT r, f, m, rfm_segment(r, f, m, 'standard') AS standard, rfm_segment(r, f, m, 'rffl') AS rffl
FROM generate_series(1, 10) r, generate_series(1, 10) f, generate_series(1, 10) m;
BEGIN;
DELETE FROM rfm_segment_rule WHERE rule_set = 'rffl';
TRUNCATE rfm_segment_rule;
SELECT count(*) AS rows_left,
	(SELECT count(*) FROM rule_cube c
	 WHERE c.standard IS DISTINCT FROM rfm_segment(c.r, c.f, c.m, 'standard')
		OR c.rffl IS DISTINCT FROM rfm_segment(c.r, c.f, c.m, 'rffl')) AS cells_changed
FROM rfm_segment_rule;
-- rfm_rules still lists the built-in sets, from the library, so the
-- functions that read rules in SQL answer as before
SELECT rule_set, count(*) AS rules, bool_and(builtin) AS builtin, count(*) FILTER (WHERE danger) AS danger
FROM rfm_rules GROUP BY rule_set ORDER BY rule_set;
SELECT problem, count(*) FROM rfm_check_rules('standard') GROUP BY problem ORDER BY problem;
SELECT rfm_copy_rule_set('rffl', 'rffl_from_library') AS copied;
SAVEPOINT taken;
SELECT rfm_copy_rule_set('rffl_from_library', 'standard');
ROLLBACK TO taken;
SELECT count(*) AS user_rules, bool_or(builtin) AS any_builtin FROM rfm_segment_rule;
DELETE FROM rfm_segment_rule WHERE rule_set = 'rffl_from_library';
INSERT INTO rfm_segment_rule
	(rule_set, priority, segment, r_min, r_max, f_min, f_max, m_min, m_max, builtin, description, action, danger)
SELECT b.rule_set, b.priority, b.segment, b.r_min, b.r_max, b.f_min, b.f_max, b.m_min, b.m_max, true,
	b.description, b.action, b.danger
FROM rfm_builtin_rules() b;
SELECT count(*) AS builtin_rules_back FROM rfm_segment_rule WHERE builtin;
ROLLBACK;
-- and a library rule set's cells are the table rules' cells, rule for rule
-- (the table copy, compiled as a user rule set would be, agrees)
SELECT rfm_copy_rule_set('rffl', 'rffl_copy') AS copied;
SELECT count(*) AS cells_differ FROM rule_cube c
WHERE c.rffl <> rfm_segment(c.r, c.f, c.m, 'rffl_copy');
DELETE FROM rfm_segment_rule WHERE rule_set = 'rffl_copy';
DROP TABLE rule_cube;
SELECT count(*) AS builtin_rules FROM rfm_segment_rule WHERE builtin;
-- the table's checks
INSERT INTO rfm_segment_rule (rule_set, priority, segment, r_min, r_max) VALUES ('bad', 1, 'x', 0, 5);
INSERT INTO rfm_segment_rule (rule_set, priority, segment, f_min, f_max) VALUES ('bad', 1, 'x', 4, 3);
INSERT INTO rfm_segment_rule (rule_set, priority, segment) VALUES ('bad', 1, '');
SELECT rfm_copy_rule_set('nope', 'x');
SELECT rfm_copy_rule_set('standard', 'my_rules');

-- A DBA's generated column: stored scores, segment computed by the
-- IMMUTABLE map, kept current by PostgreSQL on every update.
CREATE TABLE customers (id int PRIMARY KEY, r int, f int, m int,
	segment text GENERATED ALWAYS AS (rfm_segment_standard(r, f, m)) STORED);
INSERT INTO customers (id, r, f, m) VALUES (1, 5, 5, 5), (2, 1, 1, 1), (3, NULL, 2, 2);
UPDATE customers SET r = 2, f = 4, m = 5 WHERE id = 1;
SELECT * FROM customers ORDER BY id;
-- the table-reading rfm_segment is not IMMUTABLE and is refused there
CREATE TABLE customers2 (r int, f int, m int, segment text GENERATED ALWAYS AS (rfm_segment(r, f, m)) STORED);

-- A user's rule sets survive pg_dump (config dump) and the seeded ones are
-- not dumped twice.
SELECT c.relname, u.extcondition
FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS u(oid, extcondition)
JOIN pg_class c ON c.oid = u.oid
WHERE e.extname = 'rfm_segment' AND c.relname = 'rfm_segment_rule';

DELETE FROM rfm_segment_rule WHERE NOT builtin;
DROP TABLE customers;
