-- The data of a model's report, as one JSON document on standard output.
-- Run by scripts/report: psql -v model=NAME [-v from=TIMESTAMPTZ] -At -f report.sql
-- Every number comes from the model's views, except the migration matrix,
-- which rfm_transitions computes from the source between two dates.
\set ON_ERROR_STOP on
\set QUIET on
SET client_min_messages = error;	-- the page itself says when a fit did not converge

-- the model and the names of its views
SELECT m.schema_name AS schema, m.name AS name,
	m.name || '_metrics' AS metrics, m.name || '_segment_summary' AS summary,
	m.name || '_retention' AS retention, m.name || '_clusters' AS clusters,
	to_regclass(format('%I.%I', m.schema_name, m.name || '_clusters')) IS NOT NULL AS has_clusters,
	m.name || '_cluster_profiles' AS profiles,
	to_regclass(format('%I.%I', m.schema_name, m.name || '_cluster_profiles')) IS NOT NULL AS has_profiles,
	m.name || '_clv' AS clv, m.name || '_segments' AS segments,
	to_regclass(format('%I.%I', m.schema_name, m.name || '_clv')) IS NOT NULL AS has_clv,
	-- the holdout check fits the model's own transaction model
	CASE m.clv_model WHEN 'bgnbd' THEN 'rfm_bgnbd_fit' ELSE 'rfm_pnbd_fit' END AS clv_fit,
	to_jsonb(m) AS model_json
FROM rfm_find_model(:'model') m \gset

SELECT max(as_of) AS as_of, count(*) AS customers, count(*) > 0 AS has_data FROM :"schema".:"metrics" \gset

-- segments, with a totals row computed the same way
SELECT coalesce(jsonb_agg(to_jsonb(s) - 'money' ORDER BY s.money DESC NULLS LAST, s.segment), '[]') AS summary_json
FROM (SELECT segment, customers, customers_pct, revenue::text AS revenue, revenue_pct, avg_recency_days,
			 avg_frequency, avg_monetary::text AS avg_monetary, description, action, revenue AS money
	  FROM :"schema".:"summary") s \gset
-- money as text: JSON numbers would lose its scale (94257.60 is not 94257.6)
SELECT jsonb_build_object('customers', sum(customers), 'revenue', sum(revenue)::text) AS totals_json
FROM :"schema".:"summary" \gset

-- the R x F score heat map: customers and mean monetary per cell, as R's
-- rfm_heatmap draws it
SELECT coalesce(jsonb_agg(jsonb_build_object('r', r, 'f', f, 'customers', n, 'avg_monetary', avg_m)
						  ORDER BY r, f), '[]') AS heatmap_json
FROM (SELECT r, f, count(*) AS n, round(avg(monetary), 2) AS avg_m
	  FROM :"schema".:"metrics" WHERE r IS NOT NULL AND f IS NOT NULL GROUP BY r, f) h \gset

-- distributions: recency in 20 equal bins; frequency by value, the top 1%
-- in one bar; monetary in 20 bins between the 1st and 99th percentiles,
-- with the tails in the first and last bars
WITH b AS (SELECT max(recency_days) AS hi FROM :"schema".:"metrics"),
	 h AS (SELECT least(width_bucket(m.recency_days, 0, b.hi + 1e-9, 20), 20) AS bin, count(*) AS n
		   FROM :"schema".:"metrics" m, b WHERE m.recency_days IS NOT NULL GROUP BY 1)
SELECT coalesce(jsonb_agg(jsonb_build_object('from', round(((bin - 1) * b.hi / 20)::numeric, 1),
											 'to', round((bin * b.hi / 20)::numeric, 1), 'customers', n)
						  ORDER BY bin), '[]') AS recency_json
FROM h, b \gset
WITH cap AS (SELECT greatest(percentile_disc(0.99) WITHIN GROUP (ORDER BY frequency), 1) AS c
			 FROM :"schema".:"metrics" WHERE frequency > 0)
SELECT coalesce(jsonb_agg(jsonb_build_object('frequency', CASE WHEN f >= cap.c THEN cap.c || '+' ELSE f::text END,
											 'order', least(f, cap.c), 'customers', n) ORDER BY f), '[]') AS frequency_json
FROM (SELECT least(frequency, (SELECT c FROM cap)) AS f, count(*) AS n
	  FROM :"schema".:"metrics" WHERE frequency > 0 GROUP BY 1) x, cap \gset
WITH q AS (SELECT percentile_cont(0.01) WITHIN GROUP (ORDER BY monetary) AS lo,
				  percentile_cont(0.99) WITHIN GROUP (ORDER BY monetary) AS hi
		   FROM :"schema".:"metrics" WHERE monetary IS NOT NULL),
	 h AS (SELECT CASE WHEN q.hi > q.lo THEN greatest(least(width_bucket(m.monetary, q.lo, q.hi, 20), 20), 1) ELSE 1 END AS bin,
				  count(*) AS n
		   FROM :"schema".:"metrics" m, q WHERE m.monetary IS NOT NULL GROUP BY 1)
SELECT coalesce(jsonb_agg(jsonb_build_object('from', round((q.lo + (bin - 1) * (q.hi - q.lo) / 20)::numeric, 2),
											 'to', round((q.lo + bin * (q.hi - q.lo) / 20)::numeric, 2), 'customers', n)
						  ORDER BY bin), '[]') AS monetary_json
FROM h, q \gset

-- the retention triangle
SELECT coalesce(jsonb_agg(jsonb_build_object('cohort', cohort, 'cohort_start', cohort_start,
											 'period_offset', period_offset, 'cohort_size', cohort_size,
											 'active', active, 'rate', rate)
						  ORDER BY cohort_start, period_offset), '[]') AS retention_json
FROM :"schema".:"retention" \gset

-- segment migration: from one grain before as_of (or :from) to as_of
\set migration_json '[]'
\set from_as_of ''
\if :has_data
SELECT coalesce(nullif(:'from', '')::timestamptz,
				:'as_of'::timestamptz - CASE m.grain WHEN 'day' THEN interval '1 day' WHEN 'week' THEN interval '7 days'
											 WHEN 'quarter' THEN interval '3 months' WHEN 'year' THEN interval '1 year'
											 ELSE interval '1 month' END) AS from_as_of
FROM rfm_find_model(:'model') m \gset
SELECT coalesce(jsonb_agg(jsonb_build_object('from_segment', coalesce(t.from_segment, '(new)'),
											 'to_segment', coalesce(t.to_segment, '(no score)'),
											 'customers', t.customers, 'revenue_between', t.revenue_between)
						  ORDER BY t.from_segment NULLS FIRST, t.to_segment), '[]') AS migration_json
FROM rfm_find_model(:'model') m,
	LATERAL rfm_transitions(m.source, m.customer_column, m.time_column, m.amount_column, m.weight_column,
							:'from_as_of'::timestamptz, :'as_of'::timestamptz, m.last_period, m.bins, m.method,
							m.rule_set, m.refunds) t \gset
\endif

-- k-means clusters: size, share, revenue share, centroid in the features'
-- units and as z-scores against the customers clustered, the dominant
-- segment
SELECT m.customer_column AS key FROM rfm_find_model(:'model') m \gset
\set clusters_json '[]'
\if :has_clusters
WITH c AS (SELECT k.cluster, m.recency_days AS recency, m.frequency::float8 AS frequency,
				  coalesce(m.monetary, 0)::float8 AS monetary, m.segment
		   FROM :"schema".:"clusters" k JOIN :"schema".:"metrics" m USING (:"key")),
	 pop AS (SELECT avg(recency) AS r, nullif(stddev_pop(recency), 0) AS rs, avg(frequency) AS f,
					nullif(stddev_pop(frequency), 0) AS fs, avg(monetary) AS m, nullif(stddev_pop(monetary), 0) AS ms,
					sum(monetary) AS revenue, count(*) AS n
			 FROM c),
	 k AS (SELECT cluster, count(*) AS customers, avg(recency) AS recency, avg(frequency) AS frequency,
				  avg(monetary) AS monetary, sum(monetary) AS revenue,
				  mode() WITHIN GROUP (ORDER BY segment) AS dominant_segment
		   FROM c GROUP BY cluster)
SELECT coalesce(jsonb_agg(jsonb_build_object(
		'cluster', k.cluster, 'customers', k.customers,
		'share_pct', round(100.0 * k.customers / pop.n, 1),
		'revenue_share_pct', round((100 * k.revenue / nullif(pop.revenue, 0))::numeric, 1),
		'recency_days', round(k.recency::numeric, 1), 'frequency', round(k.frequency::numeric, 1),
		'monetary', round(k.monetary::numeric, 2),
		'z_recency', round(((k.recency - pop.r) / pop.rs)::numeric, 2),
		'z_frequency', round(((k.frequency - pop.f) / pop.fs)::numeric, 2),
		'z_monetary', round(((k.monetary - pop.m) / pop.ms)::numeric, 2),
		'dominant_segment', k.dominant_segment) ORDER BY k.cluster), '[]') AS clusters_json
FROM k, pop \gset
\endif
-- what each cluster is in words, from the profiles (a model made before
-- 0.3 has none; read through to_jsonb, so an older view's columns do too)
\set profiles_json '[]'
\if :has_profiles
SELECT coalesce(jsonb_agg(jsonb_build_object('cluster', p.cluster, 'description', to_jsonb(p)->>'description')
						  ORDER BY p.cluster), '[]') AS profiles_json
FROM :"schema".:"profiles" p \gset
\endif

-- lifetime value: per segment, from the model's _clv view; and whether
-- the model predicts, on a holdout: the same fit on the data up to a
-- cut, against what the customers bought after it (the last third of the
-- history, at most 26 weeks), as in the CDNOW papers
\set clv_json 'null'
\if :has_clv
SELECT jsonb_build_object(
		'customers', count(*), 'expected_alive', round(sum(v.p_alive)::numeric, 1),
		'clv', sum(v.clv)::text, 'converged', bool_and(v.fit_converged),
		'horizon', m.clv_horizon, 'unit', m.clv_unit, 'margin', m.clv_margin, 'discount_rate', m.clv_discount_rate,
		'model', m.clv_model,
		'segments', (SELECT coalesce(jsonb_agg(jsonb_build_object('segment', g.segment, 'customers', g.customers,
																'avg_p_alive', g.avg_p_alive, 'expected_purchases', g.purchases,
																'clv', g.clv::text, 'clv_pct', g.clv_pct)
											 ORDER BY g.clv DESC NULLS LAST, g.segment), '[]')
					 FROM (SELECT s.segment, count(*) AS customers, round(avg(c.p_alive)::numeric, 3) AS avg_p_alive,
								  round(sum(c.expected_purchases)::numeric, 1) AS purchases, sum(c.clv) AS clv,
								  round(100 * sum(c.clv) / nullif(sum(sum(c.clv)) OVER (), 0), 1) AS clv_pct
						   FROM :"schema".:"clv" c JOIN :"schema".:"segments" s USING (:"key")
						   GROUP BY s.segment) g)) AS clv_json
FROM :"schema".:"clv" v, rfm_find_model(:'model') m
GROUP BY m.clv_horizon, m.clv_unit, m.clv_margin, m.clv_discount_rate, m.clv_model \gset

SELECT (:'as_of'::timestamptz AT TIME ZONE m.tz)::date AS holdout_end,
	least(182, ((:'as_of'::timestamptz AT TIME ZONE m.tz)::date
				- (SELECT min(first_event AT TIME ZONE m.tz)::date FROM :"schema".:"metrics")) / 3) AS holdout_days,
	m.tz AS tz
FROM rfm_find_model(:'model') m \gset
CREATE TEMP TABLE rfm_report_holdout AS
SELECT s.* FROM rfm_find_model(:'model') m,
	LATERAL rfm_clv_summary(m.source, m.customer_column, m.time_column, m.amount_column,
							:'holdout_end'::date - :holdout_days, :'holdout_end'::date, 'week', m.tz) s
WHERE s.customer_key IS NOT NULL;
SELECT count(*) >= 10 AND count(*) FILTER (WHERE x > 0) > 0 AS can_fit FROM rfm_report_holdout \gset
\set holdout_json 'null'
\if :can_fit
WITH fit AS (SELECT :"clv_fit"(x, t_x, t_cal) AS model FROM rfm_report_holdout)
SELECT jsonb_build_object(
		'calibration_end', :'holdout_end'::date - :holdout_days, 'holdout_end', :'holdout_end'::date,
		'weeks', round(:holdout_days / 7.0, 1), 'converged', (fit.model).converged,
		'rows', jsonb_agg(jsonb_build_object('x', h.x, 'label', h.label, 'customers', h.customers,
											 'actual', round(h.actual::numeric, 3), 'predicted', round(h.predicted::numeric, 3))
						  ORDER BY h.x),
		-- the totals and the error per customer of the total row (x NULL)
		'actual_total', max(h.actual_total) FILTER (WHERE h.x IS NULL),
		'predicted_total', round(max(h.predicted_total) FILTER (WHERE h.x IS NULL)::numeric, 1),
		'mean_abs_error', round(max(h.mean_abs_error) FILTER (WHERE h.x IS NULL)::numeric, 3)) AS holdout_json
FROM fit, LATERAL rfm_clv_holdout(fit.model, 'rfm_report_holdout', :holdout_days / 7.0) h
GROUP BY fit.model \gset
\endif
SELECT jsonb_set(:'clv_json'::jsonb, '{holdout}', :'holdout_json'::jsonb) AS clv_json \gset
\endif

SELECT jsonb_build_object(
	'model', :'model_json'::jsonb,
	'as_of', nullif(:'as_of', '')::timestamptz,
	'customers', :'customers'::bigint,
	'summary', :'summary_json'::jsonb,
	'totals', :'totals_json'::jsonb,
	'heatmap', :'heatmap_json'::jsonb,
	'recency', :'recency_json'::jsonb,
	'frequency', :'frequency_json'::jsonb,
	'monetary', :'monetary_json'::jsonb,
	'retention', :'retention_json'::jsonb,
	'migration', jsonb_build_object('from', nullif(:'from_as_of', '')::timestamptz, 'to', nullif(:'as_of', '')::timestamptz,
									'rows', :'migration_json'::jsonb),
	'clusters', :'clusters_json'::jsonb,
	'profiles', :'profiles_json'::jsonb,
	'clv', :'clv_json'::jsonb)::text;
