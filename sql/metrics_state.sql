-- The rfm_metrics_state type: text form, round trips, combining by hand.
\set VERBOSITY terse
SET TimeZone = 'UTC';

-- The text form: version, kind, as_of and last period (months, days, usecs),
-- first and last event, counts, then the three exact sums.  Times are
-- microseconds since 2000-01-01 UTC, so the text is the same in any session.
SELECT rfm_metrics_trans(rfm_metrics_trans(NULL, '2000-01-02 00:00+00', 10.5, '2000-01-03'),
						 '2000-01-01 00:00+00', NULL, '2000-01-03');
SELECT rfm_metrics_trans_date(NULL, DATE '2000-01-02', 1, DATE '2000-01-03');
SELECT rfm_metrics_trans(NULL, NULL, 1, '2000-01-03');

-- The state has a fixed size: one event or many, it is 152 bytes.
SELECT pg_column_size(rfm_metrics_trans(NULL, '2000-01-02', 1, '2000-01-03')) AS one_event,
	pg_column_size(s) AS many_events
FROM (SELECT rfm_metrics_combine(a, a) AS s
	  FROM (SELECT rfm_metrics_trans_numeric(NULL, '2000-01-02', 123456.78, 0.1, '2000-01-03', '1 day') AS a) x) y;

-- Round trips, text and binary, keep every field, big sums included.
CREATE TABLE st AS
SELECT rfm_metrics_trans_numeric(rfm_metrics_trans_numeric(NULL, '2020-01-01', 1e50, 0.1, '2020-02-01', '10 days'),
								 '2020-01-30', 0.000000000000000000000000000000000000000001, 2, '2020-02-01', '10 days') AS s;
SELECT s::text::rfm_metrics_state::text = s::text AS text_round_trip FROM st;
SELECT (rfm_metrics_final(s)).* FROM st;

-- COPY in binary form goes through send and recv.  The file goes to this
-- run's own directory ($RFM_TEST_TMP, made by the Makefile), never to a
-- fixed path another user may own.
CREATE TABLE st2 (s rfm_metrics_state);
\copy st TO PROGRAM 'cat > "$RFM_TEST_TMP/state.bin"' WITH (FORMAT binary)
\copy st2 FROM PROGRAM 'cat "$RFM_TEST_TMP/state.bin"' WITH (FORMAT binary)
SELECT st.s::text = st2.s::text AS binary_round_trip FROM st, st2;

-- The binary form carries the fields (layout version 3), not the text:
-- every kind of state makes the round trip, and the form of 0.2 (version
-- 1 or 2, then the text) is still read.
CREATE TABLE kinds AS
SELECT k, s FROM (VALUES
	(1, rfm_metrics_trans(NULL, '2000-01-02 00:00+00', 10.5, '2000-01-03')),
	(2, rfm_metrics_trans_date(NULL, DATE '2000-01-02', -3.25, DATE '2000-01-03')),
	(3, rfm_metrics_trans(NULL, NULL, 1, '2000-01-03')),
	(4, rfm_metrics_trans_numeric_refunds(NULL, '2020-01-01', -5, 2.5, '2020-02-01', '10 days', 'adjust')),
	(5, rfm_metrics_trans_numeric(NULL, '2020-01-01', -1e45, 0.000001, '2020-02-01', '10 days')),
	(6, (SELECT s FROM st))) v(k, s);
SELECT k, substr(rfm_metrics_state_send(s), 1, 4) AS version_kind_refunds FROM kinds ORDER BY k;
CREATE TABLE kinds2 (k int, s rfm_metrics_state);
\copy kinds TO PROGRAM 'cat > "$RFM_TEST_TMP/kinds.bin"' WITH (FORMAT binary)
\copy kinds2 FROM PROGRAM 'cat "$RFM_TEST_TMP/kinds.bin"' WITH (FORMAT binary)
SELECT count(*) AS states, count(*) FILTER (WHERE a.s::text = b.s::text) AS equal
FROM kinds a JOIN kinds2 b USING (k);

-- Binary input is checked as text input is.  A bytea column's binary COPY
-- is the bytes themselves, so each case writes bytes and reads them back
-- as a state.
CREATE TABLE raw (b bytea);
CREATE FUNCTION bin(k int) RETURNS bytea LANGUAGE sql AS
	$$SELECT rfm_metrics_state_send(s) FROM kinds WHERE kinds.k = bin.k$$;
\set write '\\copy raw TO PROGRAM ''cat > "$RFM_TEST_TMP/raw.bin"'' WITH (FORMAT binary)'
\set read '\\copy st2 FROM PROGRAM ''cat "$RFM_TEST_TMP/raw.bin"'' WITH (FORMAT binary)'
TRUNCATE st2;
\set VERBOSITY default
-- the form of 0.2: version 1, then the text
INSERT INTO raw SELECT '\x0001'::bytea || convert_to(s::text, 'UTF8') || '\x00'::bytea FROM kinds WHERE k = 1;
:write
:read
SELECT s::text FROM st2;
-- an unknown version, kind or refunds setting
UPDATE raw SET b = set_byte(bin(1), 1, 9);
:write
:read
UPDATE raw SET b = set_byte(bin(1), 2, ascii('x'));
:write
:read
UPDATE raw SET b = set_byte(bin(1), 3, 5);
:write
:read
-- a negative count; a last period of zero
UPDATE raw SET b = overlay(bin(1) PLACING '\xffffffffffffffff' FROM 53 FOR 8);
:write
:read
UPDATE raw SET b = overlay(bin(1) PLACING '\x00000000' FROM 17 FOR 4);
:write
:read
-- a first event after the last one
UPDATE raw SET b = overlay(bin(1) PLACING '\x7fffffffffffffff' FROM 61 FOR 8);
:write
:read
-- a sum of an unknown form, with a scale out of range, or nonzero over no event
UPDATE raw SET b = set_byte(bin(1), 76, 7);
:write
:read
UPDATE raw SET b = overlay(bin(1) PLACING '\x7fffffff' FROM 94 FOR 4);
:write
:read
UPDATE raw SET b = set_byte(bin(3), 76, 1);
:write
:read
-- a numeric sum that is NaN
UPDATE raw SET b = substr(bin(6), 1, 76) || '\x01'::bytea || int4send(length(numeric_send('NaN'))) || numeric_send('NaN') || substr(bin(6), 77 + 5 + length(numeric_send((SELECT (rfm_metrics_final(s)).monetary FROM st))));
:write
:read
-- bytes missing, or left over
UPDATE raw SET b = substr(bin(1), 1, 50);
:write
:read
UPDATE raw SET b = bin(1) || '\x00'::bytea;
:write
:read
\set VERBOSITY terse
SELECT count(*) AS accepted FROM st2;
DROP FUNCTION bin(int);
DROP TABLE kinds, kinds2, raw;

-- Combining by hand (what a distributed engine does with partial states).
SELECT (rfm_metrics_final(rfm_metrics_combine(
	rfm_metrics_trans(NULL, '2020-01-05', 5, '2020-02-01'),
	rfm_metrics_trans(NULL, '2020-01-20', 7.25, '2020-02-01')))).*;
-- Combining does not modify its inputs outside an aggregate.
SELECT rfm_metrics_combine(s, s)::text <> s::text AS changed, s::text = (SELECT s::text FROM st) AS input_kept FROM st;

-- Partial states stored in a table and merged later (rollups).
CREATE TABLE daily AS
SELECT d::date AS day, customer, rfm_metrics_trans_date(NULL, d::date, (customer * 10)::numeric, DATE '2020-01-10') AS s
FROM generate_series('2020-01-01'::date, '2020-01-09', '1 day') d, generate_series(1, 3) customer;
SELECT customer, (rfm_metrics_final_date(s)).frequency
FROM (SELECT customer, rfm_metrics_combine(a.s, b.s) AS s FROM daily a JOIN daily b USING (customer)
	  WHERE a.day = '2020-01-01' AND b.day = '2020-01-09') x ORDER BY customer;

-- Bad text input: every field is checked.
SELECT ''::rfm_metrics_state;
SELECT '(1,t)'::rfm_metrics_state;
SELECT '(2,t,0,0,30,0,,,0,0,0,0,0,0,0)'::rfm_metrics_state;
SELECT '(1,x,0,0,30,0,,,0,0,0,0,0,0,0)'::rfm_metrics_state;
SELECT '(1,t,zero,0,30,0,,,0,0,0,0,0,0,0)'::rfm_metrics_state;
SELECT '(1,t,0,0,0,0,,,0,0,0,0,0,0,0)'::rfm_metrics_state;
SELECT '(1,t,0,0,30,0,,,-1,0,0,0,0,0,0)'::rfm_metrics_state;
SELECT '(1,t,0,0,30,0,,,1,2,0,0,0,0,0)'::rfm_metrics_state;
SELECT '(1,t,0,0,30,0,5,4,1,0,0,0,0,0,0)'::rfm_metrics_state;
SELECT '(1,t,0,0,30,0,5,5,1,0,0,0,0,0,0)'::rfm_metrics_state;
SELECT '(1,t,0,0,30,0,1,1,0,0,0,0,0,0,0)'::rfm_metrics_state;
SELECT '(1,d,1,0,30,0,,,0,0,0,0,0,0,0)'::rfm_metrics_state;
SELECT '(1,t,0,0,30,0,,,0,0,0,0,NaN,0,0)'::rfm_metrics_state;
SELECT '(1,t,0,0,30,0,,,0,0,0,0,,0,0)'::rfm_metrics_state;
SELECT '(1,t,0,0,30,0,,,0,0,0,0,0,0,0,0)'::rfm_metrics_state;
SELECT '(1,t,9223372036854775807,0,30,0,,,0,0,0,0,0,0,0)'::rfm_metrics_state;
SELECT '(1,t,0,0,30,0,,,0,0,0,0,1.5,0,0)'::rfm_metrics_state;

-- Combining states of different kinds or as_of is an error, not a guess.
SELECT rfm_metrics_combine(rfm_metrics_trans(NULL, '2020-01-05', 5, '2020-02-01'),
						   rfm_metrics_trans(NULL, '2020-01-05', 5, '2020-02-02'));
SELECT rfm_metrics_combine(rfm_metrics_trans_numeric(NULL, '2020-01-05', 5, 1, '2020-02-01', '7 days'),
						   rfm_metrics_trans(NULL, '2020-01-05', 5, '2020-02-01'));
SELECT rfm_metrics_combine(rfm_metrics_trans_date(NULL, '2020-01-05', 5, '2020-02-01'),
						   rfm_metrics_trans(NULL, '2020-01-05', 5, '2020-02-01'));
SELECT rfm_metrics_trans(rfm_metrics_trans_date(NULL, '2020-01-05', 5, '2020-02-01'), '2020-01-05', 5, '2020-02-01');
SELECT rfm_metrics_trans_date(rfm_metrics_trans(NULL, '2020-01-05', 5, '2020-02-01'), '2020-01-05', 5, '2020-02-01');
SELECT rfm_metrics_final(rfm_metrics_trans_date(NULL, '2020-01-05', 5, '2020-02-01'));
SELECT rfm_metrics_final_date(rfm_metrics_trans(NULL, '2020-01-05', 5, '2020-02-01'));

DROP TABLE st, st2, daily;
