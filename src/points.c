/*-------------------------------------------------------------------------
 *
 * points.c
 *	  The feature vectors a clustering aggregate collects (rfm_kmeans,
 *	  rfm_kmeans_scan, rfm_hclust): checked as they arrive, merged across
 *	  parallel workers, serialized, and sorted so a fit depends on the set
 *	  of points only, never on the order a plan delivered them in.
 *
 * Exact clustering needs every point at once, so the buffer keeps them all:
 * 8 bytes per customer and feature (1M customers x 3 features = 24 MB), in
 * a buffer that doubles, counted against rfm_segment.max_memory.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "guc.h"
#include "points.h"

#include "catalog/pg_type.h"
#include "libpq/pqformat.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

/* the buffer holds at least this many points, then doubles */
#define POINTS_MIN_CAPACITY		64

struct RfmPoints
{
	int			dims;
	int64		n;
	int64		capacity;		/* points */
	MemoryContext cxt;
	const char *function;		/* for messages */
	const char *memory_hint;
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

/*
 * An empty buffer for points of dims features, with room for capacity of
 * them, in cxt.  function and memory_hint word the error past
 * rfm_segment.max_memory.
 */
RfmPoints *
rfm_points_create(MemoryContext cxt, int dims, int64 capacity,
				  const char *function, const char *memory_hint)
{
	RfmPoints  *p = MemoryContextAllocZero(cxt, sizeof(RfmPoints));

	p->dims = dims;
	p->cxt = cxt;
	p->function = function;
	p->memory_hint = memory_hint;
	p->capacity = Max(capacity, POINTS_MIN_CAPACITY);
	rfm_check_memory(p->capacity * dims * sizeof(float8), function, memory_hint);
	p->data = MemoryContextAllocHuge(cxt, p->capacity * dims * sizeof(float8));
	return p;
}

static void
reserve(RfmPoints *p, int64 extra)
{
	if (p->n + extra <= p->capacity)
		return;
	while (p->n + extra > p->capacity)
		p->capacity *= 2;
	rfm_check_memory(p->capacity * p->dims * sizeof(float8), p->function,
					 p->memory_hint);
	p->data = repalloc_huge(p->data, p->capacity * p->dims * sizeof(float8));
}

/*
 * Add one customer's features: as many as the buffer's dims, none NULL,
 * all finite.
 */
void
rfm_points_add(RfmPoints *p, ArrayType *features)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;

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

/* append the points of other, which must have as many features */
void
rfm_points_append(RfmPoints *p, const RfmPoints *other)
{
	if (other->dims != p->dims)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("every features array must have %d elements, not %d", p->dims, other->dims)));
	reserve(p, other->n);
	memcpy(p->data + p->n * p->dims, other->data, other->n * other->dims * sizeof(float8));
	p->n += other->n;
}

/*
 * Append the points to buf, which a parallel worker sends to the leader as
 * one bytea: that is at most 1 GB, so a larger share is a clear error.
 */
void
rfm_points_serialize(StringInfo buf, const RfmPoints *p)
{
	Size		bytes = (Size) p->n * p->dims * sizeof(float8);

	if (bytes >= MaxAllocSize - (Size) buf->len - VARHDRSZ - 2 * sizeof(int64))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s cannot pass %lld customers of %d features between parallel workers",
						p->function, (long long) p->n, p->dims),
				 errdetail("A worker's share would take %zu MB, more than the 1 GB a value may hold.",
						   bytes / (1024 * 1024)),
				 errhint("Run the fit without parallel workers: SET max_parallel_workers_per_gather = 0.")));
	pq_sendint32(buf, p->dims);
	pq_sendint64(buf, p->n);
	for (int64 i = 0; i < p->n * p->dims; i++)
		pq_sendfloat8(buf, p->data[i]);
}

/* read what rfm_points_serialize wrote: the rest of buf */
RfmPoints *
rfm_points_deserialize(MemoryContext cxt, StringInfo buf, const char *function,
					   const char *memory_hint)
{
	int			dims = pq_getmsgint(buf, 4);
	int64		n = pq_getmsgint64(buf);
	RfmPoints  *p;

	if (dims < 1 || dims > RFM_POINTS_MAX_DIMS || n < 0 ||
		(Size) (buf->len - buf->cursor) != (Size) n * dims * sizeof(float8))
		elog(ERROR, "corrupt %s state", function);
	p = rfm_points_create(cxt, dims, n, function, memory_hint);
	for (int64 i = 0; i < n * dims; i++)
		p->data[i] = pq_getmsgfloat8(buf);
	p->n = n;
	return p;
}

int64
rfm_points_count(const RfmPoints *p)
{
	return p->n;
}

int
rfm_points_dims(const RfmPoints *p)
{
	return p->dims;
}

/*
 * The points, sorted in place: a fit on them depends on the set of points
 * only.  Sorting does not change what the buffer holds (a set), so an
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
