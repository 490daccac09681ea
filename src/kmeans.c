/*-------------------------------------------------------------------------
 *
 * kmeans.c
 *	  Smart segmentation: k-means over per-customer feature vectors, as an
 *	  aggregate (rfm_kmeans) returning a storable model, the IMMUTABLE
 *	  assignment of a customer to its cluster (rfm_cluster), and the scan
 *	  over k (rfm_kmeans_scan).  This file reads and writes SQL values;
 *	  kmeans_fit.c does the fitting.
 *
 * Exact k-means needs every point for every Lloyd iteration, so the state
 * keeps the feature vectors: 8 bytes per customer and feature (1M
 * customers x 3 features = 24 MB).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "guc.h"
#include "kmeans_fit.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/typcache.h"

#define KMEANS_STATE_VERSION 1
#define KMEANS_MAX_K		1000
#define KMEANS_MAX_DIMS		1000
#define KMEANS_MAX_N_INIT	1000
#define KMEANS_MAX_ITER		100000
#define KMEANS_MEMORY_HINT	"Fit on a sample of the points, such as TABLESAMPLE SYSTEM (10), and assign every point with rfm_cluster"

/* the state's buffer starts with room for this many points, then doubles */
#define KMEANS_INITIAL_POINTS	1024
#define KMEANS_MIN_POINTS		64

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
 * them.  The final function and rfm_cluster check the type against this
 * list once per call site, so a library and a script that disagree (an
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
	MODEL_NFIELDS
} ModelField;

static const char *const model_fields[MODEL_NFIELDS] = {
	"k", "dims", "n", "centroids", "center", "scale", "inertia", "iterations",
	"sizes", "seed", "n_init", "standardize"
};

typedef RfmKmeansOptions KmeansOptions;

typedef struct KmeansState
{
	int32		k_min;			/* rfm_kmeans_scan: the smallest k tried */
	int32		k;
	int32		dims;
	KmeansOptions options;
	int64		n;
	int64		capacity;		/* points */
	float8	   *data;			/* n x dims */
} KmeansState;

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

static KmeansState *
new_state(MemoryContext cxt, int32 k, int32 dims, const KmeansOptions *o, int64 capacity)
{
	KmeansState *st = MemoryContextAllocZero(cxt, sizeof(KmeansState));

	st->k = k;
	st->dims = dims;
	st->options = *o;
	st->capacity = Max(capacity, KMEANS_MIN_POINTS);
	rfm_check_memory(st->capacity * dims * sizeof(float8), "rfm_kmeans",
					 KMEANS_MEMORY_HINT);
	st->data = MemoryContextAllocHuge(cxt, st->capacity * dims * sizeof(float8));
	return st;
}

static void
reserve(KmeansState *st, int64 extra)
{
	if (st->n + extra <= st->capacity)
		return;
	while (st->n + extra > st->capacity)
		st->capacity *= 2;
	rfm_check_memory(st->capacity * st->dims * sizeof(float8), "rfm_kmeans",
					 KMEANS_MEMORY_HINT);
	st->data = repalloc_huge(st->data, st->capacity * st->dims * sizeof(float8));
}

/*
 * The transition shared by the aggregates: arguments are (state, features,
 * k, options) or, for the scan, (state, features, k_min, k_max, options).
 */
static Datum
kmeans_trans(FunctionCallInfo fcinfo, bool has_options, bool is_scan)
{
	int			k_arg = is_scan ? 3 : 2;
	int			options_arg = is_scan ? 4 : 3;
	MemoryContext aggcontext;
	KmeansState *st;
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *nulls;
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

	arr = PG_GETARG_ARRAYTYPE_P(1);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("features must be a one-dimensional array")));
	deconstruct_array(arr, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &nulls, &n);

	if (PG_ARGISNULL(0))
	{
		int32		k = PG_GETARG_INT32(k_arg);
		int32		k_min = is_scan ? PG_GETARG_INT32(2) : k;
		KmeansOptions o;

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
		if (n < 1 || n > KMEANS_MAX_DIMS)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("features must have between 1 and %d elements, not %d", KMEANS_MAX_DIMS, n)));
		o = default_options;
		if (has_options)
			parse_options(text_to_cstring(PG_GETARG_TEXT_PP(options_arg)), &o);
		st = new_state(aggcontext, k, n, &o, KMEANS_INITIAL_POINTS);
		st->k_min = k_min;
	}
	else
	{
		st = (KmeansState *) PG_GETARG_POINTER(0);
		if (PG_GETARG_INT32(k_arg) != st->k)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("k must be the same for every row")));
		if (n != st->dims)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("every features array must have %d elements, not %d", st->dims, n),
					 errhint("Build the same features, in the same order, for every customer.")));
	}

	reserve(st, 1);
	for (int i = 0; i < n; i++)
	{
		float8		v;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("features must not contain NULL"),
					 errhint("Replace missing features with coalesce(), or leave the customer out.")));
		v = DatumGetFloat8(elems[i]);
		if (isnan(v) || isinf(v))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("features must be finite numbers"),
					 errhint("Replace NaN or infinite features before clustering.")));
		st->data[st->n * st->dims + i] = v;
	}
	st->n++;
	PG_RETURN_POINTER(st);
}

/* rfm_kmeans(features float8[], k int): transition */
PG_FUNCTION_INFO_V1(rfm_kmeans_trans);
Datum
rfm_kmeans_trans(PG_FUNCTION_ARGS)
{
	return kmeans_trans(fcinfo, false, false);
}

/* rfm_kmeans(features float8[], k int, options text): transition */
PG_FUNCTION_INFO_V1(rfm_kmeans_trans_options);
Datum
rfm_kmeans_trans_options(PG_FUNCTION_ARGS)
{
	return kmeans_trans(fcinfo, true, false);
}

/* rfm_kmeans_scan(features float8[], k_min int, k_max int, options text) */
PG_FUNCTION_INFO_V1(rfm_kmeans_scan_trans);
Datum
rfm_kmeans_scan_trans(PG_FUNCTION_ARGS)
{
	return kmeans_trans(fcinfo, true, true);
}

/* merge partial states; not STRICT, as the state is internal */
PG_FUNCTION_INFO_V1(rfm_kmeans_combine);
Datum
rfm_kmeans_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	KmeansState *st;
	KmeansState *other;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "rfm_kmeans_combine called in non-aggregate context");
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_POINTER(PG_GETARG_POINTER(0));
	}
	other = (KmeansState *) PG_GETARG_POINTER(1);
	if (PG_ARGISNULL(0))
	{
		st = new_state(aggcontext, other->k, other->dims, &other->options, other->n);
		st->k_min = other->k_min;
	}
	else
	{
		st = (KmeansState *) PG_GETARG_POINTER(0);
		if (st->dims != other->dims || st->k != other->k)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("every features array must have %d elements, not %d", st->dims, other->dims)));
	}
	reserve(st, other->n);
	memcpy(st->data + st->n * st->dims, other->data, other->n * other->dims * sizeof(float8));
	st->n += other->n;
	PG_RETURN_POINTER(st);
}

PG_FUNCTION_INFO_V1(rfm_kmeans_serial);
Datum
rfm_kmeans_serial(PG_FUNCTION_ARGS)
{
	KmeansState *st = (KmeansState *) PG_GETARG_POINTER(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, KMEANS_STATE_VERSION);
	pq_sendint32(&buf, st->k_min);
	pq_sendint32(&buf, st->k);
	pq_sendint32(&buf, st->dims);
	pq_sendint32(&buf, st->options.seed);
	pq_sendint32(&buf, st->options.n_init);
	pq_sendint32(&buf, st->options.max_iter);
	pq_sendfloat8(&buf, st->options.tol);
	pq_sendbyte(&buf, st->options.standardize ? 1 : 0);
	pq_sendint64(&buf, st->n);
	for (int64 i = 0; i < st->n * st->dims; i++)
		pq_sendfloat8(&buf, st->data[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(rfm_kmeans_deserial);
Datum
rfm_kmeans_deserial(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	MemoryContext aggcontext;
	StringInfoData buf;
	KmeansOptions o;
	KmeansState *st;
	int32		k_min,
				k,
				dims;
	int64		n;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "rfm_kmeans_deserial called in non-aggregate context");
	buf.data = VARDATA_ANY(data);
	buf.len = VARSIZE_ANY_EXHDR(data);
	buf.maxlen = buf.len;
	buf.cursor = 0;
	if (pq_getmsgint(&buf, 4) != KMEANS_STATE_VERSION)
		elog(ERROR, "unsupported rfm_kmeans state version");
	k_min = pq_getmsgint(&buf, 4);
	k = pq_getmsgint(&buf, 4);
	dims = pq_getmsgint(&buf, 4);
	o.seed = pq_getmsgint(&buf, 4);
	o.n_init = pq_getmsgint(&buf, 4);
	o.max_iter = pq_getmsgint(&buf, 4);
	o.tol = pq_getmsgfloat8(&buf);
	o.standardize = pq_getmsgbyte(&buf) != 0;
	n = pq_getmsgint64(&buf);
	if (dims < 1 || n < 0 || (Size) (buf.len - buf.cursor) != (Size) n * dims * sizeof(float8))
		elog(ERROR, "corrupt rfm_kmeans state");
	st = new_state(aggcontext, k, dims, &o, n);
	st->k_min = k_min;
	for (int64 i = 0; i < n * dims; i++)
		st->data[i] = pq_getmsgfloat8(&buf);
	st->n = n;
	PG_RETURN_POINTER(st);
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

static ArrayType *
float8_array(const float8 *v, int n)
{
	Datum	   *d = palloc(n * sizeof(Datum));

	for (int i = 0; i < n; i++)
		d[i] = Float8GetDatum(v[i]);
	return construct_array(d, n, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
}

/*
 * Check that a row type is rfm_kmeans_model as this library knows it:
 * the fields of model_fields, in that order.
 */
static void
check_model_type(TupleDesc tupdesc)
{
	bool		ok = tupdesc->natts == MODEL_NFIELDS;

	for (int i = 0; ok && i < MODEL_NFIELDS; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		ok = !att->attisdropped && strcmp(NameStr(att->attname), model_fields[i]) == 0;
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("rfm_kmeans_model does not have the fields this version of the library expects"),
				 errhint("Run ALTER EXTENSION rfm_segment UPDATE, so the SQL objects match the installed library.")));
}

/*
 * Fit and return rfm_kmeans_model: (k, dims, n, centroids float8[][] in the
 * features' own units, center, scale, inertia, iterations, sizes, seed,
 * n_init, standardize).  Inertia is measured in the space the fit used
 * (z-scores when standardize is on).
 */
PG_FUNCTION_INFO_V1(rfm_kmeans_final);
Datum
rfm_kmeans_final(PG_FUNCTION_ARGS)
{
	KmeansState *st;
	int			k,
				dims;
	int64		n;
	float8	   *x;
	float8	   *center;
	float8	   *scale;
	float8		mean_var;
	float8	   *best_centroids;
	int64	   *best_sizes;
	float8		best_inertia;
	int			best_iter = 0;
	pg_prng_state rng;
	TupleDesc	tupdesc;
	Datum		values[MODEL_NFIELDS];
	bool		nulls[MODEL_NFIELDS] = {0};
	Datum	   *size_datums;
	int			dims2[2];
	int			lbs[2] = {1, 1};
	Datum	   *cdatums;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "rfm_kmeans must return a composite type");
	check_model_type(tupdesc);

	st = (KmeansState *) PG_GETARG_POINTER(0);
	k = st->k;
	dims = st->dims;
	n = st->n;
	check_k(k, n);
	center = palloc(dims * sizeof(float8));
	scale = palloc(dims * sizeof(float8));
	best_centroids = palloc(sizeof(float8) * k * dims);
	best_sizes = palloc(sizeof(int64) * k);

	x = rfm_kmeans_prepare(st->data, n, dims, st->options.standardize,
						   center, scale, &mean_var);
	pg_prng_seed(&rng, (uint64) (uint32) st->options.seed);
	best_inertia = rfm_kmeans_fit(x, n, k, dims, &st->options, mean_var, &rng,
								  best_centroids, best_sizes, NULL, &best_iter);

	/* centroids back in the features' own units */
	cdatums = palloc(sizeof(Datum) * k * dims);
	for (int c = 0; c < k; c++)
		for (int j = 0; j < dims; j++)
			cdatums[c * dims + j] = Float8GetDatum(best_centroids[c * dims + j] * scale[j] + center[j]);
	dims2[0] = k;
	dims2[1] = dims;
	size_datums = palloc(sizeof(Datum) * k);
	for (int c = 0; c < k; c++)
		size_datums[c] = Int64GetDatum(best_sizes[c]);

	tupdesc = BlessTupleDesc(tupdesc);
	values[MODEL_K] = Int32GetDatum(k);
	values[MODEL_DIMS] = Int32GetDatum(dims);
	values[MODEL_N] = Int64GetDatum(n);
	values[MODEL_CENTROIDS] = PointerGetDatum(construct_md_array(cdatums, NULL, 2, dims2, lbs, FLOAT8OID,
																 sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[MODEL_CENTER] = PointerGetDatum(float8_array(center, dims));
	values[MODEL_SCALE] = PointerGetDatum(float8_array(scale, dims));
	values[MODEL_INERTIA] = Float8GetDatum(best_inertia);
	values[MODEL_ITERATIONS] = Int32GetDatum(best_iter);
	values[MODEL_SIZES] = PointerGetDatum(construct_array(size_datums, k, INT8OID, sizeof(int64),
														  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[MODEL_SEED] = Int32GetDatum(st->options.seed);
	values[MODEL_N_INIT] = Int32GetDatum(st->options.n_init);
	values[MODEL_STANDARDIZE] = BoolGetDatum(st->options.standardize);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* a model read for assignment, cached per call site */
typedef struct ClusterModel
{
	Size		len;
	char	   *bytes;			/* the model's bytes, to spot a new model */
	int			k;
	int			dims;
	float8	   *centroids;		/* in fit space */
	float8	   *center;
	float8	   *scale;
} ClusterModel;

static float8 *
model_array(HeapTupleHeader t, int attno, int expected)
{
	bool		isnull;
	Datum		d = GetAttributeByNum(t, attno, &isnull);
	ArrayType  *a;

	if (isnull)
		goto bad;
	a = DatumGetArrayTypeP(d);
	if (ARR_ELEMTYPE(a) != FLOAT8OID || ARR_HASNULL(a) ||
		ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a)) != expected)
		goto bad;
	/* no NULLs: the data follows the fixed overhead */
	return (float8 *) ((char *) a + ARR_OVERHEAD_NONULLS(ARR_NDIM(a)));
bad:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("malformed rfm_kmeans_model"),
			 errhint("Pass a model returned by rfm_kmeans.")));
	return NULL;
}

static ClusterModel *
read_model(FunctionCallInfo fcinfo, HeapTupleHeader t)
{
	ClusterModel *m = (ClusterModel *) fcinfo->flinfo->fn_extra;
	Size		len = HeapTupleHeaderGetDatumLength(t);
	MemoryContext old;
	bool		isnull;
	float8	   *centroids;
	float8	   *center;
	float8	   *scale;

	if (m != NULL && m->len == len && memcmp(m->bytes, t, len) == 0)
		return m;

	{
		TupleDesc	tupdesc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(t),
													 HeapTupleHeaderGetTypMod(t));

		check_model_type(tupdesc);
		ReleaseTupleDesc(tupdesc);
	}
	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	m = palloc0(sizeof(ClusterModel));
	m->k = DatumGetInt32(GetAttributeByNum(t, MODEL_K + 1, &isnull));
	m->dims = isnull ? 0 : DatumGetInt32(GetAttributeByNum(t, MODEL_DIMS + 1, &isnull));
	if (isnull || m->k < 1 || m->dims < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("malformed rfm_kmeans_model"),
				 errhint("Pass a model returned by rfm_kmeans.")));
	centroids = model_array(t, MODEL_CENTROIDS + 1, m->k * m->dims);
	center = model_array(t, MODEL_CENTER + 1, m->dims);
	scale = model_array(t, MODEL_SCALE + 1, m->dims);
	m->center = palloc(sizeof(float8) * m->dims);
	m->scale = palloc(sizeof(float8) * m->dims);
	m->centroids = palloc(sizeof(float8) * m->k * m->dims);
	memcpy(m->center, center, sizeof(float8) * m->dims);
	memcpy(m->scale, scale, sizeof(float8) * m->dims);
	for (int c = 0; c < m->k; c++)
		for (int j = 0; j < m->dims; j++)
			m->centroids[c * m->dims + j] = (centroids[c * m->dims + j] - center[j]) / scale[j];
	m->bytes = palloc(len);
	memcpy(m->bytes, t, len);
	m->len = len;
	fcinfo->flinfo->fn_extra = m;
	MemoryContextSwitchTo(old);
	return m;
}

/*
 * rfm_cluster(features, model): the cluster (1..k) whose centroid is
 * nearest, in the space the model was fitted in.  IMMUTABLE: it depends on
 * its arguments only.  STRICT: NULL features have no cluster.
 */
PG_FUNCTION_INFO_V1(rfm_cluster);
Datum
rfm_cluster(PG_FUNCTION_ARGS)
{
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(0);
	HeapTupleHeader t = PG_GETARG_HEAPTUPLEHEADER(1);
	ClusterModel *m = read_model(fcinfo, t);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	float8	   *z;
	float8		d;

	deconstruct_array(arr, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &nulls, &n);
	if (ARR_NDIM(arr) > 1 || n != m->dims)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("features must have %d elements, as the model, not %d", m->dims, n)));
	z = palloc(sizeof(float8) * n);
	for (int i = 0; i < n; i++)
	{
		float8		v;

		if (nulls[i])
			PG_RETURN_NULL();
		v = DatumGetFloat8(elems[i]);
		if (isnan(v) || isinf(v))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("features must be finite numbers")));
		z[i] = (v - m->center[i]) / m->scale[i];
	}
	PG_RETURN_INT32(rfm_kmeans_nearest(z, m->centroids, m->k, m->dims, &d) + 1);
}

/*
 * rfm_kmeans_scan final: for each k from k_min to k_max, the inertia of
 * the best of n_init fits and the mean silhouette over an evenly spaced
 * sample of at most KMEANS_SILHOUETTE_SAMPLE customers (exact below that).  Each k is seeded
 * with the same seed, so one k's row does not depend on the others.
 */
PG_FUNCTION_INFO_V1(rfm_kmeans_scan_final);
Datum
rfm_kmeans_scan_final(PG_FUNCTION_ARGS)
{
	KmeansState *st;
	float8	   *x;
	float8	   *center;
	float8	   *scale;
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
	st = (KmeansState *) PG_GETARG_POINTER(0);
	dims = st->dims;
	n = st->n;
	check_k(st->k, n);
	center = palloc(dims * sizeof(float8));
	scale = palloc(dims * sizeof(float8));
	x = rfm_kmeans_prepare(st->data, n, dims, st->options.standardize,
						   center, scale, &mean_var);

	tupdesc = BlessTupleDesc(lookup_rowtype_tupdesc_copy(elem_type, -1));
	nrows = st->k - st->k_min + 1;
	rows = palloc(sizeof(Datum) * nrows);
	for (int k = st->k_min; k <= st->k; k++)
	{
		float8	   *centroids = palloc(sizeof(float8) * k * dims);
		int64	   *sizes = palloc(sizeof(int64) * k);
		int		   *labels = palloc_extended(n * sizeof(int), MCXT_ALLOC_HUGE);
		int			iterations;
		pg_prng_state rng;
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		pg_prng_seed(&rng, (uint64) (uint32) st->options.seed);
		values[1] = Float8GetDatum(rfm_kmeans_fit(x, n, k, dims, &st->options, mean_var,
												  &rng, centroids, sizes, labels,
												  &iterations));
		values[0] = Int32GetDatum(k);
		values[2] = Float8GetDatum(rfm_kmeans_silhouette(x, labels, n, k, dims,
														 KMEANS_SILHOUETTE_SAMPLE));
		rows[k - st->k_min] = HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
	}
	get_typlenbyvalalign(elem_type, &typlen, &typbyval, &typalign);
	PG_RETURN_ARRAYTYPE_P(construct_array(rows, nrows, elem_type, typlen, typbyval, typalign));
}
