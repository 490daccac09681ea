/*-------------------------------------------------------------------------
 *
 * metrics.c
 *	  The rfm_metrics aggregates: transition, combine and final functions.
 *
 * One state type serves every form: timestamptz or date; with or without a
 * weight (numeric or float8), a last_period and a refunds setting.  This file reads the SQL arguments; state.c
 * does the counting.  Transition and combine update the state in place
 * when called by the executor, so a group costs the same memory whether it
 * has one event or a billion.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "state.h"
#include "timeutil.h"

#include "access/htup_details.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/timestamp.h"

/* how the arguments of one transition function are laid out */
typedef struct TransForm
{
	bool		is_date;
	int			weight_arg;		/* -1: every event weighs 1 */
	bool		weight_is_float8;
	int			as_of_arg;
	int			last_period_arg;	/* -1: the default of 30 days */
	int			refunds_arg;	/* -1: 'events' */
} TransForm;

/*
 * Per-query cache of a transition function.  as_of and last_period are the
 * same for every row in practice, so as_of is checked and converted and the
 * start of the last period computed once, not once per row; float8 weights
 * repeat (one per event kind), so the last conversion is kept.
 */
typedef struct TransCache
{
	bool		as_of_valid;	/* as_of_arg was checked and converted */
	Datum		as_of_arg;
	int64		as_of_usecs;
	bool		period_valid;
	int64		as_of;
	Interval	last_period;
	int64		period_start;
	bool		weight_valid;
	float8		weight;
	RfmTerm		weight_term;
} TransCache;

#define AMOUNT_HINT "Pass NULL to count the row for frequency only."
#define WEIGHT_HINT "Pass NULL to leave the row out of the weighted frequency."

/* the default last period of the three-argument forms */
#define DEFAULT_LAST_PERIOD_DAYS 30

#define ARG_STATE	0
#define ARG_EVENT	1
#define ARG_AMOUNT	2

static TransCache *
get_cache(FunctionCallInfo fcinfo)
{
	if (fcinfo->flinfo->fn_extra == NULL)
		fcinfo->flinfo->fn_extra = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt,
														  sizeof(TransCache));
	return (TransCache *) fcinfo->flinfo->fn_extra;
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
 * The as_of argument in microseconds, through the cache: date and
 * timestamptz are passed by value, so an unchanged Datum is an unchanged,
 * already checked, as_of.
 */
static int64
cached_as_of(FunctionCallInfo fcinfo, const TransForm *form, TransCache *cache)
{
	Datum		arg = PG_GETARG_DATUM(form->as_of_arg);

	if (!cache->as_of_valid || cache->as_of_arg != arg)
	{
		cache->as_of_usecs = get_time_arg(fcinfo, form->as_of_arg,
										  form->is_date, "as_of");
		cache->as_of_arg = arg;
		cache->as_of_valid = true;
	}
	return cache->as_of_usecs;
}

/* as_of - last_period, through the cache */
static int64
period_start(TransCache *cache, int64 as_of, const Interval *last_period)
{
	if (!cache->period_valid || cache->as_of != as_of ||
		!rfm_interval_equal(&cache->last_period, last_period))
	{
		cache->period_start = rfm_period_start(as_of, last_period);
		cache->as_of = as_of;
		cache->last_period = *last_period;
		cache->period_valid = true;
	}
	return cache->period_start;
}

/*
 * Date and timestamptz states share one layout; a state of the other kind
 * can only arrive when support functions are called by hand.
 */
static void
check_state_kind(const RfmState *state, bool is_date, const char *role)
{
	if (rfm_state_is_date(state) != is_date)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rfm_metrics state of the %s form passed to %s of the %s form",
						is_date ? "timestamptz" : "date", role,
						is_date ? "date" : "timestamptz")));
}

/*
 * Raise the error that says which parameter of a row differs from those of
 * its group's state (rfm_state_matches said one does).
 */
static void
report_mismatch(const RfmState *state, const TransForm *form, int64 as_of,
				const Interval *last_period, RfmRefunds refunds)
{
	check_state_kind(state, form->is_date, "a transition function");
	if (rfm_state_as_of(state) != as_of)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("as_of must be the same for every row of a group"),
				 errhint("Pass a constant as_of, or group by it.")));
	if (!rfm_interval_equal(rfm_state_last_period(state), last_period))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("last_period must be the same for every row of a group"),
				 errhint("Pass a constant last_period.")));
	if (rfm_state_refunds(state) != refunds)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("refunds must be the same for every row of a group"),
				 errhint("Pass a constant 'events' or 'adjust'.")));
	elog(ERROR, "rfm_metrics state does not match its transition arguments");
}

/*
 * The weight argument as a term.  float8 weights are converted as
 * float8::numeric does (15 significant digits), so the sum is exact and
 * independent of row order; the conversion of the last weight seen is
 * kept, because weights repeat (one per kind of event).
 */
static void
get_weight(FunctionCallInfo fcinfo, const TransForm *form, TransCache *cache,
		   RfmTerm *term)
{
	float8		w;

	if (!form->weight_is_float8)
	{
		rfm_term_from_numeric(PG_GETARG_RAW_VARLENA_P(form->weight_arg),
							  "weight", WEIGHT_HINT, term);
		return;
	}
	w = PG_GETARG_FLOAT8(form->weight_arg);
	if (!cache->weight_valid || cache->weight != w)
	{
		/* a numeric that does not fit the fast form lives with the cache */
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		rfm_term_from_float8(w, "weight", WEIGHT_HINT, &cache->weight_term);
		MemoryContextSwitchTo(old);
		cache->weight = w;
		cache->weight_valid = true;
	}
	*term = cache->weight_term;
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
	Interval	default_period = {0, DEFAULT_LAST_PERIOD_DAYS, 0};
	const Interval *last_period = &default_period;
	RfmTerm		amount = {0};
	RfmTerm		weight = {0};
	RfmRefunds	refunds = RFM_REFUNDS_EVENTS;

	if (PG_ARGISNULL(form->as_of_arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("as_of must not be NULL"),
				 errhint("Pass the time the metrics are computed at, such as a fixed date or now().")));
	as_of = cached_as_of(fcinfo, form, cache);

	if (form->last_period_arg >= 0)
	{
		if (PG_ARGISNULL(form->last_period_arg))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("last_period must not be NULL"),
					 errhint("Pass an interval such as '30 days'.")));
		last_period = PG_GETARG_INTERVAL_P(form->last_period_arg);
	}

	if (form->refunds_arg >= 0)
	{
		if (PG_ARGISNULL(form->refunds_arg))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("refunds must not be NULL"),
					 errhint("Pass 'events' or 'adjust'.")));
		refunds = rfm_parse_refunds(PG_GETARG_TEXT_PP(form->refunds_arg));
	}

	/* also checks that the last period is positive */
	start = period_start(cache, as_of, last_period);

	if (PG_ARGISNULL(ARG_STATE))
		state = rfm_state_new(as_of, last_period, form->is_date, refunds);
	else
	{
		state = PG_GETARG_RFM_STATE(ARG_STATE);
		if (!rfm_state_matches(state, as_of, last_period, form->is_date, refunds))
			report_mismatch(state, form, as_of, last_period, refunds);
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
		get_weight(fcinfo, form, cache, &weight);

	PG_RETURN_POINTER(rfm_state_add_event(state, event, start, &amount, &weight));
}

/* rfm_metrics(event_time timestamptz, amount numeric, as_of timestamptz) */
PG_FUNCTION_INFO_V1(rfm_metrics_trans);
Datum
rfm_metrics_trans(PG_FUNCTION_ARGS)
{
	static const TransForm form = {false, -1, false, 3, -1, -1};

	return metrics_trans(fcinfo, &form);
}

/* ... with a numeric weight and a last_period (timestamptz) */
PG_FUNCTION_INFO_V1(rfm_metrics_trans_numeric);
Datum
rfm_metrics_trans_numeric(PG_FUNCTION_ARGS)
{
	static const TransForm form = {false, 3, false, 4, 5, -1};

	return metrics_trans(fcinfo, &form);
}

/* ... with a float8 weight and a last_period (timestamptz) */
PG_FUNCTION_INFO_V1(rfm_metrics_trans_float8);
Datum
rfm_metrics_trans_float8(PG_FUNCTION_ARGS)
{
	static const TransForm form = {false, 3, true, 4, 5, -1};

	return metrics_trans(fcinfo, &form);
}

/* rfm_metrics(event_time date, amount numeric, as_of date) */
PG_FUNCTION_INFO_V1(rfm_metrics_trans_date);
Datum
rfm_metrics_trans_date(PG_FUNCTION_ARGS)
{
	static const TransForm form = {true, -1, false, 3, -1, -1};

	return metrics_trans(fcinfo, &form);
}

/* ... with a numeric weight and a last_period (date) */
PG_FUNCTION_INFO_V1(rfm_metrics_trans_date_numeric);
Datum
rfm_metrics_trans_date_numeric(PG_FUNCTION_ARGS)
{
	static const TransForm form = {true, 3, false, 4, 5, -1};

	return metrics_trans(fcinfo, &form);
}

/* ... with a float8 weight and a last_period (date) */
PG_FUNCTION_INFO_V1(rfm_metrics_trans_date_float8);
Datum
rfm_metrics_trans_date_float8(PG_FUNCTION_ARGS)
{
	static const TransForm form = {true, 3, true, 4, 5, -1};

	return metrics_trans(fcinfo, &form);
}

/* rfm_metrics(event_time timestamptz, amount numeric, as_of timestamptz, last_period interval) */
PG_FUNCTION_INFO_V1(rfm_metrics_trans_period);
Datum
rfm_metrics_trans_period(PG_FUNCTION_ARGS)
{
	static const TransForm form = {false, -1, false, 3, 4, -1};

	return metrics_trans(fcinfo, &form);
}

/* rfm_metrics(event_time date, amount numeric, as_of date, last_period interval) */
PG_FUNCTION_INFO_V1(rfm_metrics_trans_date_period);
Datum
rfm_metrics_trans_date_period(PG_FUNCTION_ARGS)
{
	static const TransForm form = {true, -1, false, 3, 4, -1};

	return metrics_trans(fcinfo, &form);
}

/* ... (timestamptz, amount, weight numeric, as_of, last_period, refunds) */
PG_FUNCTION_INFO_V1(rfm_metrics_trans_numeric_refunds);
Datum
rfm_metrics_trans_numeric_refunds(PG_FUNCTION_ARGS)
{
	static const TransForm form = {false, 3, false, 4, 5, 6};

	return metrics_trans(fcinfo, &form);
}

/* ... (timestamptz, amount, weight float8, as_of, last_period, refunds) */
PG_FUNCTION_INFO_V1(rfm_metrics_trans_float8_refunds);
Datum
rfm_metrics_trans_float8_refunds(PG_FUNCTION_ARGS)
{
	static const TransForm form = {false, 3, true, 4, 5, 6};

	return metrics_trans(fcinfo, &form);
}

/* ... (date, amount, weight numeric, as_of, last_period, refunds) */
PG_FUNCTION_INFO_V1(rfm_metrics_trans_date_numeric_refunds);
Datum
rfm_metrics_trans_date_numeric_refunds(PG_FUNCTION_ARGS)
{
	static const TransForm form = {true, 3, false, 4, 5, 6};

	return metrics_trans(fcinfo, &form);
}

/* ... (date, amount, weight float8, as_of, last_period, refunds) */
PG_FUNCTION_INFO_V1(rfm_metrics_trans_date_float8_refunds);
Datum
rfm_metrics_trans_date_float8_refunds(PG_FUNCTION_ARGS)
{
	static const TransForm form = {true, 3, true, 4, 5, 6};

	return metrics_trans(fcinfo, &form);
}

/*
 * Merge two partial states (parallel workers, Citus shards).  STRICT: the
 * executor handles NULL states.  Merging states of different as_of or
 * last_period is an error (rfm_state_merge).
 */
PG_FUNCTION_INFO_V1(rfm_metrics_combine);
Datum
rfm_metrics_combine(PG_FUNCTION_ARGS)
{
	RfmState   *state = PG_GETARG_RFM_STATE(0);
	RfmState   *other = PG_GETARG_RFM_STATE(1);

	if (!AggCheckCallContext(fcinfo, NULL))
		state = rfm_state_copy(state);
	PG_RETURN_POINTER(rfm_state_merge(state, other));
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
