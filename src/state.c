/*-------------------------------------------------------------------------
 *
 * state.c
 *	  The rfm_metrics_state type: construction, big-sum storage, and its
 *	  text and binary forms.
 *
 * The text form is what crosses nodes when a distributed engine ships a
 * partial aggregate, so it is exact and independent of any session setting:
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

#include "rfm_segment.h"

#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/timestamp.h"

PG_MODULE_MAGIC;

#define RFM_STATE_NFIELDS	15

/*
 * Start of the last period, as_of - last_period, computed on timestamps
 * without time zone: a day is 24 hours and a month is a calendar month in
 * UTC, so the answer never depends on the session TimeZone.
 */
int64
rfm_period_start(int64 as_of, const Interval *last_period)
{
	int64		start;

	start = DatumGetTimestamp(DirectFunctionCall2(timestamp_mi_interval,
												  TimestampGetDatum(as_of),
												  IntervalPGetDatum(last_period)));
	if (start >= as_of)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("last_period must be positive"),
				 errhint("Pass an interval such as '30 days'.")));
	return start;
}

/*
 * A new, empty state, allocated in the current memory context.  The caller
 * has checked the last period (rfm_period_start).
 */
RfmState *
rfm_state_new(int64 as_of, const Interval *last_period, bool is_date)
{
	RfmState   *state = palloc0(RFM_STATE_FIXED_SIZE);

	SET_VARSIZE(state, RFM_STATE_FIXED_SIZE);
	state->version = RFM_STATE_VERSION;
	state->flags = is_date ? RFM_FLAG_DATE : 0;
	state->as_of = as_of;
	state->last_period = *last_period;
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
Numeric
rfm_state_big(const RfmState *state, int which)
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
RfmState *
rfm_state_set_big(RfmState *state, int which, Numeric big)
{
	Numeric		bigs[RFM_NSUMS];
	Size		size = RFM_STATE_FIXED_SIZE;
	RfmState   *result;
	Size		off;

	for (int i = 0; i < RFM_NSUMS; i++)
	{
		bigs[i] = (i == which) ? big : rfm_state_big(state, i);
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
Numeric
rfm_state_sum(const RfmState *state, int which)
{
	Numeric		small = rfm_decimal_small_numeric(&state->sums[which]);
	Numeric		big = rfm_state_big(state, which);

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
	RfmDecimal *sum = &state->sums[which];

	if (rfm_numeric_decode((struct varlena *) value, &sum->small, &sum->scale))
		return state;
	sum->small = 0;
	sum->scale = 0;
	return rfm_state_set_big(state, which, value);
}

static void
append_sum(StringInfo buf, const RfmState *state, int which)
{
	Numeric		sum = rfm_state_sum(state, which);

	appendStringInfo(buf, ",%s",
					 DatumGetCString(DirectFunctionCall1(numeric_out,
														 NumericGetDatum(sum))));
}

static char *
state_to_text(const RfmState *state)
{
	StringInfoData buf;
	bool		is_date = (state->flags & RFM_FLAG_DATE) != 0;

	initStringInfo(&buf);
	appendStringInfo(&buf, "(%d,%c," INT64_FORMAT ",%d,%d," INT64_FORMAT ",",
					 state->version, is_date ? 'd' : 't', state->as_of,
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
	appendStringInfoChar(&buf, ')');
	return buf.data;
}

static void
bad_state(const char *input, const char *detail)
{
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

/* parse and check the text form; every field is validated */
static RfmState *
state_from_text(const char *input)
{
	static const char *const names[RFM_STATE_NFIELDS] = {
		"version", "kind", "as_of", "lp_months", "lp_days", "lp_usecs",
		"first_event", "last_event", "frequency", "frequency_last_period",
		"ignored_after_as_of", "amount_count", "monetary",
		"weighted_frequency", "weighted_frequency_last_period"
	};
	char	   *fields[RFM_STATE_NFIELDS];
	char	   *copy;
	char	   *p;
	int			nfields = 0;
	size_t		len = strlen(input);
	RfmState   *state;
	Interval	lp;
	int64		as_of;
	int64		v;
	bool		is_date;

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
	if (nfields != RFM_STATE_NFIELDS)
		bad_state(input, psprintf("Expected %d fields.", RFM_STATE_NFIELDS));

	if (parse_int64(input, fields[0], names[0]) != RFM_STATE_VERSION)
		bad_state(input, psprintf("Unsupported layout version %s.", fields[0]));
	if (strcmp(fields[1], "t") != 0 && strcmp(fields[1], "d") != 0)
		bad_state(input, "Field kind must be t or d.");
	is_date = fields[1][0] == 'd';

	as_of = parse_int64(input, fields[2], names[2]);
	if (TIMESTAMP_NOT_FINITE(as_of) || !IS_VALID_TIMESTAMP(as_of))
		bad_state(input, "Field as_of is out of range.");
	v = parse_int64(input, fields[3], names[3]);
	if (v < INT_MIN || v > INT_MAX)
		bad_state(input, "Field lp_months is out of range.");
	lp.month = (int32) v;
	v = parse_int64(input, fields[4], names[4]);
	if (v < INT_MIN || v > INT_MAX)
		bad_state(input, "Field lp_days is out of range.");
	lp.day = (int32) v;
	lp.time = parse_int64(input, fields[5], names[5]);

	(void) rfm_period_start(as_of, &lp);	/* checks that it is positive */
	state = rfm_state_new(as_of, &lp, is_date);
	state->frequency = parse_int64(input, fields[8], names[8]);
	state->frequency_last = parse_int64(input, fields[9], names[9]);
	state->ignored = parse_int64(input, fields[10], names[10]);
	state->amount_count = parse_int64(input, fields[11], names[11]);
	if (state->frequency < 0 || state->frequency_last < 0 ||
		state->ignored < 0 || state->amount_count < 0)
		bad_state(input, "Counts must not be negative.");
	if (state->frequency_last > state->frequency ||
		state->amount_count > state->frequency)
		bad_state(input, "frequency_last_period and amount_count must not exceed frequency.");

	if (state->frequency > 0)
	{
		state->first_event = parse_int64(input, fields[6], names[6]);
		state->last_event = parse_int64(input, fields[7], names[7]);
		if (state->first_event > state->last_event ||
			state->last_event > as_of ||
			TIMESTAMP_NOT_FINITE(state->first_event) ||
			!IS_VALID_TIMESTAMP(state->first_event))
			bad_state(input, "Events must satisfy first_event <= last_event <= as_of.");
	}
	else if (fields[6][0] != '\0' || fields[7][0] != '\0')
		bad_state(input, "first_event and last_event must be empty when frequency is 0.");

	if (is_date &&
		(as_of % USECS_PER_DAY != 0 ||
		 (state->frequency > 0 &&
		  (state->first_event % USECS_PER_DAY != 0 ||
		   state->last_event % USECS_PER_DAY != 0))))
		bad_state(input, "A date state holds midnights only.");

	for (int i = 0; i < RFM_NSUMS; i++)
	{
		Numeric		sum = parse_sum(input, fields[12 + i], names[12 + i]);
		int64		terms;

		/* a sum of no terms must be zero */
		terms = (i == RFM_SUM_MONETARY) ? state->amount_count :
			(i == RFM_SUM_WEIGHTED) ? state->frequency : state->frequency_last;
		if (terms == 0 && numeric_is_nonzero(sum))
			bad_state(input, psprintf("Field %s must be 0 when it sums no event.",
									  names[12 + i]));
		state = state_set_sum(state, i, sum);
	}
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

/* binary input: a version word, then the text form */
PG_FUNCTION_INFO_V1(rfm_metrics_state_recv);
Datum
rfm_metrics_state_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			version = pq_getmsgint(buf, 2);
	const char *text;

	if (version != RFM_STATE_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("unsupported rfm_metrics_state layout version %d",
						version)));
	text = pq_getmsgstring(buf);
	PG_RETURN_POINTER(state_from_text(text));
}

/* binary output: a version word, then the text form */
PG_FUNCTION_INFO_V1(rfm_metrics_state_send);
Datum
rfm_metrics_state_send(PG_FUNCTION_ARGS)
{
	RfmState   *state = PG_GETARG_RFM_STATE(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, RFM_STATE_VERSION);
	pq_sendstring(&buf, state_to_text(state));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}
