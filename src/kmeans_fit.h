/*-------------------------------------------------------------------------
 *
 * kmeans_fit.h
 *	  k-means on points in memory: k-means++ seeding, Lloyd iterations and
 *	  restarts.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_KMEANS_FIT_H
#define RFM_KMEANS_FIT_H

#include "common/pg_prng.h"

typedef struct RfmKmeansOptions
{
	int32		seed;
	int32		n_init;			/* restarts; the lowest inertia wins */
	int32		max_iter;		/* Lloyd iterations per restart */
	float8		tol;			/* stop when centroids move less, relative
								 * to the mean feature variance */
	bool		standardize;	/* z-scores with the population std dev */
} RfmKmeansOptions;

extern float8 rfm_kmeans_fit(const float8 *x, int64 n, int k, int dims,
							 const RfmKmeansOptions *options, float8 mean_var,
							 pg_prng_state *rng, float8 *centroids,
							 int64 *sizes, int *labels, int *iterations);
extern int	rfm_kmeans_nearest(const float8 *x, const float8 *centroids, int k,
							   int dims, float8 *d2);

#endif							/* RFM_KMEANS_FIT_H */
