/*-------------------------------------------------------------------------
 *
 * points.h
 *	  The feature vectors a clustering aggregate collects: checked as they
 *	  arrive, merged across parallel workers, serialized, and sorted so a
 *	  fit depends on the set of points only, never on the order of rows.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_POINTS_H
#define RFM_POINTS_H

#include "lib/stringinfo.h"
#include "utils/array.h"

/* the most features a customer may have */
#define RFM_POINTS_MAX_DIMS		1000

typedef struct RfmPoints RfmPoints;

extern int	rfm_points_array_length(ArrayType *features);
extern RfmPoints *rfm_points_create(MemoryContext cxt, int dims,
									int64 capacity, const char *function,
									const char *memory_hint);
extern void rfm_points_add(RfmPoints *points, ArrayType *features);
extern void rfm_points_append(RfmPoints *points, const RfmPoints *other);
extern void rfm_points_serialize(StringInfo buf, const RfmPoints *points);
extern RfmPoints *rfm_points_deserialize(MemoryContext cxt, StringInfo buf,
										 const char *function,
										 const char *memory_hint);
extern int64 rfm_points_count(const RfmPoints *points);
extern int	rfm_points_dims(const RfmPoints *points);
extern const float8 *rfm_points_sorted(RfmPoints *points);
extern void rfm_points_sort_array(float8 *x, int64 n, int dims);

#endif							/* RFM_POINTS_H */
