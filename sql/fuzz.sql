-- A targeted fuzzer: every function of the extension called with random
-- and extreme arguments (NULLs, NaN, infinities, empty and malformed
-- arrays, huge and negative numbers, odd intervals, unicode and hostile
-- identifiers).  Every call must return or raise a clean error: a crash
-- ends this test, and an internal error (SQLSTATE XX000, an elog) is
-- counted and must stay at zero.  Deterministic: a fixed seed.
\set VERBOSITY terse
SET TimeZone = 'UTC';
SELECT setseed(0.31);

CREATE TABLE fuzz_events (customer int, at timestamptz, day date, amount numeric, w float8, tag text);
INSERT INTO fuzz_events
SELECT g % 20, '2024-01-01'::timestamptz + g * interval '7 hours', '2024-01-01'::date + g % 90,
	CASE WHEN g % 7 = 0 THEN NULL ELSE g % 50 END, (g % 3) * 0.5, 'c' || g % 20
FROM generate_series(1, 300) g;

-- Pools of literal arguments per type.
CREATE TABLE pool (type text, lit text);
INSERT INTO pool (type, lit) VALUES
	('timestamptz', 'NULL'), ('timestamptz', '''infinity'''), ('timestamptz', '''-infinity'''),
	('timestamptz', '''2024-03-01'''), ('timestamptz', '''4713-11-24 BC'''), ('timestamptz', '''294276-12-31'''),
	('timestamptz', '''2020-02-29 23:59:59.999999+14'''),
	('date', 'NULL'), ('date', '''infinity'''), ('date', '''-infinity'''), ('date', '''2024-02-29'''),
	('date', '''4713-11-24 BC'''), ('date', '''5874897-12-31'''),
	('numeric', 'NULL'), ('numeric', '''NaN'''), ('numeric', '''Infinity'''), ('numeric', '''-Infinity'''),
	('numeric', '0'), ('numeric', '-123.456'), ('numeric', '1e-1000'), ('numeric', '9e130000'),
	('numeric', '-99999999999999999999999999999999999999.99'),
	('float8', 'NULL'), ('float8', '''NaN'''), ('float8', '''Infinity'''), ('float8', '''-Infinity'''),
	('float8', '0'), ('float8', '-0.0'), ('float8', '1e308'), ('float8', '5e-324'), ('float8', '-42.5'),
	('int', 'NULL'), ('int', '0'), ('int', '-1'), ('int', '1'), ('int', '2'), ('int', '5'), ('int', '10'),
	('int', '11'), ('int', '2147483647'), ('int', '-2147483648'),
	('interval', 'NULL'), ('interval', '''0'''), ('interval', '''-1 day'''), ('interval', '''1 month -40 days'''),
	('interval', '''1 microsecond'''), ('interval', '''178000000 years'''), ('interval', '''-178000000 years'''),
	('interval', '''30 days'''),
	('text', 'NULL'), ('text', ''''''), ('text', '''quantile'''), ('text', '''r_rfm'''), ('text', '''month'''),
	('text', '''week'''), ('text', '''UTC'''), ('text', '''Mars/Olympus'''), ('text', '''standard'''),
	('text', '''rffl'''), ('text', '''été'''), ('text', 'repeat(''x'', 10000)'),
	('text', '''seed=1 n_init=2'''), ('text', '''r_rfm''''; DROP TABLE fuzz_events; --'''),
	('float8[]', 'NULL'), ('float8[]', '''{}'''), ('float8[]', '''{NULL}'''), ('float8[]', '''{1,2,3}'''),
	('float8[]', '''{3,2,1}'''), ('float8[]', '''{NaN}'''), ('float8[]', '''{Infinity,-Infinity}'''),
	('float8[]', '''{{1,2},{3,4}}'''), ('float8[]', '''{1,1,1,1,1,1,1,1,1,1,1}'''), ('float8[]', '''{5}'''),
	('name', 'NULL'), ('name', '''customer'''), ('name', '''at'''), ('name', '''day'''), ('name', '''amount'''),
	('name', '''w'''), ('name', '''tag'''), ('name', '''x; DROP TABLE t; --'''), ('name', '''"'''),
	('name', ''''''), ('name', '''ÿ'''),
	('timestamptz[]', 'NULL'), ('timestamptz[]', '''{}'''), ('timestamptz[]', '''{NULL}'''),
	('timestamptz[]', '''{2024-02-01,2024-03-01}'''), ('timestamptz[]', '''{2024-03-01,2024-02-01}'''),
	('timestamptz[]', '''{infinity}'''),
	('state', 'NULL'), ('state', '''(1,t,0,0,30,0,,,0,0,0,0,0,0,0)'''), ('state', '''garbage'''),
	('state', '''(1,d,86400000000,0,1,0,0,86400000000,2,2,0,2,1e40,3.5,1)'''),
	('state', '''(1,t,9223372036854775806,2147483647,2147483647,9223372036854775807,,,0,0,0,0,0,0,0)'''),
	('bool', 'NULL'), ('bool', 'true'), ('bool', 'false'),
	('model', 'NULL'), ('model', '''shop'''), ('model', '''public.shop'''), ('model', '''nobody.shop'''),
	('model', '''"Shop"'''), ('model', '''a.b.c'''), ('model', ''''''), ('model', '''shop; DROP TABLE fuzz_events'''),
	('model', '''month'''), ('model', 'repeat(''s'', 41)'), ('model', '''été''');

-- Call templates: %1, %2, ... are filled with literals of the listed types.
CREATE TABLE template (id serial, sql text, types text[]);
INSERT INTO template (sql, types) VALUES
	('SELECT rfm_metrics(a, b, c) FROM (VALUES (%1::timestamptz, %2::numeric, %3::timestamptz), (''2024-01-01'', 1, %3::timestamptz)) v(a, b, c)', '{timestamptz,numeric,timestamptz}'),
	('SELECT rfm_metrics(a, b, c, d, e) FROM (VALUES (%1::timestamptz, %2::numeric, %3::numeric, %4::timestamptz, %5::interval)) v(a, b, c, d, e)', '{timestamptz,numeric,numeric,timestamptz,interval}'),
	('SELECT rfm_metrics(a, b, c, d, e) FROM (VALUES (%1::date, %2::numeric, %3::float8, %4::date, %5::interval)) v(a, b, c, d, e)', '{date,numeric,float8,date,interval}'),
	('SELECT rfm_metrics(a, b, c) FROM (VALUES (%1::date, %2::numeric, %3::date)) v(a, b, c)', '{date,numeric,date}'),
	('SELECT rfm_metrics_final(rfm_metrics_combine(%1::rfm_metrics_state, %2::rfm_metrics_state))', '{state,state}'),
	('SELECT rfm_metrics_trans(%1::rfm_metrics_state, %2::timestamptz, %3::numeric, %4::timestamptz)', '{state,timestamptz,numeric,timestamptz}'),
	('SELECT rfm_breaks(x, %2::int, %3::text) FROM (VALUES (%1::float8), (1), (2), (%1::float8)) v(x)', '{float8,int,text}'),
	('SELECT rfm_score(%1::float8, %2::float8[], %3::text), rfm_score_desc(%1::float8, %2::float8[])', '{float8,float8[],text}'),
	('SELECT * FROM rfm_score_table(%1::float8[], %2::int, %3::text)', '{float8[],int,text}'),
	('SELECT rfm_segment(%1::int, %2::int, %3::int, %4::text), rfm_segment_standard(%1::int, %2::int, %3::int)', '{int,int,int,text}'),
	('SELECT * FROM rfm_check_rules(%1::text, %2::int)', '{text,int}'),
	('SELECT rfm_cohort(%1::timestamptz, %2::text, %3::text), rfm_cohort_start(%1::timestamptz, %2::text, %3::text)', '{timestamptz,text,text}'),
	('SELECT rfm_cohort(%1::date, %2::text), rfm_cohort_start(%1::date, %2::text), rfm_cohort(%3::timestamptz, %2::text)', '{date,text,timestamptz}'),
	('SELECT count(*) FROM rfm_analyze(''fuzz_events'', %1::name, %2::name, %3::name, %4::name, %5::timestamptz, %6::interval, %7::int, %8::text, %9::text)', '{name,name,name,name,timestamptz,interval,int,text,text}'),
	('SELECT count(*) FROM rfm_snapshots(''fuzz_events'', %1::name, %2::name, %3::name, NULL, %4::timestamptz[], %5::interval, %6::int)', '{name,name,name,timestamptz[],interval,int}'),
	('SELECT count(*) FROM rfm_retention(''fuzz_events'', %1::name, %2::name, %3::text, %4::text, %5::timestamptz)', '{name,name,text,text,timestamptz}'),
	('SELECT count(*) FROM rfm_transitions(''fuzz_events'', %1::name, %2::name, %3::name, NULL, %4::timestamptz, %5::timestamptz)', '{name,name,name,timestamptz,timestamptz}'),
	('SELECT count(*) FROM rfm_churn_alerts(''fuzz_events'', %1::name, %2::name, %3::name, NULL, %4::timestamptz, %5::timestamptz, min_recency_drop => %6::int)', '{name,name,name,timestamptz,timestamptz,int}'),
	('SELECT rfm_kmeans(x, %2::int, %3::text) FROM (VALUES (%1::float8[]), (''{1,2,3}''), (''{4,5,6}''), (%1::float8[])) v(x)', '{float8[],int,text}'),
	('SELECT rfm_kmeans_scan(x, %2::int, %3::int, %4::text) FROM (VALUES (%1::float8[]), (''{1,2,3}''), (''{4,5,6}''), (''{0,0,1}'')) v(x)', '{float8[],int,int,text}'),
	('SELECT rfm_cluster(%1::float8[], (SELECT rfm_kmeans(ARRAY[g, g % 3, 1]::float8[], 2) FROM generate_series(1, 9) g))', '{float8[]}'),
	('SELECT * FROM rfm_kmeans_profile((SELECT rfm_kmeans(ARRAY[g, g % 3, 1]::float8[], %1::int, %2::text) FROM generate_series(1, 30) g))', '{int,text}'),
	('SELECT * FROM rfm_score_table(%1::float8[], %2::float8[], %3::text, %4::bool)', '{float8[],float8[],text,bool}'),
	('SELECT rfm_copy_rule_set(%1::text, %2::text)', '{text,text}'),
	('SELECT rfm_create_model(%1::model, ''fuzz_events'', %2::name, %3::name, %4::name, %5::name, %6::timestamptz, %7::interval, %8::int, %9::text, NULL, %10::text, %11::text, %12::int)', '{model,name,name,name,name,timestamptz,interval,int,text,text,text,int}'),
	('SELECT rfm_model_create(%1::name, %2::model, ''fuzz_events'', %3::name, %4::name, %5::name, NULL, %6::timestamptz, %7::interval, %8::int, %9::text, NULL, %10::text, %11::text, NULL)', '{name,model,name,name,name,timestamptz,interval,int,text,text,text}'),
	('SELECT rfm_refresh(%1::model, %2::bool), rfm_find_model(%1::model), rfm_model_lookup(%1::model, %3::name)', '{model,bool,name}'),
	('SELECT rfm_drop_model(%1::model)', '{model}'),
	-- the workers, with a forged model record naming hostile objects
	('SELECT rfm_model_views(%1::model), rfm_model_refresh(ROW(%2::name, %1::model, ''fuzz_events'', ''customer'', ''at'', NULL, NULL, NULL, ''30 days'', 5, ''quantile'', NULL, ''month'', ''UTC'', %4::int, current_user, now())::rfm_model, %3::bool)', '{model,name,bool,int}'),
	('SELECT rfm_model_drop(ROW(%2::name, %1::model, ''fuzz_events'', ''customer'', ''at'', NULL, NULL, NULL, ''30 days'', 5, ''quantile'', NULL, ''month'', ''UTC'', %3::int, current_user, now())::rfm_model)', '{model,name,int}');

CREATE TABLE outcomes (template int, sqlstate text);
DO $$
DECLARE
	t record;
	call text;
	lit text;
	state text;
BEGIN
	FOR t IN SELECT * FROM template ORDER BY id LOOP
		FOR i IN 1 .. 300 LOOP
			call := t.sql;
			FOR a IN REVERSE cardinality(t.types) .. 1 LOOP
				SELECT p.lit INTO lit FROM pool p WHERE p.type = t.types[a] ORDER BY random() LIMIT 1;
				call := replace(call, '%' || a, lit);
				call := replace(call, '::model', '::text');
			END LOOP;
			BEGIN
				EXECUTE call;
				state := '00000';
			EXCEPTION WHEN OTHERS THEN
				GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE;
			END;
			INSERT INTO outcomes VALUES (t.id, state);
		END LOOP;
	END LOOP;
END $$;

-- The server is still here, the events table too (no injection), and no
-- call hit an internal error.
SELECT count(*) AS calls, count(*) FILTER (WHERE sqlstate = '00000') AS returned,
	count(*) FILTER (WHERE sqlstate <> '00000') AS clean_errors,
	count(*) FILTER (WHERE sqlstate = 'XX000') AS internal_errors,
	(SELECT count(*) FROM fuzz_events) AS events_intact
FROM outcomes;
SELECT left(sqlstate, 2) AS class, count(*) FROM outcomes WHERE sqlstate <> '00000' GROUP BY 1 ORDER BY 1;
-- every function a user can call has a template (support functions are
-- reached through their aggregate or type)
SELECT p.oid::regprocedure AS function_without_template
FROM pg_proc p
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'rfm_segment'
WHERE p.prorettype <> 'trigger'::regtype
  AND p.oid NOT IN (SELECT unnest(ARRAY[t.typinput, t.typoutput, t.typreceive, t.typsend]::oid[]) FROM pg_type t
					UNION ALL
					SELECT unnest(ARRAY[a.aggtransfn, a.aggfinalfn, a.aggcombinefn, a.aggserialfn, a.aggdeserialfn]::oid[]) FROM pg_aggregate a)
  AND NOT EXISTS (SELECT 1 FROM template t WHERE t.sql ~ ('\m' || p.proname || '\('))
ORDER BY p.oid::regprocedure::text COLLATE "C";
-- templates that returned at least once, and failed at least once (some need
-- several valid arguments drawn together, which random pools seldom give)
SELECT count(*) AS templates, count(*) FILTER (WHERE ok > 0) AS some_returned, count(*) FILTER (WHERE err > 0) AS some_failed
FROM (SELECT template, count(*) FILTER (WHERE sqlstate = '00000') AS ok, count(*) FILTER (WHERE sqlstate <> '00000') AS err
	  FROM outcomes GROUP BY template) s;

-- what the successful calls made
SELECT count(*) AS models_made FROM rfm_model;
SELECT rfm_drop_model(quote_ident(schema_name) || '.' || quote_ident(name)) FROM rfm_model;
DELETE FROM rfm_segment_rule WHERE NOT builtin;
DROP TABLE fuzz_events, pool, template, outcomes;
