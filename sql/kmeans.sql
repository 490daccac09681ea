-- Smart segmentation: k-means models, assignment, choosing k.
\set VERBOSITY terse
SET extra_float_digits = 0;

-- Three well separated blobs of 200 customers each, in two features of
-- very different scales (days and money): z-scores make both count.
CREATE TABLE blobs AS
SELECT i, b AS blob,
	ARRAY[(ARRAY[10, 200, 400])[b] + 15 * sin(i * 1.7),
		  (ARRAY[50, 5000, 500])[b] + 400 * cos(i * 2.3)]::float8[] AS x
FROM generate_series(1, 600) i, LATERAL (SELECT (i % 3) + 1 AS b) s;

CREATE TABLE model AS SELECT rfm_kmeans(x, 3, 'seed=42') AS m FROM blobs;
SELECT (m).k, (m).dims, (m).n, (m).sizes, (m).iterations, (m).seed, (m).n_init, (m).standardize,
	round((m).inertia::numeric, 6) AS inertia FROM model;
-- every blob is one cluster, and every cluster one blob
SELECT blob, count(DISTINCT rfm_cluster(x, (SELECT m FROM model))) AS clusters,
	min(rfm_cluster(x, (SELECT m FROM model))) AS cluster
FROM blobs GROUP BY blob ORDER BY blob;
SELECT count(DISTINCT (blob, rfm_cluster(x, (SELECT m FROM model)))) AS pairs FROM blobs;
-- centroids come back in the features' own units
SELECT cluster, customers, round(share::numeric, 3) AS share,
	(SELECT array_agg(round(v::numeric, 0)) FROM unnest(centroid) v) AS centroid
FROM rfm_kmeans_profile((SELECT m FROM model)) ORDER BY centroid[1];

-- The same seed gives the same model, whatever the plan: serial, or
-- parallel workers delivering rows in another order.
CREATE TABLE many AS
SELECT ARRAY[(i::bigint * 7919) % 1000, (i::bigint * 104729) % 777, sqrt(i)]::float8[] AS x FROM generate_series(1, 30000) i;
ANALYZE many;
CREATE TABLE fits (config text, m text);
SET max_parallel_workers_per_gather = 0;
INSERT INTO fits SELECT 'serial', rfm_kmeans(x, 5, 'seed=7 n_init=3')::text FROM many;
INSERT INTO fits SELECT 'serial again', rfm_kmeans(x, 5, 'seed=7 n_init=3')::text FROM many;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET parallel_leader_participation = off;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT rfm_kmeans(x, 5, 'seed=7 n_init=3') FROM many;
INSERT INTO fits SELECT 'parallel', rfm_kmeans(x, 5, 'seed=7 n_init=3')::text FROM many;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET parallel_leader_participation;
RESET max_parallel_workers_per_gather;
SELECT count(DISTINCT m) AS distinct_models, count(*) AS fits FROM fits;
-- another seed may find another (no better) local optimum; more restarts
-- never do worse than fewer with the same seed
SELECT (SELECT (rfm_kmeans(x, 5, 'seed=7 n_init=6')).inertia FROM many) <=
	   (SELECT (rfm_kmeans(x, 5, 'seed=7 n_init=3')).inertia FROM many) AS more_restarts_no_worse;

-- Without standardization the money feature dominates the distances.
SELECT (rfm_kmeans(x, 3, 'seed=42 standardize=false')).sizes FROM blobs;

-- Choosing k: inertia falls with k; the silhouette peaks at the true 3.
SELECT k, round(inertia::numeric, 3) AS inertia, round(silhouette::numeric, 3) AS silhouette
FROM (SELECT (unnest(rfm_kmeans_scan(x, 2, 5, 'seed=1'))).* FROM blobs) s ORDER BY k;

-- A stored model assigns new customers in a view or a query.
CREATE TABLE new_customers (id int, near_blob int, x float8[]);
INSERT INTO new_customers VALUES (1, 1, '{12, 60}'), (2, 3, '{390, 520}'), (3, 2, '{210, 4900}'),
	(4, NULL, NULL), (5, NULL, '{5, NULL}');
SELECT id, rfm_cluster(x, (SELECT m FROM model)) =
		rfm_cluster((SELECT x FROM blobs WHERE blob = near_blob LIMIT 1), (SELECT m FROM model)) AS same_as_its_blob,
	rfm_cluster(x, (SELECT m FROM model)) IS NULL AS no_cluster
FROM new_customers ORDER BY id;

-- Degenerate data: a clear error, never a crash.
SELECT rfm_kmeans(ARRAY[1, 1]::float8[], 2) FROM generate_series(1, 10);
SELECT rfm_kmeans(ARRAY[g % 2, 0]::float8[], 3) FROM generate_series(1, 10) g;
SELECT rfm_kmeans(ARRAY[g, 0]::float8[], 5) FROM generate_series(1, 3) g;
SELECT rfm_kmeans(x, 2) IS NULL AS no_rows FROM blobs WHERE false;
-- a constant feature is kept as is (scale 1)
SELECT (rfm_kmeans(ARRAY[g % 4, 7]::float8[], 2, 'seed=3')).scale FROM generate_series(1, 40) g;

DROP TABLE blobs, model, many, fits, new_customers;
