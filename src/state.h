/*-------------------------------------------------------------------------
 *
 * state.h
 *	  The metrics state, rfm_metrics_state: one customer's running totals.
 *
 * The state is opaque outside state.c: everything else builds, updates,
 * merges and reads it through these functions, so the meaning of every
 * field (and the exact sums kept in it) has one home.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_STATE_H
#define RFM_STATE_H

#include "datatype/timestamp.h"
#include "fmgr.h"

#include "decimal.h"

typedef struct RfmState RfmState;

/*
 * What a negative amount is.  EVENTS: an event like any other, its amount
 * summed as given (the default since 0.1).  ADJUST: a refund, as a
 * retailer reads one: it reduces monetary but is not a purchase, so it
 * counts for neither frequency, recency, first and last event nor the
 * last period.
 */
typedef enum RfmRefunds
{
	RFM_REFUNDS_EVENTS = 0,
	RFM_REFUNDS_ADJUST = 1
} RfmRefunds;

/* the exact sums a state keeps */
typedef enum RfmSum
{
	RFM_SUM_MONETARY = 0,
	RFM_SUM_WEIGHTED = 1,
	RFM_SUM_WEIGHTED_LAST = 2
} RfmSum;

/* fields of the rfm_metrics composite, in its order */
#define RFM_METRICS_NFIELDS 11

#define DatumGetRfmState(d)		((RfmState *) PG_DETOAST_DATUM(d))
#define PG_GETARG_RFM_STATE(n)	DatumGetRfmState(PG_GETARG_DATUM(n))

/* making states */
extern Size rfm_state_size(void);
extern RfmRefunds rfm_parse_refunds(text *refunds);
extern void rfm_state_init(RfmState *state, int64 as_of,
						   const Interval *last_period, bool is_date,
						   RfmRefunds refunds);
extern RfmState *rfm_state_new(int64 as_of, const Interval *last_period,
							   bool is_date, RfmRefunds refunds);
extern RfmState *rfm_state_copy(const RfmState *state);

/* updating them: each may return a reallocated state (sums past 38 digits) */
extern RfmState *rfm_state_add_event(RfmState *state, int64 event,
									 int64 period_start, const RfmTerm *amount,
									 const RfmTerm *weight);
extern RfmState *rfm_state_merge(RfmState *state, const RfmState *other);
extern RfmState *rfm_state_restate(const RfmState *history, int64 as_of,
								   int64 frequency_last, Numeric weighted_last);

/* reading them */
extern bool rfm_state_matches(const RfmState *state, int64 as_of,
							  const Interval *last_period, bool is_date,
							  RfmRefunds refunds);
extern bool rfm_state_is_date(const RfmState *state);
extern RfmRefunds rfm_state_refunds(const RfmState *state);
extern int64 rfm_state_as_of(const RfmState *state);
extern const Interval *rfm_state_last_period(const RfmState *state);
extern int64 rfm_state_frequency(const RfmState *state);
extern int64 rfm_state_frequency_last(const RfmState *state);
extern int64 rfm_state_ignored(const RfmState *state);
extern bool rfm_state_events(const RfmState *state, int64 *first, int64 *last);
extern bool rfm_state_has_amount(const RfmState *state);
extern bool rfm_state_has_monetary(const RfmState *state);
extern float8 rfm_state_recency_days(const RfmState *state);
extern float8 rfm_state_sum_float8(const RfmState *state, RfmSum which);
extern Numeric rfm_state_sum_numeric(const RfmState *state, RfmSum which);
extern void rfm_state_values(const RfmState *state, Datum *values,
							 bool *nulls);

#endif							/* RFM_STATE_H */
