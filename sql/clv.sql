-- Customer lifetime value: rfm_clv_summary against plain SQL, the fits
-- (serial, parallel, any row order), scoring against closed forms and
-- against mpmath at extreme parameters, the holdout table, and bad input.
\set VERBOSITY terse
SET TimeZone = 'UTC';
SET extra_float_digits = 0;

-- 1. rfm_clv_summary.  Events of 300 customers over 2024, in scrambled
--    order, several per day, some without amount or time, one customer
--    whose sums pass 38 digits, one with a NULL key; the same instants as
--    date, timestamp and timestamptz (near midnight, so time zones matter).
CREATE TABLE clv_events (customer int, at timestamptz, wall timestamp, day date, amount numeric);
INSERT INTO clv_events
SELECT CASE WHEN g % 997 = 0 THEN NULL ELSE (g * 7919) % 300 END,
	t, t AT TIME ZONE 'UTC', (t AT TIME ZONE 'UTC')::date,
	CASE WHEN g % 11 = 0 THEN NULL
		 WHEN (g * 7919) % 300 = 7 THEN 1e37 + g
		 ELSE ((g * 31) % 5000) / 100.0 END
FROM generate_series(1, 6000) g,
	LATERAL (SELECT '2024-01-01 22:30+00'::timestamptz + ((g * 104729) % 366) * interval '1 day'
			 + ((g * 13) % 4) * interval '40 minutes' AS t) s;
INSERT INTO clv_events (customer, amount) VALUES (5, 10);

-- the summary by hand: purchase days, their spend, the first day
CREATE FUNCTION clv_by_hand(cal_end date, hold_end date, tz text) RETURNS TABLE
	(customer_key text, x int, t_x float8, t_cal float8, mean_spend numeric, x_holdout int, spend_holdout numeric)
LANGUAGE sql AS $$
	WITH d AS (
		SELECT customer, (at AT TIME ZONE tz)::date AS day, sum(amount) AS spend, count(amount) AS amounts
		FROM clv_events WHERE at IS NOT NULL AND (at AT TIME ZONE tz)::date <= hold_end GROUP BY 1, 2
	), f AS (
		SELECT customer, min(day) AS first FROM d GROUP BY 1
	)
	SELECT customer::text,
		(count(*) FILTER (WHERE day <= cal_end) - 1)::int,
		(max(day) FILTER (WHERE day <= cal_end) - first) / 7.0::float8,
		(cal_end - first) / 7.0::float8,
		sum(spend) FILTER (WHERE day > first AND day <= cal_end AND amounts > 0) /
			nullif(count(*) FILTER (WHERE day > first AND day <= cal_end AND amounts > 0), 0),
		(count(*) FILTER (WHERE day > cal_end))::int,
		CASE WHEN count(*) FILTER (WHERE day > cal_end) = 0 THEN 0
			 ELSE sum(spend) FILTER (WHERE day > cal_end AND amounts > 0) END
	FROM d JOIN f USING (customer) WHERE first <= cal_end
	GROUP BY customer, first
	UNION ALL
	-- rfm_clv_summary groups NULL keys into one customer, as GROUP BY does
	SELECT NULL, (count(*) FILTER (WHERE day <= cal_end) - 1)::int,
		(max(day) FILTER (WHERE day <= cal_end) - min(day)) / 7.0::float8,
		(cal_end - min(day)) / 7.0::float8,
		sum(spend) FILTER (WHERE day > (SELECT first FROM f WHERE customer IS NULL) AND day <= cal_end AND amounts > 0) /
			nullif(count(*) FILTER (WHERE day > (SELECT first FROM f WHERE customer IS NULL) AND day <= cal_end AND amounts > 0), 0),
		(count(*) FILTER (WHERE day > cal_end))::int,
		CASE WHEN count(*) FILTER (WHERE day > cal_end) = 0 THEN 0
			 ELSE sum(spend) FILTER (WHERE day > cal_end AND amounts > 0) END
	FROM d WHERE customer IS NULL HAVING min(day) <= cal_end
$$;

SELECT count(*) AS customers, sum(x) AS repeat_purchases, count(*) FILTER (WHERE x > 0) AS repeaters,
	sum(x_holdout) AS holdout_purchases, count(*) FILTER (WHERE customer_key IS NULL) AS null_key
FROM rfm_clv_summary('clv_events', 'customer', 'at', 'amount', '2024-09-30', '2024-12-31');
-- equal to the SQL, row for row, for timestamptz in two zones, timestamp and date
SELECT tz, (SELECT count(*) FROM (SELECT * FROM rfm_clv_summary('clv_events', 'customer', 'at', 'amount', '2024-09-30', '2024-12-31', tz => tz)
								  EXCEPT ALL SELECT * FROM clv_by_hand('2024-09-30', '2024-12-31', tz)) a) AS only_function,
	(SELECT count(*) FROM (SELECT * FROM clv_by_hand('2024-09-30', '2024-12-31', tz)
						   EXCEPT ALL SELECT * FROM rfm_clv_summary('clv_events', 'customer', 'at', 'amount', '2024-09-30', '2024-12-31', tz => tz)) b) AS only_sql
FROM unnest(ARRAY['UTC', 'Asia/Tokyo']) tz ORDER BY 1;
SELECT (SELECT count(*) FROM (SELECT * FROM rfm_clv_summary('clv_events', 'customer', 'wall', 'amount', '2024-09-30', '2024-12-31')
							  EXCEPT ALL SELECT * FROM clv_by_hand('2024-09-30', '2024-12-31', 'UTC')) a) AS timestamp_differs,
	(SELECT count(*) FROM (SELECT * FROM rfm_clv_summary('clv_events', 'customer', 'day', 'amount', '2024-09-30', '2024-12-31')
						   EXCEPT ALL SELECT * FROM clv_by_hand('2024-09-30', '2024-12-31', 'UTC')) a) AS date_differs,
	(SELECT count(*) FROM rfm_clv_summary('clv_events', 'customer', 'day', 'amount', '2024-09-30', '2024-12-31')) AS customers;
-- the time zone moves purchases across midnight
SELECT count(*) AS customers_whose_summary_moves
FROM rfm_clv_summary('clv_events', 'customer', 'at', 'amount', '2024-09-30', '2024-12-31') u
JOIN rfm_clv_summary('clv_events', 'customer', 'at', 'amount', '2024-09-30', '2024-12-31', tz => 'Asia/Tokyo') k
	USING (customer_key) WHERE (u.x, u.t_x, u.x_holdout) <> (k.x, k.t_x, k.x_holdout);
-- exact past 38 digits, and customers 0 and 5 by name
SELECT customer_key, x, round(t_x::numeric, 4) AS t_x, round(t_cal::numeric, 4) AS t_cal,
	mean_spend, x_holdout, spend_holdout
FROM rfm_clv_summary('clv_events', 'customer', 'day', 'amount', '2024-09-30', '2024-12-31')
WHERE customer_key IN ('0', '5', '7') ORDER BY 1;
-- units: days, months of 30.4375 days, years of 365.25
SELECT bool_and(abs(d.t_x / 30.4375 - m.t_x) < 1e-12 AND abs(d.t_cal / 365.25 - y.t_cal) < 1e-12
				AND d.t_x = d.t_x::int) AS units_scale
FROM rfm_clv_summary('clv_events', 'customer', 'day', NULL, '2024-09-30', unit => 'day') d
JOIN rfm_clv_summary('clv_events', 'customer', 'day', NULL, '2024-09-30', unit => 'month') m USING (customer_key)
JOIN rfm_clv_summary('clv_events', 'customer', 'day', NULL, '2024-09-30', unit => 'year') y USING (customer_key);
-- no calibration_end: up to the latest purchase, nothing in holdout; no
-- holdout_end: the holdout runs to the latest purchase; no amount: NULL spend
SELECT count(*) AS customers, bool_or(t_x = t_cal) AS one_bought_on_the_last_day, sum(x_holdout) AS holdout,
	count(mean_spend) AS spends
FROM rfm_clv_summary('clv_events', 'customer', 'at');
SELECT sum(x_holdout) = (SELECT sum(x_holdout) FROM clv_by_hand('2024-09-30', '2025-12-31', 'UTC')) AS open_holdout
FROM rfm_clv_summary('clv_events', 'customer', 'at', 'amount', '2024-09-30');
SELECT count(*) AS customers_acquired_by_march, bool_and(x_holdout >= 0) AS holdout_counted
FROM rfm_clv_summary('clv_events', 'customer', 'at', calibration_end => '2024-03-31', holdout_end => '2024-06-30');
SELECT count(*) AS rows_of_empty_source FROM rfm_clv_summary('clv_events', 'customer', 'at', calibration_end => '2020-01-01');

-- 1b. The states way (rfm_segment.scan = 'states', or 'auto' past
--     max_memory or over foreign tables): one GROUP BY customer with
--     rfm_clv_state_agg gives the rows way's summary, byte for byte (the
--     same rows and the same md5 of the sorted rows), for
--     every column type, zone and bound above, serially and in parallel
--     workers (whose partial states are merged, each customer's rows split
--     between them)
CREATE FUNCTION clv_summary_md5(scan text, time_column name, amount_column name, cal_end date, hold_end date, tz text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	result text;
BEGIN
	PERFORM set_config('rfm_segment.scan', scan, true);
	SELECT count(*) || ' rows ' || coalesce(md5(string_agg(s::text, ';' ORDER BY s::text)), '') INTO result
	FROM rfm_clv_summary('clv_events', 'customer', time_column, amount_column, cal_end, hold_end, tz => tz) s;
	PERFORM set_config('rfm_segment.scan', 'auto', true);
	RETURN result;
END $$;
CREATE TABLE clv_ways (time_column name, amount_column name, cal_end date, hold_end date, tz text);
INSERT INTO clv_ways VALUES ('at', 'amount', '2024-09-30', '2024-12-31', 'UTC'),
	('at', 'amount', '2024-09-30', '2024-12-31', 'Asia/Tokyo'), ('wall', 'amount', '2024-09-30', '2024-12-31', 'UTC'),
	('day', 'amount', '2024-09-30', '2024-12-31', 'UTC'), ('at', NULL, NULL, NULL, 'UTC'),
	('at', 'amount', NULL, NULL, 'America/New_York'), ('at', 'amount', '2024-09-30', NULL, 'UTC'),
	('day', NULL, '2024-03-31', '2024-06-30', 'UTC'), ('at', 'amount', '2020-01-01', NULL, 'UTC');
SELECT w.time_column, w.amount_column, w.cal_end, w.hold_end, w.tz,
	clv_summary_md5('rows', w.time_column, w.amount_column, w.cal_end, w.hold_end, w.tz)
		= clv_summary_md5('states', w.time_column, w.amount_column, w.cal_end, w.hold_end, w.tz) AS states_equal
FROM clv_ways w ORDER BY 1, 2, 3, 4, 5;
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
-- the states query's plan: partial states in the workers, merged here
EXPLAIN (COSTS OFF) SELECT customer, rfm_clv_state_agg(at, amount, ROW('2024-09-30', '2024-12-31', 'UTC')::rfm_clv_spec)
FROM clv_events GROUP BY customer;
SELECT count(*) AS ways, count(*) FILTER (WHERE clv_summary_md5('rows', w.time_column, w.amount_column, w.cal_end, w.hold_end, w.tz)
	= clv_summary_md5('states', w.time_column, w.amount_column, w.cal_end, w.hold_end, w.tz)) AS parallel_states_equal
FROM clv_ways w;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
-- a key's text is its output function's, either way: a char(n) key keeps
-- its padding (a cast to text would drop it)
CREATE VIEW clv_char AS SELECT ('c' || customer)::char(6) AS customer, at, amount FROM clv_events;
SET rfm_segment.scan = 'rows';
CREATE TEMP TABLE clv_char_rows AS SELECT * FROM rfm_clv_summary('clv_char', 'customer', 'at', 'amount', '2024-09-30');
SET rfm_segment.scan = 'states';
CREATE TEMP TABLE clv_char_states AS SELECT * FROM rfm_clv_summary('clv_char', 'customer', 'at', 'amount', '2024-09-30');
RESET rfm_segment.scan;
SELECT count(*) AS customers, count(*) FILTER (WHERE customer_key LIKE 'c% ') AS padded,
	(SELECT count(*) FROM (SELECT * FROM clv_char_rows EXCEPT ALL SELECT * FROM clv_char_states) x) AS only_rows,
	(SELECT count(*) FROM (SELECT * FROM clv_char_states EXCEPT ALL SELECT * FROM clv_char_rows) x) AS only_states
FROM clv_char_rows;
DROP VIEW clv_char;

-- the aggregate itself: a customer's days, those without an amount, and the
-- first day's, the repeat days' and the holdout's spend (customer 7's pass
-- 38 digits); a customer whose only rows have no time has no state
SELECT customer, cardinality((s).days) AS days, cardinality((s).unpriced_days) AS unpriced_days,
	(s).days[1] AS first_day, (s).first_spend, (s).repeat_spend, (s).holdout_spend
FROM (SELECT customer, rfm_clv_state_agg(day, amount, ROW('2024-09-30', '2024-12-31', 'UTC')::rfm_clv_spec) AS s
	  FROM clv_events WHERE customer IN (0, 7) GROUP BY customer) t ORDER BY 1;
SELECT rfm_clv_state_agg(at, amount, ROW(NULL, NULL, 'UTC')::rfm_clv_spec) IS NULL AS no_purchase
FROM clv_events WHERE customer = 5 AND at IS NULL;
SELECT rfm_clv_state_agg(d, a, '(2024-01-31,,UTC)') AS two_days_one_unpriced
FROM (VALUES ('2024-01-02'::date, 10.5), ('2024-01-02', NULL), ('2024-01-01', 3), ('2024-02-10', NULL)) v(d, a);
-- two states of one customer's rows merge into the state of all of them
-- (whichever holds the first day), and a state's summary is the
-- customer's row of rfm_clv_summary
WITH parts AS (
	SELECT customer,
		rfm_clv_state_agg(at, amount, '(2024-09-30,2024-12-31,UTC)') FILTER (WHERE g % 2 = 0) AS a,
		rfm_clv_state_agg(at, amount, '(2024-09-30,2024-12-31,UTC)') FILTER (WHERE g % 2 = 1) AS b,
		rfm_clv_state_agg(at, amount, '(2024-09-30,2024-12-31,UTC)') AS whole
	FROM (SELECT row_number() OVER (ORDER BY customer, at, amount) AS g, * FROM clv_events) e GROUP BY customer)
SELECT count(*) AS customers,
	count(*) FILTER (WHERE rfm_clv_state_merge(a, b, '(2024-09-30,2024-12-31,UTC)')::text = whole::text
					 AND rfm_clv_state_merge(b, a, '(2024-09-30,2024-12-31,UTC)')::text = whole::text) AS merged_equal,
	count(*) FILTER (WHERE (SELECT (s.customer_key, s.x, s.t_x, s.t_cal, s.mean_spend)::text
							FROM rfm_clv_summary('clv_events', 'customer', 'at', 'amount', '2024-09-30', '2024-12-31') s
							WHERE s.customer_key IS NOT DISTINCT FROM parts.customer::text)
					 IS NOT DISTINCT FROM (SELECT (parts.customer::text, m.*)::text FROM rfm_clv_state_summary(whole, '2024-09-30') m
										   WHERE m.x IS NOT NULL)) AS summaries_equal
FROM parts WHERE whole IS NOT NULL;
SELECT (rfm_clv_state_summary(NULL, '2024-09-30')).x IS NULL AS no_state,
	(rfm_clv_state_summary('("{2024-10-01}",{},1,0,0)', '2024-09-30')).x IS NULL AS acquired_after;
SELECT rfm_clv_state_summary('("{2024-10-01,2024-01-01}",{},1,0,0)', '2024-12-31');
\echo SQLSTATE :SQLSTATE
SELECT rfm_clv_state_summary('("{2024-10-01}",{},1,0,0)', NULL);
\echo SQLSTATE :SQLSTATE
SELECT rfm_clv_state_summary('("{2024-10-01}",{},1,0,0)', '2024-12-31', 'fortnight');
\echo SQLSTATE :SQLSTATE
SELECT rfm_clv_state_merge('("{2024-10-01}",{},NaN,0,0)', NULL, '(,,UTC)');
\echo SQLSTATE :SQLSTATE
-- bad input
SELECT rfm_clv_state_agg(at, amount, NULL) FROM clv_events;
\echo SQLSTATE :SQLSTATE
SELECT rfm_clv_state_agg(at, amount, ROW('2024-09-30', NULL, NULL)::rfm_clv_spec) FROM clv_events;
\echo SQLSTATE :SQLSTATE
SELECT rfm_clv_state_agg(at, amount, ROW(NULL, '2024-12-31', 'UTC')::rfm_clv_spec) FROM clv_events;
\echo SQLSTATE :SQLSTATE
SELECT rfm_clv_state_agg(at, amount, ROW('2024-09-30', '2024-06-30', 'UTC')::rfm_clv_spec) FROM clv_events;
\echo SQLSTATE :SQLSTATE
SELECT rfm_clv_state_agg(at, amount, ROW('2024-09-30', NULL, 'Mars/Olympus')::rfm_clv_spec) FROM clv_events;
\echo SQLSTATE :SQLSTATE
SELECT rfm_clv_state_agg(at, amount, ROW(CASE WHEN customer % 2 = 0 THEN '2024-09-30'::date END, NULL, 'UTC')::rfm_clv_spec)
FROM clv_events;
\echo SQLSTATE :SQLSTATE
SELECT rfm_clv_state_agg(d, 'NaN', '(,,UTC)') FROM (VALUES ('2024-01-02'::date)) v(d);
\echo SQLSTATE :SQLSTATE
SELECT rfm_clv_state_agg(d, 1, '(infinity,,UTC)') FROM (VALUES ('2024-01-02'::date)) v(d);
\echo SQLSTATE :SQLSTATE

-- 2. The fits on customers simulated from known models (in weeks; days
--    as purchase times): BG/NBD r 0.243, alpha 4.41, a 0.793, b 2.43;
--    Pareto/NBD r 0.553, alpha 10.58, s 0.606, beta 11.67; Gamma-Gamma
--    p 6.25, q 3.74, v 15.44 (CDNOW's estimates).
CREATE FUNCTION clv_rgamma(shape float8) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	d float8; c float8; x float8; v float8; u float8; boost float8 := 1;
BEGIN
	-- Marsaglia and Tsang; shapes below 1 boosted by U^(1/shape)
	IF shape < 1 THEN
		boost := (1 - random()) ^ (1 / shape);
		shape := shape + 1;
	END IF;
	d := shape - 1.0 / 3;
	c := 1 / sqrt(9 * d);
	LOOP
		LOOP
			x := sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random());
			v := 1 + c * x;
			EXIT WHEN v > 0;
		END LOOP;
		v := v * v * v;
		u := 1 - random();
		IF ln(u) < 0.5 * x * x + d - d * v + d * ln(v) THEN
			RETURN d * v * boost;
		END IF;
	END LOOP;
END $$;
CREATE FUNCTION clv_simulate(t_days int, OUT x_bg int, OUT t_x_bg float8, OUT x_pn int, OUT t_x_pn float8,
							 OUT mean_spend numeric) LANGUAGE plpgsql AS $$
DECLARE
	lambda float8; p float8; mu float8; life float8; nu float8; t float8; day int; last_day int;
BEGIN
	lambda := clv_rgamma(0.243) / 4.41 / 7;
	p := clv_rgamma(0.793);
	p := p / (p + clv_rgamma(2.43));
	x_bg := 0; last_day := 0; t := 0;
	LOOP
		t := t - ln(1 - random()) / lambda;
		EXIT WHEN t > t_days;
		day := floor(t);
		CONTINUE WHEN day = last_day;
		x_bg := x_bg + 1;
		last_day := day;
		EXIT WHEN random() < p;			-- BG/NBD: may drop out after a repeat purchase
	END LOOP;
	t_x_bg := last_day / 7.0;
	lambda := clv_rgamma(0.553) / 10.58 / 7;
	mu := clv_rgamma(0.606) / 11.67 / 7;
	life := least(-ln(1 - random()) / mu, t_days);
	x_pn := 0; last_day := 0; t := 0;
	LOOP
		t := t - ln(1 - random()) / lambda;
		EXIT WHEN t > life;
		day := floor(t);
		CONTINUE WHEN day = last_day;
		x_pn := x_pn + 1;
		last_day := day;
	END LOOP;
	t_x_pn := last_day / 7.0;
	IF x_bg > 0 THEN
		nu := clv_rgamma(3.74) / 15.44;
		mean_spend := round((clv_rgamma(6.25 * x_bg) / (x_bg * nu))::numeric, 2);
	END IF;
END $$;
SELECT setseed(0.42);
CREATE TABLE clv_sim AS
SELECT g AS customer, (s).x_bg, (s).t_x_bg, (s).x_pn, (s).t_x_pn, t_days / 7.0::float8 AS t_cal, (s).mean_spend
FROM (SELECT g, t_days, clv_simulate(t_days) AS s
	  FROM (SELECT g, 182 + (g * 7919) % 92 AS t_days FROM generate_series(1, 20000) g) c) q;
ANALYZE clv_sim;

CREATE TABLE clv_fits (config text, bg rfm_bgnbd_model, pn rfm_pnbd_model, gg rfm_gg_model);
SET max_parallel_workers_per_gather = 0;
INSERT INTO clv_fits SELECT 'serial', rfm_bgnbd_fit(x_bg, t_x_bg, t_cal), rfm_pnbd_fit(x_pn, t_x_pn, t_cal),
	rfm_gg_fit(x_bg, mean_spend) FROM clv_sim;
-- the rows in another order
INSERT INTO clv_fits SELECT 'reversed', rfm_bgnbd_fit(x_bg, t_x_bg, t_cal), rfm_pnbd_fit(x_pn, t_x_pn, t_cal),
	rfm_gg_fit(x_bg, mean_spend) FROM (SELECT * FROM clv_sim ORDER BY customer DESC) s;
-- parallel workers combining partial states
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET parallel_leader_participation = off;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT rfm_bgnbd_fit(x_bg, t_x_bg, t_cal) FROM clv_sim;
INSERT INTO clv_fits SELECT 'parallel', rfm_bgnbd_fit(x_bg, t_x_bg, t_cal), rfm_pnbd_fit(x_pn, t_x_pn, t_cal),
	rfm_gg_fit(x_bg, mean_spend) FROM clv_sim;
-- debug_parallel_query was called force_parallel_mode before PostgreSQL 16
SELECT CASE WHEN current_setting('server_version_num')::int >= 160000 THEN 'debug_parallel_query'
	ELSE 'force_parallel_mode' END AS force_parallel \gset
SET :force_parallel = on;
INSERT INTO clv_fits SELECT 'forced parallel', rfm_bgnbd_fit(x_bg, t_x_bg, t_cal), rfm_pnbd_fit(x_pn, t_x_pn, t_cal),
	rfm_gg_fit(x_bg, mean_spend) FROM clv_sim;
RESET :force_parallel;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET parallel_leader_participation;
RESET max_parallel_workers_per_gather;
-- the same model, bit for bit (tolerance 0): the state is the set of
-- distinct rows with their counts, sorted before the fit
SELECT count(*) AS fits, count(DISTINCT bg::text) AS bgnbd_models, count(DISTINCT pn::text) AS pnbd_models,
	count(DISTINCT gg::text) AS gg_models FROM clv_fits;
-- converged, to the tolerance they state, near the parameters simulated
SELECT (bg).converged AND (bg).gradient <= (bg).tol AND (bg).n = 20000 AS bgnbd_converged,
	abs((bg).r / 0.243 - 1) < 0.15 AND abs((bg).alpha / 4.41 - 1) < 0.15
	AND abs((bg).a / 0.793 - 1) < 0.3 AND abs((bg).b / 2.43 - 1) < 0.3 AS bgnbd_recovered,
	(pn).converged AND (pn).gradient <= (pn).tol AS pnbd_converged,
	abs((pn).r / 0.553 - 1) < 0.15 AND abs((pn).alpha / 10.58 - 1) < 0.15
	AND abs((pn).s / 0.606 - 1) < 0.5 AND abs((pn).beta / 11.67 - 1) < 0.6 AS pnbd_recovered,
	(gg).converged AND (gg).gradient <= (gg).tol AND (gg).n + (gg).n_skipped = 20000 AS gg_converged,
	abs((gg).p / 6.25 - 1) < 0.15 AND abs((gg).q / 3.74 - 1) < 0.15 AND abs((gg).v / 15.44 - 1) < 0.2 AS gg_recovered,
	(gg).n = (SELECT count(*) FROM clv_sim WHERE x_bg > 0) AS gg_skips_non_repeaters
FROM clv_fits WHERE config = 'serial';
-- more starts never find less; one start finds the same optimum here
SELECT (SELECT (rfm_pnbd_fit(x_pn, t_x_pn, t_cal, 'starts=8')).ll FROM clv_sim) >= (pn).ll - 1e-6 AS more_starts_no_worse,
	abs((SELECT (rfm_pnbd_fit(x_pn, t_x_pn, t_cal, 'starts=1')).ll FROM clv_sim) - (pn).ll) < 1e-6 AS one_start_same,
	(SELECT (rfm_bgnbd_fit(x_bg, t_x_bg, t_cal, 'tol=1e-4')).gradient FROM clv_sim) <= 1e-4 AS looser_tolerance_kept
FROM clv_fits WHERE config = 'serial';
-- a fit stopped early says so: converged false and a WARNING
SELECT (m).converged, (m).iterations, (m).gradient > (m).tol AS above_tolerance
FROM (SELECT rfm_bgnbd_fit(x_bg, t_x_bg, t_cal, 'starts=1 max_iter=2') AS m FROM clv_sim) s;
-- no rows: no model
SELECT rfm_bgnbd_fit(x_bg, t_x_bg, t_cal) IS NULL AS no_rows_no_model FROM clv_sim WHERE false;

-- 3. Scoring against closed forms.
CREATE TABLE clv_summary AS
SELECT customer AS customer_key, x_bg AS x, t_x_bg AS t_x, t_cal, mean_spend FROM clv_sim;
-- BG/NBD P(alive) = 1 / (1 + [x > 0] a / (b+x-1) ((alpha+T) / (alpha+t_x))^(r+x))
SELECT max(abs(rfm_p_alive(f.bg, s.x, s.t_x, s.t_cal) -
			   CASE WHEN s.x = 0 THEN 1 ELSE 1 / (1 + (f.bg).a / ((f.bg).b + s.x - 1) *
					((f.bg).alpha + s.t_cal) ^ ((f.bg).r + s.x) / ((f.bg).alpha + s.t_x) ^ ((f.bg).r + s.x)) END))
	< 1e-12 AS bgnbd_p_alive
FROM clv_fits f, clv_summary s WHERE f.config = 'serial';
-- BG/NBD expected purchases of a new customer: the textbook 2F1 summed in SQL (a > 1, z <= 1/2)
WITH m AS (SELECT ROW(0.6, 3.0, 2.5, 4.0, 0, 0, 0, true, 0, 0, 0)::rfm_bgnbd_model AS m),
terms AS (
	WITH RECURSIVE s(n, term, z) AS (
		SELECT 0, 1::float8, 3.0 / (3.0 + 3.0)
		UNION ALL
		SELECT n + 1, term * (0.6 + n) * (4.0 + n) / ((2.5 + 4.0 - 1 + n) * (n + 1)) * z, z FROM s WHERE n < 200)
	SELECT sum(term) AS f FROM s)
SELECT abs(rfm_expected_purchases_new(m.m, 3) -
		   (2.5 + 4.0 - 1) / (2.5 - 1) * (1 - (3.0 / 6.0) ^ 0.6 * terms.f)) < 1e-12 AS bgnbd_new_customer
FROM m, terms;
-- Pareto/NBD at alpha = beta: I = ((alpha+t_x)^-(r+s+x) - (alpha+T)^-(r+s+x)) / (r+s+x)
WITH m AS (SELECT 0.55 AS r, 10.58 AS a, 0.61 AS s),
c(x, t_x, t_cal) AS (VALUES (0, 0.0, 30.0), (2, 30.43, 38.86), (7, 12.0, 39.0), (1, 0.1, 0.2))
SELECT c.x, abs(rfm_p_alive(ROW(m.r, m.a, m.s, m.a, 0, 0, 0, true, 0, 0, 0)::rfm_pnbd_model, c.x, c.t_x, c.t_cal) -
		 1 / (1 + m.s / (m.r + m.s + c.x) * (m.a + c.t_cal) ^ (m.r + m.s + c.x) *
			  ((m.a + c.t_x) ^ -(m.r + m.s + c.x) - (m.a + c.t_cal) ^ -(m.r + m.s + c.x)))) < 1e-13 AS closed_form,
	abs(rfm_p_alive(ROW(m.r, m.a, m.s, m.a * (1 + 1e-9), 0, 0, 0, true, 0, 0, 0)::rfm_pnbd_model, c.x, c.t_x, c.t_cal) -
		rfm_p_alive(ROW(m.r, m.a * (1 + 1e-9), m.s, m.a, 0, 0, 0, true, 0, 0, 0)::rfm_pnbd_model, c.x, c.t_x, c.t_cal))
		< 1e-8 AS continuous_across_alpha_beta
FROM m, c ORDER BY 1;
-- Pareto/NBD expected purchases: r beta / (alpha (s-1)) (1 - (beta/(beta+t))^(s-1)), and its limit at s = 1
SELECT abs(rfm_expected_purchases_new(ROW(0.55, 10.58, 0.61, 11.67, 0, 0, 0, true, 0, 0, 0)::rfm_pnbd_model, 39) -
		   0.55 * 11.67 / (10.58 * (0.61 - 1)) * (1 - (11.67 / (11.67 + 39)) ^ (0.61 - 1))) < 1e-13 AS pnbd_new,
	abs(rfm_expected_purchases_new(ROW(0.55, 10.58, 1, 11.67, 0, 0, 0, true, 0, 0, 0)::rfm_pnbd_model, 39) -
		0.55 * 11.67 / 10.58 * ln(1 + 39 / 11.67)) < 1e-13 AS pnbd_new_s_1,
	abs(rfm_expected_purchases(ROW(0.55, 10.58, 0.61, 11.67, 0, 0, 0, true, 0, 0, 0)::rfm_pnbd_model, 39, 2, 30.43, 38.86) -
		rfm_p_alive(ROW(0.55, 10.58, 0.61, 11.67, 0, 0, 0, true, 0, 0, 0)::rfm_pnbd_model, 2, 30.43, 38.86) *
		(0.55 + 2) * (11.67 + 38.86) / ((10.58 + 38.86) * (0.61 - 1)) *
		(1 - ((11.67 + 38.86) / (11.67 + 38.86 + 39)) ^ (0.61 - 1))) < 1e-13 AS pnbd_conditional;
-- at extreme parameters, against mpmath at 50 digits (bench/clv-reference golden):
-- z -> 1 both ways, integer and near-integer q, alpha = beta and alpha ~ beta,
-- 200 purchases, tiny shapes
SELECT r, alpha, s, beta, x,
	abs(rfm_p_alive(ROW(r, alpha, s, beta, 0, 0, 0, true, 0, 0, 0)::rfm_pnbd_model, x, t_x, t_cal) / ref - 1) < 1e-12 AS pnbd_p_alive
FROM (VALUES
	(0.5, 1000, 0.7, 0.01, 0, 0, 20, 0.0048404978502502286),
	(1, 50, 1, 0.5, 3, 5, 30, 0.064350015758379965),
	(1, 0.01, 2, 500, 0, 0, 10, 0.77798678919438971),
	(0.55, 10.58, 0.61, 10.58, 2, 30.43, 38.86, 0.86545692538076007),
	(0.55, 10.58, 0.61, 10.58000000001058, 2, 30.43, 38.86, 0.86545692538078939),
	(0.3, 2, 0.4, 300, 200, 50, 52, 0.63592231183262906),
	(0.01, 100, 0.02, 0.05, 1, 0.5, 40, 0.89585683399327286),
	(0.8, 200, 2.0000001, 1, 0, 0, 5, 0.027324586792402122)) c(r, alpha, s, beta, x, t_x, t_cal, ref)
ORDER BY 1, 2, 3, 4, 5;
-- a = 1 and a ~ 1, a + b < 1, horizons of 5000 and 1e-8, 500 purchases
SELECT r, alpha, a, b, x, t,
	abs(rfm_expected_purchases(ROW(r, alpha, a, b, 0, 0, 0, true, 0, 0, 0)::rfm_bgnbd_model, t, x, t_x, t_cal) / ref - 1)
		< 1e-12 AS bgnbd_expected
FROM (VALUES
	(0.5, 3, 1, 2, 2, 10, 20, 39, 1.1814176297089276),
	(0.5, 3, 1.000000001, 2, 2, 10, 20, 39, 1.1814176286502444),
	(0.3, 5, 0.4, 0.3, 0, 0, 10, 52, 0.5740165370149723),
	(0.25, 0.5, 0.8, 2.4, 1, 0.5, 1, 5000, 31.161068232517387),
	(0.25, 4.4, 0.8, 2.4, 3, 20, 38, 0.00000001, 3.6581164972662742e-10),
	(0.25, 4.4, 0.8, 2.4, 500, 37, 38, 39, 1.4208781556774734),
	(0.24, 4.4, 0.79, 2.4, 0, 0, 0, 39, 1.1839799984629401),
	(2, 10, 50, 0.05, 4, 12, 30, 26, 0.0017158640509203829)) c(r, alpha, a, b, x, t_x, t_cal, t, ref)
ORDER BY 1, 2, 3, 4, 5, 6;
-- expected purchases start at 0 and grow with t
SELECT bool_and(rfm_expected_purchases(f.bg, 0, s.x, s.t_x, s.t_cal) = 0
				AND rfm_expected_purchases(f.bg, 10, s.x, s.t_x, s.t_cal) < rfm_expected_purchases(f.bg, 20, s.x, s.t_x, s.t_cal)
				AND rfm_expected_purchases(f.pn, 10, s.x, s.t_x, s.t_cal) < rfm_expected_purchases(f.pn, 20, s.x, s.t_x, s.t_cal))
	AS expected_grows
FROM clv_fits f, (SELECT * FROM clv_summary WHERE customer_key <= 300) s WHERE f.config = 'serial';
-- Gamma-Gamma: p (v + x m) / (p x + q - 1); the population's p v / (q - 1)
-- without a repeat purchase or a known spend; NULL where the model says nothing
SELECT abs(rfm_expected_spend(gg, 3, 20.5) - (gg).p * ((gg).v + 3 * 20.5) / ((gg).p * 3 + (gg).q - 1)) < 1e-12 AS repeat_spend,
	abs(rfm_expected_spend(gg, 0, NULL) - (gg).p * (gg).v / ((gg).q - 1)) < 1e-12 AS population_spend,
	rfm_expected_spend(gg, 2, NULL) = rfm_expected_spend(gg, 0, NULL) AS unknown_spend,
	rfm_expected_spend(gg, 2, 0) IS NULL AS zero_spend_null,
	rfm_expected_spend(gg, 2, -5) IS NULL AS refunds_null,
	rfm_expected_spend(ROW(2, 0.5, 10, 0, 0, 0, 0, true, 0, 0, 0)::rfm_gg_model, 0, NULL) IS NULL AS no_mean_when_q_below_1,
	rfm_expected_spend(gg, NULL, 10) IS NULL AS null_x
FROM clv_fits WHERE config = 'serial';
-- CLV: margin x spend x expected purchases; discounted period by period,
-- period j's purchases by (1 + d)^-j, the last period ending at the horizon
SELECT abs(rfm_clv(bg, gg, 2, 30, 38, 25, 52) - rfm_expected_spend(gg, 2, 25) * rfm_expected_purchases(bg, 52, 2, 30, 38)) < 1e-10
		AS undiscounted,
	abs(rfm_clv(pn, gg, 2, 30, 38, 25, 52.5, 0.002, 0.3) - 0.3 * rfm_expected_spend(gg, 2, 25) *
		(SELECT sum((rfm_expected_purchases(pn, least(j, 52.5), 2, 30, 38) - rfm_expected_purchases(pn, j - 1, 2, 30, 38))
					/ 1.002 ^ least(j, 52.5)) FROM generate_series(1, 53) j)) < 1e-10 AS discounted,
	rfm_clv(bg, gg, 2, 30, 38, 25, 52, 0.002) < rfm_clv(bg, gg, 2, 30, 38, 25, 52) AS discount_lowers,
	rfm_clv(bg, gg, 0, 0, 38, NULL, 52) > 0 AS without_repeat_purchases,
	rfm_clv(bg, gg, 2, 30, 38, -1, 52) IS NULL AS refunds_null,
	rfm_clv(bg, gg, 2, 30, 38, 25, NULL) IS NULL AS null_horizon,
	rfm_clv(bg, gg, 2, 30, 38, 25, 0) = 0 AS zero_horizon
FROM clv_fits WHERE config = 'serial';

-- 4. The holdout table: per x, the customers' actual and predicted mean
--    holdout purchases; groups and totals equal the SQL over the scores.
--    Models typed by hand (CDNOW's estimates) score any summary.
CREATE TABLE clv_cbs AS SELECT * FROM rfm_clv_summary('clv_events', 'customer', 'at', 'amount', '2024-09-30', '2024-12-31')
WHERE customer_key IS NOT NULL;
CREATE TABLE clv_small AS
SELECT ROW(0.243, 4.41, 0.793, 2.43, 0, 0, 0, true, 0, 0, 0)::rfm_bgnbd_model AS bg,
	ROW(0.553, 10.58, 0.606, 11.67, 0, 0, 0, true, 0, 0, 0)::rfm_pnbd_model AS pn;
SELECT h.x, h.label, h.customers, h.actual_total,
	abs(h.predicted_total - (SELECT sum(rfm_expected_purchases(m.bg, 13, c.x, c.t_x, c.t_cal)) FROM clv_cbs c
							 WHERE c.x = h.x OR (h.x = 14 AND c.x >= 14) OR h.x IS NULL)) < 1e-8 AS predicted_equal,
	abs(h.predicted * h.customers - h.predicted_total) < 1e-8 AS mean_of_total,
	abs(h.mean_abs_error - (SELECT avg(abs(c.x_holdout - rfm_expected_purchases(m.bg, 13, c.x, c.t_x, c.t_cal))) FROM clv_cbs c
							WHERE c.x = h.x OR (h.x = 14 AND c.x >= 14) OR h.x IS NULL)) < 1e-8 AS error_equal
FROM clv_small m, rfm_clv_holdout(m.bg, 'clv_cbs', 13, 14) h ORDER BY h.x NULLS LAST;
SELECT h.label, h.customers, h.actual_total,
	abs(h.predicted_total - (SELECT sum(rfm_expected_purchases(m.pn, 13, c.x, c.t_x, c.t_cal)) FROM clv_cbs c)) < 1e-8 AS predicted_equal
FROM clv_small m, rfm_clv_holdout(m.pn, 'clv_cbs', 13, 1) h ORDER BY h.x NULLS LAST;
TRUNCATE clv_cbs;
SELECT count(*) AS rows_of_empty_summary FROM clv_small m, rfm_clv_holdout(m.bg, 'clv_cbs', 13) h;

-- 5. Bad input: each error with its SQLSTATE and hint.
\set VERBOSITY default
\set SHOW_CONTEXT never
INSERT INTO clv_cbs SELECT * FROM rfm_clv_summary('clv_events', 'customer', 'at', 'amount', '2024-09-30', '2024-12-31')
WHERE customer_key IS NOT NULL;
-- the summary's arguments
SELECT count(*) FROM rfm_clv_summary(NULL, 'customer', 'at');
\echo SQLSTATE :SQLSTATE
SELECT count(*) FROM rfm_clv_summary('clv_events', 'customer', 'nope');
\echo SQLSTATE :SQLSTATE
SELECT count(*) FROM rfm_clv_summary('clv_events', 'customer', 'amount');
\echo SQLSTATE :SQLSTATE
SELECT count(*) FROM rfm_clv_summary('clv_events', 'customer', 'at', 'wall');
\echo SQLSTATE :SQLSTATE
SELECT count(*) FROM rfm_clv_summary('clv_events', 'customer', 'at', unit => 'fortnight');
\echo SQLSTATE :SQLSTATE
SELECT count(*) FROM rfm_clv_summary('clv_events', 'customer', 'at', unit => NULL);
\echo SQLSTATE :SQLSTATE
SELECT count(*) FROM rfm_clv_summary('clv_events', 'customer', 'at', tz => 'Mars/Olympus');
\echo SQLSTATE :SQLSTATE
SELECT count(*) FROM rfm_clv_summary('clv_events', 'customer', 'at', holdout_end => '2024-12-31');
\echo SQLSTATE :SQLSTATE
SELECT count(*) FROM rfm_clv_summary('clv_events', 'customer', 'at', calibration_end => '2024-09-30', holdout_end => '2024-06-30');
\echo SQLSTATE :SQLSTATE
SELECT count(*) FROM rfm_clv_summary('clv_events', 'customer', 'at', calibration_end => 'infinity');
\echo SQLSTATE :SQLSTATE
CREATE TABLE clv_bad (customer int, at timestamptz, amount numeric);
INSERT INTO clv_bad VALUES (1, '2024-01-01', 10), (1, 'infinity', 10);
SELECT count(*) FROM rfm_clv_summary('clv_bad', 'customer', 'at', 'amount');
\echo SQLSTATE :SQLSTATE
UPDATE clv_bad SET at = '2024-01-02', amount = 'NaN' WHERE at = 'infinity';
SELECT count(*) FROM rfm_clv_summary('clv_bad', 'customer', 'at', 'amount');
\echo SQLSTATE :SQLSTATE
-- the fits' input
SELECT rfm_bgnbd_fit(x, t_x, t_cal) FROM (VALUES (1, 2.0, NULL::float8)) v(x, t_x, t_cal);
\echo SQLSTATE :SQLSTATE
SELECT rfm_pnbd_fit(x, t_x, t_cal) FROM (VALUES (1, 5.0, 3.0)) v(x, t_x, t_cal);
\echo SQLSTATE :SQLSTATE
SELECT rfm_bgnbd_fit(x, t_x, t_cal) FROM (VALUES (-1, 5.0, 30.0)) v(x, t_x, t_cal);
\echo SQLSTATE :SQLSTATE
SELECT rfm_bgnbd_fit(x, t_x, t_cal) FROM (VALUES (1, 5.0, -30.0)) v(x, t_x, t_cal);
\echo SQLSTATE :SQLSTATE
SELECT rfm_bgnbd_fit(x, t_x, t_cal) FROM (VALUES (1, 'NaN'::float8, 30.0)) v(x, t_x, t_cal);
\echo SQLSTATE :SQLSTATE
SELECT rfm_bgnbd_fit(x, t_x, t_cal) FROM (VALUES (1, 5.0, 'Infinity'::float8)) v(x, t_x, t_cal);
\echo SQLSTATE :SQLSTATE
SELECT rfm_bgnbd_fit(x, t_x, t_cal) FROM (VALUES (2, 0.0, 30.0)) v(x, t_x, t_cal);
\echo SQLSTATE :SQLSTATE
SELECT rfm_bgnbd_fit(x, t_x, t_cal) FROM (VALUES (0, 3.0, 30.0)) v(x, t_x, t_cal);
\echo SQLSTATE :SQLSTATE
SELECT rfm_bgnbd_fit(x, t_x, t_cal) FROM generate_series(1, 9) g, LATERAL (VALUES (g % 3, (g % 3) * 2.0, 30.0)) v(x, t_x, t_cal);
\echo SQLSTATE :SQLSTATE
SELECT rfm_pnbd_fit(0, 0, 30) FROM generate_series(1, 50);
\echo SQLSTATE :SQLSTATE
SELECT rfm_bgnbd_fit(x, t_x, t_cal, 'starts=3 seed=1') FROM clv_cbs;
\echo SQLSTATE :SQLSTATE
SELECT rfm_bgnbd_fit(x, t_x, t_cal, 'starts=0') FROM clv_cbs;
\echo SQLSTATE :SQLSTATE
SELECT rfm_pnbd_fit(x, t_x, t_cal, 'tol=-1') FROM clv_cbs;
\echo SQLSTATE :SQLSTATE
SELECT rfm_pnbd_fit(x, t_x, t_cal, NULL) FROM clv_cbs;
\echo SQLSTATE :SQLSTATE
SELECT rfm_pnbd_fit(x, t_x, t_cal, CASE WHEN customer_key::int % 2 = 0 THEN 'starts=2' ELSE '' END) FROM clv_cbs;
\echo SQLSTATE :SQLSTATE
SELECT rfm_gg_fit(x, m) FROM (VALUES (NULL::int, 10.0)) v(x, m);
\echo SQLSTATE :SQLSTATE
SELECT rfm_gg_fit(x, m) FROM (VALUES (-2, 10.0)) v(x, m);
\echo SQLSTATE :SQLSTATE
SELECT rfm_gg_fit(x, m) FROM (VALUES (2, 'NaN'::numeric)) v(x, m);
\echo SQLSTATE :SQLSTATE
SELECT rfm_gg_fit(x, m) FROM (VALUES (0, 10.0), (2, NULL), (3, -4.0), (1, 12.5)) v(x, m);
\echo SQLSTATE :SQLSTATE
-- scoring
SELECT rfm_p_alive(ROW(0.2, -4, 0.8, 2.4, 0, 0, 0, true, 0, 0, 0)::rfm_bgnbd_model, 1, 2, 3);
\echo SQLSTATE :SQLSTATE
SELECT rfm_p_alive(ROW(0.2, 4, 'NaN', 2.4, 0, 0, 0, true, 0, 0, 0)::rfm_pnbd_model, 1, 2, 3);
\echo SQLSTATE :SQLSTATE
SELECT rfm_p_alive(bg, 1, 4, 3) FROM clv_small;
\echo SQLSTATE :SQLSTATE
SELECT rfm_expected_purchases(bg, -1, 1, 2, 3) FROM clv_small;
\echo SQLSTATE :SQLSTATE
SELECT rfm_expected_purchases_new(pn, 'Infinity') FROM clv_small;
\echo SQLSTATE :SQLSTATE
SELECT rfm_expected_spend(ROW(2, 3, 10, 0, 0, 0, 0, true, 0, 0, 0)::rfm_gg_model, -1, 10);
\echo SQLSTATE :SQLSTATE
SELECT rfm_expected_spend(ROW(2, 3, 10, 0, 0, 0, 0, true, 0, 0, 0)::rfm_gg_model, 1, 'Infinity');
\echo SQLSTATE :SQLSTATE
SELECT rfm_clv(bg, ROW(2, 3, 10, 0, 0, 0, 0, true, 0, 0, 0)::rfm_gg_model, 1, 2, 3, 10, 52, -0.1) FROM clv_small;
\echo SQLSTATE :SQLSTATE
SELECT rfm_clv(bg, ROW(2, 3, 10, 0, 0, 0, 0, true, 0, 0, 0)::rfm_gg_model, 1, 2, 3, 10, 52, 0, 'NaN') FROM clv_small;
\echo SQLSTATE :SQLSTATE
SELECT rfm_clv(pn, ROW(2, 3, 10, 0, 0, 0, 0, true, 0, 0, 0)::rfm_gg_model, 1, 2, 3, 10, 20000, 0.01) FROM clv_small;
\echo SQLSTATE :SQLSTATE
-- the holdout table
SELECT count(*) FROM clv_small, rfm_clv_holdout(bg, 'clv_events', 13);
\echo SQLSTATE :SQLSTATE
SELECT count(*) FROM clv_small, rfm_clv_holdout(bg, 'clv_cbs', NULL);
\echo SQLSTATE :SQLSTATE
SELECT count(*) FROM clv_small, rfm_clv_holdout(bg, 'clv_cbs', 0);
\echo SQLSTATE :SQLSTATE
SELECT count(*) FROM clv_small, rfm_clv_holdout(pn, 'clv_cbs', 13, 0);
\echo SQLSTATE :SQLSTATE
CREATE VIEW clv_cbs_text AS SELECT customer_key, x, t_x, t_cal::text AS t_cal, x_holdout FROM clv_cbs;
SELECT count(*) FROM clv_small, rfm_clv_holdout(bg, 'clv_cbs_text', 13);
\echo SQLSTATE :SQLSTATE
UPDATE clv_cbs SET x_holdout = NULL WHERE customer_key = '3';
SELECT count(*) FROM clv_small, rfm_clv_holdout(bg, 'clv_cbs', 13);
\echo SQLSTATE :SQLSTATE
-- rfm_segment.max_memory bounds the fit's table of distinct rows, and the
-- summary's customers when read by rows; under 'auto' a summary whose
-- customers pass it reads the states instead, and gives the same rows
SELECT clv_summary_md5('rows', 'at', 'amount', NULL, NULL, 'UTC') AS rows_md5 \gset
SET rfm_segment.max_memory = '64kB';
SELECT rfm_bgnbd_fit(x_bg, t_x_bg, t_cal) FROM clv_sim;
\echo SQLSTATE :SQLSTATE
SELECT count(*) AS customers, count(*) || ' rows ' || md5(string_agg(s::text, ';' ORDER BY s::text))
	= :'rows_md5' AS equal_past_max_memory
FROM rfm_clv_summary('clv_events', 'customer', 'at', 'amount') s;
SET rfm_segment.scan = 'rows';
SELECT count(*) FROM rfm_clv_summary('clv_events', 'customer', 'at', 'amount');
\echo SQLSTATE :SQLSTATE
RESET rfm_segment.scan;
RESET rfm_segment.max_memory;
\set VERBOSITY terse

DROP VIEW clv_cbs_text;
DROP TABLE clv_events, clv_sim, clv_fits, clv_summary, clv_cbs, clv_small, clv_bad, clv_ways;
DROP FUNCTION clv_summary_md5(text, name, name, date, date, text);
DROP FUNCTION clv_by_hand(date, date, text);
DROP FUNCTION clv_simulate(int);
DROP FUNCTION clv_rgamma(float8);
