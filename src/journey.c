/*-------------------------------------------------------------------------
 *
 * journey.c
 *	  The journeys' windows and a customer's activity in a category:
 *	  shared by the rows way (transitions.c) and the states way
 *	  (journey_state.c), so that both pick the same main category.
 *
 * The windows end at as_of: the current one is (as_of - period, as_of]
 * and the previous one (as_of - 2 * period, as_of - period], both computed
 * as in UTC (a day is 24 hours, a month a calendar month), so no answer
 * depends on the session TimeZone for a timestamptz column.  An activity
 * is the number of events, or the sum of their weights, summed exactly
 * as decimals so that ties do not depend on the order of the rows; the
 * main category of a window is the one with the largest activity, ties
 * going to the latest event and then (the caller's part) to the first
 * name in byte order.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "journey.h"
#include "timeutil.h"

#include "common/int.h"
#include "utils/datum.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"

#define PERIOD_HINT "Pass an interval such as '30 days' or '1 month'."

/* 2 * period, field by field, or an error */
static Interval
double_interval(const Interval *period, const char *period_name)
{
	Interval	twice;

	if (pg_mul_s32_overflow(period->month, 2, &twice.month) ||
		pg_mul_s32_overflow(period->day, 2, &twice.day) ||
		pg_mul_s64_overflow(period->time, 2, &twice.time))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("%s is out of range", period_name),
				 errhint(PERIOD_HINT)));
	return twice;
}

/*
 * The windows that end at as_of (timeutil.h's microseconds: for a date
 * column, its date's midnight); errors name period as the caller calls it.
 */
void
rfm_journey_windows(int64 as_of, const Interval *period, const char *period_name,
					RfmWindows *w)
{
	/* as_of - 2 * period, not (as_of - period) - period: month ends stay */
	Interval	twice = double_interval(period, period_name);

	w->as_of = as_of;
	w->start[RFM_WINDOW_CURRENT] = rfm_time_minus(w->as_of, period);
	w->start[RFM_WINDOW_PREVIOUS] = rfm_time_minus(w->as_of, &twice);
	if (w->start[RFM_WINDOW_CURRENT] >= w->as_of ||
		w->start[RFM_WINDOW_PREVIOUS] >= w->start[RFM_WINDOW_CURRENT])
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be positive", period_name),
				 errhint(PERIOD_HINT)));
}

/* the window of a time, or -1 outside both */
int
rfm_journey_window(const RfmWindows *w, int64 t)
{
	if (t <= w->start[RFM_WINDOW_PREVIOUS] || t > w->as_of)
		return -1;
	return t > w->start[RFM_WINDOW_CURRENT] ? RFM_WINDOW_CURRENT : RFM_WINDOW_PREVIOUS;
}

void
rfm_activity_init(RfmActivity *a)
{
	memset(a, 0, sizeof(RfmActivity));
	a->latest = PG_INT64_MIN;
}

/* add overflowing terms in numeric, in cxt */
static void
add_overflow(RfmActivity *a, Numeric term, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);

	if (a->overflow == NULL)
		a->overflow = DatumGetNumeric(datumCopy(NumericGetDatum(term), false, -1));
	else
		a->overflow = DatumGetNumeric(DirectFunctionCall2(numeric_add,
														  NumericGetDatum(a->overflow),
														  NumericGetDatum(term)));
	MemoryContextSwitchTo(old);
}

/*
 * An event at t with a weight (absent: it adds nothing, but its time still
 * breaks ties), exactly; past 38 digits in numeric, allocated in cxt.
 */
void
rfm_activity_add(RfmActivity *a, const RfmTerm *weight, int64 t, MemoryContext cxt)
{
	a->latest = Max(a->latest, t);
	if (!weight->present)
		return;
	if (weight->fits && rfm_decimal_add(&a->sum, weight->mantissa, weight->scale))
		return;
	add_overflow(a, weight->fits ? rfm_int128_to_numeric(weight->mantissa, weight->scale) :
				 weight->value, cxt);
}

/* the events of another activity of the same customer, category and window */
void
rfm_activity_merge(RfmActivity *a, const RfmActivity *other, MemoryContext cxt)
{
	a->latest = Max(a->latest, other->latest);
	if (!rfm_decimal_merge(&a->sum, &other->sum))
		add_overflow(a, rfm_decimal_numeric(&other->sum), cxt);
	if (other->overflow != NULL)
		add_overflow(a, other->overflow, cxt);
}

/* an activity as a numeric: the exact sum, at the largest scale added */
Numeric
rfm_activity_numeric(const RfmActivity *a)
{
	Numeric		sum = rfm_decimal_numeric(&a->sum);

	if (a->overflow == NULL)
		return sum;
	return DatumGetNumeric(DirectFunctionCall2(numeric_add, NumericGetDatum(sum),
											   NumericGetDatum(a->overflow)));
}

/* a sum's fast part at a scale at least its own; false if it overflows */
static bool
rescale(const RfmDecimal *sum, int32 scale, int128 *value)
{
	RfmDecimal	r = {0};

	r.scale = scale;
	if (!rfm_decimal_add(&r, sum->small, sum->scale))
		return false;
	*value = r.small;
	return true;
}

/*
 * Which of two activities wins the main category, before names: < 0, 0,
 * > 0 as a's is smaller, tied or larger (more activity, then a later
 * event).  Sums compare in 128 bits at the larger scale; in numeric,
 * allocated in the current context, only past 38 digits.
 */
int
rfm_activity_compare(const RfmActivity *a, const RfmActivity *b)
{
	int32		scale = Max(a->sum.scale, b->sum.scale);
	int128		x;
	int128		y;
	int			c;

	if (a->overflow == NULL && b->overflow == NULL &&
		rescale(&a->sum, scale, &x) && rescale(&b->sum, scale, &y))
		c = (x > y) - (x < y);
	else
		c = DatumGetInt32(DirectFunctionCall2(numeric_cmp,
											  NumericGetDatum(rfm_activity_numeric(a)),
											  NumericGetDatum(rfm_activity_numeric(b))));
	if (c != 0)
		return c;
	return (a->latest > b->latest) - (a->latest < b->latest);
}
