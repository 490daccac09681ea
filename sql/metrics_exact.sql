-- The integer fast paths of the metrics state give exactly what numeric
-- arithmetic gives: sums (the scaled int128 part and its numeric overflow
-- part), avg_amount (rfm_decimal_div_count against numeric_div) and the
-- float8 values rfm_analyze scores (against numeric::float8).  Equal means
-- the same text, the same binary form and the same stored size.
\set VERBOSITY terse
SET TimeZone = 'UTC';

-- Mixed scales (0 to 19 decimals), magnitudes from 1e-12 to 1e17, refunds,
-- NULL amounts, and numeric weights of mixed scales.
SELECT setseed(0.19);
CREATE TABLE exact_ev AS
SELECT g % 3000 AS c, '2024-01-01 00:00+00'::timestamptz + (g % 400) * interval '1 day' AS t,
	CASE WHEN g % 97 = 0 THEN NULL
		 ELSE round(((random() - 0.3) * 10 ^ (floor(random() * 30) - 12))::numeric, floor(random() * 20)::int) END AS a,
	round((random() * 10)::numeric, (g % 7)) AS w
FROM generate_series(1, 40000) g;
-- groups whose sums pass 38 digits (the numeric overflow part) ...
INSERT INTO exact_ev SELECT 5000, '2024-06-01 00:00+00', 99999999999999999999999999999999999, 1
FROM generate_series(1, 2000);
INSERT INTO exact_ev SELECT 5001, '2024-06-01 00:00+00', -99999999999999999999999999999999999.5, 1
FROM generate_series(1, 2000);
-- ... terms of 38 digits, and a term whose scale pushes the sum past them
INSERT INTO exact_ev VALUES
	(5002, '2024-06-01 00:00+00', 12345678901234567890.123456789012345678, 1),
	(5002, '2024-06-02 00:00+00', 12345678901234567890.123456789012345678, 1),
	(5002, '2024-06-03 00:00+00', -0.000000000000000001, 1),
	(5003, '2024-06-01 00:00+00', 100000000000000000000000000000, 1),
	(5003, '2024-06-02 00:00+00', 0.0000000001, 1),
	(5003, '2024-06-03 00:00+00', 0.5, 1);
-- powers of ten of every size, of both signs, and values of more than 38
-- digits, which never take the integer path
INSERT INTO exact_ev SELECT 6000 + g % 7, '2024-06-01 00:00+00', (10::numeric ^ (g % 39)) * (g % 3 - 1), 1
FROM generate_series(1, 300) g;
INSERT INTO exact_ev SELECT 6100 + g % 3, '2024-06-01 00:00+00', 1e40::numeric + g / 7.0, 1
FROM generate_series(1, 30) g;
-- tiny amounts and refunds only
INSERT INTO exact_ev SELECT 6200 + g % 11, '2024-06-01 00:00+00', 0.000000000000000000001 * g, 0.5
FROM generate_series(1, 200) g;
INSERT INTO exact_ev SELECT 6300, '2024-06-01 00:00+00', -1.25 * g, 1 FROM generate_series(1, 3) g;

CREATE FUNCTION exact_mismatches(OUT groups bigint, OUT monetary bigint, OUT avg_amount bigint,
	OUT weighted bigint)
	LANGUAGE sql AS $$
	SELECT count(*),
		count(*) FILTER (WHERE pg_catalog.numeric_send((m).monetary) IS DISTINCT FROM pg_catalog.numeric_send(s)
			OR (m).monetary::text IS DISTINCT FROM s::text
			OR pg_column_size(ROW((m).monetary)) IS DISTINCT FROM pg_column_size(ROW(s))),
		count(*) FILTER (WHERE pg_catalog.numeric_send((m).avg_amount) IS DISTINCT FROM pg_catalog.numeric_send(av)
			OR (m).avg_amount::text IS DISTINCT FROM av::text
			OR pg_column_size(ROW((m).avg_amount)) IS DISTINCT FROM pg_column_size(ROW(av))),
		count(*) FILTER (WHERE (m).weighted_frequency::text IS DISTINCT FROM wf::text
			OR pg_column_size(ROW((m).weighted_frequency)) IS DISTINCT FROM pg_column_size(ROW(wf)))
	FROM (SELECT c, rfm_metrics(t, a, w, '2030-01-01 00:00+00', '30 days') AS m,
			sum(a) AS s, avg(a) AS av, sum(w) AS wf
		  FROM exact_ev GROUP BY c) g
$$;

-- serial, then in a forced parallel plan (partial states combined)
SELECT * FROM exact_mismatches();
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
-- debug_parallel_query was called force_parallel_mode before PostgreSQL 16
SELECT CASE WHEN current_setting('server_version_num')::int >= 160000 THEN 'debug_parallel_query'
	ELSE 'force_parallel_mode' END AS force_parallel \gset
SET :force_parallel = on;
SELECT * FROM exact_mismatches();
RESET :force_parallel;
RESET max_parallel_workers_per_gather;
RESET min_parallel_table_scan_size;
RESET parallel_tuple_cost;
RESET parallel_setup_cost;

-- Refunds adjusted: monetary nets the refunds, avg_amount divides it by the
-- purchases with an amount, again as numeric_div does.
SELECT count(*) AS groups,
	count(*) FILTER (WHERE (m).monetary::text IS DISTINCT FROM s::text) AS monetary_mismatches,
	count(*) FILTER (WHERE numeric_send((m).avg_amount) IS DISTINCT FROM numeric_send(s / NULLIF(n, 0))
		OR pg_column_size(ROW((m).avg_amount)) IS DISTINCT FROM pg_column_size(ROW(s / NULLIF(n, 0))))
		AS avg_mismatches
FROM (SELECT c, rfm_metrics(t, a, w, '2030-01-01 00:00+00', '30 days', 'adjust') AS m,
		sum(a) AS s, count(a) FILTER (WHERE a >= 0) AS n
	  FROM exact_ev GROUP BY c) g;

-- Rounding at the division's scale is half away from zero, as numeric_div's.
SELECT c, (rfm_metrics(t, a, '2030-01-01 00:00+00')).avg_amount, avg(a)
FROM (VALUES (1, 1.0), (1, 2.0), (2, -1), (2, -1), (2, 0), (3, 2), (3, 0), (3, 0),
	  (4, -2), (4, 0), (4, 0), (5, 0.000001), (5, 0), (6, 0.00), (6, 0.000))
	 v(c, a), (VALUES ('2024-01-01 00:00+00'::timestamptz)) t(t)
GROUP BY c ORDER BY c;

-- The big sums themselves, and their averages.
SELECT c, (m).monetary, (m).avg_amount
FROM (SELECT c, rfm_metrics(t, a, '2030-01-01 00:00+00') AS m FROM exact_ev
	  WHERE c IN (5000, 5001, 5002, 5003, 6300) GROUP BY c) g ORDER BY c;

-- rfm_analyze scores sums taken as float8: equal to numeric::float8 whether
-- the digits fit a double exactly (the fast path) or not.
CREATE TABLE exact_float AS
SELECT g % 40 AS c, '2024-01-01 00:00+00'::timestamptz + g * interval '1 hour' AS t,
	CASE g % 5 WHEN 0 THEN 9007199254740993 + g WHEN 1 THEN 0.1 * g
		 WHEN 2 THEN 1.0000000000000000000000001 * g WHEN 3 THEN 123456789.987654321 * g
		 ELSE g / 3.0 END AS a
FROM generate_series(1, 400) g;
SELECT count(*) AS customers,
	count(*) FILTER (WHERE a.m = rfm_score(a.monetary, b.mb)) AS same_m_score,
	count(DISTINCT a.m) AS m_scores
FROM rfm_analyze('exact_float', 'c', 't', 'a', as_of => '2024-02-01 00:00+00', bins => 10) a,
	(SELECT rfm_breaks((m).monetary, 10) AS mb
	 FROM (SELECT rfm_metrics(t, a, '2024-02-01 00:00+00') AS m FROM exact_float GROUP BY c) x) b;

-- Amounts computed by a division carry up to 20 decimals, most of them
-- trailing zeros (1 / 4.0 is 0.25000000000000000000), and so do their sums
-- (here quarters of each value, exact, rounded to 20 decimals).  Taken
-- as float8 they must equal the same value written with 2 decimals, below
-- 2^53 (the fast path once the zeros are dropped) and above it (strtod).
-- Customer 2k sums four quarters of the k-th value, customer 2k + 1 has it
-- as one amount: each pair has one monetary and one M score.  Customers 0
-- and 1, the smallest, put the breaks on the first of a pair (the 62
-- customers' tenth is the 7th), so that a float8 of the quarters' sum a bit
-- too large would score the pair apart.
CREATE TABLE exact_zeros AS
SELECT 2 * k + side AS c, '2024-01-01 00:00+00'::timestamptz + (k * 4 + q) * interval '1 hour' AS t,
	CASE side WHEN 0 THEN round(v * 0.25, 20) ELSE round(v, 2) END AS a
FROM (SELECT k, CASE WHEN k % 2 = 0 THEN k * 12.34 ELSE 9007199254740993 * k + 0.25 END AS v
	  FROM generate_series(1, 30) k) x,
	generate_series(0, 1) side, generate_series(1, 4) q
WHERE side = 0 OR q = 1
UNION ALL
SELECT c, '2024-01-01 00:00+00', 0.01 * (c + 1) FROM generate_series(0, 1) c;
SELECT max(scale(a)) FILTER (WHERE c % 2 = 0) AS quarters_scale,
	max(scale(a)) FILTER (WHERE c % 2 = 1) AS whole_scale
FROM exact_zeros;
CREATE TEMP TABLE exact_zeros_rfm AS
SELECT * FROM rfm_analyze('exact_zeros', 'c', 't', 'a', as_of => '2024-02-01 00:00+00', bins => 10);
SELECT count(*) AS pairs,
	count(*) FILTER (WHERE q.monetary = w.monetary AND scale(q.monetary) = 20) AS same_monetary,
	count(*) FILTER (WHERE q.m = w.m) AS same_m_score
FROM exact_zeros_rfm q JOIN exact_zeros_rfm w ON w.customer_key::int = q.customer_key::int + 1
WHERE q.customer_key::int % 2 = 0 AND q.customer_key::int >= 2;
SELECT count(*) AS customers,
	count(*) FILTER (WHERE a.m = rfm_score(a.monetary, b.mb)) AS same_m_score,
	count(DISTINCT a.m) AS m_scores
FROM exact_zeros_rfm a,
	(SELECT rfm_breaks((m).monetary, 10) AS mb
	 FROM (SELECT rfm_metrics(t, a, '2024-02-01 00:00+00') AS m FROM exact_zeros GROUP BY c) x) b;

DROP FUNCTION exact_mismatches();
DROP TABLE exact_ev, exact_float, exact_zeros, exact_zeros_rfm;
