-- Incremental models against models refreshed in full, over a random
-- sequence of appends (issue 20): every view of eight kinds of model is
-- compared as text after each of 20 steps.  A step appends rows at the
-- watermark, late, in ties or ahead, with customers old, new or NULL and
-- amounts NULL or negative; sometimes deletes a row; and refreshes under a
-- random session TimeZone and DateStyle.  What a watermark cannot see
-- falls back to a full rebuild; either way no view may differ.  The random
-- values come from setseed, but which refreshes fold and which rebuild also
-- depends on when the statistics reach the counters, so only sums are
-- shown: no differing row, every model folded incrementally at least once.
\set VERBOSITY terse
SET TimeZone = 'UTC';
SET client_min_messages = warning;
SELECT setseed(0.21);

CREATE TABLE rnd_events (id bigserial, c int, t timestamptz, d date, tw timestamp, amount numeric(10,2),
	w int, wn numeric);
CREATE INDEX ON rnd_events (t);
CREATE INDEX ON rnd_events (id);
CREATE INDEX ON rnd_events (d);
CREATE INDEX ON rnd_events (tw);
INSERT INTO rnd_events (c, t, amount, w, wn)
SELECT CASE WHEN random() < 0.02 THEN NULL ELSE (random() * 40)::int END,
	'2024-01-01'::timestamptz + random() * interval '300 days',
	CASE WHEN random() < 0.05 THEN NULL WHEN random() < 0.05 THEN -(random() * 20)::numeric(10,2)
		 ELSE (random() * 100)::numeric(10,2) END,
	1 + (random() * 3)::int, round((random() * 3)::numeric, (random() * 3)::int)
FROM generate_series(1, 600);
UPDATE rnd_events SET d = (t AT TIME ZONE 'UTC')::date, tw = t AT TIME ZONE 'UTC';

-- differing rows of every view of two models, as text
CREATE FUNCTION pg_temp.differing(a text, b text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	v text;
	n bigint;
	total bigint := 0;
BEGIN
	FOREACH v IN ARRAY ARRAY['metrics', 'segments', 'segment_summary', 'cohort_segments', 'retention',
							 'cluster_model', 'clusters', 'cluster_profiles', 'clv'] LOOP
		CONTINUE WHEN to_regclass(a || '_' || v) IS NULL;
		EXECUTE format('SELECT count(*) FROM ((SELECT row_a::text FROM %1$I row_a EXCEPT ALL SELECT row_b::text FROM %2$I row_b) '
					   'UNION ALL (SELECT row_b::text FROM %2$I row_b EXCEPT ALL SELECT row_a::text FROM %1$I row_a)) d',
					   a || '_' || v, b || '_' || v) INTO n;
		total := total + n;
	END LOOP;
	RETURN total;
END
$$;

-- 1: the time as watermark, as_of the latest event (the last period
-- slides); 2: an id as watermark, integer weights, refunds adjusted; 3: a
-- date source, numeric weights (the last period re-read), weeks; 4: a
-- wall-time source without amount, in New York; 5: a fixed as_of; 6:
-- refunds adjusted, weights and clusters; 7: a date source at a fixed
-- as_of, quarters; 8: lifetime value (BG/NBD), an id as watermark
SET client_min_messages = error;
SELECT count(*) AS models FROM (VALUES
	(rfm_create_model('i1', 'rnd_events', 'c', 't', 'amount', incremental => true)),
	(rfm_create_model('r1', 'rnd_events', 'c', 't', 'amount')),
	(rfm_create_model('i2', 'rnd_events', 'c', 't', 'amount', 'w', refunds => 'adjust', incremental => true,
					  watermark_column => 'id')),
	(rfm_create_model('r2', 'rnd_events', 'c', 't', 'amount', 'w', refunds => 'adjust')),
	(rfm_create_model('i3', 'rnd_events', 'c', 'd', 'amount', 'wn', last_period => '20 days', grain => 'week',
					  incremental => true, watermark_column => 'id')),
	(rfm_create_model('r3', 'rnd_events', 'c', 'd', 'amount', 'wn', last_period => '20 days', grain => 'week')),
	(rfm_create_model('i4', 'rnd_events', 'c', 'tw', NULL, tz => 'America/New_York', last_period => '7 days',
					  incremental => true)),
	(rfm_create_model('r4', 'rnd_events', 'c', 'tw', NULL, tz => 'America/New_York', last_period => '7 days')),
	(rfm_create_model('i5', 'rnd_events', 'c', 't', 'amount', as_of => '2024-12-15', incremental => true,
					  watermark_column => 'id')),
	(rfm_create_model('r5', 'rnd_events', 'c', 't', 'amount', as_of => '2024-12-15')),
	(rfm_create_model('i6', 'rnd_events', 'c', 't', 'amount', 'w', refunds => 'adjust', last_period => '10 days',
					  clusters => 3, incremental => true)),
	(rfm_create_model('r6', 'rnd_events', 'c', 't', 'amount', 'w', refunds => 'adjust', last_period => '10 days',
					  clusters => 3)),
	(rfm_create_model('i7', 'rnd_events', 'c', 'd', 'amount', as_of => '2024-11-20', grain => 'quarter',
					  incremental => true)),
	(rfm_create_model('r7', 'rnd_events', 'c', 'd', 'amount', as_of => '2024-11-20', grain => 'quarter')),
	(rfm_create_model('i8', 'rnd_events', 'c', 't', 'amount', clv => true, clv_model => 'bgnbd', incremental => true,
					  watermark_column => 'id')),
	(rfm_create_model('r8', 'rnd_events', 'c', 't', 'amount', clv => true, clv_model => 'bgnbd'))) m(views);

CREATE TABLE rnd_steps (step int, model int, refresh text, differing bigint);
-- each step commits, so that its locks are let go
DO $$
DECLARE
	latest timestamptz;
	mode float8;
	n int;
BEGIN
	FOR step IN 1 .. 20 LOOP
		SELECT max(t) INTO latest FROM rnd_events;
		mode := random();
		n := 1 + (random() * 15)::int;
		INSERT INTO rnd_events (c, t, amount, w, wn, d, tw)
		SELECT g.c, g.t, g.amount, g.w, g.wn, (g.t AT TIME ZONE 'UTC')::date, g.t AT TIME ZONE 'UTC'
		FROM (SELECT CASE WHEN random() < 0.03 THEN NULL ELSE (random() * (40 + step))::int END,
					 CASE WHEN mode < 0.15 THEN latest										-- at the watermark
						  WHEN mode < 0.25 THEN latest - random() * interval '10 days'		-- late
						  WHEN mode < 0.35 THEN latest + (random() * 2)::int * interval '1 hour'	-- ties
						  ELSE latest + random() * interval '12 days' END,
					 CASE WHEN random() < 0.05 THEN NULL WHEN random() < 0.05 THEN -(random() * 20)::numeric(10,2)
						  ELSE (random() * 100)::numeric(10,2) END,
					 1 + (random() * 3)::int, round((random() * 3)::numeric, (random() * 3)::int)
			  FROM generate_series(1, n)) g(c, t, amount, w, wn);
		IF random() < 0.1 THEN
			DELETE FROM rnd_events WHERE id = (SELECT min(id) + (random() * 10)::int FROM rnd_events);
		END IF;
		PERFORM set_config('TimeZone', CASE WHEN random() < 0.4
											THEN (ARRAY['Asia/Tokyo', 'America/Los_Angeles', 'Europe/Berlin'])[1 + (random() * 2)::int]
											ELSE 'UTC' END, true);
		PERFORM set_config('DateStyle', (ARRAY['ISO, MDY', 'SQL, DMY', 'Postgres, MDY', 'German'])[1 + (random() * 3)::int], true);
		FOR m IN 1 .. 8 LOOP
			PERFORM rfm_refresh('i' || m);
			PERFORM rfm_refresh('r' || m);
			INSERT INTO rnd_steps
			SELECT step, m, i.last_refresh, pg_temp.differing('i' || m, 'r' || m)
			FROM rfm_model_incremental i WHERE i.name = 'i' || m;
		END LOOP;
		COMMIT;
	END LOOP;
END
$$;
SET client_min_messages = warning;

SELECT model, count(*) AS refreshes, count(*) FILTER (WHERE refresh = 'incremental') > 0 AS folded,
	sum(differing) AS differing_rows
FROM rnd_steps GROUP BY model ORDER BY model;
SELECT count(*) FILTER (WHERE refresh = 'full') > 0 AS some_rebuilt FROM rnd_steps;

SELECT count(*) AS dropped FROM rfm_model m, LATERAL rfm_drop_model(m.name) d WHERE m.name ~ '^[ir][1-8]$';
DROP TABLE rnd_events, rnd_steps;
