/*-------------------------------------------------------------------------
 *
 * journey.h
 *	  What the journeys' two ways share: the two windows that end at as_of,
 *	  and a customer's activity in one category of one window (an exact
 *	  sum and the latest event) with the rule that picks the main one.
 *
 * The rows way (transitions.c's hash table of customers) and the states
 * way (journey_state.c's aggregate, one per customer in a GROUP BY) must
 * give the same answer; both build on this file.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_JOURNEY_H
#define RFM_JOURNEY_H

#include "decimal.h"

#include "datatype/timestamp.h"

/* the two windows */
#define RFM_WINDOW_PREVIOUS 0
#define RFM_WINDOW_CURRENT	1
#define RFM_NWINDOWS		2

/* where the windows are: starts exclusive, as_of inclusive */
typedef struct RfmWindows
{
	int64		as_of;
	int64		start[RFM_NWINDOWS];
} RfmWindows;

/* a customer's activity in one category of one window; zeroed is empty */
typedef struct RfmActivity
{
	RfmDecimal	sum;			/* exact sum of weights (its big_off unused) */
	Numeric		overflow;		/* what did not fit in 38 digits, or NULL */
	int64		latest;			/* the latest event */
} RfmActivity;

extern void rfm_journey_windows(int64 as_of, const Interval *period,
								const char *period_name, RfmWindows *w);
extern int	rfm_journey_window(const RfmWindows *w, int64 t);

extern void rfm_activity_init(RfmActivity *a);
extern void rfm_activity_add(RfmActivity *a, const RfmTerm *weight,
							 int64 t, MemoryContext cxt);
extern void rfm_activity_merge(RfmActivity *a, const RfmActivity *other,
							   MemoryContext cxt);
extern Numeric rfm_activity_numeric(const RfmActivity *a);
extern int	rfm_activity_compare(const RfmActivity *a, const RfmActivity *b);

#endif							/* RFM_JOURNEY_H */
