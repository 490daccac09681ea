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
-- 7. Customer lifetime value
-- ---------------------------------------------------------------------------

-- The buy-till-you-die models (BG/NBD, Pareto/NBD) and Gamma-Gamma spend,
-- fitted by aggregates and scored by IMMUTABLE functions of a stored model.

-- The models' sufficient statistics per customer, in one scan of the
-- events: a purchase is a distinct day; x repeat purchases, the last t_x
-- after the first, observed for t_cal, in unit; then the holdout's.
-- STABLE: it reads the source; PARALLEL RESTRICTED: it runs its own query.
CREATE FUNCTION @extschema@.rfm_clv_summary(source regclass, customer_column name, time_column name,
											amount_column name DEFAULT NULL, calibration_end date DEFAULT NULL,
											holdout_end date DEFAULT NULL, unit text DEFAULT 'week',
											tz text DEFAULT 'UTC')
	RETURNS TABLE (customer_key text, x int, t_x float8, t_cal float8, mean_spend numeric,
				   x_holdout int, spend_holdout numeric)
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10000;
COMMENT ON FUNCTION @extschema@.rfm_clv_summary(regclass, name, name, name, date, date, text, text) IS 'per customer: repeat purchases x, t_x, t_cal, mean spend, and the holdout''s purchases and spend';

-- Fitted models: values to store, all the scoring functions need, and what
-- the fit says of itself: log-likelihood, customers, iterations of the
-- winning start, convergence, the largest gradient component of the mean
-- log-likelihood in log-parameters, the tolerance it was held to, starts.
CREATE TYPE @extschema@.rfm_bgnbd_model AS (
	r float8,
	alpha float8,
	a float8,
	b float8,
	ll float8,
	n bigint,
	iterations int,
	converged boolean,
	gradient float8,
	tol float8,
	starts int
);
COMMENT ON TYPE @extschema@.rfm_bgnbd_model IS 'a BG/NBD model fitted by rfm_bgnbd_fit';

CREATE TYPE @extschema@.rfm_pnbd_model AS (
	r float8,
	alpha float8,
	s float8,
	beta float8,
	ll float8,
	n bigint,
	iterations int,
	converged boolean,
	gradient float8,
	tol float8,
	starts int
);
COMMENT ON TYPE @extschema@.rfm_pnbd_model IS 'a Pareto/NBD model fitted by rfm_pnbd_fit';

CREATE TYPE @extschema@.rfm_gg_model AS (
	p float8,
	q float8,
	v float8,
	ll float8,
	n bigint,
	n_skipped bigint,
	iterations int,
	converged boolean,
	gradient float8,
	tol float8,
	starts int
);
COMMENT ON TYPE @extschema@.rfm_gg_model IS 'a Gamma-Gamma spend model fitted by rfm_gg_fit';

-- The fits keep the distinct (x, t_x, t_cal) rows, or (x, mean spend), with
-- their counts (BTYD's compressed CBS) in an "internal" state, serialized
-- to cross processes.  The transition functions are not STRICT: a NULL is
-- an error they report (or, for a mean spend, a customer skipped).
CREATE FUNCTION @extschema@.rfm_clv_fit_trans(internal, int, float8, float8)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_clv_fit_trans(internal, int, float8, float8) IS 'transition function of rfm_bgnbd_fit and rfm_pnbd_fit';

CREATE FUNCTION @extschema@.rfm_clv_fit_trans_options(internal, int, float8, float8, text)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_clv_fit_trans_options(internal, int, float8, float8, text) IS 'transition function of rfm_bgnbd_fit and rfm_pnbd_fit with options';

CREATE FUNCTION @extschema@.rfm_gg_fit_trans(internal, int, numeric)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_gg_fit_trans(internal, int, numeric) IS 'transition function of rfm_gg_fit';

CREATE FUNCTION @extschema@.rfm_gg_fit_trans_options(internal, int, numeric, text)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_gg_fit_trans_options(internal, int, numeric, text) IS 'transition function of rfm_gg_fit with options';

CREATE FUNCTION @extschema@.rfm_clv_fit_combine(internal, internal)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_clv_fit_combine(internal, internal) IS 'merges two partial states of the CLV fits';

CREATE FUNCTION @extschema@.rfm_clv_fit_serial(internal)
	RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_clv_fit_serial(internal) IS 'serializes a partial state of the CLV fits';

CREATE FUNCTION @extschema@.rfm_clv_fit_deserial(bytea, internal)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_clv_fit_deserial(bytea, internal) IS 'deserializes a partial state of the CLV fits';

-- The final functions fit by maximum likelihood; a fit that does not
-- converge says so in the model and with a WARNING.
CREATE FUNCTION @extschema@.rfm_bgnbd_fit_final(internal)
	RETURNS @extschema@.rfm_bgnbd_model
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_bgnbd_fit_final(internal) IS 'fits the BG/NBD model';

CREATE FUNCTION @extschema@.rfm_pnbd_fit_final(internal)
	RETURNS @extschema@.rfm_pnbd_model
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_pnbd_fit_final(internal) IS 'fits the Pareto/NBD model';

CREATE FUNCTION @extschema@.rfm_gg_fit_final(internal)
	RETURNS @extschema@.rfm_gg_model
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_gg_fit_final(internal) IS 'fits the Gamma-Gamma model';

CREATE AGGREGATE @extschema@.rfm_bgnbd_fit(x int, t_x float8, t_cal float8) (
	SFUNC = @extschema@.rfm_clv_fit_trans,
	STYPE = internal,
	FINALFUNC = @extschema@.rfm_bgnbd_fit_final,
	COMBINEFUNC = @extschema@.rfm_clv_fit_combine,
	SERIALFUNC = @extschema@.rfm_clv_fit_serial,
	DESERIALFUNC = @extschema@.rfm_clv_fit_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_bgnbd_fit(int, float8, float8) IS 'BG/NBD model of customers (x, t_x, t_cal), by maximum likelihood';

CREATE AGGREGATE @extschema@.rfm_bgnbd_fit(x int, t_x float8, t_cal float8, options text) (
	SFUNC = @extschema@.rfm_clv_fit_trans_options,
	STYPE = internal,
	FINALFUNC = @extschema@.rfm_bgnbd_fit_final,
	COMBINEFUNC = @extschema@.rfm_clv_fit_combine,
	SERIALFUNC = @extschema@.rfm_clv_fit_serial,
	DESERIALFUNC = @extschema@.rfm_clv_fit_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_bgnbd_fit(int, float8, float8, text) IS 'BG/NBD model with options ''starts=3 max_iter=200 tol=1e-8''';

CREATE AGGREGATE @extschema@.rfm_pnbd_fit(x int, t_x float8, t_cal float8) (
	SFUNC = @extschema@.rfm_clv_fit_trans,
	STYPE = internal,
	FINALFUNC = @extschema@.rfm_pnbd_fit_final,
	COMBINEFUNC = @extschema@.rfm_clv_fit_combine,
	SERIALFUNC = @extschema@.rfm_clv_fit_serial,
	DESERIALFUNC = @extschema@.rfm_clv_fit_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_pnbd_fit(int, float8, float8) IS 'Pareto/NBD model of customers (x, t_x, t_cal), by maximum likelihood';

CREATE AGGREGATE @extschema@.rfm_pnbd_fit(x int, t_x float8, t_cal float8, options text) (
	SFUNC = @extschema@.rfm_clv_fit_trans_options,
	STYPE = internal,
	FINALFUNC = @extschema@.rfm_pnbd_fit_final,
	COMBINEFUNC = @extschema@.rfm_clv_fit_combine,
	SERIALFUNC = @extschema@.rfm_clv_fit_serial,
	DESERIALFUNC = @extschema@.rfm_clv_fit_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_pnbd_fit(int, float8, float8, text) IS 'Pareto/NBD model with options ''starts=3 max_iter=200 tol=1e-8''';

CREATE AGGREGATE @extschema@.rfm_gg_fit(x int, mean_spend numeric) (
	SFUNC = @extschema@.rfm_gg_fit_trans,
	STYPE = internal,
	FINALFUNC = @extschema@.rfm_gg_fit_final,
	COMBINEFUNC = @extschema@.rfm_clv_fit_combine,
	SERIALFUNC = @extschema@.rfm_clv_fit_serial,
	DESERIALFUNC = @extschema@.rfm_clv_fit_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_gg_fit(int, numeric) IS 'Gamma-Gamma spend model of repeat customers (x, mean spend), by maximum likelihood';

CREATE AGGREGATE @extschema@.rfm_gg_fit(x int, mean_spend numeric, options text) (
	SFUNC = @extschema@.rfm_gg_fit_trans_options,
	STYPE = internal,
	FINALFUNC = @extschema@.rfm_gg_fit_final,
	COMBINEFUNC = @extschema@.rfm_clv_fit_combine,
	SERIALFUNC = @extschema@.rfm_clv_fit_serial,
	DESERIALFUNC = @extschema@.rfm_clv_fit_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_gg_fit(int, numeric, text) IS 'Gamma-Gamma model with options ''starts=3 max_iter=200 tol=1e-8''';

-- Scoring.  IMMUTABLE: a score depends on the model and the customer's
-- summary alone, so it can fill a generated column next to a stored model.
-- STRICT where every argument is needed.
CREATE FUNCTION @extschema@.rfm_p_alive(model @extschema@.rfm_bgnbd_model, x int, t_x float8, t_cal float8)
	RETURNS float8
	AS 'MODULE_PATHNAME', 'rfm_p_alive_bgnbd' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_p_alive(@extschema@.rfm_bgnbd_model, int, float8, float8) IS 'probability that a customer is still alive at t_cal, under BG/NBD';

CREATE FUNCTION @extschema@.rfm_p_alive(model @extschema@.rfm_pnbd_model, x int, t_x float8, t_cal float8)
	RETURNS float8
	AS 'MODULE_PATHNAME', 'rfm_p_alive_pnbd' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_p_alive(@extschema@.rfm_pnbd_model, int, float8, float8) IS 'probability that a customer is still alive at t_cal, under Pareto/NBD';

CREATE FUNCTION @extschema@.rfm_expected_purchases(model @extschema@.rfm_bgnbd_model, t float8, x int,
												   t_x float8, t_cal float8)
	RETURNS float8
	AS 'MODULE_PATHNAME', 'rfm_expected_purchases_bgnbd' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_expected_purchases(@extschema@.rfm_bgnbd_model, float8, int, float8, float8) IS 'expected purchases in the next t after t_cal given the customer''s history, under BG/NBD';

CREATE FUNCTION @extschema@.rfm_expected_purchases(model @extschema@.rfm_pnbd_model, t float8, x int,
												   t_x float8, t_cal float8)
	RETURNS float8
	AS 'MODULE_PATHNAME', 'rfm_expected_purchases_pnbd' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_expected_purchases(@extschema@.rfm_pnbd_model, float8, int, float8, float8) IS 'expected purchases in the next t after t_cal given the customer''s history, under Pareto/NBD';

CREATE FUNCTION @extschema@.rfm_expected_purchases_new(model @extschema@.rfm_bgnbd_model, t float8)
	RETURNS float8
	AS 'MODULE_PATHNAME', 'rfm_expected_purchases_new_bgnbd' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_expected_purchases_new(@extschema@.rfm_bgnbd_model, float8) IS 'expected repeat purchases in its first t of a new customer, under BG/NBD';

CREATE FUNCTION @extschema@.rfm_expected_purchases_new(model @extschema@.rfm_pnbd_model, t float8)
	RETURNS float8
	AS 'MODULE_PATHNAME', 'rfm_expected_purchases_new_pnbd' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_expected_purchases_new(@extschema@.rfm_pnbd_model, float8) IS 'expected repeat purchases in its first t of a new customer, under Pareto/NBD';

-- Not STRICT: a NULL mean_spend (no repeat purchase) means the population's
-- mean spend.
CREATE FUNCTION @extschema@.rfm_expected_spend(gg_model @extschema@.rfm_gg_model, x int, mean_spend numeric)
	RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_expected_spend(@extschema@.rfm_gg_model, int, numeric) IS 'expected spend per purchase of a customer, under Gamma-Gamma';

CREATE FUNCTION @extschema@.rfm_clv(transaction_model @extschema@.rfm_bgnbd_model, gg_model @extschema@.rfm_gg_model,
									x int, t_x float8, t_cal float8, mean_spend numeric, horizon float8,
									discount_rate float8 DEFAULT 0, margin float8 DEFAULT 1)
	RETURNS float8
	AS 'MODULE_PATHNAME', 'rfm_clv_bgnbd' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_clv(@extschema@.rfm_bgnbd_model, @extschema@.rfm_gg_model, int, float8, float8, numeric, float8, float8, float8) IS 'margin x expected spend x discounted expected purchases over the horizon, under BG/NBD and Gamma-Gamma';

CREATE FUNCTION @extschema@.rfm_clv(transaction_model @extschema@.rfm_pnbd_model, gg_model @extschema@.rfm_gg_model,
									x int, t_x float8, t_cal float8, mean_spend numeric, horizon float8,
									discount_rate float8 DEFAULT 0, margin float8 DEFAULT 1)
	RETURNS float8
	AS 'MODULE_PATHNAME', 'rfm_clv_pnbd' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_clv(@extschema@.rfm_pnbd_model, @extschema@.rfm_gg_model, int, float8, float8, numeric, float8, float8, float8) IS 'margin x expected spend x discounted expected purchases over the horizon, under Pareto/NBD and Gamma-Gamma';

-- Validation against the holdout period, read from a stored summary.
-- STABLE: it reads the summary; PARALLEL RESTRICTED: it runs its own query.
CREATE FUNCTION @extschema@.rfm_clv_holdout(model @extschema@.rfm_bgnbd_model, summary regclass, horizon float8,
											x_cap int DEFAULT 7)
	RETURNS TABLE (x int, label text, customers bigint, actual float8, predicted float8,
				   actual_total bigint, predicted_total float8, mean_abs_error float8)
	AS 'MODULE_PATHNAME', 'rfm_clv_holdout_bgnbd' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10;
COMMENT ON FUNCTION @extschema@.rfm_clv_holdout(@extschema@.rfm_bgnbd_model, regclass, float8, int) IS 'by calibration frequency: actual and predicted mean holdout purchases, totals and mean absolute error, under BG/NBD';

CREATE FUNCTION @extschema@.rfm_clv_holdout(model @extschema@.rfm_pnbd_model, summary regclass, horizon float8,
											x_cap int DEFAULT 7)
	RETURNS TABLE (x int, label text, customers bigint, actual float8, predicted float8,
				   actual_total bigint, predicted_total float8, mean_abs_error float8)
	AS 'MODULE_PATHNAME', 'rfm_clv_holdout_pnbd' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10;
COMMENT ON FUNCTION @extschema@.rfm_clv_holdout(@extschema@.rfm_pnbd_model, regclass, float8, int) IS 'by calibration frequency: actual and predicted mean holdout purchases, totals and mean absolute error, under Pareto/NBD';
