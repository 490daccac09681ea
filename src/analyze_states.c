/*-------------------------------------------------------------------------
 *
 * analyze_states.c
 *	  The one-call analysis from one state per customer: the source is read
 *	  by a GROUP BY of the rfm_metrics_state_agg aggregate, which PostgreSQL
 *	  can run in parallel workers, push down to partitions, foreign servers
 *	  and Citus shards (one state per customer travels, not every row), and
 *	  spill to disk under work_mem.
 *
 * Nothing here holds the customers in memory: the states go to a
 * tuplestore and the values to be scored to one tuplesort per snapshot and
 * dimension, both of which spill beyond work_mem; the breaks are read from
 * the sorted values, and a second pass over the tuplestore scores and
 * emits every customer.  So there is no memory wall, and the answers are
 * those of analyze.c's hash table: the same states (rfm_state_add_event
 * and rfm_state_merge are the aggregate's own code), the same values, the
 * same break formula (rfm_break_positions / rfm_breaks_at).
 *
 * rfm_analyze_groups reads one state per (group, customer), ordered by
 * group, and scores each group as it ends: the batch of one group (its
 * tuplestore and sorts) is all that is held at a time.
 *
 * The batch is also a sink (rfm_analysis_sink_*) for states that come
 * from analyze.c's own table, when its customers pass the bound: each
 * part of them is put here as it completes, and scored with the others.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "analyze.h"
#include "compat.h"
#include "guc.h"
#include "scan.h"
#include "timeutil.h"

#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/date.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplesort.h"
#include "utils/tuplestore.h"
#include "utils/typcache.h"

/* the smallest work_mem a tuplesort of values gets, in kB */
#define MIN_SORT_MEM_KB		64

/*
 * The customers scored together: all of them, or one group's.  Their rows
 * wait in a tuplestore and their values in one sort per snapshot and
 * dimension, until the breaks can be read.
 */
typedef struct StatesBatch
{
	Tuplestorestate *rows;		/* (group?, key, state, state, ...) */
	Tuplesortstate **sorts;		/* [snapshot * NDIMS + dimension] */
	int64	   *counts;			/* values put into each sort */
	Datum		group_value;	/* the group's value, for equality */
	Datum		group;			/* and as text, for the output */
	bool		group_null;
} StatesBatch;

/* the scan's running state (analyze.h's RfmAnalysisSink) */
typedef struct StatesScan
{
	const AnalyzeSpec *spec;
	FunctionCallInfo fcinfo;	/* where the rows go */
	bool		with_as_of;		/* rows start with their as_of */
	MemoryContext cxt;			/* outlives the scan */
	MemoryContext row_cxt;		/* one emitted row */
	TupleDesc	desc;			/* of the GROUP BY's rows */
	TupleTableSlot *slot;		/* to read the batch back */
	int			key_col;		/* attribute of the customer key */
	Oid			key_type;
	Oid			key_output;
	Oid			group_output;
	FmgrInfo	group_eq;		/* the group type's equality */
	StatesBatch batch;
	bool		in_batch;
	int			sort_mem;		/* kB, each sort of a batch */
	int			store_mem;		/* kB, the batch's tuplestore */
	bool		any_event;		/* the source's span, from the last */
	bool		any_ignored;	/* snapshot's states, for the as_of check */
	int64		earliest;
	int64		latest;
	TupleTableSlot *put_slot;	/* rfm_analysis_sink_put's row */
} StatesScan;

/*
 * The GROUP BY: the key, then a state per snapshot, each from the
 * aggregate of the extension's schema with as_of $1..$n, last_period $n+1
 * and refunds $n+2 (a parameter left unused with refunds 'events').
 * Numbers are cast to numeric, a timestamp without time zone to
 * timestamptz, as the rows of analyze.c are.
 */
static char *
build_states_query(const AnalyzeSpec *spec)
{
	StringInfoData buf;
	const char *schema = quote_identifier(get_namespace_name(spec->namespace));
	int			n = spec->nsnapshots;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "SELECT ");
	if (spec->group_column != NULL)
		appendStringInfo(&buf, "%s, ", quote_identifier(spec->group_column));
	appendStringInfoString(&buf, quote_identifier(spec->columns[COL_KEY]));
	for (int i = 0; i < n; i++)
	{
		appendStringInfo(&buf, ", %s.rfm_metrics_state_agg(%s%s, ", schema,
						 quote_identifier(spec->columns[COL_TIME]),
						 spec->time_type == TIMESTAMPOID ? "::pg_catalog.timestamptz" : "");
		if (spec->columns[COL_AMOUNT] != NULL)
			appendStringInfo(&buf, "%s::pg_catalog.numeric, ", quote_identifier(spec->columns[COL_AMOUNT]));
		else
			appendStringInfoString(&buf, "NULL::pg_catalog.numeric, ");
		/* without a weight column every event weighs 1, as in analyze.c */
		if (spec->columns[COL_WEIGHT] != NULL)
			appendStringInfo(&buf, "%s::pg_catalog.numeric, ", quote_identifier(spec->columns[COL_WEIGHT]));
		else
			appendStringInfoString(&buf, "1::pg_catalog.numeric, ");
		/*
		 * Refunds 'events' by the form without the text argument:
		 * postgres_fdw pushes no aggregate with a collatable constant.
		 */
		if (spec->refunds == RFM_REFUNDS_ADJUST)
			appendStringInfo(&buf, "$%d, $%d, $%d)", i + 1, n + 1, n + 2);
		else
			appendStringInfo(&buf, "$%d, $%d)", i + 1, n + 1);
	}
	appendStringInfo(&buf, " FROM %s", rfm_relation_name(spec->relid));
	if (spec->group_column != NULL)
		appendStringInfoString(&buf, " GROUP BY 1, 2 ORDER BY 1");
	else
		appendStringInfoString(&buf, " GROUP BY 1");
	return buf.data;
}

/* a new batch, in the scan's memory */
static void
batch_begin(StatesScan *ss)
{
	const AnalyzeSpec *spec = ss->spec;
	int			nsorts = spec->nsnapshots * NDIMS;
	MemoryContext old = MemoryContextSwitchTo(ss->cxt);
	StatesBatch *b = &ss->batch;

	b->rows = tuplestore_begin_heap(false, false, ss->store_mem);
	b->sorts = palloc(nsorts * sizeof(Tuplesortstate *));
	b->counts = palloc0(nsorts * sizeof(int64));
	for (int i = 0; i < nsorts; i++)
		b->sorts[i] = tuplesort_begin_datum(FLOAT8OID, Float8LessOperator, InvalidOid,
											false, ss->sort_mem, NULL, TUPLESORT_NONE);
	ss->in_batch = true;
	MemoryContextSwitchTo(old);
}

static void batch_end(StatesScan *ss);

/*
 * Whether a row of the GROUP BY starts a new group: the group column's
 * equality, as the GROUP BY compared them (NULLs are one group).
 */
static bool
new_group(StatesScan *ss, TupleTableSlot *slot)
{
	const AnalyzeSpec *spec = ss->spec;
	bool		isnull = slot->tts_isnull[0];

	if (!ss->in_batch)
		return true;
	if (isnull || ss->batch.group_null)
		return isnull != ss->batch.group_null;
	return !DatumGetBool(FunctionCall2Coll(&ss->group_eq, spec->group_collation,
										   ss->batch.group_value, slot->tts_values[0]));
}

/* one customer: keep the row, and put the values it is scored on to sort */
static void
states_row(TupleTableSlot *slot, void *arg)
{
	StatesScan *ss = (StatesScan *) arg;
	const AnalyzeSpec *spec = ss->spec;
	StatesBatch *b = &ss->batch;
	int			n = spec->nsnapshots;
	int			first_state = ss->key_col + 1;

	if (ss->desc == NULL)
	{
		/* the first row: its descriptor outlives the scan's */
		MemoryContext old = MemoryContextSwitchTo(ss->cxt);

		ss->desc = CreateTupleDescCopy(slot->tts_tupleDescriptor);
		MemoryContextSwitchTo(old);
	}
	if (spec->group_column != NULL && new_group(ss, slot))
	{
		MemoryContext old;

		if (ss->in_batch)
			batch_end(ss);
		batch_begin(ss);
		old = MemoryContextSwitchTo(ss->cxt);
		b->group_null = slot->tts_isnull[0];
		if (!b->group_null)
		{
			b->group_value = datumCopy(slot->tts_values[0], TupleDescAttr(ss->desc, 0)->attbyval,
									   TupleDescAttr(ss->desc, 0)->attlen);
			b->group = CStringGetTextDatum(OidOutputFunctionCall(ss->group_output,
																 slot->tts_values[0]));
		}
		MemoryContextSwitchTo(old);
	}
	else if (!ss->in_batch)
		batch_begin(ss);

	for (int i = 0; i < n; i++)
	{
		RfmState   *state;
		RfmScored	scored;

		if (slot->tts_isnull[first_state + i])
			continue;			/* no row of the group had a time */
		state = DatumGetRfmState(slot->tts_values[first_state + i]);
		if (!rfm_analysis_reported(state))
			continue;
		rfm_analysis_values(spec, state, &scored);
		for (int d = 0; d < NDIMS; d++)
		{
			if (scored.isnull[d])
				continue;
			/* -0 and 0 are one value, as in rfm_breaks */
			tuplesort_putdatum(b->sorts[i * NDIMS + d],
							   Float8GetDatum(scored.value[d] + 0.0), false);
			b->counts[i * NDIMS + d]++;
		}
		if (i == n - 1)
		{
			int64		first,
						last;

			if (rfm_state_ignored(state) > 0)
				ss->any_ignored = true;
			if (rfm_state_events(state, &first, &last))
			{
				if (!ss->any_event || first < ss->earliest)
					ss->earliest = first;
				if (!ss->any_event || last > ss->latest)
					ss->latest = last;
				ss->any_event = true;
			}
		}
	}
	/* the tuplestore copies the row into its own memory */
	{
		MemoryContext old = MemoryContextSwitchTo(ss->cxt);

		tuplestore_puttupleslot(b->rows, slot);
		MemoryContextSwitchTo(old);
	}
}

/*
 * The breaks of one snapshot's dimension from its sorted values: only the
 * values at the positions the cut points read are fetched, in one forward
 * pass that stops after the last of them.
 */
static void
sorted_breaks(const AnalyzeSpec *spec, Tuplesortstate *sort, int64 n, float8 *breaks)
{
	int64		positions[2 * RFM_MAX_BINS];
	float8		values[2 * RFM_MAX_BINS];
	int			npos;
	int			j = 0;

	tuplesort_performsort(sort);
	if (n == 0)
		return;
	npos = rfm_break_positions(n, spec->bins, spec->method, positions);
	for (int64 pos = 1; j < npos; pos++)
	{
		Datum		value;
		bool		isnull;

		if (!rfm_tuplesort_getdatum(sort, true, &value, &isnull, NULL))
			elog(ERROR, "sorted values ended before position " INT64_FORMAT, pos);
		while (j < npos && positions[j] == pos)
			values[j++] = DatumGetFloat8(value);
	}
	rfm_breaks_at(n, spec->bins, spec->method, positions, values, npos, breaks);
}

/*
 * The batch is complete: read the breaks from its sorts, then score and
 * emit its rows, snapshot by snapshot per customer, and free it.
 */
static void
batch_end(StatesScan *ss)
{
	const AnalyzeSpec *spec = ss->spec;
	StatesBatch *b = &ss->batch;
	int			n = spec->nsnapshots;
	int			first_state = ss->key_col + 1;
	float8		(*breaks)[NDIMS][RFM_MAX_BINS] = palloc(n * sizeof(*breaks));
	TupleTableSlot *slot;

	for (int i = 0; i < n; i++)
		for (int d = 0; d < NDIMS; d++)
		{
			sorted_breaks(spec, b->sorts[i * NDIMS + d], b->counts[i * NDIMS + d],
						  breaks[i][d]);
			tuplesort_end(b->sorts[i * NDIMS + d]);
		}

	slot = MakeSingleTupleTableSlot(ss->desc, &TTSOpsMinimalTuple);
	while (tuplestore_gettupleslot(b->rows, true, false, slot))
	{
		Datum		key = (Datum) 0;
		bool		key_null;

		CHECK_FOR_INTERRUPTS();
		slot_getallattrs(slot);
		key_null = slot->tts_isnull[ss->key_col];
		for (int i = 0; i < n; i++)
		{
			RfmState   *state;
			RfmScored	scored;

			if (slot->tts_isnull[first_state + i])
				continue;
			state = DatumGetRfmState(slot->tts_values[first_state + i]);
			if (!rfm_analysis_reported(state))
				continue;
			if (!key_null && key == (Datum) 0)
			{
				MemoryContext old = MemoryContextSwitchTo(ss->row_cxt);

				key = CStringGetTextDatum(OidOutputFunctionCall(ss->key_output,
																slot->tts_values[ss->key_col]));
				MemoryContextSwitchTo(old);
			}
			rfm_analysis_values(spec, state, &scored);
			rfm_analysis_emit(ss->fcinfo, spec, i, ss->with_as_of,
							  b->group, b->group_null, key, key_null, state,
							  &scored, breaks[i], ss->row_cxt);
			key = (Datum) 0;	/* emit reset the row context */
		}
	}
	ExecDropSingleTupleTableSlot(slot);
	tuplestore_end(b->rows);
	pfree(b->sorts);
	pfree(b->counts);
	pfree(breaks);
	if (!b->group_null && spec->group_column != NULL)
	{
		pfree(DatumGetPointer(b->group));
		if (!TupleDescAttr(ss->desc, 0)->attbyval)
			pfree(DatumGetPointer(b->group_value));
	}
	memset(b, 0, sizeof(*b));
	ss->in_batch = false;
}

/* the states query's parameters: each as_of, last_period, refunds */
static void
states_params(const AnalyzeSpec *spec, Oid *types, Datum *values)
{
	int			n = spec->nsnapshots;

	for (int i = 0; i < n; i++)
	{
		types[i] = spec->is_date ? DATEOID : TIMESTAMPTZOID;
		values[i] = spec->is_date ? DateADTGetDatum((DateADT) (spec->as_of[i] / USECS_PER_DAY)) :
			TimestampTzGetDatum(spec->as_of[i]);
	}
	types[n] = INTERVALOID;
	values[n] = IntervalPGetDatum(&spec->last_period);
	types[n + 1] = TEXTOID;
	values[n + 1] = CStringGetTextDatum(spec->refunds == RFM_REFUNDS_ADJUST ? "adjust" : "events");
}

/*
 * The query, for a DBA (and the fdw test) checking what partitions, a
 * foreign server or Citus are asked: EXPLAIN VERBOSE it to see the GROUP
 * BY pushed down.
 */
static void
log_states_query(const char *query)
{
	ereport(DEBUG1,
			(errmsg_internal("rfm_segment states query: %s", query)));
}

/*
 * The same GROUP BY (no groups), each row (key, one state per snapshot)
 * given to the caller's callback instead of the batch: analyze.c holds the
 * states in its customer table where they fit rfm_segment.max_memory,
 * which spares the tuplestore, the sorts and a second reading of every
 * state.  until stops the scan (the table is full).
 */
void
rfm_analysis_scan_states(const AnalyzeSpec *spec, RfmRowUntil until, void *arg)
{
	int			nargs = spec->nsnapshots + 2;
	Oid		   *types = palloc(nargs * sizeof(Oid));
	Datum	   *values = palloc(nargs * sizeof(Datum));
	char	   *query;

	Assert(spec->group_column == NULL);
	states_params(spec, types, values);
	query = build_states_query(spec);
	log_states_query(query);
	(void) rfm_scan_states_until(spec->relid, query, nargs, types, values, until, arg);
	pfree(query);
	pfree(types);
	pfree(values);
}

/*
 * The scan's setup: memory, the key's output, the group column's
 * equality.  Rows come from the GROUP BY (rfm_analysis_by_states) or from
 * analyze.c's own table (rfm_analysis_sink_put).
 */
static void
states_scan_init(StatesScan *ss, FunctionCallInfo fcinfo, AnalyzeSpec *spec,
				 bool with_as_of)
{
	int			n = spec->nsnapshots;
	Oid			collation;
	bool		isvarlena;

	memset(ss, 0, sizeof(*ss));
	ss->spec = spec;
	ss->fcinfo = fcinfo;
	ss->with_as_of = with_as_of;
	ss->cxt = CurrentMemoryContext;
	ss->row_cxt = AllocSetContextCreate(CurrentMemoryContext, "rfm_analyze row",
										ALLOCSET_SMALL_SIZES);
	/* the sorts share work_mem; the tuplestore has its own */
	ss->sort_mem = Max(MIN_SORT_MEM_KB, work_mem / (n * NDIMS));
	ss->store_mem = work_mem;
	ss->key_col = spec->group_column != NULL ? 1 : 0;

	ss->key_type = rfm_column_type(spec->relid, spec->columns[COL_KEY], "customer_column",
								   &collation);
	getTypeOutputInfo(ss->key_type, &ss->key_output, &isvarlena);
	if (spec->group_column != NULL)
	{
		TypeCacheEntry *typentry = lookup_type_cache(spec->group_type,
													 TYPECACHE_EQ_OPR_FINFO);

		if (!OidIsValid(typentry->eq_opr_finfo.fn_oid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("group_column \"%s\" has type %s, which has no equality operator",
							spec->group_column, format_type_be(spec->group_type)),
					 errhint("Pass a column of a type that can be grouped, such as text or integer.")));
		fmgr_info_copy(&ss->group_eq, &typentry->eq_opr_finfo, CurrentMemoryContext);
		getTypeOutputInfo(spec->group_type, &ss->group_output, &isvarlena);
	}
}

/* every row is in: check the as_of against the span, score and emit */
static void
states_scan_end(StatesScan *ss)
{
	const AnalyzeSpec *spec = ss->spec;
	int			n = spec->nsnapshots;

	if (ss->any_event && !ss->any_ignored)
		rfm_check_as_of_gap(spec->as_of_input[n - 1], spec->as_of[n - 1],
							ss->earliest, ss->latest, spec->is_date);
	if (ss->in_batch)
		batch_end(ss);
	MemoryContextDelete(ss->row_cxt);
}

/*
 * Read the source as one state per customer (or per group and customer),
 * then emit every snapshot's rows.  The caller has set as_of and prepared
 * the snapshots.
 */
void
rfm_analysis_by_states(FunctionCallInfo fcinfo, AnalyzeSpec *spec, bool with_as_of)
{
	StatesScan	ss;
	int			nargs = spec->nsnapshots + 2;
	Oid		   *types = palloc(nargs * sizeof(Oid));
	Datum	   *values = palloc(nargs * sizeof(Datum));
	char	   *query;

	states_scan_init(&ss, fcinfo, spec, with_as_of);
	states_params(spec, types, values);

	/*
	 * Without groups every customer is one batch, scored after the scan;
	 * with groups each batch is scored as its group ends, during the scan.
	 */
	query = build_states_query(spec);
	log_states_query(query);
	(void) rfm_scan_states(spec->relid, query, nargs, types, values, states_row, &ss);
	states_scan_end(&ss);
}

/*
 * The batch as a sink for states that do not come from the GROUP BY:
 * where a source's customers do not fit rfm_segment.max_memory, analyze.c
 * puts here the states of those its table held, then of each part of the
 * rows it set aside, where they spill as the GROUP BY's do.  No groups.
 */
RfmAnalysisSink *
rfm_analysis_sink_begin(FunctionCallInfo fcinfo, AnalyzeSpec *spec, bool with_as_of)
{
	StatesScan *ss = palloc(sizeof(StatesScan));
	int			n = spec->nsnapshots;
	Oid			state_type = rfm_schema_type(spec->namespace, "rfm_metrics_state");
	TupleDesc	desc;

	Assert(spec->group_column == NULL);
	states_scan_init(ss, fcinfo, spec, with_as_of);
	/* the GROUP BY's row: the key, then a state per snapshot */
	desc = CreateTemplateTupleDesc(1 + n);
	TupleDescInitEntry(desc, 1, "key", ss->key_type, -1, 0);
	for (int i = 0; i < n; i++)
		TupleDescInitEntry(desc, 2 + i, "state", state_type, -1, 0);
	ss->put_slot = MakeSingleTupleTableSlot(desc, &TTSOpsVirtual);
	return ss;
}

/* one customer's states, one per snapshot; the sink copies them */
void
rfm_analysis_sink_put(RfmAnalysisSink *ss, Datum key, bool key_null,
					  RfmState *const *states)
{
	TupleTableSlot *slot = ss->put_slot;

	ExecClearTuple(slot);
	slot->tts_values[0] = key;
	slot->tts_isnull[0] = key_null;
	for (int i = 0; i < ss->spec->nsnapshots; i++)
	{
		slot->tts_values[1 + i] = PointerGetDatum(states[i]);
		slot->tts_isnull[1 + i] = false;
	}
	ExecStoreVirtualTuple(slot);
	states_row(slot, ss);
}

/* every customer is in: score and emit them */
void
rfm_analysis_sink_end(RfmAnalysisSink *ss)
{
	ExecDropSingleTupleTableSlot(ss->put_slot);
	states_scan_end(ss);
	pfree(ss);
}

/* give up on the sink: its rows and sorts are dropped, nothing is emitted */
void
rfm_analysis_sink_discard(RfmAnalysisSink *ss)
{
	StatesBatch *b = &ss->batch;

	if (ss->in_batch)
	{
		for (int i = 0; i < ss->spec->nsnapshots * NDIMS; i++)
			tuplesort_end(b->sorts[i]);
		tuplestore_end(b->rows);
		pfree(b->sorts);
		pfree(b->counts);
	}
	ExecDropSingleTupleTableSlot(ss->put_slot);
	MemoryContextDelete(ss->row_cxt);
	pfree(ss);
}
