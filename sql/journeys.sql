-- Journeys: category transitions and moves on a marketplace with known
-- moves, next-purchase rules against a brute-force SQL computation of
-- their definition, a planted rule, segment outcomes against plain SQL,
-- and bad input.
\set VERBOSITY terse
SET TimeZone = 'UTC';
SELECT setseed(0.17);

-- ---------------------------------------------------------------------------
-- Category transitions
-- ---------------------------------------------------------------------------

-- The marketplace: as_of 2024-06-30, period 30 days, so the previous
-- window is (2024-05-01, 2024-05-31] and the current one (2024-05-31,
-- 2024-06-30].  Users 1-1000 are active only in auto in the previous
-- window (some exactly at its closed end); users 1-300 are then active only
-- in realty, users 301-1000 only in auto; users 1001-1100 are new, in jobs
-- (some exactly at as_of).  Heavy events just outside the windows (at the
-- previous window's open start, one second after as_of) must not count.
CREATE TABLE market (user_id int, at timestamptz, category text, weight numeric);
INSERT INTO market
SELECT u, '2024-05-31 00:00+00'::timestamptz - ((u * 7 + k * 13) % 29) * interval '1 day'
	- (k % 2) * interval '1 hour', 'auto', 1
FROM generate_series(1, 1000) u, generate_series(0, u % 3) k;
INSERT INTO market
SELECT u, '2024-06-30 00:00+00'::timestamptz - ((u * 11 + k * 5) % 29) * interval '1 day',
	CASE WHEN u <= 300 THEN 'realty' ELSE 'auto' END, 1
FROM generate_series(1, 1000) u, generate_series(0, u % 2) k;
INSERT INTO market
SELECT u, '2024-06-30 00:00+00'::timestamptz - (u % 30) * interval '1 day', 'jobs', 1
FROM generate_series(1001, 1100) u;
INSERT INTO market SELECT u, '2024-05-01 00:00+00', 'jobs', 100 FROM generate_series(1, 1100, 7) u;
INSERT INTO market SELECT u, '2024-06-30 00:00:01+00', 'realty', 100 FROM generate_series(1, 1100, 5) u;
SELECT count(*) AS events,
	count(*) FILTER (WHERE at = '2024-05-31 00:00+00') AS at_previous_end,
	count(*) FILTER (WHERE at = '2024-06-30 00:00+00') AS at_as_of
FROM market;

-- auto -> realty 300, auto -> auto 700, NULL -> jobs 100, exactly
SELECT * FROM rfm_category_transitions('market', 'user_id', 'at', 'category', '2024-06-30 00:00+00')
ORDER BY from_category NULLS FIRST, to_category;
-- the moves are exactly users 1-300, auto to realty, with their activity
SELECT count(*) AS moves, count(*) FILTER (WHERE from_category = 'auto' AND to_category = 'realty') AS auto_to_realty,
	(SELECT count(*) FROM (SELECT customer_key::int FROM rfm_category_moves('market', 'user_id', 'at', 'category', '2024-06-30 00:00+00')
						   EXCEPT SELECT generate_series(1, 300)) x) AS not_planted,
	(SELECT count(*) FROM (SELECT generate_series(1, 300)
						   EXCEPT SELECT customer_key::int FROM rfm_category_moves('market', 'user_id', 'at', 'category', '2024-06-30 00:00+00')) x) AS missed
FROM rfm_category_moves('market', 'user_id', 'at', 'category', '2024-06-30 00:00+00');
SELECT m.customer_key, m.from_category, m.to_category, m.previous_activity, m.current_activity,
	m.previous_activity = (SELECT count(*) FROM market x WHERE x.user_id = m.customer_key::int AND x.category = 'auto'
						   AND x.at > '2024-05-01' AND x.at <= '2024-05-31') AS previous_is_count,
	m.current_activity = (SELECT count(*) FROM market x WHERE x.user_id = m.customer_key::int AND x.category = 'realty'
						  AND x.at > '2024-05-31' AND x.at <= '2024-06-30') AS current_is_count
FROM rfm_category_moves('market', 'user_id', 'at', 'category', '2024-06-30 00:00+00') m
ORDER BY m.customer_key::int LIMIT 4;
-- the function's own order: by from, to and customer_key in byte order
SELECT array_agg(customer_key) = array_agg(customer_key ORDER BY customer_key COLLATE "C") AS ordered
FROM rfm_category_moves('market', 'user_id', 'at', 'category', '2024-06-30 00:00+00');

-- Against plain SQL: main category by activity, then latest event, then
-- name, over another window ('1 month' at a month end: as_of - 2 months,
-- not as_of - 1 month - 1 month) with weights.
CREATE FUNCTION plain_mains(as_of timestamptz, period interval)
	RETURNS TABLE (user_id int, from_category text, to_category text, previous_activity numeric, current_activity numeric)
	LANGUAGE sql AS $$
	-- the NULL user is one user: -1 stands for it
	WITH w AS (
		SELECT coalesce(user_id, -1) AS u, category, CASE WHEN at > as_of - period THEN 1 ELSE 0 END AS cur,
			coalesce(sum(weight), 0) AS activity, max(at) AS latest
		FROM market WHERE at > as_of - 2 * period AND at <= as_of AND category IS NOT NULL
		GROUP BY 1, 2, 3
	), main AS (
		SELECT DISTINCT ON (u, cur) u, cur, category, activity FROM w
		ORDER BY u, cur, activity DESC, latest DESC, category COLLATE "C"
	)
	SELECT nullif(u, -1), p.category, c.category, p.activity, c.activity
	FROM (SELECT * FROM main WHERE cur = 0) p FULL JOIN (SELECT * FROM main WHERE cur = 1) c USING (u)
$$;
-- ties: equal weights (0.1 + 0.2 = 0.3 exactly, where float8 would say
-- more), a later event, names
INSERT INTO market VALUES
	(2001, '2024-04-10', 'b', 0.1), (2001, '2024-04-11', 'b', 0.2), (2001, '2024-04-12', 'a', 0.3),
	(2002, '2024-04-12', 'b', 1), (2002, '2024-04-12', 'a', 1),
	(2003, '2024-04-12', 'c', NULL), (2003, '2024-04-11', 'd', 0),
	(2001, '2024-05-10', 'b', 2), (2002, '2024-05-10', 'a', 2), (2003, '2024-05-10', 'c', 1),
	(NULL, '2024-04-10', 'a', 1), (NULL, '2024-05-10', 'b', 1), (2004, '2024-05-10', NULL, 5), (2004, NULL, 'a', 5);
UPDATE market SET weight = weight * (1 + user_id % 4) WHERE user_id <= 1100;
SELECT user_id, from_category, to_category, previous_activity, current_activity
FROM plain_mains('2024-05-31', '1 month') WHERE user_id > 2000 OR user_id IS NULL ORDER BY 1;
SELECT (SELECT count(*) FROM plain_mains('2024-05-31', '1 month')) AS plain_customers,
	(SELECT count(*) FROM (SELECT from_category, to_category, count(*) FROM plain_mains('2024-05-31', '1 month') GROUP BY 1, 2
						   EXCEPT ALL
						   SELECT from_category, to_category, customers FROM rfm_category_transitions('market', 'user_id', 'at', 'category',
								'2024-05-31', '1 month', 'weight')) x) AS transitions_differ,
	(SELECT count(*) FROM (SELECT user_id::text, from_category, to_category, previous_activity, current_activity
						   FROM plain_mains('2024-05-31', '1 month') WHERE from_category <> to_category
						   EXCEPT ALL
						   SELECT * FROM rfm_category_moves('market', 'user_id', 'at', 'category', '2024-05-31', '1 month', 'weight')) x) AS moves_differ,
	(SELECT count(*) FROM rfm_category_moves('market', 'user_id', 'at', 'category', '2024-05-31', '1 month', 'weight')) AS moves;
SELECT * FROM rfm_category_transitions('market', 'user_id', 'at', 'category', '2024-05-31', '1 month', 'weight')
ORDER BY from_category NULLS FIRST, to_category NULLS LAST;
-- shares sum to 1 in every from row
SELECT from_category, sum(share) FROM rfm_category_transitions('market', 'user_id', 'at', 'category', '2024-05-31', '1 month', 'weight')
GROUP BY 1 ORDER BY 1 NULLS FIRST;

-- The same answers whatever the session TimeZone: intervals are applied
-- as in UTC.  With as_of 2024-03-31 12:00 UTC and 30 days, the current
-- window opens at 2024-03-01 12:00 UTC; in Los Angeles' wall time it
-- would open an hour later, across the change to summer time on March 10.
INSERT INTO market VALUES
	(3001, '2024-02-20 12:00+00', 'a', 1), (3001, '2024-03-01 12:30+00', 'b', 1),
	(3002, '2024-02-20 12:00+00', 'a', 1), (3002, '2024-03-01 12:00+00', 'b', 1),
	(3003, '2024-03-05 12:00+00', 'a', 1), (3003, '2024-03-01 12:59+00', 'b', 2);
SELECT * FROM plain_mains('2024-03-31 12:00+00', '30 days') ORDER BY 1;
SET TimeZone = 'America/Los_Angeles';
CREATE TABLE other_zone AS
SELECT * FROM rfm_category_moves('market', 'user_id', 'at', 'category', '2024-03-31 12:00+00', '30 days', 'weight');
SET TimeZone = 'UTC';
SELECT * FROM other_zone ORDER BY 1;
SELECT count(*) AS differ FROM (SELECT * FROM other_zone EXCEPT ALL
								SELECT * FROM rfm_category_moves('market', 'user_id', 'at', 'category', '2024-03-31 12:00+00', '30 days', 'weight')) x;

-- Nor on the row order, or the kind of time column (date and timestamp
-- columns are read as rfm_analyze reads them; in UTC they agree, when no
-- event after as_of falls on its date).
CREATE TABLE market_shuffled AS SELECT * FROM market WHERE at <> '2024-06-30 00:00:01+00' ORDER BY md5(user_id::text || at::text);
ALTER TABLE market_shuffled ADD COLUMN day date, ADD COLUMN wall timestamp, ADD COLUMN user_text text;
UPDATE market_shuffled SET day = (at AT TIME ZONE 'UTC')::date, wall = at AT TIME ZONE 'UTC', user_text = 'u' || user_id;
SELECT column_name,
	(SELECT count(*) FROM rfm_category_transitions('market_shuffled', 'user_id', column_name, 'category', '2024-06-30')) AS rows,
	(SELECT count(*) FROM (SELECT * FROM rfm_category_transitions('market_shuffled', 'user_id', column_name, 'category', '2024-06-30')
						   EXCEPT ALL
						   SELECT * FROM rfm_category_transitions('market', 'user_id', 'at', 'category', '2024-06-30')) x) AS differ
FROM unnest(ARRAY['at', 'day', 'wall']::name[]) column_name ORDER BY 1;
-- a text key gives the same moves
SELECT count(*) AS moves, count(*) FILTER (WHERE customer_key LIKE 'u%') AS text_keys
FROM rfm_category_moves('market_shuffled', 'user_text', 'at', 'category', '2024-06-30');
-- no event in the windows: no rows
SELECT count(*) FROM rfm_category_transitions('market', 'user_id', 'at', 'category', '2000-01-01');
SELECT count(*) FROM rfm_category_moves('market', 'user_id', 'at', 'category', '2000-01-01');

-- The states way (rfm_segment.scan = 'states', or 'auto' past max_memory
-- or over foreign tables): one GROUP BY customer with rfm_journey_state_agg
-- gives the rows way's answer byte for byte, in the same order (the md5 of
-- the rows as they come), for each kind of time column, key (a char(n) key
-- keeps its padding, a boolean prints t and f, as their output functions
-- write them), window, zone, weight and category type, serially and in
-- parallel workers.  The
-- aggregate reads a wall time, and a date column's as_of, in the zone the
-- caller passes (the session's), so the zone matters to both ways alike.
-- Weights past 38 digits are summed in numeric, and tie.
CREATE TABLE market_big (user_id int, at timestamptz, category text, weight numeric);
INSERT INTO market_big VALUES
	(1, '2024-06-10', 'a', 1e40), (1, '2024-06-11', 'a', 1), (1, '2024-06-11', 'b', 1e40 + 1),
	(2, '2024-06-10', 'a', 99999999999999999999999999999999999999), (2, '2024-06-10', 'a', 1),
	(2, '2024-06-10', 'b', 1e38), (2, '2024-05-20', 'c', 0.5), (3, '2024-05-20', 'c', 1e50);
ALTER TABLE market_shuffled ADD COLUMN code int, ADD COLUMN user_char char(8), ADD COLUMN user_bool boolean;
UPDATE market_shuffled SET code = ascii(category) * 7 - 600 + length(category), user_char = 'u' || user_id,
	user_bool = user_id % 2 = 0;
CREATE FUNCTION journeys_md5(fn text, scan text, tab regclass, key name, time_column name, category name,
							 as_of timestamptz, period interval, weight name, zone text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	result text;
BEGIN
	PERFORM set_config('rfm_segment.scan', scan, true);
	PERFORM set_config('TimeZone', zone, true);
	EXECUTE format('SELECT count(*) || '' rows '' || coalesce(md5(string_agg(s::text, '';'')), '''') FROM %I(%L, %L, %L, %L, %L, %L, %L) s',
				   fn, tab, key, time_column, category, as_of, period, weight) INTO result;
	PERFORM set_config('rfm_segment.scan', 'auto', true);
	PERFORM set_config('TimeZone', 'UTC', true);
	RETURN result;
END $$;
CREATE TABLE journey_ways (fn text, tab regclass, key name, time_column name, category name, as_of timestamptz,
						   period interval, weight name, zone text);
INSERT INTO journey_ways VALUES
	('rfm_category_transitions', 'market', 'user_id', 'at', 'category', '2024-06-30', '30 days', NULL, 'UTC'),
	('rfm_category_moves', 'market', 'user_id', 'at', 'category', '2024-06-30', '30 days', NULL, 'UTC'),
	('rfm_category_transitions', 'market', 'user_id', 'at', 'category', '2024-05-31', '1 month', 'weight', 'UTC'),
	('rfm_category_moves', 'market', 'user_id', 'at', 'category', '2024-05-31', '1 month', 'weight', 'UTC'),
	('rfm_category_moves', 'market', 'user_id', 'at', 'category', '2024-03-31 12:00+00', '30 days', 'weight', 'America/Los_Angeles'),
	('rfm_category_transitions', 'market_shuffled', 'user_id', 'day', 'category', '2024-06-30 03:00+00', '30 days', 'weight', 'America/Los_Angeles'),
	('rfm_category_moves', 'market_shuffled', 'user_id', 'day', 'category', '2024-05-31 22:00+00', '1 month', NULL, 'Asia/Tokyo'),
	('rfm_category_moves', 'market_shuffled', 'user_text', 'wall', 'category', '2024-05-31 22:00+00', '1 month', 'weight', 'Asia/Tokyo'),
	('rfm_category_transitions', 'market_shuffled', 'user_text', 'wall', 'category', '2024-06-30', '30 days', NULL, 'America/Los_Angeles'),
	('rfm_category_transitions', 'market_shuffled', 'user_id', 'at', 'code', '2024-05-31', '1 month', 'weight', 'UTC'),
	('rfm_category_moves', 'market_shuffled', 'user_id', 'at', 'code', '2024-05-31', '1 month', 'weight', 'UTC'),
	('rfm_category_moves', 'market_shuffled', 'user_char', 'at', 'category', '2024-05-31', '1 month', 'weight', 'UTC'),
	('rfm_category_moves', 'market_shuffled', 'user_bool', 'at', 'category', '2024-05-31', '1 month', 'weight', 'UTC'),
	('rfm_category_moves', 'market_big', 'user_id', 'at', 'category', '2024-06-30', '30 days', 'weight', 'UTC'),
	('rfm_category_transitions', 'market_big', 'user_id', 'at', 'category', '2024-06-30', '30 days', 'weight', 'UTC'),
	('rfm_category_moves', 'market', 'user_id', 'at', 'category', '2000-01-01', '30 days', NULL, 'UTC');
SELECT w.fn, w.tab, w.key, w.time_column, w.category, w.weight, w.zone,
	split_part(journeys_md5(w.fn, 'rows', w.tab, w.key, w.time_column, w.category, w.as_of, w.period, w.weight, w.zone), ' ', 1) AS rows,
	journeys_md5(w.fn, 'rows', w.tab, w.key, w.time_column, w.category, w.as_of, w.period, w.weight, w.zone)
		= journeys_md5(w.fn, 'states', w.tab, w.key, w.time_column, w.category, w.as_of, w.period, w.weight, w.zone) AS states_equal
FROM journey_ways w ORDER BY w.tab::text, w.fn, w.as_of, w.time_column, w.category;
-- The range of rows read is wider than the windows, never narrower: a
-- wall time or a date in a zone far from UTC (UTC+14, UTC-12), near the
-- windows' ends, against the definition in plain SQL (the instant of a wall
-- time is its cast in the session's zone; a date is its midnight in UTC,
-- as_of's date is taken in the session's zone; the windows are computed in
-- UTC)
CREATE FUNCTION plain_moves(tab regclass, instant text, as_of_instant text, period interval)
	RETURNS TABLE (customer_key text, from_category text, to_category text,
				   previous_activity numeric, current_activity numeric)
	LANGUAGE plpgsql AS $$
BEGIN
	RETURN QUERY EXECUTE format($q$
	WITH a AS (SELECT %3$s AS as_of),
	b AS (SELECT ((a.as_of AT TIME ZONE 'UTC') - 2 * %4$L::interval) AT TIME ZONE 'UTC' AS lo,
				 ((a.as_of AT TIME ZONE 'UTC') - %4$L::interval) AT TIME ZONE 'UTC' AS mid, a.as_of FROM a),
	w AS (SELECT coalesce(user_id, -1) AS u, category, CASE WHEN %2$s > b.mid THEN 1 ELSE 0 END AS cur,
		coalesce(sum(weight), 0) AS activity, max(%2$s) AS latest
		FROM %1$s, b WHERE %2$s > b.lo AND %2$s <= b.as_of AND category IS NOT NULL GROUP BY 1, 2, 3),
	main AS (SELECT DISTINCT ON (u, cur) u, cur, category, activity FROM w
		ORDER BY u, cur, activity DESC, latest DESC, category COLLATE "C")
	SELECT nullif(u, -1)::text, p.category, c.category, p.activity, c.activity
	FROM (SELECT * FROM main WHERE cur = 0) p JOIN (SELECT * FROM main WHERE cur = 1) c USING (u)
	WHERE p.category <> c.category $q$, tab, instant, as_of_instant, period);
END $$;
CREATE TABLE edge_market (user_id int, day date, wall timestamp, category text, weight numeric);
-- each user: one event per day from 2024-04-25 to 2024-06-05, its category
-- changing on a day that depends on the user, weights by day
INSERT INTO edge_market
SELECT u, d, d + (u % 24) * interval '1 hour' + (u % 60) * interval '1 minute',
	CASE WHEN d < '2024-05-10'::date + (u % 30) THEN 'c' || (u % 3) ELSE 'c' || (u % 4 + 3) END,
	1 + (extract(day FROM d)::int * u) % 7
FROM generate_series(1, 300) u, generate_series('2024-04-25'::date, '2024-06-05', '1 day') d;
CREATE TABLE edge_cases (zone text, as_of timestamptz, period interval);
INSERT INTO edge_cases VALUES ('Pacific/Kiritimati', '2024-05-31 12:00+00', '15 days'),
	('Etc/GMT+12', '2024-05-31 11:00+00', '15 days'), ('Pacific/Kiritimati', '2024-05-31 09:30+00', '1 month'),
	('Etc/GMT+12', '2024-06-01 00:30+00', '10 days 12 hours');
CREATE FUNCTION edge_differ(zone text, as_of timestamptz, period interval, time_column name, OUT moves bigint, OUT differ bigint)
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('TimeZone', zone, true);
	CREATE TEMP TABLE edge_fn AS SELECT * FROM rfm_category_moves('edge_market', 'user_id', time_column, 'category', as_of, period, 'weight');
	IF time_column = 'wall' THEN
		CREATE TEMP TABLE edge_plain AS SELECT * FROM plain_moves('edge_market', 'wall::timestamptz', format('%L::timestamptz', as_of), period);
	ELSE
		CREATE TEMP TABLE edge_plain AS SELECT * FROM plain_moves('edge_market', '(day::timestamp AT TIME ZONE ''UTC'')',
			format('((%L::timestamptz)::date::timestamp AT TIME ZONE ''UTC'')', as_of), period);
	END IF;
	SELECT count(*) INTO moves FROM edge_fn;
	SELECT count(*) INTO differ FROM ((SELECT * FROM edge_fn EXCEPT ALL SELECT * FROM edge_plain)
		UNION ALL (SELECT * FROM edge_plain EXCEPT ALL SELECT * FROM edge_fn)) x;
	DROP TABLE edge_fn, edge_plain;
	PERFORM set_config('TimeZone', 'UTC', true);
END $$;
SELECT e.zone, e.as_of, e.period, c.time_column, d.moves, d.differ
FROM edge_cases e, unnest(ARRAY['wall', 'day']::name[]) c(time_column), LATERAL edge_differ(e.zone, e.as_of, e.period, c.time_column) d
ORDER BY 1, 2, 4;
DROP FUNCTION edge_differ(text, timestamptz, interval, name), plain_moves(regclass, text, text, interval);
DROP TABLE edge_market, edge_cases;

-- the sums past 38 digits, exactly
SET rfm_segment.scan = 'states';
SELECT * FROM rfm_category_moves('market_big', 'user_id', 'at', 'category', '2024-06-30', '30 days', 'weight');
RESET rfm_segment.scan;
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
-- the states query's plan: partial states in the workers, merged here
EXPLAIN (COSTS OFF) SELECT user_id, rfm_journey_state_agg(at, category, weight, ROW('2024-05-31', '1 month', 'UTC')::rfm_journey_spec)
FROM market GROUP BY user_id;
SELECT count(*) AS ways, count(*) FILTER (WHERE
	journeys_md5(w.fn, 'rows', w.tab, w.key, w.time_column, w.category, w.as_of, w.period, w.weight, w.zone)
		= journeys_md5(w.fn, 'states', w.tab, w.key, w.time_column, w.category, w.as_of, w.period, w.weight, w.zone)) AS parallel_states_equal
FROM journey_ways w;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;

-- The aggregate on its own: each customer's main category and activity in
-- each window, NULL where it was not active; NULL for a customer active in
-- neither (user 2004: no category, or no time)
SELECT user_id, rfm_journey_state_agg(at, category, weight, ROW('2024-05-31', '1 month', 'UTC')::rfm_journey_spec)
FROM market WHERE user_id > 2000 OR user_id IS NULL GROUP BY 1 ORDER BY 1;

-- Past rfm_segment.max_memory, 'auto' reads the states and gives the same
-- answer; 'rows' stops with 53400 and says what to do
SELECT journeys_md5('rfm_category_moves', 'rows', 'market', 'user_id', 'at', 'category', '2024-05-31', '1 month', 'weight', 'UTC') AS rows_md5 \gset
SET rfm_segment.max_memory = '64kB';
SELECT journeys_md5('rfm_category_moves', 'auto', 'market', 'user_id', 'at', 'category', '2024-05-31', '1 month', 'weight', 'UTC')
	= :'rows_md5' AS equal_past_max_memory;
-- and at every limit from 64kB to 4MB: the rows way gives up while it
-- reads the rows, after them, or not at all (a DEBUG1 message says where:
-- on this data and PostgreSQL 15 both functions give up while reading up
-- to about 1 MB and after the rows, sorting the categories, up to 2.4 MB),
-- and the answers are the same.  limits_equal runs both functions under
-- auto at every limit from first_kb to last_kb and counts the answers
-- equal to the rows way's at the default limit
CREATE FUNCTION limits_equal(tab regclass, weight name, first_kb int, last_kb int, step_kb int,
							 OUT limits int, OUT moves_equal int, OUT transitions_equal int)
LANGUAGE plpgsql AS $$
DECLARE
	moves text;
	transitions text;
BEGIN
	PERFORM set_config('rfm_segment.max_memory', '1GB', true);
	moves := journeys_md5('rfm_category_moves', 'rows', tab, 'user_id', 'at', 'category', '2024-05-31', '1 month', weight, 'UTC');
	transitions := journeys_md5('rfm_category_transitions', 'rows', tab, 'user_id', 'at', 'category', '2024-05-31', '1 month', weight, 'UTC');
	limits := 0;
	moves_equal := 0;
	transitions_equal := 0;
	FOR kb IN first_kb .. last_kb BY step_kb LOOP
		PERFORM set_config('rfm_segment.max_memory', kb || 'kB', true);
		limits := limits + 1;
		moves_equal := moves_equal + (journeys_md5('rfm_category_moves', 'auto', tab, 'user_id', 'at', 'category',
												   '2024-05-31', '1 month', weight, 'UTC') = moves)::int;
		transitions_equal := transitions_equal + (journeys_md5('rfm_category_transitions', 'auto', tab, 'user_id', 'at', 'category',
															   '2024-05-31', '1 month', weight, 'UTC') = transitions)::int;
	END LOOP;
END
$$;
SELECT * FROM limits_equal('market', 'weight', 64, 4096, 64);
-- The later steps need more customers: 20,000, each of whom moved.  On
-- PostgreSQL 15 the rows way gives up sorting the categories from about
-- 3.9 MB, keeping the moves from 7.1 MB to 8.6 MB, and counting the
-- transitions at 7.1 MB; here too every answer is the rows way's
CREATE TABLE movers AS
SELECT u AS user_id, '2024-04-10'::timestamptz + (u % 20) * interval '1 day' AS at, 'cat' || (u % 7) AS category
FROM generate_series(1, 20000) u
UNION ALL
SELECT u, '2024-05-10'::timestamptz + (u % 20) * interval '1 day', 'cat' || ((u + 1) % 7) FROM generate_series(1, 20000) u;
ANALYZE movers;
SELECT * FROM limits_equal('movers', NULL, 3584, 9216, 128);
DROP TABLE movers;
DROP FUNCTION limits_equal;
\set VERBOSITY default
SET rfm_segment.scan = 'rows';
SELECT count(*) FROM rfm_category_moves('market', 'user_id', 'at', 'category', '2024-05-31', '1 month', 'weight');
\echo SQLSTATE :SQLSTATE
-- A category that prints more than one way (numeric 1.0 = 1.00) is not
-- read as text: the states way refuses it, and 'auto' keeps to the rows
CREATE TABLE market_numeric AS SELECT user_id, at, code::numeric AS code FROM market_shuffled;
SET rfm_segment.scan = 'states';
SELECT count(*) FROM rfm_category_transitions('market_numeric', 'user_id', 'at', 'code', '2024-06-30');
\echo SQLSTATE :SQLSTATE
RESET rfm_segment.scan;
RESET rfm_segment.max_memory;
SELECT count(*) AS numeric_categories_by_rows FROM rfm_category_transitions('market_numeric', 'user_id', 'at', 'code', '2024-06-30');
-- Bad input to the aggregate: the spec, its fields, the rows
SELECT rfm_journey_state_agg(at, category, weight, NULL) FROM market;
\echo SQLSTATE :SQLSTATE
SELECT rfm_journey_state_agg(at, category, weight, ROW('2024-06-30', NULL, 'UTC')::rfm_journey_spec) FROM market;
\echo SQLSTATE :SQLSTATE
SELECT rfm_journey_state_agg(at, category, weight, ROW('2024-06-30', '-1 day', 'UTC')::rfm_journey_spec) FROM market;
\echo SQLSTATE :SQLSTATE
SELECT rfm_journey_state_agg(at, category, weight, ROW('infinity', '1 day', 'UTC')::rfm_journey_spec) FROM market;
\echo SQLSTATE :SQLSTATE
SELECT rfm_journey_state_agg(at, category, weight, ROW('2024-06-30', '1 day', 'Mars/Olympus')::rfm_journey_spec) FROM market;
\echo SQLSTATE :SQLSTATE
SELECT rfm_journey_state_agg(at, category, weight, ROW(at, '1 day', 'UTC')::rfm_journey_spec) FROM market WHERE user_id = 1;
\echo SQLSTATE :SQLSTATE
SELECT rfm_journey_state_agg(t, 'a', w, ROW('2024-06-30', '1 day', 'UTC')::rfm_journey_spec)
FROM (VALUES ('2024-06-29'::timestamptz, 'NaN'::numeric)) v(t, w);
\echo SQLSTATE :SQLSTATE
SELECT rfm_journey_state_agg(t, 'a', 1, ROW('2024-06-30', '1 day', 'UTC')::rfm_journey_spec)
FROM (VALUES ('2024-06-29'::timestamp), ('infinity')) v(t);
\echo SQLSTATE :SQLSTATE
\set VERBOSITY terse
DROP FUNCTION journeys_md5(text, text, regclass, name, name, name, timestamptz, interval, name, text);
DROP TABLE journey_ways, market_big, market_numeric;

-- ---------------------------------------------------------------------------
-- Next-purchase rules
-- ---------------------------------------------------------------------------

-- 2,000 customers buying 12 items over two years on whole hours, plus
-- boundary cases: from edge_x at 2023-03-01, edge_in_lo and edge_in_hi
-- exactly 30 and 120 days later, edge_out_lo and edge_out_hi one second
-- outside; censoring: the latest event is 2025-01-01, so with max_lag 120
-- days an antecedent on 2024-09-03 00:00 is counted and one a second
-- later is not.  And NULL customers, items, times and amounts.
CREATE TABLE np (cust int, t timestamptz, item text, amount numeric);
INSERT INTO np
SELECT c, '2023-01-01 00:00+00'::timestamptz + floor(random() * 730 * 24) * interval '1 hour',
	'i' || floor(random() * random() * 12)::int, round((random() * 100)::numeric, 2)
FROM generate_series(1, 2000) c, generate_series(1, 8) k
WHERE random() < 0.9;
INSERT INTO np
SELECT c, x.t, x.item, 50
FROM generate_series(5001, 5040) c,
	LATERAL (VALUES ('2023-03-01 00:00+00'::timestamptz, 'edge_x'),
					('2023-03-31 00:00+00', 'edge_in_lo'), ('2023-06-29 00:00+00', 'edge_in_hi'),
					('2023-03-30 23:59:59+00', 'edge_out_lo'), ('2023-06-29 00:00:01+00', 'edge_out_hi')) x(t, item);
INSERT INTO np
SELECT c, x.t, x.item, 50
FROM generate_series(6001, 6030) c,
	LATERAL (VALUES (CASE WHEN c <= 6015 THEN '2024-09-03 00:00+00'::timestamptz ELSE '2024-09-03 00:00:01+00' END, 'late_x'),
					('2024-12-01 00:00+00', 'late_y')) x(t, item);
INSERT INTO np VALUES (NULL, '2023-02-01', 'i1', 10), (NULL, '2023-03-01', 'i2', 10), (7, NULL, 'i1', 5),
	(8, '2023-04-01', NULL, 5), (9, '2023-04-01', 'i3', NULL), (10, '2025-01-01 00:00+00', NULL, 1);
ALTER TABLE np ADD COLUMN day date;
UPDATE np SET day = (t AT TIME ZONE 'UTC')::date;
SELECT count(*) AS purchases, count(DISTINCT cust) AS customers, count(DISTINCT item) AS items, max(t) AS latest FROM np;

-- The definition in plain SQL, by brute force: for table tab and its time
-- column (timestamptz or date), every rule and every column.
CREATE FUNCTION brute_rules(tab regclass, time_column name, min_lag interval, max_lag interval,
							min_customers int, min_amount numeric)
	RETURNS TABLE (antecedent text, consequent text, customers bigint, converted bigint,
				   confidence float8, lift float8, median_lag interval)
	LANGUAGE plpgsql AS $$
BEGIN
	RETURN QUERY EXECUTE format($q$
	WITH ev AS (
		SELECT coalesce(cust, -1) AS cust, %2$I AS t, item, amount FROM %1$s WHERE %2$I IS NOT NULL AND item IS NOT NULL
	), latest AS (
		SELECT max(%2$I) AS latest FROM %1$s
	), everyone AS (
		SELECT count(DISTINCT cust) AS n FROM ev
	), buyers AS (
		SELECT item, count(DISTINCT cust) AS n FROM ev GROUP BY item
	), firsts AS (
		-- the first purchase of each item, of at least min_amount
		SELECT cust, item AS x, min(t) AS tx FROM ev
		WHERE $4 IS NULL OR amount >= $4 GROUP BY cust, item
	), ant AS (
		-- censoring: the whole window is observed
		SELECT f.* FROM firsts f, latest WHERE f.tx + $2 <= latest.latest
	), ant_n AS (
		SELECT x, count(*) AS n FROM ant GROUP BY x
	), conv AS (
		SELECT a.cust, a.x, e.item AS y, min(e.t)::timestamp - a.tx::timestamp AS lag
		FROM ant a JOIN ev e ON e.cust = a.cust AND e.item <> a.x
			AND e.t >= a.tx + $1 AND e.t <= a.tx + $2
		GROUP BY a.cust, a.x, e.item, a.tx
	)
	SELECT c.x, c.y, an.n, count(*), count(*)::float8 / an.n,
		(count(*)::float8 / an.n) / (b.n::float8 / everyone.n),
		justify_hours(floor(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM c.lag) * 1000000))::bigint
					  * interval '1 microsecond')
	FROM conv c JOIN ant_n an ON an.x = c.x JOIN buyers b ON b.item = c.y, everyone
	WHERE an.n >= $3
	GROUP BY c.x, c.y, an.n, b.n, everyone.n
	$q$, tab, time_column) USING min_lag, max_lag, min_customers, min_amount;
END $$;

-- Every rule, every column, for several settings: rows in one and not the
-- other, both ways.
CREATE TABLE settings (id int, tab regclass, time_column name, min_lag interval, max_lag interval,
					   min_customers int, min_amount numeric);
INSERT INTO settings VALUES
	(1, 'np', 't', '0', '90 days', 10, NULL),
	(2, 'np', 't', '30 days', '120 days', 5, NULL),
	(3, 'np', 't', '1 month', '4 months', 1, 50),
	(4, 'np', 't', '0', '1 hour', 1, NULL),
	(5, 'np', 'day', '7 days', '60 days', 3, 25.5),
	(6, 'np', 'day', '0', '400 days', 100, NULL);
CREATE TABLE function_rules AS
SELECT s.id, r.* FROM settings s,
	rfm_next_purchase_rules(s.tab, 'cust', s.time_column, 'item', s.min_lag, s.max_lag, s.min_customers, 'amount', s.min_amount) r;
CREATE TABLE plain_rules AS
SELECT s.id, r.* FROM settings s, brute_rules(s.tab, s.time_column, s.min_lag, s.max_lag, s.min_customers, s.min_amount) r;
SELECT s.id, s.time_column, s.min_lag, s.max_lag, s.min_customers, s.min_amount,
	(SELECT count(*) FROM function_rules f WHERE f.id = s.id) AS rules,
	(SELECT count(*) FROM plain_rules p WHERE p.id = s.id) AS brute_rules,
	(SELECT count(*) FROM (SELECT * FROM function_rules f WHERE f.id = s.id
						   EXCEPT ALL SELECT * FROM plain_rules p WHERE p.id = s.id) x) AS only_function,
	(SELECT count(*) FROM (SELECT * FROM plain_rules p WHERE p.id = s.id
						   EXCEPT ALL SELECT * FROM function_rules f WHERE f.id = s.id) x) AS only_brute
FROM settings s ORDER BY s.id;
-- the boundaries: lags of exactly min_lag and max_lag count, a second
-- outside does not; censoring at exactly t + max_lag = latest
SELECT * FROM rfm_next_purchase_rules('np', 'cust', 't', 'item', '30 days', '120 days', 5)
WHERE antecedent LIKE 'edge%' OR antecedent LIKE 'late%' ORDER BY 1, 2;
SELECT antecedent, consequent, customers, converted, round(confidence::numeric, 4) AS confidence,
	round(lift::numeric, 4) AS lift, median_lag
FROM rfm_next_purchase_rules('np', 'cust', 't', 'item', '30 days', '120 days', 5)
WHERE antecedent = 'i0' ORDER BY 2;
-- the function's own order, and the same rules from a shuffled table
SELECT array_agg(antecedent || '>' || consequent) = array_agg(antecedent || '>' || consequent ORDER BY antecedent COLLATE "C", consequent COLLATE "C") AS ordered
FROM rfm_next_purchase_rules('np', 'cust', 't', 'item', '30 days', '120 days', 5);
CREATE TABLE np_shuffled AS SELECT * FROM np ORDER BY md5(coalesce(cust, 0)::text || coalesce(t::text, '') || coalesce(item, ''));
SET TimeZone = 'Asia/Kolkata';
SELECT count(*) AS rules,
	count(*) = (SELECT count(*) FROM rfm_next_purchase_rules('np', 'cust', 't', 'item', '1 month', '4 months', 1, 'amount', 50)) AS same_count
FROM (SELECT * FROM rfm_next_purchase_rules('np_shuffled', 'cust', 't', 'item', '1 month', '4 months', 1, 'amount', 50)
	  INTERSECT ALL
	  SELECT * FROM rfm_next_purchase_rules('np', 'cust', 't', 'item', '1 month', '4 months', 1, 'amount', 50)) x;
SET TimeZone = 'UTC';
-- nothing observed long enough, or an empty source: no rules
SELECT count(*) FROM rfm_next_purchase_rules('np', 'cust', 't', 'item', max_lag => '10 years');
CREATE TABLE np_empty (LIKE np);
SELECT count(*) FROM rfm_next_purchase_rules('np_empty', 'cust', 't', 'item');

-- The planted rule: 10,000 customers with background purchases of 20
-- items; 1,000 buy X in the first year, and each of them buys Y 90 to 210
-- days later with probability 0.7; 1% of all customers buy Y at a random
-- time.  Expected: confidence 0.70 +- 0.03, lift > 5.
CREATE TABLE planted (cust int, t timestamptz, item text);
INSERT INTO planted
SELECT c, '2022-01-01 00:00+00'::timestamptz + random() * interval '730 days', 'p' || floor(random() * 20)::int
FROM generate_series(1, 10000) c, generate_series(1, 5) k;
INSERT INTO planted
SELECT c, '2022-01-01 00:00+00'::timestamptz + random() * interval '365 days', 'X' FROM generate_series(1, 1000) c;
INSERT INTO planted
SELECT p.cust, p.t + (90 + random() * 120) * interval '1 day', 'Y' FROM planted p WHERE p.item = 'X' AND random() < 0.7;
INSERT INTO planted
SELECT c, '2022-01-01 00:00+00'::timestamptz + random() * interval '730 days', 'Y' FROM generate_series(1, 10000) c WHERE random() < 0.01;
SELECT antecedent, consequent, customers, converted, confidence BETWEEN 0.67 AND 0.73 AS confidence_within_0_03,
	lift > 5 AS lift_above_5, round(confidence::numeric, 3) AS confidence, round(lift::numeric, 2) AS lift,
	median_lag BETWEEN '140 days' AND '160 days' AS median_lag_mid_window
FROM rfm_next_purchase_rules('planted', 'cust', 't', 'item', '90 days', '210 days', 50)
WHERE antecedent = 'X' AND consequent = 'Y';
-- and no background pair comes near it
SELECT count(*) AS rules, max(confidence) FILTER (WHERE antecedent <> 'X') < 0.2 AS background_weak,
	max(lift) FILTER (WHERE NOT (antecedent = 'X' AND consequent = 'Y')) < 2 AS background_lift_low
FROM rfm_next_purchase_rules('planted', 'cust', 't', 'item', '90 days', '210 days', 50);

-- ---------------------------------------------------------------------------
-- Segment outcomes
-- ---------------------------------------------------------------------------

-- 1,500 customers who buy at their own rate until they stop, at a time of
-- their own: the segments at as_of 2024-03-31 should tell who buys in the
-- next 90 days.
CREATE TABLE shop (cust int, t timestamptz, amount numeric);
INSERT INTO shop
SELECT c.c, '2023-01-01 00:00+00'::timestamptz + random() * c.life, round((5 + random() * 50 * (1 + c.c % 3))::numeric, 2)
FROM (SELECT c, (60 + (c * 7919) % 600) * interval '1 day' AS life, 1 + c % 12 AS n FROM generate_series(1, 1500) c) c,
	LATERAL generate_series(1, c.n) k;
INSERT INTO shop VALUES (NULL, '2023-05-01', 10), (NULL, '2024-05-01', 10), (17, '2023-02-01', NULL);
SELECT count(*) AS purchases, count(DISTINCT cust) AS customers FROM shop;

CREATE TABLE outcome AS
SELECT * FROM rfm_segment_outcomes('shop', 'cust', 't', 'amount', '2024-03-31', '90 days');
SELECT rule_set, dimension, value, customers, active, round(share_active::numeric, 4) AS share_active,
	round(mean_purchases::numeric, 4) AS mean_purchases, round(mean_revenue, 2) AS mean_revenue, round(auc::numeric, 4) AS auc
FROM outcome ORDER BY rule_set DESC, dimension = 'segment' DESC, dimension, share_active DESC, value;

-- Plain SQL: each customer's segment and scores from rfm_analyze, their
-- purchases and revenue in (as_of, as_of + 90 days], and the AUC as
-- Mann-Whitney over all (active, inactive) pairs, ties counted half.  With
-- refunds adjusted, a negative amount is not a purchase: the activity
-- reading then scores the purchases alone (shop_purchases), and a customer
-- with refunds only has no scores.
CREATE VIEW shop_purchases AS SELECT cust, t FROM shop WHERE amount IS NULL OR amount >= 0;
CREATE FUNCTION plain_outcome(refunds text)
	RETURNS TABLE (rule_set text, customer_key text, segment text, r int, f int, third int,
				   purchases bigint, revenue numeric, is_active boolean)
	LANGUAGE sql AS $$
	WITH standard AS (
		SELECT * FROM rfm_analyze('shop', 'cust', 't', 'amount', as_of => '2024-03-31', refunds => plain_outcome.refunds)
	), readings AS (
		SELECT 'standard' AS rule_set, a.customer_key, a.segment, a.r, a.f, a.m AS third FROM standard a
		UNION ALL
		SELECT 'rffl', a.customer_key, b.segment, b.r, b.f, b.m
		FROM standard a
		LEFT JOIN rfm_analyze(CASE plain_outcome.refunds WHEN 'adjust' THEN 'shop_purchases' ELSE 'shop' END::regclass,
							  'cust', 't', as_of => '2024-03-31') b ON b.customer_key IS NOT DISTINCT FROM a.customer_key
	), future AS (
		SELECT cust::text AS customer_key,
			count(*) FILTER (WHERE plain_outcome.refunds = 'events' OR amount IS NULL OR amount >= 0) AS purchases,
			coalesce(sum(amount), 0) AS revenue
		FROM shop WHERE t > '2024-03-31' AND t <= '2024-06-29' GROUP BY cust
	)
	SELECT r.*, coalesce(f.purchases, 0), coalesce(f.revenue, 0), coalesce(f.purchases, 0) > 0
	FROM readings r LEFT JOIN future f ON f.customer_key IS NOT DISTINCT FROM r.customer_key
$$;
-- rows of the function and of plain SQL, rows in one and not the other,
-- and the dimensions whose AUC differs from the count over all pairs
CREATE FUNCTION compare_outcome(refunds text, OUT plain_rows bigint, OUT function_rows bigint,
								OUT differ bigint, OUT auc_checked bigint, OUT auc_differ bigint)
	LANGUAGE sql AS $$
	WITH p AS (
		SELECT * FROM plain_outcome(refunds)
	), o AS (
		SELECT * FROM rfm_segment_outcomes('shop', 'cust', 't', 'amount', '2024-03-31', '90 days',
										   refunds => compare_outcome.refunds)
	), long AS (
		SELECT p.rule_set, d.dim, d.val, p.is_active, p.purchases, p.revenue
		FROM p, LATERAL (VALUES ('segment', p.segment), ('r', p.r::text), ('f', p.f::text),
								(CASE p.rule_set WHEN 'rffl' THEN 'l' ELSE 'm' END, p.third::text)) d(dim, val)
	), plain AS (
		SELECT rule_set, dim, val, count(*) AS customers, count(*) FILTER (WHERE is_active) AS active,
			count(*) FILTER (WHERE is_active)::float8 / count(*) AS share_active,
			avg(purchases)::float8 AS mean_purchases, avg(revenue) AS mean_revenue
		FROM long GROUP BY 1, 2, 3
	), shares AS (
		SELECT rule_set, segment, count(*) FILTER (WHERE is_active)::float8 / count(*) AS share
		FROM p GROUP BY 1, 2
	), scored AS (
		SELECT p.rule_set, d.dim, d.score, p.is_active
		FROM p JOIN shares s ON s.rule_set = p.rule_set AND s.segment = p.segment,
			LATERAL (VALUES ('segment', s.share), ('r', p.r::float8), ('f', p.f::float8),
							(CASE p.rule_set WHEN 'rffl' THEN 'l' ELSE 'm' END, p.third::float8)) d(dim, score)
		WHERE d.score IS NOT NULL
	), levels AS (
		SELECT rule_set, dim, score, count(*) FILTER (WHERE is_active) AS a, count(*) FILTER (WHERE NOT is_active) AS i
		FROM scored GROUP BY 1, 2, 3
	), pairs AS (
		-- every (active, inactive) pair, counted by their scores
		SELECT x.rule_set, x.dim,
			sum(x.a * y.i * CASE WHEN x.score > y.score THEN 1 WHEN x.score = y.score THEN 0.5 ELSE 0 END)
				/ sum(x.a * y.i) AS auc
		FROM levels x JOIN levels y ON y.rule_set = x.rule_set AND y.dim = x.dim
		GROUP BY 1, 2
	)
	SELECT (SELECT count(*) FROM plain), (SELECT count(*) FROM o),
		(SELECT count(*) FROM (SELECT * FROM plain EXCEPT ALL
							   SELECT rule_set, dimension, value, customers, active, share_active, mean_purchases,
								   mean_revenue FROM o) x),
		(SELECT count(*) FROM pairs),
		(SELECT count(*) FROM pairs x JOIN (SELECT DISTINCT rule_set, dimension, auc FROM o) y
			ON y.rule_set = x.rule_set AND y.dimension = x.dim WHERE NOT abs(x.auc - y.auc) < 1e-12)
$$;
SELECT * FROM compare_outcome('events');
-- refunds: in the horizon, before as_of, and a customer with refunds only
INSERT INTO shop SELECT c, '2024-05-01 12:00+00', -12.5 FROM generate_series(1, 1500, 7) c;
INSERT INTO shop SELECT c, '2024-02-01 12:00+00', -40 FROM generate_series(1, 1500, 11) c;
INSERT INTO shop VALUES (5000, '2024-01-15 00:00+00', -30), (5001, '2024-05-01', -30);
SELECT refunds, c.* FROM unnest(ARRAY['events', 'adjust']) refunds, compare_outcome(refunds) c ORDER BY 1 DESC;
SELECT rule_set, dimension, customers, active FROM rfm_segment_outcomes('shop', 'cust', 't', 'amount', '2024-03-31', '90 days',
																	   refunds => 'adjust')
WHERE value IS NULL ORDER BY 1 DESC, 2;
-- refunds counted as events: a refund in the horizon is activity
SELECT refunds, sum(active) FILTER (WHERE rule_set = 'standard' AND dimension = 'r') AS active
FROM unnest(ARRAY['events', 'adjust']) refunds,
	rfm_segment_outcomes('shop', 'cust', 't', 'amount', '2024-03-31', '90 days', refunds => refunds)
GROUP BY 1 ORDER BY 1;

-- A horizon past the last event: a notice, since the time after it counts
-- as no activity; none when it ends exactly at the last event.
SELECT max(t) AS last_event FROM shop;
SELECT count(*) FROM rfm_segment_outcomes('shop', 'cust', 't', 'amount', '2024-10-01', '90 days');
SELECT count(*) FROM rfm_segment_outcomes('shop', 'cust', 't', 'amount', (SELECT max(t) FROM shop) - interval '30 days', '30 days');

-- one rule set, without an amount, and with a weight column
SELECT rule_set, count(*) AS rows, sum(customers) FILTER (WHERE dimension = 'segment') AS customers,
	count(*) FILTER (WHERE mean_revenue IS NULL) AS without_revenue
FROM rfm_segment_outcomes('shop', 'cust', 't', NULL, '2024-03-31', '90 days') GROUP BY 1;
SELECT rule_set, dimension, count(*) AS values_, sum(customers) AS customers
FROM rfm_segment_outcomes('shop', 'cust', 't', 'amount', '2024-03-31', '3 months', 'amount', rule_sets => ARRAY['rffl'])
GROUP BY 1, 2 ORDER BY 1, 2;

-- ---------------------------------------------------------------------------
-- Bad input, with SQLSTATE and hint
-- ---------------------------------------------------------------------------
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT * FROM rfm_category_transitions('market', 'nobody', 'at', 'category', '2024-06-30');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_category_transitions('market', 'user_id', 'at', 'nope', '2024-06-30');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_category_moves('market', 'user_id', 'category', 'category', '2024-06-30');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_category_moves('market', 'user_id', 'at', 'category', '2024-06-30', weight_column => 'category');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_category_transitions('market', 'user_id', 'at', 'category', NULL);
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_category_transitions('market', 'user_id', 'at', 'category', 'infinity');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_category_transitions('market', 'user_id', 'at', 'category', '2024-06-30', '0');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_category_moves('market', 'user_id', 'at', 'category', '2024-06-30', '-1 day');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_category_moves('market', 'user_id', 'at', 'category', '2024-06-30', NULL);
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_category_transitions('market', 'user_id', 'at', NULL, '2024-06-30');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_category_transitions(NULL, 'user_id', 'at', 'category', '2024-06-30');
\echo SQLSTATE :SQLSTATE
CREATE TABLE bad_market (user_id int, at timestamptz, category point, weight float8);
INSERT INTO bad_market VALUES (1, '2024-06-01', point(1, 2), 'NaN');
SELECT * FROM rfm_category_transitions('bad_market', 'user_id', 'at', 'category', '2024-06-30');
\echo SQLSTATE :SQLSTATE
ALTER TABLE bad_market ALTER COLUMN category TYPE text;
SELECT * FROM rfm_category_transitions('bad_market', 'user_id', 'at', 'category', '2024-06-30', weight_column => 'weight');
\echo SQLSTATE :SQLSTATE
-- only the rows of the windows are read (a range of the time column): an
-- infinite time lies outside them, and is neither read nor an error
UPDATE bad_market SET at = 'infinity';
SELECT * FROM rfm_category_transitions('bad_market', 'user_id', 'at', 'category', '2024-06-30');
\echo SQLSTATE :SQLSTATE

SELECT * FROM rfm_next_purchase_rules('np', 'cust', 't', 'nope');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_next_purchase_rules('np', 'cust', 'item', 'item');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_next_purchase_rules('np', 'cust', 't', 'item', min_lag => '-1 day');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_next_purchase_rules('np', 'cust', 't', 'item', max_lag => '0');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_next_purchase_rules('np', 'cust', 't', 'item', max_lag => '1 month -40 days');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_next_purchase_rules('np', 'cust', 't', 'item', min_lag => '100 days', max_lag => '90 days');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_next_purchase_rules('np', 'cust', 't', 'item', max_lag => NULL);
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_next_purchase_rules('np', 'cust', 't', 'item', min_customers => 0);
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_next_purchase_rules('np', 'cust', 't', 'item', min_amount => 10);
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_next_purchase_rules('np', 'cust', 't', 'item', amount_column => 'amount', min_amount => 'NaN');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_next_purchase_rules('np', 'cust', 't', 'item', amount_column => 'item', min_amount => 1);
\echo SQLSTATE :SQLSTATE
CREATE TABLE bad_np (cust point, t timestamptz, item text, amount numeric);
SELECT * FROM rfm_next_purchase_rules('bad_np', 'cust', 't', 'item');
\echo SQLSTATE :SQLSTATE
ALTER TABLE bad_np ALTER COLUMN cust TYPE int USING 1;
INSERT INTO bad_np VALUES (1, '2024-01-01', 'a', 'NaN');
SELECT * FROM rfm_next_purchase_rules('bad_np', 'cust', 't', 'item', amount_column => 'amount', min_amount => 1);
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_next_purchase_rules('np', 'cust', 't', 'item', max_lag => '300000 years');
\echo SQLSTATE :SQLSTATE

SELECT * FROM rfm_segment_outcomes('shop', 'cust', 't', 'amount', NULL, '90 days');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_segment_outcomes('shop', 'cust', 't', 'amount', '2024-03-31', NULL);
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_segment_outcomes('shop', 'cust', 't', 'amount', '2024-03-31', '-90 days');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_segment_outcomes('shop', 'cust', 't', 'amount', 'infinity', '90 days');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_segment_outcomes('shop', 'cust', 't', NULL, '2024-03-31', '90 days', rule_sets => ARRAY['standard']);
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_segment_outcomes('shop', 'cust', 't', 'amount', '2024-03-31', '90 days', rule_sets => ARRAY['rffl', 'rffl']);
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_segment_outcomes('shop', 'cust', 't', 'amount', '2024-03-31', '90 days', rule_sets => ARRAY['nope']);
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_segment_outcomes('shop', 'cust', 'nope', 'amount', '2024-03-31', '90 days');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_segment_outcomes('shop', 'cust', 't', 'amount', '2024-03-31', '90 days', refunds => 'refund');
\echo SQLSTATE :SQLSTATE

-- past rfm_segment.max_memory: 53400, with a hint (the transitions read
-- by rows; under 'auto' they read the states instead, above)
SET rfm_segment.max_memory = '64kB';
SET rfm_segment.scan = 'rows';
SELECT count(*) FROM rfm_category_transitions('market', 'user_id', 'at', 'category', '2024-06-30');
\echo SQLSTATE :SQLSTATE
RESET rfm_segment.scan;
SELECT count(*) FROM rfm_next_purchase_rules('np', 'cust', 't', 'item');
\echo SQLSTATE :SQLSTATE
RESET rfm_segment.max_memory;
\set VERBOSITY terse

DROP FUNCTION plain_mains(timestamptz, interval), brute_rules(regclass, name, interval, interval, int, numeric),
	plain_outcome(text), compare_outcome(text);
DROP VIEW shop_purchases;
DROP TABLE market, market_shuffled, other_zone, np, np_shuffled, np_empty, settings, function_rules, plain_rules, planted, shop,
	outcome, bad_market, bad_np;
