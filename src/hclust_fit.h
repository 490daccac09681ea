/*-------------------------------------------------------------------------
 *
 * hclust_fit.h
 *	  Hierarchical clustering on points in memory: the linkage (Ward,
 *	  average, complete) as scipy.cluster.hierarchy.linkage computes it,
 *	  cutting the tree into k clusters, and the micro-clusters of the
 *	  two-step path for large inputs.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_HCLUST_FIT_H
#define RFM_HCLUST_FIT_H

#include "features.h"
#include "kmeans_fit.h"

typedef enum RfmLinkage
{
	RFM_LINKAGE_WARD,
	RFM_LINKAGE_AVERAGE,
	RFM_LINKAGE_COMPLETE
} RfmLinkage;

/*
 * One merge, a row of scipy's linkage matrix: clusters left < right (a leaf
 * is 0..leaves-1, the cluster made by merge i is leaves + i), the height
 * they merged at, and the customers of the new cluster.
 */
typedef struct RfmMerge
{
	int32		left;
	int32		right;
	float8		height;
	float8		size;
} RfmMerge;

/* micro-clusters of the two-step path, in the order of their centers */
typedef struct RfmMicro
{
	int			m;				/* how many (empty ones are dropped) */
	float8	   *centers;		/* m x dims: customers go to the nearest */
	float8	   *means;			/* m x dims: their mean, fit space */
	float8	   *raw_means;		/* m x dims: their mean, features' units */
	float8	   *sizes;			/* m: customers */
	float8		inertia;		/* sum of squares around their means */
} RfmMicro;

extern Size rfm_hclust_linkage_bytes(int64 leaves, int dims,
									 RfmLinkage method);
extern void rfm_hclust_linkage(const float8 *points, const float8 *weights,
							   int64 leaves, int dims, RfmLinkage method,
							   RfmMerge *merges);
extern void rfm_hclust_cut_tree(const RfmMerge *merges, const float8 *weights,
						   int64 leaves, int k, int *labels,
						   float8 *heights);
extern Size rfm_hclust_micro_bytes(int64 n, int m, int dims);
extern RfmMicro *rfm_hclust_micro(const float8 *raw, int64 n,
								  const RfmPrep *prep, int m,
								  const RfmKmeansOptions *options,
								  float8 mean_var);

#endif							/* RFM_HCLUST_FIT_H */
