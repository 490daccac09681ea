/*-------------------------------------------------------------------------
 *
 * kmeans_fit.c
 *	  k-means on points in memory: k-means++ seeding, Lloyd iterations and
 *	  restarts.
 *
 * Points are rows of a dense n x dims array of float8, prepared (features.c)
 * and sorted (points.c) before they come here, so a fit depends on the set
 * of points and the seed only, not on the order a parallel plan delivered
 * them in.  Nothing here reads SQL values: kmeans.c turns the aggregates'
 * input into points and the fit into a model, and the two-step path of
 * hclust_fit.c fits its micro-clusters here.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "distance.h"
#include "kmeans_fit.h"

#include "miscadmin.h"
#include "utils/memutils.h"

/* a partial distance is compared with the best so far this often */
#define NEAREST_CHECK_DIMS	16

/*
 * The squared distance, or, once the partial sum reaches bound, that
 * partial sum: a centroid already farther than the best one need not be
 * measured to the end.  The terms are added in rfm_dist2's order, so a
 * distance measured to the end is rfm_dist2's to the last bit, and a
 * partial sum never decides otherwise (adding squares never decreases it).
 */
static inline float8
dist2_below(const float8 *a, const float8 *b, int dims, float8 bound)
{
	float8		d = 0;
	int			i = 0;

	while (i < dims)
	{
		int			end = Min(i + NEAREST_CHECK_DIMS, dims);

		for (; i < end; i++)
		{
			float8		t = a[i] - b[i];

			d += t * t;
		}
		if (d >= bound)
			break;
	}
	return d;
}

/* nearest centroid and its squared distance; ties go to the lower index */
int
rfm_kmeans_nearest(const float8 *x, const float8 *centroids, int k, int dims,
				   float8 *d2)
{
	int			best = 0;
	float8		bestd = rfm_dist2(x, centroids, dims);

	for (int c = 1; c < k; c++)
	{
		float8		d = dist2_below(x, centroids + (Size) c * dims, dims, bestd);

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
		d2[i] = rfm_dist2(x + i * dims, centroids, dims);
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
			float8		d = rfm_dist2(x + i * dims, centroids + (Size) c * dims, dims);

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
			int			c = rfm_kmeans_nearest(x + i * dims, centroids, k, dims, &d);

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
					float8		di = rfm_dist2(x + i * dims, centroids + (Size) labels[i] * dims, dims);

					if (di > fard)
					{
						fard = di;
						far = i;
					}
				}
				shift += rfm_dist2(centroids + (Size) c * dims, x + far * dims, dims);
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
		int			c = rfm_kmeans_nearest(x + i * dims, centroids, k, dims, &d);

		labels[i] = c;
		sizes[c]++;
		inertia += d;
	}
	pfree(sums);
	return inertia;
}

/*
 * n_init restarts of k-means++ and Lloyd on prepared points; the best
 * centroids (fit space), sizes and labels (when labels is not NULL) are
 * returned with the lowest inertia.
 */
float8
rfm_kmeans_fit(const float8 *x, int64 n, int k, int dims,
			   const RfmKmeansOptions *o, float8 mean_var, pg_prng_state *rng,
			   float8 *best_centroids, int64 *best_sizes, int *best_labels,
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
