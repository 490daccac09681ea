/*-------------------------------------------------------------------------
 *
 * rfm_segment.h
 *	  Shared structs and prototypes of the rfm_segment extension.
 *
 * The metrics aggregates keep their running totals in rfm_metrics_state, a
 * varlena base type rather than "internal", so that partial aggregates can
 * cross process and node boundaries (parallel query, Citus) as plain values.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_SEGMENT_H
#define RFM_SEGMENT_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/numeric.h"

#ifndef HAVE_INT128
#error "rfm_segment needs a compiler with a 128-bit integer type"
#endif

/*
 * Layout version of rfm_metrics_state.  It is the first field of both the
 * binary and the text form, so that a later release can read (and upgrade)
 * states stored by this one.
 */
#define RFM_STATE_VERSION	1

/* the three exact decimal sums kept by the state */
#define RFM_SUM_MONETARY	0
#define RFM_SUM_WEIGHTED	1
#define RFM_SUM_WEIGHTED_LAST 2
#define RFM_NSUMS			3

/*
 * An exact decimal sum.  The common case is a scaled 128-bit integer:
 * value = small / 10^scale.  When a term does not fit (more than 38 digits),
 * the part that overflowed moves to a Numeric kept in the tail of the state
 * ("big"), and the total is big + small.  So the sum is always exact, the fast
 * path stays allocation-free, and the state grows only with the magnitude of
 * the sum, never with the number of rows.
 */
typedef struct RfmDecimal
{
	int128		small;			/* scaled integer part of the sum */
	int32		scale;			/* decimal scale of "small" */
	int32		big_off;		/* offset of a Numeric in the state, or 0 */
} RfmDecimal;

/* state flags */
#define RFM_FLAG_DATE		0x0001	/* date form: values are midnights */

/*
 * The aggregate state.  Times are microseconds since 2000-01-01 UTC; for the
 * date forms they are midnights, so one set of code serves both kinds.
 */
typedef struct RfmState
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	uint16		version;		/* RFM_STATE_VERSION */
	uint16		flags;			/* RFM_FLAG_* */
	int64		as_of;
	Interval	last_period;
	int64		first_event;	/* valid only when frequency > 0 */
	int64		last_event;
	int64		frequency;
	int64		frequency_last;
	int64		ignored;		/* events after as_of */
	int64		amount_count;	/* events with a non-NULL amount */
	RfmDecimal	sums[RFM_NSUMS];
	/* optional Numeric values of RfmDecimal.big_off follow, MAXALIGNed */
} RfmState;

#define RFM_STATE_FIXED_SIZE	MAXALIGN(sizeof(RfmState))

#define DatumGetRfmState(d)		((RfmState *) PG_DETOAST_DATUM(d))
#define PG_GETARG_RFM_STATE(n)	DatumGetRfmState(PG_GETARG_DATUM(n))

/* a decoded numeric input: amount or weight of one event */
typedef struct RfmTerm
{
	bool		present;		/* false: NULL, adds nothing */
	bool		fits;			/* mantissa/scale hold the value exactly */
	int128		mantissa;
	int32		scale;
	Numeric		value;			/* the numeric itself; needed when !fits */
} RfmTerm;

/* fields of the rfm_metrics composite */
#define RFM_METRICS_NFIELDS 11

/* scoring */
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

/* decimal.c */
extern bool rfm_numeric_decode(const struct varlena *num, int128 *mantissa,
							   int32 *scale);
extern bool rfm_decimal_add(RfmDecimal *sum, int128 mantissa, int32 scale);
extern bool rfm_decimal_merge(RfmDecimal *sum, const RfmDecimal *other);
extern Numeric rfm_int128_to_numeric(int128 mantissa, int32 scale);
extern Numeric rfm_decimal_small_numeric(const RfmDecimal *sum);
extern float8 rfm_decimal_float8(const RfmDecimal *sum);
extern void rfm_check_finite(Numeric num, const char *argname,
							 const char *hint);

/* metrics.c */
extern const RfmTerm rfm_term_one;
extern void rfm_term_from_numeric(struct varlena *raw, const char *argname,
								  const char *hint, RfmTerm *term);
extern RfmState *rfm_state_add_event(RfmState *state, int64 event,
									 int64 period_start, const RfmTerm *amount,
									 const RfmTerm *weight);
extern void rfm_state_values(const RfmState *state, Datum *values,
							 bool *nulls);
extern float8 rfm_days_between(int64 from, int64 to);
extern int64 rfm_date_usecs(int32 d, const char *argname);
extern int64 rfm_timestamp_usecs(TimestampTz t, const char *argname);

/* state.c */
extern RfmState *rfm_state_new(int64 as_of, const Interval *last_period,
							   bool is_date);
extern RfmState *rfm_state_copy(const RfmState *state);
extern Numeric rfm_state_big(const RfmState *state, int which);
extern RfmState *rfm_state_set_big(RfmState *state, int which, Numeric big);
extern Numeric rfm_state_sum(const RfmState *state, int which);
extern int64 rfm_period_start(int64 as_of, const Interval *last_period);

/* scoring.c */
extern RfmScoreMethod rfm_parse_method(text *method);
extern void rfm_check_bins(int32 bins);
extern int	rfm_compact_values(RfmValueCount *items, int n);
extern void rfm_compute_breaks(const RfmValueCount *items, int64 n, int bins,
							   RfmScoreMethod method, float8 *breaks);
extern int	rfm_get_breaks(ArrayType *array, float8 *breaks);
extern int	rfm_score_value(float8 value, const float8 *breaks, int nbreaks,
							RfmScoreMethod method);

/* cohort.c */
typedef enum RfmGrain
{
	RFM_GRAIN_DAY,
	RFM_GRAIN_WEEK,
	RFM_GRAIN_MONTH,
	RFM_GRAIN_QUARTER,
	RFM_GRAIN_YEAR
} RfmGrain;

struct pg_tz;
extern RfmGrain rfm_parse_grain(text *grain);
extern struct pg_tz *rfm_load_tz(text *tzname);
extern int32 rfm_period_of_day(int year, int month, int day, RfmGrain grain);
extern int32 rfm_period_of_timestamp(Timestamp ts, struct pg_tz *tz, RfmGrain grain);
extern int32 rfm_period_of_date(int32 date, RfmGrain grain);
extern int32 rfm_period_start_date(int32 period, RfmGrain grain);
extern text *rfm_period_label(int32 period, RfmGrain grain);

/* segments.c */
typedef struct RfmSegmentMap RfmSegmentMap;
extern RfmSegmentMap *rfm_segment_map_load(Oid namespace, const char *rule_set,
										   MemoryContext mcxt);
extern text *rfm_segment_map_name(const RfmSegmentMap *map, int r, int f, int m);

/* limits.c */
extern int	rfm_max_memory_kb;
extern void rfm_check_memory(Size bytes, const char *function, const char *hint);

#endif							/* RFM_SEGMENT_H */
