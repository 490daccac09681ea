-- The client-product graph: communities (Leiden), micro-segments,
-- recommendations and look-alikes, on graphs whose answer is known.
\set VERBOSITY terse
SET TimeZone = 'UTC';
SET extra_float_digits = 0;

-- 1. Zachary's karate club (Zachary 1977): 34 members, 78 friendships.
--    The best partition known has modularity 0.4198 (4 communities).
CREATE TABLE karate (a int, b int);
INSERT INTO karate VALUES
	(1, 2), (1, 3), (1, 4), (1, 5), (1, 6), (1, 7), (1, 8), (1, 9), (1, 11), (1, 12), (1, 13),
	(1, 14), (1, 18), (1, 20), (1, 22), (1, 32), (2, 3), (2, 4), (2, 8), (2, 14), (2, 18), (2, 20),
	(2, 22), (2, 31), (3, 4), (3, 8), (3, 9), (3, 10), (3, 14), (3, 28), (3, 29), (3, 33), (4, 8),
	(4, 13), (4, 14), (5, 7), (5, 11), (6, 7), (6, 11), (6, 17), (7, 17), (9, 31), (9, 33), (9, 34),
	(10, 34), (14, 34), (15, 33), (15, 34), (16, 33), (16, 34), (19, 33), (19, 34), (20, 34),
	(21, 33), (21, 34), (23, 33), (23, 34), (24, 26), (24, 28), (24, 30), (24, 33), (24, 34),
	(25, 26), (25, 28), (25, 32), (26, 32), (27, 30), (27, 34), (28, 34), (29, 32), (29, 34),
	(30, 33), (30, 34), (31, 33), (31, 34), (32, 33), (32, 34), (33, 34);
SELECT count(*) AS edges, (SELECT count(*) FROM (SELECT a FROM karate UNION SELECT b FROM karate) n) AS members
FROM karate;

-- The same club with the rows in another order and the ends swapped.
CREATE TABLE karate_shuffled AS
SELECT b AS a, a AS b FROM karate ORDER BY (a * 7919 + b * 104729) % 101, a DESC;

-- Forced parallel plans, or back to the defaults: the scan the functions
-- run is then made by two workers, the leader only gathering.
CREATE FUNCTION graph_parallel(enable boolean) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	setting text[];
BEGIN
	FOREACH setting SLICE 1 IN ARRAY ARRAY[['parallel_setup_cost', '0'], ['parallel_tuple_cost', '0'],
										   ['min_parallel_table_scan_size', '0'], ['parallel_leader_participation', 'off'],
										   ['max_parallel_workers_per_gather', '2'],
										   -- force_parallel_mode before PostgreSQL 16
										   [CASE WHEN current_setting('server_version_num')::int >= 160000
												 THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END, 'on']] LOOP
		IF enable THEN
			PERFORM set_config(setting[1], setting[2], false);
		ELSE
			EXECUTE format('RESET %I', setting[1]);
		END IF;
	END LOOP;
END $$;

-- Runs under several plans and orders, kept for comparison.
CREATE TABLE karate_runs (config text, node int, community int);
INSERT INTO karate_runs SELECT 'serial', node::int, community FROM rfm_graph_communities('karate', 'a', 'b');
INSERT INTO karate_runs SELECT 'serial again', node::int, community FROM rfm_graph_communities('karate', 'a', 'b');
INSERT INTO karate_runs SELECT 'shuffled', node::int, community FROM rfm_graph_communities('karate_shuffled', 'a', 'b');
SELECT graph_parallel(true);
-- the scan the functions run is parallel: workers deliver the rows
EXPLAIN (COSTS OFF) SELECT a, b FROM karate;
INSERT INTO karate_runs SELECT 'forced parallel', node::int, community FROM rfm_graph_communities('karate', 'a', 'b');
INSERT INTO karate_runs SELECT 'forced parallel, shuffled', node::int, community FROM rfm_graph_communities('karate_shuffled', 'a', 'b');
SELECT graph_parallel(false);

-- Modularity of each run, computed here from the edges:
--   Q = sum over communities of  L(c) / m - (D(c) / 2m)^2
-- (L: edges inside, D: degrees summed, m: edges)
CREATE VIEW karate_modularity AS
WITH m AS (SELECT count(*)::float8 AS m FROM karate),
deg AS (SELECT n, count(*) AS d FROM (SELECT a AS n FROM karate UNION ALL SELECT b FROM karate) x GROUP BY n),
inside AS (
	SELECT x.config, count(*) AS l FROM karate k
	JOIN karate_runs x ON x.node = k.a JOIN karate_runs y ON y.node = k.b AND y.config = x.config
	WHERE x.community = y.community GROUP BY x.config),
total AS (SELECT r.config, r.community, sum(deg.d) AS d FROM karate_runs r JOIN deg ON deg.n = r.node GROUP BY 1, 2)
SELECT t.config, i.l / m.m - sum((t.d / (2 * m.m)) ^ 2) AS modularity, count(*) AS communities
FROM total t JOIN inside i USING (config), m GROUP BY t.config, i.l, m.m;
SELECT config, round(modularity::numeric, 4) AS modularity, modularity >= 0.415 AS at_least_0_415, communities
FROM karate_modularity ORDER BY config;
-- one partition, the same numbers, whatever the run, plan or row order
SELECT count(DISTINCT p) AS partitions, count(*) AS runs
FROM (SELECT config, array_agg(community ORDER BY node) AS p FROM karate_runs GROUP BY config) r;
-- every member once; communities numbered by size, 0 the largest
SELECT community, count(*) AS members, array_agg(node ORDER BY node) AS nodes
FROM karate_runs WHERE config = 'serial' GROUP BY community ORDER BY community;
SELECT count(*) = count(DISTINCT node) AND count(*) = 34 AS each_member_once FROM karate_runs WHERE config = 'serial';
-- another seed may order nodes differently: still the optimum here
SELECT s AS seed, round(modularity::numeric, 4) AS modularity
FROM generate_series(1, 3) s, LATERAL (
	SELECT count(*) FILTER (WHERE x.community = y.community)::float8 / 78
		- (SELECT sum((d / 156.0) ^ 2) FROM (
			SELECT c.community, sum(deg) AS d FROM rfm_graph_communities('karate', 'a', 'b', seed => s) c
			JOIN (SELECT n, count(*) AS deg FROM (SELECT a AS n FROM karate UNION ALL SELECT b FROM karate) u GROUP BY n) g
			ON g.n = c.node::int GROUP BY c.community) z) AS modularity
	FROM karate k
	JOIN rfm_graph_communities('karate', 'a', 'b', seed => s) x ON x.node::int = k.a
	JOIN rfm_graph_communities('karate', 'a', 'b', seed => s) y ON y.node::int = k.b) q
ORDER BY s;

-- 2. A small graph to check by hand: two triangles joined by one edge,
--    text keys, a weight column, a self-loop, the resolution.
CREATE TABLE triangles (x text, y text, w numeric);
INSERT INTO triangles VALUES ('a', 'b', 1), ('b', 'c', 1), ('c', 'a', 1), ('d', 'e', 1), ('e', 'f', 1),
	('f', 'd', 1), ('c', 'd', 1), ('f', 'f', NULL);
-- the two triangles; equal sizes, so the one with the smallest key is 0;
-- the row with a NULL weight is skipped only when weights are read
SELECT community, string_agg(node, ',' ORDER BY node) AS nodes FROM rfm_graph_communities('triangles', 'x', 'y') GROUP BY 1 ORDER BY 1;
SELECT community, string_agg(node, ',' ORDER BY node) AS nodes FROM rfm_graph_communities('triangles', 'x', 'y', 'w') GROUP BY 1 ORDER BY 1;
-- a heavy bridge makes c and d a community of their own
UPDATE triangles SET w = 20 WHERE x = 'c' AND y = 'd';
SELECT community, string_agg(node, ',' ORDER BY node) AS nodes FROM rfm_graph_communities('triangles', 'x', 'y', 'w') GROUP BY 1 ORDER BY 1;
-- weights in other units (x 1000) give the same partition
UPDATE triangles SET w = w * 1000;
SELECT community, string_agg(node, ',' ORDER BY node) AS nodes FROM rfm_graph_communities('triangles', 'x', 'y', 'w') GROUP BY 1 ORDER BY 1;
-- repeated rows add up, in either direction: the bridge, three times more
INSERT INTO triangles VALUES ('d', 'c', NULL), ('c', 'd', NULL), ('d', 'c', NULL);
SELECT community, string_agg(node, ',' ORDER BY node) AS nodes FROM rfm_graph_communities('triangles', 'x', 'y') GROUP BY 1 ORDER BY 1;
-- a high resolution splits every node off, a low one merges them all
SELECT count(DISTINCT community) AS communities FROM rfm_graph_communities('triangles', 'x', 'y', resolution => 10);
SELECT count(DISTINCT community) AS communities FROM rfm_graph_communities('triangles', 'x', 'y', resolution => 0.01);
-- weights of 0 leave the nodes, without edges: each alone
UPDATE triangles SET w = 0;
SELECT count(*) AS nodes, count(DISTINCT community) AS communities FROM rfm_graph_communities('triangles', 'x', 'y', 'w');
DROP TABLE triangles;

-- 3. A planted client-product graph: 20 groups of 150 customers, each
--    buying 6 to 14 times, 80% from its own group's 25 products, 20% from
--    any of the 500.
SELECT setseed(0.16);
CREATE TABLE planted AS
SELECT c AS customer, CASE WHEN random() < 0.8 THEN (c % 20) + 20 * floor(random() * 25)::int
						   ELSE floor(random() * 500)::int END AS item
FROM generate_series(0, 2999) c, LATERAL generate_series(1, 6 + (c * 7) % 9) p;
SELECT count(*) AS purchases, count(DISTINCT customer) AS customers, count(DISTINCT item) AS items,
	count(*) - count(DISTINCT (customer, item)) AS repeats FROM planted;

CREATE TABLE segments AS SELECT * FROM rfm_micro_segments('planted', 'customer', 'item');
-- one row per distinct customer and item
SELECT node_kind, count(*) AS nodes, count(DISTINCT node_key) AS keys, count(DISTINCT community) AS communities
FROM segments GROUP BY 1 ORDER BY 1;
-- numbered by customers, most first
SELECT bool_and(n >= next_n) AS numbered_by_customers, min(community) AS first, max(community) AS last
FROM (SELECT community, n, lead(n, 1, 0) OVER (ORDER BY community) AS next_n
	  FROM (SELECT community, count(*) AS n FROM segments WHERE node_kind = 'customer' GROUP BY 1) c) x;

-- Normalised mutual information between planted groups and communities,
--   NMI = 2 I(G; C) / (H(G) + H(C)),
-- for the customers and for the items.
CREATE FUNCTION planted_nmi(kind text) RETURNS float8 LANGUAGE sql AS $$
	WITH t AS (SELECT node_key::int % 20 AS g, community AS c FROM segments WHERE node_kind = kind),
	n AS (SELECT count(*)::float8 AS n FROM t),
	j AS (SELECT g, c, count(*) AS k FROM t GROUP BY g, c),
	pg AS (SELECT g, count(*) AS k FROM t GROUP BY g),
	pc AS (SELECT c, count(*) AS k FROM t GROUP BY c)
	SELECT 2 * (SELECT sum(j.k / n * ln(j.k * n / (pg.k * pc.k))) FROM j JOIN pg USING (g) JOIN pc USING (c), n)
		/ ((SELECT -sum(k / n * ln(k / n)) FROM pg, n) + (SELECT -sum(k / n * ln(k / n)) FROM pc, n))
$$;
SELECT kind, round(planted_nmi(kind)::numeric, 3) AS nmi, planted_nmi(kind) >= 0.9 AS at_least_0_9
FROM unnest(ARRAY['customer', 'item']) kind ORDER BY 1;

-- the same segments under a forced parallel scan and from shuffled rows
CREATE TABLE planted_shuffled AS SELECT * FROM planted ORDER BY (customer * 7919 + item * 104729) % 1009, item DESC;
SELECT graph_parallel(true);
SELECT count(*) AS rows_differing FROM (
	(SELECT * FROM rfm_micro_segments('planted', 'customer', 'item') EXCEPT SELECT * FROM segments)
	UNION ALL
	(SELECT * FROM rfm_micro_segments('planted_shuffled', 'customer', 'item') EXCEPT SELECT * FROM segments)) d;
SELECT graph_parallel(false);

-- repeated purchases count once: doubling every row changes nothing
CREATE VIEW planted_twice AS SELECT * FROM planted UNION ALL SELECT * FROM planted;
SELECT count(*) AS rows_differing FROM (
	SELECT * FROM rfm_micro_segments('planted_twice', 'customer', 'item') EXCEPT SELECT * FROM segments) d;
-- with a weight column the weights are what counts, not their unit: one
-- weight of 2.5 per pair gives the segments of one edge per pair
CREATE VIEW planted_weighted AS SELECT DISTINCT customer, item, 2.5 AS w FROM planted;
SELECT count(*) AS rows_differing FROM (
	SELECT * FROM rfm_micro_segments('planted_weighted', 'customer', 'item', 'w') EXCEPT SELECT * FROM segments) d;

-- Look-alikes of 20 customers of group 3: the top 80 are from group 3.
CREATE TABLE lookalikes AS
SELECT * FROM rfm_lookalike('planted', 'customer', 'item',
							ARRAY(SELECT (3 + 20 * g)::text FROM generate_series(0, 19) g), 80);
SELECT count(*) AS returned, count(*) FILTER (WHERE customer_key::int % 20 = 3) AS from_group_3,
	round(avg((customer_key::int % 20 = 3)::int), 3) AS share,
	avg((customer_key::int % 20 = 3)::int) >= 0.9 AS at_least_90_percent
FROM lookalikes;
-- ranks 1..80, similarity in (0, 1] and not increasing, no seed returned
SELECT min(rank) AS first_rank, max(rank) AS last_rank, count(DISTINCT rank) AS ranks,
	bool_and(similarity > 0 AND similarity <= 1) AS in_0_1,
	bool_and(NOT customer_key::int IN (SELECT 3 + 20 * g FROM generate_series(0, 19) g)) AS no_seed
FROM lookalikes;
SELECT bool_and(similarity >= next_similarity) AS not_increasing
FROM (SELECT similarity, lead(similarity) OVER (ORDER BY rank) AS next_similarity FROM lookalikes) x;
-- unknown seeds are reported; repeated seeds count once
SELECT count(*) AS returned FROM rfm_lookalike('planted', 'customer', 'item', ARRAY['3', '23', '23', '99999', '-1'], 5);

-- 4. Recommendations beat global popularity on a held-out period.  A shop
--    of 2,000 customers in 20 groups, 12 purchases each over 2024: 70%
--    from their group's 20 products (some more popular), 30% from a
--    heavy-tailed global mix.  Recommend from the purchases before
--    October, count the new items each customer bought from October on.
SELECT setseed(0.42);
CREATE TABLE shop AS
SELECT c AS customer,
	CASE WHEN random() < 0.7 THEN (c % 20) + 20 * floor(20 * random() ^ 2)::int
		 ELSE floor(400 * random() ^ 3)::int END AS item,
	'2024-01-01'::date + floor(random() * 366)::int AS day
FROM generate_series(0, 1999) c, LATERAL generate_series(1, 12) p;
CREATE VIEW shop_train AS SELECT * FROM shop WHERE day < '2024-10-01';
CREATE TABLE shop_before AS SELECT DISTINCT customer::text AS customer, item::text AS item FROM shop_train;
-- what each customer known before October bought new from October on
CREATE TABLE shop_later AS
SELECT DISTINCT customer::text AS customer, item::text AS item FROM shop
WHERE day >= '2024-10-01' AND customer::text IN (SELECT customer FROM shop_before)
EXCEPT SELECT customer, item FROM shop_before;
CREATE TABLE recs AS SELECT * FROM rfm_recommend('shop_train', 'customer', 'item', 10);
-- the baseline: the 10 items most bought overall that the customer has
-- not bought (among the 30 most bought: nobody bought more than 12 items)
CREATE TABLE popular AS
WITH pop AS (SELECT item, count(*) AS buyers FROM shop_before GROUP BY item ORDER BY 2 DESC, item::int LIMIT 30),
ranked AS (
	SELECT c.customer, p.item, row_number() OVER (PARTITION BY c.customer ORDER BY p.buyers DESC, p.item::int) AS rank
	FROM (SELECT DISTINCT customer FROM shop_before) c CROSS JOIN pop p
	WHERE NOT EXISTS (SELECT 1 FROM shop_before b WHERE b.customer = c.customer AND b.item = p.item))
SELECT customer AS customer_key, item AS item_key, rank FROM ranked WHERE rank <= 10;
CREATE TABLE judged AS
WITH hits AS (
	SELECT r.method, r.customer_key, count(*) AS hits
	FROM (SELECT 'micro-segments' AS method, customer_key, item_key FROM recs
		  UNION ALL SELECT 'popularity', customer_key, item_key FROM popular) r
	JOIN shop_later x ON x.customer = r.customer_key AND x.item = r.item_key
	GROUP BY 1, 2)
SELECT m.method, l.customer, coalesce(h.hits, 0) AS hits
FROM (SELECT DISTINCT customer FROM shop_later) l CROSS JOIN (VALUES ('micro-segments'), ('popularity')) m(method)
LEFT JOIN hits h ON h.method = m.method AND h.customer_key = l.customer;
-- hit rate: the share of customers who bought at least one recommended
-- item; precision at 10: recommended items bought, out of 10
SELECT method, count(*) AS customers, round(avg((hits > 0)::int), 3) AS hit_rate,
	round(avg(hits / 10.0), 4) AS precision_at_10
FROM judged GROUP BY method ORDER BY method;
SELECT bool_and(s.hit_rate > p.hit_rate) AND bool_and(s.prec > p.prec) AS beats_popularity_on_both
FROM (SELECT avg((hits > 0)::int) AS hit_rate, avg(hits / 10.0) AS prec FROM judged WHERE method = 'micro-segments') s,
	 (SELECT avg((hits > 0)::int) AS hit_rate, avg(hits / 10.0) AS prec FROM judged WHERE method = 'popularity') p;
-- 10 per customer, ranks 1..10, scores not increasing, nothing already bought
SELECT count(*) AS rows, count(DISTINCT customer_key) AS customers,
	count(*) = 10 * count(DISTINCT customer_key) AS ten_each,
	count(DISTINCT (customer_key, rank)) = count(*) AS ranks_distinct, min(rank), max(rank)
FROM recs;
SELECT count(*) AS already_bought FROM recs r JOIN shop_before b ON b.customer = r.customer_key AND b.item = r.item_key;
SELECT count(*) AS score_increases FROM (
	SELECT score, lag(score) OVER (PARTITION BY customer_key ORDER BY rank) AS before FROM recs) x
WHERE score > before;
-- the same rows under a forced parallel scan
SELECT graph_parallel(true);
SELECT count(*) AS rows_differing FROM (SELECT * FROM rfm_recommend('shop_train', 'customer', 'item', 10) EXCEPT SELECT * FROM recs) d;
SELECT graph_parallel(false);
-- a customer who bought nearly everything gets what is left
CREATE TABLE greedy AS SELECT 1 AS customer, i AS item FROM generate_series(1, 5) i UNION ALL SELECT 2, 1;
SELECT * FROM rfm_recommend('greedy', 'customer', 'item', 3) ORDER BY customer_key, rank;
DROP TABLE greedy;

-- 5. Keys of other types, NULL rows, an empty source.
CREATE TABLE baskets (customer uuid, product text, qty numeric);
INSERT INTO baskets VALUES
	('00000000-0000-0000-0000-000000000001', 'tea', 1), ('00000000-0000-0000-0000-000000000001', 'cups', 2),
	('00000000-0000-0000-0000-000000000002', 'tea', 1), ('00000000-0000-0000-0000-000000000002', 'cups', 1),
	('00000000-0000-0000-0000-000000000003', 'nails', 3), ('00000000-0000-0000-0000-000000000003', 'hammer', 1),
	('00000000-0000-0000-0000-000000000004', 'nails', 1), ('00000000-0000-0000-0000-000000000004', 'hammer', 1),
	(NULL, 'tea', 1), ('00000000-0000-0000-0000-000000000004', NULL, 1), ('00000000-0000-0000-0000-000000000002', 'glue', NULL);
SELECT * FROM rfm_micro_segments('baskets', 'customer', 'product') ORDER BY community, node_kind, node_key;
SELECT * FROM rfm_micro_segments('baskets', 'customer', 'product', 'qty') ORDER BY community, node_kind, node_key;
SELECT customer_key, round(similarity::numeric, 6) AS similarity, rank
FROM rfm_lookalike('baskets', 'customer', 'product', ARRAY['00000000-0000-0000-0000-000000000001']);
-- no rows, no nodes: an empty result, not an error
CREATE VIEW no_baskets AS SELECT * FROM baskets WHERE false;
SELECT count(*) FROM rfm_micro_segments('no_baskets', 'customer', 'product');
CREATE TABLE nothing (customer int, item int);
SELECT count(*) FROM rfm_micro_segments('nothing', 'customer', 'item');
SELECT count(*) FROM rfm_recommend('nothing', 'customer', 'item');
SELECT count(*) FROM rfm_graph_communities('nothing', 'customer', 'item');

-- Without a weight column the source may send each distinct pair once
-- with its number of rows (rfm_segment.scan = 'states', or 'auto' over
-- foreign tables and Citus): the same answers, serially and in parallel
-- workers, for the four functions, repeated rows and NULL rows included
-- (the NOTICE counts the same skipped rows)
CREATE FUNCTION graph_md5(scan text, query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	result text;
BEGIN
	PERFORM set_config('rfm_segment.scan', scan, true);
	EXECUTE format('SELECT count(*) || '' rows '' || md5(string_agg(s::text, '';'' ORDER BY s::text)) FROM (%s) s', query)
		INTO result;
	PERFORM set_config('rfm_segment.scan', 'auto', true);
	RETURN result;
END $$;
CREATE TABLE graph_queries (query text);
INSERT INTO graph_queries VALUES
	($$SELECT * FROM rfm_graph_communities('karate_shuffled', 'a', 'b')$$),
	($$SELECT * FROM rfm_graph_communities('karate', 'b', 'a')$$),
	($$SELECT * FROM rfm_micro_segments('planted_twice', 'customer', 'item')$$),
	($$SELECT * FROM rfm_lookalike('planted', 'customer', 'item', ARRAY['3', '23', '43'], 20)$$),
	($$SELECT * FROM rfm_recommend('shop_train', 'customer', 'item', 10)$$),
	($$SELECT * FROM rfm_micro_segments('baskets', 'customer', 'product')$$);
SELECT split_part(graph_md5('rows', query), ' ', 1) AS rows,
	graph_md5('rows', query) = graph_md5('states', query) AS grouped_equal
FROM graph_queries ORDER BY query;
SELECT graph_parallel(true);
SELECT count(*) AS queries, count(*) FILTER (WHERE graph_md5('rows', query) = graph_md5('states', query)) AS parallel_grouped_equal
FROM graph_queries;
SELECT graph_parallel(false);
SET rfm_segment.scan = 'states';
SELECT count(*) AS nodes FROM rfm_micro_segments('baskets', 'customer', 'product');
RESET rfm_segment.scan;
DROP FUNCTION graph_md5(text, text);
DROP TABLE graph_queries;


-- 6. Bad input: each error with its message and hint, and its SQLSTATE.
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT * FROM rfm_graph_communities(NULL, 'a', 'b');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_micro_segments(NULL, 'customer', 'item');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_graph_communities('karate', 'a', NULL);
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_graph_communities('karate', 'a', 'nope');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_micro_segments('planted', 'nope', 'item');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_micro_segments('planted', 'customer', 'nope');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_micro_segments('planted', 'customer', 'item', 'nope');
\echo SQLSTATE :SQLSTATE
-- both ends of an edge must be of one type
SELECT * FROM rfm_graph_communities('baskets', 'customer', 'product');
\echo SQLSTATE :SQLSTATE
-- a weight must be a number, at least 0 and finite
SELECT * FROM rfm_micro_segments('baskets', 'customer', 'product', 'product');
\echo SQLSTATE :SQLSTATE
CREATE VIEW bad_weights AS SELECT customer, item, -1 AS negative, 'NaN'::float8 AS nan, 'Infinity'::numeric AS inf FROM planted;
SELECT * FROM rfm_micro_segments('bad_weights', 'customer', 'item', 'negative');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_micro_segments('bad_weights', 'customer', 'item', 'nan');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_graph_communities('bad_weights', 'customer', 'item', 'inf');
\echo SQLSTATE :SQLSTATE
DROP VIEW bad_weights;
-- keys must hash and sort
CREATE TABLE shapes (customer int, item point);
SELECT * FROM rfm_micro_segments('shapes', 'customer', 'item');
\echo SQLSTATE :SQLSTATE
DROP TABLE shapes;
-- resolution: positive and finite; seed and k: not NULL
SELECT * FROM rfm_micro_segments('planted', 'customer', 'item', resolution => 0);
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_micro_segments('planted', 'customer', 'item', resolution => -1);
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_graph_communities('karate', 'a', 'b', resolution => 'NaN');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_graph_communities('karate', 'a', 'b', resolution => 'Infinity');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_graph_communities('karate', 'a', 'b', resolution => NULL);
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_graph_communities('karate', 'a', 'b', seed => NULL);
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_recommend('planted', 'customer', 'item', 0);
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_recommend('planted', 'customer', 'item', NULL);
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_lookalike('planted', 'customer', 'item', ARRAY['3'], 0);
\echo SQLSTATE :SQLSTATE
-- seed_customers: not NULL, not empty, no NULL, in the column's syntax, known
SELECT * FROM rfm_lookalike('planted', 'customer', 'item', NULL);
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_lookalike('planted', 'customer', 'item', '{}');
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_lookalike('planted', 'customer', 'item', ARRAY['3', NULL]);
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_lookalike('planted', 'customer', 'item', ARRAY['c3']);
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_lookalike('planted', 'customer', 'item', ARRAY['99999', '-1']);
\echo SQLSTATE :SQLSTATE
SELECT * FROM rfm_lookalike('nothing', 'customer', 'item', ARRAY['1']);
\echo SQLSTATE :SQLSTATE
-- rfm_segment.max_memory bounds what the graph holds: 30,000 purchases
-- need more than 3MB, 11 rows do not (the key tables of scan.c take 1MB
-- each from the first key)
SET rfm_segment.max_memory = '3MB';
SELECT count(*) FROM rfm_micro_segments('baskets', 'customer', 'product');
SELECT count(*) FROM rfm_micro_segments('planted', 'customer', 'item');
\echo SQLSTATE :SQLSTATE
SELECT count(*) FROM rfm_recommend('shop_train', 'customer', 'item');
\echo SQLSTATE :SQLSTATE
SELECT count(*) FROM rfm_lookalike('planted', 'customer', 'item', ARRAY['3']);
\echo SQLSTATE :SQLSTATE
RESET rfm_segment.max_memory;
\set VERBOSITY terse

DROP FUNCTION planted_nmi(text), graph_parallel(boolean);
DROP VIEW karate_modularity, planted_twice, planted_weighted, shop_train, no_baskets;
DROP TABLE karate, karate_shuffled, karate_runs, planted, planted_shuffled, segments, lookalikes,
	shop, shop_before, shop_later, recs, popular, judged, baskets, nothing;
