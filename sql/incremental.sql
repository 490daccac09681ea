-- Incremental models (issue 20): after any sequence of appends and
-- refreshes, every view of an incremental model equals that of a model
-- refreshed in full on the same data; what a watermark cannot see falls
-- back to a full rebuild with a NOTICE.
\set VERBOSITY terse
SET TimeZone = 'UTC';

-- rows of each view of model a, and how many differ from model b's (0:
-- equal row for row, as text)
CREATE FUNCTION pg_temp.model_diff(a text, b text)
	RETURNS TABLE (view text, rows bigint, differ bigint)
	LANGUAGE plpgsql AS $$
DECLARE
	v text;
BEGIN
	FOREACH v IN ARRAY ARRAY['metrics', 'segments', 'segment_summary', 'cohort_segments', 'retention',
							 'cluster_model', 'clusters', 'cluster_profiles', 'clv'] LOOP
		CONTINUE WHEN to_regclass(a || '_' || v) IS NULL;
		view := v;
		EXECUTE format('SELECT count(*) FROM %I', a || '_' || v) INTO rows;
		-- as text: equal values shown alike (a numeric's scale included);
		-- the aliases are no view's column names (the lifetime value's x)
		EXECUTE format('SELECT count(*) FROM ((SELECT row_a::text FROM %1$I row_a EXCEPT ALL SELECT row_b::text FROM %2$I row_b) UNION ALL '
					   '(SELECT row_b::text FROM %2$I row_b EXCEPT ALL SELECT row_a::text FROM %1$I row_a)) d', a || '_' || v, b || '_' || v) INTO differ;
		RETURN NEXT;
	END LOOP;
END
$$;

-- refresh both models of a pair, then compare them; and how the
-- incremental one was refreshed
CREATE FUNCTION pg_temp.step(inc text, ref text)
	RETURNS TABLE (model text, refresh text, views int, differing_rows bigint)
	LANGUAGE plpgsql AS $$
DECLARE
	messages text := current_setting('client_min_messages');
BEGIN
	IF (SELECT m.clv FROM rfm_model m WHERE m.name = inc) THEN
		PERFORM set_config('client_min_messages', 'error', true);
	END IF;
	PERFORM rfm_refresh(inc);
	PERFORM rfm_refresh(ref);
	PERFORM set_config('client_min_messages', messages, true);
	model := inc;
	SELECT i.last_refresh INTO refresh FROM rfm_model_incremental i WHERE i.name = inc;
	SELECT count(*), sum(d.differ) INTO views, differing_rows FROM pg_temp.model_diff(inc, ref) d;
	RETURN NEXT;
END
$$;

-- An event log: an ingest id, customers, times over 2024, amounts with
-- refunds and gaps, weights.
CREATE TABLE inc_events (id bigint, customer_id int, t timestamptz, amount numeric(10,2), w numeric);
INSERT INTO inc_events
SELECT i, 1 + (i * 7) % 60, '2024-01-01'::timestamptz + (i * 37 % 360) * interval '1 day' + (i % 11) * interval '1 hour',
	CASE WHEN i % 19 = 0 THEN NULL WHEN i % 29 = 0 THEN -(i % 13) ELSE 5 + (i * 13) % 200 END,
	1 + i % 3
FROM generate_series(1, 1500) i;
CREATE INDEX ON inc_events (t);
CREATE INDEX ON inc_events (id);

-- a: the time column as watermark, as_of the latest event, with clusters;
-- b: an ingest id as watermark, weights and refunds adjusted; c: a fixed
-- as_of, no amount (the third score is last-period activity); l and m:
-- lifetime value (whose fits do not converge on these rows, so their
-- refreshes run with client_min_messages = error), l at a fixed as_of
-- before the latest events (the purchase days after as_of's day are left
-- out of its states), m at the latest event with an ingest id as
-- watermark.  The lifetime value of an incremental model summarizes the
-- purchase days its states keep, not the source's events
SELECT rfm_create_model('inc_a', 'inc_events', 'customer_id', 't', 'amount', clusters => 3, incremental => true);
SELECT rfm_create_model('ref_a', 'inc_events', 'customer_id', 't', 'amount', clusters => 3);
SELECT rfm_create_model('inc_b', 'inc_events', 'customer_id', 't', 'amount', 'w', refunds => 'adjust',
	last_period => '45 days', incremental => true, watermark_column => 'id');
SELECT rfm_create_model('ref_b', 'inc_events', 'customer_id', 't', 'amount', 'w', refunds => 'adjust',
	last_period => '45 days');
SELECT rfm_create_model('inc_c', 'inc_events', 'customer_id', 't', as_of => '2025-03-01', incremental => true);
SELECT rfm_create_model('ref_c', 'inc_events', 'customer_id', 't', as_of => '2025-03-01');
SET client_min_messages = error;
SELECT rfm_create_model('inc_l', 'inc_events', 'customer_id', 't', 'amount', as_of => '2024-11-15 12:00', clv => true, incremental => true);
SELECT rfm_create_model('ref_l', 'inc_events', 'customer_id', 't', 'amount', as_of => '2024-11-15 12:00', clv => true);
SELECT rfm_create_model('inc_m', 'inc_events', 'customer_id', 't', 'amount', clv => true, clv_model => 'bgnbd',
	incremental => true, watermark_column => 'id');
SELECT rfm_create_model('ref_m', 'inc_events', 'customer_id', 't', 'amount', clv => true, clv_model => 'bgnbd');
RESET client_min_messages;
-- its per-customer views store their rows in the order of their bytes, as
-- a full model's do (models), so that a concurrent refresh sorts them in
-- one pass
SELECT v AS view, (SELECT count(*) FROM (SELECT whole_row, lag(whole_row) OVER (ORDER BY whole_row.ctid) AS p FROM inc_m_metrics whole_row) x
				   WHERE x.p OPERATOR(pg_catalog.*>=) x.whole_row) AS out_of_order
FROM (VALUES ('inc_m_metrics')) v(v)
UNION ALL
SELECT 'inc_m_clv', (SELECT count(*) FROM (SELECT whole_row, lag(whole_row) OVER (ORDER BY whole_row.ctid) AS p FROM inc_m_clv whole_row) x
					 WHERE x.p OPERATOR(pg_catalog.*>=) x.whole_row);

-- an incremental model's lifetime value reads its states, not the source
SELECT v, pg_get_viewdef(v::regclass) LIKE '%inc_m_states%' AS reads_states,
	pg_get_viewdef(v::regclass) LIKE '%rfm_clv_summary(%' AS reads_source
FROM unnest(ARRAY['inc_m_clv', 'ref_m_clv']) v;

-- what each model keeps
SELECT name, watermark_column, watermark, folded_rows, states_as_of, as_of, last_refresh
FROM rfm_model_incremental ORDER BY name;
SELECT count(*) AS customers, count(edge) AS at_the_watermark FROM inc_a_states;

-- built in full, they equal the models refreshed in full
SELECT * FROM pg_temp.model_diff('inc_a', 'ref_a') ORDER BY view;

-- appends after the watermark: existing customers, new ones (61..70)
-- whose only events are new, and rows with no customer (left out of the
-- metrics, counted in the retention triangle, as rfm_retention does)
INSERT INTO inc_events
SELECT 1500 + i, CASE WHEN i % 2 = 0 THEN 1 + i % 60 WHEN i % 9 = 0 THEN NULL ELSE 60 + i % 11 END,
	'2024-12-27 10:00'::timestamptz + i * interval '3 hours', 10 + i % 50, 1
FROM generate_series(1, 40) i;
SELECT s.* FROM unnest(ARRAY['a', 'b', 'c', 'l', 'm']) m, LATERAL pg_temp.step('inc_' || m, 'ref_' || m) s ORDER BY 1;
SELECT customer_id, frequency, segment FROM inc_a_metrics WHERE customer_id > 60 ORDER BY customer_id;

-- events exactly at the watermark: they were kept apart as the edge, so
-- a later event at the same time is counted once, incrementally
SELECT watermark FROM rfm_model_incremental WHERE name = 'inc_a';
SELECT count(*) AS customers_at_the_watermark FROM inc_a_states WHERE edge IS NOT NULL;
INSERT INTO inc_events SELECT 1541, 5, max(t), 33, 1 FROM inc_events;
INSERT INTO inc_events SELECT 1542, 71, max(t), 44, 1 FROM inc_events;
SELECT s.* FROM unnest(ARRAY['a', 'b', 'c', 'l', 'm']) m, LATERAL pg_temp.step('inc_' || m, 'ref_' || m) s ORDER BY 1;
-- and a refresh with nothing new re-reads only them
SELECT s.* FROM unnest(ARRAY['a', 'b', 'c', 'l', 'm']) m, LATERAL pg_temp.step('inc_' || m, 'ref_' || m) s ORDER BY 1;

-- as_of moves 50 days: the last period slides past events it counted
SELECT customer_id, frequency_last_period FROM inc_a_metrics WHERE customer_id IN (2, 5) ORDER BY 1;
INSERT INTO inc_events SELECT 1550 + i, 1 + i, '2025-02-20'::timestamptz + i * interval '1 hour', 20, 2
FROM generate_series(1, 3) i;
SELECT s.* FROM unnest(ARRAY['a', 'b', 'c', 'l', 'm']) m, LATERAL pg_temp.step('inc_' || m, 'ref_' || m) s ORDER BY 1;
SELECT customer_id, frequency_last_period FROM inc_a_metrics WHERE customer_id IN (2, 5) ORDER BY 1;
SELECT DISTINCT as_of FROM inc_a_metrics;

-- late events (before the latest time, but new ids), one of which moves
-- customer 61 to an earlier cohort: model b, whose watermark is the id,
-- folds them in; a and c, whose watermark is the time, see rows more below
-- their watermark and rebuild in full
SELECT to_char(first_event, 'YYYY-MM') AS cohort FROM inc_b_metrics WHERE customer_id = 61;
INSERT INTO inc_events VALUES (1560, 7, '2024-06-01 12:00+00', 99, 1), (1561, 61, '2024-03-05 08:00+00', 12, 1),
	(1562, NULL, '2024-02-01 08:00+00', 1, 1);
SELECT s.* FROM unnest(ARRAY['a', 'b', 'c', 'l', 'm']) m, LATERAL pg_temp.step('inc_' || m, 'ref_' || m) s ORDER BY 1;
SELECT to_char(first_event, 'YYYY-MM') AS cohort FROM inc_b_metrics WHERE customer_id = 61;

-- the latest event moved back (an update a watermark cannot see): with
-- the statistics off (track_counts), so that the update is not counted as
-- one, model b's id and row count are unchanged, but its as_of went back
SET track_counts = off;
UPDATE inc_events SET t = t - interval '10 days' WHERE id = 1553;
SELECT s.* FROM unnest(ARRAY['b']) m, LATERAL pg_temp.step('inc_' || m, 'ref_' || m) s ORDER BY 1;
RESET track_counts;

-- a delete: counted in the statistics, a full rebuild
DELETE FROM inc_events WHERE id = 100;
SELECT s.* FROM unnest(ARRAY['a', 'b', 'c', 'l', 'm']) m, LATERAL pg_temp.step('inc_' || m, 'ref_' || m) s ORDER BY 1;

-- then incremental again
INSERT INTO inc_events SELECT 1600 + i, 1 + i * 5, '2025-02-21'::timestamptz + i * interval '1 minute', 15, 1
FROM generate_series(1, 12) i;
SELECT s.* FROM unnest(ARRAY['a', 'b', 'c', 'l', 'm']) m, LATERAL pg_temp.step('inc_' || m, 'ref_' || m) s ORDER BY 1;

-- full => true rebuilds without a reason
SELECT rfm_refresh('inc_a', full => true);
SELECT last_refresh FROM rfm_model_incremental WHERE name = 'inc_a';
SELECT * FROM pg_temp.model_diff('inc_a', 'ref_a') ORDER BY view;
-- a rebuild reads the source through rfm_model_incremental_rows, whose
-- query may use parallel workers (the statement that writes the states
-- may not): with parallel plans forced, the states are combined from the
-- workers' partial states, and every model's views equal its twin's
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET client_min_messages = error;
SELECT count(*) AS rebuilt FROM unnest(ARRAY['a', 'b', 'c', 'l', 'm']) m, LATERAL rfm_refresh('inc_' || m, full => true) r;
RESET client_min_messages;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
SELECT m AS model, i.last_refresh, count(*) AS views, sum(d.differ) AS differing_rows
FROM unnest(ARRAY['a', 'b', 'c', 'l', 'm']) m
JOIN rfm_model_incremental i ON i.name = 'inc_' || m, LATERAL pg_temp.model_diff('inc_' || m, 'ref_' || m) d
GROUP BY 1, 2 ORDER BY 1;

-- one transaction: a refresh rolled back leaves the states and the views
-- as they were; CONCURRENTLY keeps the views readable meanwhile
INSERT INTO inc_events VALUES (1700, 3, '2025-02-22', 10, 1);
BEGIN;
SET LOCAL jit = on;
SELECT rfm_refresh('inc_a', concurrently => true);
SELECT frequency FROM inc_a_metrics WHERE customer_id = 3;
-- the settings the fold changes for its own statement are the caller's
-- again after it
SELECT current_setting('jit') AS jit, current_setting('enable_hashagg') AS enable_hashagg;
ROLLBACK;
SELECT frequency FROM inc_a_metrics WHERE customer_id = 3;
SELECT watermark FROM rfm_model_incremental WHERE name = 'inc_a';
SELECT s.* FROM unnest(ARRAY['a']) m, LATERAL pg_temp.step('inc_' || m, 'ref_' || m) s ORDER BY 1;

-- the same on dates, with parallel plans forced
CREATE TABLE inc_days (customer_id text, d date, amount numeric);
INSERT INTO inc_days SELECT 'c' || (i % 25), '2024-01-01'::date + (i * 11) % 300, i % 70 FROM generate_series(1, 600) i;
CREATE INDEX ON inc_days (d);
SELECT rfm_create_model('inc_d', 'inc_days', 'customer_id', 'd', 'amount', grain => 'week', incremental => true);
SELECT rfm_create_model('ref_d', 'inc_days', 'customer_id', 'd', 'amount', grain => 'week');
SELECT rfm_create_model('inc_e', 'inc_days', 'customer_id', 'd', 'amount', as_of => '2024-11-01 03:00+00', incremental => true);
SELECT rfm_create_model('ref_e', 'inc_days', 'customer_id', 'd', 'amount', as_of => '2024-11-01 03:00+00');
INSERT INTO inc_days SELECT 'c' || (i % 40), '2024-10-27'::date + i % 9, i FROM generate_series(1, 30) i;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SELECT s.* FROM unnest(ARRAY['d', 'e']) m, LATERAL pg_temp.step('inc_' || m, 'ref_' || m) s ORDER BY 1;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
-- past rfm_segment.max_memory a model's states are scored by the sink that
-- spills (analyze_states.c), the way rfm_segment.scan = states takes for
-- every call: the same views
INSERT INTO inc_days SELECT 'c' || (i % 45), '2024-11-05'::date + i % 5, i FROM generate_series(1, 20) i;
INSERT INTO inc_events VALUES (1701, 61, '2025-02-23', 12, 2), (1702, 3, '2025-02-23', -4, 1);
SET rfm_segment.scan = states;
SELECT s.* FROM unnest(ARRAY['a', 'b', 'c', 'd', 'e', 'l', 'm']) m, LATERAL pg_temp.step('inc_' || m, 'ref_' || m) s ORDER BY 1;
RESET rfm_segment.scan;
-- _metrics reads the states only through its helper's query; the table
-- is still a dependency of the view, so it cannot be dropped from under it
DROP TABLE inc_a_states;
-- in another TimeZone the fixed as_of falls on another date: a full rebuild
SET TimeZone = 'America/New_York';
SELECT s.* FROM unnest(ARRAY['d', 'e']) m, LATERAL pg_temp.step('inc_' || m, 'ref_' || m) s ORDER BY 1;
SET TimeZone = 'UTC';

-- a timestamp (wall time) source, weeks in another time zone than the
-- session's: rows of the latest hours are past as_of's wall time there
CREATE TABLE inc_wall (customer_id int, t timestamp, amount numeric);
INSERT INTO inc_wall SELECT i % 30, '2024-01-01'::timestamp + (i * 13 % 200) * interval '1 day' + (i % 24) * interval '1 hour', i % 50
FROM generate_series(1, 500) i;
CREATE INDEX ON inc_wall (t);
SELECT rfm_create_model('inc_f', 'inc_wall', 'customer_id', 't', 'amount', grain => 'week', tz => 'America/Los_Angeles', incremental => true);
SELECT rfm_create_model('ref_f', 'inc_wall', 'customer_id', 't', 'amount', grain => 'week', tz => 'America/Los_Angeles');
INSERT INTO inc_wall SELECT 25 + i % 10, (SELECT max(t) FROM inc_wall) + i * interval '2 hours', i FROM generate_series(1, 20) i;
SELECT s.* FROM pg_temp.step('inc_f', 'ref_f') s;
INSERT INTO inc_wall SELECT 31 + i % 3, (SELECT max(t) FROM inc_wall) + i * interval '5 hours', i FROM generate_series(1, 6) i;
SELECT s.* FROM pg_temp.step('inc_f', 'ref_f') s;
-- in another session TimeZone the wall times are other instants (as
-- rfm_analyze reads them): the states, read in UTC, are rebuilt (they
-- would keep recency 9 hours off), then folded into in that zone
SET TimeZone = 'Asia/Tokyo';
INSERT INTO inc_wall SELECT 2 + i % 7, (SELECT max(t) FROM inc_wall) + i * interval '3 days', i FROM generate_series(1, 4) i;
SELECT s.* FROM pg_temp.step('inc_f', 'ref_f') s;
INSERT INTO inc_wall SELECT 5 + i % 7, (SELECT max(t) FROM inc_wall) + i * interval '7 hours', i FROM generate_series(1, 4) i;
SELECT s.* FROM pg_temp.step('inc_f', 'ref_f') s;
SELECT name, states_timezone FROM rfm_model_incremental WHERE name IN ('inc_a', 'inc_f') ORDER BY 1;
SET TimeZone = 'UTC';

-- no index on the watermark: every refresh reads the whole source, and a
-- NOTICE says so
CREATE TABLE inc_noindex AS SELECT * FROM inc_events;
SELECT rfm_create_model('inc_n', 'inc_noindex', 'customer_id', 't', 'amount', incremental => true);
SELECT rfm_refresh('inc_n');

-- where the statistics cannot vouch for the rows (a view, a foreign
-- table), the rows below the watermark are counted at each refresh: a
-- late row is seen so
CREATE VIEW inc_events_view AS SELECT * FROM inc_events;
SELECT rfm_model_source_counts('inc_events_view') IS NULL AS no_counts;
SELECT rfm_create_model('inc_v', 'inc_events_view', 'customer_id', 't', 'amount', incremental => true, watermark_column => 'id');
SELECT rfm_create_model('ref_v', 'inc_events_view', 'customer_id', 't', 'amount');
INSERT INTO inc_events VALUES (1800, 9, '2025-02-23 10:00+00', 10, 1);
SELECT s.* FROM pg_temp.step('inc_v', 'ref_v') s;
INSERT INTO inc_events VALUES (1790, 9, '2025-02-23 11:00+00', 10, 1);
SELECT s.* FROM pg_temp.step('inc_v', 'ref_v') s;

-- a partitioned source: the statistics of its partitions; a delete in
-- one partition, made on the partition itself, is seen
CREATE TABLE inc_parts (id bigint, customer_id int, t timestamptz, amount numeric) PARTITION BY RANGE (customer_id);
CREATE TABLE inc_parts_1 PARTITION OF inc_parts FOR VALUES FROM (MINVALUE) TO (30);
CREATE TABLE inc_parts_2 PARTITION OF inc_parts FOR VALUES FROM (30) TO (MAXVALUE);
INSERT INTO inc_parts SELECT id, customer_id, t, amount FROM inc_events WHERE customer_id IS NOT NULL;
CREATE INDEX ON inc_parts (id);
CREATE INDEX ON inc_parts (t);
SELECT (rfm_model_source_counts('inc_parts')).inserted = (SELECT count(*) FROM inc_parts) AS counts_all_partitions;
SELECT rfm_create_model('inc_p', 'inc_parts', 'customer_id', 't', 'amount', incremental => true, watermark_column => 'id');
SELECT rfm_create_model('ref_p', 'inc_parts', 'customer_id', 't', 'amount');
INSERT INTO inc_parts SELECT 1900 + i, i * 7, '2025-02-24'::timestamptz + i * interval '1 day', 30 FROM generate_series(1, 8) i;
SELECT s.* FROM pg_temp.step('inc_p', 'ref_p') s;
DELETE FROM inc_parts_2 WHERE id = 1905;
SELECT s.* FROM pg_temp.step('inc_p', 'ref_p') s;

-- integer weights: the last period's weighted counts slide too, through
-- weeks of appends that move as_of past the events it counted
CREATE TABLE inc_weighted (customer_id int, t timestamptz, w int, amount numeric(8,2));
INSERT INTO inc_weighted SELECT i % 40, '2024-06-01'::timestamptz + i * interval '7 hours', 1 + i % 4, i % 90
FROM generate_series(1, 800) i;
CREATE INDEX ON inc_weighted (t);
SELECT rfm_create_model('inc_w', 'inc_weighted', 'customer_id', 't', 'amount', 'w', last_period => '10 days',
	incremental => true);
SELECT rfm_create_model('ref_w', 'inc_weighted', 'customer_id', 't', 'amount', 'w', last_period => '10 days');
SELECT count(*) FILTER (WHERE lp_w > 0) AS with_weight_in_period FROM inc_w_states;
INSERT INTO inc_weighted SELECT 7 + i % 5, (SELECT max(t) FROM inc_weighted) + i * interval '2 days', 2, 50
FROM generate_series(1, 4) i;
SELECT s.* FROM pg_temp.step('inc_w', 'ref_w') s;
INSERT INTO inc_weighted SELECT 45 + i % 3, (SELECT max(t) FROM inc_weighted) + i * interval '3 days', 3, 20
FROM generate_series(1, 3) i;
SELECT s.* FROM pg_temp.step('inc_w', 'ref_w') s;
SELECT customer_id, frequency_last_period, weighted_frequency_last_period FROM inc_w_metrics
WHERE frequency_last_period > 0 ORDER BY customer_id;

-- the watermark is kept as ISO text, so a refresh reads it back as it was
-- written whatever the session's DateStyle.  In the SQL style it would be
-- '11/05/2024 ...' (November 5 under MDY, May 11 under DMY, which would
-- fold six months of rows in twice), and a zone's abbreviation ('IST' of
-- Europe/Dublin's summer is read as Israel's, an hour off) would move it
CREATE TABLE inc_styles (customer_id int, t timestamptz, amount numeric);
INSERT INTO inc_styles SELECT i % 9, '2024-11-05 10:00+00'::timestamptz - i * interval '1 day', i % 40
FROM generate_series(0, 129) i;
CREATE INDEX ON inc_styles (t);
CREATE TABLE inc_style_days (customer_id int, d date, amount numeric);
INSERT INTO inc_style_days SELECT i % 9, '2024-11-05'::date - i, i % 40 FROM generate_series(0, 129) i;
CREATE INDEX ON inc_style_days (d);
SET DateStyle = 'SQL, MDY';
SELECT rfm_create_model('inc_s', 'inc_styles', 'customer_id', 't', 'amount', incremental => true);
SELECT rfm_create_model('ref_s', 'inc_styles', 'customer_id', 't', 'amount');
SELECT rfm_create_model('inc_t', 'inc_style_days', 'customer_id', 'd', 'amount', incremental => true);
SELECT rfm_create_model('ref_t', 'inc_style_days', 'customer_id', 'd', 'amount');
SELECT name, watermark FROM rfm_model_incremental WHERE name IN ('inc_s', 'inc_t') ORDER BY 1;
SET DateStyle = 'SQL, DMY';
INSERT INTO inc_styles SELECT 3 + i % 4, '2024-11-05 10:00+00'::timestamptz + i * interval '1 day', 7 FROM generate_series(1, 6) i;
INSERT INTO inc_style_days SELECT 3 + i % 4, '2024-11-05'::date + i, 7 FROM generate_series(1, 6) i;
SELECT s.* FROM unnest(ARRAY['s', 't']) m, LATERAL pg_temp.step('inc_' || m, 'ref_' || m) s ORDER BY 1;
-- Dublin's summer time, whose abbreviation IST the SQL style writes
SET TimeZone = 'Europe/Dublin';
SET DateStyle = 'SQL';
INSERT INTO inc_styles SELECT 2 + i % 5, '2025-07-01 10:00+00'::timestamptz + i * interval '20 minutes', 3 FROM generate_series(1, 5) i;
SELECT s.* FROM pg_temp.step('inc_s', 'ref_s') s;
INSERT INTO inc_styles SELECT 4 + i % 5, '2025-07-01 12:00+00'::timestamptz + i * interval '20 minutes', 5 FROM generate_series(1, 5) i;
SELECT s.* FROM pg_temp.step('inc_s', 'ref_s') s;
SELECT name, watermark FROM rfm_model_incremental WHERE name IN ('inc_s', 'inc_t') ORDER BY 1;
RESET DateStyle;
SET TimeZone = 'UTC';

-- the periods a fold merges: distinct, ascending, NULLs left out
SELECT rfm_model_periods_union('{5,1,3}', '{3,7,NULL,1}') AS merged, rfm_model_periods_union(NULL, '{2,2}') AS new_customer,
	rfm_model_periods_union('{4}', NULL) AS no_new, rfm_model_periods_union(NULL, NULL) IS NULL AS neither,
	rfm_model_periods_union('{}', '{NULL}') AS empty, rfm_model_periods_union('{{2,1},{1,3}}', '{-1}') AS flattened;
-- and the periods a fold adds, whose retention cells it counts
SELECT rfm_model_periods_except('{5,1,3,3,9,NULL}', '{9,3,4}') AS added, rfm_model_periods_except('{2,1}', NULL) AS new_customer,
	rfm_model_periods_except(NULL, '{1}') IS NULL AS none, rfm_model_periods_except('{1,2}', '{2,1}') AS nothing_new,
	rfm_model_periods_except('{{1,2},{3,4}}', '{2}') AS flattened;
-- a state's last-period count and weighted sum, as rfm_metrics reports them
SELECT rfm_model_state_last_n(st) AS last_n, rfm_model_state_last_w(st) AS last_w,
	(rfm_metrics_final(st)).frequency_last_period AS reported_n,
	(rfm_metrics_final(st)).weighted_frequency_last_period AS reported_w,
	rfm_model_state_last_n(NULL) IS NULL AND rfm_model_state_last_w(NULL) IS NULL AS strict
FROM (SELECT rfm_metrics_state_agg(t, a, w, '2024-03-01'::timestamptz, '30 days') AS st
	  FROM (VALUES ('2024-02-20'::timestamptz, 10::numeric, 1.50::numeric), ('2024-01-01', 5, 2),
				   ('2024-02-28', 1, 0.25)) v(t, a, w)) s;

-- rfm_state_metrics_at: a state at as_of gives its own metrics; a later
-- (history) state, recency and tenure to as_of and the last period's state
SELECT (m).frequency, (m).recency_days, (m).frequency_last_period
FROM (SELECT rfm_state_metrics_at(
	rfm_metrics_state_agg(t, 1, 1, '2024-01-10', '5 days', 'events'), NULL, '2024-01-10') AS m
	FROM (VALUES ('2024-01-01'::timestamptz), ('2024-01-08')) v(t)) s;
SELECT (m).frequency, (m).recency_days, (m).tenure_days, (m).frequency_last_period
FROM (SELECT rfm_state_metrics_at(
	rfm_metrics_state_agg(t, 1, 1, rfm_model_history_as_of(), '5 days', 'events'),
	rfm_metrics_state_agg(t, 1, 1, '2024-01-10', '5 days', 'events'), '2024-01-10') AS m
	FROM (VALUES ('2024-01-01'::timestamptz), ('2024-01-08')) v(t)) s;
SELECT rfm_state_metrics_at(NULL, NULL, '2024-01-10') IS NULL AS null_history;

-- bad input, with hints
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT rfm_create_model('inc_x', 'inc_events', 'customer_id', 't', incremental => NULL);
\echo SQLSTATE :SQLSTATE
SELECT rfm_create_model('inc_x', 'inc_events', 'customer_id', 't', watermark_column => 'id');
\echo SQLSTATE :SQLSTATE
SELECT rfm_create_model('inc_x', 'inc_events', 'customer_id', 't', as_of_now => true, incremental => true);
\echo SQLSTATE :SQLSTATE
SELECT rfm_create_model('inc_x', 'inc_events', 'customer_id', 't', incremental => true, watermark_column => 'nope');
\echo SQLSTATE :SQLSTATE
CREATE TABLE inc_text (customer_id int, t timestamptz, batch text);
SELECT rfm_create_model('inc_x', 'inc_text', 'customer_id', 't', incremental => true, watermark_column => 'batch');
\echo SQLSTATE :SQLSTATE
SELECT rfm_state_metrics_at(rfm_metrics_state_agg('2024-01-01'::timestamptz, 1, 1, '2024-01-05', '5 days', 'events'),
	NULL, '2024-01-10');
\echo SQLSTATE :SQLSTATE
SELECT rfm_state_metrics_at(rfm_metrics_state_agg('2024-01-12'::timestamptz, 1, 1, '2025-01-05', '5 days', 'events'),
	NULL, '2024-01-10');
\echo SQLSTATE :SQLSTATE
SELECT rfm_state_metrics_at(rfm_metrics_state_agg('2024-01-02'::timestamptz, 1, 1, '2025-01-05', '5 days', 'events'),
	rfm_metrics_state_agg('2024-01-02'::timestamptz, 1, 1, '2024-01-10', '7 days', 'events'), '2024-01-10');
\echo SQLSTATE :SQLSTATE
SELECT rfm_state_metrics_at(rfm_metrics_state_agg('2024-01-02'::timestamptz, 1, 1, '2025-01-05', '5 days', 'events'),
	rfm_metrics_state_agg('2024-01-02'::timestamptz, 1, 1, '2024-01-11', '5 days', 'events'), '2024-01-10');
\echo SQLSTATE :SQLSTATE
SELECT rfm_state_metrics_at(rfm_metrics_state_agg('2024-01-02'::timestamptz, 1, 1, '2025-01-05', '5 days', 'events'),
	NULL, NULL);
\echo SQLSTATE :SQLSTATE
\set VERBOSITY terse

-- dropping a model drops its states and record
SELECT rfm_drop_model(m) FROM unnest(ARRAY['inc_a', 'ref_a', 'inc_b', 'ref_b', 'inc_c', 'ref_c', 'inc_l', 'ref_l', 'inc_m', 'ref_m', 'inc_d', 'ref_d', 'inc_e', 'ref_e', 'inc_f', 'ref_f', 'inc_n', 'inc_v', 'ref_v', 'inc_p', 'ref_p', 'inc_w', 'ref_w', 'inc_s', 'ref_s', 'inc_t', 'ref_t']) m;
SELECT count(*) AS records FROM rfm_model_incremental;
SELECT to_regclass('inc_a_states') AS states;
DROP VIEW inc_events_view;
DROP TABLE inc_parts, inc_weighted, inc_events, inc_days, inc_wall, inc_noindex, inc_text, inc_styles, inc_style_days;
