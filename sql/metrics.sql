-- Hand-computed cases for the rfm_metrics aggregates.
\set VERBOSITY terse
SET TimeZone = 'UTC';
SET extra_float_digits = 0;

-- One event: recency and tenure are the same; avg equals the amount.
SELECT (rfm_metrics(t, a, '2020-03-01 00:00+00')).*
FROM (VALUES ('2020-02-20 12:00+00'::timestamptz, 19.99)) v(t, a);

-- Several events on the same timestamp, a refund, a NULL amount, a NULL
-- event time (skipped) and an event after as_of (ignored, not counted).
CREATE TABLE ev (customer int, t timestamptz, amount numeric, weight numeric);
INSERT INTO ev VALUES
	(1, '2020-01-01 10:00+00', 100.00, 1),
	(1, '2020-01-01 10:00+00', 50.00, 1),
	(1, '2020-01-01 10:00+00', -30.00, 0.5),  -- refund
	(1, '2020-02-15 00:00+00', NULL, 0.1),    -- no amount: counts for frequency
	(1, NULL, 999, 1),                        -- no time: skipped
	(1, '2020-03-05 00:00+00', 500, 1),       -- after as_of: ignored
	(2, '2020-03-01 00:00+00', 10, 2),        -- exactly at as_of: counted
	(2, '2020-01-31 00:00+00', 20, 3),        -- exactly at the period start: outside
	(2, '2020-01-31 00:00:00.000001+00', 30, 4), -- just inside the last period
	(3, '2020-04-01 00:00+00', 10, 1),        -- only events after as_of
	(4, NULL, 10, 1),                         -- only NULL times
	(5, '2020-02-01 00:00+00', NULL, NULL);   -- no amount, no weight

SELECT customer, (rfm_metrics(t, amount, '2020-03-01 00:00+00')).*
FROM ev GROUP BY customer ORDER BY customer;

-- Weighted forms: weights are summed exactly, NULL weights add nothing.
SELECT customer, (m).frequency, (m).weighted_frequency, (m).frequency_last_period,
	(m).weighted_frequency_last_period
FROM (SELECT customer, rfm_metrics(t, amount, weight, '2020-03-01 00:00+00', '30 days') AS m
	  FROM ev GROUP BY customer) s
ORDER BY customer;

-- float8 weights are taken as float8::numeric (15 significant digits), so
-- ten views of 0.1 weigh exactly 1.0, whatever the row order.
SELECT (rfm_metrics(t, NULL::numeric, 0.1::float8, '2020-03-01 00:00+00', '7 days')).weighted_frequency
FROM generate_series('2020-02-20 00:00+00'::timestamptz, '2020-02-29', '1 day') t;

-- A last period in months is a calendar month in UTC.
SELECT (rfm_metrics(t, 1, 1, '2020-03-31 00:00+00', '1 month')).frequency_last_period
FROM (VALUES ('2020-02-29 00:00+00'::timestamptz), ('2020-03-01 00:00+00'), ('2020-02-28 23:59+00')) v(t);

-- Date forms: whole-day recency, first and last as dates.
SELECT (rfm_metrics(d, a, DATE '2006-12-31')).*
FROM (VALUES (DATE '2006-06-09', 100.5), ('2006-01-01', 20), ('2006-06-09', 1)) v(d, a);

SELECT (rfm_metrics(d, a, w, DATE '2020-03-01', '30 days')).*
FROM (VALUES (DATE '2020-03-01', 1, 0.25), ('2020-01-31', 2, 1.0), ('2020-02-01', 3, 2.0)) v(d, a, w);

SELECT (rfm_metrics(d, a, w::float8, DATE '2020-03-01', '30 days')).weighted_frequency
FROM (VALUES (DATE '2020-03-01', 1, 0.25), ('2020-01-31', 2, 1.0), ('2020-02-01', 3, 2.0)) v(d, a, w);

-- The result does not depend on the session TimeZone: the last period is
-- computed in UTC, even across a daylight-saving change.
SET TimeZone = 'America/New_York';
SELECT (rfm_metrics(t, 1, 1, '2020-03-09 12:00+00', '1 day')).frequency_last_period
FROM (VALUES ('2020-03-08 12:00:01+00'::timestamptz), ('2020-03-08 11:00+00')) v(t);
SET TimeZone = 'UTC';

-- Amounts with many digits stay exact (they pass the 38-digit fast path).
SELECT (rfm_metrics(t, a, '2020-03-01')).monetary = sum(a) AS exact,
	(rfm_metrics(t, a, '2020-03-01')).monetary
FROM (VALUES ('2020-01-01'::timestamptz, 99999999999999999999999999999999999999.5),
			 ('2020-01-02', 99999999999999999999999999999999999999.5),
			 ('2020-01-03', 0.000000000000000000000000000000000000000001)) v(t, a);

-- The scale of the sum is the largest scale of the amounts, as sum() gives.
SELECT (rfm_metrics(t, a, '2020-03-01')).monetary, sum(a)
FROM (VALUES ('2020-01-01'::timestamptz, 1.10), ('2020-01-02', 2), ('2020-01-03', -0.100)) v(t, a);

-- Sums are the very numerics sum() builds (same digits, weight, display
-- scale and sign, compared in binary form), across scales, magnitudes,
-- zeros, negative results and sums past 38 digits.
CREATE TABLE amounts AS
SELECT g % 40 AS k,
	CASE g % 9
		WHEN 0 THEN ((g * 7919) % 200001 - 100000)::numeric / 100
		WHEN 1 THEN ((g * 104729) % 1000)::numeric / power(10::numeric, g % 30)
		WHEN 2 THEN ((g * 31) % 1000 - 500)::numeric * power(10::numeric, g % 40)
		WHEN 3 THEN round((g::numeric / 7), (g % 25)::int)
		WHEN 4 THEN 0.000
		WHEN 5 THEN -((g * 13) % 77)::numeric(10, 4)
		WHEN 6 THEN 12345678901234567890123456789.123456789 * (g % 3 - 1)
		WHEN 7 THEN NULL
		ELSE (g % 10000)::numeric END AS a
FROM generate_series(1, 4000) g;
SELECT count(*) AS groups,
	count(*) FILTER (WHERE numeric_send(m.monetary) = numeric_send(s.total)) AS same_sum,
	count(*) FILTER (WHERE numeric_send(m.avg_amount) = numeric_send(s.average)) AS same_avg
FROM (SELECT k, (rfm_metrics('2020-01-01'::timestamptz, a, '2020-02-01')).* FROM amounts GROUP BY k) m
JOIN (SELECT k, sum(a) AS total, avg(a) AS average FROM amounts GROUP BY k) s USING (k);
SELECT count(*) AS groups,
	count(*) FILTER (WHERE numeric_send(m.weighted_frequency) = numeric_send(s.total)) AS same_weight_sum
FROM (SELECT k, (rfm_metrics('2020-01-01'::timestamptz, NULL, a, '2020-02-01', '30 days')).* FROM amounts GROUP BY k) m
JOIN (SELECT k, coalesce(sum(a), 0) AS total FROM amounts GROUP BY k) s USING (k);
-- A wider sweep: 60,000 pseudo-random amounts with scales 0..40 and
-- magnitudes from 1e-30 to 1e+40, in 300 groups, against sum() and avg().
SELECT setseed(0.5);
CREATE TABLE sweep AS
SELECT (i % 300) AS k,
	round(((random() - 0.5) * power(10::numeric, (floor(random() * 70) - 30)::int))::numeric,
		  (floor(random() * 41))::int) AS a
FROM generate_series(1, 60000) i;
SELECT count(*) AS groups,
	count(*) FILTER (WHERE numeric_send(m.monetary) = numeric_send(s.total)
				   AND numeric_send(m.avg_amount) = numeric_send(s.average)) AS identical
FROM (SELECT k, (rfm_metrics('2020-01-01'::timestamptz, a, '2020-02-01')).* FROM sweep GROUP BY k) m
JOIN (SELECT k, sum(a) AS total, avg(a) AS average FROM sweep GROUP BY k) s USING (k);
DROP TABLE sweep;
-- zero at several scales, and a sum that cancels to zero
SELECT numeric_send((rfm_metrics('2020-01-01'::timestamptz, a, '2020-02-01')).monetary) = numeric_send(sum(a)) AS same,
	(rfm_metrics('2020-01-01'::timestamptz, a, '2020-02-01')).monetary
FROM (VALUES (1.50), (-1.5), (0.000)) v(a);
DROP TABLE amounts;

-- Over no rows at all the aggregate is NULL, like sum().
SELECT rfm_metrics(t, amount, '2020-03-01') IS NULL AS is_null FROM ev WHERE false;

-- The same answer as the plain SQL it replaces, on generated data.
CREATE TABLE gen AS
SELECT g % 97 AS customer,
	'2020-01-01 00:00+00'::timestamptz + (g * 7919 % 100000) * interval '1 minute' AS t,
	CASE WHEN g % 13 = 0 THEN NULL ELSE ((g * 31) % 20000 - 1000) / 100.0 END AS amount
FROM generate_series(1, 20000) g;

SELECT count(*) AS customers,
	count(*) FILTER (WHERE m.recency_days = extract(epoch FROM '2020-02-20'::timestamptz - s.last_t) / 86400
				   AND m.tenure_days = extract(epoch FROM '2020-02-20'::timestamptz - s.first_t) / 86400
				   AND m.frequency = s.n AND m.monetary = s.total AND m.avg_amount = s.average
				   AND m.frequency_last_period = s.n_last
				   AND m.ignored_after_as_of = s.ignored) AS equal
FROM (SELECT customer, (rfm_metrics(t, amount, '2020-02-20')).* FROM gen GROUP BY customer) m
JOIN (SELECT customer,
		max(t) FILTER (WHERE t <= '2020-02-20') AS last_t,
		min(t) FILTER (WHERE t <= '2020-02-20') AS first_t,
		count(*) FILTER (WHERE t <= '2020-02-20') AS n,
		sum(amount) FILTER (WHERE t <= '2020-02-20') AS total,
		avg(amount) FILTER (WHERE t <= '2020-02-20') AS average,
		count(*) FILTER (WHERE t > '2020-01-21' AND t <= '2020-02-20') AS n_last,
		count(*) FILTER (WHERE t > '2020-02-20') AS ignored
	  FROM gen GROUP BY customer) s USING (customer);

-- Usable as a window aggregate (a running view of one customer).
SELECT t, (rfm_metrics(t, amount, '2020-03-01') OVER (ORDER BY t)).frequency,
	(rfm_metrics(t, amount, '2020-03-01') OVER (ORDER BY t)).monetary
FROM ev WHERE customer = 1 AND t IS NOT NULL ORDER BY t;

-- The last period without a weight (since 0.3): the same as weight 1.
SELECT (rfm_metrics(t, amount, '2020-02-20', '7 days')).frequency_last_period AS last_7_days,
	(rfm_metrics(t, amount, 1::numeric, '2020-02-20', '7 days')).frequency_last_period AS with_weight_1
FROM gen WHERE customer = 5;

-- Refunds (since 0.3).  A retailer's cancelled invoices, worked by hand, as
-- of 2024-06-30 with a 30-day last period (from 2024-05-31 on):
--   a: invoices 2024-03-01 100.00 and 2024-05-10 50.00; 2024-05-20 the May
--      invoice is cancelled, -50.00.
--      events: 3 events, last 2024-05-20 (recency 41), monetary 100.00.
--      adjust: 2 purchases, last 2024-05-10 (recency 51), monetary 100.00,
--      avg_amount 100.00 / 2 = 50.00.
--   b: only a cancellation, 2024-06-15 -20.00.
--      events: 1 event (recency 15, 1 in the last period), monetary -20.00.
--      adjust: no purchase: frequency 0, no first/last/recency, monetary
--      -20.00, avg_amount NULL.
--   c: 2024-06-20 10.00, refunded 2024-06-25 -10.00, 2024-07-05 5.00 (after
--      as_of, ignored).
--      events: 2 events, recency 5, monetary 0.00, 1 ignored.
--      adjust: 1 purchase, recency 10, 1 in the last period, monetary 0.00,
--      avg_amount 0.00, 1 ignored.
CREATE TABLE cancels (customer text, t timestamptz, amount numeric(10,2));
INSERT INTO cancels VALUES
	('a', '2024-03-01', 100.00), ('a', '2024-05-10', 50.00), ('a', '2024-05-20', -50.00),
	('b', '2024-06-15', -20.00),
	('c', '2024-06-20', 10.00), ('c', '2024-06-25', -10.00), ('c', '2024-07-05', 5.00);
SELECT customer, refunds, (m).first_event::date, (m).last_event::date, (m).recency_days, (m).frequency,
	(m).frequency_last_period AS last_30, (m).monetary, (m).avg_amount, (m).ignored_after_as_of AS ignored
FROM (SELECT customer, r.refunds, rfm_metrics(t, amount, 1, '2024-06-30', '30 days', r.refunds) AS m
	  FROM cancels, (VALUES ('events'), ('adjust')) r(refunds) GROUP BY customer, r.refunds) s
ORDER BY customer, refunds DESC;
-- 'events' is the form without refunds
SELECT count(*) AS customers, count(*) FILTER (WHERE x.m::text = y.m::text) AS events_is_the_default
FROM (SELECT customer, rfm_metrics(t, amount, 1::numeric, '2024-06-30', '30 days', 'events') m FROM cancels GROUP BY 1) x
JOIN (SELECT customer, rfm_metrics(t, amount, 1::numeric, '2024-06-30', '30 days') m FROM cancels GROUP BY 1) y USING (customer);
-- an adjusted state says so in its text form (version 2) and survives it
SELECT rfm_metrics_trans_numeric_refunds(NULL, '2024-06-15', -20.00, 1, '2024-06-30', '30 days', 'adjust') AS state;
SELECT s::text::rfm_metrics_state::text = s::text AS round_trip, (rfm_metrics_final(s)).monetary
FROM (SELECT rfm_metrics_trans_numeric_refunds(NULL, '2024-06-15', -20.00, 1, '2024-06-30', '30 days', 'adjust') s) x;
-- weights and dates follow the same rule
SELECT (m).frequency, (m).weighted_frequency, (m).monetary
FROM (SELECT rfm_metrics(t::date, amount, 2.5::float8, '2024-06-30'::date, '30 days', 'adjust') AS m
	  FROM cancels WHERE customer = 'a') s;

-- On retail-like data: with refunds adjusted, frequency, first and last
-- event and the last period come from the purchases alone, monetary from
-- purchases and refunds together; and serial equals parallel.
CREATE TABLE retail AS
SELECT g % 211 AS customer,
	'2024-01-01 00:00+00'::timestamptz + (g * 7919 % 500000) * interval '1 minute' AS t,
	CASE WHEN g % 11 = 0 THEN -((g * 13) % 9000) / 100.0 ELSE ((g * 31) % 20000) / 100.0 END AS amount
FROM generate_series(1, 30000) g;
SELECT count(*) AS customers,
	count(*) FILTER (WHERE m.frequency = s.purchases AND m.first_event IS NOT DISTINCT FROM s.first_t
				   AND m.last_event IS NOT DISTINCT FROM s.last_t AND m.monetary = s.total
				   AND m.frequency_last_period = s.purchases_last) AS equal,
	sum(s.refunds) AS refunds_not_counted
FROM (SELECT customer, (rfm_metrics(t, amount, 1, '2024-12-01', '30 days', 'adjust')).* FROM retail GROUP BY customer) m
JOIN (SELECT customer,
		count(*) FILTER (WHERE amount >= 0 AND t <= '2024-12-01') AS purchases,
		count(*) FILTER (WHERE amount < 0 AND t <= '2024-12-01') AS refunds,
		min(t) FILTER (WHERE amount >= 0 AND t <= '2024-12-01') AS first_t,
		max(t) FILTER (WHERE amount >= 0 AND t <= '2024-12-01') AS last_t,
		sum(amount) FILTER (WHERE t <= '2024-12-01') AS total,
		count(*) FILTER (WHERE amount >= 0 AND t > '2024-11-01' AND t <= '2024-12-01') AS purchases_last
	  FROM retail GROUP BY customer) s USING (customer);
CREATE TABLE serial_adjusted AS
SELECT customer, rfm_metrics(t, amount, 1, '2024-12-01', '30 days', 'adjust')::text AS m FROM retail GROUP BY customer;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET enable_hashagg = off;
SELECT count(*) AS differ FROM serial_adjusted s
JOIN (SELECT customer, rfm_metrics(t, amount, 1, '2024-12-01', '30 days', 'adjust')::text AS m FROM retail GROUP BY customer) p
USING (customer) WHERE s.m <> p.m;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET enable_hashagg;

DROP TABLE ev, gen, cancels, retail, serial_adjusted;
