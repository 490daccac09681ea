-- The two ways of reading a source (rfm_segment.scan: rows in one
-- backend, or one state per customer from a GROUP BY) against each other
-- over random calls: seven functions, 12 trials, each with a random
-- session TimeZone and DateStyle, an integer or text key (NULL keys
-- included), a timestamptz, wall-time or date column, a random as_of,
-- weights, refunds and grains.  Every call runs by rows, by rows in two
-- parallel workers (rfm_analyze, rfm_snapshots and rfm_retention split the
-- customers among the processes), by states, by states in two parallel
-- workers, and under auto past a 64kB rfm_segment.max_memory (the rows way
-- gives up and reads the states); the five must return the same rows,
-- compared as text.
\set VERBOSITY terse
SET client_min_messages = warning;
-- two workers for the rows in parallel, whatever the cores
SET rfm_segment.max_parallel_workers = 8;
SELECT setseed(0.4);
CREATE TABLE scan_out (trial int, fn text, setting text, md5 text, n bigint);
CREATE TABLE scan_src (k int, kt text, t timestamptz, tw timestamp, d date, amount numeric, w numeric,
	cat text, grp int);
INSERT INTO scan_src
SELECT g.k, 'cust ' || g.k, g.t, g.t AT TIME ZONE 'UTC', (g.t AT TIME ZONE 'UTC')::date,
	CASE WHEN random() < 0.05 THEN NULL WHEN random() < 0.05 THEN -round((random() * 50)::numeric, 2)
		 ELSE round((random() * 100)::numeric, (random() * 3)::int) END,
	round((random() * 3)::numeric, (random() * 2)::int),
	(ARRAY['shoes', 'bags', 'hats', 'Éclair', 'zeta', NULL])[1 + (random() * 5)::int], (random() * 3)::int
FROM (SELECT CASE WHEN random() < 0.02 THEN NULL ELSE (random() * 300)::int END,
			 '2024-01-01 00:00+00'::timestamptz + random() * interval '365 days'
	  FROM generate_series(1, 4000)) g(k, t);
ANALYZE scan_src;

-- per trial and function: the md5 of the sorted rows of each way
DO $$
DECLARE
	zone text;
	way text;
	key_column text;
	time_column text;
	as_of timestamptz;
	call text;
	digest text;
	n bigint;
BEGIN
	FOR trial IN 1 .. 12 LOOP
		zone := (ARRAY['UTC', 'Asia/Tokyo', 'America/Los_Angeles', 'Pacific/Kiritimati', 'Europe/Dublin'])[1 + (random() * 4)::int];
		PERFORM set_config('TimeZone', zone, true);
		PERFORM set_config('DateStyle', (ARRAY['ISO, MDY', 'SQL, DMY', 'Postgres, MDY', 'German'])[1 + (random() * 3)::int], true);
		key_column := (ARRAY['k', 'kt'])[1 + random()::int];
		time_column := (ARRAY['t', 'tw', 'd'])[1 + (random() * 2)::int];
		as_of := '2024-06-01 00:00+00'::timestamptz + random() * interval '220 days';
		FOREACH call IN ARRAY ARRAY[
			format('rfm_analyze(''scan_src'', %L, %L, ''amount'', %s, %L, ''20 days'', 4, ''quantile'', NULL, %L)',
				   key_column, time_column, (ARRAY['NULL', quote_literal('w')])[1 + random()::int], as_of,
				   (ARRAY['events', 'adjust'])[1 + random()::int]),
			format('rfm_snapshots(''scan_src'', %L, %L, ''amount'', NULL, ARRAY[%L::timestamptz, %L::timestamptz])',
				   key_column, time_column, as_of - interval '40 days', as_of),
			format('rfm_retention(''scan_src'', %L, %L, %L, %L, %L)', key_column, time_column,
				   (ARRAY['month', 'week', 'quarter'])[1 + (random() * 2)::int], zone, as_of),
			format('rfm_clv_summary(''scan_src'', %L, %L, ''amount'', %L::date, %s, ''week'', %L)', key_column, time_column,
				   (as_of AT TIME ZONE 'UTC')::date - 60,
				   (ARRAY['NULL', quote_literal((as_of AT TIME ZONE 'UTC')::date) || '::date'])[1 + random()::int], zone),
			format('rfm_category_transitions(''scan_src'', %L, %L, ''cat'', %L, %L, %s)', key_column, time_column, as_of,
				   (ARRAY['1 month', '10 days', '45 days'])[1 + (random() * 2)::int],
				   (ARRAY['NULL', quote_literal('w')])[1 + random()::int]),
			format('rfm_category_moves(''scan_src'', %L, %L, ''cat'', %L, %L, %s)', key_column, time_column, as_of,
				   (ARRAY['1 month', '10 days', '45 days'])[1 + (random() * 2)::int],
				   (ARRAY['NULL', quote_literal('w')])[1 + random()::int]),
			format('rfm_analyze_groups(''scan_src'', %L, ''grp'', %L, ''amount'', NULL, %L)', key_column, time_column, as_of)] LOOP
			FOREACH way IN ARRAY ARRAY['rows', 'rows in parallel', 'states', 'states in parallel',
									   'auto past max_memory'] LOOP
				PERFORM set_config('rfm_segment.scan', split_part(way, ' ', 1), true);
				PERFORM set_config('rfm_segment.max_memory', CASE WHEN way LIKE 'auto%' THEN '64kB' ELSE '1GB' END, true);
				PERFORM set_config('max_parallel_workers_per_gather', CASE WHEN way LIKE '%parallel' THEN '2' ELSE '0' END, true);
				PERFORM set_config('parallel_setup_cost', CASE WHEN way LIKE '%parallel' THEN '0' ELSE '1000' END, true);
				PERFORM set_config('parallel_tuple_cost', CASE WHEN way LIKE '%parallel' THEN '0' ELSE '0.1' END, true);
				PERFORM set_config('min_parallel_table_scan_size', CASE WHEN way LIKE '%parallel' THEN '0' ELSE '8MB' END, true);
				BEGIN
					EXECUTE format('SELECT md5(string_agg(x, E''\n'' ORDER BY x COLLATE "C")), count(*) '
								   'FROM (SELECT a::text FROM %s a) s(x)', call) INTO digest, n;
				EXCEPTION WHEN OTHERS THEN
					digest := 'ERROR ' || SQLSTATE || ': ' || SQLERRM;
				END;
				INSERT INTO scan_out VALUES (trial, substr(split_part(call, '(', 1), 5), way, digest, n);
			END LOOP;
		END LOOP;
	END LOOP;
END
$$;
RESET TimeZone;
RESET DateStyle;

SELECT fn, count(*) AS trials,
	count(*) FILTER (WHERE ways = 1) AS agreeing, sum(errors) AS errors
FROM (SELECT trial, fn, count(DISTINCT md5) AS ways, count(*) FILTER (WHERE md5 LIKE 'ERROR%') AS errors
	  FROM scan_out GROUP BY 1, 2) t
GROUP BY fn ORDER BY fn;
DROP TABLE scan_src, scan_out;
