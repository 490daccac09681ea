-- Breaks and scores: both methods, thresholds, ties, windows, parallel.
\set VERBOSITY terse
SET extra_float_digits = 0;

-- Ten customers from the issue: as_of 2020-03-01, one order each.
CREATE TABLE ties (id int, recency float8, frequency float8, monetary float8);
INSERT INTO ties
SELECT i, '2020-03-01'::date - ('2020-01-01'::date + d), 1, amount
FROM unnest(ARRAY[0, 0, 0, 0, 10, 10, 20, 30, 40, 50], ARRAY[10, 10, 10, 10, 10, 20, 30, 40, 50, 1000])
	WITH ORDINALITY AS u(d, amount, i);

-- r_rfm: break k is the type-7 quantile at k * (1/bins), plus 1; a value
-- equal to a break goes up.  Recency 2,2,2,2,3,3,4,4,5,5; frequency all 1;
-- monetary 1,1,1,1,1,3,4,4,5,5.
SELECT rfm_breaks(recency, 5, 'r_rfm') AS r_breaks, rfm_breaks(frequency, 5, 'r_rfm') AS f_breaks,
	rfm_breaks(monetary, 5, 'r_rfm') AS m_breaks FROM ties;
SELECT id, recency, rfm_score_desc(recency, b.r, 'r_rfm') AS r,
	rfm_score(frequency, b.f, 'r_rfm') AS f, monetary, rfm_score(monetary, b.m, 'r_rfm') AS m
FROM ties, (SELECT rfm_breaks(recency, 5, 'r_rfm') AS r, rfm_breaks(frequency, 5, 'r_rfm') AS f,
				   rfm_breaks(monetary, 5, 'r_rfm') AS m FROM ties) b
ORDER BY id;

-- quantile (the default): cuts at k/bins, a value equal to a cut goes down.
SELECT rfm_breaks(recency, 5) AS r_breaks, rfm_breaks(frequency, 5) AS f_breaks,
	rfm_breaks(monetary, 5) AS m_breaks FROM ties;
SELECT id, rfm_score_desc(recency, b.r) AS r, rfm_score(frequency, b.f) AS f, rfm_score(monetary, b.m) AS m
FROM ties, (SELECT rfm_breaks(recency, 5) AS r, rfm_breaks(frequency, 5) AS f, rfm_breaks(monetary, 5) AS m FROM ties) b
ORDER BY id;

-- As window aggregates, in one pass.
SELECT id, rfm_score(monetary, rfm_breaks(monetary, 5) OVER ()) AS m,
	rfm_score(monetary, rfm_breaks(monetary, 5, 'r_rfm') OVER (), 'r_rfm') AS m_r_rfm
FROM ties ORDER BY id;

-- The score table: per score, customers and range; a heavy tie leaves
-- scores empty, and that is visible here.
SELECT * FROM rfm_score_table((SELECT array_agg(monetary) FROM ties), 5);
SELECT * FROM rfm_score_table((SELECT array_agg(recency) FROM ties), 5, 'r_rfm', true);
SELECT * FROM rfm_score_table((SELECT array_agg(frequency) FROM ties), 5);

-- Business thresholds are hand-written breaks: seen in the last 30 days
-- scores 5, in the last 60 days 4, ...; a value on a threshold goes down
-- with 'quantile' (30 days is still a 5) and up with 'r_rfm'.
SELECT d, rfm_score_desc(d, '{30,60,90,180}') AS quantile, rfm_score_desc(d, '{30,60,90,180}', 'r_rfm') AS r_rfm
FROM unnest(ARRAY[0, 29.5, 30, 31, 60, 179, 180, 181, 5000]::float8[]) d;
-- two bins, and ten
SELECT rfm_score(1, '{1}'), rfm_score(1.5, '{1}'), rfm_score(100, '{1,2,3,4,5,6,7,8,9}'),
	rfm_score_desc(100, '{1,2,3,4,5,6,7,8,9}');
-- repeated breaks (as a heavy tie computes them) are valid
SELECT rfm_score(1, '{1,1,1,2}'), rfm_score(1.5, '{1,1,1,2}'), rfm_score(3, '{1,1,1,2}');
-- infinite values and thresholds are ordinary values to score
SELECT rfm_score('infinity', '{1,2}'), rfm_score('-infinity', '{1,2}'), rfm_score(5, '{-infinity,infinity}');
-- NULLs: a NULL value scores NULL; NULL values are left out of the breaks
SELECT rfm_score(NULL, '{1,2}') IS NULL AS null_score;
SELECT rfm_breaks(x, 2) FROM unnest(ARRAY[NULL, 1, NULL, 3]::float8[]) x;
SELECT rfm_breaks(x, 3) IS NULL AS no_values FROM unnest(ARRAY[NULL, NULL]::float8[]) x;
-- one value, and everyone equal: every break is that value, nothing crashes
SELECT rfm_breaks(x, 5), rfm_breaks(x, 5, 'r_rfm') FROM (VALUES (7.0::float8)) v(x);
SELECT rfm_breaks(1, 4), rfm_breaks(1, 4, 'r_rfm'), min(rfm_score(1, '{1,1,1}')), max(rfm_score(1, '{2,2,2}', 'r_rfm'))
FROM generate_series(1, 1000);
-- -0 and 0 are one value
SELECT rfm_breaks(x, 2) FROM unnest(ARRAY[-0.0, 0.0, 1]::float8[]) x;
-- breaks by group
SELECT g, rfm_breaks(x, 3) FROM (SELECT i % 3 AS g, i::float8 AS x FROM generate_series(1, 30) i) s GROUP BY g ORDER BY g;

-- Many distinct values (compaction and growth of the state), and the same
-- breaks from serial and parallel plans, on 300,000 rows.
CREATE TABLE vals AS
SELECT (i::bigint * 7919 % 100003)::float8 / 7 AS x, (i % 400)::float8 AS days FROM generate_series(1, 300000) i;
ANALYZE vals;
CREATE TABLE breaks_runs (config text, b text);
SET max_parallel_workers_per_gather = 0;
INSERT INTO breaks_runs SELECT 'serial', rfm_breaks(x, 5)::text || rfm_breaks(x, 7, 'r_rfm')::text || rfm_breaks(days, 10)::text FROM vals;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET parallel_leader_participation = off;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT rfm_breaks(x, 5) FROM vals;
INSERT INTO breaks_runs SELECT 'parallel', rfm_breaks(x, 5)::text || rfm_breaks(x, 7, 'r_rfm')::text || rfm_breaks(days, 10)::text FROM vals;
SELECT count(DISTINCT b) AS distinct_results, count(*) AS runs FROM breaks_runs;
SELECT b FROM breaks_runs WHERE config = 'serial';
-- 'quantile' gives the very doubles percentile_cont gives
SELECT rfm_breaks(x, 5) = percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY x) AS same_as_percentile_cont,
	rfm_breaks(x, 3) = percentile_cont(ARRAY[1 / 3.0, 2 / 3.0]::float8[]) WITHIN GROUP (ORDER BY x) AS thirds,
	rfm_breaks(days, 7) = percentile_cont(ARRAY[1 / 7.0, 2 / 7.0, 3 / 7.0, 4 / 7.0, 5 / 7.0, 6 / 7.0]::float8[])
		WITHIN GROUP (ORDER BY days) AS sevenths
FROM vals;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET parallel_leader_participation;
RESET max_parallel_workers_per_gather;

-- Golden data from R 4.2.2: quantile(g, probs = seq(0, 1, length.out =
-- bins + 1))[2:bins] + 1 for these 1001 values, printed by sprintf("%a")
-- and written here as float8send's bytes.  'r_rfm' gives the same bits.
CREATE TABLE golden (bins int, r_bits text);
INSERT INTO golden VALUES
	(3, '\x4070206906906906 \x40800d5555555555'),
	(5, '\x40635d89d89d89d9 \x40734d89d89d89d9 \x407ced89d89d89da \x4083462762762762'),
	(7, '\x405bf8f78f78f790 \x406baa32a32a32a3 \x4074b84384384384 \x407b8f1ef1ef1ef2 \x408138f78f78f78f \x4084a47bc7bc7bc8'),
	(10, '\x4053d89d89d89d8a \x40635d89d89d89d9 \x406d13b13b13b13d \x40734d89d89d89d9 \x40781d89d89d89d9 \x407ced89d89d89da \x4080de2762762763 \x4083462762762762 \x4085ae2762762762');
-- the ten customers above: R gives 28.999999999999996, 47, 55, 61
INSERT INTO golden VALUES (0, '\x403cffffffffffff \x4047800000000000 \x404b800000000000 \x404e800000000000');
SELECT g.bins, (SELECT string_agg(float8send(b)::text, ' ') FROM unnest(x.breaks) b) = g.r_bits AS same_bits_as_r
FROM golden g,
	LATERAL (SELECT rfm_breaks((i * 7919 % 10007) / 13.0::float8, g.bins, 'r_rfm') AS breaks
			 FROM generate_series(1, 1001) i) x
WHERE g.bins > 0
UNION ALL
SELECT 0, (SELECT string_agg(float8send(b)::text, ' ') FROM unnest(rfm_breaks(recency, 5, 'r_rfm')) b) = g.r_bits
FROM ties, golden g WHERE g.bins = 0 GROUP BY g.r_bits
ORDER BY 1;
DROP TABLE golden;

-- numeric and integer values score through their float8 value
SELECT rfm_score(12.5::numeric, '{10,20}'), rfm_score(20::bigint, '{10,20}');
SELECT rfm_breaks(n, 2), rfm_breaks(c, 2) FROM (VALUES (1::numeric, 1::bigint), (2.5, 4)) v(n, c);

DROP TABLE ties, vals, breaks_runs;
