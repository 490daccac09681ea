-- One source for each rule.  Where the library and the install script both
-- need a rule, one is derived from the other or they are checked against
-- each other here; a comment at both places points to this test.
\set VERBOSITY terse
SET TimeZone = 'UTC';

-- 1. The built-in rule sets live in the library (segments.c): the table is
--    seeded from rfm_builtin_rules(), row for row.
SELECT count(*) AS library_rules FROM rfm_builtin_rules();
CREATE TEMP VIEW seeded AS
SELECT rule_set, priority, segment, r_min, r_max, f_min, f_max, m_min, m_max, description, action, danger
FROM rfm_segment_rule WHERE builtin;
SELECT 'only_in_table' AS side, rule_set, priority, segment FROM (
	SELECT * FROM seeded EXCEPT SELECT * FROM rfm_builtin_rules()) d
UNION ALL
SELECT 'only_in_library', rule_set, priority, segment FROM (
	SELECT * FROM rfm_builtin_rules() EXCEPT SELECT * FROM seeded) d
ORDER BY 1, 2, 3;
-- every built-in segment says what it means and what to do
SELECT rule_set, count(*) AS segments, count(description) AS described, count(action) AS with_action,
	string_agg(segment, ', ' ORDER BY priority) FILTER (WHERE danger) AS danger
FROM rfm_builtin_rules() GROUP BY 1 ORDER BY 1;
DROP VIEW seeded;
-- the guard's list of built-in names is the library's
SELECT DISTINCT rule_set FROM rfm_builtin_rules() ORDER BY 1;
INSERT INTO rfm_segment_rule (rule_set, priority, segment) VALUES ('rffl', 50, 'Mine');
\echo SQLSTATE :SQLSTATE

-- 2. The range of bins: 2..10 in the library (scoring.h), in rfm_check_rules
--    and in the CHECK constraints of rfm_segment_rule (scores up to 10).
SELECT b AS bins,
	(SELECT count(*) FROM rfm_score_table(ARRAY[1, 2, 3]::float8[], b)) AS library_scores
FROM (VALUES (2), (10)) v(b) ORDER BY 1;
SELECT * FROM rfm_score_table(ARRAY[1, 2, 3]::float8[], 1);
SELECT * FROM rfm_score_table(ARRAY[1, 2, 3]::float8[], 11);
SELECT count(*) AS cells_checked FROM rfm_check_rules('standard', 10);
SELECT count(*) FROM rfm_check_rules('standard', 1);
SELECT count(*) FROM rfm_check_rules('standard', 11);
BEGIN;
INSERT INTO rfm_segment_rule (rule_set, priority, segment, r_min, r_max) VALUES ('consistency', 1, 'Top', 10, 10);
SELECT rfm_segment(10, 1, 1, 'consistency') AS score_10_allowed;
INSERT INTO rfm_segment_rule (rule_set, priority, segment, r_min, r_max) VALUES ('consistency', 2, 'Over', 11, 11);
ROLLBACK;

-- 3. The default rule set: rfm_default_rule_set is what rfm_analyze uses.
SELECT rfm_default_rule_set(true) AS with_amount, rfm_default_rule_set(false) AS without_amount;
CREATE TABLE consistency_events (customer int, at timestamptz, amount numeric);
INSERT INTO consistency_events
SELECT g % 30, '2024-01-01'::timestamptz + g * interval '9 hours', g % 17 FROM generate_series(1, 600) g;
SELECT count(*) AS customers,
	count(*) FILTER (WHERE a.segment = rfm_segment(a.r, a.f, a.m, rfm_default_rule_set(true))) AS as_default_with_amount
FROM rfm_analyze('consistency_events', 'customer', 'at', 'amount') a;
SELECT count(*) AS customers,
	count(*) FILTER (WHERE a.segment = rfm_segment(a.r, a.f, a.m, rfm_default_rule_set(false))) AS as_default_without_amount
FROM rfm_analyze('consistency_events', 'customer', 'at') a;
DROP TABLE consistency_events;

-- 4. The fields of rfm_kmeans_model: the library checks the type against
--    its own list, so a script and a library that disagree stop with an
--    error instead of reading the wrong field.
SELECT (rfm_kmeans(ARRAY[g, g % 3]::float8[], 2)).k FROM generate_series(1, 20) g;
BEGIN;
ALTER TYPE rfm_kmeans_model RENAME ATTRIBUTE dims TO dimensions;
SELECT (rfm_kmeans(ARRAY[g, g % 3]::float8[], 2)).k FROM generate_series(1, 20) g;
ROLLBACK;
BEGIN;
CREATE TABLE consistency_models AS SELECT rfm_kmeans(ARRAY[g, g % 3]::float8[], 2) AS model FROM generate_series(1, 20) g;
ALTER TYPE rfm_kmeans_model RENAME ATTRIBUTE centroids TO centers;
SELECT rfm_cluster(ARRAY[1, 1]::float8[], model) FROM consistency_models;
ROLLBACK;

-- 5. The fields of rfm_hclust_model, and the fields of the preparation both
--    model types share (features.c), are checked the same way.
SELECT (rfm_hclust(ARRAY[g, g % 3]::float8[])).leaves FROM generate_series(1, 20) g;
BEGIN;
ALTER TYPE rfm_hclust_model RENAME ATTRIBUTE leaves TO leaf_count;
SELECT (rfm_hclust(ARRAY[g, g % 3]::float8[])).n FROM generate_series(1, 20) g;
ROLLBACK;
BEGIN;
CREATE TABLE consistency_models AS SELECT rfm_hclust(ARRAY[g, g % 3]::float8[]) AS model FROM generate_series(1, 20) g;
ALTER TYPE rfm_hclust_model RENAME ATTRIBUTE prep_std TO spread;
SELECT rfm_cluster(ARRAY[1, 1]::float8[], model, 2) FROM consistency_models;
ROLLBACK;
BEGIN;
ALTER TYPE rfm_kmeans_model RENAME ATTRIBUTE transforms TO preparation;
SELECT (rfm_kmeans(ARRAY[g, g % 3]::float8[], 2)).k FROM generate_series(1, 20) g;
ROLLBACK;
