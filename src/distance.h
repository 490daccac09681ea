/*-------------------------------------------------------------------------
 *
 * distance.h
 *	  The squared Euclidean distance every clustering module measures with,
 *	  in one place so that k-means, the linkage and the quality scores sum
 *	  in the same order and agree to the last bit.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_DISTANCE_H
#define RFM_DISTANCE_H

static inline float8
rfm_dist2(const float8 *a, const float8 *b, int dims)
{
	float8		d = 0;

	for (int i = 0; i < dims; i++)
	{
		float8		t = a[i] - b[i];

		d += t * t;
	}
	return d;
}

#endif							/* RFM_DISTANCE_H */
