/*-------------------------------------------------------------------------
 *
 * hclust_fit.c
 *	  Hierarchical clustering on points in memory: the linkage (Ward,
 *	  average, complete) as scipy.cluster.hierarchy.linkage computes it,
 *	  cutting the tree into k clusters, and the micro-clusters of the
 *	  two-step path for large inputs.
 *
 * The linkage is the nearest-neighbour chain (Murtagh), as scipy runs it
 * for these three methods: follow nearest neighbours from a cluster until
 * two are each other's nearest, merge them, and go on from the rest of the
 * chain.  Ties prefer the previous cluster of the chain, then the lowest
 * index; the merged cluster takes the higher index of the two; the merges
 * are then sorted by height (stably) and renumbered as scipy does, so the
 * result is scipy's linkage matrix.
 *
 * Ward needs no distance matrix: the Ward distance of two clusters follows
 * from their sizes and centroids,
 *
 *		d(a, b) = sqrt(2 |a| |b| / (|a| + |b|)) * ||centroid(a) - centroid(b)||
 *
 * (scipy's height: the square root of twice the increase in the sum of
 * squares), so it keeps one centroid per cluster: O(n * dims) memory and
 * O(n^2 * dims) time.  Average and complete linkage need the distances
 * between all pairs of points (n (n - 1) / 2 float8, 1.6 GB for 20,000
 * points), updated by the Lance-Williams formulas; callers check that
 * against rfm_segment.max_memory first (rfm_hclust_linkage_bytes).
 * Points may carry weights (the customers of a micro-cluster): they enter
 * the formulas as cluster sizes.
 *
 * The two-step path (as SPSS TwoStep or BIRCH) fits k-means with m centers
 * on an evenly spaced sample of the points, assigns every point to its
 * nearest center, and hands the m micro-clusters, weighted by their
 * customers, to the linkage.  It keeps one int per point and one prepared
 * sample, besides the points themselves (rfm_hclust_micro_bytes).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "distance.h"
#include "hclust_fit.h"
#include "points.h"

#include "miscadmin.h"
#include "utils/float.h"
#include "utils/memutils.h"

/* the two-step sample holds this many points per micro-cluster */
#define MICRO_SAMPLE_PER_CLUSTER	50

/* a merge before sorting, with the order it was found in */
typedef struct FoundMerge
{
	RfmMerge	merge;
	int64		order;
} FoundMerge;

/* the index of pair (i, j), i < j, in a condensed distance matrix */
static inline int64
condensed(int64 n, int64 i, int64 j)
{
	return n * i - (i * (i + 1)) / 2 + (j - i - 1);
}

/* the memory the linkage of leaves points needs beyond the points */
Size
rfm_hclust_linkage_bytes(int64 leaves, int dims, RfmLinkage method)
{
	Size		per_leaf = 2 * sizeof(float8) + 2 * sizeof(int32) +
		sizeof(FoundMerge) + 2 * sizeof(int32);

	if (method == RFM_LINKAGE_WARD)
		return leaves * (per_leaf + dims * sizeof(float8));
	return leaves * per_leaf + (Size) leaves * (leaves - 1) / 2 * sizeof(float8);
}

static int
merge_cmp(const void *a, const void *b)
{
	const FoundMerge *x = a;
	const FoundMerge *y = b;

	if (x->merge.height != y->merge.height)
		return x->merge.height < y->merge.height ? -1 : 1;
	return x->order < y->order ? -1 : (x->order > y->order ? 1 : 0);
}

static int32
find_root(int32 *parent, int32 x)
{
	int32		root = x;

	while (parent[root] != root)
		root = parent[root];
	while (parent[x] != root)
	{
		int32		next = parent[x];

		parent[x] = root;
		x = next;
	}
	return root;
}

/*
 * Sort the merges by height (stably) and name their clusters as scipy's
 * label() does: each merge joins the current clusters of its two leaves,
 * the smaller number on the left.
 */
static void
sort_and_label(FoundMerge *found, int64 leaves, RfmMerge *merges)
{
	int32	   *parent = palloc_extended(sizeof(int32) * (2 * leaves - 1), MCXT_ALLOC_HUGE);

	qsort(found, leaves - 1, sizeof(FoundMerge), merge_cmp);
	for (int64 i = 0; i < 2 * leaves - 1; i++)
		parent[i] = (int32) i;
	for (int64 i = 0; i < leaves - 1; i++)
	{
		int32		x = find_root(parent, found[i].merge.left);
		int32		y = find_root(parent, found[i].merge.right);

		merges[i] = found[i].merge;
		merges[i].left = Min(x, y);
		merges[i].right = Max(x, y);
		parent[x] = parent[y] = (int32) (leaves + i);
	}
	pfree(parent);
}

/*
 * The squared distance used to find neighbours: Ward's (from sizes and
 * centroids), or the stored one of average and complete linkage.
 */
typedef struct Chain
{
	int64		leaves;
	int			dims;
	RfmLinkage	method;
	float8	   *centroids;		/* Ward: leaves x dims */
	float8	   *dist;			/* average, complete: condensed, not squared */
	float8	   *weights;
} Chain;

static inline float8
squared_distance(const Chain *c, int32 a, int32 b)
{
	if (c->method == RFM_LINKAGE_WARD)
	{
		float8		wa = c->weights[a];
		float8		wb = c->weights[b];

		return 2 * wa * wb / (wa + wb) *
			rfm_dist2(c->centroids + (Size) a * c->dims, c->centroids + (Size) b * c->dims, c->dims);
	}
	else
	{
		float8		d = c->dist[a < b ? condensed(c->leaves, a, b) : condensed(c->leaves, b, a)];

		return d * d;
	}
}

/* after merging x into y (x < y): the new cluster's distances, in slot y */
static void
merge_into(Chain *c, int32 x, int32 y, const int32 *active, int64 nactive)
{
	float8		wx = c->weights[x];
	float8		wy = c->weights[y];

	if (c->method == RFM_LINKAGE_WARD)
	{
		float8	   *cx = c->centroids + (Size) x * c->dims;
		float8	   *cy = c->centroids + (Size) y * c->dims;

		for (int j = 0; j < c->dims; j++)
			cy[j] = (wx * cx[j] + wy * cy[j]) / (wx + wy);
	}
	else
	{
		for (int64 a = 0; a < nactive; a++)
		{
			int32		i = active[a];
			float8	   *dxi,
					   *dyi;

			if (i == x || i == y)
				continue;
			dxi = &c->dist[i < x ? condensed(c->leaves, i, x) : condensed(c->leaves, x, i)];
			dyi = &c->dist[i < y ? condensed(c->leaves, i, y) : condensed(c->leaves, y, i)];
			if (c->method == RFM_LINKAGE_AVERAGE)
				*dyi = (wx * *dxi + wy * *dyi) / (wx + wy);
			else
				*dyi = Max(*dxi, *dyi);
		}
	}
	c->weights[y] = wx + wy;
}

/*
 * The linkage of leaves points (leaves x dims, in the fit space) with
 * weights (NULL: 1 each): leaves - 1 merges, as scipy's linkage matrix.
 */
void
rfm_hclust_linkage(const float8 *points, const float8 *weights, int64 leaves,
				   int dims, RfmLinkage method, RfmMerge *merges)
{
	Chain		c;
	int32	   *active = palloc_extended(sizeof(int32) * leaves, MCXT_ALLOC_HUGE);
	int32	   *chain = palloc_extended(sizeof(int32) * leaves, MCXT_ALLOC_HUGE);
	FoundMerge *found = palloc_extended(sizeof(FoundMerge) * Max(leaves - 1, 1), MCXT_ALLOC_HUGE);
	int64		nactive = leaves;
	int64		chain_len = 0;

	c.leaves = leaves;
	c.dims = dims;
	c.method = method;
	c.centroids = NULL;
	c.dist = NULL;
	c.weights = palloc_extended(sizeof(float8) * leaves, MCXT_ALLOC_HUGE);
	for (int64 i = 0; i < leaves; i++)
	{
		c.weights[i] = weights ? weights[i] : 1.0;
		active[i] = (int32) i;
	}
	if (method == RFM_LINKAGE_WARD)
	{
		c.centroids = palloc_extended(sizeof(float8) * leaves * dims, MCXT_ALLOC_HUGE);
		memcpy(c.centroids, points, sizeof(float8) * leaves * dims);
	}
	else
	{
		c.dist = palloc_extended(sizeof(float8) * Max(leaves * (leaves - 1) / 2, 1), MCXT_ALLOC_HUGE);
		for (int64 i = 0; i < leaves; i++)
		{
			CHECK_FOR_INTERRUPTS();
			for (int64 j = i + 1; j < leaves; j++)
				c.dist[condensed(leaves, i, j)] = sqrt(rfm_dist2(points + i * dims, points + j * dims, dims));
		}
	}

	for (int64 k = 0; k < leaves - 1; k++)
	{
		int32		x,
					y = -1;
		float8		best;
		int64		pos;

		if (chain_len == 0)
			chain[chain_len++] = active[0];
		/* follow nearest neighbours until two are each other's */
		for (;;)
		{
			CHECK_FOR_INTERRUPTS();
			x = chain[chain_len - 1];
			if (chain_len > 1)
			{
				y = chain[chain_len - 2];
				best = squared_distance(&c, x, y);
			}
			else
				best = get_float8_infinity();
			for (int64 a = 0; a < nactive; a++)
			{
				int32		i = active[a];
				float8		d;

				if (i == x)
					continue;
				d = squared_distance(&c, x, i);
				if (d < best)
				{
					best = d;
					y = i;
				}
			}
			if (chain_len > 1 && y == chain[chain_len - 2])
				break;
			chain[chain_len++] = y;
		}
		chain_len -= 2;
		if (x > y)
		{
			int32		t = x;

			x = y;
			y = t;
		}
		found[k].merge.left = x;
		found[k].merge.right = y;
		found[k].merge.height = sqrt(best);
		found[k].merge.size = c.weights[x] + c.weights[y];
		found[k].order = k;
		merge_into(&c, x, y, active, nactive);
		/* x leaves the active clusters, which stay in index order */
		for (pos = 0; active[pos] != x; pos++)
			;
		memmove(active + pos, active + pos + 1, sizeof(int32) * (nactive - pos - 1));
		nactive--;
	}
	if (leaves > 1)
		sort_and_label(found, leaves, merges);
	if (c.centroids)
		pfree(c.centroids);
	if (c.dist)
		pfree(c.dist);
	pfree(c.weights);
	pfree(active);
	pfree(chain);
	pfree(found);
}

/* the order of clusters in a cut: more customers first, then first leaf */
typedef struct CutCluster
{
	int32		root;
	float8		size;
	int64		first_leaf;
} CutCluster;

static int
cut_cmp(const void *a, const void *b)
{
	const CutCluster *x = a;
	const CutCluster *y = b;

	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return x->first_leaf < y->first_leaf ? -1 : (x->first_leaf > y->first_leaf ? 1 : 0);
}

/*
 * Cut the tree into k clusters by undoing its last k - 1 merges: the
 * cluster (0..k-1) of every leaf, numbered by customers (most first, then
 * by first leaf), and, when heights is not NULL, the height each cluster
 * was formed at (0 for a single leaf).  Unlike scipy's fcluster, which
 * cuts at a height and may return fewer clusters when merges tie, this
 * always returns k.
 */
void
rfm_hclust_cut_tree(const RfmMerge *merges, const float8 *weights, int64 leaves,
			   int k, int *labels, float8 *heights)
{
	int32	   *parent = palloc_extended(sizeof(int32) * (2 * leaves - 1), MCXT_ALLOC_HUGE);
	int32	   *slot = palloc_extended(sizeof(int32) * (2 * leaves - 1), MCXT_ALLOC_HUGE);
	CutCluster *clusters = palloc0(sizeof(CutCluster) * k);
	int			found = 0;

	Assert(k >= 1 && k <= leaves);
	for (int64 i = 0; i < 2 * leaves - 1; i++)
	{
		parent[i] = (int32) i;
		slot[i] = -1;
	}
	for (int64 i = 0; i < leaves - k; i++)
		parent[merges[i].left] = parent[merges[i].right] = (int32) (leaves + i);
	for (int64 leaf = 0; leaf < leaves; leaf++)
	{
		int32		root = find_root(parent, (int32) leaf);

		if (slot[root] < 0)
		{
			Assert(found < k);
			slot[root] = found;
			clusters[found].root = root;
			clusters[found].first_leaf = leaf;
			found++;
		}
		clusters[slot[root]].size += weights ? weights[leaf] : 1.0;
	}
	qsort(clusters, found, sizeof(CutCluster), cut_cmp);
	for (int c = 0; c < found; c++)
	{
		slot[clusters[c].root] = c;
		if (heights)
			heights[c] = clusters[c].root >= leaves ? merges[clusters[c].root - leaves].height : 0;
	}
	for (int64 leaf = 0; leaf < leaves; leaf++)
		labels[leaf] = slot[find_root(parent, (int32) leaf)];
	pfree(parent);
	pfree(slot);
	pfree(clusters);
}

/* the memory rfm_hclust_micro needs beyond the points */
Size
rfm_hclust_micro_bytes(int64 n, int m, int dims)
{
	int64		sample = Min(n, (int64) m * MICRO_SAMPLE_PER_CLUSTER);

	return n * sizeof(int) + sample * (dims * sizeof(float8) + sizeof(float8) + sizeof(int)) +
		(Size) m * (4 * dims + 2) * sizeof(float8);
}

/*
 * Micro-clusters of n raw points (sorted, so the sample does not depend on
 * row order): k-means with m centers on an evenly spaced sample, then every
 * point to its nearest center.  Fewer than m when the sample has fewer
 * distinct points; m < 2 is an error.
 */
RfmMicro *
rfm_hclust_micro(const float8 *raw, int64 n, const RfmPrep *prep, int m,
				 const RfmKmeansOptions *options, float8 mean_var)
{
	int			dims = rfm_prep_dims(prep);
	int64		ns = Min(n, (int64) m * MICRO_SAMPLE_PER_CLUSTER);
	float8	   *sample = palloc_extended(sizeof(float8) * ns * dims, MCXT_ALLOC_HUGE);
	int		   *labels = palloc_extended(sizeof(int) * n, MCXT_ALLOC_HUGE);
	float8	   *z = palloc(sizeof(float8) * dims);
	int64	   *sample_sizes;
	RfmMicro   *micro = palloc0(sizeof(RfmMicro));
	int64		distinct = 0;
	int			iterations;
	int			kept;
	pg_prng_state rng;

	for (int64 i = 0; i < ns; i++)
		rfm_prep_apply(prep, raw + (int64) ((double) i * n / ns) * dims, sample + i * dims);
	/* sorted, equal points are neighbours (clipping may make points equal) */
	rfm_points_sort_array(sample, ns, dims);
	for (int64 i = 0; i < ns; i++)
		if (i == 0 || memcmp(sample + i * dims, sample + (i - 1) * dims, sizeof(float8) * dims) != 0)
			distinct++;
	m = (int) Min(m, distinct);
	if (m < 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("fewer than 2 distinct customers to cluster"),
				 errhint("Use more varied features.")));

	micro->centers = palloc(sizeof(float8) * m * dims);
	sample_sizes = palloc(sizeof(int64) * m);
	pg_prng_seed(&rng, (uint64) (uint32) options->seed);
	(void) rfm_kmeans_fit(sample, ns, m, dims, options, mean_var, &rng,
						  micro->centers, sample_sizes, NULL, &iterations);

	micro->means = palloc0(sizeof(float8) * m * dims);
	micro->raw_means = palloc0(sizeof(float8) * m * dims);
	micro->sizes = palloc0(sizeof(float8) * m);
	for (int64 i = 0; i < n; i++)
	{
		float8		d2;
		int			c;

		CHECK_FOR_INTERRUPTS();
		rfm_prep_apply(prep, raw + i * dims, z);
		c = rfm_kmeans_nearest(z, micro->centers, m, dims, &d2);
		labels[i] = c;
		micro->sizes[c] += 1;
		for (int j = 0; j < dims; j++)
		{
			micro->means[c * dims + j] += z[j];
			micro->raw_means[c * dims + j] += raw[i * dims + j];
		}
	}
	for (int c = 0; c < m; c++)
		for (int j = 0; j < dims; j++)
			if (micro->sizes[c] > 0)
			{
				micro->means[c * dims + j] /= micro->sizes[c];
				micro->raw_means[c * dims + j] /= micro->sizes[c];
			}
	for (int64 i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		rfm_prep_apply(prep, raw + i * dims, z);
		micro->inertia += rfm_dist2(z, micro->means + labels[i] * dims, dims);
	}

	/* a center no customer is nearest to is dropped */
	kept = 0;
	for (int c = 0; c < m; c++)
	{
		if (micro->sizes[c] == 0)
			continue;
		memmove(micro->centers + kept * dims, micro->centers + c * dims, sizeof(float8) * dims);
		memmove(micro->means + kept * dims, micro->means + c * dims, sizeof(float8) * dims);
		memmove(micro->raw_means + kept * dims, micro->raw_means + c * dims, sizeof(float8) * dims);
		micro->sizes[kept] = micro->sizes[c];
		kept++;
	}
	micro->m = kept;
	pfree(sample);
	pfree(labels);
	pfree(z);
	pfree(sample_sizes);
	return micro;
}
