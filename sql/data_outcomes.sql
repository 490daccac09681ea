-- Do the segments predict?  CDNOW ($RFM_SHARED_DATA/cdnow_master.txt): the
-- segments of 1997-09-30 against purchases in the next 39 weeks, to
-- 1998-06-30, under the standard rule set (R, F, M) and the activity one
-- (rffl: R, F and last-period frequency L) side by side.  Checked against
-- plain SQL: the customers active in the horizon, the segments of
-- rfm_analyze, and the AUC by the rank-sum form of Mann-Whitney.  Runs
-- only where the reference data is present (see the Makefile).
\set VERBOSITY terse
SET TimeZone = 'UTC';

\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/cdnow.psql

CREATE TABLE outcome AS
SELECT * FROM rfm_segment_outcomes('cdnow', 'customer_id', 'order_date', 'dollars', '1997-09-30', '39 weeks');

-- How well each dimension tells who buys again by 1998-06-30 (AUC: 0.5 is
-- a coin, 1 a perfect ranking; the third score is M under standard, L
-- under rffl)
SELECT CASE WHEN dimension IN ('m', 'l') THEN 'm / l' ELSE dimension END AS dimension,
	round(max(auc) FILTER (WHERE rule_set = 'standard')::numeric, 4) AS standard,
	round(max(auc) FILTER (WHERE rule_set = 'rffl')::numeric, 4) AS rffl
FROM outcome GROUP BY 1 ORDER BY min(CASE dimension WHEN 'segment' THEN 1 WHEN 'r' THEN 2 WHEN 'f' THEN 3 ELSE 4 END);

-- Share active by segment, most active first: hot really is hot
SELECT rule_set, value AS segment, customers, active, round(share_active::numeric, 4) AS share_active,
	round(mean_purchases::numeric, 3) AS mean_purchases, round(mean_revenue, 2) AS mean_revenue
FROM outcome WHERE dimension = 'segment'
ORDER BY rule_set DESC, share_active DESC, value;
SELECT round((SELECT share_active FROM outcome WHERE rule_set = 'standard' AND value = 'Champions')::numeric, 4) AS champions,
	round((SELECT share_active FROM outcome WHERE rule_set = 'standard' AND value = 'Lost')::numeric, 4) AS lost,
	round((SELECT share_active FROM outcome WHERE rule_set = 'rffl' AND value = 'Hot')::numeric, 4) AS hot,
	round((SELECT share_active FROM outcome WHERE rule_set = 'rffl' AND value = 'Cold')::numeric, 4) AS cold;

-- ... and by score
SELECT rule_set, dimension, value AS score, customers, active, round(share_active::numeric, 4) AS share_active
FROM outcome WHERE dimension <> 'segment'
ORDER BY rule_set DESC, dimension, value;

-- Plain SQL: the same customers, actives and revenue per segment (the
-- segments from rfm_analyze, with and without the amount)
CREATE TABLE plain AS
WITH readings AS (
	SELECT 'standard' AS rule_set, customer_key, segment, r, f, m AS third
	FROM rfm_analyze('cdnow', 'customer_id', 'order_date', 'dollars', as_of => '1997-09-30')
	UNION ALL
	SELECT 'rffl', customer_key, segment, r, f, m
	FROM rfm_analyze('cdnow', 'customer_id', 'order_date', as_of => '1997-09-30')
), horizon AS (
	SELECT customer_id::text AS customer_key, count(*) AS purchases, sum(dollars) AS revenue
	FROM cdnow WHERE order_date > '1997-09-30' AND order_date <= '1998-06-30' GROUP BY 1
)
SELECT r.*, h.customer_key IS NOT NULL AS is_active, coalesce(h.purchases, 0) AS purchases,
	coalesce(h.revenue, 0) AS revenue
FROM readings r LEFT JOIN horizon h USING (customer_key);
SELECT rule_set, count(*) AS customers, count(*) FILTER (WHERE is_active) AS active
FROM plain GROUP BY 1 ORDER BY 1 DESC;
SELECT count(*) AS segment_rows,
	count(*) FILTER (WHERE o.customers = p.customers AND o.active = p.active AND o.mean_revenue = p.revenue) AS equal
FROM outcome o
JOIN (SELECT rule_set, segment, count(*) AS customers, count(*) FILTER (WHERE is_active) AS active, avg(revenue) AS revenue
	  FROM plain GROUP BY 1, 2) p ON p.rule_set = o.rule_set AND p.segment = o.value
WHERE o.dimension = 'segment';

-- The AUC by ranks: (sum of the active customers' mid-ranks - n1 (n1 + 1)
-- / 2) / (n1 n0), each segment scored by its own share active
WITH scored AS (
	SELECT p.rule_set, d.dim, d.score, p.is_active
	FROM plain p
	JOIN (SELECT rule_set, segment, avg(is_active::int) AS share FROM plain GROUP BY 1, 2) s
		ON s.rule_set = p.rule_set AND s.segment = p.segment,
		LATERAL (VALUES ('segment', s.share), ('r', p.r), ('f', p.f),
						(CASE p.rule_set WHEN 'rffl' THEN 'l' ELSE 'm' END, p.third)) d(dim, score)
), ranked AS (
	SELECT rule_set, dim, is_active,
		(rank() OVER w + count(*) OVER (PARTITION BY rule_set, dim, score) - 1 + rank() OVER w) / 2.0 AS mid_rank
	FROM scored WINDOW w AS (PARTITION BY rule_set, dim ORDER BY score)
), sums AS (
	SELECT rule_set, dim, sum(mid_rank) FILTER (WHERE is_active) AS rank_sum,
		count(*) FILTER (WHERE is_active) AS n1, count(*) FILTER (WHERE NOT is_active) AS n0
	FROM ranked GROUP BY 1, 2
)
SELECT s.rule_set, s.dim, round((s.rank_sum - s.n1 * (s.n1 + 1) / 2.0) / (s.n1 * s.n0), 4) AS rank_auc,
	abs((s.rank_sum - s.n1 * (s.n1 + 1) / 2.0) / (s.n1 * s.n0) - o.auc) < 1e-12 AS equal
FROM sums s JOIN (SELECT DISTINCT rule_set, dimension, auc FROM outcome) o ON o.rule_set = s.rule_set AND o.dimension = s.dim
ORDER BY 1 DESC, 2;

DROP TABLE cdnow_raw, cdnow, outcome, plain;
