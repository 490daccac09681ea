-- Upgrade through every released version to the current one: install 0.1
-- (the first release), build what users build on it, update to 0.2 and
-- then to the default version, and check after each step that everything
-- still works and gives the same answers.  Then the members of the updated
-- extension (labels, settings and an md5 of every definition) must equal a
-- fresh install, whose script (sql/rfm_segment.sql) shares no text with the
-- steps; a positive control shows that the comparison catches a step that
-- omits a change.  Ends with a fresh install at the default version, for
-- the tests that follow.
\set VERBOSITY terse
SET TimeZone = 'UTC';
SET extra_float_digits = 0;
SET client_min_messages = warning;
DROP EXTENSION rfm_segment CASCADE;
RESET client_min_messages;

CREATE EXTENSION rfm_segment VERSION '0.1' SCHEMA public;
SELECT extversion FROM pg_extension WHERE extname = 'rfm_segment';

-- 1. What users build on 0.1: a source table, a generated segment column,
--    a view over the aggregate and the scores, a materialized view over
--    rfm_analyze, an edited rule set, a model, and stored states.
CREATE SCHEMA upg;
SET search_path = upg, public;
CREATE TABLE upg.orders (customer int, at timestamptz, amount numeric(10,2));
INSERT INTO upg.orders
SELECT g % 97, '2024-01-01'::timestamptz + (g * 7919 % 8760) * interval '1 hour', (g * 31 % 500) / 4.0 - 5
FROM generate_series(1, 3000) g;

CREATE TABLE upg.customers (
	id int PRIMARY KEY, r int, f int, m int,
	segment text GENERATED ALWAYS AS (public.rfm_segment_standard(r, f, m)) STORED,
	cohort text GENERATED ALWAYS AS (public.rfm_cohort(('2024-01-01'::date + id * 5), 'quarter')) STORED);
INSERT INTO upg.customers (id, r, f, m) SELECT g, g % 5 + 1, g / 5 % 5 + 1, g / 25 % 5 + 1 FROM generate_series(0, 124) g;

CREATE VIEW upg.scored AS
SELECT customer, x.recency_days, x.frequency, x.monetary,
	public.rfm_score_desc(x.recency_days, public.rfm_breaks(x.recency_days, 5) OVER ()) AS r,
	public.rfm_score(x.frequency, public.rfm_breaks(x.frequency, 5) OVER ()) AS f,
	public.rfm_score(x.monetary::float8, public.rfm_breaks(x.monetary::float8, 5) OVER ()) AS m
FROM (SELECT customer, (public.rfm_metrics(at, amount, '2025-01-01 00:00+00')).* FROM upg.orders GROUP BY customer) x;

CREATE MATERIALIZED VIEW upg.fast AS
SELECT * FROM public.rfm_analyze('upg.orders', 'customer', 'at', 'amount', as_of => '2025-01-01 00:00+00');

SELECT public.rfm_copy_rule_set('standard', 'upg_rules');
UPDATE public.rfm_segment_rule SET segment = 'Best' WHERE rule_set = 'upg_rules' AND segment = 'Champions';

SELECT public.rfm_create_model('shop', 'upg.orders', 'customer', 'at', 'amount',
	as_of => '2025-01-01 00:00+00', rule_set => 'upg_rules', clusters => 3);

CREATE TABLE upg.states AS
SELECT customer, public.rfm_metrics_trans(NULL, max(at), sum(amount), '2025-01-01 00:00+00') AS state
FROM upg.orders GROUP BY customer;

-- a stored k-means model: 0.3 adds fields to its type, and a model stored
-- before must still score every customer as it did
CREATE TABLE upg.features AS
SELECT customer, ARRAY[x.recency_days, x.frequency, x.monetary]::float8[] AS x
FROM (SELECT customer, (public.rfm_metrics(at, amount, '2025-01-01 00:00+00')).* FROM upg.orders GROUP BY customer) x;
CREATE TABLE upg.kmeans_models AS
SELECT 'stored' AS name, public.rfm_kmeans(x, 3, 'seed=2') AS model FROM upg.features;

-- every answer, as the 0.1 scripts give it
CREATE FUNCTION upg.answers() RETURNS TABLE (what text, row_text text) LANGUAGE sql AS $$
	-- (aliases that are no column's name: fast.f would be the F score)
	SELECT 'customers', c_row::text FROM upg.customers c_row
	UNION ALL SELECT 'scored', s_row::text FROM upg.scored s_row
	UNION ALL SELECT 'fast', f_row::text FROM upg.fast f_row
	UNION ALL SELECT 'shop_metrics', m_row::text FROM upg.shop_metrics m_row
	UNION ALL SELECT 'shop_segment_summary', s_row::text FROM upg.shop_segment_summary s_row
	UNION ALL SELECT 'shop_retention', r_row::text FROM upg.shop_retention r_row
	UNION ALL SELECT 'shop_clusters', k_row::text FROM upg.shop_clusters k_row
	UNION ALL SELECT 'states', (s.customer, public.rfm_metrics_final(s.state))::text FROM upg.states s
	UNION ALL SELECT 'stored_kmeans', (f.customer, public.rfm_cluster(f.x, k.model), (k.model).sizes)::text
		FROM upg.features f, upg.kmeans_models k
$$;
CREATE TABLE upg.before AS SELECT * FROM upg.answers();
SELECT what, count(*) FROM upg.before GROUP BY 1 ORDER BY 1;

-- 2. The flaw 0.2 fixes: in 0.1 the model functions resolved names through
--    the caller's search_path, so a function another role put on that
--    path ran with the caller's rights.
CREATE ROLE regress_rfm_mallory;
GRANT USAGE, CREATE ON SCHEMA upg TO regress_rfm_mallory;
SET ROLE regress_rfm_mallory;
CREATE FUNCTION upg.cardinality(text[]) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
	RAISE NOTICE 'upg.cardinality(text[]) ran as a superuser: %', (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user);
	RETURN pg_catalog.cardinality($1);
END $$;
CREATE FUNCTION upg.format(text, text, name, text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	RAISE NOTICE 'upg.format(text, text, name, text) ran';
	RETURN pg_catalog.format($1, $2, $3, $4);
END $$;
RESET ROLE;
SELECT public.rfm_refresh('shop');

-- 3. The update to 0.2.  The 0.1 objects ran on the current library
--    above; now the scripts move to 0.2.
ALTER EXTENSION rfm_segment UPDATE TO '0.2';
SELECT extversion FROM pg_extension WHERE extname = 'rfm_segment';

-- the same calls no longer reach the other role's functions
SELECT public.rfm_refresh('shop');
SELECT public.rfm_refresh('shop', concurrently => true);
SELECT (public.rfm_find_model('shop')).rule_set;
SELECT public.rfm_create_model('shop2', 'upg.orders', 'customer', 'at', 'amount', as_of => '2025-01-01 00:00+00');
SELECT public.rfm_drop_model('upg.shop2');
SELECT count(*) AS models FROM public.rfm_model;

-- everything built on 0.1 still works and gives the same answers
REFRESH MATERIALIZED VIEW upg.fast;
SELECT public.rfm_refresh('shop');
INSERT INTO upg.customers (id, r, f, m) VALUES (1000, 5, 5, 5);
SELECT segment, cohort FROM upg.customers WHERE id = 1000;
DELETE FROM upg.customers WHERE id = 1000;
SELECT count(*) AS only_before FROM (SELECT * FROM upg.before EXCEPT ALL SELECT * FROM upg.answers()) x;
SELECT count(*) AS only_after FROM (SELECT * FROM upg.answers() EXCEPT ALL SELECT * FROM upg.before) x;
-- and 0.2's churn alerts on the rule set users copied
CREATE TABLE upg.alerts_0_2 AS
SELECT customer_key, segment_before, segment_after, reason
FROM public.rfm_churn_alerts('upg.orders', 'customer', 'at', 'amount',
	from_as_of => '2024-07-01 00:00+00', to_as_of => '2025-01-01 00:00+00', rule_set => 'upg_rules');
SELECT count(*) AS alerts, count(*) FILTER (WHERE reason LIKE 'entered%') AS entered FROM upg.alerts_0_2;

-- 4. The update to the default version, and the same checks.
ALTER EXTENSION rfm_segment UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'rfm_segment';
REFRESH MATERIALIZED VIEW upg.fast;
SELECT public.rfm_refresh('shop');
SELECT public.rfm_refresh('shop', concurrently => true);
SELECT public.rfm_create_model('shop3', 'upg.orders', 'customer', 'at', 'amount', as_of => '2025-01-01 00:00+00');
SELECT public.rfm_drop_model('upg.shop3');
SELECT count(*) AS only_before FROM (SELECT * FROM upg.before EXCEPT ALL SELECT * FROM upg.answers()) x;
SELECT count(*) AS only_after FROM (SELECT * FROM upg.answers() EXCEPT ALL SELECT * FROM upg.before) x;
-- the stored model has its new fields NULL, and still has a profile: its
-- features had no transform, so its centroids are its clusters' means
SELECT (model).transforms IS NULL AS no_transforms, (model).means IS NULL AS no_means FROM upg.kmeans_models;
SELECT p.cluster, p.customers = (k.model).sizes[p.cluster] AS same_size,
	p.means = ARRAY[(k.model).centroids[p.cluster][1], (k.model).centroids[p.cluster][2], (k.model).centroids[p.cluster][3]] AS means_are_centroids,
	p.description IS NOT NULL AS described
FROM upg.kmeans_models k, public.rfm_cluster_profile(k.model) p ORDER BY p.cluster;
-- the seeded built-in rules are what the library holds, now with their
-- meanings, and stay read-only
SELECT count(*) AS builtin_rules,
	count(*) FILTER (WHERE (r.rule_set, r.priority, r.segment, r.r_min, r.r_max, r.f_min, r.f_max, r.m_min, r.m_max)
					 NOT IN (SELECT b.rule_set, b.priority, b.segment, b.r_min, b.r_max, b.f_min, b.f_max, b.m_min, b.m_max
							 FROM public.rfm_builtin_rules() b)) AS not_in_library,
	count(*) FILTER (WHERE r.description IS NULL) AS without_meaning
FROM public.rfm_segment_rule r WHERE r.builtin;
UPDATE public.rfm_segment_rule SET segment = 'Best' WHERE rule_set = 'standard' AND priority = 1;
SELECT rfm_segment(5, 5, 5, 'upg_rules') AS user_rules_kept;
-- rule sets users copied keep 0.2's danger segments, and the meanings
-- of the segments whose names they kept; their churn alerts are 0.2's
SELECT segment, danger, description IS NOT NULL AS described
FROM public.rfm_segment_rule WHERE rule_set = 'upg_rules' ORDER BY priority;
SELECT count(*) AS only_0_2 FROM (
	SELECT * FROM upg.alerts_0_2
	EXCEPT ALL
	SELECT customer_key, segment_before, segment_after, reason
	FROM public.rfm_churn_alerts('upg.orders', 'customer', 'at', 'amount',
		from_as_of => '2024-07-01 00:00+00', to_as_of => '2025-01-01 00:00+00', rule_set => 'upg_rules')) x;
SELECT count(*) AS only_0_3 FROM (
	SELECT customer_key, segment_before, segment_after, reason
	FROM public.rfm_churn_alerts('upg.orders', 'customer', 'at', 'amount',
		from_as_of => '2024-07-01 00:00+00', to_as_of => '2025-01-01 00:00+00', rule_set => 'upg_rules')
	EXCEPT ALL
	SELECT * FROM upg.alerts_0_2) x;

-- 5. The updated extension has the members, labels and definitions of a
--    fresh install of the default version.  The types the server makes
--    itself (array types, row types of tables), members too from
--    PostgreSQL 17 on (commit e5bc9454), are left out so that the list is
--    the same on every version.
CREATE FUNCTION upg.members() RETURNS TABLE (member text, detail text) LANGUAGE sql AS $$
	SELECT pg_describe_object(d.classid, d.objid, d.objsubid),
		CASE WHEN d.classid = 'pg_proc'::regclass THEN
			(SELECT concat_ws(' ', p.prokind, p.provolatile, p.proisstrict, p.proparallel, p.prosecdef,
							  p.proconfig::text, l.lanname,
							  CASE WHEN p.prokind <> 'a' THEN md5(pg_get_functiondef(p.oid)) END)
			 FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang WHERE p.oid = d.objid)
			 -- a composite type's fields, in order: the library reads them by position
			 WHEN d.classid = 'pg_type'::regclass THEN
			(SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
			 FROM pg_type t JOIN pg_attribute a ON a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
			 WHERE t.oid = d.objid)
			 -- a table's constraints and its number of triggers: the read-only
			 -- guarantee of the rule table is a CHECK, not a trigger (0.3)
			 WHEN d.classid = 'pg_class'::regclass THEN
			(SELECT string_agg(c.conname || ' ' || pg_get_constraintdef(c.oid), '; ' ORDER BY c.conname COLLATE "C")
			 FROM pg_constraint c WHERE c.conrelid = d.objid)
			|| '; triggers ' || (SELECT count(*) FROM pg_trigger g WHERE g.tgrelid = d.objid)
		END
	FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
	WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' AND e.extname = 'rfm_segment'
	  AND NOT EXISTS (SELECT 1 FROM pg_type t LEFT JOIN pg_class c ON c.oid = t.typrelid
					  WHERE d.classid = 'pg_type'::regclass AND t.oid = d.objid
						AND (EXISTS (SELECT 1 FROM pg_type a WHERE a.typarray = t.oid) OR c.relkind <> 'c'))
$$;
CREATE TABLE upg.updated AS SELECT * FROM upg.members();
SELECT count(*) AS members FROM upg.updated;
SELECT (SELECT extconfig::regclass[]::text FROM pg_extension WHERE extname = 'rfm_segment') AS config_tables,
	(SELECT extcondition::text FROM pg_extension WHERE extname = 'rfm_segment') AS conditions;

SET client_min_messages = warning;
DROP EXTENSION rfm_segment CASCADE;
RESET client_min_messages;
CREATE EXTENSION rfm_segment SCHEMA public;
SELECT extversion FROM pg_extension WHERE extname = 'rfm_segment';
SELECT * FROM (SELECT * FROM upg.updated EXCEPT SELECT * FROM upg.members()) only_updated ORDER BY member COLLATE "C";
SELECT * FROM (SELECT * FROM upg.members() EXCEPT SELECT * FROM upg.updated) only_fresh ORDER BY member COLLATE "C";

-- the members of the current version (0.2 added the four rfm_model_*
-- workers, 0.3 rfm_builtin_rules, rfm_default_rule_set, the four graph
-- functions and the customer-lifetime-value layer)
SELECT member FROM upg.updated ORDER BY member COLLATE "C";

-- 6. Positive control: the comparison catches a step that omits a change.
--    A step that forgot to add the rule table's CHECK and to create
--    rfm_default_rule_set would leave exactly this: a table without the
--    constraint, and no such member.  Made here on the fresh install (the
--    statements the step holds, undone), then compared with the real
--    update as above.
SET client_min_messages = warning;
ALTER TABLE public.rfm_segment_rule DROP CONSTRAINT rfm_segment_rule_builtin;
ALTER EXTENSION rfm_segment DROP FUNCTION public.rfm_default_rule_set(boolean);
DROP FUNCTION public.rfm_default_rule_set(boolean);
RESET client_min_messages;
SELECT side, member FROM (
	SELECT 'only_updated' AS side, * FROM (SELECT * FROM upg.updated EXCEPT SELECT * FROM upg.members()) d
	UNION ALL
	SELECT 'only_incomplete', * FROM (SELECT * FROM upg.members() EXCEPT SELECT * FROM upg.updated) d) c
ORDER BY side, member COLLATE "C";
SET client_min_messages = warning;
DROP EXTENSION rfm_segment CASCADE;
RESET client_min_messages;
CREATE EXTENSION rfm_segment SCHEMA public;

RESET search_path;
SET client_min_messages = warning;
DROP SCHEMA upg CASCADE;
RESET client_min_messages;
DROP ROLE regress_rfm_mallory;
