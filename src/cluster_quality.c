/*-------------------------------------------------------------------------
 *
 * cluster_quality.c
 *	  How well a partition of points fits them, to choose the number of
 *	  clusters: inertia, sampled silhouette, Calinski-Harabasz and
 *	  Davies-Bouldin (as scikit-learn defines them), in the space the
 *	  points were clustered in.
 *
 * Points may carry weights: a two-step hierarchical model scores its
 * micro-clusters, each weighted by its customers (NULL weights: 1 each).
 * The silhouette is measured on an evenly spaced sample of at most
 * max_sample points, as it costs the square of their number; the other
 * scores are exact and linear in the points.  Memory: O(k * dims).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "cluster_quality.h"
#include "distance.h"

#include "miscadmin.h"

#define WEIGHT(w, i)	((w) ? (w)[i] : 1.0)

/*
 * The weighted mean silhouette over an evenly spaced sample of at most
 * max_sample points (all of them below that): for each, its mean distance
 * to the other sampled points of its cluster against that to the nearest
 * other cluster, each point counted with its weight.  A point alone in its
 * cluster scores 0, as in scikit-learn.
 */
float8
rfm_silhouette(const float8 *x, const float8 *weights, const int *labels,
			   int64 n, int k, int dims, int max_sample)
{
	int			ns = (int) Min(n, max_sample);
	int64	   *sample = palloc(sizeof(int64) * Max(ns, 1));
	float8	   *sum = palloc(sizeof(float8) * k);
	float8	   *cnt = palloc(sizeof(float8) * k);
	float8		total = 0;
	float8		total_weight = 0;

	for (int i = 0; i < ns; i++)
		sample[i] = (int64) ((double) i * n / ns);
	for (int a = 0; a < ns; a++)
	{
		const float8 *xa = x + sample[a] * dims;
		int			la = labels[sample[a]];
		float8		own,
					other = -1;

		CHECK_FOR_INTERRUPTS();
		total_weight += WEIGHT(weights, sample[a]);
		memset(sum, 0, sizeof(float8) * k);
		memset(cnt, 0, sizeof(float8) * k);
		for (int b = 0; b < ns; b++)
		{
			float8		wb = WEIGHT(weights, sample[b]);

			if (b == a)
				continue;
			sum[labels[sample[b]]] += wb * sqrt(rfm_dist2(xa, x + sample[b] * dims, dims));
			cnt[labels[sample[b]]] += wb;
		}
		if (cnt[la] == 0)
			continue;
		own = sum[la] / cnt[la];
		for (int c = 0; c < k; c++)
			if (c != la && cnt[c] > 0 && (other < 0 || sum[c] / cnt[c] < other))
				other = sum[c] / cnt[c];
		if (other >= 0 && Max(own, other) > 0)
			total += WEIGHT(weights, sample[a]) * (other - own) / Max(own, other);
	}
	pfree(sample);
	pfree(sum);
	pfree(cnt);
	return ns > 0 ? total / total_weight : 0;
}

/*
 * Inertia, silhouette, Calinski-Harabasz and Davies-Bouldin of a partition
 * of n (weighted) points into clusters 0..k-1.  extra_within is a
 * within-cluster sum of squares the points do not show (a two-step model's
 * spread inside its micro-clusters), added to the inertia.  Empty clusters
 * are left out of Davies-Bouldin, as scikit-learn sees only the labels
 * present.
 */
void
rfm_cluster_scores(const float8 *x, const float8 *weights, const int *labels,
				   int64 n, int k, int dims, float8 extra_within,
				   int max_sample, RfmClusterScores *scores)
{
	float8	   *centroids = palloc0(sizeof(float8) * k * dims);
	float8	   *size = palloc0(sizeof(float8) * k);
	float8	   *spread = palloc0(sizeof(float8) * k);
	float8	   *mean = palloc0(sizeof(float8) * dims);
	float8		total = 0,
				within = 0,
				between = 0,
				db = 0;
	int			present = 0;
	bool		all_spread_zero = true;
	bool		all_apart_zero = true;

	for (int64 i = 0; i < n; i++)
	{
		float8		w = WEIGHT(weights, i);

		size[labels[i]] += w;
		total += w;
		for (int j = 0; j < dims; j++)
		{
			centroids[labels[i] * dims + j] += w * x[i * dims + j];
			mean[j] += w * x[i * dims + j];
		}
	}
	for (int j = 0; j < dims; j++)
		mean[j] /= total;
	for (int c = 0; c < k; c++)
		if (size[c] > 0)
		{
			present++;
			for (int j = 0; j < dims; j++)
				centroids[c * dims + j] /= size[c];
			between += size[c] * rfm_dist2(centroids + c * dims, mean, dims);
		}
	for (int64 i = 0; i < n; i++)
	{
		float8		d2 = rfm_dist2(x + i * dims, centroids + labels[i] * dims, dims);

		within += WEIGHT(weights, i) * d2;
		spread[labels[i]] += WEIGHT(weights, i) * sqrt(d2);
	}
	within += extra_within;

	/* Davies-Bouldin: each cluster against its most similar other */
	for (int c = 0; c < k; c++)
		if (size[c] > 0)
		{
			spread[c] /= size[c];
			if (spread[c] != 0)
				all_spread_zero = false;
		}
	for (int c = 0; c < k; c++)
	{
		float8		worst = 0;

		if (size[c] == 0)
			continue;
		for (int o = 0; o < k; o++)
		{
			float8		apart;

			if (o == c || size[o] == 0)
				continue;
			apart = sqrt(rfm_dist2(centroids + c * dims, centroids + o * dims, dims));
			if (apart == 0)
				continue;
			all_apart_zero = false;
			worst = Max(worst, (spread[c] + spread[o]) / apart);
		}
		db += worst;
	}

	scores->inertia = within;
	scores->silhouette = rfm_silhouette(x, weights, labels, n, k, dims, max_sample);
	scores->calinski_harabasz = within == 0 ? 1.0 :
		between * (total - present) / (within * (present - 1));
	scores->davies_bouldin = (all_spread_zero || all_apart_zero) ? 0 : db / present;
	pfree(centroids);
	pfree(size);
	pfree(spread);
	pfree(mean);
}
