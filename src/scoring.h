/*-------------------------------------------------------------------------
 *
 * scoring.h
 *	  Quantile breaks and scores.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_SCORING_H
#define RFM_SCORING_H

#include "fmgr.h"
#include "utils/array.h"

/*
 * The range of bins (scores 1..bins).  The install script states the same
 * range in rfm_check_rules and in the CHECK constraints of
 * rfm_segment_rule; the consistency test checks that they agree.
 */
#define RFM_MIN_BINS		2
#define RFM_MAX_BINS		10

typedef enum RfmScoreMethod
{
	RFM_METHOD_QUANTILE = 0,	/* type-7 cuts at k/bins, ties go down */
	RFM_METHOD_R_RFM = 1		/* the R rfm package: cuts + 1, ties go up */
} RfmScoreMethod;

/* one distinct value and how often it occurs */
typedef struct RfmValueCount
{
	float8		value;
	int64		count;
} RfmValueCount;

extern RfmScoreMethod rfm_parse_method(text *method);
extern void rfm_check_bins(int32 bins);
extern int	rfm_compact_values(RfmValueCount *items, int n);
extern bool rfm_breaks_args(FunctionCallInfo fcinfo, bool has_method,
							int32 *bins, int32 *method, float8 *value);
extern void rfm_breaks_check_same_bins(int32 state_bins, int32 bins);
extern void rfm_compute_breaks(const RfmValueCount *items, int64 n, int bins,
							   RfmScoreMethod method, float8 *breaks);
extern void rfm_select_breaks(float8 *values, int64 n, int bins,
							  RfmScoreMethod method, float8 *breaks);
extern int	rfm_break_positions(int64 n, int bins, RfmScoreMethod method,
								int64 *positions);
extern void rfm_breaks_at(int64 n, int bins, RfmScoreMethod method,
						  const int64 *positions, const float8 *values,
						  int npos, float8 *breaks);
extern int	rfm_get_breaks(ArrayType *array, float8 *breaks);
extern int	rfm_score_value(float8 value, const float8 *breaks, int nbreaks,
							RfmScoreMethod method);

#endif							/* RFM_SCORING_H */
