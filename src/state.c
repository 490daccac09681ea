/*-------------------------------------------------------------------------
 *
 * state.c
 *	  The rfm_metrics_state type: one customer's running totals, how events
 *	  and other states are added to it, what is read from it, and its text
 *	  and binary forms.
 *
 * The aggregates of metrics.c and the one-scan analysis of analyze.c both
 * count events through rfm_state_add_event, so their numbers are the same
 * by construction.  Nothing outside this file reads or writes a field of
 * the state.
 *
 * The text and binary forms are what cross nodes when a distributed engine
 * ships a partial aggregate (postgres_fdw sends text; Citus, binary), so
 * both are exact and independent of any session setting.  The text form:
 * times are integer microseconds since 2000-01-01 00:00 UTC, sums are plain
 * decimal text.  Its first field is the layout version.
 *
 *	 (version,kind,as_of,lp_months,lp_days,lp_usecs,first_event,last_event,
 *	  frequency,frequency_last_period,ignored_after_as_of,amount_count,
 *	  monetary,weighted_frequency,weighted_frequency_last_period)
 *
 * kind is 't' (timestamptz forms) or 'd' (date forms, times are midnights);
 * first_event and last_event are empty when frequency is 0.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "compat.h"
#include "state.h"
#include "timeutil.h"

#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/timestamp.h"

PG_MODULE_MAGIC;

/*
 * Layout version of the state.  It is the first field of both the binary
 * and the text form, so that a later release can read (and upgrade) states
 * stored by this one.  The struct below is also what a table column of type
 * rfm_metrics_state stores on disk (STORAGE plain), so its layout must not
 * change without a new version.
 */
#define RFM_STATE_VERSION	1

/* state flags */
#define RFM_FLAG_DATE		0x0001	/* date form: values are midnights */
#define RFM_FLAG_REFUNDS	0x0002	/* RFM_REFUNDS_ADJUST: negative amounts
									 * are refunds, not purchases */

#define RFM_NSUMS			3

/*
 * The aggregate state.  Times are microseconds since 2000-01-01 UTC; for the
 * date forms they are midnights, so one set of code serves both kinds.
 *
 * Each sum is exact: its fast part is a scaled 128-bit integer, and when a
 * term does not fit (more than 38 digits) the part that overflowed moves to
 * a Numeric kept in the tail of the state (RfmDecimal.big_off is its
 * offset), and the total is big + small.  So the fast path stays
 * allocation-free, and the state grows only with the magnitude of a sum,
 * never with the number of rows.
 */
struct RfmState
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
};

#define RFM_STATE_FIXED_SIZE	MAXALIGN(sizeof(RfmState))

/*
 * The text form: version 1 has 15 fields; version 2 adds a 16th, the
 * refunds setting.  A state with the default setting is written in version
 * 1, as 0.1 and 0.2 wrote every state, so their text is unchanged; both
 * versions are read.
 */
#define RFM_TEXT_VERSION_REFUNDS 2
#define RFM_STATE_NFIELDS_V1 15
#define RFM_STATE_NFIELDS	16

/*
 * The binary form (send/recv).  Its first word is a layout version as the
 * text form's is: versions 1 and 2 carried the text form after it, as
 * 0.2 and the first builds of 0.3 sent it, and are still read; version 3
 * carries the fields themselves, so that a coordinator receiving one
 * state per customer from every shard (Citus uses the binary protocol)
 * parses no text:
 *
 *	 int16 version (3), int8 kind ('t' or 'd'), int8 refunds (0 events,
 *	 1 adjust), int64 as_of, int32 lp_months, int32 lp_days, int64 lp_usecs,
 *	 int64 frequency, frequency_last_period, ignored_after_as_of,
 *	 amount_count, [int64 first_event, last_event: when frequency > 0],
 *	 then per sum (monetary, weighted_frequency, its last period):
 *	 int8 0, int64 high, int64 low, int32 scale  -- value = mantissa / 10^scale
 *	 int8 1, int32 length, numeric's binary form -- a sum past 38 digits
 */
#define RFM_BINARY_VERSION	3
#define BINARY_SUM_SMALL	0
#define BINARY_SUM_NUMERIC	1

/* the largest display scale a numeric can carry (numeric.c's dscale mask) */
#define RFM_MAX_SUM_SCALE	0x3FFF

#define REFUNDS_EVENTS_NAME "events"
#define REFUNDS_ADJUST_NAME "adjust"

/* the refunds argument: 'events' or 'adjust' */
RfmRefunds
rfm_parse_refunds(text *refunds)
{
	char	   *name = text_to_cstring(refunds);

	if (strcmp(name, REFUNDS_EVENTS_NAME) == 0)
		return RFM_REFUNDS_EVENTS;
	if (strcmp(name, REFUNDS_ADJUST_NAME) == 0)
		return RFM_REFUNDS_ADJUST;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown refunds setting \"%s\"", name),
			 errhint("Use 'events' (a negative amount is an event like any other) or 'adjust' (it reduces monetary but is not a purchase).")));
	return RFM_REFUNDS_EVENTS;	/* keep the compiler quiet */
}

/* the flags of a state of this kind and refunds setting */
static uint16
state_flags(bool is_date, RfmRefunds refunds)
{
	return (is_date ? RFM_FLAG_DATE : 0) |
		(refunds == RFM_REFUNDS_ADJUST ? RFM_FLAG_REFUNDS : 0);
}

/* bytes of a state whose sums all fit the fast form */
Size
rfm_state_size(void)
{
	return RFM_STATE_FIXED_SIZE;
}

/*
 * Make an empty state in rfm_state_size() bytes of the caller's memory,
 * which need not be zeroed.  The caller has checked the last period
 * (rfm_period_start).
 */
void
rfm_state_init(RfmState *state, int64 as_of, const Interval *last_period,
			   bool is_date, RfmRefunds refunds)
{
	memset(state, 0, RFM_STATE_FIXED_SIZE);
	SET_VARSIZE(state, RFM_STATE_FIXED_SIZE);
	state->version = RFM_STATE_VERSION;
	state->flags = state_flags(is_date, refunds);
	state->as_of = as_of;
	state->last_period = *last_period;
}

/* a new, empty state, allocated in the current memory context */
RfmState *
rfm_state_new(int64 as_of, const Interval *last_period, bool is_date,
			  RfmRefunds refunds)
{
	RfmState   *state = palloc(RFM_STATE_FIXED_SIZE);

	rfm_state_init(state, as_of, last_period, is_date, refunds);
	return state;
}

RfmState *
rfm_state_copy(const RfmState *state)
{
	RfmState   *copy = palloc(VARSIZE(state));

	memcpy(copy, state, VARSIZE(state));
	return copy;
}

/* the overflow part of a sum, or NULL when it has none */
static Numeric
state_big(const RfmState *state, int which)
{
	int32		off = state->sums[which].big_off;

	return off == 0 ? NULL : (Numeric) ((char *) state + off);
}

/*
 * Return a new state equal to the given one but with the overflow part of
 * sum "which" replaced.  The caller returns the new pointer to the executor,
 * which copies it into the aggregate context; this happens only when a sum
 * passes 38 digits, so its cost does not matter.
 */
static RfmState *
state_set_big(RfmState *state, int which, Numeric big)
{
	Numeric		bigs[RFM_NSUMS];
	Size		size = RFM_STATE_FIXED_SIZE;
	RfmState   *result;
	Size		off;

	for (int i = 0; i < RFM_NSUMS; i++)
	{
		bigs[i] = (i == which) ? big : state_big(state, i);
		if (bigs[i] != NULL)
			size += MAXALIGN(VARSIZE(bigs[i]));
	}

	result = palloc0(size);
	memcpy(result, state, RFM_STATE_FIXED_SIZE);
	SET_VARSIZE(result, size);
	off = RFM_STATE_FIXED_SIZE;
	for (int i = 0; i < RFM_NSUMS; i++)
	{
		result->sums[i].big_off = 0;
		if (bigs[i] == NULL)
			continue;
		memcpy((char *) result + off, bigs[i], VARSIZE(bigs[i]));
		result->sums[i].big_off = off;
		off += MAXALIGN(VARSIZE(bigs[i]));
	}
	return result;
}

/* the whole value of sum "which", as a Numeric */
static Numeric
state_sum(const RfmState *state, int which)
{
	Numeric		small = rfm_decimal_numeric(&state->sums[which]);
	Numeric		big = state_big(state, which);

	if (big == NULL)
		return small;
	return DatumGetNumeric(DirectFunctionCall2(numeric_add,
											   NumericGetDatum(big),
											   NumericGetDatum(small)));
}

/*
 * Set sum "which" of a fresh state from a Numeric: the fast form when it
 * fits, the overflow part otherwise.
 */
static RfmState *
state_set_sum(RfmState *state, int which, Numeric value)
{
	if (rfm_decimal_set(&state->sums[which], value))
		return state;
	return state_set_big(state, which, value);
}

/*
 * Add a term to sum "which".  The fast path adds a scaled integer in place;
 * when the sum would pass 38 digits, the fast part and the term move to
 * the state's numeric overflow part, which reallocates the state.  "value"
 * is read only when the term does not fit (fits is false); it may have a
 * short varlena header.
 */
static RfmState *
add_term(RfmState *state, int which, bool fits, int128 mantissa, int32 scale,
		 Numeric value)
{
	RfmDecimal *sum = &state->sums[which];
	Numeric		big;
	Numeric		total;
	int128		result;

	/*
	 * The common case, inline: a term of the sum's scale (amounts of one
	 * column share a scale; weights of 1 and counts have scale 0).
	 */
	if (fits && scale == sum->scale &&
		!__builtin_add_overflow(sum->small, mantissa, &result))
	{
		sum->small = result;
		return state;
	}
	if (fits && rfm_decimal_add(sum, mantissa, scale))
		return state;

	total = rfm_decimal_numeric(sum);
	rfm_decimal_reset(sum);
	big = state_big(state, which);
	if (big != NULL)
		total = DatumGetNumeric(DirectFunctionCall2(numeric_add,
													NumericGetDatum(big),
													NumericGetDatum(total)));
	if (!(fits && rfm_decimal_add(sum, mantissa, scale)))
	{
		/* a term that fits alone but not in the sum is rebuilt exactly */
		if (fits)
			value = rfm_int128_to_numeric(mantissa, scale);
		total = DatumGetNumeric(DirectFunctionCall2(numeric_add,
													NumericGetDatum(total),
													NumericGetDatum(value)));
	}
	return state_set_big(state, which, total);
}

/*
 * Count one event into a state: the heart of every transition, shared with
 * the one-scan analysis so both give the same numbers.  Events after as_of
 * only count as ignored.  Under RFM_REFUNDS_ADJUST a negative amount only
 * reduces monetary.  May return a reallocated state (sums past 38 digits).
 */
RfmState *
rfm_state_add_event(RfmState *state, int64 event, int64 period_start,
					const RfmTerm *amount, const RfmTerm *weight)
{
	bool		in_last_period;

	if (event > state->as_of)
	{
		state->ignored++;
		return state;
	}

	if ((state->flags & RFM_FLAG_REFUNDS) && rfm_term_is_negative(amount))
		return add_term(state, RFM_SUM_MONETARY, amount->fits,
						amount->mantissa, amount->scale, amount->value);

	if (state->frequency == 0)
		state->first_event = state->last_event = event;
	else if (event < state->first_event)
		state->first_event = event;
	else if (event > state->last_event)
		state->last_event = event;
	state->frequency++;
	in_last_period = event > period_start;
	if (in_last_period)
		state->frequency_last++;

	if (amount->present)
	{
		state->amount_count++;
		state = add_term(state, RFM_SUM_MONETARY, amount->fits,
						 amount->mantissa, amount->scale, amount->value);
	}
	if (weight->present)
	{
		state = add_term(state, RFM_SUM_WEIGHTED, weight->fits,
						 weight->mantissa, weight->scale, weight->value);
		if (in_last_period)
			state = add_term(state, RFM_SUM_WEIGHTED_LAST, weight->fits,
							 weight->mantissa, weight->scale, weight->value);
	}
	return state;
}

/* merge the sum "which" of "other" into "state" */
static RfmState *
merge_sum(RfmState *state, const RfmState *other, int which)
{
	Numeric		other_big = state_big(other, which);

	if (!rfm_decimal_merge(&state->sums[which], &other->sums[which]))
		state = add_term(state, which, false, 0, 0,
						 rfm_decimal_numeric(&other->sums[which]));
	if (other_big != NULL)
		state = add_term(state, which, false, 0, 0, other_big);
	return state;
}

/*
 * Merge another state into a state (parallel workers, Citus shards).
 * States computed for different as_of or last_period describe different
 * things, so merging them is an error, as hll refuses to merge sketches of
 * different parameters.  May return a reallocated state.
 */
RfmState *
rfm_state_merge(RfmState *state, const RfmState *other)
{
	if ((state->flags & RFM_FLAG_DATE) != (other->flags & RFM_FLAG_DATE))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine a date rfm_metrics state with a timestamptz one")));
	if (state->flags != other->flags)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine rfm_metrics states with different refunds settings"),
				 errhint("Combine only states computed with the same refunds setting.")));
	if (state->as_of != other->as_of ||
		!rfm_interval_equal(&state->last_period, &other->last_period))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine rfm_metrics states with different as_of or last_period"),
				 errhint("Combine only states computed with the same as_of and last_period.")));

	if (other->frequency > 0)
	{
		if (state->frequency == 0)
		{
			state->first_event = other->first_event;
			state->last_event = other->last_event;
		}
		else
		{
			state->first_event = Min(state->first_event, other->first_event);
			state->last_event = Max(state->last_event, other->last_event);
		}
	}
	state->frequency += other->frequency;
	state->frequency_last += other->frequency_last;
	state->ignored += other->ignored;
	state->amount_count += other->amount_count;
	for (int i = 0; i < RFM_NSUMS; i++)
		state = merge_sum(state, other, i);
	return state;
}

/*
 * The state of the same events at an earlier as_of, with the last period's
 * count and weighted sum given: what an incremental model's history (a
 * state kept at a far-future as_of, so that it counted every event and
 * ignored none) is as of the model's as_of.  A history cannot tell its
 * last period's events apart, so the caller gives their numbers (NULL
 * weighted_last: zero), and has checked that no event lies after as_of.
 */
RfmState *
rfm_state_restate(const RfmState *history, int64 as_of, int64 frequency_last,
				  Numeric weighted_last)
{
	RfmState   *state = rfm_state_copy(history);

	state->as_of = as_of;
	state->frequency_last = frequency_last;
	rfm_decimal_reset(&state->sums[RFM_SUM_WEIGHTED_LAST]);
	if (state_big(state, RFM_SUM_WEIGHTED_LAST) != NULL)
		state = state_set_big(state, RFM_SUM_WEIGHTED_LAST, NULL);
	if (weighted_last != NULL)
		state = state_set_sum(state, RFM_SUM_WEIGHTED_LAST, weighted_last);
	return state;
}

/*
 * Whether a state was made for these parameters: the transition functions'
 * check on every row, one call instead of one per field (they say which
 * field differs when it does not match).
 */
bool
rfm_state_matches(const RfmState *state, int64 as_of,
				  const Interval *last_period, bool is_date,
				  RfmRefunds refunds)
{
	return state->flags == state_flags(is_date, refunds) &&
		state->as_of == as_of &&
		state->last_period.time == last_period->time &&
		state->last_period.day == last_period->day &&
		state->last_period.month == last_period->month;
}

bool
rfm_state_is_date(const RfmState *state)
{
	return (state->flags & RFM_FLAG_DATE) != 0;
}

RfmRefunds
rfm_state_refunds(const RfmState *state)
{
	return (state->flags & RFM_FLAG_REFUNDS) ? RFM_REFUNDS_ADJUST : RFM_REFUNDS_EVENTS;
}

int64
rfm_state_as_of(const RfmState *state)
{
	return state->as_of;
}

const Interval *
rfm_state_last_period(const RfmState *state)
{
	return &state->last_period;
}

/* events counted: on or before as_of */
int64
rfm_state_frequency(const RfmState *state)
{
	return state->frequency;
}

int64
rfm_state_frequency_last(const RfmState *state)
{
	return state->frequency_last;
}

/* events after as_of, not counted */
int64
rfm_state_ignored(const RfmState *state)
{
	return state->ignored;
}

/* the first and last counted event; false when there is none */
bool
rfm_state_events(const RfmState *state, int64 *first, int64 *last)
{
	if (state->frequency == 0)
		return false;
	*first = state->first_event;
	*last = state->last_event;
	return true;
}

/* whether any counted purchase had an amount */
bool
rfm_state_has_amount(const RfmState *state)
{
	return state->amount_count > 0;
}

/*
 * Whether monetary is not NULL: a purchase had an amount, or (refunds
 * adjusted) a refund was counted.  Refunds are negative, so a sum that no
 * purchase fed is zero exactly when no refund was counted either.
 */
bool
rfm_state_has_monetary(const RfmState *state)
{
	return state->amount_count > 0 ||
		((state->flags & RFM_FLAG_REFUNDS) &&
		 (state->sums[RFM_SUM_MONETARY].small != 0 ||
		  state->sums[RFM_SUM_MONETARY].big_off != 0));
}

/* recency in days; only for a state with a counted event */
float8
rfm_state_recency_days(const RfmState *state)
{
	Assert(state->frequency > 0);
	return rfm_days_between(state->last_event, state->as_of);
}

/* a sum, exact, as rfm_metrics returns it */
Numeric
rfm_state_sum_numeric(const RfmState *state, RfmSum which)
{
	return state_sum(state, which);
}

/*
 * A sum as float8: the double numeric_float8 gives for the numeric
 * rfm_metrics returns, without building that numeric in the common case.
 */
float8
rfm_state_sum_float8(const RfmState *state, RfmSum which)
{
	if (state->sums[which].big_off != 0)
		return DatumGetFloat8(DirectFunctionCall1(numeric_float8,
												  NumericGetDatum(state_sum(state, which))));
	return rfm_decimal_float8(&state->sums[which]);
}

/*
 * The eleven fields of the metrics row.  Fields that need an event (first
 * and last, recency, tenure) are NULL when no event fell on or before
 * as_of; monetary and avg_amount are NULL when no counted event had an
 * amount, as sum() and avg() are.  With refunds adjusted, monetary is the
 * purchases' amounts less the refunds, and avg_amount that over the
 * purchases with an amount (NULL when there is none).  First and last are
 * dates for a date state, timestamptz otherwise.
 */
void
rfm_state_values(const RfmState *state, Datum *values, bool *nulls)
{
	bool		is_date = rfm_state_is_date(state);

	memset(nulls, 0, RFM_METRICS_NFIELDS * sizeof(bool));
	if (state->frequency > 0)
	{
		values[0] = rfm_usecs_datum(state->first_event, is_date);
		values[1] = rfm_usecs_datum(state->last_event, is_date);
		values[2] = Float8GetDatum(rfm_days_between(state->last_event, state->as_of));
		values[3] = Float8GetDatum(rfm_days_between(state->first_event, state->as_of));
	}
	else
		nulls[0] = nulls[1] = nulls[2] = nulls[3] = true;
	values[4] = Int64GetDatum(state->frequency);
	values[5] = NumericGetDatum(state_sum(state, RFM_SUM_WEIGHTED));
	values[6] = Int64GetDatum(state->frequency_last);
	values[7] = NumericGetDatum(state_sum(state, RFM_SUM_WEIGHTED_LAST));
	nulls[8] = !rfm_state_has_monetary(state);
	if (!nulls[8])
		values[8] = NumericGetDatum(state_sum(state, RFM_SUM_MONETARY));
	nulls[9] = state->amount_count == 0;
	if (!nulls[9])
	{
		/*
		 * avg_amount is computed as avg(numeric) does: sum / count, in
		 * integers when the sum has no overflow part (the same digits and
		 * scale numeric_div gives, see rfm_decimal_div_count).
		 */
		Numeric		avg = NULL;

		if (state->sums[RFM_SUM_MONETARY].big_off == 0)
			avg = rfm_decimal_div_count(&state->sums[RFM_SUM_MONETARY],
										state->amount_count);
		if (avg != NULL)
			values[9] = NumericGetDatum(avg);
		else
			values[9] = DirectFunctionCall2(numeric_div, values[8],
											NumericGetDatum(int64_to_numeric(state->amount_count)));
	}
	values[10] = Int64GetDatum(state->ignored);
}

static void
append_sum(StringInfo buf, const RfmState *state, int which)
{
	Numeric		sum = state_sum(state, which);

	appendStringInfo(buf, ",%s",
					 DatumGetCString(DirectFunctionCall1(numeric_out,
														 NumericGetDatum(sum))));
}

/* the version of the text form a state is written in */
static int
text_version(const RfmState *state)
{
	return (state->flags & RFM_FLAG_REFUNDS) ? RFM_TEXT_VERSION_REFUNDS : RFM_STATE_VERSION;
}

static char *
state_to_text(const RfmState *state)
{
	StringInfoData buf;
	bool		is_date = (state->flags & RFM_FLAG_DATE) != 0;

	initStringInfo(&buf);
	appendStringInfo(&buf, "(%d,%c," INT64_FORMAT ",%d,%d," INT64_FORMAT ",",
					 text_version(state), is_date ? 'd' : 't', state->as_of,
					 state->last_period.month, state->last_period.day,
					 state->last_period.time);
	if (state->frequency > 0)
		appendStringInfo(&buf, INT64_FORMAT "," INT64_FORMAT,
						 state->first_event, state->last_event);
	else
		appendStringInfoChar(&buf, ',');
	appendStringInfo(&buf, "," INT64_FORMAT "," INT64_FORMAT "," INT64_FORMAT
					 "," INT64_FORMAT,
					 state->frequency, state->frequency_last, state->ignored,
					 state->amount_count);
	for (int i = 0; i < RFM_NSUMS; i++)
		append_sum(&buf, state, i);
	if (text_version(state) == RFM_TEXT_VERSION_REFUNDS)
		appendStringInfo(&buf, ",%s", REFUNDS_ADJUST_NAME);
	appendStringInfoChar(&buf, ')');
	return buf.data;
}

/* a rejected text form (input), or binary form (input NULL) */
static void
bad_state(const char *input, const char *detail)
{
	if (input == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary form of type %s", "rfm_metrics_state"),
				 errdetail("%s", detail)));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type %s: \"%s\"",
					"rfm_metrics_state", input),
			 errdetail("%s", detail)));
}

static int64
parse_int64(const char *input, const char *field, const char *what)
{
	char	   *end;
	long long	value;

	errno = 0;
	value = strtoll(field, &end, 10);
	if (*field == '\0' || *end != '\0' || errno == ERANGE)
		bad_state(input, psprintf("Field %s is not an integer.", what));
	return (int64) value;
}

static Numeric
parse_sum(const char *input, const char *field, const char *what)
{
	Datum		value;
	Numeric		num;

	if (*field == '\0')
		bad_state(input, psprintf("Field %s is empty.", what));
	value = DirectFunctionCall3(numeric_in, CStringGetDatum(field),
								ObjectIdGetDatum(InvalidOid),
								Int32GetDatum(-1));
	num = DatumGetNumeric(value);
	if (numeric_is_nan(num) || numeric_is_inf(num))
		bad_state(input, psprintf("Field %s is not finite.", what));
	return num;
}

static bool
numeric_is_nonzero(Numeric num)
{
	return !DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(num),
											 NumericGetDatum(int64_to_numeric(0))));
}

static bool
numeric_is_positive(Numeric num)
{
	return DatumGetBool(DirectFunctionCall2(numeric_gt, NumericGetDatum(num),
											NumericGetDatum(int64_to_numeric(0))));
}

/*
 * The fields of a state as its text or binary form gives them, before they
 * are checked.  A sum is either a scaled integer (the binary form's fast
 * sums) or a Numeric.
 */
typedef struct StateFields
{
	bool		is_date;
	RfmRefunds	refunds;
	int64		as_of;
	Interval	last_period;
	int64		first_event;	/* read only when frequency > 0 */
	int64		last_event;
	bool		events_given;	/* the text form has them, frequency 0 */
	int64		frequency;
	int64		frequency_last;
	int64		ignored;
	int64		amount_count;
	Numeric		sum[RFM_NSUMS];	/* or NULL: */
	int128		sum_small[RFM_NSUMS];
	int32		sum_scale[RFM_NSUMS];
} StateFields;

static const char *const state_field_names[RFM_STATE_NFIELDS] = {
	"version", "kind", "as_of", "lp_months", "lp_days", "lp_usecs",
	"first_event", "last_event", "frequency", "frequency_last_period",
	"ignored_after_as_of", "amount_count", "monetary",
	"weighted_frequency", "weighted_frequency_last_period", "refunds"
};

/*
 * Check the fields of either form and build the state; every field is
 * validated, so a hand-made or corrupted value is rejected instead of
 * producing wrong metrics later.  input names the text form in errors
 * (NULL: the binary form).
 */
static RfmState *
build_state(const StateFields *f, const char *input)
{
	RfmState   *state;

	if (TIMESTAMP_NOT_FINITE(f->as_of) || !IS_VALID_TIMESTAMP(f->as_of))
		bad_state(input, "Field as_of is out of range.");
	(void) rfm_period_start(f->as_of, &f->last_period);	/* checks that it is positive */
	state = rfm_state_new(f->as_of, &f->last_period, f->is_date, f->refunds);
	state->frequency = f->frequency;
	state->frequency_last = f->frequency_last;
	state->ignored = f->ignored;
	state->amount_count = f->amount_count;
	if (state->frequency < 0 || state->frequency_last < 0 ||
		state->ignored < 0 || state->amount_count < 0)
		bad_state(input, "Counts must not be negative.");
	if (state->frequency_last > state->frequency ||
		state->amount_count > state->frequency)
		bad_state(input, "frequency_last_period and amount_count must not exceed frequency.");

	if (state->frequency > 0)
	{
		state->first_event = f->first_event;
		state->last_event = f->last_event;
		if (state->first_event > state->last_event ||
			state->last_event > f->as_of ||
			TIMESTAMP_NOT_FINITE(state->first_event) ||
			!IS_VALID_TIMESTAMP(state->first_event))
			bad_state(input, "Events must satisfy first_event <= last_event <= as_of.");
	}
	else if (f->events_given)
		bad_state(input, "first_event and last_event must be empty when frequency is 0.");

	if (f->is_date &&
		(f->as_of % USECS_PER_DAY != 0 ||
		 (state->frequency > 0 &&
		  (state->first_event % USECS_PER_DAY != 0 ||
		   state->last_event % USECS_PER_DAY != 0))))
		bad_state(input, "A date state holds midnights only.");

	for (int i = 0; i < RFM_NSUMS; i++)
	{
		const char *name = state_field_names[12 + i];
		Numeric		sum = f->sum[i];
		int64		terms;
		bool		nonzero;
		bool		positive;

		if (sum != NULL)
		{
			if (numeric_is_nan(sum) || numeric_is_inf(sum))
				bad_state(input, psprintf("Field %s is not finite.", name));
			nonzero = numeric_is_nonzero(sum);
			positive = numeric_is_positive(sum);
		}
		else
		{
			if (f->sum_scale[i] < 0 || f->sum_scale[i] > RFM_MAX_SUM_SCALE)
				bad_state(input, psprintf("Field %s has a scale out of range.", name));
			nonzero = f->sum_small[i] != 0;
			positive = f->sum_small[i] > 0;
		}

		/*
		 * A sum of no terms must be zero; with refunds adjusted, monetary
		 * without a purchase amount holds refunds only, so it is not above
		 * zero.
		 */
		terms = (i == RFM_SUM_MONETARY) ? state->amount_count :
			(i == RFM_SUM_WEIGHTED) ? state->frequency : state->frequency_last;
		if (i == RFM_SUM_MONETARY && f->refunds == RFM_REFUNDS_ADJUST)
		{
			if (terms == 0 && positive)
				bad_state(input, "Field monetary must not be above 0 when it sums refunds only.");
		}
		else if (terms == 0 && nonzero)
			bad_state(input, psprintf("Field %s must be 0 when it sums no event.", name));

		if (sum != NULL)
			state = state_set_sum(state, i, sum);
		else
		{
			/* the pair a numeric of that value and display scale decodes to */
			state->sums[i].small = f->sum_small[i];
			state->sums[i].scale = f->sum_scale[i];
		}
	}
	return state;
}

/* parse the text form */
static RfmState *
state_from_text(const char *input)
{
	const char *const *names = state_field_names;
	char	   *fields[RFM_STATE_NFIELDS];
	char	   *copy;
	char	   *p;
	int			nfields = 0;
	size_t		len = strlen(input);
	StateFields f;
	RfmState   *state;
	int64		v;
	int64		version;
	int			expected;

	memset(&f, 0, sizeof(f));
	if (len < 2 || input[0] != '(' || input[len - 1] != ')')
		bad_state(input, "A state is a parenthesized, comma-separated list.");
	copy = pnstrdup(input + 1, len - 2);
	p = copy;
	for (;;)
	{
		char	   *comma = strchr(p, ',');

		if (nfields == RFM_STATE_NFIELDS)
			bad_state(input, psprintf("Expected %d fields.", RFM_STATE_NFIELDS));
		fields[nfields++] = p;
		if (comma == NULL)
			break;
		*comma = '\0';
		p = comma + 1;
	}
	version = parse_int64(input, fields[0], names[0]);
	if (version != RFM_STATE_VERSION && version != RFM_TEXT_VERSION_REFUNDS)
		bad_state(input, psprintf("Unsupported layout version %s.", fields[0]));
	expected = version == RFM_STATE_VERSION ? RFM_STATE_NFIELDS_V1 : RFM_STATE_NFIELDS;
	if (nfields != expected)
		bad_state(input, psprintf("Expected %d fields.", expected));
	f.refunds = RFM_REFUNDS_EVENTS;
	if (version == RFM_TEXT_VERSION_REFUNDS)
	{
		if (strcmp(fields[15], REFUNDS_ADJUST_NAME) != 0)
			bad_state(input, "Field refunds must be adjust in a version 2 state.");
		f.refunds = RFM_REFUNDS_ADJUST;
	}
	if (strcmp(fields[1], "t") != 0 && strcmp(fields[1], "d") != 0)
		bad_state(input, "Field kind must be t or d.");
	f.is_date = fields[1][0] == 'd';

	f.as_of = parse_int64(input, fields[2], names[2]);
	if (TIMESTAMP_NOT_FINITE(f.as_of) || !IS_VALID_TIMESTAMP(f.as_of))
		bad_state(input, "Field as_of is out of range.");
	v = parse_int64(input, fields[3], names[3]);
	if (v < INT_MIN || v > INT_MAX)
		bad_state(input, "Field lp_months is out of range.");
	f.last_period.month = (int32) v;
	v = parse_int64(input, fields[4], names[4]);
	if (v < INT_MIN || v > INT_MAX)
		bad_state(input, "Field lp_days is out of range.");
	f.last_period.day = (int32) v;
	f.last_period.time = parse_int64(input, fields[5], names[5]);
	(void) rfm_period_start(f.as_of, &f.last_period);	/* checks that it is positive */

	f.frequency = parse_int64(input, fields[8], names[8]);
	f.frequency_last = parse_int64(input, fields[9], names[9]);
	f.ignored = parse_int64(input, fields[10], names[10]);
	f.amount_count = parse_int64(input, fields[11], names[11]);
	if (f.frequency > 0)
	{
		f.first_event = parse_int64(input, fields[6], names[6]);
		f.last_event = parse_int64(input, fields[7], names[7]);
	}
	else
		f.events_given = fields[6][0] != '\0' || fields[7][0] != '\0';
	for (int i = 0; i < RFM_NSUMS; i++)
		f.sum[i] = parse_sum(input, fields[12 + i], names[12 + i]);

	state = build_state(&f, input);
	pfree(copy);
	return state;
}

/*
 * Text input.  Every field is checked, so a hand-made or corrupted value is
 * rejected instead of producing wrong metrics later.
 */
PG_FUNCTION_INFO_V1(rfm_metrics_state_in);
Datum
rfm_metrics_state_in(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(state_from_text(PG_GETARG_CSTRING(0)));
}

/* text output; exact and independent of DateStyle and TimeZone */
PG_FUNCTION_INFO_V1(rfm_metrics_state_out);
Datum
rfm_metrics_state_out(PG_FUNCTION_ARGS)
{
	PG_RETURN_CSTRING(state_to_text(PG_GETARG_RFM_STATE(0)));
}

/* one sum of the binary form */
static void
send_sum(StringInfo buf, const RfmState *state, int which)
{
	const RfmDecimal *sum = &state->sums[which];

	if (sum->big_off == 0)
	{
		pq_sendint8(buf, BINARY_SUM_SMALL);
		pq_sendint64(buf, (int64) (sum->small >> 64));
		pq_sendint64(buf, (int64) (uint64) sum->small);
		pq_sendint32(buf, sum->scale);
	}
	else
	{
		bytea	   *num = DatumGetByteaPP(DirectFunctionCall1(numeric_send,
															  NumericGetDatum(state_sum(state, which))));

		pq_sendint8(buf, BINARY_SUM_NUMERIC);
		pq_sendint32(buf, VARSIZE_ANY_EXHDR(num));
		pq_sendbytes(buf, VARDATA_ANY(num), VARSIZE_ANY_EXHDR(num));
	}
}

static void
recv_sum(StringInfo buf, StateFields *f, int which)
{
	int			form = pq_getmsgbyte(buf);

	if (form == BINARY_SUM_SMALL)
	{
		uint64		high = (uint64) pq_getmsgint64(buf);
		uint64		low = (uint64) pq_getmsgint64(buf);

		f->sum_small[which] = (int128) (((uint128) high << 64) | low);
		f->sum_scale[which] = pq_getmsgint(buf, 4);
		f->sum[which] = NULL;
	}
	else if (form == BINARY_SUM_NUMERIC)
	{
		int			len = pq_getmsgint(buf, 4);
		StringInfoData num;

		if (len < 0 || len > buf->len - buf->cursor)
			bad_state(NULL, psprintf("Field %s has a bad length.",
									 state_field_names[12 + which]));
		/* a read-only view of the bytes, as numeric_recv reads them */
		num.data = (char *) pq_getmsgbytes(buf, len);
		num.len = len;
		num.maxlen = len;
		num.cursor = 0;
		f->sum[which] = DatumGetNumeric(DirectFunctionCall3(numeric_recv,
															PointerGetDatum(&num),
															ObjectIdGetDatum(InvalidOid),
															Int32GetDatum(-1)));
	}
	else
		bad_state(NULL, psprintf("Field %s has an unknown form %d.",
								 state_field_names[12 + which], form));
}

/*
 * Binary input: version 3, the fields, checked as the text form's are;
 * versions 1 and 2, the text form.
 */
PG_FUNCTION_INFO_V1(rfm_metrics_state_recv);
Datum
rfm_metrics_state_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			version = pq_getmsgint(buf, 2);
	StateFields f;
	int			kind;
	int			refunds;

	if (version == RFM_STATE_VERSION || version == RFM_TEXT_VERSION_REFUNDS)
		PG_RETURN_POINTER(state_from_text(pq_getmsgstring(buf)));
	if (version != RFM_BINARY_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("unsupported rfm_metrics_state layout version %d",
						version)));
	memset(&f, 0, sizeof(f));
	kind = pq_getmsgbyte(buf);
	if (kind != 't' && kind != 'd')
		bad_state(NULL, "Field kind must be t or d.");
	f.is_date = kind == 'd';
	refunds = pq_getmsgbyte(buf);
	if (refunds != 0 && refunds != 1)
		bad_state(NULL, "Field refunds must be 0 (events) or 1 (adjust).");
	f.refunds = refunds == 1 ? RFM_REFUNDS_ADJUST : RFM_REFUNDS_EVENTS;
	f.as_of = pq_getmsgint64(buf);
	f.last_period.month = pq_getmsgint(buf, 4);
	f.last_period.day = pq_getmsgint(buf, 4);
	f.last_period.time = pq_getmsgint64(buf);
	f.frequency = pq_getmsgint64(buf);
	f.frequency_last = pq_getmsgint64(buf);
	f.ignored = pq_getmsgint64(buf);
	f.amount_count = pq_getmsgint64(buf);
	if (f.frequency > 0)
	{
		f.first_event = pq_getmsgint64(buf);
		f.last_event = pq_getmsgint64(buf);
	}
	for (int i = 0; i < RFM_NSUMS; i++)
		recv_sum(buf, &f, i);
	pq_getmsgend(buf);
	PG_RETURN_POINTER(build_state(&f, NULL));
}

/* binary output: version 3, the fields (see RFM_BINARY_VERSION) */
PG_FUNCTION_INFO_V1(rfm_metrics_state_send);
Datum
rfm_metrics_state_send(PG_FUNCTION_ARGS)
{
	RfmState   *state = PG_GETARG_RFM_STATE(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, RFM_BINARY_VERSION);
	pq_sendint8(&buf, (state->flags & RFM_FLAG_DATE) ? 'd' : 't');
	pq_sendint8(&buf, (state->flags & RFM_FLAG_REFUNDS) ? 1 : 0);
	pq_sendint64(&buf, state->as_of);
	pq_sendint32(&buf, state->last_period.month);
	pq_sendint32(&buf, state->last_period.day);
	pq_sendint64(&buf, state->last_period.time);
	pq_sendint64(&buf, state->frequency);
	pq_sendint64(&buf, state->frequency_last);
	pq_sendint64(&buf, state->ignored);
	pq_sendint64(&buf, state->amount_count);
	if (state->frequency > 0)
	{
		pq_sendint64(&buf, state->first_event);
		pq_sendint64(&buf, state->last_event);
	}
	for (int i = 0; i < RFM_NSUMS; i++)
		send_sum(&buf, state, i);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}
