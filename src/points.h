/*-------------------------------------------------------------------------
 *
 * points.h
 *	  The state every clustering aggregate keeps (rfm_kmeans,
 *	  rfm_kmeans_scan, rfm_hclust): the aggregate's options, the
 *	  feature_names, and the feature vectors, checked as they arrive,
 *	  merged across parallel workers, serialized, and sorted so a fit
 *	  depends on the set of points only, never on the order of rows.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_POINTS_H
#define RFM_POINTS_H

#include "fmgr.h"
#include "utils/array.h"

/* the most features a customer may have */
#define RFM_POINTS_MAX_DIMS		1000

/* an aggregate family, as its messages name it */
typedef struct RfmPointsAgg
{
	const char *function;		/* rfm_kmeans */
	const char *memory_hint;	/* how to need less memory */
	Size		options_size;	/* of the aggregate's own options struct */

	/*
	 * Optional: the name of the aggregate a state's options belong to, for
	 * a family whose aggregates share their support functions (rfm_kmeans
	 * and rfm_kmeans_scan); NULL: function.
	 */
	const char *(*function_of) (const void *options);
} RfmPointsAgg;

typedef struct RfmPoints RfmPoints;

/* the transition */
extern int	rfm_points_array_length(ArrayType *features);
extern void rfm_points_check_dims(int dims);
extern RfmPoints *rfm_points_start(MemoryContext cxt, const RfmPointsAgg *agg,
								   int dims, ArrayType *names,
								   const void *options);
extern void rfm_points_add(RfmPoints *points, ArrayType *features,
						   ArrayType *names);

/* the other support functions, whole */
extern Datum rfm_points_combine(FunctionCallInfo fcinfo,
								const RfmPointsAgg *agg);
extern Datum rfm_points_serial(FunctionCallInfo fcinfo);
extern Datum rfm_points_deserial(FunctionCallInfo fcinfo,
								 const RfmPointsAgg *agg);

/* what a final function reads */
extern const void *rfm_points_options(const RfmPoints *points);
extern ArrayType *rfm_points_names(const RfmPoints *points);
extern int64 rfm_points_count(const RfmPoints *points);
extern void rfm_points_check_memory(const RfmPoints *points, Size extra);
extern int	rfm_points_dims(const RfmPoints *points);
extern const float8 *rfm_points_sorted(RfmPoints *points);
extern void rfm_points_sort_array(float8 *x, int64 n, int dims);

/* one customer's features, for a scoring function */
extern bool rfm_points_read(ArrayType *features, int dims, float8 *values);

#endif							/* RFM_POINTS_H */
