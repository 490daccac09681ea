-- CDNOW ($RFM_SHARED_DATA/cdnow_master.txt, ../shared/data by default): 69,659 purchases of the 23,570
-- customers who first bought in 1997-Q1.  Snapshots at the 16 month ends
-- from 1997-03-31 to 1998-06-30 in one scan equal 16 separate runs, and
-- transitions account for every customer.  Runs only where the reference
-- data is present (see the Makefile).
\set VERBOSITY terse
SET TimeZone = 'UTC';

\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/cdnow.psql
SELECT count(*) AS purchases, count(DISTINCT customer_id) AS customers,
	min(order_date), max(order_date), sum(dollars) AS revenue FROM cdnow;

CREATE TABLE month_ends AS
SELECT array_agg((d + interval '1 month - 1 day')::date::timestamptz ORDER BY d) AS as_of
FROM generate_series('1997-03-01'::date, '1998-06-01', '1 month') d;
SELECT cardinality(as_of), as_of[1], as_of[16] FROM month_ends;

-- One scan for all 16 snapshots, against 16 runs of rfm_analyze.
CREATE TABLE snaps AS
SELECT s.* FROM month_ends, rfm_snapshots('cdnow', 'customer_id', 'order_date', 'dollars', as_of => month_ends.as_of) s;
CREATE TABLE runs AS
SELECT a.d AS snapshot_as_of, x.*
FROM month_ends, unnest(month_ends.as_of) a(d), rfm_analyze('cdnow', 'customer_id', 'order_date', 'dollars', as_of => a.d) x;
SELECT (SELECT count(*) FROM snaps) AS snapshot_rows, (SELECT count(*) FROM runs) AS run_rows,
	(SELECT count(*) FROM (SELECT * FROM snaps EXCEPT ALL SELECT * FROM runs) x) AS only_in_snapshots,
	(SELECT count(*) FROM (SELECT * FROM runs EXCEPT ALL SELECT * FROM snaps) x) AS only_in_runs;

-- Customers and segments over time (every customer is present from 1997-03-31)
SELECT snapshot_as_of::date, count(*) AS customers,
	count(*) FILTER (WHERE segment = 'Champions') AS champions,
	count(*) FILTER (WHERE segment = 'Lost') AS lost,
	sum(monetary) AS revenue_to_date
FROM snaps GROUP BY 1 ORDER BY 1;

-- The same metrics as plain SQL at the last month end.
SELECT count(*) AS customers,
	count(*) FILTER (WHERE s.recency_days = DATE '1998-06-30' - p.last_order
				   AND s.frequency = p.n AND s.monetary = p.total) AS equal
FROM snaps s
JOIN (SELECT customer_id::text, max(order_date) AS last_order, count(*) AS n, sum(dollars) AS total
	  FROM cdnow GROUP BY customer_id) p ON p.customer_id = s.customer_key
WHERE s.snapshot_as_of = '1998-06-30';

-- Transitions from 1997-12-31 to 1998-06-30: every customer present at the
-- second date is in one cell; none is new (the cohort bought in 1997-Q1).
SELECT sum(customers) AS customers, sum(customers) FILTER (WHERE from_segment IS NULL) AS new
FROM rfm_transitions('cdnow', 'customer_id', 'order_date', 'dollars',
					 from_as_of => '1997-12-31', to_as_of => '1998-06-30');
SELECT from_segment, to_segment, customers, revenue_between
FROM rfm_transitions('cdnow', 'customer_id', 'order_date', 'dollars',
					 from_as_of => '1997-12-31', to_as_of => '1998-06-30')
WHERE from_segment IN ('Champions', 'Potential Loyalist') ORDER BY 1, 3 DESC, 2;

-- Early warning at mid-1998
SELECT count(*) AS alerts, count(*) FILTER (WHERE segment_after = 'Lost') AS now_lost
FROM rfm_churn_alerts('cdnow', 'customer_id', 'order_date', 'dollars',
					  from_as_of => '1998-03-31', to_as_of => '1998-06-30');

DROP TABLE month_ends, snaps, runs;

-- Cohorts and retention: monthly cohort sizes 1997-01 7,846, 1997-02 8,476,
-- 1997-03 7,248; cohort 1997-01 active in month offsets 0..3: 7,846 / 1,157
-- / 964 / 810.
SELECT cohort, period_offset, cohort_size, active, round(rate::numeric, 4) AS rate
FROM rfm_retention('cdnow', 'customer_id', 'order_date') WHERE period_offset <= 3 ORDER BY 1, 2;
SELECT count(*) AS cells, count(DISTINCT cohort) AS cohorts, max(period_offset) AS last_offset
FROM rfm_retention('cdnow', 'customer_id', 'order_date');
-- quarters, and how many of mid-1998's Champions came from each cohort
SELECT cohort, period_offset, active FROM rfm_retention('cdnow', 'customer_id', 'order_date', 'quarter')
ORDER BY 1, 2;
SELECT rfm_cohort(first_event::date, 'month') AS cohort, count(*) AS champions
FROM rfm_analyze('cdnow', 'customer_id', 'order_date', 'dollars', as_of => '1998-06-30')
WHERE segment = 'Champions' GROUP BY 1 ORDER BY 1;
DROP TABLE cdnow_raw, cdnow;
