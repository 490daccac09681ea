/*-------------------------------------------------------------------------
 *
 * analyze.h
 *	  The one-call analysis, shared by its two ways of reading the source:
 *	  rows into a hash table of customers (analyze.c), or one state per
 *	  customer (or per group and customer) from a GROUP BY
 *	  (analyze_states.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_ANALYZE_H
#define RFM_ANALYZE_H

#include "fmgr.h"

#include "scoring.h"
#include "segments.h"
#include "state.h"

/* the scanned columns, in the order of the scan's query */
#define COL_KEY			0
#define COL_TIME		1
#define COL_AMOUNT		2
#define COL_WEIGHT		3
#define NCOLUMNS		4

/* the three scored dimensions */
#define DIM_R			0
#define DIM_F			1
#define DIM_M			2
#define NDIMS			3

/* the arguments of one analysis, checked */
typedef struct AnalyzeSpec
{
	const char *function;		/* for messages */
	Oid			namespace;		/* the extension's schema */
	Oid			relid;
	const char *columns[NCOLUMNS];	/* NULL: no such column */
	const char *group_column;	/* rfm_analyze_groups: scored per group */
	Oid			group_type;
	Oid			group_collation;
	Oid			time_type;
	bool		is_date;
	int			nsnapshots;
	TimestampTz *as_of_input;	/* as given, for the output column */
	int64	   *as_of;			/* microseconds; midnights for dates */
	int64	   *period_start;
	Interval	last_period;
	int			bins;
	RfmScoreMethod method;
	RfmRefunds	refunds;
	RfmSegmentMap *segments;
} AnalyzeSpec;

/* the three values a customer is scored on, for one snapshot */
typedef struct RfmScored
{
	float8		value[NDIMS];
	bool		isnull[NDIMS];
} RfmScored;

extern bool rfm_analysis_reported(const RfmState *state);
extern void rfm_analysis_values(const AnalyzeSpec *spec, const RfmState *state,
								RfmScored *scored);
extern void rfm_analysis_emit(FunctionCallInfo fcinfo, const AnalyzeSpec *spec,
							  int snap, bool with_as_of, Datum group,
							  bool group_null, Datum key,
							  bool key_null, const RfmState *state,
							  const RfmScored *scored,
							  float8 breaks[NDIMS][RFM_MAX_BINS],
							  MemoryContext row_cxt);
extern void rfm_analysis_by_states(FunctionCallInfo fcinfo, AnalyzeSpec *spec,
								   bool with_as_of);

#endif							/* RFM_ANALYZE_H */
