-- The one-call analysis: the same numbers as the SQL composition of
-- rfm_metrics, rfm_breaks, rfm_score and rfm_segment, for every kind of
-- source column, serial and parallel; snapshots; transitions; alerts.
\set VERBOSITY terse
SET TimeZone = 'UTC';

-- Events with ties, refunds, NULL amounts and weights, NULL times, a NULL
-- customer, and events after the as-of dates.
CREATE TABLE ev AS
SELECT CASE WHEN g % 997 = 0 THEN NULL ELSE (g * 7919) % 700 END::bigint AS cust,
	CASE WHEN g % 503 = 0 THEN NULL
		 ELSE '2023-01-01 00:00+00'::timestamptz + ((g::bigint * 104729) % 63072000) * interval '1 second' END AS t,
	CASE WHEN g % 11 = 0 THEN NULL WHEN g % 13 = 0 THEN -((g % 300) / 4.0) ELSE (g % 400) / 4.0 END AS amount,
	CASE g % 4 WHEN 0 THEN NULL WHEN 1 THEN 0.1::float8 WHEN 2 THEN 1 ELSE 0.35 END AS w
FROM generate_series(1, 30000) g;
-- and 60 customers whose first event comes in 2024
INSERT INTO ev
SELECT 1000 + g % 60, '2024-03-01 00:00+00'::timestamptz + ((g * 7919) % 10000000) * interval '1 second',
	(g % 50) + 0.99, 1
FROM generate_series(1, 600) g;
ALTER TABLE ev ADD COLUMN d date, ADD COLUMN ts timestamp, ADD COLUMN cust_text text,
	ADD COLUMN cust_int int, ADD COLUMN cust_uuid uuid, ADD COLUMN cust_num numeric;
UPDATE ev SET d = (t AT TIME ZONE 'UTC')::date, ts = t AT TIME ZONE 'UTC', cust_text = 'c' || cust,
	cust_int = cust, cust_uuid = md5(cust::text)::uuid,
	cust_num = CASE WHEN cust % 2 = 0 THEN cust::numeric ELSE round(cust::numeric, 2) END;
ANALYZE ev;

-- The composition, as a DBA would write it with the layer 1-3 functions,
-- for the timestamptz column with amounts and float8 weights.
CREATE FUNCTION composed(as_of timestamptz, bins int, method text, rule_set text)
	RETURNS TABLE (customer_key text, first_event timestamptz, last_event timestamptz,
				   recency_days float8, tenure_days float8, frequency bigint,
				   weighted_frequency numeric, frequency_last_period bigint,
				   weighted_frequency_last_period numeric, monetary numeric, avg_amount numeric,
				   ignored_after_as_of bigint, r int, f int, m int, segment text)
	LANGUAGE sql AS $$
	WITH mt AS (
		SELECT cust, (rfm_metrics(t, amount, w, as_of, '30 days')).* FROM ev GROUP BY cust
	), present AS (
		SELECT * FROM mt WHERE frequency > 0
	), b AS (
		SELECT rfm_breaks(recency_days, bins, method) AS rb,
			rfm_breaks(weighted_frequency, bins, method) AS fb,
			rfm_breaks(monetary, bins, method) AS mb FROM present
	), s AS (
		SELECT p.*, rfm_score_desc(p.recency_days, b.rb, method) AS r,
			rfm_score(p.weighted_frequency, b.fb, method) AS f,
			rfm_score(p.monetary, b.mb, method) AS m
		FROM present p, b
	)
	SELECT cust::text, first_event, last_event, recency_days, tenure_days, frequency,
		weighted_frequency, frequency_last_period, weighted_frequency_last_period,
		monetary, avg_amount, ignored_after_as_of, r, f, m, rfm_segment(r, f, m, rule_set)
	FROM s
$$;

-- Rows in one and not the other, both ways, and the row counts.
CREATE FUNCTION compare(a text, b text, OUT rows_a bigint, OUT rows_b bigint, OUT only_a bigint, OUT only_b bigint)
	LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('SELECT count(*) FROM (%s) x', a) INTO rows_a;
	EXECUTE format('SELECT count(*) FROM (%s) x', b) INTO rows_b;
	EXECUTE format('SELECT count(*) FROM ((%s) EXCEPT ALL (%s)) x', a, b) INTO only_a;
	EXECUTE format('SELECT count(*) FROM ((%s) EXCEPT ALL (%s)) x', b, a) INTO only_b;
END $$;

SELECT * FROM compare(
	$$SELECT * FROM composed('2024-06-30 00:00+00', 5, 'quantile', 'standard')$$,
	$$SELECT * FROM rfm_analyze('ev', 'cust', 't', 'amount', 'w', '2024-06-30 00:00+00')$$);
SELECT * FROM compare(
	$$SELECT * FROM composed('2023-03-01 00:00+00', 3, 'r_rfm', 'standard')$$,
	$$SELECT * FROM rfm_analyze('ev', 'cust', 't', 'amount', 'w', '2023-03-01 00:00+00', bins => 3, method => 'r_rfm')$$);
SELECT * FROM compare(
	$$SELECT * FROM composed('2030-01-01 00:00+00', 10, 'quantile', 'standard')$$,
	$$SELECT * FROM rfm_analyze('ev', 'cust', 't', 'amount', 'w', as_of => '2030-01-01 00:00+00', bins => 10)$$);

-- The composition in a forced parallel plan gives the same rows too.
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET parallel_leader_participation = off;
SELECT * FROM compare(
	$$SELECT * FROM composed('2024-06-30 00:00+00', 5, 'quantile', 'standard')$$,
	$$SELECT * FROM rfm_analyze('ev', 'cust', 't', 'amount', 'w', '2024-06-30 00:00+00')$$);
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET parallel_leader_participation;

-- Several sizes: the first 1, 10, 100 and 1000 events, each analyzed on
-- its own (composed() reads whatever table is called ev).
ALTER TABLE ev RENAME TO ev_full;
CREATE FUNCTION compare_size(n int, OUT events int, OUT rows_a bigint, OUT rows_b bigint,
							 OUT only_a bigint, OUT only_b bigint) LANGUAGE plpgsql AS $$
BEGIN
	DROP TABLE IF EXISTS ev;
	EXECUTE format('CREATE TABLE ev AS SELECT * FROM ev_full ORDER BY cust, t, amount LIMIT %s', n);
	events := n;
	SELECT * INTO rows_a, rows_b, only_a, only_b FROM compare(
		$q$SELECT * FROM composed('2024-06-30 00:00+00', 5, 'quantile', 'standard')$q$,
		$q$SELECT * FROM rfm_analyze('ev', 'cust', 't', 'amount', 'w', '2024-06-30 00:00+00')$q$);
END $$;
SELECT s.* FROM unnest(ARRAY[1, 10, 100, 1000]) n, compare_size(n) s;
DROP TABLE ev;
DROP FUNCTION compare_size(int);
ALTER TABLE ev_full RENAME TO ev;

-- A date column: whole days, as_of taken as a date in the session TimeZone,
-- first and last event at midnight.  No weight: F scores the frequency.
SET TimeZone = 'Asia/Kolkata';
SELECT * FROM compare(
	$$WITH mt AS (SELECT cust, (rfm_metrics(d, amount, ('2024-06-30 22:00+00'::timestamptz)::date)).* FROM ev GROUP BY cust),
		   p AS (SELECT * FROM mt WHERE frequency > 0),
		   b AS (SELECT rfm_breaks(recency_days, 5) rb, rfm_breaks(frequency, 5) fb, rfm_breaks(monetary, 5) mb FROM p)
	  SELECT cust::text, first_event::timestamptz, last_event::timestamptz, recency_days, tenure_days, frequency,
		  weighted_frequency, frequency_last_period, weighted_frequency_last_period, monetary, avg_amount,
		  ignored_after_as_of, rfm_score_desc(recency_days, rb) r, rfm_score(frequency, fb) f, rfm_score(monetary, mb) m,
		  rfm_segment(rfm_score_desc(recency_days, rb), rfm_score(frequency, fb), rfm_score(monetary, mb))
	  FROM p, b$$,
	$$SELECT * FROM rfm_analyze('ev', 'cust', 'd', 'amount', as_of => '2024-06-30 22:00+00')$$);
-- A timestamp column is taken in the session TimeZone, as its cast is: in
-- UTC, a column of UTC wall times gives what the timestamptz column gives.
SET TimeZone = 'UTC';
SELECT * FROM compare(
	$$SELECT customer_key, recency_days, frequency, monetary, r, f, m, segment
	  FROM rfm_analyze('ev', 'cust', 't', 'amount', as_of => '2024-06-30 00:00+00')$$,
	$$SELECT customer_key, recency_days, frequency, monetary, r, f, m, segment
	  FROM rfm_analyze('ev', 'cust', 'ts', 'amount', as_of => '2024-06-30 00:00+00')$$);

-- No amount column: no monetary score; the third score is the last-period
-- frequency and the rule set defaults to rffl.
SELECT * FROM compare(
	$$WITH mt AS (SELECT cust, (rfm_metrics(t, NULL::numeric, w, '2024-06-30 00:00+00', '14 days')).* FROM ev GROUP BY cust),
		   p AS (SELECT * FROM mt WHERE frequency > 0),
		   b AS (SELECT rfm_breaks(recency_days, 5) rb, rfm_breaks(weighted_frequency, 5) fb,
						rfm_breaks(weighted_frequency_last_period, 5) lb FROM p)
	  SELECT cust::text, rfm_score_desc(recency_days, rb) r, rfm_score(weighted_frequency, fb) f,
		  rfm_score(weighted_frequency_last_period, lb) m,
		  rfm_segment(rfm_score_desc(recency_days, rb), rfm_score(weighted_frequency, fb),
					  rfm_score(weighted_frequency_last_period, lb), 'rffl')
	  FROM p, b$$,
	$$SELECT customer_key, r, f, m, segment
	  FROM rfm_analyze('ev', 'cust', 't', weight_column => 'w', as_of => '2024-06-30 00:00+00', last_period => '14 days')$$);
SELECT segment, count(*) FROM rfm_analyze('ev', 'cust', 't', as_of => '2024-06-30 00:00+00') GROUP BY 1 ORDER BY 1;

-- Key types: bigint, int, text, uuid, and numeric (1.00 and 1 are one
-- customer, by the type's own equality) give the same customers.
SELECT key_type, count(*) AS customers, sum(frequency) AS events, sum(monetary) AS revenue,
	count(DISTINCT segment) AS segments
FROM (SELECT 'bigint' AS key_type, * FROM rfm_analyze('ev', 'cust', 't', 'amount', as_of => '2024-06-30 00:00+00')
	  UNION ALL SELECT 'int', * FROM rfm_analyze('ev', 'cust_int', 't', 'amount', as_of => '2024-06-30 00:00+00')
	  UNION ALL SELECT 'text', * FROM rfm_analyze('ev', 'cust_text', 't', 'amount', as_of => '2024-06-30 00:00+00')
	  UNION ALL SELECT 'uuid', * FROM rfm_analyze('ev', 'cust_uuid', 't', 'amount', as_of => '2024-06-30 00:00+00')
	  UNION ALL SELECT 'numeric', * FROM rfm_analyze('ev', 'cust_num', 't', 'amount', as_of => '2024-06-30 00:00+00')) x
GROUP BY key_type ORDER BY key_type;
-- The NULL customer is a customer, as in GROUP BY.
SELECT customer_key IS NULL AS null_key, frequency FROM rfm_analyze('ev', 'cust', 't', 'amount', as_of => '2024-06-30 00:00+00')
WHERE customer_key IS NULL;

-- as_of NULL: the latest event time of the source.
SELECT * FROM compare(
	$$SELECT * FROM rfm_analyze('ev', 'cust', 't', 'amount')$$,
	$$SELECT * FROM rfm_analyze('ev', 'cust', 't', 'amount', as_of => (SELECT max(t) FROM ev))$$);
-- An empty source, or a date before every event: no customers.
CREATE TABLE empty_ev (LIKE ev);
SELECT count(*) FROM rfm_analyze('empty_ev', 'cust', 't', 'amount');
SELECT count(*) FROM rfm_analyze('ev', 'cust', 't', 'amount', as_of => '2000-01-01');

-- Snapshots: many dates in one scan give what separate runs give.
SELECT * FROM compare(
	$$SELECT * FROM rfm_snapshots('ev', 'cust', 't', 'amount', 'w',
		ARRAY['2023-06-30', '2023-12-31', '2024-06-30', '2030-01-01']::timestamptz[])$$,
	$$SELECT a.d, x.* FROM unnest(ARRAY['2023-06-30', '2023-12-31', '2024-06-30', '2030-01-01']::timestamptz[]) a(d),
		rfm_analyze('ev', 'cust', 't', 'amount', 'w', a.d) x$$);
SELECT snapshot_as_of, count(*) AS customers, sum(frequency) AS events, sum(ignored_after_as_of) AS later
FROM rfm_snapshots('ev', 'cust', 't', 'amount', as_of => ARRAY['2023-06-30', '2024-06-30']::timestamptz[])
GROUP BY 1 ORDER BY 1;

-- Transitions: every customer present at the second date is counted once,
-- the new ones with from_segment NULL.
SELECT sum(customers) AS customers, sum(customers) FILTER (WHERE from_segment IS NULL) AS new_customers
FROM rfm_transitions('ev', 'cust', 't', 'amount', from_as_of => '2023-06-30', to_as_of => '2024-06-30');
SELECT count(*) AS at_second_date,
	count(*) FILTER (WHERE first_event > '2023-06-30') AS first_seen_after_first_date
FROM rfm_analyze('ev', 'cust', 't', 'amount', as_of => '2024-06-30');
SELECT * FROM rfm_transitions('ev', 'cust', 't', 'amount', from_as_of => '2024-03-31', to_as_of => '2024-06-30')
WHERE from_segment = 'Potential Loyalist' OR from_segment IS NULL;
-- revenue_between has one scale for the whole result, whatever the scales
-- of the amounts (numeric without a typmod keeps each sum's own)
CREATE TABLE mixed_scales (cust int, t timestamptz, amount numeric);
INSERT INTO mixed_scales VALUES (1, '2024-01-10', 10.5), (1, '2024-02-10', 2.125), (2, '2024-01-05', 7),
	(2, '2024-02-20', 3), (3, '2024-02-01', 1.1);
SELECT from_segment, to_segment, customers, revenue_between
FROM rfm_transitions('mixed_scales', 'cust', 't', 'amount', from_as_of => '2024-01-31', to_as_of => '2024-02-29', bins => 2);
DROP TABLE mixed_scales;

-- Churn alerts: entered a danger segment, or recency fell by 2 scores.
SELECT count(*) AS alerts, count(*) FILTER (WHERE reason LIKE 'entered%') AS entered,
	count(*) FILTER (WHERE reason LIKE '%recency score fell%') AS recency_fell
FROM rfm_churn_alerts('ev', 'cust', 't', 'amount', from_as_of => '2024-03-31', to_as_of => '2024-06-30');
SELECT customer_key, segment_before, segment_after, r_before, r_after, reason
FROM rfm_churn_alerts('ev', 'cust', 't', 'amount', from_as_of => '2024-03-31', to_as_of => '2024-06-30')
ORDER BY customer_key COLLATE "C" LIMIT 5;
SELECT count(*) AS cold_alerts
FROM rfm_churn_alerts('ev', 'cust', 't', from_as_of => '2024-03-31', to_as_of => '2024-06-30', danger => ARRAY['Cold']);
-- "entered" means from a segment that is not a danger one; danger_moves
-- also alerts on moves between two danger segments (About To Sleep to
-- Lost, say).  The danger segments are the rule set's (danger = true).
SELECT segment FROM rfm_segment_rule WHERE rule_set = 'standard' AND danger ORDER BY priority;
SELECT count(*) FILTER (WHERE NOT d) AS alerts, count(*) FILTER (WHERE d) AS with_danger_moves,
	count(*) FILTER (WHERE d AND reason LIKE 'entered%') - count(*) FILTER (WHERE NOT d AND reason LIKE 'entered%')
		AS danger_to_danger_moves
FROM (SELECT false AS d, * FROM rfm_churn_alerts('ev', 'cust', 't', 'amount', from_as_of => '2024-03-31', to_as_of => '2024-06-30')
	  UNION ALL
	  SELECT true, * FROM rfm_churn_alerts('ev', 'cust', 't', 'amount', from_as_of => '2024-03-31', to_as_of => '2024-06-30',
										   danger_moves => true)) x;
SELECT count(*) AS danger_to_danger, count(*) FILTER (WHERE segment_before <> segment_after) AS all_moves
FROM rfm_churn_alerts('ev', 'cust', 't', 'amount', from_as_of => '2024-03-31', to_as_of => '2024-06-30', danger_moves => true)
WHERE segment_before IN ('At Risk', 'Can''t Lose Them', 'About To Sleep', 'Lost') AND reason LIKE 'entered%';
-- A customer with no segment before (no amount yet) who is in a danger
-- segment after has entered it too.
CREATE TABLE no_segment_before (cust int, t date, amount numeric);
INSERT INTO no_segment_before SELECT g, date '2024-01-01' + (g * 37 % 270), g * 3 FROM generate_series(1, 40) g;
INSERT INTO no_segment_before SELECT g, date '2024-01-01' + (g * 11 % 270), g FROM generate_series(1, 40, 3) g;
INSERT INTO no_segment_before VALUES (99, '2024-01-01', NULL), (99, '2024-04-02', 1);
SELECT customer_key, segment_before, segment_after, reason
FROM rfm_churn_alerts('no_segment_before', 'cust', 't', 'amount', from_as_of => '2024-03-31', to_as_of => '2024-09-30',
					  danger => ARRAY['Others'])
WHERE segment_before IS NULL;
DROP TABLE no_segment_before;

-- Refunds adjusted (since 0.3): rfm_analyze equals the rfm_metrics
-- composition with the same setting, customer for customer; a customer
-- with refunds only is there with frequency 0 and no scores, and stays out
-- of the breaks: adding two such customers changes nobody else's score.
CREATE TABLE adjusted_before AS
SELECT * FROM rfm_analyze('ev', 'cust', 't', 'amount', as_of => '2024-06-30', refunds => 'adjust');
INSERT INTO ev (cust, t, amount) VALUES (-1, '2024-05-05', -12.50), (-2, '2024-05-06', -3.00);
SELECT count(*) AS customers,
	count(*) FILTER (WHERE (a.frequency, a.first_event, a.last_event, a.recency_days, a.monetary, a.avg_amount,
							a.frequency_last_period, a.ignored_after_as_of)
						   IS NOT DISTINCT FROM (m.frequency, m.first_event, m.last_event, m.recency_days, m.monetary,
												 m.avg_amount, m.frequency_last_period, m.ignored_after_as_of)) AS same,
	count(*) FILTER (WHERE a.frequency = 0) AS refunds_only,
	count(*) FILTER (WHERE a.frequency = 0 AND a.r IS NULL AND a.f IS NULL AND a.m IS NULL AND a.segment IS NULL)
		AS refunds_only_unscored
FROM rfm_analyze('ev', 'cust', 't', 'amount', as_of => '2024-06-30', refunds => 'adjust') a
JOIN (SELECT cust::text AS customer_key, (rfm_metrics(t, amount, 1, '2024-06-30', '30 days', 'adjust')).*
	  FROM ev GROUP BY cust) m USING (customer_key);
SELECT count(*) AS purchasers,
	count(*) FILTER (WHERE (a.r, a.f, a.m, a.segment) IS NOT DISTINCT FROM (b.r, b.f, b.m, b.segment)) AS same_scores
FROM rfm_analyze('ev', 'cust', 't', 'amount', as_of => '2024-06-30', refunds => 'adjust') a
JOIN adjusted_before b USING (customer_key);
-- and cancellations move recency and frequency under 'events' only
SELECT count(*) FILTER (WHERE a.frequency <> e.frequency) AS frequency_differs,
	count(*) FILTER (WHERE a.recency_days <> e.recency_days) AS recency_differs,
	count(*) FILTER (WHERE a.monetary IS DISTINCT FROM e.monetary) AS monetary_differs
FROM adjusted_before a
JOIN rfm_analyze('ev', 'cust', 't', 'amount', as_of => '2024-06-30') e USING (customer_key);
DROP TABLE adjusted_before;
SELECT customer_key, frequency, monetary, r, segment
FROM rfm_analyze('ev', 'cust', 't', 'amount', as_of => '2024-06-30', refunds => 'adjust')
WHERE frequency = 0 ORDER BY customer_key;
SELECT snapshot_as_of::date, count(*) FILTER (WHERE frequency = 0) AS refunds_only
FROM rfm_snapshots('ev', 'cust', 't', 'amount', as_of => ARRAY['2024-05-01', '2024-06-30']::timestamptz[], refunds => 'adjust')
GROUP BY 1 ORDER BY 1;
DELETE FROM ev WHERE cust < 0;

-- A NOTICE when as_of is far past the source's latest event (the trap of
-- historical data scored as of today): once per call, naming both times.
SELECT count(*) FROM rfm_analyze('ev', 'cust', 't', 'amount', as_of => '2027-01-01');
SELECT count(*) FROM rfm_retention('ev', 'cust', 't', 'month', 'UTC', '2027-01-01');
SELECT count(*) FROM rfm_analyze('ev', 'cust', 't', 'amount', as_of => '2024-08-01');

-- Privileges and row security are the caller's: a role sees what it may.
CREATE ROLE regress_rfm_reader;
CREATE TABLE secret_ev AS SELECT * FROM ev;
ALTER TABLE secret_ev ENABLE ROW LEVEL SECURITY;
CREATE POLICY only_small ON secret_ev FOR SELECT TO regress_rfm_reader USING (cust < 100);
GRANT SELECT ON secret_ev TO regress_rfm_reader;
SET ROLE regress_rfm_reader;
SELECT count(*) AS customers, max(customer_key::int) < 100 AS only_allowed_rows
FROM rfm_analyze('secret_ev', 'cust', 't', 'amount', as_of => '2024-06-30');
SELECT count(*) FROM rfm_analyze('ev', 'cust', 't', 'amount', as_of => '2024-06-30');
RESET ROLE;
DROP TABLE secret_ev;
DROP ROLE regress_rfm_reader;

-- Column names are identifiers, quoted, never pasted as SQL.
CREATE TABLE "Odd Events" ("Customer ID" int, "when; DROP TABLE ev" timestamptz, "$" numeric);
INSERT INTO "Odd Events" VALUES (1, '2024-01-01', 5), (1, '2024-02-01', 7), (2, '2024-01-15', 1);
SELECT customer_key, frequency, monetary FROM rfm_analyze('"Odd Events"', 'Customer ID', 'when; DROP TABLE ev', '$', as_of => '2024-03-01')
ORDER BY 1;
SELECT count(*) > 0 AS ev_still_there FROM ev;

-- Errors leave no memory behind: 200 failed calls (a NaN deep in the scan,
-- after thousands of customers were allocated) do not grow the backend.
CREATE TABLE bad_ev AS SELECT * FROM ev;
INSERT INTO bad_ev (cust, t, amount) VALUES (1, '2024-01-01', 'NaN');
CREATE FUNCTION memory_now() RETURNS bigint LANGUAGE sql AS
	'SELECT sum(total_bytes)::bigint FROM pg_backend_memory_contexts';
CREATE FUNCTION fail_many(n int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	failures int := 0;
BEGIN
	FOR i IN 1 .. n LOOP
		BEGIN
			PERFORM count(*) FROM rfm_analyze('bad_ev', 'cust_text', 't', 'amount', 'w', '2024-06-30');
		EXCEPTION WHEN invalid_parameter_value THEN
			failures := failures + 1;
		END;
	END LOOP;
	RETURN failures;
END $$;
SELECT fail_many(5);	-- warm the caches
SELECT memory_now() AS before \gset
SELECT fail_many(200) AS failures;
SELECT memory_now() - :before < 1024 * 1024 AS grew_less_than_1mb;
DROP FUNCTION fail_many(int), memory_now();
DROP TABLE bad_ev;

-- statement_timeout and cancel stop the scan.
CREATE VIEW endless AS SELECT g % 1000 AS cust, now() - g * interval '1 second' AS t FROM generate_series(1, 100000000) g;
SET statement_timeout = '300ms';
SELECT count(*) FROM rfm_analyze('endless', 'cust', 't', as_of => now());
RESET statement_timeout;

DROP VIEW endless;
DROP TABLE ev, empty_ev, "Odd Events";
DROP FUNCTION composed(timestamptz, int, text, text), compare(text, text);

-- rfm_analyze selects the values its cut points read rather than sorting
-- every customer's (scoring.c, rfm_select_breaks): its scores equal those
-- of rfm_breaks, which sorts, for one customer to thousands, distinct
-- values and heavy ties (one value for all, two, three), both methods and
-- several bins.  Mismatched scores, all cases together:
CREATE TABLE sel (c int, t timestamptz, amount numeric);
CREATE FUNCTION selection_mismatches() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	bad bigint := 0;
	k bigint;
	n int;
	nvalues int;
	nbins int;
	how text;
BEGIN
	FOREACH n IN ARRAY ARRAY[1, 2, 5, 16, 17, 18, 33, 100, 1000, 5000] LOOP
		FOREACH nvalues IN ARRAY ARRAY[1, 2, 3, 7, 1000000] LOOP
			TRUNCATE sel;
			INSERT INTO sel
			SELECT g, '2024-01-01 00:00+00'::timestamptz + (g * 7919 % 97) * interval '1 hour',
				(g::bigint * 104729) % nvalues - nvalues / 3
			FROM generate_series(1, n) g;
			FOREACH how IN ARRAY ARRAY['quantile', 'r_rfm'] LOOP
				FOREACH nbins IN ARRAY ARRAY[2, 5, 10] LOOP
					SELECT count(*) INTO k
					FROM rfm_analyze('sel', 'c', 't', 'amount', as_of => '2024-02-01', bins => nbins, method => how) a,
						(SELECT rfm_breaks(recency_days, nbins, how) AS rb, rfm_breaks(frequency, nbins, how) AS fb,
							rfm_breaks(monetary, nbins, how) AS mb
						 FROM rfm_analyze('sel', 'c', 't', 'amount', as_of => '2024-02-01') WHERE frequency > 0) b
					WHERE a.r IS DISTINCT FROM rfm_score_desc(a.recency_days, b.rb, how)
					   OR a.f IS DISTINCT FROM rfm_score(a.frequency, b.fb, how)
					   OR a.m IS DISTINCT FROM rfm_score(a.monetary, b.mb, how);
					bad := bad + k;
				END LOOP;
			END LOOP;
		END LOOP;
	END LOOP;
	RETURN bad;
END $$;
SELECT selection_mismatches();
DROP FUNCTION selection_mismatches();
DROP TABLE sel;
