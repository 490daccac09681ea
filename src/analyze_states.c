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
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "analyze.h"
#include "scan.h"
#include "timeutil.h"

#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplesort.h"
#include "utils/tuplestore.h"

/* the smallest work_mem a tuplesort of values gets, in kB */
#define MIN_SORT_MEM_KB		64

/* the scan's running state */
typedef struct StatesScan
{
	const AnalyzeSpec *spec;
	MemoryContext cxt;			/* outlives the scan */
	TupleDesc	desc;			/* of the GROUP BY's rows */
	Tuplestorestate *rows;		/* (key, state, state, ...) */
	Tuplesortstate **sorts;		/* [snapshot * NDIMS + dimension] */
	int64	   *counts;			/* values put into each sort */
	int			sort_mem;
	bool		any_event;		/* the source's span, from the last */
	bool		any_ignored;	/* snapshot's states, for the as_of check */
	int64		earliest;
	int64		latest;
} StatesScan;

/*
 * The GROUP BY: the key, then a state per snapshot, each from the
 * aggregate of the extension's schema with as_of $1..$n, last_period $n+1
 * and refunds $n+2.  Numbers are cast to numeric, a timestamp without time
 * zone to timestamptz, as the rows of analyze.c are.
 */
static char *
build_states_query(const AnalyzeSpec *spec)
{
	StringInfoData buf;
	const char *schema = quote_identifier(get_namespace_name(spec->namespace));
	int			n = spec->nsnapshots;

	initStringInfo(&buf);
	appendStringInfo(&buf, "SELECT %s", quote_identifier(spec->columns[COL_KEY]));
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
		appendStringInfo(&buf, "$%d, $%d, $%d)", i + 1, n + 1, n + 2);
	}
	appendStringInfo(&buf, " FROM %s GROUP BY 1", rfm_relation_name(spec->relid));
	return buf.data;
}

/* one customer: keep the row, and put the values it is scored on to sort */
static void
states_row(TupleTableSlot *slot, void *arg)
{
	StatesScan *ss = (StatesScan *) arg;
	const AnalyzeSpec *spec = ss->spec;
	int			n = spec->nsnapshots;

	if (ss->rows == NULL)
	{
		/* the first row: its descriptor outlives the scan's */
		MemoryContext old = MemoryContextSwitchTo(ss->cxt);

		ss->desc = CreateTupleDescCopy(slot->tts_tupleDescriptor);
		ss->rows = tuplestore_begin_heap(false, false, work_mem);
		MemoryContextSwitchTo(old);
	}

	for (int i = 0; i < n; i++)
	{
		RfmState   *state;
		RfmScored	scored;

		if (slot->tts_isnull[1 + i])
			continue;			/* no row of the group had a time */
		state = DatumGetRfmState(slot->tts_values[1 + i]);
		if (!rfm_analysis_reported(state))
			continue;
		rfm_analysis_values(spec, state, &scored);
		for (int d = 0; d < NDIMS; d++)
		{
			if (scored.isnull[d])
				continue;
			/* -0 and 0 are one value, as in rfm_breaks */
			tuplesort_putdatum(ss->sorts[i * NDIMS + d],
							   Float8GetDatum(scored.value[d] + 0.0), false);
			ss->counts[i * NDIMS + d]++;
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

		tuplestore_puttupleslot(ss->rows, slot);
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

		if (!tuplesort_getdatum(sort, true, &value, &isnull, NULL))
			elog(ERROR, "sorted values ended before position " INT64_FORMAT, pos);
		while (j < npos && positions[j] == pos)
			values[j++] = DatumGetFloat8(value);
	}
	rfm_breaks_at(n, spec->bins, spec->method, positions, values, npos, breaks);
}

/*
 * Read the source as one state per customer, then emit every snapshot's
 * rows.  The caller has set as_of and prepared the snapshots.
 */
void
rfm_analysis_by_states(FunctionCallInfo fcinfo, AnalyzeSpec *spec, bool with_as_of)
{
	StatesScan	ss;
	int			n = spec->nsnapshots;
	int			nargs = n + 2;
	Oid		   *types = palloc(nargs * sizeof(Oid));
	Datum	   *values = palloc(nargs * sizeof(Datum));
	float8		(*breaks)[NDIMS][RFM_MAX_BINS];
	Oid			key_type;
	Oid			key_output;
	Oid			collation;
	bool		isvarlena;
	TupleTableSlot *slot;
	MemoryContext row_cxt;

	memset(&ss, 0, sizeof(ss));
	ss.spec = spec;
	ss.cxt = CurrentMemoryContext;
	ss.sorts = palloc(n * NDIMS * sizeof(Tuplesortstate *));
	ss.counts = palloc0(n * NDIMS * sizeof(int64));
	/* the sorts share work_mem; the tuplestore has its own */
	ss.sort_mem = Max(MIN_SORT_MEM_KB, work_mem / (n * NDIMS));
	for (int i = 0; i < n * NDIMS; i++)
		ss.sorts[i] = tuplesort_begin_datum(FLOAT8OID, Float8LessOperator, InvalidOid,
											false, ss.sort_mem, NULL, TUPLESORT_NONE);

	key_type = rfm_column_type(spec->relid, spec->columns[COL_KEY], "customer_column",
							   &collation);
	getTypeOutputInfo(key_type, &key_output, &isvarlena);

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

	(void) rfm_scan_params(build_states_query(spec), nargs, types, values, true,
						   states_row, &ss);
	if (ss.any_event && !ss.any_ignored)
		rfm_check_as_of_gap(spec->as_of_input[n - 1], spec->as_of[n - 1],
							ss.earliest, ss.latest, spec->is_date);

	breaks = palloc(n * sizeof(*breaks));
	for (int i = 0; i < n; i++)
		for (int d = 0; d < NDIMS; d++)
		{
			sorted_breaks(spec, ss.sorts[i * NDIMS + d], ss.counts[i * NDIMS + d],
						  breaks[i][d]);
			tuplesort_end(ss.sorts[i * NDIMS + d]);
		}
	if (ss.rows == NULL)
		return;					/* no customer */

	/* the second pass: score and emit, snapshot by snapshot per customer */
	slot = MakeSingleTupleTableSlot(ss.desc, &TTSOpsMinimalTuple);
	row_cxt = AllocSetContextCreate(CurrentMemoryContext, "rfm_analyze row",
									ALLOCSET_SMALL_SIZES);
	while (tuplestore_gettupleslot(ss.rows, true, false, slot))
	{
		Datum		key = (Datum) 0;
		bool		key_null;

		CHECK_FOR_INTERRUPTS();
		slot_getallattrs(slot);
		key_null = slot->tts_isnull[0];
		for (int i = 0; i < n; i++)
		{
			RfmState   *state;
			RfmScored	scored;

			if (slot->tts_isnull[1 + i])
				continue;
			state = DatumGetRfmState(slot->tts_values[1 + i]);
			if (!rfm_analysis_reported(state))
				continue;
			if (!key_null && key == (Datum) 0)
			{
				MemoryContext old = MemoryContextSwitchTo(row_cxt);

				key = CStringGetTextDatum(OidOutputFunctionCall(key_output, slot->tts_values[0]));
				MemoryContextSwitchTo(old);
			}
			rfm_analysis_values(spec, state, &scored);
			rfm_analysis_emit(fcinfo, spec, i, with_as_of, key, key_null, state,
							  &scored, breaks[i], row_cxt);
			key = (Datum) 0;	/* emit reset the row context */
		}
	}
	ExecDropSingleTupleTableSlot(slot);
	tuplestore_end(ss.rows);
	MemoryContextDelete(row_cxt);
}
