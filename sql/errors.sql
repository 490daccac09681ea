-- Bad input to the metrics aggregates: each error with its message and hint,
-- and its SQLSTATE echoed after it.
\set VERBOSITY default
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';

-- NaN and infinite amounts
SELECT rfm_metrics(t, a, '2020-03-01') FROM (VALUES ('2020-01-01'::timestamptz, 'NaN'::numeric)) v(t, a);
\echo SQLSTATE :SQLSTATE
SELECT rfm_metrics(t, a, '2020-03-01') FROM (VALUES ('2020-01-01'::timestamptz, 'Infinity'::numeric)) v(t, a);
\echo SQLSTATE :SQLSTATE
SELECT rfm_metrics(t, a, '2020-03-01') FROM (VALUES ('2020-01-01'::timestamptz, '-Infinity'::numeric)) v(t, a);
\echo SQLSTATE :SQLSTATE
-- ... even on an event after as_of: bad data is an error wherever it is
SELECT rfm_metrics(t, a, '2020-03-01') FROM (VALUES ('2020-05-01'::timestamptz, 'NaN'::numeric)) v(t, a);
\echo SQLSTATE :SQLSTATE

-- non-finite weights
SELECT rfm_metrics(t, 1, w, '2020-03-01', '30 days') FROM (VALUES ('2020-01-01'::timestamptz, 'NaN'::numeric)) v(t, w);
\echo SQLSTATE :SQLSTATE
SELECT rfm_metrics(t, 1, w, '2020-03-01', '30 days') FROM (VALUES ('2020-01-01'::timestamptz, 'Infinity'::numeric)) v(t, w);
\echo SQLSTATE :SQLSTATE
SELECT rfm_metrics(t, 1, w, '2020-03-01', '30 days') FROM (VALUES ('2020-01-01'::timestamptz, 'NaN'::float8)) v(t, w);
\echo SQLSTATE :SQLSTATE
SELECT rfm_metrics(t, 1, w, '2020-03-01', '30 days') FROM (VALUES ('2020-01-01'::timestamptz, '-Infinity'::float8)) v(t, w);
\echo SQLSTATE :SQLSTATE

-- infinite times
SELECT rfm_metrics(t, 1, '2020-03-01') FROM (VALUES ('infinity'::timestamptz)) v(t);
\echo SQLSTATE :SQLSTATE
SELECT rfm_metrics(t, 1, '2020-03-01') FROM (VALUES ('-infinity'::timestamptz)) v(t);
\echo SQLSTATE :SQLSTATE
SELECT rfm_metrics(t, 1, 'infinity') FROM (VALUES ('2020-01-01'::timestamptz)) v(t);
\echo SQLSTATE :SQLSTATE
SELECT rfm_metrics(d, 1, DATE '2020-03-01') FROM (VALUES ('-infinity'::date)) v(d);
\echo SQLSTATE :SQLSTATE
SELECT rfm_metrics(d, 1, 'infinity'::date) FROM (VALUES ('2020-01-01'::date)) v(d);
\echo SQLSTATE :SQLSTATE

-- as_of: NULL, or different within a group
SELECT rfm_metrics(t, 1, NULL::timestamptz) FROM (VALUES ('2020-01-01'::timestamptz)) v(t);
\echo SQLSTATE :SQLSTATE
SELECT rfm_metrics(t, 1, x) FROM (VALUES ('2020-01-01'::timestamptz, '2020-03-01'::timestamptz),
										 ('2020-01-02', '2020-03-02')) v(t, x);
\echo SQLSTATE :SQLSTATE
-- ... while a different as_of per group is fine
SELECT g, (rfm_metrics(t, 1, x)).recency_days FROM (VALUES (1, '2020-01-01'::timestamptz, '2020-03-01'::timestamptz),
												(2, '2020-01-02', '2020-03-02')) v(g, t, x) GROUP BY g ORDER BY g;
\echo SQLSTATE :SQLSTATE

-- last_period: NULL, zero, negative, or different within a group
SELECT rfm_metrics(t, 1, 1, '2020-03-01', NULL) FROM (VALUES ('2020-01-01'::timestamptz)) v(t);
\echo SQLSTATE :SQLSTATE
SELECT rfm_metrics(t, 1, 1, '2020-03-01', '0 days') FROM (VALUES ('2020-01-01'::timestamptz)) v(t);
\echo SQLSTATE :SQLSTATE
SELECT rfm_metrics(t, 1, 1, '2020-03-01', '-7 days') FROM (VALUES ('2020-01-01'::timestamptz)) v(t);
\echo SQLSTATE :SQLSTATE
SELECT rfm_metrics(t, 1, 1, '2020-03-01', '1 month -40 days') FROM (VALUES ('2020-01-01'::timestamptz)) v(t);
\echo SQLSTATE :SQLSTATE
SELECT rfm_metrics(d, 1, 1, DATE '2020-03-01', '-1 day') FROM (VALUES ('2020-01-01'::date)) v(d);
\echo SQLSTATE :SQLSTATE
SELECT rfm_metrics(t, 1, 1, '2020-03-01', p) FROM (VALUES ('2020-01-01'::timestamptz, '7 days'::interval),
													   ('2020-01-02', '8 days')) v(t, p);
\echo SQLSTATE :SQLSTATE
-- a last period reaching before the first representable time still works
SELECT rfm_metrics(t, 1, 1, '4713-11-25 BC', '1 year') FROM (VALUES ('4713-11-24 BC'::timestamptz)) v(t);
\echo SQLSTATE :SQLSTATE

-- Scoring: bins, methods, breaks
SELECT rfm_breaks(x, 1) FROM (VALUES (1.0::float8)) v(x);
\echo SQLSTATE :SQLSTATE
SELECT rfm_breaks(x, 11) FROM (VALUES (1.0::float8)) v(x);
\echo SQLSTATE :SQLSTATE
SELECT rfm_breaks(x, NULL) FROM (VALUES (1.0::float8)) v(x);
\echo SQLSTATE :SQLSTATE
SELECT rfm_breaks(x, b) FROM (VALUES (1.0::float8, 3), (2.0, 4)) v(x, b);
\echo SQLSTATE :SQLSTATE
SELECT rfm_breaks(x, 5, 'ntile') FROM (VALUES (1.0::float8)) v(x);
\echo SQLSTATE :SQLSTATE
SELECT rfm_breaks(x, 5, NULL) FROM (VALUES (1.0::float8)) v(x);
\echo SQLSTATE :SQLSTATE
SELECT rfm_breaks(x, 5) FROM (VALUES ('NaN'::float8)) v(x);
\echo SQLSTATE :SQLSTATE
SELECT rfm_breaks(x, 5) FROM (VALUES ('infinity'::float8)) v(x);
\echo SQLSTATE :SQLSTATE
SELECT rfm_score(1, '{3,2}');
\echo SQLSTATE :SQLSTATE
SELECT rfm_score(1, '{1,NaN}');
\echo SQLSTATE :SQLSTATE
SELECT rfm_score(1, '{1,NULL}');
\echo SQLSTATE :SQLSTATE
SELECT rfm_score(1, '{}');
\echo SQLSTATE :SQLSTATE
SELECT rfm_score(1, '{1,2,3,4,5,6,7,8,9,10}');
\echo SQLSTATE :SQLSTATE
SELECT rfm_score(1, '{{1,2},{3,4}}');
\echo SQLSTATE :SQLSTATE
SELECT rfm_score(1, '{1,2}', 'median');
\echo SQLSTATE :SQLSTATE
SELECT rfm_score('NaN', '{1,2}');
\echo SQLSTATE :SQLSTATE

-- Segments: scores and rule sets
SELECT rfm_segment(0, 1, 1);
\echo SQLSTATE :SQLSTATE
SELECT rfm_segment(1, 11, 1);
\echo SQLSTATE :SQLSTATE
SELECT rfm_segment_standard(1, 1, -1);
\echo SQLSTATE :SQLSTATE
SELECT rfm_segment(1, 1, 1, 'no_such_rules');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_check_rules('no_such_rules');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_check_rules('standard', 11);
\echo SQLSTATE :SQLSTATE
UPDATE rfm_segment_rule SET segment = 'x' WHERE rule_set = 'standard' AND priority = 1;
\echo SQLSTATE :SQLSTATE

-- One-call analysis: sources, columns, dates
CREATE TABLE err_ev (cust int, t timestamptz, amount numeric, label text, pt point);
SELECT * FROM rfm_analyze('no_such_table', 'cust', 't');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_analyze('err_ev', 'nope', 't');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_analyze('err_ev', 'cust', 'amount');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_analyze('err_ev', 'cust', 't', 'label');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_analyze('err_ev', 'pt', 't');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_analyze('err_ev', NULL, 't');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_analyze('err_ev', 'cust', 't', rule_set => 'standard');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_analyze('err_ev', 'cust', 't', 'amount', bins => 12);
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_analyze('err_ev', 'cust', 't', 'amount', rule_set => 'nope');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_analyze('err_ev', 'cust', 't', 'amount', as_of => 'infinity');
\echo SQLSTATE :SQLSTATE
INSERT INTO err_ev VALUES (1, '2024-01-01', 'NaN');
SELECT * FROM rfm_analyze('err_ev', 'cust', 't', 'amount');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_snapshots('err_ev', 'cust', 't', 'amount');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_snapshots('err_ev', 'cust', 't', 'amount', as_of => '{}');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_snapshots('err_ev', 'cust', 't', 'amount', as_of => ARRAY['2024-02-01', '2024-01-01']::timestamptz[]);
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_snapshots('err_ev', 'cust', 't', 'amount', as_of => ARRAY['2024-02-01', NULL]::timestamptz[]);
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_transitions('err_ev', 'cust', 't', 'amount', from_as_of => '2024-02-01');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_transitions('err_ev', 'cust', 't', 'amount', from_as_of => '2024-02-01', to_as_of => '2024-01-01');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_churn_alerts('err_ev', 'cust', 't', 'amount', from_as_of => '2024-01-01', to_as_of => '2024-02-01', min_recency_drop => 0);
\echo SQLSTATE :SQLSTATE
CREATE ROLE regress_rfm_nobody;
SET ROLE regress_rfm_nobody;
SELECT * FROM rfm_analyze('err_ev', 'cust', 't');
\echo SQLSTATE :SQLSTATE
RESET ROLE;
DROP ROLE regress_rfm_nobody;
DROP TABLE err_ev;

-- Cohorts and retention
SELECT rfm_cohort(now(), 'fortnight', 'UTC');
\echo SQLSTATE :SQLSTATE
SELECT rfm_cohort(now(), 'month', 'Mars/Olympus_Mons');
\echo SQLSTATE :SQLSTATE
SELECT rfm_cohort('infinity'::timestamptz, 'month', 'UTC');
\echo SQLSTATE :SQLSTATE
SELECT rfm_cohort('-infinity'::date, 'month');
\echo SQLSTATE :SQLSTATE
CREATE TABLE err_visits (customer int, at timestamptz, label text);
SELECT * FROM rfm_retention('err_visits', 'customer', 'label');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_retention('err_visits', 'nobody', 'at');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_retention('err_visits', 'customer', 'at', 'month', NULL);
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_retention('err_visits', 'customer', 'at', 'decade');
\echo SQLSTATE :SQLSTATE
INSERT INTO err_visits VALUES (1, '1990-01-01'), (1, '2024-01-01');
SELECT count(*) FROM rfm_retention('err_visits', 'customer', 'at', 'day');
\echo SQLSTATE :SQLSTATE
DROP TABLE err_visits;

-- k-means
SELECT rfm_kmeans(ARRAY[1, 2]::float8[], 1) FROM generate_series(1, 5);
\echo SQLSTATE :SQLSTATE
SELECT rfm_kmeans(ARRAY[1, 2]::float8[], NULL) FROM generate_series(1, 5);
\echo SQLSTATE :SQLSTATE
SELECT rfm_kmeans(CASE WHEN g = 3 THEN NULL ELSE ARRAY[g, 2]::float8[] END, 2) FROM generate_series(1, 5) g;
\echo SQLSTATE :SQLSTATE
SELECT rfm_kmeans(ARRAY[g, NULL]::float8[], 2) FROM generate_series(1, 5) g;
\echo SQLSTATE :SQLSTATE
SELECT rfm_kmeans(ARRAY[g, 'NaN']::float8[], 2) FROM generate_series(1, 5) g;
\echo SQLSTATE :SQLSTATE
SELECT rfm_kmeans(CASE WHEN g = 3 THEN ARRAY[g]::float8[] ELSE ARRAY[g, 2]::float8[] END, 2) FROM generate_series(1, 5) g;
\echo SQLSTATE :SQLSTATE
SELECT rfm_kmeans('{}'::float8[], 2) FROM generate_series(1, 5) g;
\echo SQLSTATE :SQLSTATE
SELECT rfm_kmeans(ARRAY[g, 2]::float8[], 2, 'seeds=3') FROM generate_series(1, 5) g;
\echo SQLSTATE :SQLSTATE
SELECT rfm_kmeans(ARRAY[g, 2]::float8[], 2, 'n_init=0') FROM generate_series(1, 5) g;
\echo SQLSTATE :SQLSTATE
SELECT rfm_kmeans(ARRAY[g, 2]::float8[], 2, 'standardize=maybe') FROM generate_series(1, 5) g;
\echo SQLSTATE :SQLSTATE
SELECT rfm_kmeans(ARRAY[g, 2]::float8[], 6) FROM generate_series(1, 5) g;
\echo SQLSTATE :SQLSTATE
SELECT rfm_kmeans_scan(ARRAY[g, 2]::float8[], 3, 2, '') FROM generate_series(1, 5) g;
\echo SQLSTATE :SQLSTATE
SELECT rfm_cluster('{1, 2, 3}', (SELECT rfm_kmeans(ARRAY[g, g % 3]::float8[], 2) FROM generate_series(1, 9) g));
\echo SQLSTATE :SQLSTATE
SELECT rfm_cluster('{1, 2}', ROW(2, 2, 9, '{1,2}', '{0,0}', '{1,1}', 0, 1, '{1,1}', 0, 1, true,
	NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::rfm_kmeans_model);
\echo SQLSTATE :SQLSTATE

-- Dates beyond the timestamp range (they exist up to 5874897 AD) are an
-- error, not a wrapped number
SELECT rfm_metrics(d, 1, DATE '2024-01-01') FROM (VALUES ('5874897-12-31'::date)) v(d);
\echo SQLSTATE :SQLSTATE
SELECT rfm_metrics(d, 1, DATE '300000-01-01') FROM (VALUES ('2024-01-01'::date)) v(d);
\echo SQLSTATE :SQLSTATE
-- times 292,000 years apart: recency still right (in double precision)
SELECT round((rfm_metrics(t, 1, '294276-12-31 00:00+00')).recency_days) AS recency_days
FROM (VALUES ('4713-11-24 00:00+00 BC'::timestamptz)) v(t);
\echo SQLSTATE :SQLSTATE

-- rfm_segment.max_memory: the functions that hold a whole input stop with
-- an error past it, instead of growing the backend without bound
CREATE TABLE mem_events AS
SELECT g AS customer, '2024-01-01'::timestamptz + g * interval '1 minute' AS at, 1.5 AS amount
FROM generate_series(1, 100000) g;
SELECT count(*) AS customers FROM rfm_analyze('mem_events', 'customer', 'at', 'amount', as_of => '2030-01-01');
SET rfm_segment.max_memory = '1MB';
SHOW rfm_segment.max_memory;
-- (read by rows: under scan = auto they would read by states instead,
-- the analyze_states test shows it)
SET rfm_segment.scan = rows;
SELECT count(*) FROM rfm_analyze('mem_events', 'customer', 'at', 'amount', as_of => '2030-01-01');
\echo SQLSTATE :SQLSTATE
SELECT count(*) FROM rfm_snapshots('mem_events', 'customer', 'at', 'amount', as_of => ARRAY['2029-01-01', '2030-01-01']::timestamptz[]);
\echo SQLSTATE :SQLSTATE
SELECT count(*) FROM rfm_retention('mem_events', 'customer', 'at', 'day');
\echo SQLSTATE :SQLSTATE
RESET rfm_segment.scan;
SELECT (rfm_kmeans(ARRAY[customer, customer % 7, customer % 11]::float8[], 3)).k FROM mem_events;
\echo SQLSTATE :SQLSTATE
-- 30,000 points fit (720 kB), but not with the prepared copy and the
-- labels the fit adds
SELECT (rfm_kmeans(ARRAY[customer, customer % 7, customer % 11]::float8[], 3)).k FROM mem_events WHERE customer <= 30000;
\echo SQLSTATE :SQLSTATE
SELECT (rfm_kmeans_scan(ARRAY[customer, customer % 7, customer % 11]::float8[], 2, 3, ''))[1].k FROM mem_events WHERE customer <= 30000;
\echo SQLSTATE :SQLSTATE
SELECT rfm_breaks(customer, 5) FROM mem_events;
\echo SQLSTATE :SQLSTATE
-- read row by row, 27,000 customers fit in 8MB, but not with the scores
-- and breaks computed after the scan (56 bytes a customer)
CREATE TABLE mem_27k AS SELECT * FROM mem_events WHERE customer <= 27000;
SET rfm_segment.scan = rows;
SET rfm_segment.max_memory = '8MB';
-- (terse: how much it would hold depends on the server's allocator)
\set VERBOSITY terse
SELECT count(*) FROM rfm_analyze('mem_27k', 'customer', 'at', 'amount');
\echo SQLSTATE :SQLSTATE
\set VERBOSITY default
RESET rfm_segment.scan;
SET rfm_segment.max_memory = '1MB';
DROP TABLE mem_27k;
-- the aggregate of layer 1 keeps a fixed-size state per group: no limit
SELECT count(*) FROM (SELECT customer, rfm_metrics(at, amount, '2030-01-01') FROM mem_events GROUP BY 1) x;
-- below the bound the server's own range check refuses the value; its
-- message names the unit from PostgreSQL 16 on, so only the SQLSTATE is shown
\set VERBOSITY sqlstate
SET rfm_segment.max_memory = '63kB';
\set VERBOSITY default
\echo SQLSTATE :SQLSTATE
SET rfm_segment.max_mem = '1GB';
\echo SQLSTATE :SQLSTATE
RESET rfm_segment.max_memory;
SELECT count(*) AS customers FROM rfm_analyze('mem_events', 'customer', 'at', 'amount', as_of => '2030-01-01');
DROP TABLE mem_events;

-- Since 0.3: refunds, period ends, cohort labels, models.
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT rfm_metrics(t, 1.0, 1, '2024-06-30', '30 days', 'returns') FROM (VALUES ('2024-01-01'::timestamptz)) v(t);
\echo SQLSTATE :SQLSTATE
SELECT rfm_metrics(t, 1.0, 1, '2024-06-30', '30 days', NULL) FROM (VALUES ('2024-01-01'::timestamptz)) v(t);
\echo SQLSTATE :SQLSTATE
SELECT rfm_metrics(t, 1.0, 1, '2024-06-30', '30 days', r) FROM (VALUES ('2024-01-01'::timestamptz, 'events'), ('2024-01-02', 'adjust')) v(t, r);
\echo SQLSTATE :SQLSTATE
SELECT rfm_metrics_combine(rfm_metrics_trans_numeric_refunds(NULL, '2024-01-01', 1, 1, '2024-06-30', '30 days', 'adjust'),
						   rfm_metrics_trans_numeric_refunds(NULL, '2024-01-01', 1, 1, '2024-06-30', '30 days', 'events'));
\echo SQLSTATE :SQLSTATE
SELECT '(2,t,0,0,30,0,,,0,0,0,0,5,0,0,adjust)'::rfm_metrics_state;
\echo SQLSTATE :SQLSTATE
SELECT '(2,t,0,0,30,0,,,0,0,0,0,-5,0,0,events)'::rfm_metrics_state;
\echo SQLSTATE :SQLSTATE
SELECT '(1,t,0,0,30,0,,,0,0,0,0,0,0,0,adjust)'::rfm_metrics_state;
\echo SQLSTATE :SQLSTATE
CREATE TABLE err_orders (customer int, at timestamptz, amount numeric);
INSERT INTO err_orders VALUES (1, '2024-01-01', 5);
SELECT * FROM rfm_analyze('err_orders', 'customer', 'at', 'amount', refunds => 'returns');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_analyze('err_orders', 'customer', 'at', 'amount', refunds => NULL);
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_churn_alerts('err_orders', 'customer', 'at', from_as_of => '2024-01-01', to_as_of => '2024-02-01', danger_moves => NULL);
\echo SQLSTATE :SQLSTATE
SELECT rfm_period_ends('2024-05-01', '2024-01-01');
\echo SQLSTATE :SQLSTATE
SELECT rfm_period_ends('2024-01-01', '2024-05-01', 'fortnight');
\echo SQLSTATE :SQLSTATE
SELECT rfm_period_ends('2024-01-01', '2024-05-01', 'month', 'Mars/Olympus');
\echo SQLSTATE :SQLSTATE
SELECT rfm_cohort_date('2024-13', 'month');
\echo SQLSTATE :SQLSTATE
SELECT rfm_cohort_date('2024-11', 'week');
\echo SQLSTATE :SQLSTATE
SELECT rfm_create_model('err_model', 'err_orders', 'customer', 'at', as_of => '2024-01-01', as_of_now => true);
\echo SQLSTATE :SQLSTATE
SELECT rfm_create_model('err_model', 'err_orders', 'customer', 'at', refunds => NULL);
\echo SQLSTATE :SQLSTATE
SELECT rfm_create_model('err_model', 'err_orders', 'customer', 'amount');
\echo SQLSTATE :SQLSTATE
-- an error inside model creation names the model and the cause, not the
-- statement the model generated
SELECT rfm_create_model('err_model', 'err_orders', 'customer', 'at', refunds => 'returns');
\echo SQLSTATE :SQLSTATE
SELECT rfm_create_model('err_model', 'err_orders', 'customer', 'at', rule_set => 'nope');
-- its context is the model's function only (its line number left out,
-- which moves whenever the function is edited)
DO $$
DECLARE
	ctx text;
BEGIN
	PERFORM rfm_create_model('err_model', 'err_orders', 'customer', 'at', rule_set => 'nope');
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS ctx = PG_EXCEPTION_CONTEXT;
	RAISE NOTICE 'context: %', regexp_replace(split_part(ctx, E'\n', 1), 'line [0-9]+', 'line N');
	RAISE NOTICE 'names the generated statement: %', ctx ~* 'CREATE MATERIALIZED VIEW';
END
$$;
SELECT count(*) AS models_left FROM rfm_model;
DROP TABLE err_orders;
