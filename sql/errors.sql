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
