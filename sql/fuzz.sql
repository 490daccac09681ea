-- A targeted fuzzer: every function of the extension called with random
-- and extreme arguments (NULLs, NaN, infinities, empty and malformed
-- arrays, huge and negative numbers, odd intervals, unicode and hostile
-- identifiers).  Every call must return or raise a clean error: a crash
-- ends this test, and an internal error (SQLSTATE XX000, an elog) is
-- counted and must stay at zero.  Deterministic: a fixed seed.
--
-- Arguments are drawn from pools by role (a time, a method name, a customer
-- column, ...), each pool holding sensible values and hostile ones.  One
-- call in four draws only the sensible values, so every template also
-- reaches the code behind the argument checks; the output shows, per
-- template, how many calls returned and how many failed with each SQLSTATE
-- class, and a template that never returns fails the test.
\set VERBOSITY terse
SET TimeZone = 'UTC';
-- forged model records make the model workers drop views in schemas that do
-- not exist, and CLV fits on random rows may not converge: their NOTICEs and
-- WARNINGs are noise here
SET client_min_messages = error;
SELECT setseed(0.31);

CREATE TABLE fuzz_events (customer int, at timestamptz, day date, amount numeric, w float8, tag text);
INSERT INTO fuzz_events
SELECT g % 20, '2024-01-01'::timestamptz + g * interval '7 hours', '2024-01-01'::date + g % 90,
	CASE WHEN g % 7 = 0 THEN NULL ELSE g % 50 END, (g % 3) * 0.5, 'c' || g % 20
FROM generate_series(1, 300) g;

-- a customer summary for rfm_clv_holdout
CREATE TABLE fuzz_cbs AS
SELECT * FROM rfm_clv_summary('fuzz_events', 'customer', 'day', 'amount', '2024-02-29', '2024-03-31', 'day');

-- Pools of literal arguments per role; sensible ones are marked ok.
CREATE TABLE pool (role text, lit text, ok boolean DEFAULT false);
INSERT INTO pool (role, lit, ok) VALUES
	('timestamptz', '''2024-03-01''', true), ('timestamptz', '''2024-02-01 12:00+00''', true),
	('date', '''2024-02-29''', true), ('date', '''2024-03-31''', true),
	('numeric', '0', true), ('numeric', '-123.456', true), ('numeric', '17.5', true),
	('float8', '0', true), ('float8', '-42.5', true), ('float8', '3.25', true),
	('int', '2', true), ('int', '3', true),
	('interval', '''30 days''', true), ('interval', '''1 month''', true),
	('method', '''quantile''', true), ('method', '''r_rfm''', true),
	('grain', '''month''', true), ('grain', '''week''', true), ('grain', '''quarter''', true),
	('tz', '''UTC''', true), ('tz', '''Europe/Berlin''', true),
	('rule_set', '''standard''', true), ('rule_set', 'NULL', true),
	('options', '''seed=1 n_init=2''', true), ('options', '''''', true),
	('text', '''fuzz_rules''', true), ('text', '''other_rules''', true),
	('float8[]', '''{1,2,3}''', true), ('float8[]', '''{3.5,0,1}''', true),
	('breaks', '''{1,2,3}''', true), ('breaks', '''{10,20}''', true),
	('customer', '''customer''', true), ('customer', '''tag''', true),
	('time', '''at''', true), ('time', '''day''', true),
	('number', '''amount''', true), ('number', '''w''', true),
	('timestamptz[]', '''{2024-02-01,2024-03-01}''', true),
	('state', '''(1,t,762566400000000,0,30,0,,,0,0,0,0,0,0,0)''', true),  -- as_of 2024-03-01
	('bool', 'true', true), ('bool', 'false', true),
	('model', '''fuzz_model''', true), ('model', '''public.fuzz_model''', true),
	('new_model', '''fuzz_model''', true), ('new_model', '''fuzz_a''', true), ('new_model', '''fuzz_b''', true),
	('new_model', '''fuzz_c''', true),
	('schema', '''public''', true),
	('refunds', '''events''', true), ('refunds', '''adjust''', true),
	('label', '''2024-03''', true), ('label', '''2024-W09''', true), ('label', '''2024-Q1''', true),
	('rule_sets', 'NULL', true), ('rule_sets', '''{rffl}''', true), ('rule_sets', '''{standard,rffl}''', true),
	('names', 'NULL', true), ('names', '''{a,b,c}''', true),
	('names', $$'{recency,"frequency: log1p","monetary: clip=0.99 log1p"}'$$, true),
	('names', $$'{"a: rank",b,"c: robust"}'$$, true),
	('hoptions', '''''', true), ('hoptions', '''method=average''', true),
	('hoptions', '''method=complete two_step=false seed=3''', true),
	('keys', '''{c1,c2,c3}''', true), ('keys', '''{c5}''', true),
	('feature', 'NULL', true), ('feature', '''c''', true),
	('merges', '''{0,2}''', true), ('merges', '''{1,3}''', true),
	('unit', '''week''', true), ('unit', '''day''', true),
	('clv_options', '''''', true), ('clv_options', '''starts=2 max_iter=50''', true),
	('cluster_method', '''kmeans''', true), ('cluster_method', '''hclust''', true),
	('probability', '0.5', true), ('probability', '0.9', true),
	('bgnbd_model', 'ROW(0.24, 4.4, 0.79, 2.4, 0, 0, 0, true, 0, 0, 0)::rfm_bgnbd_model', true),
	('pnbd_model', 'ROW(0.55, 10.6, 0.61, 11.7, 0, 0, 0, true, 0, 0, 0)::rfm_pnbd_model', true),
	('gg_model', 'ROW(6.25, 3.74, 15.44, 0, 0, 0, 0, true, 0, 0, 0)::rfm_gg_model', true),
	('summary', '''fuzz_cbs''', true),
	('watermark', 'NULL', true), ('watermark', '''at''', true), ('watermark', '''day''', true),
	('inc_model', '''fuzz_inc''', true),
	('clv_model', '''pnbd''', true), ('clv_model', '''bgnbd''', true);
INSERT INTO pool (role, lit) VALUES
	('names', '''{a,a,b}'''), ('names', '''{a}'''), ('names', '''{NULL,b,c}'''), ('names', $$'{"a: bogus",b,c}'$$),
	('names', $$'{"a: clip=2",b,c}'$$), ('names', $$'{"a: log1p rank",b,c}'$$), ('names', '''{{a,b},{c,d}}'''),
	('names', $$'{"",b,c}'$$), ('names', $$'{": log1p",b,c}'$$), ('names', $$'{"a: clip=NaN",b,c}'$$),
	('hoptions', 'NULL'), ('hoptions', '''method=single'''), ('hoptions', '''two_step=maybe'''),
	('hoptions', '''micro_clusters=1'''), ('hoptions', '''micro_clusters=x'''), ('hoptions', '''seed=99999999999'''),
	('hoptions', '''two_step=true micro_clusters=10'''),
	('keys', 'NULL'), ('keys', '''{}'''), ('keys', '''{c1,c1}'''), ('keys', '''{NULL}'''), ('keys', '''{{c1},{c2}}'''),
	('feature', '''nope'''), ('feature', ''''''),
	('merges', 'NULL'), ('merges', '''{0,0}'''), ('merges', '''{-1,1}'''), ('merges', '''{0}'''), ('merges', '''{5,1}'''),
	('merges', '''{2147483647,1}'''),
	('clv_model', 'NULL'), ('clv_model', ''''''), ('clv_model', '''BGNBD''');
INSERT INTO pool (role, lit) VALUES
	('timestamptz', 'NULL'), ('timestamptz', '''infinity'''), ('timestamptz', '''-infinity'''),
	('timestamptz', '''4713-11-24 BC'''), ('timestamptz', '''294276-12-31'''),
	('timestamptz', '''2020-02-29 23:59:59.999999+14'''),
	('date', 'NULL'), ('date', '''infinity'''), ('date', '''-infinity'''),
	('date', '''4713-11-24 BC'''), ('date', '''5874897-12-31'''),
	('numeric', 'NULL'), ('numeric', '''NaN'''), ('numeric', '''Infinity'''), ('numeric', '''-Infinity'''),
	('numeric', '1e-1000'), ('numeric', '9e130000'), ('numeric', '-99999999999999999999999999999999999999.99'),
	('float8', 'NULL'), ('float8', '''NaN'''), ('float8', '''Infinity'''), ('float8', '''-Infinity'''),
	('float8', '-0.0'), ('float8', '1e308'), ('float8', '5e-324'),
	('int', 'NULL'), ('int', '0'), ('int', '-1'), ('int', '1'), ('int', '5'), ('int', '10'),
	('int', '11'), ('int', '2147483647'), ('int', '-2147483648'),
	('interval', 'NULL'), ('interval', '''0'''), ('interval', '''-1 day'''), ('interval', '''1 month -40 days'''),
	('interval', '''1 microsecond'''), ('interval', '''178000000 years'''), ('interval', '''-178000000 years'''),
	('method', 'NULL'), ('method', ''''''), ('method', '''QUANTILE'''), ('method', '''r_rfm''''; DROP TABLE fuzz_events; --'''),
	('grain', 'NULL'), ('grain', ''''''), ('grain', '''fortnight'''), ('grain', 'repeat(''x'', 10000)'),
	('tz', 'NULL'), ('tz', ''''''), ('tz', '''Mars/Olympus'''), ('tz', '''été'''),
	('rule_set', '''rffl'''), ('rule_set', '''nope'''), ('rule_set', ''''''),
	('options', 'NULL'), ('options', '''n_init=0'''), ('options', '''seed=x'''), ('options', '''garbage'''),
	('options', '''max_iter=1000000'''), ('options', '''tol=-1'''),
	('text', 'NULL'), ('text', ''''''), ('text', '''standard'''), ('text', '''rffl'''), ('text', '''été'''),
	('text', 'repeat(''x'', 10000)'), ('text', '''x''''; DROP TABLE fuzz_events; --'''),
	('float8[]', 'NULL'), ('float8[]', '''{}'''), ('float8[]', '''{NULL}'''), ('float8[]', '''{NaN}'''),
	('float8[]', '''{Infinity,-Infinity}'''), ('float8[]', '''{{1,2},{3,4}}'''),
	('float8[]', '''{1,1,1,1,1,1,1,1,1,1,1}'''), ('float8[]', '''{5}'''),
	('breaks', 'NULL'), ('breaks', '''{}'''), ('breaks', '''{3,2,1}'''), ('breaks', '''{NaN}'''),
	('breaks', '''{NULL,1}'''), ('breaks', '''{{1,2},{3,4}}'''), ('breaks', '''{1,1,1,1,1,1,1,1,1,1,1}'''),
	('customer', 'NULL'), ('customer', '''x; DROP TABLE t; --'''), ('customer', '''"'''), ('customer', ''''''),
	('customer', '''ÿ'''), ('customer', '''w'''),
	('time', 'NULL'), ('time', '''amount'''), ('time', '''nope'''), ('time', '''"at"'''),
	('number', 'NULL'), ('number', '''tag'''), ('number', '''at'''), ('number', '''nope'''),
	('timestamptz[]', 'NULL'), ('timestamptz[]', '''{}'''), ('timestamptz[]', '''{NULL}'''),
	('timestamptz[]', '''{2024-03-01,2024-02-01}'''), ('timestamptz[]', '''{infinity}'''),
	('state', 'NULL'), ('state', '''garbage'''), ('state', '''(1,t,0,0,30,0,,,0,0,0,0,0,0,0)'''),
	('state', '''(1,d,86400000000,0,1,0,0,86400000000,2,2,0,2,1e40,3.5,1)'''),
	('state', '''(1,t,9223372036854775806,2147483647,2147483647,9223372036854775807,,,0,0,0,0,0,0,0)'''),
	('bool', 'NULL'),
	('model', 'NULL'), ('model', '''nobody.fuzz_model'''), ('model', '''"Shop"'''), ('model', '''a.b.c'''),
	('model', ''''''), ('model', '''shop; DROP TABLE fuzz_events'''), ('model', '''month'''),
	('model', 'repeat(''s'', 41)'), ('model', '''été'''),
	('new_model', 'NULL'), ('new_model', '''"Shop"'''), ('new_model', ''''''), ('new_model', '''public.x'''),
	('new_model', '''shop; DROP TABLE fuzz_events'''), ('new_model', 'repeat(''s'', 41)'), ('new_model', '''été'''),
	('watermark', '''tag'''), ('watermark', '''nope'''), ('watermark', '''x"; DROP TABLE t; --'''),
	('inc_model', 'NULL'), ('inc_model', '''fuzz_model'''), ('inc_model', '''nope'''), ('inc_model', '''x"; DROP TABLE t; --'''),
	('schema', 'NULL'), ('schema', '''nobody'''), ('schema', '''pg_catalog'''), ('schema', '''x"; DROP TABLE t; --'''),
	('refunds', 'NULL'), ('refunds', ''''''), ('refunds', '''ADJUST'''), ('refunds', '''refund'''),
	('label', 'NULL'), ('label', ''''''), ('label', '''2024-13'''), ('label', '''2024-W54'''), ('label', '''2024-Q5'''),
	('label', '''2024-3'''), ('label', '''24-03'''), ('label', '''2024-02-30'''), ('label', 'repeat(''9'', 100)'),
	('rule_sets', '''{}'''), ('rule_sets', '''{NULL}'''), ('rule_sets', '''{nope}'''), ('rule_sets', '''{rffl,rffl}'''),
	('rule_sets', '''{standard}''');

-- the graph functions' roles
INSERT INTO pool (role, lit, ok) VALUES
	('item', '''day''', true), ('item', '''tag''', true),
	('resolution', '1.0', true), ('resolution', '0.5', true),
	('seeds', '''{1,2,3}''', true), ('seeds', '''{0,7}''', true);
INSERT INTO pool (role, lit) VALUES
	('item', 'NULL'), ('item', '''nope'''), ('item', '''at'''), ('item', '''"'''), ('item', '''amount'''),
	('resolution', 'NULL'), ('resolution', '0'), ('resolution', '-1'), ('resolution', '''NaN'''),
	('resolution', '''Infinity'''), ('resolution', '1e308'), ('resolution', '5e-324'),
	('seeds', 'NULL'), ('seeds', '''{}'''), ('seeds', '''{NULL}'''), ('seeds', '''{x}'''), ('seeds', '''{1,NULL}'''),
	('seeds', '''{99999}'''), ('seeds', 'ARRAY(SELECT g::text FROM generate_series(1, 10000) g)');

-- the customer-lifetime-value layer's roles
INSERT INTO pool (role, lit) VALUES
	('unit', 'NULL'), ('unit', ''''''), ('unit', '''fortnight'''), ('unit', '''WEEK'''),
	('cluster_method', 'NULL'), ('cluster_method', '''ward'''), ('cluster_method', ''''''),
	('probability', '0'), ('probability', '1'), ('probability', '''NaN'''), ('probability', '-0.5'),
	('clv_options', 'NULL'), ('clv_options', '''starts=0'''), ('clv_options', '''tol=-1'''), ('clv_options', '''garbage'''),
	('clv_options', '''max_iter=x'''), ('clv_options', '''starts=99'''), ('clv_options', '''tol=NaN'''),
	('bgnbd_model', 'NULL::rfm_bgnbd_model'), ('bgnbd_model', 'ROW(-1, 4.4, 0.79, 2.4, 0, 0, 0, true, 0, 0, 0)::rfm_bgnbd_model'),
	('bgnbd_model', 'ROW(1e300, 1e-300, 1e300, 1e-300, 0, 0, 0, true, 0, 0, 0)::rfm_bgnbd_model'),
	('bgnbd_model', 'ROW(NULL, 4.4, 0.79, 2.4, 0, 0, 0, true, 0, 0, 0)::rfm_bgnbd_model'),
	('bgnbd_model', 'ROW(0.24, 4.4, 1, 0.01, 0, 0, 0, true, 0, 0, 0)::rfm_bgnbd_model'),
	('pnbd_model', 'NULL::rfm_pnbd_model'), ('pnbd_model', 'ROW(0.55, ''Infinity'', 0.61, 11.7, 0, 0, 0, true, 0, 0, 0)::rfm_pnbd_model'),
	('pnbd_model', 'ROW(1e-300, 1e300, 1e-300, 1e-300, 0, 0, 0, true, 0, 0, 0)::rfm_pnbd_model'),
	('pnbd_model', 'ROW(2, 1000, 1, 0.001, 0, 0, 0, true, 0, 0, 0)::rfm_pnbd_model'),
	('gg_model', 'NULL::rfm_gg_model'), ('gg_model', 'ROW(6.25, 0.5, 15.44, 0, 0, 0, 0, true, 0, 0, 0)::rfm_gg_model'),
	('gg_model', 'ROW(0, 3.74, 15.44, 0, 0, 0, 0, true, 0, 0, 0)::rfm_gg_model'),
	('summary', 'NULL'), ('summary', '''fuzz_events'''), ('summary', '''pg_class'''), ('summary', '''nope''');

-- Call templates: %1, %2, ... are filled with literals of the listed roles.
CREATE TABLE template (id serial, name text, sql text, roles text[]);
INSERT INTO template (name, sql, roles) VALUES
	('rfm_metrics', 'SELECT rfm_metrics(a, b, c) FROM (VALUES (%1::timestamptz, %2::numeric, %3::timestamptz), (''2024-01-01'', 1, %3::timestamptz)) v(a, b, c)', '{timestamptz,numeric,timestamptz}'),
	('rfm_metrics weighted', 'SELECT rfm_metrics(a, b, c, d, e) FROM (VALUES (%1::timestamptz, %2::numeric, %3::numeric, %4::timestamptz, %5::interval)) v(a, b, c, d, e)', '{timestamptz,numeric,numeric,timestamptz,interval}'),
	('rfm_metrics date float8', 'SELECT rfm_metrics(a, b, c, d, e) FROM (VALUES (%1::date, %2::numeric, %3::float8, %4::date, %5::interval)) v(a, b, c, d, e)', '{date,numeric,float8,date,interval}'),
	('rfm_metrics date', 'SELECT rfm_metrics(a, b, c) FROM (VALUES (%1::date, %2::numeric, %3::date)) v(a, b, c)', '{date,numeric,date}'),
	('state combine', 'SELECT rfm_metrics_final(rfm_metrics_combine(%1::rfm_metrics_state, %2::rfm_metrics_state))', '{state,state}'),
	('state trans', 'SELECT rfm_metrics_trans(%1::rfm_metrics_state, %2::timestamptz, %3::numeric, %4::timestamptz)', '{state,timestamptz,numeric,timestamptz}'),
	('rfm_breaks', 'SELECT rfm_breaks(x, %2::int, %3::text) FROM (VALUES (%1::float8), (1), (2), (%1::float8)) v(x)', '{float8,int,method}'),
	('rfm_score', 'SELECT rfm_score(%1::float8, %2::float8[], %3::text), rfm_score_desc(%1::float8, %2::float8[])', '{float8,breaks,method}'),
	('rfm_score_table bins', 'SELECT * FROM rfm_score_table(%1::float8[], %2::int, %3::text)', '{float8[],int,method}'),
	('rfm_score_table breaks', 'SELECT * FROM rfm_score_table(%1::float8[], %2::float8[], %3::text, %4::bool)', '{float8[],breaks,method,bool}'),
	('rfm_segment', 'SELECT rfm_segment(%1::int, %2::int, %3::int, coalesce(%4::text, ''standard'')), rfm_segment_standard(%1::int, %2::int, %3::int)', '{int,int,int,rule_set}'),
	('rfm_builtin_rules', 'SELECT count(*) FROM rfm_builtin_rules() WHERE rule_set = coalesce(%1::text, rule_set)', '{rule_set}'),
	('rfm_default_rule_set', 'SELECT rfm_default_rule_set(%1::bool)', '{bool}'),
	('rfm_check_rules', 'SELECT * FROM rfm_check_rules(coalesce(%1::text, ''rffl''), %2::int)', '{rule_set,int}'),
	('rfm_copy_rule_set', 'SELECT rfm_copy_rule_set(coalesce(%1::text, ''standard''), %2::text)', '{rule_set,text}'),
	('rfm_cohort timestamptz', 'SELECT rfm_cohort(%1::timestamptz, %2::text, %3::text), rfm_cohort_start(%1::timestamptz, %2::text, %3::text)', '{timestamptz,grain,tz}'),
	('rfm_cohort date', 'SELECT rfm_cohort(%1::date, %2::text), rfm_cohort_start(%1::date, %2::text), rfm_cohort(%3::timestamptz, %2::text)', '{date,grain,timestamptz}'),
	('rfm_retention', 'SELECT count(*) FROM rfm_retention(''fuzz_events'', %1::name, %2::name, %3::text, %4::text, %5::timestamptz)', '{customer,time,grain,tz,timestamptz}'),
	('rfm_analyze', 'SELECT count(*) FROM rfm_analyze(''fuzz_events'', %1::name, %2::name, %3::name, %4::name, %5::timestamptz, %6::interval, %7::int, %8::text, %9::text, %10::text)', '{customer,time,number,number,timestamptz,interval,int,method,rule_set,refunds}'),
	('rfm_analyze_groups', 'SELECT count(*) FROM rfm_analyze_groups(''fuzz_events'', %1::name, %2::name, %3::name, %4::name, NULL, %5::timestamptz, %6::interval, %7::int, %8::text, %9::text, %10::text)', '{customer,item,time,number,timestamptz,interval,int,method,rule_set,refunds}'),
	('rfm_analyze_0_2', 'SELECT count(*) FROM rfm_analyze_0_2(''fuzz_events'', %1::name, %2::name, %3::name, %4::name, %5::timestamptz, %6::interval, %7::int, %8::text, %9::text)', '{customer,time,number,number,timestamptz,interval,int,method,rule_set}'),
	('rfm_metrics refunds', 'SELECT rfm_metrics(a, b, 1, c, d, e) FROM (VALUES (%1::timestamptz, %2::numeric, %3::timestamptz, %4::interval, %5::text), (''2024-01-01'', -1, %3::timestamptz, %4::interval, %5::text)) v(a, b, c, d, e)', '{timestamptz,numeric,timestamptz,interval,refunds}'),
	('rfm_metrics_state_agg', 'SELECT rfm_metrics_final(rfm_metrics_state_agg(a, b, 1, c, d, e)) FROM (VALUES (%1::timestamptz, %2::numeric, %3::timestamptz, %4::interval, %5::text)) v(a, b, c, d, e)', '{timestamptz,numeric,timestamptz,interval,refunds}'),
	('rfm_metrics last period', 'SELECT rfm_metrics(a, b, c, d) FROM (VALUES (%1::date, %2::numeric, %3::date, %4::interval)) v(a, b, c, d)', '{date,numeric,date,interval}'),
	('rfm_metrics date weighted refunds', 'SELECT rfm_metrics(a, b, c, d, e, f) FROM (VALUES (%1::date, %2::numeric, %3::float8, %4::date, %5::interval, %6::text)) v(a, b, c, d, e, f)', '{date,numeric,float8,date,interval,refunds}'),
	('rfm_period_ends', 'SELECT rfm_period_ends(%1::date, %2::date, %3::text, %4::text)', '{date,date,grain,tz}'),
	('rfm_cohort_date', 'SELECT rfm_cohort_date(%1::text, %2::text)', '{label,grain}'),
	('rfm_snapshots', 'SELECT count(*) FROM rfm_snapshots(''fuzz_events'', %1::name, %2::name, %3::name, NULL, %4::timestamptz[], %5::interval, %6::int, refunds => %7::text)', '{customer,time,number,timestamptz[],interval,int,refunds}'),
	('rfm_snapshots_0_2', 'SELECT count(*) FROM rfm_snapshots_0_2(''fuzz_events'', %1::name, %2::name, %3::name, NULL, %4::timestamptz[], %5::interval, %6::int)', '{customer,time,number,timestamptz[],interval,int}'),
	('rfm_transitions', 'SELECT count(*) FROM rfm_transitions(''fuzz_events'', %1::name, %2::name, %3::name, NULL, %4::timestamptz, %5::timestamptz + interval ''40 days'', refunds => %6::text)', '{customer,time,number,timestamptz,timestamptz,refunds}'),
	('rfm_transitions_0_2', 'SELECT count(*) FROM rfm_transitions_0_2(''fuzz_events'', %1::name, %2::name, %3::name, NULL, %4::timestamptz, %5::timestamptz + interval ''40 days'')', '{customer,time,number,timestamptz,timestamptz}'),
	('rfm_churn_alerts', 'SELECT count(*) FROM rfm_churn_alerts(''fuzz_events'', %1::name, %2::name, %3::name, NULL, %4::timestamptz, %5::timestamptz + interval ''40 days'', min_recency_drop => %6::int, danger_moves => %7::bool, refunds => %8::text, p_alive_below => %9::float8)', '{customer,time,number,timestamptz,timestamptz,int,bool,refunds,probability}'),
	('rfm_churn_alerts_0_2', 'SELECT count(*) FROM rfm_churn_alerts_0_2(''fuzz_events'', %1::name, %2::name, %3::name, NULL, %4::timestamptz, %5::timestamptz + interval ''40 days'', min_recency_drop => %6::int)', '{customer,time,number,timestamptz,timestamptz,int}'),
	('rfm_kmeans', 'SELECT rfm_kmeans(x, %2::int, %3::text) FROM (VALUES (%1::float8[]), (''{1,2,3}''), (''{4,5,6}''), (%1::float8[])) v(x)', '{float8[],int,options}'),
	('rfm_kmeans_scan', 'SELECT rfm_kmeans_scan(x, %2::int, %3::int, %4::text) FROM (VALUES (%1::float8[]), (''{1,2,3}''), (''{4,5,6}''), (''{0,0,1}'')) v(x)', '{float8[],int,int,options}'),
	('rfm_cluster', 'SELECT rfm_cluster(%1::float8[], (SELECT rfm_kmeans(ARRAY[g, g % 3, 1]::float8[], 2) FROM generate_series(1, 9) g))', '{float8[]}'),
	('rfm_kmeans_profile', 'SELECT * FROM rfm_kmeans_profile((SELECT rfm_kmeans(ARRAY[g, g % 3, 1]::float8[], %1::int, %2::text) FROM generate_series(1, 30) g))', '{int,options}'),
	('rfm_kmeans names', 'SELECT rfm_kmeans(x, %2::int, %3::text, %4::text[]) FROM (VALUES (%1::float8[]), (''{1,2,3}''), (''{4,5,6}''), (''{0,9,1}'')) v(x)', '{float8[],int,options,names}'),
	('rfm_kmeans_scan names', 'SELECT rfm_kmeans_scan(x, %2::int, %3::int, %4::text, %5::text[]) FROM (VALUES (%1::float8[]), (''{1,2,3}''), (''{4,5,6}''), (''{0,0,1}'')) v(x)', '{float8[],int,int,options,names}'),
	('rfm_hclust', 'SELECT rfm_hclust(x), rfm_hclust(x, %2::text), rfm_hclust(x, %2::text, %3::text[]) FROM (VALUES (%1::float8[]), (''{1,2,3}''), (''{4,5,6}''), (''{0,9,1}'')) v(x)', '{float8[],hoptions,names}'),
	('rfm_cluster hclust', 'SELECT rfm_cluster(%1::float8[], (SELECT rfm_hclust(ARRAY[g, g % 3, 1]::float8[], %2::text, %3::text[]) FROM generate_series(1, 9) g), %4::int)', '{float8[],hoptions,names,int}'),
	('rfm_hclust_tree cut scan', 'SELECT (SELECT count(*) FROM rfm_hclust_tree(m)), (SELECT count(*) FROM rfm_hclust_cut(m, %2::int)), (SELECT count(*) FROM rfm_hclust_scan(m, %2::int, %3::int)) FROM (SELECT rfm_hclust(ARRAY[g, g % 3, 1]::float8[], %1::text) AS m FROM generate_series(1, 30) g) s', '{hoptions,int,int}'),
	('rfm_hclust forged', 'SELECT * FROM rfm_hclust_cut(ROW(''ward'', false, NULL, 0, true, 3, 1, 3, %1::int[], %2::int[], ''{1,2}'', ''{2,3}'', ''{1,1,1}'', ''{{0},{1},{5}}'', %3::float8[], NULL, 0, ''{0}'', ''{1}'', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::rfm_hclust_model, %4::int)', '{merges,merges,float8[],int}'),
	('rfm_cluster_profile kmeans', 'SELECT * FROM rfm_cluster_profile((SELECT rfm_kmeans(ARRAY[g, g % 3, 1]::float8[], %1::int, %2::text, %3::text[]) FROM generate_series(1, 30) g), %4::text)', '{int,options,names,feature}'),
	('rfm_cluster_profile hclust', 'SELECT * FROM rfm_cluster_profile((SELECT rfm_hclust(ARRAY[g, g % 3, 1]::float8[], %1::text, %2::text[]) FROM generate_series(1, 30) g), %3::int, %4::text)', '{hoptions,names,int,feature}'),
	('rfm_shares text', 'SELECT rfm_shares(k, %2::text[]), rfm_shares(k, %2::text[], %3::float8) FROM (VALUES (%1::text), (''c1''), (NULL)) v(k)', '{text,keys,float8}'),
	('rfm_shares int', 'SELECT rfm_shares(b, %2::int), rfm_shares(b, %2::int, %3::float8) FROM (VALUES (%1::int), (0), (1)) v(b)', '{int,int,float8}'),
	('rfm_create_model', 'SELECT rfm_create_model(%1::text, ''fuzz_events'', %2::name, %3::name, %4::name, %5::name, %6::timestamptz, %7::interval, %8::int, %9::text, NULL, %10::text, %11::text, %12::int, %13::text, cluster_method => %14::text)', '{new_model,customer,time,number,number,timestamptz,interval,int,method,grain,tz,int,refunds,cluster_method}'),
	('rfm_model_create', 'SELECT rfm_model_create(%1::name, %2::text || ''_w'', ''fuzz_events'', %3::name, %4::name, %5::name, NULL, %6::timestamptz, %7::interval, %8::int, %9::text, NULL, %10::text, %11::text, NULL, %12::text, %13::bool, %14::text, NULL, %13::bool, %15::float8, ''week'', 0, 1, NULL, false, %16::bool, %17::name, %18::text)', '{schema,new_model,customer,time,number,timestamptz,interval,int,method,grain,tz,refunds,bool,cluster_method,float8,bool,watermark,clv_model}'),
	('rfm_model_describe', 'SELECT rfm_model_describe(%1::name, %2::text || ''_metrics'', %3::text, ARRAY[''as_of'', %3::text])', '{schema,model,text}'),
	('rfm_refresh', 'SELECT rfm_refresh(%1::text, %2::bool, %4::bool), rfm_find_model(%1::text), rfm_model_lookup(%1::text, %3::name)', '{model,bool,schema,bool}'),
	('rfm_drop_model', 'SELECT rfm_drop_model(%1::text)', '{model}'),
	-- the workers, with a forged model record naming hostile objects
	('rfm_model_refresh forged', 'SELECT rfm_model_views(%1::text), rfm_model_refresh(ROW(%2::name, %1::text, ''fuzz_events'', ''customer'', ''at'', NULL, NULL, NULL, ''30 days'', 5, ''quantile'', NULL, ''month'', ''UTC'', %4::int, current_user, now(), ''events'', false, NULL, ''kmeans'', NULL, false, NULL, NULL, NULL, NULL, NULL, false, NULL)::rfm_model, %3::bool)', '{model,schema,bool,int}'),
	('rfm_model_drop forged', 'SELECT rfm_model_drop(ROW(%2::name, %1::text, ''fuzz_events'', ''customer'', ''at'', NULL, NULL, NULL, ''30 days'', 5, ''quantile'', NULL, ''month'', ''UTC'', %3::int, current_user, now(), ''events'', false, NULL, ''kmeans'', NULL, false, NULL, NULL, NULL, NULL, NULL, false, NULL)::rfm_model)', '{model,schema,int}'),
	-- the graph functions
	('rfm_graph_communities', 'SELECT count(*) FROM rfm_graph_communities(''fuzz_events'', %1::name, %2::name, %3::name, %4::float8, %5::int)', '{customer,customer,number,resolution,int}'),
	('rfm_micro_segments', 'SELECT count(*) FROM rfm_micro_segments(''fuzz_events'', %1::name, %2::name, %3::name, %4::float8, %5::int)', '{customer,item,number,resolution,int}'),
	('rfm_recommend', 'SELECT count(*) FROM rfm_recommend(''fuzz_events'', %1::name, %2::name, %3::int, %4::name, %5::float8, %6::int)', '{customer,item,int,number,resolution,int}'),
	('rfm_lookalike', 'SELECT count(*) FROM rfm_lookalike(''fuzz_events'', %1::name, %2::name, %3::text[], %4::int, %5::name)', '{customer,item,seeds,int,number}'),
	-- the journeys
	('rfm_category_transitions', 'SELECT count(*) FROM rfm_category_transitions(''fuzz_events'', %1::name, %2::name, %3::name, %4::timestamptz, %5::interval, %6::name)', '{customer,time,item,timestamptz,interval,number}'),
	('rfm_category_moves', 'SELECT count(*) FROM rfm_category_moves(''fuzz_events'', %1::name, %2::name, %3::name, %4::timestamptz, %5::interval, %6::name)', '{customer,time,item,timestamptz,interval,number}'),
	('rfm_next_purchase_rules', 'SELECT count(*) FROM rfm_next_purchase_rules(''fuzz_events'', %1::name, %2::name, %3::name, %4::interval, %5::interval, %6::int, %7::name, %8::numeric)', '{customer,time,item,interval,interval,int,number,numeric}'),
	('rfm_segment_outcomes', 'SELECT count(*) FROM rfm_segment_outcomes(''fuzz_events'', %1::name, %2::name, %3::name, %4::timestamptz, %5::interval, NULL, %6::interval, %7::int, %8::text, %9::text[], %10::text)', '{customer,time,number,timestamptz,interval,interval,int,method,rule_sets,refunds}');
-- the customer-lifetime-value layer (0.3)
INSERT INTO template (name, sql, roles) VALUES
	('rfm_clv_summary', 'SELECT count(*) FROM rfm_clv_summary(''fuzz_events'', %1::name, %2::name, %3::name, %4::date, %5::date, %6::text, %7::text)', '{customer,time,number,date,date,unit,tz}'),
	('rfm_bgnbd_fit', 'SELECT rfm_bgnbd_fit(x, t, c, %4::text) FROM (SELECT g % 4, (g % 4) * 3.0, 20.0 + g % 5 FROM generate_series(1, 40) g UNION ALL VALUES (%1::int, %2::float8, %3::float8)) v(x, t, c)', '{int,float8,float8,clv_options}'),
	('rfm_pnbd_fit', 'SELECT rfm_pnbd_fit(x, t, c, %4::text) FROM (SELECT g % 4, (g % 4) * 3.0, 20.0 + g % 5 FROM generate_series(1, 40) g UNION ALL VALUES (%1::int, %2::float8, %3::float8)) v(x, t, c)', '{int,float8,float8,clv_options}'),
	('rfm_gg_fit', 'SELECT rfm_gg_fit(x, m, %3::text) FROM (SELECT 1 + g % 4, (10 + g % 7)::numeric FROM generate_series(1, 40) g UNION ALL VALUES (%1::int, %2::numeric)) v(x, m)', '{int,numeric,clv_options}'),
	('rfm_p_alive', 'SELECT rfm_p_alive(%1, %3::int, %4::float8, %5::float8), rfm_p_alive(%2, %3::int, %4::float8, %5::float8), rfm_expected_purchases(%1, %6::float8, %3::int, %4::float8, %5::float8), rfm_expected_purchases(%2, %6::float8, %3::int, %4::float8, %5::float8)', '{bgnbd_model,pnbd_model,int,float8,float8,float8}'),
	('rfm_expected_purchases_new', 'SELECT rfm_expected_purchases_new(%1, %3::float8), rfm_expected_purchases_new(%2, %3::float8)', '{bgnbd_model,pnbd_model,float8}'),
	('rfm_expected_spend', 'SELECT rfm_expected_spend(%1, %2::int, %3::numeric)', '{gg_model,int,numeric}'),
	('rfm_clv', 'SELECT rfm_clv(%1, %3, %4::int, %5::float8, %6::float8, %7::numeric, %8::float8, %9::float8, %10::float8), rfm_clv(%2, %3, %4::int, %5::float8, %6::float8, %7::numeric, %8::float8, %9::float8, %10::float8)', '{bgnbd_model,pnbd_model,gg_model,int,float8,float8,numeric,float8,float8,float8}'),
	('rfm_clv_holdout', 'SELECT count(*) FROM rfm_clv_holdout(%1, %3::regclass, %4::float8, %5::int) b, rfm_clv_holdout(%2, %3::regclass, %4::float8, %5::int) p', '{bgnbd_model,pnbd_model,summary,float8,int}'),
	('rfm_segment_rule_check', 'SELECT rfm_segment_rule_check(%1::text, %2::int, %1::text, 1, 5, 1, 5, 1, 5, %3::bool, %4::text, %4::text, %3::bool)', '{text,int,bool,text}'),
	('rfm_breaks_state_agg', 'SELECT rfm_breaks(s), max(s::text::rfm_breaks_state::text) FROM (SELECT rfm_breaks_state_agg(x, %2::int, %3::text) AS s FROM (VALUES (%1::float8), (1), (2), (%1::float8)) v(x)) st', '{float8,int,method}');
-- incremental models (0.3): fuzz_inc has states and a record (made before
-- the calls) but views that read the source, so its states can be dropped
-- and made again
INSERT INTO template (name, sql, roles) VALUES
	('rfm_create_model incremental', 'SELECT rfm_create_model(%1::text || ''_inc'', ''fuzz_events'', %2::name, %3::name, %4::name, as_of => %5::timestamptz, incremental => %6::bool, watermark_column => %7::name)', '{new_model,customer,time,number,timestamptz,bool,watermark}'),
	('rfm_state_metrics_at', 'SELECT rfm_state_metrics_at(%1::rfm_metrics_state, %2::rfm_metrics_state, %3::timestamptz), rfm_model_history_as_of()', '{state,state,timestamptz}'),
	('rfm_model_incremental_check', 'SELECT rfm_model_incremental_check(%1::bool, %2::name, %3::bool)', '{bool,watermark,bool}'),
	('rfm_model_incremental_fold', 'SELECT rfm_model_incremental_fold(m, %3::bool), rfm_model_incremental_refresh(%1::name, %2::text, %3::bool) FROM rfm_model m WHERE m.name = %2::text', '{schema,inc_model,bool}'),
	('rfm_model_incremental_rows', 'SELECT count(*) FROM rfm_model_incremental_rows(%1::text) AS r(x int)', '{text}'),
	('rfm_model_incremental_analyze', 'SELECT count(*) FROM rfm_model_incremental_analyze(''fuzz_events'', %1::name, %2::name, %3::name, NULL, %4::timestamptz, %5::interval, %6::int, %7::text, %8::text, %9::text, ''SELECT customer, rfm_metrics_state_agg(at, amount, 1, $1, '' || quote_literal(%5::interval) || ''), NULL::rfm_metrics_state, NULL::bigint, NULL::numeric FROM fuzz_events GROUP BY 1'')', '{customer,time,number,timestamptz,interval,int,method,rule_set,refunds}'),
	('rfm_model_incremental_analyze query', 'SELECT count(*) FROM rfm_model_incremental_analyze(''fuzz_events'', ''customer'', ''at'', ''amount'', NULL, %2::timestamptz, ''30 days'', 5, ''quantile'', NULL, ''events'', coalesce(%1::text, ''SELECT customer, rfm_metrics_state_agg(at, amount, 1, $1, ''''30 days''''), NULL::rfm_metrics_state, NULL::bigint, NULL::numeric FROM fuzz_events GROUP BY 1''))', '{text,timestamptz}'),
	('rfm_model_incremental_metrics_sql', 'SELECT rfm_model_incremental_metrics_sql(m, ''integer'', %2::text) IS NOT NULL FROM rfm_model m WHERE m.name = %1::text', '{inc_model,rule_set}'),
	('rfm_model_period_number', 'SELECT rfm_model_period_date(rfm_model_period_number(rfm_cohort_start(%1::date, %2::text), %2::text), %2::text)', '{date,grain}'),
	('rfm_model_incremental_retention_sql', 'SELECT rfm_model_incremental_retention_sql(m, %2::text) IS NOT NULL FROM rfm_model m WHERE m.name = %1::text', '{inc_model,text}'),
	('rfm_model_incremental_state_sql', 'SELECT rfm_model_incremental_state_sql(m, ''timestamptz'', %2::text) FROM rfm_model m WHERE m.name = %1::text', '{inc_model,text}'),
	('rfm_model_incremental_create', 'SELECT rfm_model_incremental_drop(%1::name, %2::text), rfm_model_incremental_create(m, %3::name) FROM rfm_model m WHERE m.name = %2::text', '{schema,inc_model,watermark}'),
	('rfm_model_incremental_slides', 'SELECT rfm_model_incremental_slides(m) FROM rfm_model m WHERE m.name = %1::text', '{inc_model}'),
	('rfm_model_source_counts', 'SELECT (rfm_model_source_counts(%1::regclass)).inserted >= 0', '{summary}'),
	('rfm_model_periods_union', 'SELECT rfm_model_periods_union(ARRAY[%1::int, %2::int], ARRAY[%2::int, NULL, %1::int])', '{int,int}'),
	('rfm_model_periods_except', 'SELECT rfm_model_periods_except(ARRAY[%1::int, %2::int, NULL], ARRAY[%2::int, NULL])', '{int,int}'),
	('rfm_model_state_last_n', 'SELECT rfm_model_state_last_n(%1::rfm_metrics_state), rfm_model_state_last_w(%1::rfm_metrics_state)', '{state}'),
	-- the three forms, the spec from the date and zone pools
	('rfm_clv_state_agg', 'SELECT rfm_clv_state_agg(t, %2::numeric, ROW(%3::date, %4::date, %5::text)::rfm_clv_spec), rfm_clv_state_agg(t::timestamp, %2::numeric, ROW(%3::date, %4::date, %5::text)::rfm_clv_spec), rfm_clv_state_agg(%6::date, %2::numeric, ROW(%3::date, %4::date, %5::text)::rfm_clv_spec) FROM (VALUES (%1::timestamptz), (''2024-01-05'')) v(t)', '{timestamptz,numeric,date,date,tz,date}'),
	-- states merged and summarized; a forged state from the date and number pools
	('rfm_clv_state_merge', 'SELECT rfm_clv_state_merge(rfm_clv_state_agg(t, %2::numeric, ROW(%3::date, %4::date, %5::text)::rfm_clv_spec) FILTER (WHERE t < ''2024-03-01''), rfm_clv_state_agg(t, %2::numeric, ROW(%3::date, %4::date, %5::text)::rfm_clv_spec) FILTER (WHERE t >= ''2024-03-01''), ROW(%3::date, %4::date, %5::text)::rfm_clv_spec) FROM (VALUES (%1::timestamptz), (''2024-01-05''), (''2024-05-05'')) v(t)', '{timestamptz,numeric,date,date,tz}'),
	('rfm_clv_state_summary', 'SELECT (rfm_clv_state_summary(ROW(ARRAY[%1::date, %2::date], ARRAY[%2::date], %3::numeric, %3::numeric, 0)::rfm_clv_state, %4::date, %5::text)).*, rfm_clv_state_merge(ROW(ARRAY[%1::date], ''{}'', %3::numeric, 0, 0)::rfm_clv_state, ROW(ARRAY[%2::date], ''{}'', 1, 0, 0)::rfm_clv_state, ROW(%4::date, NULL, ''UTC'')::rfm_clv_spec)', '{date,date,numeric,date,unit}'),
	('rfm_model_clv_spec', 'SELECT rfm_model_clv_spec(m), rfm_model_incremental_clv_sql(m, %2::text, %2::text) FROM rfm_model m WHERE m.name = %1::text', '{inc_model,text}'),
	-- the three forms, the spec from the grain and zone pools
	('rfm_journey_state_agg', 'SELECT rfm_journey_state_agg(t, %2::text, %3::numeric, ROW(%4::timestamptz, %5::interval, %6::text)::rfm_journey_spec), rfm_journey_state_agg(t::timestamp, %2::text, %3::numeric, ROW(%4::timestamptz, %5::interval, %6::text)::rfm_journey_spec), rfm_journey_state_agg(%7::date, %2::text, %3::numeric, ROW(%4::timestamptz, %5::interval, %6::text)::rfm_journey_spec) FROM (VALUES (%1::timestamptz), (''2024-02-20'')) v(t)', '{timestamptz,text,numeric,timestamptz,interval,tz,date}'),
	('rfm_active_periods', 'SELECT rfm_active_periods(t, ROW(%2::text, %3::text)::rfm_period_spec), rfm_active_periods(t::timestamp, ROW(%2::text, %3::text)::rfm_period_spec), rfm_active_periods(%4::date, ROW(%2::text, %3::text)::rfm_period_spec) FROM (VALUES (%1::timestamptz), (''2024-01-05'')) v(t)', '{timestamptz,grain,tz,date}');
SELECT rfm_create_model('fuzz_inc', 'fuzz_events', 'customer', 'at', 'amount') IS NOT NULL AS made;
SELECT count(*) AS incremental FROM (SELECT rfm_model_incremental_create(m, NULL) FROM rfm_model m WHERE m.name = 'fuzz_inc') c;

CREATE TABLE outcomes (template int, sensible boolean, sqlstate text);
DO $$
DECLARE
	t record;
	call text;
	lit text;
	state text;
	sensible boolean;
BEGIN
	FOR t IN SELECT * FROM template ORDER BY id LOOP
		FOR i IN 1 .. 300 LOOP
			sensible := i % 4 = 0;
			call := t.sql;
			FOR a IN REVERSE cardinality(t.roles) .. 1 LOOP
				SELECT p.lit INTO lit FROM pool p
				WHERE p.role = t.roles[a] AND (p.ok OR NOT sensible)
				ORDER BY random() LIMIT 1;
				IF lit IS NULL THEN
					RAISE EXCEPTION 'no literal for role %', t.roles[a];
				END IF;
				call := replace(call, '%' || a, lit);
			END LOOP;
			BEGIN
				EXECUTE call;
				state := '00000';
			EXCEPTION WHEN OTHERS THEN
				GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE;
			END;
			INSERT INTO outcomes VALUES (t.id, sensible, state);
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

-- Per template: calls that returned, and errors by SQLSTATE class (22 data
-- exception, 23 integrity, 3F invalid schema, 42 syntax or access, 53
-- resources, 54 program limit, 55 object state).
SELECT t.id, t.name, count(*) FILTER (WHERE o.sqlstate = '00000') AS returned,
	count(*) FILTER (WHERE o.sensible AND o.sqlstate = '00000') AS sensible_returned,
	count(*) FILTER (WHERE left(o.sqlstate, 2) = '22') AS "22",
	count(*) FILTER (WHERE left(o.sqlstate, 2) = '23') AS "23",
	count(*) FILTER (WHERE left(o.sqlstate, 2) = '3F') AS "3F",
	count(*) FILTER (WHERE left(o.sqlstate, 2) = '42') AS "42",
	count(*) FILTER (WHERE left(o.sqlstate, 2) NOT IN ('00', '22', '23', '3F', '42')) AS other
FROM template t JOIN outcomes o ON o.template = t.id
GROUP BY t.id, t.name ORDER BY t.id;
SELECT sqlstate, count(*) FROM outcomes
WHERE left(sqlstate, 2) NOT IN ('00', '22', '23', '3F', '42') GROUP BY 1 ORDER BY 1;

-- every template returned at least once: none is all argument checks
SELECT t.name AS never_returned FROM template t
WHERE NOT EXISTS (SELECT 1 FROM outcomes o WHERE o.template = t.id AND o.sqlstate = '00000')
ORDER BY t.id;

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

-- what the successful calls made, removed
SELECT count(*) > 0 AS models_made FROM rfm_model;
SELECT count(*) FROM (SELECT rfm_drop_model(quote_ident(schema_name) || '.' || quote_ident(name)) FROM rfm_model) d;
DELETE FROM rfm_segment_rule WHERE NOT builtin;
DROP TABLE fuzz_events, fuzz_cbs, pool, template, outcomes;
RESET client_min_messages;
