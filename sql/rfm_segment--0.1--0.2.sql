/* rfm_segment--0.1--0.2.sql: model functions no longer resolve names through the caller's search_path */

\echo Use "ALTER EXTENSION rfm_segment UPDATE TO '0.2'" to load this file. \quit

-- In 0.1 the four model functions were PL/pgSQL without SET search_path,
-- so that they could see the caller's current schema.  Their bodies and
-- the SQL they EXECUTE were therefore parsed under the caller's
-- search_path, and a function such as public.cardinality(text[]) or
-- public.format(text, text, name, text), created by any role that may
-- create objects in a schema on that path, was a better match than the
-- pg_catalog function and ran with the caller's rights: a superuser's
-- scheduled rfm_refresh could be made to run another role's code.
--
-- From 0.2 the work is done by PL/pgSQL functions that pin search_path to
-- pg_catalog, pg_temp and take the target schema as an argument.  The
-- public functions keep their signatures and become SQL functions with
-- bodies parsed once, here; they only read the caller's current_schema()
-- and pass it on.

-- ---------------------------------------------------------------------------
-- 6. Models: the workers, with a pinned search_path
-- ---------------------------------------------------------------------------

-- Create a model's materialized views in schema target, with the caller's
-- rights, in one transaction.  rfm_create_model passes the caller's
-- current schema.
CREATE FUNCTION @extschema@.rfm_model_create(target name, name text, source regclass, customer_column name,
											 time_column name, amount_column name, weight_column name,
											 as_of timestamptz, last_period interval, bins int, method text,
											 rule_set text, grain text, tz text, clusters int)
	RETURNS text[]
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	key_type text;
	time_type regtype;
	as_of_sql text;
	cohort_sql text;
	views text[] := @extschema@.rfm_model_views(name);
BEGIN
	IF name IS NULL OR source IS NULL OR customer_column IS NULL OR time_column IS NULL THEN
		RAISE EXCEPTION 'name, source, customer_column and time_column must not be NULL'
			USING ERRCODE = '22004';
	END IF;
	IF name !~ '^[a-z_][a-z0-9_]*$' OR length(name) > 40 THEN
		RAISE EXCEPTION 'model name "%" is not a lower-case identifier of at most 40 characters', name
			USING ERRCODE = '22023', HINT = 'Use letters, digits and underscores, such as ''shop_rfm''.';
	END IF;
	IF clusters IS NOT NULL AND (clusters < 2 OR clusters > 20) THEN
		RAISE EXCEPTION 'clusters must be between 2 and 20, not %', clusters
			USING ERRCODE = '22023', HINT = 'Four to eight clusters are usual; leave it NULL for no k-means view.';
	END IF;
	IF target IS NULL THEN
		RAISE EXCEPTION 'no schema to create the model in'
			USING ERRCODE = '3F000', HINT = 'Set search_path to the schema for the model''s views.';
	END IF;
	IF EXISTS (SELECT 1 FROM @extschema@.rfm_model m WHERE m.schema_name = target AND m.name = rfm_model_create.name) THEN
		RAISE EXCEPTION 'model "%" already exists in schema "%"', name, target
			USING ERRCODE = '42710', HINT = 'Drop it with rfm_drop_model, or choose another name.';
	END IF;
	-- under the pinned search_path, format_type and regclass output qualify
	-- every name outside pg_catalog, so the generated SQL is unambiguous
	SELECT format_type(a.atttypid, a.atttypmod) INTO key_type
	FROM pg_attribute a WHERE a.attrelid = source AND a.attname = customer_column AND a.attnum > 0 AND NOT a.attisdropped;
	IF key_type IS NULL THEN
		RAISE EXCEPTION 'customer_column "%" is not a column of %', customer_column, source
			USING ERRCODE = '42703', HINT = 'Pass the name of a column of the source table.';
	END IF;
	SELECT a.atttypid::regtype INTO time_type
	FROM pg_attribute a WHERE a.attrelid = source AND a.attname = time_column AND a.attnum > 0 AND NOT a.attisdropped;

	-- as_of NULL: now(), evaluated at each refresh and kept in the views
	as_of_sql := CASE WHEN as_of IS NULL THEN 'pg_catalog.now()'
					  ELSE format('%L::timestamptz', to_char(as_of AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00') END;
	-- a date source's first event is a midnight in the session TimeZone
	cohort_sql := CASE WHEN time_type = 'date'::regtype
					   THEN format('@extschema@.rfm_cohort((m.first_event AT TIME ZONE pg_catalog.current_setting(''TimeZone''))::date, %L)', grain)
					   ELSE format('@extschema@.rfm_cohort(m.first_event, %L, %L)', grain, tz) END;

	EXECUTE format(
		'CREATE MATERIALIZED VIEW %I.%I AS '
		'SELECT a.customer_key::%s AS %I, %s AS as_of, a.first_event, a.last_event, a.recency_days, '
		'a.tenure_days, a.frequency, a.weighted_frequency, a.frequency_last_period, '
		'a.weighted_frequency_last_period, a.monetary, a.avg_amount, a.ignored_after_as_of, '
		'a.r, a.f, a.m, a.segment '
		'FROM @extschema@.rfm_analyze(%L::regclass, %L, %L, %L, %L, %s, %L::interval, %s, %L, %L) a '
		'WHERE a.customer_key IS NOT NULL',
		target, views[1], key_type, customer_column, as_of_sql, source::oid::regclass::text, customer_column,
		time_column, amount_column, weight_column, as_of_sql, last_period, bins, method, rule_set);
	EXECUTE format('CREATE UNIQUE INDEX ON %I.%I (%I)', target, views[1], customer_column);

	EXECUTE format('CREATE MATERIALIZED VIEW %I.%I AS SELECT m.%I, m.as_of, m.r, m.f, m.m, m.segment FROM %I.%I m',
				   target, views[2], customer_column, target, views[1]);
	EXECUTE format('CREATE UNIQUE INDEX ON %I.%I (%I)', target, views[2], customer_column);

	EXECUTE format(
		'CREATE MATERIALIZED VIEW %I.%I AS '
		'SELECT coalesce(m.segment, ''(none)'') AS segment, count(*) AS customers, sum(m.monetary) AS revenue, '
		'avg(m.recency_days) AS avg_recency_days, avg(m.frequency) AS avg_frequency, '
		'avg(m.monetary) AS avg_monetary, max(m.as_of) AS as_of FROM %I.%I m GROUP BY 1',
		target, views[3], target, views[1]);
	EXECUTE format('CREATE UNIQUE INDEX ON %I.%I (segment)', target, views[3]);

	EXECUTE format(
		'CREATE MATERIALIZED VIEW %I.%I AS '
		'SELECT %s AS cohort, coalesce(m.segment, ''(none)'') AS segment, count(*) AS customers, '
		'sum(m.monetary) AS revenue, max(m.as_of) AS as_of FROM %I.%I m GROUP BY 1, 2',
		target, views[4], cohort_sql, target, views[1]);
	EXECUTE format('CREATE UNIQUE INDEX ON %I.%I (cohort, segment)', target, views[4]);

	EXECUTE format(
		'CREATE MATERIALIZED VIEW %I.%I AS '
		'SELECT r.cohort, r.period_offset, r.cohort_size, r.active, r.rate, %s AS as_of '
		'FROM @extschema@.rfm_retention(%L::regclass, %L, %L, %L, %L, %s) r',
		target, views[5], as_of_sql, source::oid::regclass::text, customer_column, time_column,
		grain, tz, as_of_sql);
	EXECUTE format('CREATE UNIQUE INDEX ON %I.%I (cohort, period_offset)', target, views[5]);

	-- smart segments: k-means on recency, frequency and monetary, refitted
	-- (seed 0) at every refresh
	IF clusters IS NOT NULL THEN
		EXECUTE format(
			'CREATE MATERIALIZED VIEW %I.%I AS '
			'WITH fit AS (SELECT @extschema@.rfm_kmeans(ARRAY[m.recency_days, m.frequency, coalesce(m.monetary, 0)]::float8[], %s) AS model '
			'FROM %I.%I m) '
			'SELECT m.%I, @extschema@.rfm_cluster(ARRAY[m.recency_days, m.frequency, coalesce(m.monetary, 0)]::float8[], fit.model) AS cluster, '
			'm.segment, m.as_of FROM %I.%I m, fit',
			target, views[6], clusters, target, views[1], customer_column, target, views[1]);
		EXECUTE format('CREATE UNIQUE INDEX ON %I.%I (%I)', target, views[6], customer_column);
	ELSE
		views := views[1:5];
	END IF;

	INSERT INTO @extschema@.rfm_model (schema_name, name, source, customer_column, time_column,
									   amount_column, weight_column, as_of, last_period, bins, method,
									   rule_set, grain, tz, clusters)
	VALUES (target, name, source, customer_column, time_column, amount_column, weight_column,
			as_of, last_period, bins, method, rule_set, grain, tz, clusters);
	RETURN views;
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_model_create(name, text, regclass, name, name, name, name, timestamptz, interval, int, text, text, text, text, int) IS 'rfm_create_model''s worker: creates a model''s views in schema target';

-- The caller's model called name ('name' in current_schema, or
-- 'schema.name').  Not STRICT: a NULL current_schema finds nothing.
CREATE FUNCTION @extschema@.rfm_model_lookup(name text, current_schema name)
	RETURNS @extschema@.rfm_model
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	parts text[] := parse_ident(name);
	model @extschema@.rfm_model;
BEGIN
	SELECT m.* INTO model FROM @extschema@.rfm_model m
	WHERE m.name = parts[cardinality(parts)]
	  AND m.schema_name = CASE WHEN cardinality(parts) > 1 THEN parts[1] ELSE rfm_model_lookup.current_schema END;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" does not exist', name
			USING ERRCODE = '42704', HINT = 'See SELECT schema_name, name FROM rfm_model; create one with rfm_create_model.';
	END IF;
	RETURN model;
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_model_lookup(text, name) IS 'rfm_find_model''s worker: the caller''s model, with the schema to look in given';

-- Refresh every view of a model in order, in one transaction, so the views
-- agree with each other.  CONCURRENTLY keeps them readable meanwhile.
CREATE FUNCTION @extschema@.rfm_model_refresh(model @extschema@.rfm_model, concurrently boolean)
	RETURNS void
	LANGUAGE plpgsql VOLATILE STRICT
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v text;
BEGIN
	FOREACH v IN ARRAY @extschema@.rfm_model_views(model.name) LOOP
		CONTINUE WHEN v LIKE '%\_clusters' AND model.clusters IS NULL;
		EXECUTE format('REFRESH MATERIALIZED VIEW %s %I.%I',
					   CASE WHEN rfm_model_refresh.concurrently THEN 'CONCURRENTLY' ELSE '' END, model.schema_name, v);
	END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_model_refresh(@extschema@.rfm_model, boolean) IS 'rfm_refresh''s worker: refreshes a found model''s views in order';

CREATE FUNCTION @extschema@.rfm_model_drop(model @extschema@.rfm_model)
	RETURNS void
	LANGUAGE plpgsql VOLATILE STRICT
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	views text[] := @extschema@.rfm_model_views(model.name);
BEGIN
	FOR i IN REVERSE cardinality(views) .. 1 LOOP
		CONTINUE WHEN views[i] LIKE '%\_clusters' AND model.clusters IS NULL;
		EXECUTE format('DROP MATERIALIZED VIEW IF EXISTS %I.%I', model.schema_name, views[i]);
	END LOOP;
	DELETE FROM @extschema@.rfm_model m WHERE m.schema_name = model.schema_name AND m.name = model.name;
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_model_drop(@extschema@.rfm_model) IS 'rfm_drop_model''s worker: drops a found model''s views and its record';

-- ---------------------------------------------------------------------------
-- 6. Models: the API, same signatures, bodies bound here
-- ---------------------------------------------------------------------------

-- current_schema() is read in the caller's search_path: models live there.
CREATE OR REPLACE FUNCTION @extschema@.rfm_create_model(name text, source regclass, customer_column name, time_column name,
														amount_column name DEFAULT NULL, weight_column name DEFAULT NULL,
														as_of timestamptz DEFAULT NULL, last_period interval DEFAULT '30 days',
														bins int DEFAULT 5, method text DEFAULT 'quantile',
														rule_set text DEFAULT NULL, grain text DEFAULT 'month',
														tz text DEFAULT 'UTC', clusters int DEFAULT NULL)
	RETURNS text[]
	LANGUAGE sql VOLATILE
RETURN @extschema@.rfm_model_create(pg_catalog.current_schema(), name, source, customer_column, time_column,
									amount_column, weight_column, as_of, last_period, bins, method,
									rule_set, grain, tz, clusters);

CREATE OR REPLACE FUNCTION @extschema@.rfm_find_model(name text)
	RETURNS @extschema@.rfm_model
	LANGUAGE sql STABLE STRICT
RETURN @extschema@.rfm_model_lookup(name, pg_catalog.current_schema());

CREATE OR REPLACE FUNCTION @extschema@.rfm_refresh(name text, concurrently boolean DEFAULT false)
	RETURNS void
	LANGUAGE sql VOLATILE STRICT
BEGIN ATOMIC
	SELECT @extschema@.rfm_model_refresh(@extschema@.rfm_model_lookup(name, pg_catalog.current_schema()), rfm_refresh.concurrently);
END;

CREATE OR REPLACE FUNCTION @extschema@.rfm_drop_model(name text)
	RETURNS void
	LANGUAGE sql VOLATILE STRICT
BEGIN ATOMIC
	SELECT @extschema@.rfm_model_drop(@extschema@.rfm_model_lookup(name, pg_catalog.current_schema()));
END;
