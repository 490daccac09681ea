/*-------------------------------------------------------------------------
 *
 * hclust_model.h
 *	  The stored hierarchical model, rfm_hclust_model: building it from a
 *	  fit, and what other modules read of it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_HCLUST_MODEL_H
#define RFM_HCLUST_MODEL_H

#include "access/htup_details.h"
#include "cluster_profile.h"
#include "features.h"
#include "fmgr.h"
#include "hclust_fit.h"

/* what a fit produced, to be stored */
typedef struct RfmHclustFit
{
	RfmLinkage	method;
	bool		two_step;
	int32		micro_clusters; /* asked for; 0 when exact */
	int32		seed;
	bool		standardize;
	int64		n;				/* customers */
	int			dims;
	int64		leaves;			/* n when exact, the micro-clusters else */
	const RfmMerge *merges;		/* leaves - 1 */
	const float8 *leaf_sizes;	/* NULL: 1 each */
	const float8 *leaf_centroids;	/* leaves x dims, fit space */
	const float8 *leaf_means;	/* leaves x dims, features' own units */
	const float8 *micro_centers;	/* two-step: leaves x dims, else NULL */
	float8		micro_inertia;
	const RfmPrep *prep;
} RfmHclustFit;

extern const char *rfm_hclust_method_name(RfmLinkage method);
extern void rfm_hclust_model_check_type(TupleDesc tupdesc);
extern Datum rfm_hclust_model_datum(const RfmHclustFit *fit,
									TupleDesc tupdesc);
extern RfmClusterSummary *rfm_hclust_summary(FunctionCallInfo fcinfo,
											 int argno, int k);

#endif							/* RFM_HCLUST_MODEL_H */
