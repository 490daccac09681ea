/*-------------------------------------------------------------------------
 *
 * kmeans.h
 *	  What other modules read of a stored k-means model.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_KMEANS_H
#define RFM_KMEANS_H

#include "cluster_profile.h"
#include "fmgr.h"

extern RfmClusterSummary *rfm_kmeans_summary(FunctionCallInfo fcinfo,
											 int argno);

#endif							/* RFM_KMEANS_H */
