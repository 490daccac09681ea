-- Models: typed materialized views over the analysis, refreshed in order,
-- readable during a concurrent refresh, created with the caller's rights.
\set VERBOSITY terse
SET TimeZone = 'UTC';

CREATE TABLE shop (customer bigint, buyer uuid, ordered date, at timestamptz, amount numeric(10,2));
INSERT INTO shop
SELECT g % 300, md5((g % 300)::text)::uuid,
	('2023-01-01'::date + ((g * 7919) % 600)), '2023-01-01 00:00+00'::timestamptz + ((g * 7919) % 600) * interval '1 day',
	(g % 90) + 0.5
FROM generate_series(1, 6000) g;

-- rows of two views found in one only, as text (a numeric's scale counts)
CREATE FUNCTION pg_temp.rows_only(a text, b text) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
	RETURN QUERY EXECUTE format('(SELECT row_a::text FROM %1$I row_a EXCEPT ALL SELECT row_b::text FROM %2$I row_b) '
								'UNION ALL (SELECT row_b::text FROM %2$I row_b EXCEPT ALL SELECT row_a::text FROM %1$I row_a)', a, b);
END
$$;

-- rows of a view that, in the order they are stored, do not sort after the
-- one before them by their bytes (*>=), the order in which REFRESH ...
-- CONCURRENTLY sorts a view's new rows to look for duplicates
CREATE FUNCTION pg_temp.unsorted(v regclass) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	EXECUTE format('SELECT count(*) FROM (SELECT whole_row, lag(whole_row) OVER (ORDER BY whole_row.ctid) AS p '
				   'FROM %s whole_row) x WHERE x.p OPERATOR(pg_catalog.*>=) x.whole_row', v) INTO n;
	RETURN n;
END
$$;

SELECT rfm_create_model('shop_rfm', 'shop', 'customer', 'ordered', 'amount', as_of => '2024-06-30');
SELECT schema_name, name, source, customer_column, time_column, amount_column, as_of, bins, grain, tz, owner = current_user AS mine
FROM rfm_model;

-- Typed views: the key keeps its column's name and type.
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = 1
WHERE c.relname LIKE 'shop\_rfm\_%' ORDER BY c.relname;
-- Each has a unique index, so it can be refreshed concurrently.
SELECT t.relname AS view, i.relname AS unique_index
FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
WHERE t.relname LIKE 'shop\_rfm\_%' AND x.indisunique ORDER BY 1;
-- The views kept per customer store their rows in the order of their bytes
-- (the key's first), so that this sort is one pass: 1.2M rows in any other
-- order took 13 s a copy, twice a refresh.
SELECT v AS view, pg_temp.unsorted(v) AS out_of_order
FROM unnest(ARRAY['shop_rfm_metrics', 'shop_rfm_segments']::regclass[]) v;

-- The views hold what the functions return.
SELECT count(*) AS customers,
	count(*) FILTER (WHERE (m.customer::text, m.frequency, m.monetary, m.r, m.f, m.m, m.segment) IS NOT DISTINCT FROM
						   (a.customer_key, a.frequency, a.monetary, a.r, a.f, a.m, a.segment)) AS same
FROM shop_rfm_metrics m
JOIN rfm_analyze('shop', 'customer', 'ordered', 'amount', as_of => '2024-06-30') a ON a.customer_key = m.customer::text;
SELECT sum(customers) AS customers, sum(revenue) = (SELECT sum(monetary) FROM shop_rfm_metrics) AS revenue_adds_up
FROM shop_rfm_segment_summary;
SELECT count(*) AS cells, sum(active) FILTER (WHERE period_offset = 0) AS first_period_actives
FROM shop_rfm_retention;
SELECT (SELECT count(*) FROM (SELECT cohort, period_offset, cohort_size, active, rate FROM shop_rfm_retention
	EXCEPT SELECT * FROM rfm_retention('shop', 'customer', 'ordered', 'month', 'UTC', '2024-06-30')) x) AS retention_differences;
SELECT cohort, segment, customers FROM shop_rfm_cohort_segments ORDER BY customers DESC, 1, 2 LIMIT 3;

-- New orders appear after a refresh; CONCURRENTLY too.
INSERT INTO shop VALUES (9999, md5('x')::uuid, '2024-06-01', '2024-06-01', 10);
SELECT count(*) FROM shop_rfm_metrics WHERE customer = 9999;
SELECT rfm_refresh('shop_rfm');
SELECT count(*) FROM shop_rfm_metrics WHERE customer = 9999;
DELETE FROM shop WHERE customer = 9999;
SELECT rfm_refresh('shop_rfm', concurrently => true);
SELECT count(*) FROM shop_rfm_metrics WHERE customer = 9999;

-- A concurrent refresh does not block a session reading the views; a plain
-- refresh would wait for it.
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT dblink_connect('reader', format('host=%s port=%s dbname=%s user=%s',
	split_part(current_setting('unix_socket_directories'), ',', 1), current_setting('port'), current_database(), current_user));
SELECT dblink_exec('reader', 'BEGIN');
SELECT * FROM dblink('reader', 'SELECT count(*) FROM shop_rfm_metrics') AS t(n bigint);
SET lock_timeout = '2s';
SELECT rfm_refresh('shop_rfm', concurrently => true);
SELECT rfm_refresh('shop_rfm');
RESET lock_timeout;
SELECT * FROM dblink('reader', 'SELECT count(*) FROM shop_rfm_segment_summary') AS t(n bigint);
SELECT dblink_exec('reader', 'COMMIT');
SELECT dblink_disconnect('reader');

-- as_of NULL: the source's latest event at each refresh, as rfm_analyze
-- takes it; the views record it.
SELECT rfm_create_model('late_rfm', 'shop', 'customer', 'ordered', 'amount');
SELECT (SELECT max(as_of) FROM late_rfm_metrics) = (SELECT max(ordered)::timestamptz FROM shop) AS as_of_is_latest_event,
	(SELECT max(as_of) FROM late_rfm_retention) = (SELECT max(as_of) FROM late_rfm_metrics) AS views_agree;
INSERT INTO shop VALUES (9998, md5('y')::uuid, '2024-09-01', '2024-09-01', 10);
SELECT rfm_refresh('late_rfm');
SELECT max(as_of) AS as_of_after_a_later_order FROM late_rfm_metrics;
DELETE FROM shop WHERE customer = 9998;
SELECT rfm_drop_model('late_rfm');

-- as_of_now: the time of each refresh, recorded in the views.  On this
-- historical data, a NOTICE says how far that is past the latest event.
SET client_min_messages = warning;
SELECT rfm_create_model('live_rfm', 'shop', 'buyer', 'at', 'amount', grain => 'quarter', as_of_now => true);
RESET client_min_messages;
SELECT format_type(atttypid, atttypmod) AS key_type FROM pg_attribute
WHERE attrelid = 'live_rfm_metrics'::regclass AND attname = 'buyer';
-- a uuid key sorts by its bytes too
SELECT v AS view, pg_temp.unsorted(v) AS out_of_order
FROM unnest(ARRAY['live_rfm_metrics', 'live_rfm_segments']::regclass[]) v;
CREATE TABLE seen AS SELECT max(as_of) AS as_of FROM live_rfm_metrics;
SELECT pg_sleep(0.01);
SET client_min_messages = warning;
SELECT rfm_refresh('live_rfm') IS NULL AS refreshed;
RESET client_min_messages;
SELECT (SELECT max(as_of) FROM live_rfm_metrics) > (SELECT as_of FROM seen) AS as_of_moved,
	(SELECT count(DISTINCT as_of) FROM live_rfm_metrics) = 1 AS one_as_of,
	(SELECT max(as_of) FROM live_rfm_retention) = (SELECT max(as_of) FROM live_rfm_metrics) AS views_agree;
SELECT cohort, cohort_start FROM live_rfm_retention WHERE period_offset = 0 ORDER BY 1 LIMIT 2;
SELECT rfm_create_model('both', 'shop', 'customer', 'ordered', as_of => '2024-06-30', as_of_now => true);

-- BI-ready views: every view and column says what it is (what \d+ and a
-- BI client show), and a summary has shares, rounded averages beside exact
-- sums, and what each segment means and asks for.
SELECT c.relname AS view, obj_description(c.oid, 'pg_class') IS NOT NULL AS described,
	count(a.attnum) AS columns, count(col_description(c.oid, a.attnum)) AS columns_described
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relname LIKE 'shop\_rfm\_%' AND c.relkind = 'm'
GROUP BY c.oid, c.relname ORDER BY 1;
SELECT col_description('shop_rfm_segment_summary'::regclass, 3) AS customers_pct,
	col_description('shop_rfm_metrics'::regclass, 1) AS key;
SELECT segment, customers, customers_pct, revenue, revenue_pct, avg_recency_days, avg_frequency, avg_monetary,
	description IS NOT NULL AS described, action IS NOT NULL AS with_action
FROM shop_rfm_segment_summary ORDER BY revenue DESC, segment;
SELECT sum(customers_pct) AS customers_pct_sum, sum(revenue_pct) AS revenue_pct_sum,
	count(DISTINCT scale(revenue)) AS revenue_scales, max(scale(avg_monetary)) AS avg_monetary_scale,
	max(scale(avg_recency_days)) AS avg_recency_scale
FROM shop_rfm_segment_summary;
SELECT segment, description, action FROM shop_rfm_segment_summary WHERE segment IN ('Champions', 'Lost') ORDER BY 1;
SELECT cohort, cohort_start, segment, customers FROM shop_rfm_cohort_segments ORDER BY cohort_start, segment LIMIT 3;
-- the view groups by each customer's cohort day and labels each group
-- after: the same rows as grouping by the label, its day and the segment
-- (a date source, then a timestamptz one by quarter); rows and rows apart
CREATE FUNCTION pg_temp.cohorts_apart(model text, grain text, OUT rows bigint, OUT apart bigint)
	LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('SELECT count(*) FROM %1$I', model || '_cohort_segments') INTO rows;
	EXECUTE format('SELECT count(*) FROM (SELECT cohort, cohort_start, segment, customers, revenue FROM %1$I '
				   'EXCEPT ALL SELECT coalesce(rfm_cohort(first_event, %3$L, ''UTC''), ''(no purchase)''), '
				   'rfm_cohort_date(rfm_cohort(first_event, %3$L, ''UTC''), %3$L), segment, count(*), sum(monetary) '
				   'FROM %2$I GROUP BY 1, 2, 3) x',
				   model || '_cohort_segments', model || '_metrics', grain) INTO apart;
END
$$;
SELECT * FROM pg_temp.cohorts_apart('shop_rfm', 'month');
SELECT * FROM pg_temp.cohorts_apart('live_rfm', 'quarter');
SELECT cohort, cohort_start, period_offset, rate, retention_pct FROM shop_rfm_retention
WHERE period_offset = 1 ORDER BY cohort_start LIMIT 3;

-- Customers without an amount or with refunds only get a labelled segment,
-- never a blank one; refunds 'adjust' keeps cancellations out of
-- frequency and recency.
CREATE TABLE shop_refunds (customer int, at timestamptz, amount numeric(10,2));
INSERT INTO shop_refunds VALUES
	(1, '2024-05-01', 100), (1, '2024-06-20', -30),		-- a cancellation after the purchase
	(2, '2024-06-25', NULL),							-- an order without an amount
	(3, '2024-06-10', -15),								-- a refund only
	(4, '2024-01-15', 40), (4, '2024-06-01', 60), (5, '2024-03-01', 20);
SELECT rfm_create_model('ref_rfm', 'shop_refunds', 'customer', 'at', 'amount', as_of => '2024-06-30',
	bins => 2, refunds => 'adjust');
SELECT customer, frequency, last_event::date, monetary, r, f, m, segment FROM ref_rfm_metrics ORDER BY 1;
SELECT segment, customers, revenue, description FROM ref_rfm_segment_summary ORDER BY segment;
SELECT refunds, as_of_now FROM rfm_model WHERE name = 'ref_rfm';
SELECT rfm_drop_model('ref_rfm');
DROP TABLE shop_refunds;

-- A model with smart segments: k-means refitted at every refresh.
SELECT rfm_create_model('km_rfm', 'shop', 'customer', 'ordered', 'amount', as_of => '2024-06-30', clusters => 3);
SELECT count(*) AS customers, count(DISTINCT cluster) AS clusters,
	count(*) = (SELECT count(*) FROM km_rfm_metrics) AS every_customer FROM km_rfm_clusters;
-- and a profile per cluster, checked against the views it reads: sizes,
-- exact revenue, averages and the dominant segment; the distinctive
-- features and the description are rfm_cluster_profile's of the stored fit
SELECT cluster, customers, customers_pct, revenue_pct, avg_recency_days, avg_frequency, avg_monetary,
	dominant_segment, dominant_segment_pct, distinctive, description FROM km_rfm_cluster_profiles ORDER BY cluster;
SELECT method, k, features, customers, kmeans_model IS NOT NULL AS fitted, hclust_model IS NULL AS no_tree
FROM km_rfm_cluster_model;
WITH c AS (SELECT k.cluster, m.* FROM km_rfm_clusters k JOIN km_rfm_metrics m USING (customer)),
	 mine AS (SELECT cluster, count(*) AS customers, sum(monetary) AS revenue,
					 round(avg(recency_days)::numeric, 1) AS r, round(avg(frequency), 1) AS f,
					 round(avg(coalesce(monetary, 0)), 2) AS m,
					 (SELECT c2.segment FROM c c2 WHERE c2.cluster = c.cluster GROUP BY c2.segment
					  ORDER BY count(*) DESC, c2.segment COLLATE "C" LIMIT 1) AS dominant
			  FROM c GROUP BY cluster),
	 profile AS (SELECT p.* FROM km_rfm_cluster_model f, LATERAL rfm_cluster_profile(f.kmeans_model) p)
SELECT count(*) AS clusters,
	count(*) FILTER (WHERE (p.customers, p.revenue, p.avg_recency_days, p.avg_frequency, p.avg_monetary, p.dominant_segment)
						   = (x.customers, x.revenue, x.r, x.f, x.m, x.dominant)
					 AND (p.distinctive, p.description) = (pr.distinctive, pr.description)) AS as_computed,
	sum(p.customers) = (SELECT count(*) FROM km_rfm_clusters) AS every_clustered_customer
FROM km_rfm_cluster_profiles p JOIN mine x USING (cluster) JOIN profile pr USING (cluster);
-- every customer is in the cluster the stored fit assigns to the default
-- features (recency, frequency, monetary; the model applies their log1p)
SELECT count(*) FILTER (WHERE k.cluster = rfm_cluster(ARRAY[m.recency_days, m.frequency, m.monetary]::float8[],
													   f.kmeans_model)) AS assigned_by_hand,
	count(*) AS clustered
FROM km_rfm_clusters k JOIN km_rfm_metrics m USING (customer), km_rfm_cluster_model f;
SELECT col_description('km_rfm_cluster_profiles'::regclass, 12) AS description_column_comment;
SELECT rfm_refresh('km_rfm', concurrently => true);
SELECT count(DISTINCT cluster) AS clusters_after_refresh FROM km_rfm_clusters;
SELECT count(*) AS profiles_after_refresh FROM km_rfm_cluster_profiles;
SELECT rfm_drop_model('km_rfm');
SELECT count(*) AS left_behind FROM pg_class WHERE relname ~ '^km_rfm_';

-- A model is the same whatever the session settings it was created under:
-- its views' SQL carries its as_of, last_period and lifetime-value numbers
-- as text, written exactly.  Two pairs, each model made once under odd
-- settings (DMY dates, SQL-standard intervals, one significant digit of
-- floats, Dublin's zone) and once under the defaults, then refreshed
-- under the defaults: every view equal, row for row, as text
SET client_min_messages = error;
CREATE FUNCTION pg_temp.make_pair(name text, options text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('DateStyle', 'SQL, DMY', true);
	PERFORM set_config('IntervalStyle', 'sql_standard', true);
	PERFORM set_config('extra_float_digits', '-14', true);
	PERFORM set_config('TimeZone', 'Europe/Dublin', true);
	EXECUTE format('SELECT rfm_create_model(%L, ''shop'', ''customer'', ''at'', ''amount'' %s)', name || '_odd', options);
	PERFORM set_config('DateStyle', 'ISO, MDY', true);
	PERFORM set_config('IntervalStyle', 'postgres', true);
	PERFORM set_config('extra_float_digits', '1', true);
	PERFORM set_config('TimeZone', 'UTC', true);
	EXECUTE format('SELECT rfm_create_model(%L, ''shop'', ''customer'', ''at'', ''amount'' %s)', name || '_std', options);
	PERFORM rfm_refresh(name || '_odd');
	PERFORM rfm_refresh(name || '_std');
END
$$;
SELECT pg_temp.make_pair('set_a', ', as_of => ''2024-03-31 22:30+00'', last_period => ''1 mon 10 days'', clusters => 3, grain => ''week'', tz => ''Asia/Tokyo''');
SELECT pg_temp.make_pair('set_b', ', clv => true, clv_horizon => 26.5, clv_discount_rate => 0.0123, clv_margin => 0.37');
RESET client_min_messages;
SELECT p.pair, count(*) AS views,
	sum((SELECT count(*) FROM pg_temp.rows_only(p.pair || '_odd_' || v.view, p.pair || '_std_' || v.view))) AS differing_rows
FROM (VALUES ('set_a'), ('set_b')) p(pair),
	unnest(ARRAY['metrics', 'segments', 'segment_summary', 'cohort_segments', 'retention', 'cluster_model', 'clusters',
				 'cluster_profiles', 'clv']) v(view)
WHERE to_regclass(p.pair || '_odd_' || v.view) IS NOT NULL
GROUP BY p.pair ORDER BY 1;
SELECT count(*) AS dropped FROM rfm_model m, LATERAL rfm_drop_model(m.name) d WHERE m.name ~ '^set_[ab]_';
SELECT rfm_create_model('km_bad', 'shop', 'customer', 'ordered', clusters => 40);

-- Errors, with nothing half-created.
SELECT rfm_create_model('shop_rfm', 'shop', 'customer', 'ordered', 'amount');
SELECT rfm_create_model('bad1', 'shop', 'nobody', 'ordered');
SELECT rfm_create_model('bad2', 'shop', 'customer', 'amount');
SELECT rfm_create_model('bad3', 'shop', 'customer', 'ordered', 'buyer');
SELECT rfm_create_model('Bad Name', 'shop', 'customer', 'ordered');
SELECT rfm_create_model('bad4', 'no_such_table', 'customer', 'ordered');
SELECT count(*) AS leftovers FROM pg_class WHERE relname ~ '^bad[0-9]_';
SELECT count(*) AS models FROM rfm_model;
SELECT rfm_refresh('nope');
SELECT rfm_drop_model('nope');

-- Privileges: objects are created with the caller's rights.
CREATE ROLE regress_rfm_analyst;
CREATE SCHEMA analyst_space;
GRANT SELECT ON shop TO regress_rfm_analyst;
SET ROLE regress_rfm_analyst;
SELECT rfm_create_model('theirs', 'shop', 'customer', 'ordered', 'amount');
SET search_path = analyst_space, public;
SELECT rfm_create_model('theirs', 'shop', 'customer', 'ordered', 'amount');
RESET ROLE;
GRANT CREATE, USAGE ON SCHEMA analyst_space TO regress_rfm_analyst;
SET ROLE regress_rfm_analyst;
SELECT rfm_create_model('theirs', 'shop', 'customer', 'ordered', 'amount');
SELECT count(*) AS models_i_see FROM rfm_model;
RESET ROLE;
SELECT c.relname, pg_get_userbyid(c.relowner) AS owner FROM pg_class c
WHERE c.relnamespace = 'analyst_space'::regnamespace AND c.relkind = 'm' ORDER BY 1;
SELECT count(*) FILTER (WHERE p.prosecdef) AS security_definer FROM pg_proc p
WHERE p.proname IN ('rfm_create_model', 'rfm_refresh', 'rfm_drop_model');
SET ROLE regress_rfm_analyst;
SELECT rfm_drop_model('analyst_space.theirs');
RESET ROLE;
RESET search_path;
DROP SCHEMA analyst_space;
REVOKE ALL ON shop FROM regress_rfm_analyst;
DROP ROLE regress_rfm_analyst;

-- Dropping removes the views and the record.
SELECT rfm_drop_model('shop_rfm');
SELECT rfm_drop_model('live_rfm');
SELECT count(*) AS views_after_drop FROM pg_class WHERE relname ~ '^(shop|live)_rfm_';
SELECT count(*) AS models, (SELECT count(*) FROM pg_class WHERE relname ~ '^(shop|live)_rfm_') AS views FROM rfm_model;
-- The model records are dumped with the database.
SELECT c.relname, u.extcondition FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS u(oid, extcondition)
JOIN pg_class c ON c.oid = u.oid WHERE e.extname = 'rfm_segment' ORDER BY 1;
DROP TABLE shop, seen;
DROP EXTENSION dblink;
