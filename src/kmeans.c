/*-------------------------------------------------------------------------
 *
 * kmeans.c
 *	  Smart segmentation: k-means over per-customer feature vectors, as an
 *	  aggregate (rfm_kmeans) returning a storable model, the IMMUTABLE
 *	  assignment of a customer to its cluster (rfm_cluster), the scan over
 *	  k (rfm_kmeans_scan), and the model's clusters for profiles.  This file
 *	  reads and writes SQL values; points.c keeps the points, features.c
 *	  prepares them, kmeans_fit.c does the fitting.
 *
 * Exact k-means needs every point for every Lloyd iteration, so the state
 * keeps the feature vectors: 8 bytes per customer and feature (1M
 * customers x 3 features = 24 MB).  The final function fits on a prepared
 * copy (8 more bytes per customer and feature) and keeps each customer's
 * cluster (4 bytes).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "cluster_model.h"
#include "cluster_profile.h"
#include "cluster_quality.h"
#include "features.h"
#include "kmeans.h"
#include "kmeans_fit.h"
#include "points.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/typcache.h"

#define KMEANS_MAX_K		1000
#define KMEANS_MAX_N_INIT	1000
#define KMEANS_MAX_ITER		100000
#define KMEANS_MEMORY_HINT	"Fit on a sample of the points, such as TABLESAMPLE SYSTEM (10), and assign every point with rfm_cluster"

/* rfm_kmeans_scan measures the silhouette on at most this many customers */
#define KMEANS_SILHOUETTE_SAMPLE 1000

/* the defaults of the options */
static const RfmKmeansOptions default_options = {
	.seed = 0,
	.n_init = 10,
	.max_iter = 300,
	.tol = 1e-4,
	.standardize = true
};

/*
 * The fields of rfm_kmeans_model, in the order the install script declares
 * them (0.3 added those from feature_names on; a model stored before has
 * them NULL).  The final function and rfm_cluster check the type against
 * this list once per call site, so a library and a script that disagree (an
 * extension updated without ALTER EXTENSION UPDATE, say) stop with an
 * error instead of reading the wrong field.
 */
typedef enum ModelField
{
	MODEL_K,
	MODEL_DIMS,
	MODEL_N,
	MODEL_CENTROIDS,
	MODEL_CENTER,
	MODEL_SCALE,
	MODEL_INERTIA,
	MODEL_ITERATIONS,
	MODEL_SIZES,
	MODEL_SEED,
	MODEL_N_INIT,
	MODEL_STANDARDIZE,
	MODEL_PREP,					/* RFM_PREP_NFIELDS fields, features.h */
	MODEL_MEANS = MODEL_PREP + RFM_PREP_NFIELDS,
	MODEL_NFIELDS
} ModelField;

static const char *const model_fields[MODEL_NFIELDS] = {
	"k", "dims", "n", "centroids", "center", "scale", "inertia", "iterations",
	"sizes", "seed", "n_init", "standardize",
	"feature_names", "transforms", "clip_low", "clip_high", "quantiles",
	"prep_mean", "prep_std", "population_mean",
	"means"
};

/* 0.1 and 0.2 declared the fields up to standardize */
static const RfmModelKind model_kind = {
	"rfm_kmeans_model", "rfm_kmeans", model_fields, MODEL_NFIELDS, MODEL_PREP
};

typedef RfmKmeansOptions KmeansOptions;

/* the options of the aggregates, kept in their state (points.c) */
typedef struct KmeansAggOptions
{
	int32		k_min;			/* rfm_kmeans_scan: the smallest k tried */
	int32		k;
	bool		scan;			/* of rfm_kmeans_scan, not rfm_kmeans */
	KmeansOptions fit;
} KmeansAggOptions;

/* the two aggregates share their support functions, and name their own */
static const char *
kmeans_function_of(const void *options)
{
	return ((const KmeansAggOptions *) options)->scan ? "rfm_kmeans_scan" : "rfm_kmeans";
}

static const RfmPointsAgg kmeans_agg = {
	"rfm_kmeans", KMEANS_MEMORY_HINT, sizeof(KmeansAggOptions), kmeans_function_of
};

/* parse 'seed=42 n_init=10 max_iter=300 tol=0.0001 standardize=true' */
static void
parse_options(const char *text, KmeansOptions *o)
{
	char	   *copy = pstrdup(text);
	char	   *save = NULL;

	for (char *tok = strtok_r(copy, " ,", &save); tok; tok = strtok_r(NULL, " ,", &save))
	{
		char	   *eq = strchr(tok, '=');
		char	   *end;

		if (eq == NULL)
			goto bad;
		*eq = '\0';
		if (strcmp(tok, "seed") == 0)
			o->seed = (int32) strtol(eq + 1, &end, 10);
		else if (strcmp(tok, "n_init") == 0)
			o->n_init = (int32) strtol(eq + 1, &end, 10);
		else if (strcmp(tok, "max_iter") == 0)
			o->max_iter = (int32) strtol(eq + 1, &end, 10);
		else if (strcmp(tok, "tol") == 0)
			o->tol = strtod(eq + 1, &end);
		else if (strcmp(tok, "standardize") == 0)
		{
			if (!parse_bool(eq + 1, &o->standardize))
				goto bad;
			continue;
		}
		else
			goto bad;
		if (*end != '\0')
			goto bad;
	}
	if (o->n_init < 1 || o->n_init > KMEANS_MAX_N_INIT ||
		o->max_iter < 1 || o->max_iter > KMEANS_MAX_ITER ||
		!(o->tol >= 0) || isinf(o->tol))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options out of range: \"%s\"", text),
				 errhint("n_init must be 1..%d, max_iter 1..%d, tol at least 0.",
						 KMEANS_MAX_N_INIT, KMEANS_MAX_ITER)));
	return;
bad:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid options \"%s\"", text),
			 errhint("Write options as 'seed=42 n_init=10 max_iter=300 tol=0.0001 standardize=true'.")));
}

/*
 * The transition shared by the aggregates: arguments are (state, features,
 * k [, options [, feature_names]]) or, for the scan, (state, features,
 * k_min, k_max, options [, feature_names]).
 */
static Datum
kmeans_trans(FunctionCallInfo fcinfo, bool has_options, bool is_scan,
			 bool has_names)
{
	int			k_arg = is_scan ? 3 : 2;
	int			options_arg = is_scan ? 4 : 3;
	int			names_arg = options_arg + 1;
	MemoryContext aggcontext;
	RfmPoints  *st;
	ArrayType  *arr;
	ArrayType  *names = NULL;
	int			n;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "rfm_kmeans_trans called in non-aggregate context");
	if (PG_ARGISNULL(2) || PG_ARGISNULL(k_arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("k must not be NULL"),
				 errhint("Pass the number of clusters, such as 4.")));
	if (has_options && PG_ARGISNULL(options_arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("options must not be NULL"),
				 errhint("Pass '' for the defaults.")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("features must not be NULL"),
				 errhint("Leave customers without features out with a WHERE clause.")));
	if (has_names && !PG_ARGISNULL(names_arg))
		names = PG_GETARG_ARRAYTYPE_P(names_arg);

	arr = PG_GETARG_ARRAYTYPE_P(1);
	n = rfm_points_array_length(arr);

	if (PG_ARGISNULL(0))
	{
		int32		k = PG_GETARG_INT32(k_arg);
		int32		k_min = is_scan ? PG_GETARG_INT32(2) : k;
		KmeansAggOptions o;

		if (k < k_min)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("k_max (%d) must not be less than k_min (%d)", k, k_min),
					 errhint("Pass the range of k from the smaller to the larger.")));
		if (k_min < 2 || k > KMEANS_MAX_K)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("k must be between 2 and %d, not %d", KMEANS_MAX_K, k_min < 2 ? k_min : k),
					 errhint("Four to eight clusters are usual for customer segments.")));
		rfm_points_check_dims(n);
		/* zeroed, padding too: partial states compare their options' bytes */
		memset(&o, 0, sizeof(o));
		memcpy(&o.fit, &default_options, sizeof(KmeansOptions));
		o.k = k;
		o.k_min = k_min;
		o.scan = is_scan;
		if (has_options)
			parse_options(text_to_cstring(PG_GETARG_TEXT_PP(options_arg)), &o.fit);
		st = rfm_points_start(aggcontext, &kmeans_agg, n, names, &o);
	}
	else
	{
		const KmeansAggOptions *o;

		st = (RfmPoints *) PG_GETARG_POINTER(0);
		o = rfm_points_options(st);
		if (PG_GETARG_INT32(k_arg) != o->k)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("k must be the same for every row")));
	}
	rfm_points_add(st, arr, names);
	PG_RETURN_POINTER(st);
}

/* rfm_kmeans(features float8[], k int): transition */
PG_FUNCTION_INFO_V1(rfm_kmeans_trans);
Datum
rfm_kmeans_trans(PG_FUNCTION_ARGS)
{
	return kmeans_trans(fcinfo, false, false, false);
}

/* rfm_kmeans(features float8[], k int, options text): transition */
PG_FUNCTION_INFO_V1(rfm_kmeans_trans_options);
Datum
rfm_kmeans_trans_options(PG_FUNCTION_ARGS)
{
	return kmeans_trans(fcinfo, true, false, false);
}

/*
 * rfm_kmeans(features float8[], k int, options text, feature_names text[]):
 * transition; NULL feature_names is the form without them
 */
PG_FUNCTION_INFO_V1(rfm_kmeans_trans_names);
Datum
rfm_kmeans_trans_names(PG_FUNCTION_ARGS)
{
	return kmeans_trans(fcinfo, true, false, true);
}

/* rfm_kmeans_scan(features float8[], k_min int, k_max int, options text) */
PG_FUNCTION_INFO_V1(rfm_kmeans_scan_trans);
Datum
rfm_kmeans_scan_trans(PG_FUNCTION_ARGS)
{
	return kmeans_trans(fcinfo, true, true, false);
}

/*
 * rfm_kmeans_scan(features float8[], k_min int, k_max int, options text,
 * feature_names text[]); NULL feature_names: unnamed, no transforms
 */
PG_FUNCTION_INFO_V1(rfm_kmeans_scan_trans_names);
Datum
rfm_kmeans_scan_trans_names(PG_FUNCTION_ARGS)
{
	return kmeans_trans(fcinfo, true, true, true);
}

/*
 * Merge partial states; not STRICT, as the state is internal: a NULL
 * state is no rows.
 */
PG_FUNCTION_INFO_V1(rfm_kmeans_combine);
Datum
rfm_kmeans_combine(PG_FUNCTION_ARGS)
{
	return rfm_points_combine(fcinfo, &kmeans_agg);
}

/* the state as bytea; STRICT */
PG_FUNCTION_INFO_V1(rfm_kmeans_serial);
Datum
rfm_kmeans_serial(PG_FUNCTION_ARGS)
{
	return rfm_points_serial(fcinfo);
}

/* the state from bytea; STRICT */
PG_FUNCTION_INFO_V1(rfm_kmeans_deserial);
Datum
rfm_kmeans_deserial(PG_FUNCTION_ARGS)
{
	return rfm_points_deserial(fcinfo, &kmeans_agg);
}

static void
check_k(int k, int64 n)
{
	if (n < k)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k (%d) must not exceed the number of customers (%lld)", k, (long long) n),
				 errhint("Use fewer clusters.")));
}

/*
 * The state's points, sorted, and a prepared copy in the fit space: what
 * every fit of the state works on.  The fit holds, besides the points, the
 * copy, a label per point, and while a feature is prepared by rank or clip
 * one column of its values: all within rfm_segment.max_memory.
 */
static float8 *
prepare(RfmPoints *st, RfmPrep **prep, const float8 **raw, float8 *mean_var)
{
	const KmeansAggOptions *o = rfm_points_options(st);
	int64		n = rfm_points_count(st);

	rfm_points_check_memory(st, (Size) n * rfm_points_dims(st) * sizeof(float8) +
							(Size) n * (sizeof(int) + sizeof(float8)));
	*raw = rfm_points_sorted(st);
	*prep = rfm_prep_create(rfm_points_names(st), rfm_points_dims(st), o->fit.standardize);
	rfm_prep_fit(*prep, *raw, n, mean_var);
	return rfm_prep_apply_all(*prep, *raw, n);
}

/*
 * Fit and return rfm_kmeans_model: (k, dims, n, centroids float8[][] in the
 * prepared features' units (the features' own without a transform), center,
 * scale, inertia, iterations, sizes, seed, n_init, standardize, the
 * preparation (features.h), and means float8[][], each cluster's mean in
 * the features' own units).  Inertia is measured in the space the fit used
 * (z-scores when standardize is on).
 */
PG_FUNCTION_INFO_V1(rfm_kmeans_final);
Datum
rfm_kmeans_final(PG_FUNCTION_ARGS)
{
	RfmPoints  *st;
	const KmeansAggOptions *o;
	int			k,
				dims;
	int64		n;
	RfmPrep    *prep;
	const float8 *raw;
	float8	   *x;
	float8	   *center;
	float8	   *scale;
	float8		mean_var;
	float8	   *best_centroids;
	float8	   *means;
	int64	   *best_sizes;
	int		   *labels;
	float8		best_inertia;
	int			best_iter = 0;
	pg_prng_state rng;
	TupleDesc	tupdesc;
	Datum		values[MODEL_NFIELDS];
	bool		nulls[MODEL_NFIELDS] = {0};

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "rfm_kmeans must return a composite type");
	/* an older type (before ALTER EXTENSION UPDATE) takes its fields only */
	rfm_model_check_type(&model_kind, tupdesc);
	Assert(strcmp(model_fields[MODEL_PREP], rfm_prep_fields[0]) == 0);

	st = (RfmPoints *) PG_GETARG_POINTER(0);
	o = rfm_points_options(st);
	k = o->k;
	dims = rfm_points_dims(st);
	n = rfm_points_count(st);
	check_k(k, n);
	center = palloc(dims * sizeof(float8));
	scale = palloc(dims * sizeof(float8));
	best_centroids = palloc(sizeof(float8) * k * dims);
	best_sizes = palloc(sizeof(int64) * k);
	labels = palloc_extended(sizeof(int) * n, MCXT_ALLOC_HUGE);

	x = prepare(st, &prep, &raw, &mean_var);
	rfm_prep_scaling(prep, center, scale);
	pg_prng_seed(&rng, (uint64) (uint32) o->fit.seed);
	best_inertia = rfm_kmeans_fit(x, n, k, dims, &o->fit, mean_var, &rng,
								  best_centroids, best_sizes, labels, &best_iter);
	pfree(x);

	/* centroids back in the prepared features' units; means in their own */
	for (int c = 0; c < k; c++)
		for (int j = 0; j < dims; j++)
			best_centroids[c * dims + j] = best_centroids[c * dims + j] * scale[j] + center[j];
	means = palloc0(sizeof(float8) * k * dims);
	for (int64 i = 0; i < n; i++)
		for (int j = 0; j < dims; j++)
			means[labels[i] * dims + j] += raw[i * dims + j];
	for (int c = 0; c < k; c++)
		for (int j = 0; j < dims; j++)
			means[c * dims + j] = best_sizes[c] > 0 ?
				means[c * dims + j] / best_sizes[c] : get_float8_nan();

	tupdesc = BlessTupleDesc(tupdesc);
	values[MODEL_K] = Int32GetDatum(k);
	values[MODEL_DIMS] = Int32GetDatum(dims);
	values[MODEL_N] = Int64GetDatum(n);
	values[MODEL_CENTROIDS] = PointerGetDatum(rfm_float8_matrix(best_centroids, k, dims));
	values[MODEL_CENTER] = PointerGetDatum(rfm_float8_array(center, dims));
	values[MODEL_SCALE] = PointerGetDatum(rfm_float8_array(scale, dims));
	values[MODEL_INERTIA] = Float8GetDatum(best_inertia);
	values[MODEL_ITERATIONS] = Int32GetDatum(best_iter);
	values[MODEL_SIZES] = PointerGetDatum(rfm_int64_array(best_sizes, k));
	values[MODEL_SEED] = Int32GetDatum(o->fit.seed);
	values[MODEL_N_INIT] = Int32GetDatum(o->fit.n_init);
	values[MODEL_STANDARDIZE] = BoolGetDatum(o->fit.standardize);
	rfm_prep_store(prep, values + MODEL_PREP, nulls + MODEL_PREP);
	values[MODEL_MEANS] = PointerGetDatum(rfm_float8_matrix(means, k, dims));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* a model read for assignment and profiles, cached per call site */
typedef struct ClusterModel
{
	int			natts;			/* fields of the model's type */
	int			k;
	int			dims;
	int64		n;
	bool		standardize;
	float8	   *centroids;		/* in fit space */
	RfmPrep    *prep;
} ClusterModel;

/* the model argument argno, decoded once per call site */
static ClusterModel *
read_model(FunctionCallInfo fcinfo, int argno)
{
	ClusterModel *m = rfm_model_cache_lookup(fcinfo, argno);
	HeapTupleHeader t;
	MemoryContext old;
	const float8 *centroids;
	float8	   *center;
	float8	   *scale;
	bool		isnull;
	int			natts;

	if (m != NULL)
		return m;
	t = PG_GETARG_HEAPTUPLEHEADER(argno);
	natts = rfm_model_check_value(&model_kind, t);
	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	m = palloc0(sizeof(ClusterModel));
	m->natts = natts;
	m->k = rfm_model_int32(&model_kind, t, MODEL_K + 1);
	m->dims = rfm_model_int32(&model_kind, t, MODEL_DIMS + 1);
	if (m->k < 1 || m->dims < 1 || m->dims > RFM_POINTS_MAX_DIMS)
		rfm_model_malformed(&model_kind);
	m->n = DatumGetInt64(GetAttributeByNum(t, MODEL_N + 1, &isnull));
	m->standardize = DatumGetBool(GetAttributeByNum(t, MODEL_STANDARDIZE + 1, &isnull));
	centroids = rfm_model_float8s(&model_kind, t, MODEL_CENTROIDS + 1, m->k * m->dims);
	if (centroids == NULL)
		rfm_model_malformed(&model_kind);
	m->prep = rfm_prep_load(&model_kind, t, m->dims, MODEL_CENTER + 1, MODEL_SCALE + 1,
							natts == MODEL_NFIELDS ? MODEL_PREP + 1 : 0, m->standardize);
	center = palloc(sizeof(float8) * m->dims);
	scale = palloc(sizeof(float8) * m->dims);
	rfm_prep_scaling(m->prep, center, scale);
	m->centroids = palloc(sizeof(float8) * m->k * m->dims);
	for (int c = 0; c < m->k; c++)
		for (int j = 0; j < m->dims; j++)
			m->centroids[c * m->dims + j] = (centroids[c * m->dims + j] - center[j]) / scale[j];
	MemoryContextSwitchTo(old);
	rfm_model_cache_store(fcinfo, argno, m);
	return m;
}

/*
 * rfm_cluster(features, model): the cluster (1..k) whose centroid is
 * nearest, in the space the model was fitted in (after the model's own
 * preparation of the features).  IMMUTABLE: it depends on its arguments
 * only.  STRICT: NULL features have no cluster, nor do features with a
 * NULL element.
 */
PG_FUNCTION_INFO_V1(rfm_cluster);
Datum
rfm_cluster(PG_FUNCTION_ARGS)
{
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(0);
	ClusterModel *m = read_model(fcinfo, 1);
	float8	   *v = palloc(sizeof(float8) * m->dims);
	float8	   *z = palloc(sizeof(float8) * m->dims);
	float8		d;

	if (!rfm_points_read(arr, m->dims, v))
		PG_RETURN_NULL();
	rfm_prep_apply(m->prep, v, z);
	PG_RETURN_INT32(rfm_kmeans_nearest(z, m->centroids, m->k, m->dims, &d) + 1);
}

/*
 * The clusters of the k-means model argument argno, for profiles.  A model stored before
 * 0.3 has no means: its features had no transform, so its centroids are
 * its clusters' means.
 */
RfmClusterSummary *
rfm_kmeans_summary(FunctionCallInfo fcinfo, int argno)
{
	ClusterModel *m = read_model(fcinfo, argno);
	HeapTupleHeader t = PG_GETARG_HEAPTUPLEHEADER(argno);
	RfmClusterSummary *s = palloc0(sizeof(RfmClusterSummary));
	int			k = m->k;
	int			dims = m->dims;
	const float8 *means;
	const int64 *sizes;

	s->k = k;
	s->dims = dims;
	s->n = m->n;
	s->prep = m->prep;
	sizes = rfm_model_int64s(&model_kind, t, MODEL_SIZES + 1, k);
	means = m->natts == MODEL_NFIELDS ?
		rfm_model_float8s(&model_kind, t, MODEL_MEANS + 1, k * dims) : NULL;
	if (means == NULL)
		means = rfm_model_float8s(&model_kind, t, MODEL_CENTROIDS + 1, k * dims);
	if (sizes == NULL || means == NULL)
		rfm_model_malformed(&model_kind);
	s->sizes = palloc(sizeof(int64) * k);
	s->means = palloc(sizeof(float8) * k * dims);
	memcpy(s->sizes, sizes, sizeof(int64) * k);
	memcpy(s->means, means, sizeof(float8) * k * dims);
	s->population_mean = palloc0(sizeof(float8) * dims);
	for (int j = 0; j < dims; j++)
	{
		s->population_mean[j] = rfm_prep_population_mean(m->prep, j);
		if (isnan(s->population_mean[j]))
		{
			s->population_mean[j] = 0;
			for (int c = 0; c < k; c++)
				s->population_mean[j] += s->sizes[c] * s->means[c * dims + j];
			s->population_mean[j] /= s->n;
		}
	}
	s->z = palloc(sizeof(float8) * k * dims);
	for (int c = 0; c < k; c++)
		if (!rfm_prep_zscores(m->prep, m->centroids + c * dims, s->z + c * dims))
		{
			pfree(s->z);
			s->z = NULL;
			break;
		}
	return s;
}

/*
 * The scan's final: for each k from k_min to k_max, the inertia of the
 * best of n_init fits, the mean silhouette over an evenly spaced sample of
 * at most KMEANS_SILHOUETTE_SAMPLE customers (exact below that), and with
 * all_scores Calinski-Harabasz and Davies-Bouldin (rfm_cluster_score).
 * Each k is seeded with the same seed, so one k's row does not depend on
 * the others.
 */
static Datum
scan_final(FunctionCallInfo fcinfo, bool all_scores)
{
	RfmPoints  *st;
	const KmeansAggOptions *o;
	RfmPrep    *prep;
	const float8 *raw;
	float8	   *x;
	float8		mean_var;
	int			dims;
	int64		n;
	Oid			array_type = get_fn_expr_rettype(fcinfo->flinfo);
	Oid			elem_type = get_element_type(array_type);
	TupleDesc	tupdesc;
	Datum	   *rows;
	int			nrows;
	int16		typlen;
	bool		typbyval;
	char		typalign;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (RfmPoints *) PG_GETARG_POINTER(0);
	o = rfm_points_options(st);
	dims = rfm_points_dims(st);
	n = rfm_points_count(st);
	check_k(o->k, n);
	x = prepare(st, &prep, &raw, &mean_var);

	tupdesc = BlessTupleDesc(lookup_rowtype_tupdesc_copy(elem_type, -1));
	if (tupdesc->natts != (all_scores ? 5 : 3))
		elog(ERROR, "rfm_kmeans_scan returns a row type of the wrong shape");
	nrows = o->k - o->k_min + 1;
	rows = palloc(sizeof(Datum) * nrows);
	for (int k = o->k_min; k <= o->k; k++)
	{
		float8	   *centroids = palloc(sizeof(float8) * k * dims);
		int64	   *sizes = palloc(sizeof(int64) * k);
		int		   *labels = palloc_extended(n * sizeof(int), MCXT_ALLOC_HUGE);
		int			iterations;
		pg_prng_state rng;
		RfmClusterScores scores;
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};

		pg_prng_seed(&rng, (uint64) (uint32) o->fit.seed);
		values[1] = Float8GetDatum(rfm_kmeans_fit(x, n, k, dims, &o->fit, mean_var,
												  &rng, centroids, sizes, labels,
												  &iterations));
		values[0] = Int32GetDatum(k);
		if (all_scores)
		{
			rfm_cluster_scores(x, NULL, labels, n, k, dims, 0,
							   KMEANS_SILHOUETTE_SAMPLE, &scores);
			values[2] = Float8GetDatum(scores.silhouette);
			values[3] = Float8GetDatum(scores.calinski_harabasz);
			values[4] = Float8GetDatum(scores.davies_bouldin);
		}
		else
			values[2] = Float8GetDatum(rfm_silhouette(x, NULL, labels, n, k, dims,
													  KMEANS_SILHOUETTE_SAMPLE));
		rows[k - o->k_min] = HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
		pfree(centroids);
		pfree(sizes);
		pfree(labels);
	}
	get_typlenbyvalalign(elem_type, &typlen, &typbyval, &typalign);
	PG_RETURN_ARRAYTYPE_P(construct_array(rows, nrows, elem_type, typlen, typbyval, typalign));
}

/* rfm_kmeans_scan final: rfm_kmeans_score[] (k, inertia, silhouette) */
PG_FUNCTION_INFO_V1(rfm_kmeans_scan_final);
Datum
rfm_kmeans_scan_final(PG_FUNCTION_ARGS)
{
	return scan_final(fcinfo, false);
}

/*
 * rfm_kmeans_scan with feature_names, final: rfm_cluster_score[] (k,
 * inertia, silhouette, calinski_harabasz, davies_bouldin)
 */
PG_FUNCTION_INFO_V1(rfm_kmeans_scan_final_scores);
Datum
rfm_kmeans_scan_final_scores(PG_FUNCTION_ARGS)
{
	return scan_final(fcinfo, true);
}
