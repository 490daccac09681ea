-- Cohort labels and the retention triangle.
\set VERBOSITY terse
SET TimeZone = 'UTC';

-- Labels for every grain, with the ISO week's own year at the year's edges.
SELECT d, rfm_cohort(d, 'day') AS day, rfm_cohort(d, 'week') AS week, rfm_cohort(d, 'month') AS month,
	rfm_cohort(d, 'quarter') AS quarter, rfm_cohort(d, 'year') AS year,
	rfm_cohort_start(d, 'week') AS week_start, rfm_cohort_start(d, 'quarter') AS quarter_start
FROM unnest(ARRAY['2019-11-05', '2019-12-30', '2021-01-01', '2021-01-04', '2020-02-29',
				  '2000-01-02', '1999-12-31', '1969-07-20']::date[]) d;

-- A timestamptz's period depends on the time zone, which is why the
-- IMMUTABLE form takes it: 23:30 UTC on 30 November is December in Berlin.
SELECT rfm_cohort('2019-11-30 23:30+00'::timestamptz, 'month', 'UTC') AS utc,
	rfm_cohort('2019-11-30 23:30+00'::timestamptz, 'month', 'Europe/Berlin') AS berlin,
	rfm_cohort('2019-12-31 20:00+00'::timestamptz, 'year', 'Asia/Kolkata') AS kolkata_year,
	rfm_cohort_start('2019-11-30 23:30+00'::timestamptz, 'month', 'Europe/Berlin') AS berlin_start;

-- The IMMUTABLE form gives the same label under every session TimeZone;
-- the STABLE form without tz follows the session.
CREATE TABLE zones (zone text);
INSERT INTO zones VALUES ('UTC'), ('Europe/Berlin'), ('America/Los_Angeles'), ('Asia/Kolkata');
CREATE TABLE labels (zone text, immutable_label text, session_label text, session_start date);
DO $$
DECLARE
	z text;
BEGIN
	FOR z IN SELECT zone FROM zones LOOP
		PERFORM set_config('TimeZone', z, true);
		INSERT INTO labels
		SELECT z, rfm_cohort('2019-12-31 22:30+00'::timestamptz, 'month', 'Europe/Berlin'),
			rfm_cohort('2019-12-31 22:30+00'::timestamptz, 'month'),
			rfm_cohort_start('2019-12-31 22:30+00'::timestamptz, 'week');
	END LOOP;
END $$;
SELECT * FROM labels ORDER BY zone;
SELECT count(DISTINCT immutable_label) AS immutable_labels, count(DISTINCT session_label) AS session_labels FROM labels;
DROP TABLE zones, labels;

-- A generated column may use the IMMUTABLE form, not the session one.
CREATE TABLE signups (id int, at timestamptz,
	cohort text GENERATED ALWAYS AS (rfm_cohort(at, 'month', 'UTC')) STORED);
INSERT INTO signups (id, at) VALUES (1, '2024-01-31 23:59:59+00'), (2, '2024-02-01 00:00+00');
SELECT * FROM signups ORDER BY id;
CREATE TABLE signups2 (at timestamptz, cohort text GENERATED ALWAYS AS (rfm_cohort(at, 'month')) STORED);
DROP TABLE signups;

-- Retention: the one-scan triangle equals the self-join a DBA writes.
-- Customers start over the year and visit less and less after their start.
CREATE TABLE visits AS
SELECT CASE WHEN g % 401 = 0 THEN NULL ELSE (g * 7919) % 500 END AS customer,
	'2023-01-01 00:00+00'::timestamptz + ((g * 7919) % 500) * interval '17 hours'
		+ power(((g::bigint * 104729) % 10007) / 10007.0, 3) * interval '400 days' AS at
FROM generate_series(1, 4000) g;
ALTER TABLE visits ADD COLUMN d date, ADD COLUMN ts timestamp;
UPDATE visits SET d = (at AT TIME ZONE 'UTC')::date, ts = at AT TIME ZONE 'UTC';

CREATE FUNCTION triangle_by_join(grain text, as_of timestamptz)
	RETURNS TABLE (cohort text, period_offset int, cohort_size bigint, active bigint, rate float8)
	LANGUAGE sql AS $$
	WITH ev AS (
		SELECT customer, rfm_cohort_start(at, grain, 'UTC') AS p FROM visits WHERE at <= as_of
	), firsts AS (
		SELECT customer, min(p) AS c FROM ev GROUP BY customer
	), sizes AS (
		SELECT c, count(*) AS n FROM firsts GROUP BY c
	), periods AS (
		SELECT DISTINCT p FROM ev
		UNION SELECT rfm_cohort_start(as_of, grain, 'UTC')
	), cells AS (
		SELECT s.c, p.p FROM sizes s JOIN (SELECT p FROM periods) p ON p.p >= s.c
		WHERE p.p <= rfm_cohort_start(as_of, grain, 'UTC')
	), acts AS (
		SELECT f.c, e.p, count(DISTINCT coalesce(e.customer, -1)) AS n
		FROM firsts f JOIN ev e ON e.customer IS NOT DISTINCT FROM f.customer GROUP BY 1, 2
	)
	SELECT rfm_cohort(cells.c, grain),
		(SELECT count(*) - 1 FROM generate_series(cells.c::timestamp, cells.p::timestamp,
			CASE grain WHEN 'quarter' THEN interval '3 months' ELSE ('1 ' || grain)::interval END))::int,
		sizes.n, coalesce(acts.n, 0), coalesce(acts.n, 0)::float8 / sizes.n
	FROM cells JOIN sizes USING (c) LEFT JOIN acts USING (c, p)
$$;
CREATE FUNCTION compare(a text, b text, OUT rows_a bigint, OUT rows_b bigint, OUT only_a bigint, OUT only_b bigint)
	LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('SELECT count(*) FROM (%s) x', a) INTO rows_a;
	EXECUTE format('SELECT count(*) FROM (%s) x', b) INTO rows_b;
	EXECUTE format('SELECT count(*) FROM ((%s) EXCEPT ALL (%s)) x', a, b) INTO only_a;
	EXECUTE format('SELECT count(*) FROM ((%s) EXCEPT ALL (%s)) x', b, a) INTO only_b;
END $$;
SELECT 'month' AS grain, * FROM compare(
	$$SELECT * FROM triangle_by_join('month', '2024-01-15 00:00+00')$$,
	$$SELECT * FROM rfm_retention('visits', 'customer', 'at', 'month', 'UTC', '2024-01-15 00:00+00')$$)
UNION ALL
SELECT 'quarter', * FROM compare(
	$$SELECT * FROM triangle_by_join('quarter', '2023-12-31 00:00+00')$$,
	$$SELECT * FROM rfm_retention('visits', 'customer', 'at', 'quarter', 'UTC', '2023-12-31 00:00+00')$$);

-- The triangle: every cell up to as_of, zeros included
SELECT cohort, period_offset, cohort_size, active, round(rate::numeric, 3) AS rate
FROM rfm_retention('visits', 'customer', 'at', 'quarter', 'UTC', '2023-12-31') ORDER BY 1, 2;
-- weeks, and the latest event's period when as_of is NULL
SELECT count(*) AS cells, count(DISTINCT cohort) AS cohorts, max(period_offset) AS max_offset,
	min(cohort) AS first_cohort, max(cohort) AS last_cohort
FROM rfm_retention('visits', 'customer', 'at', 'week');
-- date and timestamp columns give the same triangle as the timestamptz one in UTC
SELECT * FROM compare(
	$$SELECT * FROM rfm_retention('visits', 'customer', 'at', 'month')$$,
	$$SELECT * FROM rfm_retention('visits', 'customer', 'd', 'month')$$)
UNION ALL
SELECT * FROM compare(
	$$SELECT * FROM rfm_retention('visits', 'customer', 'at', 'month')$$,
	$$SELECT * FROM rfm_retention('visits', 'customer', 'ts', 'month')$$);
-- a time zone moves events across month ends, and so customers across cohorts
SELECT u.cohort, u.cohort_size AS utc_size, l.cohort_size AS los_angeles_size
FROM rfm_retention('visits', 'customer', 'at', 'month', 'UTC') u
FULL JOIN rfm_retention('visits', 'customer', 'at', 'month', 'America/Los_Angeles') l USING (cohort, period_offset)
WHERE coalesce(u.period_offset, l.period_offset) = 0 ORDER BY 1 LIMIT 4;
-- an as_of before every event: no cells
SELECT count(*) FROM rfm_retention('visits', 'customer', 'at', 'month', 'UTC', '2000-01-01');

-- rfm_cohort_date (since 0.3): the first day a cohort label names, the
-- inverse of the label, for every grain.
SELECT g, rfm_cohort(d, g) AS label, rfm_cohort_date(rfm_cohort(d, g), g) AS first_day,
	rfm_cohort_date(rfm_cohort(d, g), g) = rfm_cohort_start(d, g) AS same_as_cohort_start
FROM (VALUES ('2021-01-01'::date), ('2024-02-29'), ('2019-12-30')) v(d),
	 unnest(ARRAY['day', 'week', 'month', 'quarter', 'year']) g
ORDER BY d, array_position(ARRAY['day', 'week', 'month', 'quarter', 'year'], g);
SELECT count(*) AS labels, count(*) FILTER (WHERE rfm_cohort_date(cohort, 'week') = rfm_cohort_start(d, 'week')) AS round_trips
FROM (SELECT d::date, rfm_cohort(d::date, 'week') AS cohort
	  FROM generate_series('1999-12-01'::date, '2031-01-31', '1 day') d) x;

-- rfm_period_ends (since 0.3): as-of times that keep the whole last day.
-- The hand-written month end, midnight at the start of the last day,
-- leaves out that day's orders; the period end does not.
SELECT rfm_period_ends('2024-01-15', '2024-04-02', 'month', 'UTC');
SELECT rfm_period_ends('2024-01-15', '2024-02-02', 'week', 'Europe/Berlin');
SELECT rfm_period_ends('2023-05-01', '2024-05-01', 'quarter', 'UTC');
CREATE TABLE late_orders (customer int, at timestamptz);
INSERT INTO late_orders VALUES (1, '2024-01-31 23:30+00'), (2, '2024-02-29 12:00+00'), (3, '2024-02-10 08:00+00');
SELECT x.kind, s.snapshot_as_of, count(*) AS customers
FROM (VALUES ('midnight at the start of the last day',
			  ARRAY(SELECT (d + interval '1 month - 1 day')::date::timestamptz
					FROM generate_series('2024-01-01'::date, '2024-02-01', '1 month') d ORDER BY d)),
			 ('rfm_period_ends', rfm_period_ends('2024-01-01', '2024-02-01', 'month', 'UTC'))) x(kind, as_of),
	LATERAL rfm_snapshots('late_orders', 'customer', 'at', as_of => x.as_of) s
GROUP BY 1, 2 ORDER BY 1, 2;
DROP TABLE late_orders;

-- rfm_active_periods (since 0.3): rfm_retention's states way groups each
-- customer's events into the sorted numbers of their periods.  They equal
-- the distinct periods of rfm_cohort_start, for every grain, a time zone
-- with DST, and the three kinds of time column; NULL times are skipped.
SELECT g, tz,
	count(*) AS customers,
	count(*) FILTER (WHERE a.by_agg = a.by_sql) AS equal,
	count(*) FILTER (WHERE a.by_wall = a.by_sql_wall AND a.by_date = a.by_sql_wall) AS equal_wall_and_date,
	sum(cardinality(a.by_agg)) AS periods
FROM unnest(ARRAY['day', 'week', 'month', 'quarter', 'year']) g,
	unnest(ARRAY['UTC', 'America/New_York']) tz,
	LATERAL (SELECT customer,
		rfm_active_periods(at, ROW(g, tz)::rfm_period_spec) AS by_agg,
		array_agg(DISTINCT rfm_model_period_number(rfm_cohort_start(at, g, tz), g) ORDER BY rfm_model_period_number(rfm_cohort_start(at, g, tz), g))
			FILTER (WHERE at IS NOT NULL) AS by_sql,
		rfm_active_periods(ts, ROW(g, tz)::rfm_period_spec) AS by_wall,
		rfm_active_periods(d, ROW(g, tz)::rfm_period_spec) AS by_date,
		array_agg(DISTINCT rfm_model_period_number(rfm_cohort_start(d, g), g) ORDER BY rfm_model_period_number(rfm_cohort_start(d, g), g))
			FILTER (WHERE d IS NOT NULL) AS by_sql_wall
		FROM visits GROUP BY customer) a
GROUP BY 1, 2 ORDER BY array_position(ARRAY['day', 'week', 'month', 'quarter', 'year'], g), tz;
SELECT rfm_active_periods(t, '(month,UTC)') AS periods, rfm_active_periods(t, '(month,UTC)') FILTER (WHERE false) AS none
FROM (VALUES ('2024-03-05 10:00+00'::timestamptz), (NULL), ('2024-01-31 23:00+00'), ('2024-03-01 00:00+00')) v(t);
-- in parallel workers, whose partial lists are merged by their union
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT rfm_active_periods(at, '(week,UTC)') FROM visits;
SELECT rfm_active_periods(at, '(week,UTC)') = (SELECT array_agg(DISTINCT rfm_model_period_number(rfm_cohort_start(at, 'week', 'UTC'), 'week')
		ORDER BY rfm_model_period_number(rfm_cohort_start(at, 'week', 'UTC'), 'week')) FROM visits WHERE at IS NOT NULL) AS same_in_parallel
FROM visits;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;
SELECT rfm_active_periods_combine('{1,4,9}', '{2,4,10}') AS merged, rfm_active_periods_combine('{}', '{3}') AS from_empty;
-- bad input
\set VERBOSITY default
SELECT rfm_active_periods(at, NULL) FROM visits;
\echo SQLSTATE :SQLSTATE
SELECT rfm_active_periods(at, ROW(NULL, 'UTC')::rfm_period_spec) FROM visits;
\echo SQLSTATE :SQLSTATE
SELECT rfm_active_periods(at, '(fortnight,UTC)') FROM visits;
\echo SQLSTATE :SQLSTATE
SELECT rfm_active_periods(at, '(month,Mars/Olympus)') FROM visits;
\echo SQLSTATE :SQLSTATE
SELECT rfm_active_periods(t, '(month,UTC)') FROM (VALUES ('infinity'::timestamptz)) v(t);
\echo SQLSTATE :SQLSTATE
SELECT rfm_active_periods_combine('{1,NULL}', '{2}');
\echo SQLSTATE :SQLSTATE
\set VERBOSITY terse

DROP FUNCTION triangle_by_join(text, timestamptz), compare(text, text);
DROP TABLE visits;
