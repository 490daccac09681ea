/*-------------------------------------------------------------------------
 *
 * metrics.c
 *	  The rfm_metrics aggregates: transition, combine and final functions.
 *
 * One state type serves all six forms (timestamptz or date; with or without
 * weight and last_period).  Transition and combine update the state in place
 * when called by the executor, so a group costs the same memory whether it
 * has one event or a billion.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "rfm_segment.h"

#include "access/htup_details.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/fmgrprotos.h"
#include "utils/timestamp.h"

/* how the arguments of one transition function are laid out */
typedef struct TransForm
{
	bool		is_date;
	int			weight_arg;		/* -1: every event weighs 1 */
	bool		weight_is_float8;
	int			as_of_arg;
	int			last_period_arg;	/* -1: the default of 30 days */
} TransForm;

/*
 * Per-query cache of a transition function.  as_of and last_period are the
 * same for every group in practice, so the start of the last period is
 * computed once, not once per customer; float8 weights repeat (one per
 * event kind), so the last conversion is kept.
 */
typedef struct TransCache
{
	bool		period_valid;
	int64		as_of;
	Interval	last_period;
	int64		period_start;
	bool		weight_valid;
	float8		weight;
	bool		weight_fits;
	int128		weight_mantissa;
	int32		weight_scale;
} TransCache;

static TransCache *
get_cache(FunctionCallInfo fcinfo)
{
	if (fcinfo->flinfo->fn_extra == NULL)
		fcinfo->flinfo->fn_extra = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt,
														  sizeof(TransCache));
	return (TransCache *) fcinfo->flinfo->fn_extra;
}

static bool
interval_equal(const Interval *a, const Interval *b)
{
	return a->time == b->time && a->day == b->day && a->month == b->month;
}

/* as_of - last_period, through the cache */
static int64
period_start(TransCache *cache, int64 as_of, const Interval *last_period)
{
	if (!cache->period_valid || cache->as_of != as_of ||
		!interval_equal(&cache->last_period, last_period))
	{
		cache->period_start = rfm_period_start(as_of, last_period);
		cache->as_of = as_of;
		cache->last_period = *last_period;
		cache->period_valid = true;
	}
	return cache->period_start;
}

#define AMOUNT_HINT "Pass NULL to count the row for frequency only."
#define WEIGHT_HINT "Pass NULL to leave the row out of the weighted frequency."

#define ARG_EVENT	1
#define ARG_AMOUNT	2

/*
 * Date and timestamptz states share one layout; a state of the other kind
 * can only arrive when support functions are called by hand.
 */
static void
check_state_kind(const RfmState *state, bool is_date, const char *role)
{
	if (((state->flags & RFM_FLAG_DATE) != 0) != is_date)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rfm_metrics state of the %s form passed to %s of the %s form",
						is_date ? "timestamptz" : "date", role,
						is_date ? "date" : "timestamptz")));
}

/*
 * A date as the microseconds of its midnight.  Dates reach beyond the
 * timestamp range (to 5874897 AD), where the product would overflow: those
 * are an error, not a wrapped number.
 */
int64
rfm_date_usecs(DateADT d, const char *argname)
{
	if (DATE_NOT_FINITE(d))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("%s must be finite", argname),
				 errhint("Pass a real date, not infinity or -infinity.")));
	if (d < DATETIME_MIN_JULIAN - POSTGRES_EPOCH_JDATE ||
		d >= TIMESTAMP_END_JULIAN - POSTGRES_EPOCH_JDATE)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("%s is out of range", argname),
				 errhint("Dates must lie within the timestamp range, 4713 BC to 294276 AD.")));
	return (int64) d * USECS_PER_DAY;
}

/* a timestamptz, checked: ±infinity is an error naming the argument */
int64
rfm_timestamp_usecs(TimestampTz t, const char *argname)
{
	if (TIMESTAMP_NOT_FINITE(t))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("%s must be finite", argname),
				 errhint("Pass a real time, not infinity or -infinity.")));
	return t;
}

/* a time argument as microseconds since 2000-01-01; errors if infinite */
static int64
get_time_arg(FunctionCallInfo fcinfo, int argno, bool is_date,
			 const char *argname)
{
	if (is_date)
		return rfm_date_usecs(PG_GETARG_DATEADT(argno), argname);
	return rfm_timestamp_usecs(PG_GETARG_TIMESTAMPTZ(argno), argname);
}

/*
 * Add a term to sum "which".  The fast path adds a scaled integer in place;
 * when the sum would pass 38 digits, the small part and the term move to
 * the state's numeric overflow part, which may reallocate the state.
 * "value" is read only when the term does not fit (fits is false); it may
 * have a short varlena header.
 */
static RfmState *
add_term(RfmState *state, int which, bool fits, int128 mantissa, int32 scale,
		 Numeric value)
{
	RfmDecimal *sum = &state->sums[which];
	Numeric		big;
	Numeric		total;

	if (fits && rfm_decimal_add(sum, mantissa, scale))
		return state;

	total = rfm_decimal_small_numeric(sum);
	sum->small = 0;
	big = rfm_state_big(state, which);
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
	return rfm_state_set_big(state, which, total);
}

/* the numeric value of a weight argument, for the slow path only */
static Numeric
weight_numeric(FunctionCallInfo fcinfo, const TransForm *form)
{
	if (form->weight_is_float8)
		return DatumGetNumeric(DirectFunctionCall1(float8_numeric,
												   PG_GETARG_DATUM(form->weight_arg)));
	return PG_GETARG_NUMERIC(form->weight_arg);
}

/*
 * Decode the weight argument into a scaled integer.  float8 weights are
 * converted as float8::numeric does (15 significant digits), so the sum is
 * exact and independent of row order.
 */
static bool
decode_weight(FunctionCallInfo fcinfo, const TransForm *form,
			  TransCache *cache, int128 *mantissa, int32 *scale)
{
	if (form->weight_is_float8)
	{
		float8		w = PG_GETARG_FLOAT8(form->weight_arg);

		if (isnan(w))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("weight must not be NaN"),
					 errhint(WEIGHT_HINT)));
		if (isinf(w))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("weight must be finite"),
					 errhint(WEIGHT_HINT)));
		if (!cache->weight_valid || cache->weight != w)
		{
			Numeric		num = weight_numeric(fcinfo, form);

			cache->weight_fits = rfm_numeric_decode((struct varlena *) num,
													&cache->weight_mantissa,
													&cache->weight_scale);
			cache->weight = w;
			cache->weight_valid = true;
		}
		*mantissa = cache->weight_mantissa;
		*scale = cache->weight_scale;
		return cache->weight_fits;
	}
	else
	{
		struct varlena *w = (struct varlena *) PG_GETARG_RAW_VARLENA_P(form->weight_arg);

		if (VARATT_IS_EXTENDED(w) && !VARATT_IS_SHORT(w))
			w = pg_detoast_datum(w);
		rfm_check_finite((Numeric) w, "weight", WEIGHT_HINT);
		return rfm_numeric_decode(w, mantissa, scale);
	}
}

/* the term of an event without a weight column: every event weighs 1 */
const RfmTerm rfm_term_one = {true, true, 1, 0, NULL};

/*
 * A numeric argument as a term.  The datum may have a short varlena header
 * (straight from a heap tuple); only compressed or external values are
 * detoasted.  NaN and infinities are errors naming the argument.
 */
void
rfm_term_from_numeric(struct varlena *raw, const char *argname,
					  const char *hint, RfmTerm *term)
{
	if (VARATT_IS_EXTENDED(raw) && !VARATT_IS_SHORT(raw))
		raw = pg_detoast_datum(raw);
	rfm_check_finite((Numeric) raw, argname, hint);
	term->present = true;
	term->fits = rfm_numeric_decode(raw, &term->mantissa, &term->scale);
	term->value = (Numeric) raw;
}

/*
 * Count one event into a state: the heart of every transition, shared with
 * the one-scan analysis so both give the same numbers.  Events after as_of
 * only count as ignored.  May return a reallocated state (sums past 38
 * digits).
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

/*
 * The body shared by every transition function.  NULL event times are
 * skipped; events after as_of are counted in ignored_after_as_of only.
 */
static Datum
metrics_trans(FunctionCallInfo fcinfo, const TransForm *form)
{
	TransCache *cache = get_cache(fcinfo);
	RfmState   *state;
	int64		as_of;
	int64		start;
	int64		event;
	Interval	default_period = {0, 30, 0};
	const Interval *last_period = &default_period;
	RfmTerm		amount = {0};
	RfmTerm		weight = {0};

	if (PG_ARGISNULL(form->as_of_arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("as_of must not be NULL"),
				 errhint("Pass the time the metrics are computed at, such as a fixed date or now().")));
	as_of = get_time_arg(fcinfo, form->as_of_arg, form->is_date, "as_of");

	if (form->last_period_arg >= 0)
	{
		if (PG_ARGISNULL(form->last_period_arg))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("last_period must not be NULL"),
					 errhint("Pass an interval such as '30 days'.")));
		last_period = PG_GETARG_INTERVAL_P(form->last_period_arg);
	}

	/* also checks that the last period is positive */
	start = period_start(cache, as_of, last_period);

	if (PG_ARGISNULL(0))
		state = rfm_state_new(as_of, last_period, form->is_date);
	else
	{
		state = PG_GETARG_RFM_STATE(0);
		check_state_kind(state, form->is_date, "a transition function");
		if (state->as_of != as_of)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("as_of must be the same for every row of a group"),
					 errhint("Pass a constant as_of, or group by it.")));
		if (!interval_equal(&state->last_period, last_period))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("last_period must be the same for every row of a group"),
					 errhint("Pass a constant last_period.")));
		/* outside an aggregate, the input must not be scribbled on */
		if (!AggCheckCallContext(fcinfo, NULL))
			state = rfm_state_copy(state);
	}

	if (PG_ARGISNULL(ARG_EVENT))
		PG_RETURN_POINTER(state);
	event = get_time_arg(fcinfo, ARG_EVENT, form->is_date, "event_time");

	/* inputs are checked even on ignored rows: bad data is an error */
	if (!PG_ARGISNULL(ARG_AMOUNT))
		rfm_term_from_numeric(PG_GETARG_RAW_VARLENA_P(ARG_AMOUNT), "amount",
							  AMOUNT_HINT, &amount);
	if (form->weight_arg < 0)
		weight = rfm_term_one;
	else if (!PG_ARGISNULL(form->weight_arg))
	{
		weight.present = true;
		weight.fits = decode_weight(fcinfo, form, cache, &weight.mantissa,
									&weight.scale);
		weight.value = weight.fits ? NULL : weight_numeric(fcinfo, form);
	}

	PG_RETURN_POINTER(rfm_state_add_event(state, event, start, &amount, &weight));
}

/* rfm_metrics(event_time timestamptz, amount numeric, as_of timestamptz) */
PG_FUNCTION_INFO_V1(rfm_metrics_trans);
Datum
rfm_metrics_trans(PG_FUNCTION_ARGS)
{
	static const TransForm form = {false, -1, false, 3, -1};

	return metrics_trans(fcinfo, &form);
}

/* ... with a numeric weight and a last_period (timestamptz) */
PG_FUNCTION_INFO_V1(rfm_metrics_trans_numeric);
Datum
rfm_metrics_trans_numeric(PG_FUNCTION_ARGS)
{
	static const TransForm form = {false, 3, false, 4, 5};

	return metrics_trans(fcinfo, &form);
}

/* ... with a float8 weight and a last_period (timestamptz) */
PG_FUNCTION_INFO_V1(rfm_metrics_trans_float8);
Datum
rfm_metrics_trans_float8(PG_FUNCTION_ARGS)
{
	static const TransForm form = {false, 3, true, 4, 5};

	return metrics_trans(fcinfo, &form);
}

/* rfm_metrics(event_time date, amount numeric, as_of date) */
PG_FUNCTION_INFO_V1(rfm_metrics_trans_date);
Datum
rfm_metrics_trans_date(PG_FUNCTION_ARGS)
{
	static const TransForm form = {true, -1, false, 3, -1};

	return metrics_trans(fcinfo, &form);
}

/* ... with a numeric weight and a last_period (date) */
PG_FUNCTION_INFO_V1(rfm_metrics_trans_date_numeric);
Datum
rfm_metrics_trans_date_numeric(PG_FUNCTION_ARGS)
{
	static const TransForm form = {true, 3, false, 4, 5};

	return metrics_trans(fcinfo, &form);
}

/* ... with a float8 weight and a last_period (date) */
PG_FUNCTION_INFO_V1(rfm_metrics_trans_date_float8);
Datum
rfm_metrics_trans_date_float8(PG_FUNCTION_ARGS)
{
	static const TransForm form = {true, 3, true, 4, 5};

	return metrics_trans(fcinfo, &form);
}

/* merge the sum "which" of "other" into "state" */
static RfmState *
merge_sum(RfmState *state, const RfmState *other, int which)
{
	Numeric		other_big = rfm_state_big(other, which);
	Numeric		small;

	if (!rfm_decimal_merge(&state->sums[which], &other->sums[which]))
	{
		small = rfm_decimal_small_numeric(&other->sums[which]);
		state = add_term(state, which, false, 0, 0, small);
	}
	if (other_big != NULL)
		state = add_term(state, which, false, 0, 0, other_big);
	return state;
}

/*
 * Merge two partial states (parallel workers, Citus shards).  STRICT: the
 * executor handles NULL states.  States computed for different as_of or
 * last_period describe different things, so merging them is an error.
 */
PG_FUNCTION_INFO_V1(rfm_metrics_combine);
Datum
rfm_metrics_combine(PG_FUNCTION_ARGS)
{
	RfmState   *state = PG_GETARG_RFM_STATE(0);
	RfmState   *other = PG_GETARG_RFM_STATE(1);

	if (state->flags != other->flags)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine a date rfm_metrics state with a timestamptz one")));
	if (state->as_of != other->as_of ||
		!interval_equal(&state->last_period, &other->last_period))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine rfm_metrics states with different as_of or last_period"),
				 errhint("Combine only states computed with the same as_of and last_period.")));

	if (!AggCheckCallContext(fcinfo, NULL))
		state = rfm_state_copy(state);

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

	PG_RETURN_POINTER(state);
}

/* days from one time to another, fractional; whole for midnights */
float8
rfm_days_between(int64 from, int64 to)
{
	int64		diff;

	/* times 292,000 years apart overflow int64: then in double */
	if (__builtin_sub_overflow(to, from, &diff))
		return ((float8) to - (float8) from) / (float8) USECS_PER_DAY;
	return (float8) diff / (float8) USECS_PER_DAY;
}

static Datum
time_datum(int64 t, bool is_date)
{
	if (is_date)
		return DateADTGetDatum((DateADT) (t / USECS_PER_DAY));
	return TimestampTzGetDatum(t);
}

/*
 * The eleven fields of the metrics row.  Fields that need an event (first
 * and last, recency, tenure) are NULL when no event fell on or before
 * as_of; monetary and avg_amount are NULL when no counted event had an
 * amount, as sum() and avg() are.  First and last are dates for a date
 * state, timestamptz otherwise.
 */
void
rfm_state_values(const RfmState *state, Datum *values, bool *nulls)
{
	bool		is_date = (state->flags & RFM_FLAG_DATE) != 0;

	memset(nulls, 0, RFM_METRICS_NFIELDS * sizeof(bool));
	if (state->frequency > 0)
	{
		values[0] = time_datum(state->first_event, is_date);
		values[1] = time_datum(state->last_event, is_date);
		values[2] = Float8GetDatum(rfm_days_between(state->last_event, state->as_of));
		values[3] = Float8GetDatum(rfm_days_between(state->first_event, state->as_of));
	}
	else
		nulls[0] = nulls[1] = nulls[2] = nulls[3] = true;
	values[4] = Int64GetDatum(state->frequency);
	values[5] = NumericGetDatum(rfm_state_sum(state, RFM_SUM_WEIGHTED));
	values[6] = Int64GetDatum(state->frequency_last);
	values[7] = NumericGetDatum(rfm_state_sum(state, RFM_SUM_WEIGHTED_LAST));
	if (state->amount_count > 0)
	{
		/* avg_amount is computed as avg(numeric) does: sum / count */
		values[8] = NumericGetDatum(rfm_state_sum(state, RFM_SUM_MONETARY));
		values[9] = DirectFunctionCall2(numeric_div, values[8],
										NumericGetDatum(int64_to_numeric(state->amount_count)));
	}
	else
		nulls[8] = nulls[9] = true;
	values[10] = Int64GetDatum(state->ignored);
}

/* the metrics row, as rfm_metrics or rfm_metrics_date */
static Datum
metrics_final(FunctionCallInfo fcinfo, bool is_date)
{
	RfmState   *state = PG_GETARG_RFM_STATE(0);
	TupleDesc	tupdesc = (TupleDesc) fcinfo->flinfo->fn_extra;
	Datum		values[RFM_METRICS_NFIELDS];
	bool		nulls[RFM_METRICS_NFIELDS];

	check_state_kind(state, is_date, "the final function");

	if (tupdesc == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "rfm_metrics must return a composite type");
		tupdesc = BlessTupleDesc(CreateTupleDescCopy(tupdesc));
		fcinfo->flinfo->fn_extra = tupdesc;
		MemoryContextSwitchTo(old);
	}

	rfm_state_values(state, values, nulls);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* final function of the timestamptz forms; returns rfm_metrics */
PG_FUNCTION_INFO_V1(rfm_metrics_final);
Datum
rfm_metrics_final(PG_FUNCTION_ARGS)
{
	return metrics_final(fcinfo, false);
}

/* final function of the date forms; returns rfm_metrics_date */
PG_FUNCTION_INFO_V1(rfm_metrics_final_date);
Datum
rfm_metrics_final_date(PG_FUNCTION_ARGS)
{
	return metrics_final(fcinfo, true);
}
