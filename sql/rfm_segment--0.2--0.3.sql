/* rfm_segment--0.2--0.3.sql: the built-in rule sets have one home, the library */

\echo Use "ALTER EXTENSION rfm_segment UPDATE TO '0.3'" to load this file. \quit

-- 0.3 reorganises the sources and the install script (sql/rfm_segment.sql
-- is now the full current script); what a database sees changes only here.

-- ---------------------------------------------------------------------------
-- 3. Segments: the built-in rule sets come from the library
-- ---------------------------------------------------------------------------

-- The rules of 'standard' and 'rffl' were written twice, in the library
-- (rfm_segment_standard) and in the seeded rows.  The library is now their
-- one home; the seeded rows, already in the table, are what it returns.
CREATE FUNCTION @extschema@.rfm_builtin_rules()
	RETURNS TABLE (rule_set text, priority int, segment text, r_min int, r_max int,
				   f_min int, f_max int, m_min int, m_max int)
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 16;
COMMENT ON FUNCTION @extschema@.rfm_builtin_rules() IS 'the rules of the built-in rule sets, as compiled into the library';

CREATE FUNCTION @extschema@.rfm_default_rule_set(has_amount boolean)
	RETURNS text
	AS 'MODULE_PATHNAME', 'rfm_default_rule_set_sql' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_default_rule_set(boolean) IS 'the rule set rfm_analyze uses when none is named';

-- The guard reads the built-in names from the library instead of a list.
CREATE OR REPLACE FUNCTION @extschema@.rfm_segment_rule_guard()
	RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF TG_OP = 'TRUNCATE' THEN
		RAISE EXCEPTION 'rfm_segment_rule holds the built-in rule sets and cannot be truncated'
			USING ERRCODE = '55000', HINT = 'Delete your own rule sets with DELETE ... WHERE NOT builtin.';
	END IF;
	IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.builtin THEN
		RAISE EXCEPTION 'rule set "%" is built in and read-only', OLD.rule_set
			USING ERRCODE = '55000',
				  HINT = format('Copy it and edit the copy: SELECT rfm_copy_rule_set(%L, ''my_rules'').', OLD.rule_set);
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE')
	   AND (NEW.builtin OR NEW.rule_set IN (SELECT b.rule_set FROM @extschema@.rfm_builtin_rules() b)) THEN
		RAISE EXCEPTION 'rule set "%" is built in and read-only', NEW.rule_set
			USING ERRCODE = '55000',
				  HINT = 'Give your rule set its own name, with builtin false.';
	END IF;
	IF TG_OP = 'DELETE' THEN
		RETURN OLD;
	END IF;
	RETURN NEW;
END
$$;

-- Only a comment changed: the bins range is the library's (scoring.h).
CREATE OR REPLACE FUNCTION @extschema@.rfm_check_rules(rule_set text, bins int DEFAULT 5)
	RETURNS TABLE (problem text, priority int, segment text, other_priority int,
				   other_segment text, cells bigint, detail text)
	LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	-- the range of RFM_MIN_BINS..RFM_MAX_BINS in scoring.h (test: consistency)
	IF bins < 2 OR bins > 10 THEN
		RAISE EXCEPTION 'bins must be between 2 and 10, not %', bins
			USING ERRCODE = '22023', HINT = 'Five bins are the usual choice.';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM @extschema@.rfm_segment_rule r WHERE r.rule_set = rfm_check_rules.rule_set) THEN
		RAISE EXCEPTION 'unknown rule set "%"', rfm_check_rules.rule_set
			USING ERRCODE = '22023', HINT = 'Built-in rule sets are ''standard'' and ''rffl''.';
	END IF;
	RETURN QUERY
	WITH rules AS (
		SELECT r.* FROM @extschema@.rfm_segment_rule r WHERE r.rule_set = rfm_check_rules.rule_set
	), grid AS (
		SELECT r, f, m FROM generate_series(1, bins) r, generate_series(1, bins) f, generate_series(1, bins) m
	), matches AS (
		SELECT g.r, g.f, g.m, x.priority, x.segment,
			row_number() OVER (PARTITION BY g.r, g.f, g.m ORDER BY x.priority) AS rank
		FROM grid g JOIN rules x
			ON g.r BETWEEN x.r_min AND x.r_max AND g.f BETWEEN x.f_min AND x.f_max
		   AND g.m BETWEEN x.m_min AND x.m_max
	), winners AS (
		SELECT * FROM matches WHERE rank = 1
	)
	SELECT 'overlap'::text, b.priority, b.segment, a.priority, a.segment, count(*),
		format('%s cells match both; %s wins them', count(*), a.segment)
	FROM matches a JOIN matches b USING (r, f, m)
	WHERE a.priority < b.priority
	GROUP BY a.priority, a.segment, b.priority, b.segment
	UNION ALL
	SELECT 'unreachable', x.priority, x.segment, NULL::int, NULL::text, 0::bigint,
		CASE WHEN EXISTS (SELECT 1 FROM matches y WHERE y.priority = x.priority)
			 THEN 'every cell it matches is taken by an earlier rule'
			 ELSE format('it matches no cell with scores 1..%s', bins) END
	FROM rules x
	WHERE NOT EXISTS (SELECT 1 FROM winners w WHERE w.priority = x.priority)
	UNION ALL
	SELECT 'uncovered', NULL::int, 'Others', NULL::int, NULL::text, 1::bigint,
		format('r=%s f=%s m=%s matches no rule', g.r, g.f, g.m)
	FROM grid g
	WHERE NOT EXISTS (SELECT 1 FROM matches x WHERE (x.r, x.f, x.m) = (g.r, g.f, g.m))
	ORDER BY 1, 2, 4, 7;
END
$$;

-- ---------------------------------------------------------------------------
-- 5. One-call analysis: the default rule set is the library's
-- ---------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION @extschema@.rfm_churn_alerts(source regclass, customer_column name, time_column name,
											 amount_column name DEFAULT NULL, weight_column name DEFAULT NULL,
											 from_as_of timestamptz DEFAULT NULL, to_as_of timestamptz DEFAULT NULL,
											 last_period interval DEFAULT '30 days', bins int DEFAULT 5,
											 method text DEFAULT 'quantile', rule_set text DEFAULT NULL,
											 danger text[] DEFAULT NULL, min_recency_drop int DEFAULT 2)
	RETURNS TABLE (customer_key text, segment_before text, segment_after text,
				   r_before int, r_after int, f_before int, f_after int, m_before int, m_after int,
				   recency_days float8, frequency bigint, frequency_last_period bigint,
				   monetary numeric, reason text)
	LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	danger_set text[] := danger;
BEGIN
	IF from_as_of IS NULL OR to_as_of IS NULL THEN
		RAISE EXCEPTION 'from_as_of and to_as_of must not be NULL'
			USING ERRCODE = '22004', HINT = 'Pass the two dates to compare, the earlier first.';
	END IF;
	IF from_as_of >= to_as_of THEN
		RAISE EXCEPTION 'from_as_of must be before to_as_of'
			USING ERRCODE = '22023', HINT = 'Pass the earlier date as from_as_of.';
	END IF;
	IF min_recency_drop IS NULL OR min_recency_drop < 1 THEN
		RAISE EXCEPTION 'min_recency_drop must be at least 1'
			USING ERRCODE = '22023', HINT = 'A drop of 2 recency scores is the usual warning.';
	END IF;
	IF danger_set IS NULL THEN
		danger_set := CASE WHEN coalesce(rule_set, @extschema@.rfm_default_rule_set(amount_column IS NOT NULL)) = 'rffl'
						   THEN ARRAY['Cooling', 'Cold']
						   ELSE ARRAY['At Risk', 'Can''t Lose Them', 'About To Sleep', 'Lost'] END;
	END IF;
	RETURN QUERY
	WITH s AS (
		SELECT * FROM @extschema@.rfm_snapshots(source, customer_column, time_column, amount_column,
												 weight_column, ARRAY[from_as_of, to_as_of], last_period,
												 bins, method, rule_set)
	), a AS (
		SELECT * FROM s WHERE s.snapshot_as_of = from_as_of
	), b AS (
		SELECT * FROM s WHERE s.snapshot_as_of = to_as_of
	), pairs AS (
		SELECT b.customer_key, a.segment AS before, b.segment AS after,
			a.r AS r0, b.r AS r1, a.f AS f0, b.f AS f1, a.m AS m0, b.m AS m1,
			b.recency_days, b.frequency, b.frequency_last_period, b.monetary,
			b.segment = ANY (danger_set) AND NOT (a.segment = ANY (danger_set)) AS entered,
			a.r - b.r >= min_recency_drop AS dropped
		FROM b JOIN a ON (a.customer_key IS NULL) = (b.customer_key IS NULL)
			AND coalesce(a.customer_key, '') = coalesce(b.customer_key, '')
	)
	SELECT p.customer_key, p.before, p.after, p.r0, p.r1, p.f0, p.f1, p.m0, p.m1,
		p.recency_days, p.frequency, p.frequency_last_period, p.monetary,
		concat_ws('; ',
				  CASE WHEN p.entered THEN format('entered %s from %s', p.after, p.before) END,
				  CASE WHEN p.dropped THEN format('recency score fell from %s to %s', p.r0, p.r1) END)
	FROM pairs p
	WHERE p.entered OR p.dropped
	ORDER BY p.monetary DESC NULLS LAST, p.customer_key;
END
$$;

-- ---------------------------------------------------------------------------
-- 6. Smart segmentation: the k-means model keeps the preparation of its
--    features and its clusters' means; a model stored before has them NULL
--    and scores as it did
-- ---------------------------------------------------------------------------

ALTER TYPE @extschema@.rfm_kmeans_model
	ADD ATTRIBUTE feature_names text[],
	ADD ATTRIBUTE transforms text[],
	ADD ATTRIBUTE clip_low float8[],
	ADD ATTRIBUTE clip_high float8[],
	ADD ATTRIBUTE quantiles float8[],
	ADD ATTRIBUTE prep_mean float8[],
	ADD ATTRIBUTE prep_std float8[],
	ADD ATTRIBUTE population_mean float8[],
	ADD ATTRIBUTE means float8[];

-- ---------------------------------------------------------------------------
-- 7. Smart segmentation, part 2: prepared features, hierarchical clustering,
--    cluster profiles, wide profiles
-- ---------------------------------------------------------------------------

-- Choosing k, for either kind of model: inertia, a sampled silhouette,
-- Calinski-Harabasz and Davies-Bouldin per k.
CREATE TYPE @extschema@.rfm_cluster_score AS (
	k int,
	inertia float8,
	silhouette float8,
	calinski_harabasz float8,
	davies_bouldin float8
);
COMMENT ON TYPE @extschema@.rfm_cluster_score IS 'quality of a clustering into k clusters: inertia, silhouette, Calinski-Harabasz, Davies-Bouldin';

-- k-means on named features, each with its preparation ('monetary: log1p');
-- the model keeps the preparation, and rfm_cluster applies it.  The other
-- support functions are rfm_kmeans's.
CREATE FUNCTION @extschema@.rfm_kmeans_trans_names(internal, float8[], int, text, text[])
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_kmeans_trans_names(internal, float8[], int, text, text[]) IS 'transition function of rfm_kmeans(float8[], int, text, text[])';

CREATE AGGREGATE @extschema@.rfm_kmeans(features float8[], k int, options text, feature_names text[]) (
	SFUNC = @extschema@.rfm_kmeans_trans_names,
	STYPE = internal,
	FINALFUNC = @extschema@.rfm_kmeans_final,
	COMBINEFUNC = @extschema@.rfm_kmeans_combine,
	SERIALFUNC = @extschema@.rfm_kmeans_serial,
	DESERIALFUNC = @extschema@.rfm_kmeans_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_kmeans(float8[], int, text, text[]) IS 'k-means on named features, each optionally prepared: ''name: clip=0.99 log1p'', rank, robust';

CREATE FUNCTION @extschema@.rfm_kmeans_scan_trans_names(internal, float8[], int, int, text, text[])
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_kmeans_scan_trans_names(internal, float8[], int, int, text, text[]) IS 'transition function of rfm_kmeans_scan with feature_names';

CREATE FUNCTION @extschema@.rfm_kmeans_scan_final_scores(internal)
	RETURNS @extschema@.rfm_cluster_score[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_kmeans_scan_final_scores(internal) IS 'fits every k of the range and scores it';

CREATE AGGREGATE @extschema@.rfm_kmeans_scan(features float8[], k_min int, k_max int, options text, feature_names text[]) (
	SFUNC = @extschema@.rfm_kmeans_scan_trans_names,
	STYPE = internal,
	FINALFUNC = @extschema@.rfm_kmeans_scan_final_scores,
	COMBINEFUNC = @extschema@.rfm_kmeans_combine,
	SERIALFUNC = @extschema@.rfm_kmeans_serial,
	DESERIALFUNC = @extschema@.rfm_kmeans_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_kmeans_scan(float8[], int, int, text, text[]) IS 'inertia, silhouette, Calinski-Harabasz and Davies-Bouldin for k_min..k_max, on prepared features';

-- A hierarchical model: the merge tree as scipy's linkage matrix (leaves
-- 0..leaves-1, merge i makes cluster leaves + i), its leaves in the fit
-- space and in the features' own units, and the preparation of the
-- features.  An exact tree has a leaf per customer; a two-step one a leaf
-- per micro-cluster, whose centers assign customers.
CREATE TYPE @extschema@.rfm_hclust_model AS (
	method text,
	two_step boolean,
	micro_clusters int,
	seed int,
	standardize boolean,
	n bigint,
	dims int,
	leaves int,
	merge_left int[],
	merge_right int[],
	merge_height float8[],
	merge_size bigint[],
	leaf_sizes bigint[],
	leaf_centroids float8[],
	leaf_means float8[],
	micro_centers float8[],
	micro_inertia float8,
	center float8[],
	scale float8[],
	feature_names text[],
	transforms text[],
	clip_low float8[],
	clip_high float8[],
	quantiles float8[],
	prep_mean float8[],
	prep_std float8[],
	population_mean float8[]
);
COMMENT ON TYPE @extschema@.rfm_hclust_model IS 'a hierarchical clustering model fitted by rfm_hclust';

-- The state holds every feature vector (8 bytes per customer and feature),
-- as rfm_kmeans's does; the final function builds the tree.
CREATE FUNCTION @extschema@.rfm_hclust_trans(internal, float8[])
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_hclust_trans(internal, float8[]) IS 'transition function of rfm_hclust(float8[])';

CREATE FUNCTION @extschema@.rfm_hclust_trans_options(internal, float8[], text)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_hclust_trans_options(internal, float8[], text) IS 'transition function of rfm_hclust(float8[], text)';

CREATE FUNCTION @extschema@.rfm_hclust_trans_names(internal, float8[], text, text[])
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_hclust_trans_names(internal, float8[], text, text[]) IS 'transition function of rfm_hclust(float8[], text, text[])';

CREATE FUNCTION @extschema@.rfm_hclust_combine(internal, internal)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_hclust_combine(internal, internal) IS 'merges two partial rfm_hclust states';

CREATE FUNCTION @extschema@.rfm_hclust_serial(internal)
	RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_hclust_serial(internal) IS 'serializes a partial rfm_hclust state';

CREATE FUNCTION @extschema@.rfm_hclust_deserial(bytea, internal)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_hclust_deserial(bytea, internal) IS 'deserializes a partial rfm_hclust state';

CREATE FUNCTION @extschema@.rfm_hclust_final(internal)
	RETURNS @extschema@.rfm_hclust_model
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_hclust_final(internal) IS 'builds the tree: exact, or two-step on micro-clusters';

CREATE AGGREGATE @extschema@.rfm_hclust(features float8[]) (
	SFUNC = @extschema@.rfm_hclust_trans,
	STYPE = internal,
	FINALFUNC = @extschema@.rfm_hclust_final,
	COMBINEFUNC = @extschema@.rfm_hclust_combine,
	SERIALFUNC = @extschema@.rfm_hclust_serial,
	DESERIALFUNC = @extschema@.rfm_hclust_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_hclust(float8[]) IS 'hierarchical clustering (Ward, z-scored; exact up to 20,000 customers, two-step above)';

CREATE AGGREGATE @extschema@.rfm_hclust(features float8[], options text) (
	SFUNC = @extschema@.rfm_hclust_trans_options,
	STYPE = internal,
	FINALFUNC = @extschema@.rfm_hclust_final,
	COMBINEFUNC = @extschema@.rfm_hclust_combine,
	SERIALFUNC = @extschema@.rfm_hclust_serial,
	DESERIALFUNC = @extschema@.rfm_hclust_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_hclust(float8[], text) IS 'hierarchical clustering with options ''method=ward two_step=auto micro_clusters=200 seed=0 standardize=true''';

CREATE AGGREGATE @extschema@.rfm_hclust(features float8[], options text, feature_names text[]) (
	SFUNC = @extschema@.rfm_hclust_trans_names,
	STYPE = internal,
	FINALFUNC = @extschema@.rfm_hclust_final,
	COMBINEFUNC = @extschema@.rfm_hclust_combine,
	SERIALFUNC = @extschema@.rfm_hclust_serial,
	DESERIALFUNC = @extschema@.rfm_hclust_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_hclust(float8[], text, text[]) IS 'hierarchical clustering on named features, each optionally prepared: ''name: clip=0.99 log1p'', rank, robust';

-- IMMUTABLE: these read the model only.
CREATE FUNCTION @extschema@.rfm_cluster(features float8[], model @extschema@.rfm_hclust_model, k int)
	RETURNS int
	AS 'MODULE_PATHNAME', 'rfm_cluster_hclust' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_cluster(float8[], @extschema@.rfm_hclust_model, int) IS 'cluster 1..k of a feature vector at the cut of k clusters';

CREATE FUNCTION @extschema@.rfm_hclust_tree(model @extschema@.rfm_hclust_model)
	RETURNS TABLE (step int, left_id int, right_id int, height float8, size bigint, clusters int)
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_hclust_tree(@extschema@.rfm_hclust_model) IS 'the merges of the tree, as scipy''s linkage matrix, for a dendrogram';

CREATE FUNCTION @extschema@.rfm_hclust_cut(model @extschema@.rfm_hclust_model, k int)
	RETURNS TABLE (cluster int, customers bigint, share float8, height float8, centroid float8[])
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_hclust_cut(@extschema@.rfm_hclust_model, int) IS 'the k clusters of the tree: customers, share, height formed at, centroid in the features'' units';

CREATE FUNCTION @extschema@.rfm_hclust_scan(model @extschema@.rfm_hclust_model, k_min int, k_max int)
	RETURNS SETOF @extschema@.rfm_cluster_score
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_hclust_scan(@extschema@.rfm_hclust_model, int, int) IS 'inertia, silhouette, Calinski-Harabasz and Davies-Bouldin of the cuts of k_min..k_max clusters';

-- Profiles a marketer reads.  Not STRICT: revenue_feature may be NULL (the
-- first feature named monetary, revenue or spend).  IMMUTABLE: they read
-- the model only.
CREATE FUNCTION @extschema@.rfm_cluster_profile(model @extschema@.rfm_kmeans_model, revenue_feature text DEFAULT NULL)
	RETURNS TABLE (cluster int, customers bigint, share float8, revenue_share float8, means float8[],
				   z float8[], distinctive text[], description text)
	AS 'MODULE_PATHNAME', 'rfm_cluster_profile_kmeans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_cluster_profile(@extschema@.rfm_kmeans_model, text) IS 'per cluster: customers, shares, feature means and z-scores, the 3 most distinctive features, a description';

CREATE FUNCTION @extschema@.rfm_cluster_profile(model @extschema@.rfm_hclust_model, k int, revenue_feature text DEFAULT NULL)
	RETURNS TABLE (cluster int, customers bigint, share float8, revenue_share float8, means float8[],
				   z float8[], distinctive text[], description text)
	AS 'MODULE_PATHNAME', 'rfm_cluster_profile_hclust' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_cluster_profile(@extschema@.rfm_hclust_model, int, text) IS 'per cluster of the cut of k: customers, shares, feature means and z-scores, the 3 most distinctive features, a description';

-- Wide profiles: shares of a customer's events (or of a weight) per key or
-- bucket, in one GROUP BY.  The state is a float8[] of sums, merged by
-- adding.  Not STRICT: NULL keys count in the total.
CREATE FUNCTION @extschema@.rfm_shares_trans_text(float8[], text, text[])
	RETURNS float8[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_shares_trans_text(float8[], text, text[]) IS 'transition function of rfm_shares(text, text[])';

CREATE FUNCTION @extschema@.rfm_shares_trans_text_weight(float8[], text, text[], float8)
	RETURNS float8[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_shares_trans_text_weight(float8[], text, text[], float8) IS 'transition function of rfm_shares(text, text[], float8)';

CREATE FUNCTION @extschema@.rfm_shares_trans_int(float8[], int, int)
	RETURNS float8[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_shares_trans_int(float8[], int, int) IS 'transition function of rfm_shares(int, int)';

CREATE FUNCTION @extschema@.rfm_shares_trans_int_weight(float8[], int, int, float8)
	RETURNS float8[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_shares_trans_int_weight(float8[], int, int, float8) IS 'transition function of rfm_shares(int, int, float8)';

-- STRICT: the executor then handles NULL partial states itself.
CREATE FUNCTION @extschema@.rfm_shares_combine(float8[], float8[])
	RETURNS float8[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_shares_combine(float8[], float8[]) IS 'merges two partial rfm_shares states';

CREATE FUNCTION @extschema@.rfm_shares_final(float8[])
	RETURNS float8[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_shares_final(float8[]) IS 'final function of rfm_shares: each sum over the total';

CREATE AGGREGATE @extschema@.rfm_shares(key text, keys text[]) (
	SFUNC = @extschema@.rfm_shares_trans_text,
	STYPE = float8[],
	FINALFUNC = @extschema@.rfm_shares_final,
	COMBINEFUNC = @extschema@.rfm_shares_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_shares(text, text[]) IS 'share of the rows with each of keys, in its order';

CREATE AGGREGATE @extschema@.rfm_shares(key text, keys text[], weight float8) (
	SFUNC = @extschema@.rfm_shares_trans_text_weight,
	STYPE = float8[],
	FINALFUNC = @extschema@.rfm_shares_final,
	COMBINEFUNC = @extschema@.rfm_shares_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_shares(text, text[], float8) IS 'share of the weight (such as revenue) of each of keys, in its order';

CREATE AGGREGATE @extschema@.rfm_shares(bucket int, buckets int) (
	SFUNC = @extschema@.rfm_shares_trans_int,
	STYPE = float8[],
	FINALFUNC = @extschema@.rfm_shares_final,
	COMBINEFUNC = @extschema@.rfm_shares_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_shares(int, int) IS 'share of the rows in each bucket 0..buckets-1 (hours, weekdays)';

CREATE AGGREGATE @extschema@.rfm_shares(bucket int, buckets int, weight float8) (
	SFUNC = @extschema@.rfm_shares_trans_int_weight,
	STYPE = float8[],
	FINALFUNC = @extschema@.rfm_shares_final,
	COMBINEFUNC = @extschema@.rfm_shares_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_shares(int, int, float8) IS 'share of the weight in each bucket 0..buckets-1';
