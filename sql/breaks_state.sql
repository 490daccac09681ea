-- rfm_breaks_state: the partial state of quantile breaks as a real type,
-- (value, count) pairs, so that shards count their values and a
-- coordinator merges the counts (issue 19, item 5).  Merged states give the
-- breaks rfm_breaks gives over all the values, bit for bit, for every bins
-- and method, in any split, serial or parallel, stored or sent as text.
\set VERBOSITY terse
SET TimeZone = 'UTC';
SET extra_float_digits = 0;

CREATE TABLE bs (g int, shard int, x float8);
INSERT INTO bs
SELECT i % 7, i % 3,
	CASE WHEN i % 17 = 0 THEN NULL
		 WHEN i % 5 = 0 THEN round((i % 40) / 3.0)	-- heavy ties
		 WHEN i % 11 = 0 THEN -0.0
		 ELSE ((i * 7919) % 100003) / 7.0 - 5000 END
FROM generate_series(1, 30000) i;
ANALYZE bs;

-- 1. The whole table: one state, then its breaks, equal rfm_breaks, for
--    every bins and both methods.
SELECT count(*) AS cases,
	count(*) FILTER (WHERE a IS NOT DISTINCT FROM b) AS equal
FROM generate_series(2, 10) bins, unnest(ARRAY['quantile', 'r_rfm']) method,
	LATERAL (SELECT (SELECT rfm_breaks(x, bins, method) FROM bs) AS a,
				 (SELECT rfm_breaks(s) FROM (SELECT rfm_breaks_state_agg(x, bins, method) AS s FROM bs) st) AS b) c;
SELECT rfm_breaks(x, 5) AS direct FROM bs;
SELECT rfm_breaks(s) AS merged FROM (SELECT rfm_breaks_state_agg(x, 5) AS s FROM bs) st;

-- 2. Three shards' states, merged: the same breaks.  Per group too.
CREATE TABLE bs_states AS
SELECT shard, rfm_breaks_state_agg(x, 5) AS s FROM bs GROUP BY shard;
SELECT (SELECT rfm_breaks(s) FROM bs_states) = (SELECT rfm_breaks(x, 5) FROM bs) AS shards_equal;
SELECT count(*) AS groups, count(*) FILTER (WHERE a = b) AS equal
FROM (SELECT g, rfm_breaks(x, 4, 'r_rfm') AS a FROM bs GROUP BY g) d
JOIN (SELECT g, rfm_breaks(s) AS b
	  FROM (SELECT g, shard, rfm_breaks_state_agg(x, 4, 'r_rfm') AS s FROM bs GROUP BY g, shard) p
	  GROUP BY g) m USING (g);

-- 3. The text form: exact, compact, and read back to the same value.
SELECT rfm_breaks_state_agg(v, 3) AS state FROM (VALUES (2.5::float8), (1), (NULL), (2.5), (-0.0), (0), (0.1)) v(v);
SELECT rfm_breaks_state_agg(v, 3)::text::rfm_breaks_state::text AS round_trip
FROM (VALUES (2.5::float8), (1), (NULL), (2.5), (-0.0), (0), (0.1)) v(v);
SELECT count(*) AS states, count(*) FILTER (WHERE s::text::rfm_breaks_state::text = s::text) AS round_trips,
	count(*) FILTER (WHERE length(s::text) > 100000) AS large
FROM bs_states;
SELECT rfm_breaks_state_agg(x, 2) AS no_values FROM bs WHERE x IS NULL;
SELECT rfm_breaks(s) AS no_values FROM (SELECT rfm_breaks_state_agg(x, 2) AS s FROM bs WHERE x IS NULL) st;
SELECT rfm_breaks(s) AS no_rows FROM bs_states WHERE false;
-- a transition called by hand works on a copy
SELECT rfm_breaks_state_trans(rfm_breaks_state_trans(NULL, 3, 2), 1, 2) AS by_hand;
SELECT rfm_breaks_state_combine('(1,2,quantile,{1:1,3:2})', '(1,2,quantile,{2:1,3:1})') AS combined;

-- 4. Parallel workers: partial states combined, the same breaks.
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT rfm_breaks_state_agg(x, 5) FROM bs;
SELECT rfm_breaks(s) = (SELECT rfm_breaks(x, 5) FROM bs) AS parallel_equal
FROM (SELECT rfm_breaks_state_agg(x, 5) AS s FROM bs) st;
SELECT (SELECT rfm_breaks_state_agg(x, 5)::text FROM bs) = (SELECT s::text FROM (SELECT rfm_breaks_state_agg(x, 5) AS s FROM bs) st) AS same_state;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;

-- 5. Errors.
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT 'garbage'::rfm_breaks_state;
\echo SQLSTATE :SQLSTATE
SELECT '(2,5,quantile,{1:1})'::rfm_breaks_state;
\echo SQLSTATE :SQLSTATE
SELECT '(1,11,quantile,{1:1})'::rfm_breaks_state;
\echo SQLSTATE :SQLSTATE
SELECT '(1,5,median,{1:1})'::rfm_breaks_state;
\echo SQLSTATE :SQLSTATE
SELECT '(1,5,quantile,{2:1,1:1})'::rfm_breaks_state;
\echo SQLSTATE :SQLSTATE
SELECT '(1,5,quantile,{1:0})'::rfm_breaks_state;
\echo SQLSTATE :SQLSTATE
SELECT '(1,5,quantile,{NaN:1})'::rfm_breaks_state;
\echo SQLSTATE :SQLSTATE
SELECT '(1,5,quantile,{1:1}'::rfm_breaks_state;
\echo SQLSTATE :SQLSTATE
SELECT '(1,5,quantile,{1:9223372036854775807,2:1})'::rfm_breaks_state;
\echo SQLSTATE :SQLSTATE
SELECT rfm_breaks(s) FROM (VALUES ('(1,5,quantile,{1:1})'::rfm_breaks_state), ('(1,4,quantile,{1:1})')) v(s);
\echo SQLSTATE :SQLSTATE
SELECT rfm_breaks_state_agg(x, 1) FROM bs;
\echo SQLSTATE :SQLSTATE
SELECT rfm_breaks_state_agg(x, NULL) FROM bs;
\echo SQLSTATE :SQLSTATE
SELECT rfm_breaks_state_agg(x, 5, 'median') FROM bs;
\echo SQLSTATE :SQLSTATE
SELECT rfm_breaks_state_agg(v, 5) FROM (VALUES (1::float8), ('NaN')) v(v);
\echo SQLSTATE :SQLSTATE
SELECT rfm_breaks_state_agg(x, CASE WHEN x > 0 THEN 5 ELSE 4 END) FROM bs;
\echo SQLSTATE :SQLSTATE
\set VERBOSITY terse

DROP TABLE bs, bs_states;
