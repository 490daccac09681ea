/*-------------------------------------------------------------------------
 *
 * kmeans.c
 *	  Smart segmentation: k-means over per-customer feature vectors, as an
 *	  aggregate (rfm_kmeans) returning a storable model, and the IMMUTABLE
 *	  assignment of a customer to its cluster (rfm_cluster).
 *
 * Exact k-means needs every point for every Lloyd iteration, so the state
 * keeps the feature vectors: 8 bytes per customer and feature (1M
 * customers x 3 features = 24 MB).  The final function sorts the points
 * before seeding, so the model depends on the set of points and the seed
 * only, not on the order a parallel plan delivers them in.
 *
 * Fitting: optional z-scores (population standard deviation), k-means++
 * seeding from a deterministic generator, Lloyd iterations until the
 * centroids move less than tol times the mean feature variance, n_init
 * restarts keeping the lowest inertia.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "rfm_segment.h"

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
#define KMEANS_MEMORY_HINT	"Fit on a sample of the points, such as TABLESAMPLE SYSTEM (10), and assign every point with rfm_cluster"

typedef struct KmeansOptions
{
	int32		seed;
	int32		n_init;
	int32		max_iter;
	float8		tol;
	bool		standardize;
} KmeansOptions;

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
	if (o->n_init < 1 || o->n_init > 1000 || o->max_iter < 1 || o->max_iter > 100000 ||
		!(o->tol >= 0) || isinf(o->tol))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options out of range: \"%s\"", text),
				 errhint("n_init must be 1..1000, max_iter 1..100000, tol at least 0.")));
	return;
bad:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid options \"%s\"", text),
			 errhint("Write options as 'seed=42 n_init=10 max_iter=300 tol=0.0001 standardize=true'.")));
}

static void
default_options(KmeansOptions *o)
{
	o->seed = 0;
	o->n_init = 10;
	o->max_iter = 300;
	o->tol = 1e-4;
	o->standardize = true;
}

static KmeansState *
new_state(MemoryContext cxt, int32 k, int32 dims, const KmeansOptions *o, int64 capacity)
{
	KmeansState *st = MemoryContextAllocZero(cxt, sizeof(KmeansState));

	st->k = k;
	st->dims = dims;
	st->options = *o;
	st->capacity = Max(capacity, 64);
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
		default_options(&o);
		if (has_options)
			parse_options(text_to_cstring(PG_GETARG_TEXT_PP(options_arg)), &o);
		st = new_state(aggcontext, k, n, &o, 1024);
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

static int	sort_dims;

static int
point_cmp(const void *a, const void *b)
{
	const float8 *x = a;
	const float8 *y = b;

	for (int i = 0; i < sort_dims; i++)
	{
		if (x[i] < y[i])
			return -1;
		if (x[i] > y[i])
			return 1;
	}
	return 0;
}

static inline float8
dist2(const float8 *a, const float8 *b, int dims)
{
	float8		d = 0;

	for (int i = 0; i < dims; i++)
	{
		float8		t = a[i] - b[i];

		d += t * t;
	}
	return d;
}

/* nearest centroid and its squared distance; ties go to the lower index */
static int
nearest(const float8 *x, const float8 *centroids, int k, int dims, float8 *d2)
{
	int			best = 0;
	float8		bestd = dist2(x, centroids, dims);

	for (int c = 1; c < k; c++)
	{
		float8		d = dist2(x, centroids + (Size) c * dims, dims);

		if (d < bestd)
		{
			bestd = d;
			best = c;
		}
	}
	*d2 = bestd;
	return best;
}

/* k-means++ seeding; false when fewer than k distinct points exist */
static bool
seed_centroids(const float8 *x, int64 n, int k, int dims, pg_prng_state *rng,
			   float8 *centroids, float8 *d2)
{
	int64		first = (int64) (pg_prng_double(rng) * n);

	memcpy(centroids, x + first * dims, dims * sizeof(float8));
	for (int64 i = 0; i < n; i++)
		d2[i] = dist2(x + i * dims, centroids, dims);
	for (int c = 1; c < k; c++)
	{
		float8		total = 0;
		float8		target;
		int64		pick;

		CHECK_FOR_INTERRUPTS();
		for (int64 i = 0; i < n; i++)
			total += d2[i];
		if (total <= 0)
			return false;
		target = pg_prng_double(rng) * total;
		pick = -1;
		for (int64 i = 0; i < n; i++)
		{
			target -= d2[i];
			if (target < 0)
			{
				pick = i;
				break;
			}
		}
		/* rounding may leave target >= 0: take the last point not yet a center */
		for (int64 i = n - 1; pick < 0 && i >= 0; i--)
			if (d2[i] > 0)
				pick = i;
		memcpy(centroids + (Size) c * dims, x + pick * dims, dims * sizeof(float8));
		for (int64 i = 0; i < n; i++)
		{
			float8		d = dist2(x + i * dims, centroids + (Size) c * dims, dims);

			if (d < d2[i])
				d2[i] = d;
		}
	}
	return true;
}

/* Lloyd iterations from seeded centroids; returns the inertia */
static float8
lloyd(const float8 *x, int64 n, int k, int dims, int max_iter, float8 tol,
	  float8 *centroids, int *labels, int64 *sizes, int *iterations)
{
	float8	   *sums = palloc(sizeof(float8) * k * dims);
	float8		inertia = 0;
	int			iter;

	for (iter = 1; iter <= max_iter; iter++)
	{
		float8		shift = 0;
		float8		d;

		memset(sums, 0, sizeof(float8) * k * dims);
		memset(sizes, 0, sizeof(int64) * k);
		for (int64 i = 0; i < n; i++)
		{
			int			c = nearest(x + i * dims, centroids, k, dims, &d);

			labels[i] = c;
			sizes[c]++;
			for (int j = 0; j < dims; j++)
				sums[(Size) c * dims + j] += x[i * dims + j];
		}
		for (int c = 0; c < k; c++)
		{
			if (sizes[c] == 0)
			{
				/* an empty cluster takes the point farthest from its centroid */
				int64		far = 0;
				float8		fard = -1;

				for (int64 i = 0; i < n; i++)
				{
					float8		di = dist2(x + i * dims, centroids + (Size) labels[i] * dims, dims);

					if (di > fard)
					{
						fard = di;
						far = i;
					}
				}
				shift += dist2(centroids + (Size) c * dims, x + far * dims, dims);
				memcpy(centroids + (Size) c * dims, x + far * dims, dims * sizeof(float8));
				continue;
			}
			for (int j = 0; j < dims; j++)
			{
				float8		m = sums[(Size) c * dims + j] / sizes[c];
				float8		t = m - centroids[(Size) c * dims + j];

				shift += t * t;
				centroids[(Size) c * dims + j] = m;
			}
		}
		CHECK_FOR_INTERRUPTS();
		if (shift <= tol)
			break;
	}
	*iterations = Min(iter, max_iter);

	/* final assignment and inertia against the final centroids */
	memset(sizes, 0, sizeof(int64) * k);
	for (int64 i = 0; i < n; i++)
	{
		float8		d;
		int			c = nearest(x + i * dims, centroids, k, dims, &d);

		labels[i] = c;
		sizes[c]++;
		inertia += d;
	}
	pfree(sums);
	return inertia;
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
 * The points of a state, sorted (so the fit does not depend on the order
 * rows arrived in) and z-scored with the population standard deviation
 * when standardize is on.  Returns the copy; fills center, scale and the
 * mean per-feature variance of the fit space (the scale of tol).
 */
static float8 *
prepare_points(const KmeansState *st, float8 *center, float8 *scale, float8 *mean_var)
{
	int			dims = st->dims;
	int64		n = st->n;
	float8	   *x = palloc_extended((Size) n * dims * sizeof(float8), MCXT_ALLOC_HUGE);

	memcpy(x, st->data, (Size) n * dims * sizeof(float8));
	sort_dims = dims;
	qsort(x, n, dims * sizeof(float8), point_cmp);

	*mean_var = 0;
	for (int j = 0; j < dims; j++)
	{
		float8		s = 0,
					ss = 0;

		for (int64 i = 0; i < n; i++)
			s += x[i * dims + j];
		center[j] = s / n;
		for (int64 i = 0; i < n; i++)
			ss += (x[i * dims + j] - center[j]) * (x[i * dims + j] - center[j]);
		scale[j] = sqrt(ss / n);
		/* a constant feature keeps scale 1 */
		if (scale[j] == 0 || !st->options.standardize)
			scale[j] = 1;
		if (!st->options.standardize)
			center[j] = 0;
		*mean_var += (ss / n) / (scale[j] * scale[j]) / dims;
	}
	for (int64 i = 0; i < n; i++)
		for (int j = 0; j < dims; j++)
			x[i * dims + j] = (x[i * dims + j] - center[j]) / scale[j];
	return x;
}

/*
 * n_init restarts of k-means++ and Lloyd; the best centroids (fit space),
 * sizes and labels (when wanted) are returned with the lowest inertia.
 */
static float8
fit(const float8 *x, int64 n, int k, int dims, const KmeansOptions *o, float8 mean_var,
	pg_prng_state *rng, float8 *best_centroids, int64 *best_sizes, int *best_labels,
	int *best_iter)
{
	float8	   *centroids = palloc(sizeof(float8) * k * dims);
	int64	   *sizes = palloc(sizeof(int64) * k);
	float8	   *d2 = palloc_extended(n * sizeof(float8), MCXT_ALLOC_HUGE);
	int		   *labels = palloc_extended(n * sizeof(int), MCXT_ALLOC_HUGE);
	float8		best = -1;

	for (int run = 0; run < o->n_init; run++)
	{
		int			iterations;
		float8		inertia;

		if (!seed_centroids(x, n, k, dims, rng, centroids, d2))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("fewer than %d distinct customers to cluster", k),
					 errhint("Use fewer clusters, or more varied features.")));
		inertia = lloyd(x, n, k, dims, o->max_iter, o->tol * mean_var,
						centroids, labels, sizes, &iterations);
		if (best < 0 || inertia < best)
		{
			best = inertia;
			*best_iter = iterations;
			memcpy(best_centroids, centroids, sizeof(float8) * k * dims);
			memcpy(best_sizes, sizes, sizeof(int64) * k);
			if (best_labels)
				memcpy(best_labels, labels, sizeof(int) * n);
		}
	}
	pfree(centroids);
	pfree(sizes);
	pfree(d2);
	pfree(labels);
	return best;
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
	Datum		values[12];
	bool		nulls[12] = {0};
	Datum	   *size_datums;
	int			dims2[2];
	int			lbs[2] = {1, 1};
	Datum	   *cdatums;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (KmeansState *) PG_GETARG_POINTER(0);
	k = st->k;
	dims = st->dims;
	n = st->n;
	check_k(k, n);
	center = palloc(dims * sizeof(float8));
	scale = palloc(dims * sizeof(float8));
	best_centroids = palloc(sizeof(float8) * k * dims);
	best_sizes = palloc(sizeof(int64) * k);

	x = prepare_points(st, center, scale, &mean_var);
	pg_prng_seed(&rng, (uint64) (uint32) st->options.seed);
	best_inertia = fit(x, n, k, dims, &st->options, mean_var, &rng, best_centroids,
					   best_sizes, NULL, &best_iter);

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

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "rfm_kmeans must return a composite type");
	tupdesc = BlessTupleDesc(tupdesc);
	values[0] = Int32GetDatum(k);
	values[1] = Int32GetDatum(dims);
	values[2] = Int64GetDatum(n);
	values[3] = PointerGetDatum(construct_md_array(cdatums, NULL, 2, dims2, lbs, FLOAT8OID,
												   sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[4] = PointerGetDatum(float8_array(center, dims));
	values[5] = PointerGetDatum(float8_array(scale, dims));
	values[6] = Float8GetDatum(best_inertia);
	values[7] = Int32GetDatum(best_iter);
	values[8] = PointerGetDatum(construct_array(size_datums, k, INT8OID, sizeof(int64),
												FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[9] = Int32GetDatum(st->options.seed);
	values[10] = Int32GetDatum(st->options.n_init);
	values[11] = BoolGetDatum(st->options.standardize);
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

	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	m = palloc0(sizeof(ClusterModel));
	m->k = DatumGetInt32(GetAttributeByNum(t, 1, &isnull));
	m->dims = isnull ? 0 : DatumGetInt32(GetAttributeByNum(t, 2, &isnull));
	if (isnull || m->k < 1 || m->dims < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("malformed rfm_kmeans_model"),
				 errhint("Pass a model returned by rfm_kmeans.")));
	centroids = model_array(t, 4, m->k * m->dims);
	center = model_array(t, 5, m->dims);
	scale = model_array(t, 6, m->dims);
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
	PG_RETURN_INT32(nearest(z, m->centroids, m->k, m->dims, &d) + 1);
}

/* mean distance from point i to the sampled points of each cluster */
static float8
silhouette(const float8 *x, const int *labels, const int64 *sample, int ns, int k, int dims)
{
	float8	   *sum = palloc(sizeof(float8) * k);
	int64	   *cnt = palloc(sizeof(int64) * k);
	float8		total = 0;

	for (int a = 0; a < ns; a++)
	{
		const float8 *xa = x + sample[a] * dims;
		int			la = labels[sample[a]];
		float8		own,
					other = -1;

		memset(sum, 0, sizeof(float8) * k);
		memset(cnt, 0, sizeof(int64) * k);
		for (int b = 0; b < ns; b++)
		{
			if (b == a)
				continue;
			sum[labels[sample[b]]] += sqrt(dist2(xa, x + sample[b] * dims, dims));
			cnt[labels[sample[b]]]++;
		}
		if (cnt[la] == 0)
			continue;			/* a singleton scores 0, as in scikit-learn */
		own = sum[la] / cnt[la];
		for (int c = 0; c < k; c++)
			if (c != la && cnt[c] > 0 && (other < 0 || sum[c] / cnt[c] < other))
				other = sum[c] / cnt[c];
		if (other >= 0 && Max(own, other) > 0)
			total += (other - own) / Max(own, other);
	}
	pfree(sum);
	pfree(cnt);
	return ns > 0 ? total / ns : 0;
}

/*
 * rfm_kmeans_scan final: for each k from k_min to k_max, the inertia of
 * the best of n_init fits and the mean silhouette over an evenly spaced
 * sample of at most 1000 customers (exact below that).  Each k is seeded
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
	int64	   *sample;
	int			ns;
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
	x = prepare_points(st, center, scale, &mean_var);

	ns = (int) Min(n, 1000);
	sample = palloc(sizeof(int64) * ns);
	for (int i = 0; i < ns; i++)
		sample[i] = (int64) ((double) i * n / ns);

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
		values[1] = Float8GetDatum(fit(x, n, k, dims, &st->options, mean_var, &rng,
									   centroids, sizes, labels, &iterations));
		values[0] = Int32GetDatum(k);
		values[2] = Float8GetDatum(silhouette(x, labels, sample, ns, k, dims));
		rows[k - st->k_min] = HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
	}
	get_typlenbyvalalign(elem_type, &typlen, &typbyval, &typalign);
	PG_RETURN_ARRAYTYPE_P(construct_array(rows, nrows, elem_type, typlen, typbyval, typalign));
}
