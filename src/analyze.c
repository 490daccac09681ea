/*-------------------------------------------------------------------------
 *
 * analyze.c
 *	  The one-call analysis: rfm_analyze and rfm_snapshots scan a table
 *	  once and return metrics, scores and segments per customer.
 *
 * The scan and the customer table are scan.c's; each customer's payload
 * here is one metrics state per as-of date.  Every event goes through
 * rfm_state_add_event, the very code of the rfm_metrics aggregate; breaks,
 * scores and segments then use the code of rfm_breaks, rfm_score and
 * rfm_segment, so the numbers equal those of the SQL composition of those
 * functions.
 *
 * Memory: per customer, about 90 bytes of hash entry and bookkeeping, one
 * 152-byte state per as-of date, and the key's bytes when it is not passed
 * by value; at the end, 40 bytes per customer for the scores and 16 per
 * customer for each dimension's breaks, while the result rows go to a
 * tuplestore that spills to disk beyond work_mem.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "scan.h"
#include "scoring.h"
#include "segments.h"
#include "state.h"
#include "timeutil.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

/* argument positions, shared by rfm_analyze and rfm_snapshots */
#define ARG_SOURCE		0
#define ARG_COLUMNS		1		/* customer, time, amount, weight */
#define ARG_AS_OF		5
#define ARG_LAST_PERIOD 6
#define ARG_BINS		7
#define ARG_METHOD		8
#define ARG_RULE_SET	9
#define ARG_REFUNDS		10		/* absent from the 0.2 signature */

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
	Oid			relid;
	const char *columns[NCOLUMNS];	/* NULL: no such column */
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

/*
 * A customer's payload is an array of one state pointer per as-of date,
 * followed by the states themselves (a state moves out of the payload only
 * when a sum passes 38 digits).
 */
typedef RfmState *CustomerStates;

/* the scan's running state */
typedef struct AnalyzeState
{
	AnalyzeSpec *spec;
	RfmCustomers *customers;
	Size		states_offset;	/* of the inline states in the payload */
	bool		any_event;		/* the source's time span, for the as_of */
	int64		earliest;		/* check */
	int64		latest;
} AnalyzeState;

/* per snapshot and customer: the three values that are scored */
typedef struct Scored
{
	uint64		customer;		/* index in the customer table */
	float8		value[NDIMS];
	bool		isnull[NDIMS];
} Scored;

#define AMOUNT_HINT "Pass NULL to count the row for frequency only."
#define MEMORY_HINT "Compute the metrics with the rfm_metrics aggregate, whose GROUP BY spills to disk under work_mem"
#define WEIGHT_HINT "Pass NULL to leave the row out of the weighted frequency."

static int64
event_time(const AnalyzeSpec *spec, Datum value)
{
	if (spec->is_date)
		return rfm_date_usecs(DatumGetDateADT(value), "event_time");
	return rfm_timestamp_usecs(DatumGetTimestampTz(value), "event_time");
}

/* one scanned row: (key, time, amount, weight) */
static void
analyze_row(TupleTableSlot *slot, void *arg)
{
	AnalyzeState *st = (AnalyzeState *) arg;
	AnalyzeSpec *spec = st->spec;
	CustomerStates *states;
	RfmTerm		amount = {0};
	RfmTerm		weight = {0};
	int64		event;
	bool		found;

	if (slot->tts_isnull[COL_TIME])
		return;					/* no time: skipped, as by rfm_metrics */
	event = event_time(spec, slot->tts_values[COL_TIME]);
	if (!st->any_event || event < st->earliest)
		st->earliest = event;
	if (!st->any_event || event > st->latest)
		st->latest = event;
	st->any_event = true;
	if (!slot->tts_isnull[COL_AMOUNT])
		rfm_term_from_numeric((struct varlena *) DatumGetPointer(slot->tts_values[COL_AMOUNT]),
							  "amount", AMOUNT_HINT, &amount);
	if (spec->columns[COL_WEIGHT] == NULL)
		weight = rfm_term_one;
	else if (!slot->tts_isnull[COL_WEIGHT])
		rfm_term_from_numeric((struct varlena *) DatumGetPointer(slot->tts_values[COL_WEIGHT]),
							  "weight", WEIGHT_HINT, &weight);

	states = rfm_customers_lookup(st->customers, slot->tts_values[COL_KEY],
								  slot->tts_isnull[COL_KEY], &found);
	if (!found)
	{
		char	   *inline_states = (char *) states + st->states_offset;

		for (int i = 0; i < spec->nsnapshots; i++)
		{
			states[i] = (RfmState *) (inline_states + i * rfm_state_size());
			rfm_state_init(states[i], spec->as_of[i], &spec->last_period,
						   spec->is_date, spec->refunds);
		}
	}

	for (int i = 0; i < spec->nsnapshots; i++)
	{
		RfmState   *state = rfm_state_add_event(states[i], event,
												spec->period_start[i],
												&amount, &weight);

		/*
		 * A sum past 38 digits reallocated the state in this row's memory:
		 * keep it with the customers (the old one stays in its block).
		 */
		if (state != states[i])
		{
			MemoryContext old = MemoryContextSwitchTo(rfm_customers_context(st->customers));

			states[i] = rfm_state_copy(state);
			MemoryContextSwitchTo(old);
		}
	}
}

/*
 * The scan's query: the four columns, numbers cast to numeric (as the
 * aggregate's numeric forms take them) and a timestamp without time zone to
 * timestamptz in the session TimeZone, as its implicit cast does.
 */
static char *
build_query(const AnalyzeSpec *spec)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "SELECT %s, %s%s", quote_identifier(spec->columns[COL_KEY]),
					 quote_identifier(spec->columns[COL_TIME]),
					 spec->time_type == TIMESTAMPOID ? "::pg_catalog.timestamptz" : "");
	for (int i = COL_AMOUNT; i <= COL_WEIGHT; i++)
	{
		if (spec->columns[i] != NULL)
			appendStringInfo(&buf, ", %s::pg_catalog.numeric", quote_identifier(spec->columns[i]));
		else
			appendStringInfoString(&buf, ", NULL::pg_catalog.numeric");
	}
	appendStringInfo(&buf, " FROM %s", rfm_relation_name(spec->relid));
	return buf.data;
}

/* read and check the common arguments (positions as in the SQL signature) */
static void
read_spec(FunctionCallInfo fcinfo, AnalyzeSpec *spec)
{
	static const char *const argnames[NCOLUMNS] = {
		"customer_column", "time_column", "amount_column", "weight_column"
	};
	bool		has_amount;
	const char *rule_set;

	spec->relid = rfm_source_arg(fcinfo, ARG_SOURCE);
	for (int i = 0; i < NCOLUMNS; i++)
		spec->columns[i] = rfm_column_arg(fcinfo, ARG_COLUMNS + i, argnames[i],
										  i <= COL_TIME);
	has_amount = spec->columns[COL_AMOUNT] != NULL;

	spec->time_type = rfm_time_column_type(spec->relid, spec->columns[COL_TIME],
										   "time_column");
	spec->is_date = spec->time_type == DATEOID;
	rfm_check_number_column(spec->relid, spec->columns[COL_AMOUNT], "amount_column");
	rfm_check_number_column(spec->relid, spec->columns[COL_WEIGHT], "weight_column");

	if (PG_ARGISNULL(ARG_LAST_PERIOD))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("last_period must not be NULL"),
				 errhint("Pass an interval such as '30 days'.")));
	spec->last_period = *PG_GETARG_INTERVAL_P(ARG_LAST_PERIOD);
	if (PG_ARGISNULL(ARG_BINS))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("bins must not be NULL"),
				 errhint("Five bins are the usual choice.")));
	spec->bins = PG_GETARG_INT32(ARG_BINS);
	rfm_check_bins(spec->bins);
	if (PG_ARGISNULL(ARG_METHOD))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("method must not be NULL"),
				 errhint("Use 'quantile' (the default) or 'r_rfm'.")));
	spec->method = rfm_parse_method(PG_GETARG_TEXT_PP(ARG_METHOD));
	spec->refunds = RFM_REFUNDS_EVENTS;
	if (PG_NARGS() > ARG_REFUNDS)
	{
		if (PG_ARGISNULL(ARG_REFUNDS))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("refunds must not be NULL"),
					 errhint("Pass 'events' (the default) or 'adjust'.")));
		spec->refunds = rfm_parse_refunds(PG_GETARG_TEXT_PP(ARG_REFUNDS));
	}

	/* no amount, no monetary score: the third score is last-period activity */
	if (PG_ARGISNULL(ARG_RULE_SET))
		rule_set = rfm_default_rule_set(has_amount);
	else
	{
		rule_set = text_to_cstring(PG_GETARG_TEXT_PP(ARG_RULE_SET));
		if (!has_amount && strcmp(rule_set, RFM_RULES_STANDARD) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("rule set \"%s\" needs amount_column", RFM_RULES_STANDARD),
					 errhint("Without an amount the third score is the last-period frequency: use rule_set '%s', or leave rule_set out.",
							 RFM_RULES_RFFL)));
	}
	spec->segments = rfm_segment_map_load(get_func_namespace(fcinfo->flinfo->fn_oid),
										  rule_set, CurrentMemoryContext);
}

/* the as_of dates of rfm_snapshots: not empty, no NULL, ascending */
static void
read_as_of_array(AnalyzeSpec *spec, ArrayType *array)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	deconstruct_array(array, TIMESTAMPTZOID, sizeof(TimestampTz), true,
					  TYPALIGN_DOUBLE, &elems, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("as_of must not be empty"),
				 errhint("Pass the dates of the snapshots, such as month ends.")));
	spec->nsnapshots = n;
	spec->as_of_input = palloc(n * sizeof(TimestampTz));
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("as_of must not contain NULL")));
		spec->as_of_input[i] = DatumGetTimestampTz(elems[i]);
		if (i > 0 && spec->as_of_input[i] <= spec->as_of_input[i - 1])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("as_of must be in ascending order without repeats"),
					 errhint("Sort the dates, for example with ARRAY(SELECT DISTINCT d FROM ... ORDER BY d).")));
	}
}

/* as_of and the start of the last period of every snapshot */
static void
prepare_snapshots(AnalyzeSpec *spec)
{
	spec->as_of = palloc(spec->nsnapshots * sizeof(int64));
	spec->period_start = palloc(spec->nsnapshots * sizeof(int64));
	for (int i = 0; i < spec->nsnapshots; i++)
	{
		spec->as_of[i] = rfm_as_of_usecs(spec->as_of_input[i], spec->is_date, "as_of");
		spec->period_start[i] = rfm_period_start(spec->as_of[i], &spec->last_period);
	}
}

/*
 * The values scored for a customer: recency; frequency (the weighted one
 * when there is a weight column); monetary, or without an amount column the
 * last-period frequency (weighted likewise).  Sums are taken as float8, as
 * rfm_breaks and rfm_score take the numerics of rfm_metrics.
 */
static void
values_to_score(const AnalyzeSpec *spec, const RfmState *state, Scored *scored)
{
	bool		has_weight = spec->columns[COL_WEIGHT] != NULL;

	if (rfm_state_frequency(state) == 0)
	{
		/* refunds only: no purchase to score, and none of the breaks */
		scored->isnull[DIM_R] = scored->isnull[DIM_F] = scored->isnull[DIM_M] = true;
		return;
	}

	scored->value[DIM_R] = rfm_state_recency_days(state);
	scored->isnull[DIM_R] = false;
	scored->value[DIM_F] = has_weight ? rfm_state_sum_float8(state, RFM_SUM_WEIGHTED) :
		(float8) rfm_state_frequency(state);
	scored->isnull[DIM_F] = false;
	if (spec->columns[COL_AMOUNT] != NULL)
	{
		scored->isnull[DIM_M] = !rfm_state_has_amount(state);
		scored->value[DIM_M] = scored->isnull[DIM_M] ? 0 :
			rfm_state_sum_float8(state, RFM_SUM_MONETARY);
	}
	else
	{
		scored->isnull[DIM_M] = false;
		scored->value[DIM_M] = has_weight ?
			rfm_state_sum_float8(state, RFM_SUM_WEIGHTED_LAST) :
			(float8) rfm_state_frequency_last(state);
	}
}

/* cut points of one dimension over the customers of a snapshot */
static bool
dimension_breaks(const AnalyzeSpec *spec, const Scored *scored, uint64 n, int d,
				 float8 *breaks)
{
	RfmValueCount *items = palloc_extended(Max(n, 1) * sizeof(RfmValueCount),
										   MCXT_ALLOC_HUGE);
	int64		total = 0;

	for (uint64 i = 0; i < n; i++)
	{
		if (scored[i].isnull[d])
			continue;
		/* -0 and 0 are one value, as in rfm_breaks */
		items[total].value = scored[i].value[d] + 0.0;
		items[total].count = 1;
		total++;
	}
	if (total > 0)
	{
		(void) rfm_compact_values(items, (int) total);
		rfm_compute_breaks(items, total, spec->bins, spec->method, breaks);
	}
	pfree(items);
	return total > 0;
}

/*
 * Emit one snapshot: breaks over the customers with an event on or before
 * its as_of, then a row per such customer.
 */
static void
emit_snapshot(FunctionCallInfo fcinfo, AnalyzeState *st, int snap,
			  bool with_as_of, MemoryContext row_cxt)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	AnalyzeSpec *spec = st->spec;
	uint64		ncustomers = rfm_customers_count(st->customers);
	Scored	   *scored = palloc_extended(Max(ncustomers, 1) * sizeof(Scored),
										 MCXT_ALLOC_HUGE);
	uint64		n = 0;
	float8		breaks[NDIMS][RFM_MAX_BINS];
	int			base = with_as_of ? 1 : 0;

	for (uint64 i = 0; i < ncustomers; i++)
	{
		CustomerStates *states = rfm_customers_payload(st->customers, i);
		RfmState   *state = states[snap];

		/*
		 * No event on or before as_of: left out, unless refunds adjusted
		 * left a customer with refunds only, who is reported with
		 * frequency 0.
		 */
		if (rfm_state_frequency(state) == 0 && !rfm_state_has_monetary(state))
			continue;
		scored[n].customer = i;
		values_to_score(spec, state, &scored[n]);
		n++;
	}
	for (int d = 0; d < NDIMS; d++)
		(void) dimension_breaks(spec, scored, n, d, breaks[d]);

	for (uint64 i = 0; i < n; i++)
	{
		Datum		out[RFM_METRICS_NFIELDS + 6];
		bool		outnull[RFM_METRICS_NFIELDS + 6];
		Datum	   *values = out + base + 1;
		bool	   *nulls = outnull + base + 1;
		CustomerStates *states = rfm_customers_payload(st->customers,
													   scored[i].customer);
		int			score[NDIMS];
		bool		any_null = false;
		MemoryContext old = MemoryContextSwitchTo(row_cxt);

		if (with_as_of)
		{
			out[0] = TimestampTzGetDatum(spec->as_of_input[snap]);
			outnull[0] = false;
		}
		out[base] = rfm_customers_key_text(st->customers, scored[i].customer,
										   &outnull[base]);

		rfm_state_values(states[snap], values, nulls);
		if (spec->is_date)
		{
			/* first and last event at midnight in the session TimeZone */
			values[0] = DirectFunctionCall1(date_timestamptz, values[0]);
			values[1] = DirectFunctionCall1(date_timestamptz, values[1]);
		}
		for (int d = 0; d < NDIMS; d++)
		{
			nulls[RFM_METRICS_NFIELDS + d] = scored[i].isnull[d];
			if (scored[i].isnull[d])
			{
				any_null = true;
				continue;
			}
			score[d] = rfm_score_value(scored[i].value[d], breaks[d],
									   spec->bins - 1, spec->method);
			if (d == DIM_R)
				score[d] = spec->bins + 1 - score[d];	/* fewer days, higher */
			values[RFM_METRICS_NFIELDS + d] = Int32GetDatum(score[d]);
		}
		nulls[RFM_METRICS_NFIELDS + NDIMS] = any_null;
		if (!any_null)
			values[RFM_METRICS_NFIELDS + NDIMS] =
				PointerGetDatum(rfm_segment_map_name(spec->segments, score[DIM_R],
													 score[DIM_F], score[DIM_M]));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, outnull);
		MemoryContextSwitchTo(old);
		MemoryContextReset(row_cxt);
	}
	pfree(scored);
}

/*
 * Scan once, then emit every snapshot.  as_of NULL (rfm_analyze only, one
 * snapshot) means the latest event time of the source, found by a first
 * query.
 */
static void
run_analysis(FunctionCallInfo fcinfo, AnalyzeSpec *spec, bool with_as_of)
{
	AnalyzeState st;
	MemoryContext row_cxt;
	Size		payload;

	/*
	 * The customer's state pointers, then the states themselves.  Made
	 * first: it also checks the customer column.
	 */
	st.spec = spec;
	st.states_offset = MAXALIGN(spec->nsnapshots * sizeof(RfmState *));
	payload = st.states_offset + spec->nsnapshots * rfm_state_size();
	st.customers = rfm_customers_create(spec->relid, spec->columns[COL_KEY],
										payload, spec->function, MEMORY_HINT);

	InitMaterializedSRF(fcinfo, 0);
	if (spec->as_of_input == NULL)
	{
		TimestampTz latest;

		if (!rfm_latest_time(spec->relid, spec->columns[COL_TIME], &latest))
			return;				/* no events: no customers */
		spec->as_of_input = palloc(sizeof(TimestampTz));
		spec->as_of_input[0] = latest;
	}
	prepare_snapshots(spec);
	st.any_event = false;
	(void) rfm_scan(build_query(spec), analyze_row, &st);
	if (st.any_event)
		rfm_check_as_of_gap(spec->as_of_input[spec->nsnapshots - 1],
							spec->as_of[spec->nsnapshots - 1],
							st.earliest, st.latest, spec->is_date);

	row_cxt = AllocSetContextCreate(CurrentMemoryContext, "rfm_analyze row",
									ALLOCSET_SMALL_SIZES);
	for (int snap = 0; snap < spec->nsnapshots; snap++)
		emit_snapshot(fcinfo, &st, snap, with_as_of, row_cxt);
	MemoryContextDelete(row_cxt);
}

/*
 * rfm_analyze(source, customer_column, time_column, amount_column,
 * weight_column, as_of, last_period, bins, method, rule_set, refunds):
 * metrics, scores and segment of every customer with an event on or before
 * as_of, in one scan.  Also the C function of rfm_analyze_0_2, the 0.2
 * signature without refunds, kept for objects built on it.
 */
PG_FUNCTION_INFO_V1(rfm_analyze);
Datum
rfm_analyze(PG_FUNCTION_ARGS)
{
	AnalyzeSpec *spec = palloc0(sizeof(AnalyzeSpec));

	spec->function = "rfm_analyze";
	read_spec(fcinfo, spec);
	spec->nsnapshots = 1;
	if (!PG_ARGISNULL(ARG_AS_OF))
	{
		spec->as_of_input = palloc(sizeof(TimestampTz));
		spec->as_of_input[0] = PG_GETARG_TIMESTAMPTZ(ARG_AS_OF);
	}
	run_analysis(fcinfo, spec, false);
	return (Datum) 0;
}

/*
 * rfm_snapshots(..., as_of timestamptz[], ...): the same at many as-of
 * dates, still in one scan; rows start with their as_of.
 */
PG_FUNCTION_INFO_V1(rfm_snapshots);
Datum
rfm_snapshots(PG_FUNCTION_ARGS)
{
	AnalyzeSpec *spec = palloc0(sizeof(AnalyzeSpec));

	spec->function = "rfm_snapshots";
	read_spec(fcinfo, spec);
	if (PG_ARGISNULL(ARG_AS_OF))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("as_of must not be NULL"),
				 errhint("Pass the dates of the snapshots, such as ARRAY['2024-01-31', '2024-02-29']::timestamptz[].")));
	read_as_of_array(spec, PG_GETARG_ARRAYTYPE_P(ARG_AS_OF));
	run_analysis(fcinfo, spec, true);
	return (Datum) 0;
}
