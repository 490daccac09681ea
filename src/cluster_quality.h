/*-------------------------------------------------------------------------
 *
 * cluster_quality.h
 *	  How well a partition of points fits them, to choose the number of
 *	  clusters: inertia, sampled silhouette, Calinski-Harabasz and
 *	  Davies-Bouldin, for plain or weighted points.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_CLUSTER_QUALITY_H
#define RFM_CLUSTER_QUALITY_H

/* scores of one partition */
typedef struct RfmClusterScores
{
	float8		inertia;		/* within-cluster sum of squares */
	float8		silhouette;		/* higher is better, -1..1 */
	float8		calinski_harabasz;	/* higher is better */
	float8		davies_bouldin; /* lower is better, 0 at best */
} RfmClusterScores;

extern float8 rfm_silhouette(const float8 *x, const float8 *weights,
							 const int *labels, int64 n, int k, int dims,
							 int max_sample);
extern void rfm_cluster_scores(const float8 *x, const float8 *weights,
							   const int *labels, int64 n, int k, int dims,
							   float8 extra_within, int max_sample,
							   RfmClusterScores *scores);

#endif							/* RFM_CLUSTER_QUALITY_H */
