/*-------------------------------------------------------------------------
 *
 * points.c
 *	  The state every clustering aggregate keeps (rfm_kmeans,
 *	  rfm_kmeans_scan, rfm_hclust): the aggregate's options, the
 *	  feature_names, and the feature vectors, checked as they arrive,
 *	  merged across parallel workers, serialized, and sorted so a fit
 *	  depends on the set of points only, never on the order a plan
 *	  delivered them in.
 *
 * The options are the aggregate's own struct, kept and sent as bytes: the
 * aggregates differ in their options only, so the combine, serial and
 * deserial functions here serve them all.  Partial states must have the
 * same options and names; parallel workers of one server share the
 * struct's layout.
 *
 * Exact clustering needs every point at once, so the state keeps them all:
 * 8 bytes per customer and feature (1M customers x 3 features = 24 MB), in
 * a buffer that doubles, counted against rfm_segment.max_memory.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "features.h"
#include "guc.h"
#include "points.h"

#include "catalog/pg_type.h"
#include "libpq/pqformat.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

/* the first field of a serialized state */
#define POINTS_STATE_VERSION	1

/* the buffer holds at least this many points, then doubles */
#define POINTS_MIN_CAPACITY		64

/* the buffer of the first row's state */
#define POINTS_INITIAL_CAPACITY 1024

struct RfmPoints
{
	const RfmPointsAgg *agg;
	int			dims;
	int64		n;
	int64		capacity;		/* points */
	ArrayType  *names;			/* feature_names, or NULL */
	void	   *options;		/* agg->options_size bytes */
	float8	   *data;			/* n x dims */
};

/* lexicographic order of points; arg is the number of dimensions */
static int
point_cmp(const void *a, const void *b, void *arg)
{
	const float8 *x = a;
	const float8 *y = b;
	int			dims = *(const int *) arg;

	for (int i = 0; i < dims; i++)
	{
		if (x[i] < y[i])
			return -1;
		if (x[i] > y[i])
			return 1;
	}
	return 0;
}

/*
 * The number of elements of a features array, which must be one-dimensional
 * (its elements are checked as they are added).
 */
int
rfm_points_array_length(ArrayType *features)
{
	if (ARR_NDIM(features) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("features must be a one-dimensional array")));
	return ArrayGetNItems(ARR_NDIM(features), ARR_DIMS(features));
}

/* a customer has 1..RFM_POINTS_MAX_DIMS features */
void
rfm_points_check_dims(int dims)
{
	if (dims < 1 || dims > RFM_POINTS_MAX_DIMS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("features must have between 1 and %d elements, not %d", RFM_POINTS_MAX_DIMS, dims)));
}

/* the aggregate a state is of, as messages name it */
static const char *
points_function(const RfmPointsAgg *agg, const void *options)
{
	return agg->function_of != NULL ? agg->function_of(options) : agg->function;
}

/* an empty state with room for capacity points, in cxt */
static RfmPoints *
create(MemoryContext cxt, const RfmPointsAgg *agg, int dims, int64 capacity,
	   ArrayType *names, const void *options)
{
	RfmPoints  *p = MemoryContextAllocZero(cxt, sizeof(RfmPoints));

	p->agg = agg;
	p->dims = dims;
	p->options = MemoryContextAlloc(cxt, agg->options_size);
	memcpy(p->options, options, agg->options_size);
	if (names != NULL)
	{
		p->names = MemoryContextAlloc(cxt, VARSIZE(names));
		memcpy(p->names, names, VARSIZE(names));
	}
	p->capacity = Max(capacity, POINTS_MIN_CAPACITY);
	/* the copy: options read from a serialized state need not be aligned */
	rfm_check_memory(p->capacity * dims * sizeof(float8), points_function(agg, p->options),
					 agg->memory_hint);
	p->data = MemoryContextAllocHuge(cxt, p->capacity * dims * sizeof(float8));
	return p;
}

/*
 * The state of the first row: dims features (rfm_points_check_dims),
 * feature_names (NULL: unnamed; checked here) and the aggregate's options,
 * in the aggregate's context cxt.
 */
RfmPoints *
rfm_points_start(MemoryContext cxt, const RfmPointsAgg *agg, int dims,
				 ArrayType *names, const void *options)
{
	if (names != NULL)
		(void) rfm_prep_create(names, dims, true);
	return create(cxt, agg, dims, POINTS_INITIAL_CAPACITY, names, options);
}

static void
reserve(RfmPoints *p, int64 extra)
{
	if (p->n + extra <= p->capacity)
		return;
	while (p->n + extra > p->capacity)
		p->capacity *= 2;
	rfm_check_memory(p->capacity * p->dims * sizeof(float8),
					 points_function(p->agg, p->options), p->agg->memory_hint);
	p->data = repalloc_huge(p->data, p->capacity * p->dims * sizeof(float8));
}

/* feature_names must be the same for every row and every partial state */
static void
check_same_names(const ArrayType *kept, const ArrayType *names)
{
	if (kept == names)
		return;
	if (kept == NULL || names == NULL || VARSIZE(kept) != VARSIZE(names) ||
		memcmp(kept, names, VARSIZE(names)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("feature_names must be the same for every row"),
				 errhint("Pass the names as a constant array.")));
}

/*
 * Add one customer's features: as many as the state's dims, none NULL, all
 * finite, with the same feature_names as the first row.
 */
void
rfm_points_add(RfmPoints *p, ArrayType *features, ArrayType *names)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	check_same_names(p->names, names);
	deconstruct_array(features, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL,
					  TYPALIGN_DOUBLE, &elems, &nulls, &n);
	if (n != p->dims)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("every features array must have %d elements, not %d", p->dims, n),
				 errhint("Build the same features, in the same order, for every customer.")));
	reserve(p, 1);
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
		p->data[p->n * p->dims + i] = v;
	}
	p->n++;
	pfree(elems);
	pfree(nulls);
}

/*
 * Merge partial states of the aggregate agg: the second into the first,
 * or into a new one.  Not STRICT, as the state is internal.
 */
Datum
rfm_points_combine(FunctionCallInfo fcinfo, const RfmPointsAgg *agg)
{
	MemoryContext aggcontext;
	RfmPoints  *p;
	RfmPoints  *other;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "%s combine function called in non-aggregate context", agg->function);
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_POINTER(PG_GETARG_POINTER(0));
	}
	other = (RfmPoints *) PG_GETARG_POINTER(1);
	if (PG_ARGISNULL(0))
		p = create(aggcontext, agg, other->dims, other->n, other->names, other->options);
	else
	{
		p = (RfmPoints *) PG_GETARG_POINTER(0);
		if (memcmp(p->options, other->options, agg->options_size) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the options of %s must be the same for every row",
							points_function(agg, p->options))));
		check_same_names(p->names, other->names);
		if (other->dims != p->dims)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("every features array must have %d elements, not %d", p->dims, other->dims)));
	}
	reserve(p, other->n);
	memcpy(p->data + p->n * p->dims, other->data, other->n * other->dims * sizeof(float8));
	p->n += other->n;
	PG_RETURN_POINTER(p);
}

/*
 * The state as bytea, which a parallel worker sends to the leader: that is
 * at most 1 GB, so a larger share is a clear error.
 */
Datum
rfm_points_serial(FunctionCallInfo fcinfo)
{
	RfmPoints  *p = (RfmPoints *) PG_GETARG_POINTER(0);
	Size		bytes = (Size) p->n * p->dims * sizeof(float8);
	StringInfoData buf;

	if (bytes >= MaxAllocSize - p->agg->options_size - (p->names ? VARSIZE(p->names) : 0) -
		VARHDRSZ - 4 * sizeof(int64))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s cannot pass %lld customers of %d features between parallel workers",
						points_function(p->agg, p->options), (long long) p->n, p->dims),
				 errdetail("A worker's share would take %zu MB, more than the 1 GB a value may hold.",
						   bytes / (1024 * 1024)),
				 errhint("Run the fit without parallel workers: SET max_parallel_workers_per_gather = 0.")));
	pq_begintypsend(&buf);
	pq_sendint32(&buf, POINTS_STATE_VERSION);
	pq_sendint32(&buf, (int32) p->agg->options_size);
	pq_sendbytes(&buf, p->options, p->agg->options_size);
	pq_sendint32(&buf, p->names == NULL ? 0 : VARSIZE(p->names));
	if (p->names != NULL)
		pq_sendbytes(&buf, (char *) p->names, VARSIZE(p->names));
	pq_sendint32(&buf, p->dims);
	pq_sendint64(&buf, p->n);
	for (int64 i = 0; i < p->n * p->dims; i++)
		pq_sendfloat8(&buf, p->data[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* read what rfm_points_serial wrote, for the aggregate agg */
Datum
rfm_points_deserial(FunctionCallInfo fcinfo, const RfmPointsAgg *agg)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	MemoryContext aggcontext;
	StringInfoData buf;
	const char *options;
	ArrayType  *names = NULL;
	int			names_len;
	int			dims;
	int64		n;
	RfmPoints  *p;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "%s deserial function called in non-aggregate context", agg->function);
	buf.data = VARDATA_ANY(data);
	buf.len = VARSIZE_ANY_EXHDR(data);
	buf.maxlen = buf.len;
	buf.cursor = 0;
	if (pq_getmsgint(&buf, 4) != POINTS_STATE_VERSION ||
		pq_getmsgint(&buf, 4) != (uint32) agg->options_size)
		elog(ERROR, "unsupported %s state version", agg->function);
	options = pq_getmsgbytes(&buf, agg->options_size);
	names_len = pq_getmsgint(&buf, 4);
	if (names_len > 0)
	{
		names = palloc(names_len);
		memcpy(names, pq_getmsgbytes(&buf, names_len), names_len);
		if (VARSIZE(names) != (uint32) names_len)
			elog(ERROR, "corrupt %s state", agg->function);
	}
	dims = pq_getmsgint(&buf, 4);
	n = pq_getmsgint64(&buf);
	if (dims < 1 || dims > RFM_POINTS_MAX_DIMS || n < 0 ||
		(Size) (buf.len - buf.cursor) != (Size) n * dims * sizeof(float8))
		elog(ERROR, "corrupt %s state", agg->function);
	p = create(aggcontext, agg, dims, n, names, options);
	for (int64 i = 0; i < n * dims; i++)
		p->data[i] = pq_getmsgfloat8(&buf);
	p->n = n;
	PG_RETURN_POINTER(p);
}

/* the aggregate's options, as the first row gave them */
const void *
rfm_points_options(const RfmPoints *p)
{
	return p->options;
}

/* feature_names, or NULL */
ArrayType *
rfm_points_names(const RfmPoints *p)
{
	return p->names;
}

int64
rfm_points_count(const RfmPoints *p)
{
	return p->n;
}

/*
 * Errors (53400) when the points held and extra bytes more, such as a
 * prepared copy a fit makes, would pass rfm_segment.max_memory.
 */
void
rfm_points_check_memory(const RfmPoints *p, Size extra)
{
	rfm_check_memory((Size) p->capacity * p->dims * sizeof(float8) + extra,
					 points_function(p->agg, p->options), p->agg->memory_hint);
}

int
rfm_points_dims(const RfmPoints *p)
{
	return p->dims;
}

/*
 * The points, sorted in place: a fit on them depends on the set of points
 * only.  Sorting does not change what the state holds (a set), so an
 * aggregate's final function may call this and stay read-only.
 */
const float8 *
rfm_points_sorted(RfmPoints *p)
{
	rfm_points_sort_array(p->data, p->n, p->dims);
	return p->data;
}

/* sort n points of dims features (n x dims) in lexicographic order */
void
rfm_points_sort_array(float8 *x, int64 n, int dims)
{
	qsort_arg(x, n, dims * sizeof(float8), point_cmp, &dims);
}

/*
 * One customer's features, to score with a model of dims features: false
 * when one is NULL (no cluster), an error when one is not finite.
 */
bool
rfm_points_read(ArrayType *features, int dims, float8 *values)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	deconstruct_array(features, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &nulls, &n);
	if (ARR_NDIM(features) > 1 || n != dims)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("features must have %d elements, as the model, not %d", dims, n)));
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			return false;
		values[i] = DatumGetFloat8(elems[i]);
		if (isnan(values[i]) || isinf(values[i]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("features must be finite numbers")));
	}
	return true;
}
