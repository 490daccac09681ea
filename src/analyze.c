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
 * functions.  With parallel workers, analyze_parallel.c runs the same
 * scan and rows in every process, each on its part of the customers.  A
 * source whose rows live on other servers is read by states (the GROUP BY
 * goes there); where its customers fit, the states that come back are
 * copied into the same table and scored here (add_states_row), else
 * analyze_states.c spills them.  A table of this server whose customers do
 * not fit rfm_segment.max_memory is still read by rows: the rows of the
 * customers past the bound are set aside and read back in parts (the
 * spill, below), and every state is scored by analyze_states.c's sink.
 *
 * Memory: per customer, about 90 bytes of hash entry and bookkeeping, one
 * 152-byte state per as-of date, and the key's bytes when it is not passed
 * by value; at the end, 40 bytes per customer for the scores and 8 per
 * customer for each dimension's breaks (selected, not sorted), while the
 * result rows go to a tuplestore that spills to disk beyond work_mem.
 * Past the bound, each part of the rows set aside holds 64kB in memory and
 * the rest on disk.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "analyze.h"
#include "guc.h"
#include "incremental.h"
#include "scan.h"
#include "timeutil.h"

#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

/*
 * Argument positions, shared by rfm_analyze and rfm_snapshots.
 * rfm_analyze_groups has group_column after customer_column, so ARG()
 * moves every later one by one.
 */
#define ARG_SOURCE		0
#define ARG_COLUMNS		1		/* customer, time, amount, weight */
#define ARG_AS_OF		5
#define ARG_LAST_PERIOD 6
#define ARG_BINS		7
#define ARG_METHOD		8
#define ARG_RULE_SET	9
#define ARG_REFUNDS		10		/* absent from the 0.2 signature */
#define ARG_STATES_QUERY	11		/* rfm_model_incremental_analyze only */
#define ARG_GROUP		2		/* rfm_analyze_groups only */
#define ARG(spec, pos) \
	((pos) + ((spec)->group_column != NULL && (pos) > ARG_COLUMNS ? 1 : 0))

#define AMOUNT_HINT "Pass NULL to count the row for frequency only."

/* hash entry, customer record and list slot of a customer, in bytes */
#define CUSTOMER_OVERHEAD	90
#define WEIGHT_HINT "Pass NULL to leave the row out of the weighted frequency."

static void spill_row(AnalyzeState *st, TupleTableSlot *slot);

/* an empty table of customers, each with its state pointers and states */
static RfmCustomers *
new_customers(const AnalyzeState *st)
{
	const AnalyzeSpec *spec = st->spec;

	return rfm_customers_create(spec->relid, spec->columns[COL_KEY],
								st->states_offset + spec->nsnapshots * rfm_state_size(),
								spec->function, RFM_ANALYZE_MEMORY_HINT);
}

/* a new customer's states: empty, one per as_of, in its payload */
static void
init_states(const AnalyzeState *st, RfmCustomerStates *states)
{
	const AnalyzeSpec *spec = st->spec;
	char	   *inline_states = (char *) states + st->states_offset;

	for (int i = 0; i < spec->nsnapshots; i++)
	{
		states[i] = (RfmState *) (inline_states + i * rfm_state_size());
		rfm_state_init(states[i], spec->as_of[i], &spec->last_period,
					   spec->is_date, spec->refunds);
	}
}

/*
 * The customer's state i after an update: a sum past 38 digits reallocated
 * it in this row's memory, so keep it with the customers (the old one
 * stays in its block).
 */
static void
keep_state(AnalyzeState *st, RfmCustomerStates *states, int i, RfmState *state)
{
	if (state != states[i])
	{
		MemoryContext old = MemoryContextSwitchTo(rfm_customers_context(st->customers));

		states[i] = rfm_state_copy(state);
		MemoryContextSwitchTo(old);
	}
}

/* the source's time span, for the as_of check */
static void
note_span(AnalyzeState *st, int64 first, int64 last)
{
	if (!st->any_event || first < st->earliest)
		st->earliest = first;
	if (!st->any_event || last > st->latest)
		st->latest = last;
	st->any_event = true;
}

/*
 * One scanned row: (key, time, amount, weight).  False, stopping the scan,
 * when a new customer would pass rfm_segment.max_memory under the soft
 * limit (run_analysis then reads by states).
 */
bool
rfm_analysis_add_row(TupleTableSlot *slot, void *arg)
{
	AnalyzeState *st = (AnalyzeState *) arg;
	AnalyzeSpec *spec = st->spec;
	RfmCustomerStates *states;
	RfmTerm		amount = {0};
	RfmTerm		weight = {0};
	int64		event;
	bool		found;

	if (slot->tts_isnull[COL_TIME])
		return true;			/* no time: skipped, as by rfm_metrics */
	event = rfm_event_usecs(slot->tts_values[COL_TIME], spec->is_date, "event_time");
	note_span(st, event, event);
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
	if (states == NULL)
	{
		/* set aside, unless not one customer fits (a block is 1MB) */
		if (st->spill != NULL && rfm_customers_count(st->customers) > 0)
		{
			spill_row(st, slot);
			return true;
		}
		st->overflow = true;
		return false;
	}
	if (!found)
		init_states(st, states);
	for (int i = 0; i < spec->nsnapshots; i++)
		keep_state(st, states, i,
				   rfm_state_add_event(states[i], event, spec->period_start[i],
									   &amount, &weight));
	return true;
}

/*
 * A source read by states into the customer table (run_analysis): the
 * table's state and whether a state had events after its as_of, which
 * leaves the latest event unknown (the as_of check then waits, as in
 * analyze_states.c).
 */
typedef struct StatesInto
{
	AnalyzeState *st;
	bool		any_ignored;
} StatesInto;

/*
 * A customer's states, one per snapshot: merged into its states in the
 * table as the parallel exchange merges them (a GROUP BY gives each
 * customer once, into empty states).  False, stopping the scan, past
 * rfm_segment.max_memory.
 */
static bool
hold_states(StatesInto *into, Datum key, bool key_null, const Datum *in)
{
	AnalyzeState *st = into->st;
	int			n = st->spec->nsnapshots;
	RfmCustomerStates *states;
	int64		first,
				last;
	bool		found;

	states = rfm_customers_lookup(st->customers, key, key_null, &found);
	if (states == NULL)
	{
		st->overflow = true;
		return false;
	}
	if (!found)
		init_states(st, states);
	for (int i = 0; i < n; i++)
		keep_state(st, states, i, rfm_state_merge(states[i], DatumGetRfmState(in[i])));
	if (rfm_state_ignored(states[n - 1]) > 0)
		into->any_ignored = true;
	if (rfm_state_events(states[n - 1], &first, &last))
		note_span(st, first, last);
	return true;
}

/* one row of the states query: (key, one state per snapshot) */
static bool
add_states_row(TupleTableSlot *slot, void *arg)
{
	if (slot->tts_isnull[1])
		return true;			/* no row of the customer had a time */
	return hold_states((StatesInto *) arg, slot->tts_values[0], slot->tts_isnull[0],
					   &slot->tts_values[1]);
}

/*
 * The scan's query: the four columns, numbers cast to numeric (as the
 * aggregate's numeric forms take them) and a timestamp without time zone to
 * timestamptz in the session TimeZone, as its implicit cast does.
 */
char *
rfm_analysis_query(const AnalyzeSpec *spec)
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
		spec->columns[i] = rfm_column_arg(fcinfo, ARG(spec, ARG_COLUMNS + i),
										  argnames[i], i <= COL_TIME);
	if (spec->group_column != NULL)
		spec->group_type = rfm_column_type(spec->relid, spec->group_column,
										   "group_column", &spec->group_collation);
	has_amount = spec->columns[COL_AMOUNT] != NULL;

	spec->time_type = rfm_time_column_type(spec->relid, spec->columns[COL_TIME],
										   "time_column");
	spec->is_date = spec->time_type == DATEOID;
	rfm_check_number_column(spec->relid, spec->columns[COL_AMOUNT], "amount_column");
	rfm_check_number_column(spec->relid, spec->columns[COL_WEIGHT], "weight_column");

	if (PG_ARGISNULL(ARG(spec, ARG_LAST_PERIOD)))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("last_period must not be NULL"),
				 errhint("Pass an interval such as '30 days'.")));
	spec->last_period = *PG_GETARG_INTERVAL_P(ARG(spec, ARG_LAST_PERIOD));
	if (PG_ARGISNULL(ARG(spec, ARG_BINS)))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("bins must not be NULL"),
				 errhint("Five bins are the usual choice.")));
	spec->bins = PG_GETARG_INT32(ARG(spec, ARG_BINS));
	rfm_check_bins(spec->bins);
	if (PG_ARGISNULL(ARG(spec, ARG_METHOD)))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("method must not be NULL"),
				 errhint("Use 'quantile' (the default) or 'r_rfm'.")));
	spec->method = rfm_parse_method(PG_GETARG_TEXT_PP(ARG(spec, ARG_METHOD)));
	spec->refunds = RFM_REFUNDS_EVENTS;
	if (PG_NARGS() > ARG(spec, ARG_REFUNDS))
	{
		if (PG_ARGISNULL(ARG(spec, ARG_REFUNDS)))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("refunds must not be NULL"),
					 errhint("Pass 'events' (the default) or 'adjust'.")));
		spec->refunds = rfm_parse_refunds(PG_GETARG_TEXT_PP(ARG(spec, ARG_REFUNDS)));
	}

	/* no amount, no monetary score: the third score is last-period activity */
	if (PG_ARGISNULL(ARG(spec, ARG_RULE_SET)))
		rule_set = rfm_default_rule_set(has_amount);
	else
	{
		rule_set = text_to_cstring(PG_GETARG_TEXT_PP(ARG(spec, ARG_RULE_SET)));
		if (!has_amount && strcmp(rule_set, RFM_RULES_STANDARD) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("rule set \"%s\" needs amount_column", RFM_RULES_STANDARD),
					 errhint("Without an amount the third score is the last-period frequency: use rule_set '%s', or leave rule_set out.",
							 RFM_RULES_RFFL)));
	}
	spec->namespace = get_func_namespace(fcinfo->flinfo->fn_oid);
	spec->segments = rfm_segment_map_load(spec->namespace, rule_set, CurrentMemoryContext);
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
 * Whether a customer is reported at a snapshot: with an event on or before
 * its as_of, or (refunds adjusted) with refunds only, reported with
 * frequency 0.
 */
bool
rfm_analysis_reported(const RfmState *state)
{
	return rfm_state_frequency(state) > 0 || rfm_state_has_monetary(state);
}

/*
 * The values scored for a customer: recency; frequency (the weighted one
 * when there is a weight column); monetary, or without an amount column the
 * last-period frequency (weighted likewise).  Sums are taken as float8, as
 * rfm_breaks and rfm_score take the numerics of rfm_metrics.
 */
void
rfm_analysis_values(const AnalyzeSpec *spec, const RfmState *state, RfmScored *scored)
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

/*
 * Emit one customer's row of a snapshot: its metrics, the scores of its
 * values against the snapshot's breaks, and its segment.
 */
void
rfm_analysis_emit(FunctionCallInfo fcinfo, const AnalyzeSpec *spec, int snap,
				  bool with_as_of, Datum group, bool group_null, Datum key,
				  bool key_null, const RfmState *state, const RfmScored *scored,
				  float8 breaks[NDIMS][RFM_MAX_BINS], MemoryContext row_cxt)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		out[RFM_ANALYSIS_MAX_COLUMNS];
	bool		outnull[RFM_ANALYSIS_MAX_COLUMNS];
	MemoryContext old = MemoryContextSwitchTo(row_cxt);

	rfm_analysis_form(spec, snap, with_as_of, group, group_null, key, key_null,
					  state, scored, breaks, out, outnull);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, outnull);
	MemoryContextSwitchTo(old);
	MemoryContextReset(row_cxt);
}

/*
 * The values of that row, in the current memory context (what they point
 * to lives there).
 */
void
rfm_analysis_form(const AnalyzeSpec *spec, int snap, bool with_as_of,
				  Datum group, bool group_null, Datum key, bool key_null,
				  const RfmState *state, const RfmScored *scored,
				  float8 breaks[NDIMS][RFM_MAX_BINS], Datum *out, bool *outnull)
{
	int			base = (with_as_of ? 1 : 0) + (spec->group_column ? 1 : 0);
	Datum	   *values = out + base + 1;
	bool	   *nulls = outnull + base + 1;
	int			score[NDIMS];
	bool		any_null = false;

	if (with_as_of)
	{
		out[0] = TimestampTzGetDatum(spec->as_of_input[snap]);
		outnull[0] = false;
	}
	if (spec->group_column != NULL)
	{
		out[base - 1] = group;
		outnull[base - 1] = group_null;
	}
	out[base] = key;
	outnull[base] = key_null;

	rfm_state_values(state, values, nulls);
	if (spec->is_date)
	{
		/* first and last event at midnight in the session TimeZone */
		if (!nulls[0])
			values[0] = DirectFunctionCall1(date_timestamptz, values[0]);
		if (!nulls[1])
			values[1] = DirectFunctionCall1(date_timestamptz, values[1]);
	}
	for (int d = 0; d < NDIMS; d++)
	{
		nulls[RFM_METRICS_NFIELDS + d] = scored->isnull[d];
		if (scored->isnull[d])
		{
			any_null = true;
			continue;
		}
		score[d] = rfm_score_value(scored->value[d], breaks[d],
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
}

/*
 * One dimension's values of the scored customers into values (NULLs left
 * out, -0 and 0 one value, as in rfm_breaks); returns how many.
 */
int64
rfm_analysis_collect(const AnalyzeScored *scored, uint64 n, int d, float8 *values)
{
	int64		total = 0;

	for (uint64 i = 0; i < n; i++)
	{
		if (scored[i].scored.isnull[d])
			continue;
		values[total++] = scored[i].scored.value[d] + 0.0;
	}
	return total;
}

/* cut points of one dimension over the customers of a snapshot */
static void
dimension_breaks(const AnalyzeSpec *spec, const AnalyzeScored *scored, uint64 n,
				 int d, float8 *breaks)
{
	float8	   *values = palloc_extended(Max(n, 1) * sizeof(float8), MCXT_ALLOC_HUGE);
	int64		total = rfm_analysis_collect(scored, n, d, values);

	if (total > 0)
		rfm_select_breaks(values, total, spec->bins, spec->method, breaks);
	pfree(values);
}

/*
 * Under scan = auto, the scores are held beside the customers, one
 * AnalyzeScored and one value (float8) each: when they would pass
 * rfm_segment.max_memory, st->overflow sends the call to the states way.
 */
void
rfm_analysis_check_scores(AnalyzeState *st)
{
	if (rfm_scan_mode == RFM_SCAN_AUTO && !st->overflow &&
		!rfm_customers_fit_more(st->customers,
								Max(rfm_customers_count(st->customers), 1) *
								(sizeof(AnalyzeScored) + sizeof(float8))))
		st->overflow = true;
}

/*
 * The customers of the scan reported at a snapshot, with the values they
 * are scored on; *n of them.  The scores and one dimension's values for
 * its breaks at a time must fit rfm_segment.max_memory with the customers,
 * and extra bytes more (which the caller holds for them).
 */
AnalyzeScored *
rfm_analysis_scores(AnalyzeState *st, int snap, Size extra, uint64 *n)
{
	uint64		ncustomers = rfm_customers_count(st->customers);
	AnalyzeScored *scored;

	rfm_customers_check_more(st->customers, extra + Max(ncustomers, 1) *
							 (sizeof(AnalyzeScored) + sizeof(float8)));
	scored = palloc_extended(Max(ncustomers, 1) * sizeof(AnalyzeScored), MCXT_ALLOC_HUGE);
	*n = 0;
	for (uint64 i = 0; i < ncustomers; i++)
	{
		RfmCustomerStates *states = rfm_customers_payload(st->customers, i);

		if (!rfm_analysis_reported(states[snap]))
			continue;
		scored[*n].customer = i;
		rfm_analysis_values(st->spec, states[snap], &scored[*n].scored);
		(*n)++;
	}
	return scored;
}

/* emit the row of one customer of the scan, scored at a snapshot */
void
rfm_analysis_emit_scored(FunctionCallInfo fcinfo, AnalyzeState *st, int snap,
						 bool with_as_of, const AnalyzeScored *scored,
						 float8 breaks[NDIMS][RFM_MAX_BINS], MemoryContext row_cxt)
{
	RfmCustomerStates *states = rfm_customers_payload(st->customers, scored->customer);
	bool		key_null;
	Datum		key = rfm_customers_key_text(st->customers, scored->customer, &key_null);

	rfm_analysis_emit(fcinfo, st->spec, snap, with_as_of, (Datum) 0, true,
					  key, key_null, states[snap], &scored->scored, breaks, row_cxt);
}

/*
 * Emit one snapshot: breaks over the customers reported at its as_of, then
 * a row per such customer.
 */
static void
emit_snapshot(FunctionCallInfo fcinfo, AnalyzeState *st, int snap,
			  bool with_as_of, MemoryContext row_cxt)
{
	AnalyzeSpec *spec = st->spec;
	uint64		n;
	AnalyzeScored *scored = rfm_analysis_scores(st, snap, 0, &n);
	float8		breaks[NDIMS][RFM_MAX_BINS];

	for (int d = 0; d < NDIMS; d++)
		dimension_breaks(spec, scored, n, d, breaks[d]);

	for (uint64 i = 0; i < n; i++)
		rfm_analysis_emit_scored(fcinfo, st, snap, with_as_of, &scored[i], breaks, row_cxt);
	pfree(scored);
}

/* the last snapshot's as_of against the source's time span */
static void
check_as_of_gap(const AnalyzeSpec *spec, const AnalyzeState *st)
{
	if (st->any_event)
		rfm_check_as_of_gap(spec->as_of_input[spec->nsnapshots - 1],
							spec->as_of[spec->nsnapshots - 1],
							st->earliest, st->latest, spec->is_date);
}

/* every snapshot's rows, from the customers in the table */
static void
emit_all(FunctionCallInfo fcinfo, AnalyzeState *st, bool with_as_of)
{
	MemoryContext row_cxt = AllocSetContextCreate(CurrentMemoryContext, "rfm_analyze row",
												  ALLOCSET_SMALL_SIZES);

	for (int snap = 0; snap < st->spec->nsnapshots; snap++)
		emit_snapshot(fcinfo, st, snap, with_as_of, row_cxt);
	MemoryContextDelete(row_cxt);
}

/*
 * Whether to read one state per customer from a GROUP BY (analyze_states.c)
 * rather than every row into the hash table here: scan.c's rule, with a
 * customer's bytes here (its entry and one state per snapshot).
 */
static Size
customer_bytes(const AnalyzeSpec *spec)
{
	return CUSTOMER_OVERHEAD + spec->nsnapshots * (rfm_state_size() + sizeof(RfmState *));
}

static bool
read_by_states(const AnalyzeSpec *spec)
{
	return rfm_read_by_states(spec->relid, spec->columns[COL_KEY], customer_bytes(spec));
}

/*
 * Rows of the customers that do not fit rfm_segment.max_memory.  Under
 * scan = auto the scan by rows does not stop at the bound: the table
 * takes no new customer from then on (rfm_customers_freeze), the rows of
 * the customers it holds are counted as before, and the rows of the
 * others are set aside, as they come from the scan, in SPILL_PARTS
 * tuplestores by the hash of their key, each holding SPILL_PART_KB in
 * memory and the rest in a temporary file.  After the scan the customers
 * held are complete; their states go to analyze_states.c's sink, which
 * spills them too and scores every customer at the end, and each part's
 * rows are then read back into a table of their own, whose states follow.
 * So the source is read once, each row is counted once, in this file's
 * code, and only the rows of the customers that did not fit are written
 * and read again.  A GROUP BY of states, the other way past the bound,
 * runs each row through the executor's aggregation, one call per
 * snapshot, and spills every state it holds past work_mem: at 10M events
 * and 1.2M customers, rfm_snapshots of 12 dates took 60.7 s that way and
 * 45.8 s this one, rfm_analyze under a 200MB bound 10.3 s and 7.2 s.  A
 * part whose customers do not fit alone (past SPILL_PARTS times the
 * bound) leaves the work to that GROUP BY after all, and so does a bound
 * that holds not one customer.
 */
#define SPILL_PARTS		64
#define SPILL_PART_KB	64

typedef struct AnalyzeSpill
{
	MemoryContext cxt;			/* the parts and their descriptor */
	TupleDesc	desc;			/* of the rows, from the first one */
	Tuplestorestate *parts[SPILL_PARTS];	/* NULL: no row yet */
	uint64		rows;
} AnalyzeSpill;

static AnalyzeSpill *
spill_begin(void)
{
	AnalyzeSpill *spill = palloc0(sizeof(AnalyzeSpill));

	spill->cxt = AllocSetContextCreate(CurrentMemoryContext, "rfm_analyze spill",
									   ALLOCSET_DEFAULT_SIZES);
	return spill;
}

/* the parts left (after a part that did not fit) and their files */
static void
spill_end(AnalyzeSpill *spill)
{
	for (int part = 0; part < SPILL_PARTS; part++)
		if (spill->parts[part] != NULL)
			tuplestore_end(spill->parts[part]);
	MemoryContextDelete(spill->cxt);
	pfree(spill);
}

/* a row of a customer the table does not hold, set aside */
static void
spill_row(AnalyzeState *st, TupleTableSlot *slot)
{
	AnalyzeSpill *spill = st->spill;
	int			part = rfm_customers_part_of(st->customers, slot->tts_values[COL_KEY],
											 slot->tts_isnull[COL_KEY], SPILL_PARTS);
	MemoryContext old = MemoryContextSwitchTo(spill->cxt);

	if (spill->rows == 0)
	{
		/* no customer is made after a row of one was set aside */
		rfm_customers_freeze(st->customers);
		spill->desc = CreateTupleDescCopy(slot->tts_tupleDescriptor);
		ereport(DEBUG1,
				(errmsg_internal("%s: the customers pass rfm_segment.max_memory; setting the rows of the others aside",
								 st->spec->function)));
	}
	if (spill->parts[part] == NULL)
		spill->parts[part] = tuplestore_begin_heap(false, false, SPILL_PART_KB);
	tuplestore_puttupleslot(spill->parts[part], slot);
	spill->rows++;
	MemoryContextSwitchTo(old);
}

/* the customers of the table, complete, into the sink */
static void
sink_customers(RfmAnalysisSink *sink, RfmCustomers *customers)
{
	uint64		n = rfm_customers_count(customers);

	for (uint64 i = 0; i < n; i++)
	{
		bool		key_null;
		Datum		key = rfm_customers_key(customers, i, &key_null);

		rfm_analysis_sink_put(sink, key, key_null, rfm_customers_payload(customers, i));
	}
}

/*
 * Each part's rows read back into a table of their own, its states into
 * the sink.  False when a part does not fit alone.
 */
static bool
spill_replay(AnalyzeState *st, RfmAnalysisSink *sink)
{
	AnalyzeSpec *spec = st->spec;
	AnalyzeSpill *spill = st->spill;
	TupleTableSlot *slot = MakeSingleTupleTableSlot(spill->desc, &TTSOpsMinimalTuple);
	MemoryContext row_cxt = AllocSetContextCreate(CurrentMemoryContext, "rfm_analyze row",
												  ALLOCSET_DEFAULT_SIZES);
	bool		done = true;

	ereport(DEBUG1,
			(errmsg_internal("%s: reading the rows set aside, part by part",
							 spec->function)));
	ereport(DEBUG2,
			(errmsg_internal("%s: " UINT64_FORMAT " rows set aside",
							 spec->function, spill->rows)));
	st->spill = NULL;			/* a part that does not fit stops */
	for (int part = 0; part < SPILL_PARTS && done; part++)
	{
		if (spill->parts[part] == NULL)
			continue;
		st->customers = new_customers(st);
		rfm_customers_set_soft_limit(st->customers);
		st->overflow = false;
		while (tuplestore_gettupleslot(spill->parts[part], true, false, slot))
		{
			MemoryContext old;
			bool		more;

			CHECK_FOR_INTERRUPTS();
			slot_getallattrs(slot);
			old = MemoryContextSwitchTo(row_cxt);
			more = rfm_analysis_add_row(slot, st);
			MemoryContextSwitchTo(old);
			MemoryContextReset(row_cxt);
			if (!more)
				break;
		}
		tuplestore_end(spill->parts[part]);
		spill->parts[part] = NULL;
		if (st->overflow)
		{
			ereport(DEBUG1,
					(errmsg_internal("%s: the customers of one part pass rfm_segment.max_memory alone; reading one state per customer instead",
									 spec->function)));
			done = false;
		}
		else
			sink_customers(sink, st->customers);
		rfm_customers_free(st->customers);
	}
	ExecDropSingleTupleTableSlot(slot);
	MemoryContextDelete(row_cxt);
	spill_end(spill);
	return done;
}

/*
 * After a scan by rows: emit every customer from the table, or, when the
 * table cannot hold their scores too or rows were set aside, through the
 * sink.  False when the sink gave up (the caller reads by states).
 */
static bool
finish_rows(FunctionCallInfo fcinfo, AnalyzeState *st, bool with_as_of)
{
	RfmAnalysisSink *sink;

	if (st->overflow)
	{
		/* not one customer fits: setting every row aside would not help */
		ereport(DEBUG1,
				(errmsg_internal("%s: not one customer fits rfm_segment.max_memory; reading one state per customer instead",
								 st->spec->function)));
		if (st->spill != NULL)
			spill_end(st->spill);
		st->spill = NULL;
		rfm_customers_free(st->customers);
		return false;
	}
	if (st->spill == NULL || st->spill->rows == 0)
	{
		if (st->spill != NULL)
		{
			spill_end(st->spill);
			st->spill = NULL;
		}
		rfm_analysis_check_scores(st);
		if (!st->overflow)
		{
			check_as_of_gap(st->spec, st);
			emit_all(fcinfo, st, with_as_of);
			return true;
		}
		ereport(DEBUG1,
				(errmsg_internal("%s: the customers' scores pass rfm_segment.max_memory; spilling their states",
								 st->spec->function)));
	}
	sink = rfm_analysis_sink_begin(fcinfo, st->spec, with_as_of);
	sink_customers(sink, st->customers);
	rfm_customers_free(st->customers);
	if (st->spill != NULL && !spill_replay(st, sink))
	{
		rfm_analysis_sink_discard(sink);
		return false;
	}
	rfm_analysis_sink_end(sink);
	return true;
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
	bool		by_states = spec->group_column != NULL || read_by_states(spec);
	bool		remote;
	RfmAnalysisWay way;

	/*
	 * The customer's state pointers, then the states themselves.  Made
	 * first: it also checks the customer column.
	 */
	memset(&st, 0, sizeof(st));
	st.spec = spec;
	st.states_offset = MAXALIGN(spec->nsnapshots * sizeof(RfmState *));
	st.customers = new_customers(&st);

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
	remote = rfm_source_is_remote(spec->relid);

	/*
	 * A source read by states only because its rows live on other servers
	 * (a foreign server, Citus): where the customers fit max_memory, their
	 * states are held in the table and scored as the rows way scores its
	 * own, rather than stored, sorted and read twice.  Past the bound, the
	 * states are read again into the batch, which spills.
	 */
	if (by_states && spec->group_column == NULL && rfm_scan_mode == RFM_SCAN_AUTO &&
		remote && rfm_customers_fit_estimate(spec->relid, spec->columns[COL_KEY], customer_bytes(spec)))
	{
		StatesInto	into = {&st, false};

		ereport(DEBUG1,
				(errmsg_internal("%s: holding one state per customer", spec->function)));
		st.any_event = false;
		st.overflow = false;
		rfm_customers_set_soft_limit(st.customers);
		rfm_analysis_scan_states(spec, add_states_row, &into);
		rfm_analysis_check_scores(&st);
		if (!st.overflow)
		{
			if (!into.any_ignored)
				check_as_of_gap(spec, &st);
			emit_all(fcinfo, &st, with_as_of);
			return;
		}
		ereport(DEBUG1,
				(errmsg_internal("%s: the customers' states pass rfm_segment.max_memory; spilling them instead",
								 spec->function)));
		rfm_customers_free(st.customers);
	}

	/*
	 * By rows: a table of this server, where the rows way is faster, even
	 * when the planner's estimate says its customers do not fit (they are
	 * then set aside as they come, read from the start).
	 */
	if (!by_states || (spec->group_column == NULL && rfm_scan_mode == RFM_SCAN_AUTO && !remote))
	{
		char	   *query = rfm_analysis_query(spec);

		st.any_event = false;
		st.overflow = false;
		st.spill = NULL;
		if (rfm_scan_mode == RFM_SCAN_AUTO)
			rfm_customers_set_soft_limit(st.customers);
		/* in parallel workers where the source allows them */
		way = by_states ? RFM_ANALYSIS_SERIAL : rfm_analysis_in_parallel(fcinfo, &st, with_as_of);
		if (way == RFM_ANALYSIS_DONE)
			return;
		if (way == RFM_ANALYSIS_STATES)
		{
			/* a process passed the bound: again in one, setting rows aside */
			ereport(DEBUG1,
					(errmsg_internal("%s: a process passed rfm_segment.max_memory; reading the rows again in this one",
									 spec->function)));
			rfm_customers_free(st.customers);
			st.customers = new_customers(&st);
			rfm_customers_set_soft_limit(st.customers);
			st.any_event = false;
			st.overflow = false;
		}
		if (rfm_scan_mode == RFM_SCAN_AUTO)
			st.spill = spill_begin();
		(void) rfm_scan_until(query, rfm_analysis_add_row, &st);
		if (finish_rows(fcinfo, &st, with_as_of))
			return;
	}
	rfm_analysis_by_states(fcinfo, spec, with_as_of);
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
 * rfm_analyze_groups(source, customer_column, group_column, time_column,
 * ... as rfm_analyze): the analysis of every group (a category, a store, a
 * country) on its own rows, in one scan: metrics per (group, customer),
 * breaks per group.  Always read by states, grouped by (group, customer)
 * and ordered by group, so one group at a time is held, and it spills.
 */
PG_FUNCTION_INFO_V1(rfm_analyze_groups);
Datum
rfm_analyze_groups(PG_FUNCTION_ARGS)
{
	AnalyzeSpec *spec = palloc0(sizeof(AnalyzeSpec));

	spec->function = "rfm_analyze_groups";
	spec->group_column = rfm_column_arg(fcinfo, ARG_GROUP, "group_column", true);
	read_spec(fcinfo, spec);
	spec->nsnapshots = 1;
	if (!PG_ARGISNULL(ARG(spec, ARG_AS_OF)))
	{
		spec->as_of_input = palloc(sizeof(TimestampTz));
		spec->as_of_input[0] = PG_GETARG_TIMESTAMPTZ(ARG(spec, ARG_AS_OF));
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

/*
 * The scan of an incremental model's states: the table it fills, or past
 * rfm_segment.max_memory the sink it feeds, and the row type it checks.
 */
typedef struct HistoriesScan
{
	StatesInto	into;
	RfmAnalysisSink *sink;
	Oid			key_type;
	Oid			state_type;
	bool		checked;
} HistoriesScan;

/*
 * The states query's rows must be (key of the source's customer column's
 * type, history, last_period_state, last_n bigint, last_w numeric): the
 * values are read as those types.
 */
static void
check_histories_row(HistoriesScan *hs, TupleDesc desc)
{
	Oid			expected[] = {hs->key_type, hs->state_type, hs->state_type, INT8OID, NUMERICOID};
	bool		ok = desc->natts == 5;

	for (int i = 0; ok && i < 5; i++)
		ok = TupleDescAttr(desc, i)->atttypid == expected[i];
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("states_query must return (key, history, last_period_state, last_n, last_w)"),
				 errdetail("The key has the type of the source's customer column (%s), the two states are rfm_metrics_state, last_n is bigint and last_w numeric.",
						   format_type_be(hs->key_type)),
				 errhint("Pass the query an incremental model's _metrics view was made with.")));
	hs->checked = true;
}

/*
 * One row of the states query: its history brought to the as_of (in the
 * scan's memory of the row), then into the table, or into the sink once
 * the table has passed rfm_segment.max_memory (false stops the scan then).
 */
static bool
history_row(TupleTableSlot *slot, void *arg)
{
	HistoriesScan *hs = (HistoriesScan *) arg;
	RfmState   *state;
	Datum		held;

	if (!hs->checked)
		check_histories_row(hs, slot->tts_tupleDescriptor);
	if (slot->tts_isnull[1])
		return true;			/* a customer without a state */
	state = rfm_history_at(DatumGetRfmState(slot->tts_values[1]),
						   slot->tts_isnull[2] ? NULL : DatumGetRfmState(slot->tts_values[2]),
						   !slot->tts_isnull[3],
						   slot->tts_isnull[3] ? 0 : DatumGetInt64(slot->tts_values[3]),
						   slot->tts_isnull[4] ? NULL : DatumGetNumeric(slot->tts_values[4]),
						   hs->into.st->spec->as_of[0]);
	if (hs->sink != NULL)
	{
		rfm_analysis_sink_put(hs->sink, slot->tts_values[0], slot->tts_isnull[0], &state);
		return true;
	}
	held = PointerGetDatum(state);
	return hold_states(&hs->into, slot->tts_values[0], slot->tts_isnull[0], &held);
}

/*
 * rfm_model_incremental_analyze(source, customer_column, time_column,
 * amount_column, weight_column, as_of, last_period, bins, method,
 * rule_set, refunds, states_query): rfm_analyze's rows for an incremental
 * model, from the states it keeps instead of the source's rows.
 * states_query ($1 the as_of) gives one row per customer, (key, history,
 * last_period_state, last_n, last_w); each history is brought to as_of as
 * rfm_state_metrics_at brings it (incremental.c), then held and scored as
 * the states a GROUP BY of a foreign source returns are: the same values,
 * breaks and segments as rfm_analyze over the source's rows.  Past
 * rfm_segment.max_memory (or under scan = states) they go to
 * analyze_states.c's sink instead, which spills.  The query runs with
 * the caller's rights, and may use parallel workers.
 */
PG_FUNCTION_INFO_V1(rfm_model_incremental_analyze);
Datum
rfm_model_incremental_analyze(PG_FUNCTION_ARGS)
{
	AnalyzeSpec *spec = palloc0(sizeof(AnalyzeSpec));
	AnalyzeState st;
	HistoriesScan hs;
	Oid			argtypes[1] = {TIMESTAMPTZOID};
	Datum		argvalues[1];
	Oid			collation;
	char	   *query;

	spec->function = "rfm_model_incremental_analyze";
	read_spec(fcinfo, spec);
	spec->nsnapshots = 1;
	if (PG_ARGISNULL(ARG_AS_OF))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("as_of must not be NULL"),
				 errhint("Pass the as_of the model records.")));
	if (PG_ARGISNULL(ARG_STATES_QUERY))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("states_query must not be NULL"),
				 errhint("Pass the query of the model's states.")));
	spec->as_of_input = palloc(sizeof(TimestampTz));
	spec->as_of_input[0] = PG_GETARG_TIMESTAMPTZ(ARG_AS_OF);
	query = text_to_cstring(PG_GETARG_TEXT_PP(ARG_STATES_QUERY));
	argvalues[0] = TimestampTzGetDatum(spec->as_of_input[0]);

	memset(&st, 0, sizeof(st));
	st.spec = spec;
	st.states_offset = MAXALIGN(sizeof(RfmState *));
	st.customers = new_customers(&st);
	InitMaterializedSRF(fcinfo, 0);
	prepare_snapshots(spec);

	memset(&hs, 0, sizeof(hs));
	hs.into.st = &st;
	hs.key_type = rfm_column_type(spec->relid, spec->columns[COL_KEY], "customer_column",
								  &collation);
	hs.state_type = rfm_schema_type(spec->namespace, "rfm_metrics_state");

	if (rfm_scan_mode != RFM_SCAN_STATES)
	{
		if (rfm_scan_mode == RFM_SCAN_AUTO)
			rfm_customers_set_soft_limit(st.customers);
		(void) rfm_scan_states_until(spec->relid, query, 1, argtypes, argvalues,
									 history_row, &hs);
		rfm_analysis_check_scores(&st);
		if (!st.overflow)
		{
			if (!hs.into.any_ignored)
				check_as_of_gap(spec, &st);
			emit_all(fcinfo, &st, false);
			return (Datum) 0;
		}
		ereport(DEBUG1,
				(errmsg_internal("%s: the customers' states pass rfm_segment.max_memory; spilling them instead",
								 spec->function)));
	}
	rfm_customers_free(st.customers);
	hs.checked = false;
	hs.sink = rfm_analysis_sink_begin(fcinfo, spec, false);
	(void) rfm_scan_states_until(spec->relid, query, 1, argtypes, argvalues,
								 history_row, &hs);
	rfm_analysis_sink_end(hs.sink);
	return (Datum) 0;
}
