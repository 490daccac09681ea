-- CDNOW 1/10 sample ($RFM_SHARED_DATA/cdnow_sample.txt, ../shared/data by
-- default): 6,919 purchases of 2,357 customers, the data of the BG/NBD
-- and Gamma-Gamma papers.  Weeks; calibration through 1997-09-30, holdout
-- through 1998-06-30.  First the walk-through docs/clv.md shows, then
-- every published figure of issue 15, printed to the precision checked,
-- with a boolean |value - published| <= tolerance.  Runs only where the
-- reference data is present (see the Makefile).
\set VERBOSITY terse
SET TimeZone = 'UTC';
SET extra_float_digits = 0;

CREATE TABLE cdnow_raw (line text);
\copy cdnow_raw FROM PROGRAM 'cat "$RFM_SHARED_DATA/cdnow_sample.txt"'
CREATE TABLE cdnow AS
SELECT p[1]::int AS customer_id, to_date(p[3], 'YYYYMMDD') AS order_date, p[4]::int AS cds,
	p[5]::numeric AS dollars
FROM (SELECT regexp_split_to_array(btrim(line, E' \r'), '\s+') AS p FROM cdnow_raw) s;
SELECT count(*) AS purchases, count(DISTINCT customer_id) AS customers FROM cdnow;

-- The walk-through: summary, fits, P(alive), CLV, the holdout table.
CREATE TABLE cdnow_cbs AS
SELECT * FROM rfm_clv_summary('cdnow', 'customer_id', 'order_date', 'dollars',
							  calibration_end => '1997-09-30', holdout_end => '1998-06-30');
SELECT count(*) AS customers, sum(x) AS repeat_purchases, count(*) FILTER (WHERE x > 0) AS repeaters,
	sum(x_holdout) AS holdout_purchases
FROM cdnow_cbs;

CREATE TABLE cdnow_models AS
SELECT (SELECT rfm_bgnbd_fit(x, t_x, t_cal) FROM cdnow_cbs) AS bgnbd,
	(SELECT rfm_pnbd_fit(x, t_x, t_cal) FROM cdnow_cbs) AS pnbd,
	(SELECT rfm_gg_fit(x, mean_spend) FROM cdnow_cbs) AS gg;
SELECT round((bgnbd).r::numeric, 4) AS r, round((bgnbd).alpha::numeric, 4) AS alpha,
	round((bgnbd).a::numeric, 4) AS a, round((bgnbd).b::numeric, 4) AS b,
	round((bgnbd).ll::numeric, 3) AS ll, (bgnbd).converged
FROM cdnow_models;
SELECT round((gg).p::numeric, 2) AS p, round((gg).q::numeric, 2) AS q, round((gg).v::numeric, 2) AS v,
	(gg).n, (gg).n_skipped, (gg).converged
FROM cdnow_models;

SELECT c.customer_key, c.x, round(c.t_x::numeric, 2) AS t_x, round(c.t_cal::numeric, 2) AS t_cal,
	round(c.mean_spend, 2) AS mean_spend,
	round(rfm_p_alive(m.bgnbd, c.x, c.t_x, c.t_cal)::numeric, 4) AS p_alive,
	round(rfm_expected_purchases(m.bgnbd, 39, c.x, c.t_x, c.t_cal)::numeric, 4) AS next_39_weeks,
	round(rfm_clv(m.bgnbd, m.gg, c.x, c.t_x, c.t_cal, c.mean_spend, 52, 0.00183)::numeric, 2) AS clv_52_weeks
FROM cdnow_cbs c, cdnow_models m
ORDER BY rfm_clv(m.bgnbd, m.gg, c.x, c.t_x, c.t_cal, c.mean_spend, 52, 0.00183) DESC, c.customer_key
LIMIT 5;

SELECT h.label, h.customers, round(h.actual::numeric, 3) AS actual, round(h.predicted::numeric, 3) AS predicted,
	round(h.mean_abs_error::numeric, 3) AS mean_abs_error
FROM cdnow_models m, rfm_clv_holdout(m.bgnbd, 'cdnow_cbs', 39) h
ORDER BY h.x NULLS LAST;

-- The published figures.
-- Summary: 2,357 customers, 2,457 repeat purchases, 946 repeaters.
SELECT count(*) AS customers, count(*) = 2357 AS ok_customers, sum(x) AS repeat_purchases, sum(x) = 2457 AS ok_x,
	count(*) FILTER (WHERE x > 0) AS repeaters, count(*) FILTER (WHERE x > 0) = 946 AS ok_repeaters
FROM cdnow_cbs;
-- BG/NBD: r 0.2425945, alpha 4.4136019, a 0.7929199, b 2.4258881 (each
-- within 1e-4 relative), log-likelihood -9582.429 (within 0.01).
SELECT p.name, round(p.value::numeric, 6) AS value, p.published, abs(p.value / p.published - 1) <= 1e-4 AS ok
FROM cdnow_models m, LATERAL (VALUES (1, 'r', (m.bgnbd).r, 0.2425945), (2, 'alpha', (m.bgnbd).alpha, 4.4136019),
									 (3, 'a', (m.bgnbd).a, 0.7929199), (4, 'b', (m.bgnbd).b, 2.4258881)) p(i, name, value, published)
ORDER BY p.i;
SELECT round((bgnbd).ll::numeric, 2) AS ll, abs((bgnbd).ll - -9582.429) <= 0.01 AS ok, (bgnbd).converged FROM cdnow_models;
-- Pareto/NBD: r 0.55315, alpha 10.57633, s 0.60625, beta 11.67150 (within
-- 2e-3 relative), log-likelihood -9594.976 (within 0.02).
SELECT p.name, round(p.value::numeric, 4) AS value, p.published, abs(p.value / p.published - 1) <= 2e-3 AS ok
FROM cdnow_models m, LATERAL (VALUES (1, 'r', (m.pnbd).r, 0.55315), (2, 'alpha', (m.pnbd).alpha, 10.57633),
									 (3, 's', (m.pnbd).s, 0.60625), (4, 'beta', (m.pnbd).beta, 11.67150)) p(i, name, value, published)
ORDER BY p.i;
SELECT round((pnbd).ll::numeric, 2) AS ll, abs((pnbd).ll - -9594.976) <= 0.02 AS ok, (pnbd).converged FROM cdnow_models;
-- Gamma-Gamma on the 946 repeaters: p 6.25, q 3.74, v 15.44 (within 0.01),
-- log-likelihood -4055.918 (within 0.01).
SELECT p.name, round(p.value::numeric, 2) AS value, p.published, abs(p.value - p.published) <= 0.01 AS ok
FROM cdnow_models m, LATERAL (VALUES (1, 'p', (m.gg).p, 6.25), (2, 'q', (m.gg).q, 3.74), (3, 'v', (m.gg).v, 15.44),
									 (4, 'll', (m.gg).ll, -4055.918)) p(i, name, value, published)
ORDER BY p.i;
SELECT (gg).n AS repeaters, (gg).n = 946 AS ok, (gg).converged FROM cdnow_models;
-- x = 2, t_x = 30.43, T = 38.86 under BG/NBD: P(alive) 0.7266, expected
-- purchases in the next 39 weeks 1.2259 (to 4 decimals)
SELECT round(rfm_p_alive(bgnbd, 2, 30.43, 38.86)::numeric, 4) AS p_alive,
	abs(rfm_p_alive(bgnbd, 2, 30.43, 38.86) - 0.7266) <= 0.00005 AS ok_p_alive,
	round(rfm_expected_purchases(bgnbd, 39, 2, 30.43, 38.86)::numeric, 4) AS next_39_weeks,
	abs(rfm_expected_purchases(bgnbd, 39, 2, 30.43, 38.86) - 1.2259) <= 0.00005 AS ok_next_39_weeks
FROM cdnow_models;
-- Serial and forced-parallel fits give the same model: here identical,
-- field for field (a tolerance of 0)
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
-- debug_parallel_query was called force_parallel_mode before PostgreSQL 16
SELECT CASE WHEN current_setting('server_version_num')::int >= 160000 THEN 'debug_parallel_query'
	ELSE 'force_parallel_mode' END AS force_parallel \gset
SET :force_parallel = on;
EXPLAIN (COSTS OFF) SELECT rfm_bgnbd_fit(x, t_x, t_cal) FROM cdnow_cbs;
CREATE TABLE cdnow_parallel AS
SELECT rfm_bgnbd_fit(x, t_x, t_cal) AS bgnbd, rfm_pnbd_fit(x, t_x, t_cal) AS pnbd, rfm_gg_fit(x, mean_spend) AS gg
FROM cdnow_cbs;
RESET :force_parallel;
RESET parallel_leader_participation;
RESET max_parallel_workers_per_gather;
RESET min_parallel_table_scan_size;
RESET parallel_tuple_cost;
RESET parallel_setup_cost;
SELECT s.bgnbd::text = p.bgnbd::text AS same_bgnbd, s.pnbd::text = p.pnbd::text AS same_pnbd,
	s.gg::text = p.gg::text AS same_gg
FROM cdnow_models s, cdnow_parallel p;

DROP TABLE cdnow_raw, cdnow, cdnow_cbs, cdnow_models, cdnow_parallel;
