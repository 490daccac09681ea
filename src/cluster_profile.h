/*-------------------------------------------------------------------------
 *
 * cluster_profile.h
 *	  What a marketer reads about the clusters of any model: per cluster,
 *	  its customers, its mean of every feature in the features' own units
 *	  and as a z-score against the population, its most distinctive
 *	  features and a one-line description.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_CLUSTER_PROFILE_H
#define RFM_CLUSTER_PROFILE_H

#include "features.h"

/* the clusters of a model (or of one cut of a tree), as a model reads them */
typedef struct RfmClusterSummary
{
	int			k;
	int			dims;
	int64		n;				/* customers */
	int64	   *sizes;			/* k: customers per cluster */
	float8	   *means;			/* k x dims, in the features' own units */
	float8	   *z;				/* k x dims, or NULL when the model cannot
								 * say (see rfm_prep_zscores) */
	float8	   *population_mean;	/* dims, in the features' own units */
	const RfmPrep *prep;		/* the feature names */
} RfmClusterSummary;

#endif							/* RFM_CLUSTER_PROFILE_H */
