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
