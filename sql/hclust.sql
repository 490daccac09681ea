-- Smart segmentation, part 2: prepared features, hierarchical clustering
-- (exact and two-step), cluster profiles, choosing k, wide profiles.
\set VERBOSITY terse
SET TimeZone = 'UTC';
SET extra_float_digits = 0;

-- Three blobs of 300 customers in recency (days), frequency (orders) and
-- monetary (money: 100 times the scale of recency, and heavy-tailed, a
-- Pareto tail in every blob).  The quasi-random u1..u3 are fixed functions
-- of i.
CREATE TABLE blobs AS
SELECT i, b AS blob,
	ARRAY[(ARRAY[400, 180, 20])[b] + 30 * (u1 - 0.5),
		  (ARRAY[2, 8, 20])[b] + floor(4 * u2),
		  (ARRAY[15, 150, 1500])[b] * (1 - 0.99 * u3) ^ (-0.8)]::float8[] AS x
FROM generate_series(1, 900) i,
	LATERAL (SELECT i % 3 + 1 AS b, ((i * 7919) % 997 + 0.5) / 997 AS u1,
					((i * 104729) % 991 + 0.5) / 991 AS u2, ((i * 31337) % 983 + 0.5) / 983 AS u3) s;
-- monetary spans three orders of magnitude, most of it in a few customers
SELECT blob, round(min(x[3])) AS min_monetary, round(max(x[3])) AS max_monetary,
	round(avg(x[3])) AS avg_monetary FROM blobs GROUP BY blob ORDER BY blob;

-- 1. Without a transform, z-scored money lets a few big spenders decide:
--    both methods split a blob and merge two others (below), and a NOTICE
--    names the feature.
CREATE TABLE fits (method text, prep text, km rfm_kmeans_model, hc rfm_hclust_model);
INSERT INTO fits (method, prep, km) SELECT 'kmeans', 'raw', rfm_kmeans(x, 3, 'seed=1', ARRAY['recency', 'frequency', 'monetary']) FROM blobs;
INSERT INTO fits (method, prep, hc) SELECT 'hclust', 'raw', rfm_hclust(x, '', ARRAY['recency', 'frequency', 'monetary']) FROM blobs;
-- unnamed features are named by position; a left tail gets another hint
\set VERBOSITY default
SELECT (rfm_hclust(x)).n FROM blobs;
SELECT (rfm_kmeans(ARRAY[-x[3], x[1]], 2)).k FROM blobs;
\set VERBOSITY terse

-- 2. With log1p on the counts and the money, both recover the blobs
--    exactly: every blob is one cluster and every cluster one blob.
INSERT INTO fits (method, prep, km) SELECT 'kmeans', 'log1p', rfm_kmeans(x, 3, 'seed=1', ARRAY['recency', 'frequency: log1p', 'monetary: log1p']) FROM blobs;
INSERT INTO fits (method, prep, hc) SELECT 'hclust', 'log1p', rfm_hclust(x, '', ARRAY['recency', 'frequency: log1p', 'monetary: log1p']) FROM blobs;
INSERT INTO fits (method, prep, hc) SELECT 'hclust two-step', 'log1p', rfm_hclust(x, 'two_step=true micro_clusters=30', ARRAY['recency', 'frequency: log1p', 'monetary: log1p']) FROM blobs;
CREATE TABLE assigned AS
SELECT f.method, f.prep, b.i, b.blob, coalesce(rfm_cluster(b.x, f.km), rfm_cluster(b.x, f.hc, 3)) AS cluster
FROM fits f, blobs b;
SELECT method, prep, count(DISTINCT cluster) AS clusters, count(DISTINCT (blob, cluster)) AS blob_cluster_pairs,
	(SELECT array_agg(n ORDER BY n DESC) FROM (SELECT count(*) AS n FROM assigned a2
		WHERE a2.method = a.method AND a2.prep = a.prep GROUP BY cluster) c) AS sizes,
	count(DISTINCT (blob, cluster)) = 3 AND count(DISTINCT cluster) = 3 AS blobs_recovered
FROM assigned a GROUP BY method, prep ORDER BY method, prep DESC;

-- the models carry the preparation; the tree says how it was built
SELECT method, prep, coalesce((km).feature_names, (hc).feature_names) AS feature_names,
	coalesce((km).transforms, (hc).transforms) AS transforms
FROM fits ORDER BY method, prep DESC;
SELECT method, (hc).method AS linkage, (hc).two_step, (hc).micro_clusters, (hc).n, (hc).leaves,
	cardinality((hc).merge_height) AS merges, (hc).merge_size[cardinality((hc).merge_size)] AS last_merge_size
FROM fits WHERE method LIKE 'hclust%' ORDER BY method, prep DESC;

-- 3. Profiles: the high-spend blob is described as high spend, by both
--    methods; shares and revenue shares add up to 1.
SELECT f.method, f.prep, p.cluster, p.customers, round(p.share::numeric, 3) AS share,
	round(p.revenue_share::numeric, 3) AS revenue_share,
	(SELECT array_agg(round(v::numeric, 2)) FROM unnest(p.z) v) AS z, p.distinctive, p.description
FROM fits f, LATERAL (SELECT * FROM rfm_cluster_profile(f.km)
					  UNION ALL SELECT * FROM rfm_cluster_profile(f.hc, 3)) p
WHERE f.prep = 'log1p' ORDER BY f.method, p.revenue_share DESC;
SELECT f.method, f.prep, round(sum(p.share)::numeric, 12) AS shares, round(sum(p.revenue_share)::numeric, 12) AS revenue_shares
FROM fits f, LATERAL (SELECT * FROM rfm_cluster_profile(f.km)
					  UNION ALL SELECT * FROM rfm_cluster_profile(f.hc, 3)) p
GROUP BY 1, 2 ORDER BY 1, 2 DESC;
-- the blob of the big spenders (blob 3) is the cluster described as high spend
SELECT f.method, count(*) AS customers_of_blob_3,
	count(*) FILTER (WHERE p.description LIKE '%high spend%') AS described_high_spend
FROM fits f JOIN assigned a ON a.method = f.method AND a.prep = f.prep AND a.blob = 3
	JOIN LATERAL (SELECT * FROM rfm_cluster_profile(f.km) UNION ALL SELECT * FROM rfm_cluster_profile(f.hc, 3)) p
	ON p.cluster = a.cluster
WHERE f.prep = 'log1p' GROUP BY 1 ORDER BY 1;
-- means are in the features' own units: the blob's own averages
SELECT f.method, p.cluster, (SELECT array_agg(round(v::numeric, 1)) FROM unnest(p.means) v) AS means,
	(SELECT bool_and(abs(m - a) <= 1e-9 * abs(a)) FROM unnest(p.means, ARRAY[avg(b.x[1]), avg(b.x[2]), avg(b.x[3])]) u(m, a)) AS blob_averages
FROM fits f JOIN assigned a ON a.method = f.method AND a.prep = f.prep
	JOIN blobs b ON b.i = a.i
	JOIN LATERAL (SELECT * FROM rfm_cluster_profile(f.km) UNION ALL SELECT * FROM rfm_cluster_profile(f.hc, 3)) p
	ON p.cluster = a.cluster
WHERE f.prep = 'log1p'
GROUP BY f.method, p.cluster, p.means ORDER BY 1, 2;
-- the revenue feature can be named; without a monetary feature there is none
SELECT round(revenue_share::numeric, 3) AS frequency_share FROM rfm_cluster_profile((SELECT hc FROM fits WHERE method = 'hclust' AND prep = 'log1p'), 3, 'frequency') ORDER BY cluster;
SELECT count(*) FILTER (WHERE revenue_share IS NULL) AS no_revenue_share, min(description) AS description
FROM rfm_cluster_profile((SELECT rfm_kmeans(x[1:2], 2, 'seed=1', ARRAY['tenure', 'visits']) FROM blobs));

-- 4. The tree: n - 1 merges, heights not decreasing, each cluster merged
--    once, the last merge holding every customer; the cut's clusters are
--    what rfm_cluster gives the customers the tree was built on.
CREATE TABLE tree AS SELECT t.* FROM fits f, rfm_hclust_tree(f.hc) t WHERE f.method = 'hclust' AND f.prep = 'log1p';
SELECT count(*) AS merges, bool_and(height >= prev) AS heights_ascending,
	count(DISTINCT left_id) + count(DISTINCT right_id) = 2 * count(*) AS each_cluster_once,
	bool_and(left_id < right_id AND right_id < 900 + step - 1) AS ids_valid,
	max(size) AS last_size, min(clusters) AS last_clusters
FROM (SELECT *, lag(height, 1, 0::float8) OVER (ORDER BY step) AS prev FROM tree) t;
SELECT step, left_id >= 900 AS left_merged, right_id >= 900 AS right_merged, size, clusters FROM tree WHERE step > 895 ORDER BY step;
SELECT f.method, c.cluster, c.customers, round(c.share::numeric, 3) AS share, c.height > 0 AS formed,
	c.customers = (SELECT count(*) FROM assigned a WHERE a.method = f.method AND a.prep = f.prep AND a.cluster = c.cluster) AS rfm_cluster_agrees
FROM fits f, rfm_hclust_cut(f.hc, 3) c WHERE f.prep = 'log1p' ORDER BY 1, 2;
-- every cut of the exact tree agrees with rfm_cluster on the customers it was built on
SELECT count(*) AS cuts_checked, bool_and(agrees) AS all_agree FROM (
	SELECT k.k, (SELECT array_agg(customers ORDER BY cluster) FROM rfm_hclust_cut(f.hc, k.k)) =
		(SELECT array_agg(n ORDER BY c) FROM (SELECT rfm_cluster(b.x, f.hc, k.k) AS c, count(*) AS n FROM blobs b GROUP BY 1) s) AS agrees
	FROM fits f, generate_series(2, 12) k(k) WHERE f.method = 'hclust' AND f.prep = 'log1p') s;
-- a new customer goes to the cluster of the nearest centroid
SELECT rfm_cluster('{25, 20, 3000}', hc, 3) = (SELECT cluster FROM assigned a WHERE a.method = f.method AND a.prep = f.prep AND a.blob = 3 LIMIT 1) AS near_blob_3,
	rfm_cluster('{410, 2, 20}', hc, 3) = (SELECT cluster FROM assigned a WHERE a.method = f.method AND a.prep = f.prep AND a.blob = 1 LIMIT 1) AS near_blob_1,
	rfm_cluster('{1, NULL, 3}', hc, 3) IS NULL AS null_feature
FROM fits f WHERE f.prep = 'log1p' AND f.method LIKE 'hclust%' ORDER BY f.method;

-- 5. Choosing k: the silhouette and Calinski-Harabasz peak, and
--    Davies-Bouldin bottoms out, at the true 3, for both kinds.
SELECT 'hclust' AS method, k, round(inertia::numeric, 2) AS inertia, round(silhouette::numeric, 3) AS silhouette,
	round(calinski_harabasz::numeric, 1) AS calinski_harabasz, round(davies_bouldin::numeric, 3) AS davies_bouldin
FROM rfm_hclust_scan((SELECT hc FROM fits WHERE method = 'hclust' AND prep = 'log1p'), 2, 5)
UNION ALL
SELECT 'kmeans', k, round(inertia::numeric, 2), round(silhouette::numeric, 3), round(calinski_harabasz::numeric, 1),
	round(davies_bouldin::numeric, 3)
FROM (SELECT (unnest(rfm_kmeans_scan(x, 2, 5, 'seed=1', ARRAY['recency', 'frequency: log1p', 'monetary: log1p']))).* FROM blobs) s
ORDER BY 1, 2;
-- Ward's inertia at k clusters is half the sum of the squared heights of
-- the merges below the cut
SELECT k, round(s.inertia::numeric, 9) = round((SELECT sum(height ^ 2) / 2 FROM tree WHERE step <= 900 - k)::numeric, 9) AS inertia_from_heights
FROM rfm_hclust_scan((SELECT hc FROM fits WHERE method = 'hclust' AND prep = 'log1p'), 2, 5) s ORDER BY k;

-- 6. The other preparations, against plain SQL: clip at the 1% and 99%
--    quantiles (percentile_cont), rank on every percentile, robust
--    scaling by median and IQR.
CREATE TABLE prep_model AS
SELECT rfm_kmeans(x, 3, 'seed=1', ARRAY['recency: robust', 'frequency: rank', 'monetary: clip=0.99 log1p']) AS m FROM blobs;
-- (the low quantile is at 1 - 0.99, which is not 0.01 in binary: equal to
-- within rounding)
SELECT (m).transforms,
	abs((m).clip_low[3] / percentile_cont(0.01) WITHIN GROUP (ORDER BY x[3]) - 1) < 1e-12 AS clip_low_is_q01,
	(m).clip_high[3] = percentile_cont(0.99) WITHIN GROUP (ORDER BY x[3]) AS clip_high_is_q99,
	(m).clip_low[1] = '-Infinity' AND (m).clip_high[1] = 'Infinity' AS no_clip_on_recency,
	(m).center[1] = percentile_cont(0.5) WITHIN GROUP (ORDER BY x[1]) AS robust_center_is_median,
	abs((m).scale[1] - (percentile_cont(0.75) WITHIN GROUP (ORDER BY x[1]) - percentile_cont(0.25) WITHIN GROUP (ORDER BY x[1]))) < 1e-9 AS robust_scale_is_iqr,
	cardinality((m).quantiles) AS rank_grid,
	(m).quantiles[1] = min(x[2]) AND (m).quantiles[101] = max(x[2]) AS grid_spans_frequency
FROM prep_model, blobs GROUP BY m;
-- the rank of a value: the middle of the percentiles it equals, or
-- interpolated between two (computed here in SQL); the model's prep_mean is
-- the mean of its customers' ranks
CREATE FUNCTION sql_rank(v float8, q float8[]) RETURNS float8 LANGUAGE sql AS $$
	SELECT CASE WHEN v < q[1] THEN 0 WHEN v > q[101] THEN 1
				WHEN v = ANY (q) THEN ((SELECT min(i) FROM generate_subscripts(q, 1) i WHERE q[i] = v) +
									   (SELECT max(i) FROM generate_subscripts(q, 1) i WHERE q[i] = v) - 2) / 200.0
				ELSE (SELECT (i - 1 + (v - q[i]) / (q[i + 1] - q[i])) / 100.0 FROM generate_subscripts(q, 1) i
					  WHERE q[i] < v AND q[i + 1] > v) END $$;
SELECT v, round(sql_rank(v, (m).quantiles)::numeric, 4) AS rank
FROM prep_model, (VALUES (1.0), (2.0), (9.0), (21.5), (23.0), (99.0)) t(v) ORDER BY v;
SELECT abs((m).prep_mean[2] - avg(sql_rank(x[2], (m).quantiles))) < 1e-12 AS prep_mean_is_mean_rank,
	abs((m).prep_std[2] - stddev_pop(sql_rank(x[2], (m).quantiles))) < 1e-12 AS prep_std_is_std_rank
FROM prep_model, blobs GROUP BY m;
-- scoring applies the stored preparation: the customers fall in the
-- clusters the fit counted
SELECT (SELECT array_agg(n ORDER BY c) FROM (SELECT rfm_cluster(x, m) AS c, count(*) AS n FROM blobs GROUP BY 1) s) = (m).sizes
	AS rfm_cluster_agrees
FROM prep_model;
-- values outside the fitted range are clipped, ranked 0 or 1: any customer scores
SELECT rfm_cluster('{-1000, -5, 1e12}', m) IS NOT NULL AS scored FROM prep_model;
-- log1p keeps the sign: a refund is as far below 0 as a purchase above
SELECT (rfm_kmeans(ARRAY[g::float8, (g % 2) * 2 - 1], 2, 'seed=1', ARRAY['a', 'b: log1p'])).prep_mean[2] AS mean_of_signed_log1p
FROM generate_series(1, 10) g;

-- 7. The same model whatever the plan: serial, or parallel workers
--    delivering rows in another order (exact trees, two-step trees,
--    k-means with a preparation).
CREATE TABLE many AS
SELECT ARRAY[(i::bigint * 7919) % 1000, (i::bigint * 104729) % 777, exp(((i::bigint * 31337) % 1000) / 150.0)]::float8[] AS x
FROM generate_series(1, 25000) i;
ANALYZE many;
CREATE TABLE par (config text, model text);
SET max_parallel_workers_per_gather = 0;
INSERT INTO par SELECT 'serial blobs', rfm_hclust(x, '', ARRAY['r', 'f: log1p', 'm: log1p'])::text FROM blobs;
INSERT INTO par SELECT 'serial many', rfm_hclust(x, '', ARRAY['a', 'b', 'c: clip=0.95 log1p'])::text FROM many;
INSERT INTO par SELECT 'serial many exact', rfm_hclust(x, 'two_step=false', ARRAY['a', 'b: rank', 'c: log1p'])::text FROM many WHERE x[1] < 100;
INSERT INTO par SELECT 'serial kmeans', rfm_kmeans(x, 4, 'seed=3 n_init=2', ARRAY['a: robust', 'b', 'c: log1p'])::text FROM many;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET parallel_leader_participation = off;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT rfm_hclust(x, '', ARRAY['a', 'b', 'c: clip=0.95 log1p']) FROM many;
INSERT INTO par SELECT 'parallel blobs', rfm_hclust(x, '', ARRAY['r', 'f: log1p', 'm: log1p'])::text FROM blobs;
INSERT INTO par SELECT 'parallel many', rfm_hclust(x, '', ARRAY['a', 'b', 'c: clip=0.95 log1p'])::text FROM many;
INSERT INTO par SELECT 'parallel many exact', rfm_hclust(x, 'two_step=false', ARRAY['a', 'b: rank', 'c: log1p'])::text FROM many WHERE x[1] < 100;
INSERT INTO par SELECT 'parallel kmeans', rfm_kmeans(x, 4, 'seed=3 n_init=2', ARRAY['a: robust', 'b', 'c: log1p'])::text FROM many;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET parallel_leader_participation;
RESET max_parallel_workers_per_gather;
SELECT split_part(config, ' ', 2) || ' ' || split_part(config, ' ', 3) AS fit, count(*) AS fits,
	count(DISTINCT model) AS distinct_models FROM par GROUP BY 1 ORDER BY 1;
-- above 20,000 customers the tree is two-step, on 200 micro-clusters by
-- default; every customer is assigned, and rfm_cluster agrees with the cut
SELECT (m).two_step, (m).micro_clusters, (m).leaves, (m).n, (m).micro_inertia > 0 AS micro_spread,
	(SELECT sum(s) FROM unnest((m).leaf_sizes) s) AS customers
FROM (SELECT model::rfm_hclust_model AS m FROM par WHERE config = 'serial many') s;
SELECT (SELECT array_agg(customers ORDER BY cluster) FROM rfm_hclust_cut(m, 4)) =
	(SELECT array_agg(n ORDER BY c) FROM (SELECT rfm_cluster(x, m, 4) AS c, count(*) AS n FROM many GROUP BY 1) s) AS rfm_cluster_agrees
FROM (SELECT (SELECT model::rfm_hclust_model FROM par WHERE config = 'serial many') AS m) s;
-- average and complete linkage, exact and two-step
SELECT method, (SELECT array_agg(customers ORDER BY cluster) FROM rfm_hclust_cut(m, 3)) AS sizes,
	(m).two_step, count(DISTINCT (blob, rfm_cluster(x, m, 3))) AS blob_cluster_pairs
FROM (VALUES ('method=average'), ('method=complete'), ('method=average two_step=true micro_clusters=20')) o(method),
	LATERAL (SELECT rfm_hclust(x, o.method, ARRAY['r', 'f: log1p', 'm: log1p']) AS m FROM blobs) f, blobs
GROUP BY method, m ORDER BY method;

-- 8. Wide profiles: rfm_shares in one GROUP BY equals the FILTER columns
--    it replaces, serial and parallel.
CREATE TABLE events AS
SELECT g % 50 AS customer, (ARRAY['books', 'music', 'video', 'games', 'toys'])[1 + (g * 7) % 5] AS category,
	'2024-01-01'::timestamptz + g * interval '37 minutes' AS at, (g % 13) + 0.5 AS amount
FROM generate_series(1, 5000) g;
INSERT INTO events VALUES (1, NULL, '2024-02-01', 10), (2, 'other', '2024-02-01', 5), (3, 'books', '2024-02-01', NULL);
ANALYZE events;
CREATE TABLE shares_check AS
SELECT customer, rfm_shares(category, ARRAY['books', 'music', 'video', 'games']) AS by_count,
	rfm_shares(category, ARRAY['books', 'music', 'video', 'games'], amount) AS by_amount,
	rfm_shares(extract(hour FROM at)::int, 24) AS by_hour,
	rfm_shares(extract(dow FROM at)::int, 7, amount) AS by_weekday_amount
FROM events GROUP BY customer;
WITH plain AS (
	SELECT customer,
		ARRAY[count(*) FILTER (WHERE category = 'books'), count(*) FILTER (WHERE category = 'music'),
			  count(*) FILTER (WHERE category = 'video'), count(*) FILTER (WHERE category = 'games')]::float8[] AS c,
		count(*)::float8 AS n,
		ARRAY[sum(amount) FILTER (WHERE category = 'books'), sum(amount) FILTER (WHERE category = 'music'),
			  sum(amount) FILTER (WHERE category = 'video'), sum(amount) FILTER (WHERE category = 'games')]::float8[] AS a,
		sum(amount)::float8 AS total,
		(SELECT array_agg(coalesce(h.n, 0) ORDER BY hr) FROM generate_series(0, 23) hr
			LEFT JOIN (SELECT extract(hour FROM e2.at)::int AS hr, count(*)::float8 AS n FROM events e2
					   WHERE e2.customer = e.customer GROUP BY 1) h USING (hr)) AS hours
	FROM events e GROUP BY customer)
SELECT count(*) AS customers,
	count(*) FILTER (WHERE s.by_count = ARRAY(SELECT v / p.n FROM unnest(p.c) v)) AS count_shares_equal,
	count(*) FILTER (WHERE (SELECT bool_and(abs(x - coalesce(y, 0) / p.total) < 1e-12) FROM unnest(s.by_amount, p.a) u(x, y))) AS amount_shares_equal,
	count(*) FILTER (WHERE s.by_hour = ARRAY(SELECT v / p.n FROM unnest(p.hours) v)) AS hour_shares_equal,
	count(*) FILTER (WHERE abs((SELECT sum(v) FROM unnest(s.by_weekday_amount) v) - 1) < 1e-12) AS weekday_shares_sum_to_1
FROM shares_check s JOIN plain p USING (customer);
-- a key outside the list, or NULL, counts in the total only; a NULL weight
-- leaves the row out
SELECT customer, by_count, by_amount FROM shares_check WHERE customer IN (1, 2, 3) ORDER BY customer;
SELECT rfm_shares(k, ARRAY['a', 'b']) AS shares, rfm_shares(k, ARRAY['a', 'b'], w) AS weighted
FROM (VALUES ('a', 0), ('b', 0)) v(k, w);
-- weights are summed exactly: a float sum of these rows, in this order,
-- loses the 1 (1e16 + 1 = 1e16) and finds a total of 0
SELECT rfm_shares(k, ARRAY['a', 'b'], w) AS exact
FROM (VALUES (1, 'a', 1e16::float8), (2, 'b', 1), (3, 'a', -1e16)) v(i, k, w);
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT rfm_shares(category, ARRAY['books', 'music']) FROM events;
SELECT rfm_shares(category, ARRAY['books', 'music', 'video', 'games']) = (SELECT rfm_shares(category, ARRAY['books', 'music', 'video', 'games']) FROM events) AS same_in_parallel,
	rfm_shares(extract(hour FROM at)::int, 24) AS all_hours
FROM events;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;

-- 9. Bad input: each error with its SQLSTATE and hint.
\set VERBOSITY default
\set SHOW_CONTEXT never
-- options
SELECT rfm_hclust(x, 'method=single') FROM blobs;
\echo SQLSTATE :SQLSTATE
SELECT rfm_hclust(x, 'micro_clusters=5') FROM blobs;
\echo SQLSTATE :SQLSTATE
SELECT rfm_hclust(x, NULL) FROM blobs;
\echo SQLSTATE :SQLSTATE
SELECT rfm_hclust(x, 'two_step=true micro_clusters=1000') FROM blobs;
\echo SQLSTATE :SQLSTATE
SELECT rfm_hclust(ARRAY[g]::float8[], 'two_step=false') FROM generate_series(1, 100001) g;
\echo SQLSTATE :SQLSTATE
-- features
SELECT rfm_hclust(CASE WHEN i = 5 THEN NULL ELSE x END) FROM blobs;
\echo SQLSTATE :SQLSTATE
SELECT rfm_hclust(CASE WHEN i = 5 THEN x[1:2] ELSE x END) FROM blobs;
\echo SQLSTATE :SQLSTATE
SELECT rfm_hclust(ARRAY[1, 'Infinity']::float8[]) FROM blobs;
\echo SQLSTATE :SQLSTATE
SELECT rfm_hclust(ARRAY[1, 2]::float8[]) FROM generate_series(1, 1);
\echo SQLSTATE :SQLSTATE
SELECT rfm_hclust(ARRAY[1, 2]::float8[]) IS NULL AS no_rows FROM generate_series(1, 0);
-- feature_names
SELECT rfm_hclust(x, '', ARRAY['r', 'f']) FROM blobs;
\echo SQLSTATE :SQLSTATE
SELECT rfm_hclust(x, '', ARRAY['r', 'f', 'r']) FROM blobs;
\echo SQLSTATE :SQLSTATE
SELECT rfm_kmeans(x, 3, '', ARRAY['r', NULL, 'm']) FROM blobs;
\echo SQLSTATE :SQLSTATE
SELECT rfm_kmeans(x, 3, '', ARRAY['r', ': log1p', 'm']) FROM blobs;
\echo SQLSTATE :SQLSTATE
SELECT rfm_kmeans(x, 3, '', ARRAY['r', 'f: log2', 'm']) FROM blobs;
\echo SQLSTATE :SQLSTATE
SELECT rfm_kmeans(x, 3, '', ARRAY['r', 'f: log1p rank', 'm']) FROM blobs;
\echo SQLSTATE :SQLSTATE
SELECT rfm_kmeans(x, 3, '', ARRAY['r', 'f', 'm: clip=0.3']) FROM blobs;
\echo SQLSTATE :SQLSTATE
SELECT rfm_kmeans(x, 3, '', CASE WHEN i = 7 THEN ARRAY['a', 'b', 'c'] ELSE ARRAY['r', 'f', 'm'] END) FROM blobs;
\echo SQLSTATE :SQLSTATE
-- memory
SET rfm_segment.max_memory = '64kB';
SELECT rfm_hclust(x) FROM blobs;
\echo SQLSTATE :SQLSTATE
RESET rfm_segment.max_memory;
-- using a model
SELECT rfm_cluster(x, (SELECT hc FROM fits WHERE method = 'hclust' AND prep = 'log1p'), 1) FROM blobs LIMIT 1;
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_hclust_cut((SELECT hc FROM fits WHERE method = 'hclust' AND prep = 'log1p'), 901);
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_hclust_scan((SELECT hc FROM fits WHERE method = 'hclust' AND prep = 'log1p'), 5, 3);
\echo SQLSTATE :SQLSTATE
SELECT rfm_cluster('{1, 2}', (SELECT hc FROM fits WHERE method = 'hclust' AND prep = 'log1p'), 3);
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_cluster_profile((SELECT km FROM fits WHERE method = 'kmeans' AND prep = 'log1p'), 'spend');
\echo SQLSTATE :SQLSTATE
-- a forged tree: cluster 3 does not exist yet at the first merge
SELECT * FROM rfm_hclust_cut(ROW('ward', false, NULL, 0, true, 3, 1, 3, '{0,2}', '{3,1}', '{1,2}', '{2,3}',
	'{1,1,1}', '{{0},{1},{5}}', '{{0},{1},{5}}', NULL, 0, '{0}', '{1}',
	NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::rfm_hclust_model, 2);
\echo SQLSTATE :SQLSTATE
-- ... and the same tree made right
SELECT cluster, customers, height FROM rfm_hclust_cut(ROW('ward', false, NULL, 0, true, 3, 1, 3, '{0,2}', '{1,3}', '{1,2}', '{2,3}',
	'{1,1,1}', '{{0},{1},{5}}', '{{0},{1},{5}}', NULL, 0, '{0}', '{1}',
	NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::rfm_hclust_model, 2) ORDER BY cluster;
-- a preparation the library would not write
SELECT rfm_cluster('{1}', ROW(2, 1, 4, '{{0},{1}}', '{0}', '{1}', 0, 1, '{2,2}', 0, 1, true,
	NULL, '{sqrt}', '{-Infinity}', '{Infinity}', '{}', '{0}', '{1}', '{0}', '{{0},{1}}')::rfm_kmeans_model);
\echo SQLSTATE :SQLSTATE
-- rfm_shares
SELECT rfm_shares(category, ARRAY['books', 'books']) FROM events;
\echo SQLSTATE :SQLSTATE
SELECT rfm_shares(category, NULL) FROM events;
\echo SQLSTATE :SQLSTATE
SELECT rfm_shares(category, CASE WHEN amount > 5 THEN ARRAY['books'] ELSE ARRAY['books', 'music'] END) FROM events;
\echo SQLSTATE :SQLSTATE
SELECT rfm_shares(extract(hour FROM at)::int, 12) FROM events;
\echo SQLSTATE :SQLSTATE
SELECT rfm_shares(1, 0) FROM events;
\echo SQLSTATE :SQLSTATE
SELECT rfm_shares(category, ARRAY['books'], 'NaN') FROM events;
\echo SQLSTATE :SQLSTATE
-- weights are summed in fixed point below 2^63: a larger one, or a sum
-- that passes it, is refused
SELECT rfm_shares(b, 2, w) FROM (VALUES (0, 1e19::float8)) v(b, w);
\echo SQLSTATE :SQLSTATE
SELECT rfm_shares(b, 2, w) FROM (VALUES (0, 9e18::float8), (1, 9e18::float8)) v(b, w);
\echo SQLSTATE :SQLSTATE
-- while weights that cancel near the bound are summed exactly (total 1)
SELECT rfm_shares(b, 2, w) FROM (VALUES (0, 9e18::float8), (1, -9e18::float8), (1, 1::float8)) v(b, w);
\set VERBOSITY terse

DROP TABLE blobs, fits, assigned, tree, prep_model, many, par, events, shares_check;
DROP FUNCTION sql_rank(float8, float8[]);
