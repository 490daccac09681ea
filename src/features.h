/*-------------------------------------------------------------------------
 *
 * features.h
 *	  Feature preparation shared by every clustering model: names, the
 *	  per-feature transforms (clip at a quantile, log1p, rank) and scaling
 *	  (z-score or robust), fitted on the data and stored in the model so
 *	  that scoring a customer applies exactly the same preparation.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_FEATURES_H
#define RFM_FEATURES_H

#include "access/htup_details.h"
#include "cluster_model.h"
#include "utils/array.h"

typedef struct RfmPrep RfmPrep;

/*
 * The model fields the preparation owns, consecutive and in this order in
 * both model types (after the model's center and scale).
 */
typedef enum RfmPrepField
{
	RFM_PREP_FEATURE_NAMES,
	RFM_PREP_TRANSFORMS,
	RFM_PREP_CLIP_LOW,
	RFM_PREP_CLIP_HIGH,
	RFM_PREP_QUANTILES,
	RFM_PREP_PREP_MEAN,
	RFM_PREP_PREP_STD,
	RFM_PREP_POPULATION_MEAN,
	RFM_PREP_NFIELDS
} RfmPrepField;

extern const char *const rfm_prep_fields[RFM_PREP_NFIELDS];

/* fitting and applying */
extern RfmPrep *rfm_prep_create(ArrayType *spec, int dims, bool standardize);
extern void rfm_prep_fit(RfmPrep *prep, const float8 *raw, int64 n,
						 float8 *mean_var);
extern void rfm_prep_apply(const RfmPrep *prep, const float8 *raw,
						   float8 *out);
extern float8 *rfm_prep_apply_all(const RfmPrep *prep, const float8 *raw,
								  int64 n);

/* what a model stores, and reading it back */
extern void rfm_prep_scaling(const RfmPrep *prep, float8 *center,
							 float8 *scale);
extern void rfm_prep_store(const RfmPrep *prep, Datum *values, bool *nulls);
extern RfmPrep *rfm_prep_load(const RfmModelKind *kind,
							  HeapTupleHeader model, int dims,
							  int center_attno, int scale_attno,
							  int first_attno, bool standardize);

/* reading a preparation, for profiles */
extern int	rfm_prep_dims(const RfmPrep *prep);
extern const char *rfm_prep_name(const RfmPrep *prep, int j);
extern int	rfm_prep_find(const RfmPrep *prep, const char *name);
extern float8 rfm_prep_population_mean(const RfmPrep *prep, int j);
extern bool rfm_prep_zscores(const RfmPrep *prep, const float8 *fit_means,
							 float8 *z);

#endif							/* RFM_FEATURES_H */
