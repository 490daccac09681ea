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

#include "executor/tuptable.h"
#include "fmgr.h"

#include "scan.h"
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

/*
 * A customer's payload in the scan by rows: an array of one state pointer
 * per as-of date, followed by the states themselves (a state moves out of
 * the payload only when a sum passes 38 digits).
 */
typedef RfmState *RfmCustomerStates;

/* the scan by rows' running state */
typedef struct AnalyzeState
{
	AnalyzeSpec *spec;
	RfmCustomers *customers;
	Size		states_offset;	/* of the inline states in the payload */
	bool		any_event;		/* the source's time span, for the as_of */
	int64		earliest;		/* check */
	int64		latest;
	bool		overflow;		/* the customers passed max_memory */
	struct AnalyzeSpill *spill; /* rows of customers past it, or NULL */
} AnalyzeState;

/* per snapshot and customer: the three values that are scored */
typedef struct AnalyzeScored
{
	uint64		customer;		/* index in the customer table */
	RfmScored	scored;
} AnalyzeScored;

/* the columns of a row of rfm_analyze, rfm_analyze_groups, rfm_snapshots */
#define RFM_ANALYSIS_MAX_COLUMNS	(RFM_METRICS_NFIELDS + 7)

#define RFM_ANALYZE_MEMORY_HINT "Set rfm_segment.scan = states, which reads one state per customer and spills to disk under work_mem"

/* how rfm_analysis_in_parallel went */
typedef enum RfmAnalysisWay
{
	RFM_ANALYSIS_DONE,			/* the rows are emitted */
	RFM_ANALYSIS_SERIAL,		/* no worker: scan in this backend */
	RFM_ANALYSIS_STATES			/* past max_memory: read by states */
} RfmAnalysisWay;

extern char *rfm_analysis_query(const AnalyzeSpec *spec);
extern bool rfm_analysis_add_row(TupleTableSlot *slot, void *arg);
extern void rfm_analysis_check_scores(AnalyzeState *st);
extern AnalyzeScored *rfm_analysis_scores(AnalyzeState *st, int snap, Size extra,
										  uint64 *n);
extern int64 rfm_analysis_collect(const AnalyzeScored *scored, uint64 n, int d,
								  float8 *values);
extern void rfm_analysis_form(const AnalyzeSpec *spec, int snap, bool with_as_of,
							  Datum group, bool group_null, Datum key,
							  bool key_null, const RfmState *state,
							  const RfmScored *scored,
							  float8 breaks[NDIMS][RFM_MAX_BINS],
							  Datum *out, bool *outnull);
extern void rfm_analysis_emit_scored(FunctionCallInfo fcinfo, AnalyzeState *st,
									 int snap, bool with_as_of,
									 const AnalyzeScored *scored,
									 float8 breaks[NDIMS][RFM_MAX_BINS],
									 MemoryContext row_cxt);
extern RfmAnalysisWay rfm_analysis_in_parallel(FunctionCallInfo fcinfo,
											   AnalyzeState *st, bool with_as_of);
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

/* states from analyze.c's table past the bound, spilled and scored as the GROUP BY's */
typedef struct StatesScan RfmAnalysisSink;

extern RfmAnalysisSink *rfm_analysis_sink_begin(FunctionCallInfo fcinfo,
												AnalyzeSpec *spec,
												bool with_as_of);
extern void rfm_analysis_sink_put(RfmAnalysisSink *sink, Datum key,
								  bool key_null, RfmState *const *states);
extern void rfm_analysis_sink_end(RfmAnalysisSink *sink);
extern void rfm_analysis_sink_discard(RfmAnalysisSink *sink);
extern void rfm_analysis_scan_states(const AnalyzeSpec *spec, RfmRowUntil until,
									 void *arg);

#endif							/* RFM_ANALYZE_H */
