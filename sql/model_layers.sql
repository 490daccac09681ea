-- Models with the 0.3 layers: clusters by Ward's method on chosen features,
-- lifetime value, micro-segments and recommendations; churn alerts on
-- P(alive).  Each view is checked against the function it wraps, called
-- directly.
\set VERBOSITY terse
SET TimeZone = 'UTC';
SET client_min_messages = warning;

-- A buy-till-you-die shop: 400 customers, each buying at a rate of its
-- own from its first day until it drops out at a rate of its own, and
-- spending around an amount of its own; 90% of a customer's purchases are
-- of the five products of its group (customer number mod 4).
SELECT setseed(0.25);
CREATE TABLE bty AS
WITH c AS (
	SELECT i, 1 + floor(random() * 120)::int AS first_day, 0.01 + random() * random() * 0.3 AS rate,
		floor(-ln(1 - random()) * 400 * random() * random())::int AS lifetime, 10 * exp(random() * 3) AS spend
	FROM generate_series(1, 400) i
)
SELECT 'c' || c.i AS customer, date '2024-01-01' + c.first_day + d AS ordered,
	round((c.spend * (0.7 + 0.6 * random()))::numeric, 2) AS amount,
	CASE WHEN random() < 0.9 THEN 'p' || ((c.i % 4) * 5 + floor(random() * 5)::int)
		 ELSE 'p' || floor(random() * 20)::int END AS product
FROM c, generate_series(0, 364) d
WHERE c.first_day + d <= 365 AND (d = 0 OR (d <= c.lifetime AND random() < c.rate));
SELECT count(*) AS events, count(DISTINCT customer) AS customers FROM bty;

-- Ward's method on chosen features
SELECT rfm_create_model('ward', 'bty', 'customer', 'ordered', 'amount', as_of => '2024-12-31', clusters => 4,
						cluster_method => 'hclust',
						features => ARRAY['recency_days', 'frequency: log1p', 'monetary: log1p', 'tenure_days']);
SELECT method, k, features, customers, (hclust_model).method AS linkage, (hclust_model).two_step,
	kmeans_model IS NULL AS no_kmeans FROM ward_cluster_model;
-- the clusters are the tree's cut at 4: the same sizes as rfm_hclust_cut,
-- and each customer where rfm_cluster puts its features
SELECT c.cluster, c.customers, c.customers = k.n AS as_cut
FROM ward_cluster_model f, LATERAL rfm_hclust_cut(f.hclust_model, 4) c
	JOIN (SELECT cluster, count(*) AS n FROM ward_clusters GROUP BY cluster) k USING (cluster)
ORDER BY c.cluster;
SELECT count(*) FILTER (WHERE k.cluster = rfm_cluster(ARRAY[m.recency_days, m.frequency, m.monetary, m.tenure_days]::float8[],
													   f.hclust_model, 4)) AS as_assigned, count(*) AS clustered
FROM ward_clusters k JOIN ward_metrics m USING (customer), ward_cluster_model f;
-- and the profiles describe it as rfm_cluster_profile does
SELECT p.cluster, p.customers, p.distinctive, p.description,
	(p.distinctive, p.description) = (x.distinctive, x.description) AS as_profiled
FROM ward_cluster_profiles p
	JOIN (SELECT x.* FROM ward_cluster_model f, LATERAL rfm_cluster_profile(f.hclust_model, f.k) x) x USING (cluster)
ORDER BY p.cluster;
SELECT cluster_method, features FROM rfm_model WHERE name = 'ward';
-- the views kept per customer store their rows in the order of their
-- bytes, a text key's as under COLLATE "C" ('c10' before 'c9'), so that
-- a concurrent refresh sorts them in one pass: no row follows one it
-- sorts before (*>=, models)
SELECT 'ward_metrics' AS view, count(*) FILTER (WHERE p *>= w) AS out_of_order
FROM (SELECT w, lag(w) OVER (ORDER BY w.ctid) AS p FROM ward_metrics w) x
UNION ALL SELECT 'ward_segments', count(*) FILTER (WHERE p *>= w)
FROM (SELECT w, lag(w) OVER (ORDER BY w.ctid) AS p FROM ward_segments w) x
UNION ALL SELECT 'ward_clusters', count(*) FILTER (WHERE p *>= w)
FROM (SELECT w, lag(w) OVER (ORDER BY w.ctid) AS p FROM ward_clusters w) x;
SELECT rfm_drop_model('ward');

-- Lifetime value, refitted at each refresh on the days up to as_of.  The
-- horizon, discount rate and margin are written into the view exactly
-- whatever the session's extra_float_digits: with one significant digit
-- the horizon 26 would read 30 (3e+01), and the numbers below would differ
SET extra_float_digits = -14;
SELECT rfm_create_model('ltv', 'bty', 'customer', 'ordered', 'amount', as_of => '2024-12-31', clv => true,
						clv_horizon => 26, clv_discount_rate => 0.002, clv_margin => 0.3);
RESET extra_float_digits;
SELECT count(*) AS customers, bool_and(fit_converged) AS converged, min(p_alive) >= 0 AND max(p_alive) <= 1 AS probabilities,
	count(*) FILTER (WHERE x = 0 AND mean_spend IS NULL) = count(*) FILTER (WHERE x = 0) AS one_timers_no_mean
FROM ltv_clv;
-- the same numbers by hand: summary, fits and scores called directly
WITH s AS (SELECT * FROM rfm_clv_summary('bty', 'customer', 'ordered', 'amount', date '2024-12-31')),
	 f AS (SELECT rfm_pnbd_fit(x, t_x, t_cal) AS pn, rfm_gg_fit(x, mean_spend) AS gg FROM s),
	 mine AS (SELECT s.customer_key AS customer, s.x, s.t_x, s.t_cal, s.mean_spend,
					 rfm_p_alive(f.pn, s.x, s.t_x, s.t_cal) AS p_alive,
					 rfm_expected_purchases(f.pn, 26, s.x, s.t_x, s.t_cal) AS expected_purchases,
					 round(rfm_expected_spend(f.gg, s.x, s.mean_spend)::numeric, 2) AS expected_spend,
					 round(rfm_clv(f.pn, f.gg, s.x, s.t_x, s.t_cal, s.mean_spend, 26, 0.002, 0.3)::numeric, 2) AS clv
			  FROM s, f)
SELECT count(*) AS by_hand,
	count(*) FILTER (WHERE (v.x, v.t_x, v.t_cal, v.mean_spend, v.p_alive, v.expected_purchases, v.expected_spend, v.clv)
						   IS NOT DISTINCT FROM (mine.x, mine.t_x, mine.t_cal, mine.mean_spend, mine.p_alive,
												 mine.expected_purchases, mine.expected_spend, mine.clv)) AS equal
FROM mine JOIN ltv_clv v USING (customer);
SELECT customer, x, round(p_alive::numeric, 3) AS p_alive, round(expected_purchases::numeric, 2) AS expected_purchases,
	expected_spend, clv
FROM ltv_clv ORDER BY clv DESC, customer LIMIT 3;
SELECT count(*) FILTER (WHERE p *>= v) AS out_of_order FROM (SELECT v, lag(v) OVER (ORDER BY v.ctid) AS p FROM ltv_clv v) x;
SELECT clv, clv_model, clv_horizon, clv_unit, clv_discount_rate, clv_margin, views[6:] AS optional_views FROM rfm_model WHERE name = 'ltv';
SELECT rfm_drop_model('ltv');

-- clv_model => 'bgnbd': BG/NBD instead of Pareto/NBD, the same numbers as
-- its functions called directly; its P(alive) of a one-time buyer is 1
SELECT rfm_create_model('bg', 'bty', 'customer', 'ordered', 'amount', as_of => '2024-12-31', clv => true,
						clv_model => 'bgnbd', clv_horizon => 26, clv_margin => 0.3);
WITH s AS (SELECT * FROM rfm_clv_summary('bty', 'customer', 'ordered', 'amount', date '2024-12-31')),
	 f AS (SELECT rfm_bgnbd_fit(x, t_x, t_cal) AS bg, rfm_gg_fit(x, mean_spend) AS gg FROM s),
	 mine AS (SELECT s.customer_key AS customer, s.x, s.t_x, s.t_cal, s.mean_spend,
					 rfm_p_alive(f.bg, s.x, s.t_x, s.t_cal) AS p_alive,
					 rfm_expected_purchases(f.bg, 26, s.x, s.t_x, s.t_cal) AS expected_purchases,
					 round(rfm_expected_spend(f.gg, s.x, s.mean_spend)::numeric, 2) AS expected_spend,
					 round(rfm_clv(f.bg, f.gg, s.x, s.t_x, s.t_cal, s.mean_spend, 26, 0, 0.3)::numeric, 2) AS clv,
					 (f.bg).converged AND (f.gg).converged AS fit_converged
			  FROM s, f)
SELECT count(*) AS by_hand,
	count(*) FILTER (WHERE (v.x, v.t_x, v.t_cal, v.mean_spend, v.p_alive, v.expected_purchases, v.expected_spend, v.clv, v.fit_converged)
						   IS NOT DISTINCT FROM (mine.x, mine.t_x, mine.t_cal, mine.mean_spend, mine.p_alive,
												 mine.expected_purchases, mine.expected_spend, mine.clv, mine.fit_converged)) AS equal,
	bool_and(v.p_alive = 1) FILTER (WHERE v.x = 0) AS one_timers_alive
FROM mine JOIN bg_clv v USING (customer);
SELECT obj_description('bg_clv'::regclass) AS about, col_description('bg_clv'::regclass, 6) AS p_alive_column;
SELECT clv, clv_model FROM rfm_model WHERE name = 'bg';
SELECT rfm_drop_model('bg');

-- A model that follows the latest event: new purchases of a customer who
-- looked gone give, after a refresh, more repeat purchases, a later as_of
-- and a higher P(alive)
SELECT rfm_create_model('ltv', 'bty', 'customer', 'ordered', 'amount', clv => true);
CREATE TABLE gone AS SELECT customer FROM ltv_clv WHERE x > 3 ORDER BY p_alive, customer LIMIT 1;
SELECT x, round(p_alive::numeric, 3) AS p_alive, as_of FROM ltv_clv JOIN gone USING (customer);
INSERT INTO bty SELECT g.customer, date '2025-01-01' + d, 50, 'p0' FROM gone g, generate_series(0, 20, 4) d;
SELECT rfm_refresh('ltv', concurrently => true);
SELECT x, round(p_alive::numeric, 3) AS p_alive, as_of FROM ltv_clv JOIN gone USING (customer);
DELETE FROM bty WHERE ordered >= '2025-01-01';
DROP TABLE gone;
SELECT rfm_drop_model('ltv');

-- Micro-segments and recommendations
SELECT rfm_create_model('graph', 'bty', 'customer', 'ordered', 'amount', item_column => 'product', micro_segments => true);
SELECT node_kind, count(*) AS nodes, count(DISTINCT community) AS communities FROM graph_micro_segments GROUP BY 1 ORDER BY 1;
-- the views are the functions' answers
SELECT (SELECT count(*) FROM (TABLE graph_micro_segments
							  EXCEPT SELECT * FROM rfm_micro_segments('bty', 'customer', 'product')) d) AS micro_not_direct,
	(SELECT count(*) FROM (SELECT * FROM rfm_micro_segments('bty', 'customer', 'product')
						   EXCEPT TABLE graph_micro_segments) d) AS direct_not_micro,
	(SELECT count(*) FROM (SELECT customer::text, product::text, rank, score FROM graph_recommendations
						   EXCEPT SELECT * FROM rfm_recommend('bty', 'customer', 'product')) d) AS recommended_not_direct,
	(SELECT count(*) FROM graph_recommendations) = (SELECT count(*) FROM rfm_recommend('bty', 'customer', 'product')) AS same_count;
-- the planted groups: most of a community's customers share a home group
SELECT count(*) AS customer_communities,
	min(round(share, 2)) AS smallest_home_share
FROM (SELECT community, max(n)::numeric / sum(n) AS share
	  FROM (SELECT m.community, substr(m.node_key, 2)::int % 4 AS home, count(*) AS n
			FROM graph_micro_segments m WHERE m.node_kind = 'customer' GROUP BY 1, 2) g
	  GROUP BY community HAVING sum(n) >= 10) c;
SELECT customer, product, rank FROM graph_recommendations WHERE customer = 'c1' ORDER BY rank LIMIT 3;
SELECT format_type(atttypid, atttypmod) AS product_type FROM pg_attribute
WHERE attrelid = 'graph_recommendations'::regclass AND attname = 'product';
SELECT item_column, micro_segments, views[6:] AS optional_views FROM rfm_model WHERE name = 'graph';
SELECT 'graph_micro_segments' AS view, count(*) FILTER (WHERE p *>= g) AS out_of_order
FROM (SELECT g, lag(g) OVER (ORDER BY g.ctid) AS p FROM graph_micro_segments g) x
UNION ALL SELECT 'graph_recommendations', count(*) FILTER (WHERE p *>= g)
FROM (SELECT g, lag(g) OVER (ORDER BY g.ctid) AS p FROM graph_recommendations g) x;
SELECT rfm_refresh('graph');
SELECT rfm_drop_model('graph');

-- A model drops and refreshes the views it made, not others of the same
-- name: a table of the user's called like an optional view stays.
SELECT rfm_create_model('plain', 'bty', 'customer', 'ordered', 'amount');
CREATE MATERIALIZED VIEW plain_clv AS SELECT 1 AS mine;
SELECT rfm_refresh('plain');
SELECT rfm_drop_model('plain');
SELECT * FROM plain_clv;
DROP MATERIALIZED VIEW plain_clv;

-- Churn alerts on P(alive): customers whose probability of being alive
-- fell below the threshold between the two dates, against fits by hand
SELECT count(*) AS alerts, count(*) FILTER (WHERE reason LIKE '%P(alive)%') AS p_alive_alerts,
	count(*) FILTER (WHERE p_alive_after IS NULL) AS without_p_alive
FROM rfm_churn_alerts('bty', 'customer', 'ordered', 'amount', from_as_of => '2024-10-31', to_as_of => '2024-12-31',
					  p_alive_below => 0.5);
WITH s AS (SELECT d, c.* FROM unnest(ARRAY[date '2024-10-31', date '2024-12-31']) d,
			   LATERAL rfm_clv_summary('bty', 'customer', 'ordered', NULL, d) c),
	 f AS (SELECT d, rfm_pnbd_fit(x, t_x, t_cal) AS pn FROM s GROUP BY d),
	 p AS (SELECT s.customer_key, max(rfm_p_alive(f.pn, s.x, s.t_x, s.t_cal)) FILTER (WHERE s.d = '2024-10-31') AS p0,
				  max(rfm_p_alive(f.pn, s.x, s.t_x, s.t_cal)) FILTER (WHERE s.d = '2024-12-31') AS p1
		   FROM s JOIN f USING (d) GROUP BY s.customer_key),
	 mine AS (SELECT customer_key FROM p WHERE p0 >= 0.5 AND p1 < 0.5),
	 alerts AS (SELECT customer_key FROM rfm_churn_alerts('bty', 'customer', 'ordered', 'amount', from_as_of => '2024-10-31',
														  to_as_of => '2024-12-31', p_alive_below => 0.5)
				WHERE reason LIKE '%P(alive) fell%')
SELECT (SELECT count(*) FROM mine) AS by_hand,
	(SELECT count(*) FROM (TABLE mine EXCEPT TABLE alerts) d) AS missed,
	(SELECT count(*) FROM (TABLE alerts EXCEPT TABLE mine) d) AS extra;
SELECT customer_key, segment_before, segment_after, round(p_alive_before::numeric, 2) AS before,
	round(p_alive_after::numeric, 2) AS after, reason
FROM rfm_churn_alerts('bty', 'customer', 'ordered', 'amount', from_as_of => '2024-10-31', to_as_of => '2024-12-31',
					  p_alive_below => 0.5)
WHERE reason LIKE '%P(alive)%' ORDER BY monetary DESC, customer_key LIMIT 3;

-- The built-in rule sets come from the library: with the seeded rows
-- deleted, a model keeps its segments' meanings and churn alerts their
-- danger segments
CREATE TABLE alerts_before AS
SELECT customer_key, reason FROM rfm_churn_alerts('bty', 'customer', 'ordered', 'amount',
												  from_as_of => '2024-06-30', to_as_of => '2024-12-31');
BEGIN;
TRUNCATE rfm_segment_rule;
SELECT rfm_create_model('meant', 'bty', 'customer', 'ordered', 'amount', as_of => '2024-12-31');
SELECT count(*) AS segments, count(description) AS described, count(action) AS with_action FROM meant_segment_summary;
SELECT (SELECT count(*) FROM alerts_before) AS alerts_before, count(*) AS alerts_after,
	count(*) FILTER (WHERE (a.customer_key, a.reason) IN (SELECT * FROM alerts_before)) AS same,
	count(*) FILTER (WHERE a.reason LIKE 'entered%') AS entered_danger
FROM rfm_churn_alerts('bty', 'customer', 'ordered', 'amount', from_as_of => '2024-06-30', to_as_of => '2024-12-31') a;
ROLLBACK;
DROP TABLE alerts_before;

-- Bad input: a clear error, and nothing half-made
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT rfm_create_model('bad', 'bty', 'customer', 'ordered', 'amount', cluster_method => 'hclust');
\echo SQLSTATE :SQLSTATE
SELECT rfm_create_model('bad', 'bty', 'customer', 'ordered', 'amount', clusters => 3, cluster_method => 'ward');
\echo SQLSTATE :SQLSTATE
SELECT rfm_create_model('bad', 'bty', 'customer', 'ordered', 'amount', clusters => 3, features => ARRAY['amount']);
\echo SQLSTATE :SQLSTATE
SELECT rfm_create_model('bad', 'bty', 'customer', 'ordered', 'amount', clusters => 3, features => '{}');
\echo SQLSTATE :SQLSTATE
SELECT rfm_create_model('bad', 'bty', 'customer', 'ordered', 'amount', clusters => 3, features => ARRAY['frequency: cube']);
\echo SQLSTATE :SQLSTATE
SELECT rfm_create_model('bad', 'bty', 'customer', 'ordered', clv => true);
\echo SQLSTATE :SQLSTATE
SELECT rfm_create_model('bad', 'bty', 'customer', 'ordered', 'amount', clv => true, clv_horizon => 0);
\echo SQLSTATE :SQLSTATE
SELECT rfm_create_model('bad', 'bty', 'customer', 'ordered', 'amount', clv => true, clv_unit => 'year');
\echo SQLSTATE :SQLSTATE
SELECT rfm_create_model('bad', 'bty', 'customer', 'ordered', 'amount', clv => true, clv_model => 'BG/NBD');
\echo SQLSTATE :SQLSTATE
SELECT rfm_create_model('bad', 'bty', 'customer', 'ordered', 'amount', clv => true, clv_model => NULL);
\echo SQLSTATE :SQLSTATE
SELECT rfm_create_model('bad', 'bty', 'customer', 'ordered', 'amount', clv => NULL);
\echo SQLSTATE :SQLSTATE
SELECT rfm_create_model('bad', 'bty', 'customer', 'ordered', 'amount', micro_segments => true);
\echo SQLSTATE :SQLSTATE
SELECT rfm_create_model('bad', 'bty', 'customer', 'ordered', 'amount', item_column => 'product');
\echo SQLSTATE :SQLSTATE
SELECT rfm_create_model('bad', 'bty', 'customer', 'ordered', 'amount', item_column => 'sku', micro_segments => true);
\echo SQLSTATE :SQLSTATE
-- a source too small to fit: the fit's own error, named by the model
CREATE TABLE tiny AS SELECT 'c' || i AS customer, date '2024-01-01' + i AS ordered, 10.0 AS amount FROM generate_series(1, 5) i;
SELECT rfm_create_model('bad', 'tiny', 'customer', 'ordered', 'amount', clv => true);
\echo SQLSTATE :SQLSTATE
SELECT rfm_churn_alerts('bty', 'customer', 'ordered', from_as_of => '2024-10-31', to_as_of => '2024-12-31', p_alive_below => 1);
\echo SQLSTATE :SQLSTATE
SELECT rfm_churn_alerts('bty', 'customer', 'ordered', from_as_of => '2024-10-31', to_as_of => '2024-12-31', p_alive_below => 'NaN');
\echo SQLSTATE :SQLSTATE
\set VERBOSITY terse
SELECT count(*) AS left_behind FROM pg_class WHERE relname ~ '^bad_';
SELECT count(*) AS models_left FROM rfm_model;
DROP TABLE tiny;
DROP TABLE bty;
