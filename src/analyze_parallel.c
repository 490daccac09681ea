/*-------------------------------------------------------------------------
 *
 * analyze_parallel.c
 *	  rfm_analyze and rfm_snapshots by rows in parallel workers.
 *
 * Every process (the leader and each worker) reads all the rows and keeps
 * the customers whose key hashes into its part (parallel.c, scan.c's
 * share), through the same rfm_analysis_add_row as one backend.  The
 * customers of two processes never meet, so nothing is combined; what is
 * shared is the breaks, which need every customer's values.  So, per
 * snapshot, each worker sends the leader the values it scores (three
 * float8 per customer), the leader cuts the breaks over them and its own
 * and replies with them, and then every process forms the rows of its own
 * customers, the workers sending theirs to the leader as minimal tuples,
 * which the leader puts into the result beside its own.  The scan, the
 * scores and the forming of the rows, which are nearly all of the time,
 * run in every process; the leader alone cuts the breaks and stores the
 * rows.
 *
 * The rows and their values equal one backend's: the same code makes each
 * customer's state and row, and the breaks are cut over the same values
 * (rfm_select_breaks finds those they read).  Only the order of the rows
 * differs.
 *
 * Where a table stores each customer's rows together (loaded customer by
 * customer), reading every row is most of each process's time, so the
 * processes split the blocks instead (parallel.c's rfm_parallel_blocks):
 * each reads its own range of blocks (a TID range scan) into states of
 * every customer it meets, and the customers two processes met go to the
 * process of their part (exchange.c), which merges their states as the
 * parallel aggregate does (rfm_state_merge).  From there on each process
 * holds whole customers, and the rest is the same.  Rows spread over the
 * table would make every process meet nearly every customer and send most
 * of them; there the split by customer stays.
 *
 * Memory: each process holds its own customers under
 * rfm_segment.max_memory, so all of them together may hold up to that
 * much per process; under rfm_segment.scan = 'auto' any process passing it
 * sends the analysis to the states way, as one backend does.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "analyze.h"
#include "exchange.h"
#include "guc.h"
#include "parallel.h"
#include "scan.h"
#include "timeutil.h"

#include "access/htup_details.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/memutils.h"

/*
 * The worker's spec: what rfm_analysis_add_row, the scores and the rows
 * need, flattened.  This header, then as_of, period_start and as_of_input
 * per snapshot, then the query, the customer column and the function's
 * name, each ending in a zero byte, then the compiled segment map (the
 * worker does not read the rule table: rfm_segment_map_write).
 */
typedef struct WorkerSpec
{
	Oid			relid;
	Oid			function_oid;	/* its result type is the rows' */
	bool		is_date;
	bool		has_amount;
	bool		has_weight;
	bool		with_as_of;
	int			nsnapshots;
	int			bins;
	RfmScoreMethod method;
	Interval	last_period;
	RfmRefunds	refunds;
	BlockNumber nblocks;		/* read by blocks: the table's; else 0 */
} WorkerSpec;

/*
 * messages: each starts with its kind; a snapshot's rows are parallel.c's
 * (rfm_parallel_send_row)
 */
typedef enum MessageKind
{
	MSG_SCANNED,				/* worker: the scan is done (Scanned) */
	MSG_VALUES,					/* worker: one dimension's values of a snapshot */
	MSG_BREAKS,					/* leader: the breaks of a snapshot */
	MSG_STOP					/* leader: stop, the analysis reads by states */
} MessageKind;

typedef struct Scanned
{
	MessageKind kind;
	bool		overflow;
	bool		any_event;
	int64		earliest;
	int64		latest;
} Scanned;

typedef struct ValuesHeader
{
	MessageKind kind;
	int			dim;
	int64		total;			/* values */
	/* total float8 follow, in no order, MAXALIGNed */
} ValuesHeader;

typedef struct Breaks
{
	MessageKind kind;
	int			snap;
	float8		breaks[NDIMS][RFM_MAX_BINS];
} Breaks;

/* the leader takes the workers' rows every so many rows of its own */
#define DRAIN_EVERY			1024

PGDLLEXPORT void rfm_analyze_worker(dsm_segment *seg, shm_toc *toc);

static char *
worker_spec(FunctionCallInfo fcinfo, const AnalyzeSpec *spec, bool with_as_of,
			const char *query, BlockNumber nblocks, Size *size)
{
	StringInfoData buf;
	WorkerSpec	header;
	int			n = spec->nsnapshots;

	memset(&header, 0, sizeof(header));
	header.relid = spec->relid;
	header.function_oid = fcinfo->flinfo->fn_oid;
	header.is_date = spec->is_date;
	header.has_amount = spec->columns[COL_AMOUNT] != NULL;
	header.has_weight = spec->columns[COL_WEIGHT] != NULL;
	header.with_as_of = with_as_of;
	header.nsnapshots = n;
	header.bins = spec->bins;
	header.method = spec->method;
	header.last_period = spec->last_period;
	header.refunds = spec->refunds;
	header.nblocks = nblocks;
	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, (const char *) &header, sizeof(header));
	appendBinaryStringInfo(&buf, (const char *) spec->as_of, n * sizeof(int64));
	appendBinaryStringInfo(&buf, (const char *) spec->period_start, n * sizeof(int64));
	appendBinaryStringInfo(&buf, (const char *) spec->as_of_input, n * sizeof(TimestampTz));
	rfm_parallel_put_string(&buf, query);
	rfm_parallel_put_string(&buf, spec->columns[COL_KEY]);
	rfm_parallel_put_string(&buf, spec->function);
	rfm_segment_map_write(spec->segments, &buf);
	*size = buf.len;
	return buf.data;
}

/*
 * The worker's AnalyzeSpec, its query and its result's row type, from the
 * spec's header and what follows it (p)
 */
static const char *
read_worker_spec(const WorkerSpec *header, const char *p, AnalyzeSpec *spec,
				 bool *with_as_of, TupleDesc *desc)
{
	const char *query;
	Oid			type;
	int			n;

	n = header->nsnapshots;
	memset(spec, 0, sizeof(AnalyzeSpec));
	spec->relid = header->relid;
	spec->is_date = header->is_date;
	spec->nsnapshots = n;
	spec->bins = header->bins;
	spec->method = header->method;
	spec->last_period = header->last_period;
	spec->refunds = header->refunds;
	spec->as_of = palloc(n * sizeof(int64));
	memcpy(spec->as_of, p, n * sizeof(int64));
	p += n * sizeof(int64);
	spec->period_start = palloc(n * sizeof(int64));
	memcpy(spec->period_start, p, n * sizeof(int64));
	p += n * sizeof(int64);
	spec->as_of_input = palloc(n * sizeof(TimestampTz));
	memcpy(spec->as_of_input, p, n * sizeof(TimestampTz));
	p += n * sizeof(TimestampTz);
	query = rfm_parallel_get_string(&p);
	spec->columns[COL_KEY] = rfm_parallel_get_string(&p);
	/* the scores ask only whether there are amount and weight columns */
	spec->columns[COL_AMOUNT] = header->has_amount ? "" : NULL;
	spec->columns[COL_WEIGHT] = header->has_weight ? "" : NULL;
	spec->function = rfm_parallel_get_string(&p);
	spec->segments = rfm_segment_map_read(&p, CurrentMemoryContext);
	*with_as_of = header->with_as_of;
	if (get_func_result_type(header->function_oid, &type, desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "%s does not return rows", spec->function);
	return query;
}

/*
 * One dimension's values of the scored customers, as they are: the leader
 * selects the breaks' positions among its own and every worker's
 * (rfm_select_breaks), so no process sorts them.
 */
static void
send_values(shm_mq_handle *queue, const AnalyzeScored *scored, uint64 n, int d)
{
	Size		offset = MAXALIGN(sizeof(ValuesHeader));
	char	   *message = palloc_extended(offset + Max(n, 1) * sizeof(float8),
										  MCXT_ALLOC_HUGE);
	ValuesHeader *header = (ValuesHeader *) message;

	header->kind = MSG_VALUES;
	header->dim = d;
	header->total = rfm_analysis_collect(scored, n, d, (float8 *) (message + offset));
	rfm_parallel_send(queue, message, offset + header->total * sizeof(float8));
	pfree(message);
}

/*
 * A customer's payload in a message to another process (exchange.c): its
 * state per snapshot, VARSIZE bytes each (a state grows past its fixed
 * part with a sum past 38 digits), MAXALIGNed.
 */
static void
write_states(void *arg, const void *payload, StringInfo buf)
{
	const AnalyzeState *st = (const AnalyzeState *) arg;
	RfmState *const *states = (RfmState *const *) payload;

	for (int snap = 0; snap < st->spec->nsnapshots; snap++)
	{
		appendBinaryStringInfo(buf, (const char *) states[snap], VARSIZE(states[snap]));
		rfm_parallel_pad(buf);
	}
}

/*
 * A customer's states from another process, read in place, added to those
 * of the same customer here (found), or made this customer's.  A state that
 * grows moves to the customers' memory, as in rfm_analysis_add_row.
 */
static bool
merge_states(void *arg, void *payload, bool found, const char *data)
{
	AnalyzeState *st = (AnalyzeState *) arg;
	MemoryContext cxt = rfm_customers_context(st->customers);
	RfmCustomerStates *states = (RfmCustomerStates *) payload;

	for (int i = 0; i < st->spec->nsnapshots; i++)
	{
		const RfmState *theirs = (const RfmState *) data;
		RfmState   *state;

		data += MAXALIGN(VARSIZE(theirs));
		if (!found)
		{
			states[i] = (RfmState *) ((char *) states + st->states_offset +
									  i * rfm_state_size());
			if (VARSIZE(theirs) <= rfm_state_size())
			{
				memcpy(states[i], theirs, VARSIZE(theirs));
				continue;
			}
			state = (RfmState *) theirs;
		}
		else
		{
			state = rfm_state_merge(states[i], theirs);
			if (state == states[i])
				continue;
		}
		states[i] = MemoryContextAllocHuge(cxt, VARSIZE(state));
		memcpy(states[i], state, VARSIZE(state));
	}
	return true;
}

/* after the merges: whether the scores still fit with the customers */
static bool
scores_fit(void *arg)
{
	AnalyzeState *st = (AnalyzeState *) arg;

	rfm_analysis_check_scores(st);
	return !st->overflow;
}

static RfmExchangePayload
states_payload(AnalyzeState *st)
{
	RfmExchangePayload payload = {write_states, merge_states, scores_fit, st};

	return payload;
}

/* the worker's rows of one snapshot, then the end mark */
static void
send_rows(shm_mq_handle *queue, AnalyzeState *st, int snap, bool with_as_of,
		  TupleDesc desc, const AnalyzeScored *scored, uint64 n,
		  float8 breaks[NDIMS][RFM_MAX_BINS], MemoryContext row_cxt)
{
	RfmRowSender *sender = rfm_parallel_rows_begin(queue, desc);

	for (uint64 i = 0; i < n; i++)
	{
		RfmCustomerStates *states = rfm_customers_payload(st->customers,
														  scored[i].customer);
		Datum		out[RFM_ANALYSIS_MAX_COLUMNS];
		bool		outnull[RFM_ANALYSIS_MAX_COLUMNS];
		bool		key_null;
		Datum		key;
		MemoryContext old = MemoryContextSwitchTo(row_cxt);

		key = rfm_customers_key_text(st->customers, scored[i].customer, &key_null);
		rfm_analysis_form(st->spec, snap, with_as_of, (Datum) 0, true, key, key_null,
						  states[snap], &scored[i].scored, breaks, out, outnull);
		rfm_parallel_send_row(sender, out, outnull);
		MemoryContextSwitchTo(old);
		MemoryContextReset(row_cxt);
	}
	rfm_parallel_rows_end(sender);
}

/*
 * A parallel worker: the scan of its part of the customers, under the
 * leader's snapshot, user and settings; then per snapshot its values to
 * the leader, the breaks back, and its rows to the leader.
 */
void
rfm_analyze_worker(dsm_segment *seg, shm_toc *toc)
{
	RfmParallelWorker w;
	WorkerSpec	header;
	const char *p;
	AnalyzeSpec spec;
	AnalyzeState st;
	Scanned		scanned;
	TupleDesc	desc;
	bool		with_as_of;
	const char *query;
	MemoryContext row_cxt;

	p = rfm_parallel_worker_attach(seg, toc, &w, &header, sizeof(header));
	query = read_worker_spec(&header, p, &spec, &with_as_of, &desc);

	memset(&st, 0, sizeof(st));
	st.spec = &spec;
	st.states_offset = MAXALIGN(spec.nsnapshots * sizeof(RfmState *));
	st.customers = rfm_customers_create(spec.relid, spec.columns[COL_KEY],
										st.states_offset + spec.nsnapshots * rfm_state_size(),
										spec.function, RFM_ANALYZE_MEMORY_HINT);
	if (rfm_scan_mode == RFM_SCAN_AUTO)
		rfm_customers_set_soft_limit(st.customers);
	rfm_customers_set_share(st.customers, w.nparts, UINT64CONST(1) << w.part);
	rfm_parallel_scan_part(query, st.customers, COL_KEY, header.nblocks,
						   rfm_analysis_add_row, &st);
	/* the scores must fit too, as in one backend */
	rfm_analysis_check_scores(&st);

	scanned.kind = MSG_SCANNED;
	scanned.overflow = st.overflow;
	scanned.any_event = st.any_event;
	scanned.earliest = st.earliest;
	scanned.latest = st.latest;
	rfm_parallel_send(w.queue, &scanned, sizeof(scanned));
	if (st.overflow)
		return;					/* the leader reads by states */
	if (header.nblocks > 0)
	{
		RfmExchangePayload payload = states_payload(&st);

		if (!rfm_exchange_worker(&w, st.customers, &payload))
			return;
	}

	row_cxt = AllocSetContextCreate(CurrentMemoryContext, "rfm_analyze row",
									ALLOCSET_SMALL_SIZES);
	for (int snap = 0; snap < spec.nsnapshots; snap++)
	{
		uint64		n;
		AnalyzeScored *scored = rfm_analysis_scores(&st, snap, 0, &n);
		Size		nbytes;
		void	   *data;
		Breaks		breaks;

		for (int d = 0; d < NDIMS; d++)
			send_values(w.queue, scored, n, d);
		if (shm_mq_receive(w.reply, &nbytes, &data, false) != SHM_MQ_SUCCESS)
			return;				/* the leader has gone */
		memcpy(&breaks, data, Min(nbytes, sizeof(breaks)));
		if (breaks.kind != MSG_BREAKS || nbytes != sizeof(breaks) || breaks.snap != snap)
			return;				/* MSG_STOP */
		send_rows(w.queue, &st, snap, with_as_of, desc, scored, n, breaks.breaks, row_cxt);
		pfree(scored);
	}
}

/*
 * One snapshot in the leader: the breaks over its own customers' values
 * and the workers', sent to them; then its rows and theirs.
 */
static void
leader_snapshot(FunctionCallInfo fcinfo, AnalyzeState *st, RfmParallel *parallel,
				bool *rows_done, int nworkers, int snap, bool with_as_of,
				TupleTableSlot *slot, MemoryContext row_cxt)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	AnalyzeSpec *spec = st->spec;
	uint64		n;
	AnalyzeScored *scored = rfm_analysis_scores(st, snap, 0, &n);
	Breaks		breaks;

	memset(&breaks, 0, sizeof(breaks));
	breaks.kind = MSG_BREAKS;
	breaks.snap = snap;
	for (int d = 0; d < NDIMS; d++)
	{
		float8	   *values = palloc_extended(Max(n, 1) * sizeof(float8), MCXT_ALLOC_HUGE);
		int64		total = rfm_analysis_collect(scored, n, d, values);

		for (int i = 0; i < nworkers; i++)
		{
			Size		nbytes;
			const ValuesHeader *header = rfm_parallel_receive(parallel, i, false, &nbytes);

			if (header->kind != MSG_VALUES || header->dim != d ||
				nbytes != MAXALIGN(sizeof(ValuesHeader)) + header->total * sizeof(float8))
				elog(ERROR, "unexpected message %d from a parallel worker", (int) header->kind);
			/* the workers' values count with the leader's customers */
			rfm_customers_check_more(st->customers, (total + header->total) * sizeof(float8));
			values = repalloc_huge(values, Max(total + header->total, 1) * sizeof(float8));
			memcpy(values + total, (const char *) header + MAXALIGN(sizeof(ValuesHeader)),
				   header->total * sizeof(float8));
			total += header->total;
		}
		if (total > 0)
			rfm_select_breaks(values, total, spec->bins, spec->method, breaks.breaks[d]);
		pfree(values);
	}
	rfm_parallel_reply_all(parallel, &breaks, sizeof(breaks));
	for (int i = 0; i < nworkers; i++)
		rows_done[i] = false;

	for (uint64 i = 0; i < n; i++)
	{
		rfm_analysis_emit_scored(fcinfo, st, snap, with_as_of, &scored[i],
								 breaks.breaks, row_cxt);
		if (i % DRAIN_EVERY == DRAIN_EVERY - 1)
			for (int w = 0; w < nworkers; w++)
				if (!rows_done[w])
					rows_done[w] = rfm_parallel_take_rows(parallel, w, true,
														  rsinfo->setResult, slot);
	}
	for (int w = 0; w < nworkers; w++)
		if (!rows_done[w])
			rows_done[w] = rfm_parallel_take_rows(parallel, w, false,
												  rsinfo->setResult, slot);
	pfree(scored);
}

/*
 * rfm_analyze or rfm_snapshots by rows in parallel workers, when the
 * source allows them (rfm_parallel_workers): RFM_ANALYSIS_DONE with the
 * rows emitted; RFM_ANALYSIS_SERIAL when no worker was launched (nothing
 * read yet); RFM_ANALYSIS_STATES when a process passed
 * rfm_segment.max_memory under the soft limit (st->overflow, the workers
 * stopped).
 */
RfmAnalysisWay
rfm_analysis_in_parallel(FunctionCallInfo fcinfo, AnalyzeState *st, bool with_as_of)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	AnalyzeSpec *spec = st->spec;
	int			planned = rfm_parallel_workers(spec->relid);
	char	   *query;
	char	   *wspec;
	Size		size;
	BlockNumber nblocks;
	uint64		mine;
	RfmParallel *parallel;
	int			nworkers;
	bool	   *rows_done;
	TupleTableSlot *slot;
	MemoryContext row_cxt;

	if (planned == 0)
		return RFM_ANALYSIS_SERIAL;
	query = rfm_analysis_query(spec);
	nblocks = rfm_parallel_blocks(spec->relid, spec->columns[COL_KEY], planned + 1);
	wspec = worker_spec(fcinfo, spec, with_as_of, query, nblocks, &size);
	parallel = rfm_parallel_begin(spec->function, "rfm_analyze_worker", planned, wspec, size);
	if (parallel == NULL)
		return RFM_ANALYSIS_SERIAL;
	nworkers = rfm_parallel_launched(parallel);
	if (nblocks > 0)
		ereport(DEBUG1,
				(errmsg_internal("%s: each process reads its own blocks", spec->function)));

	/* the leader's part of the scan, then the workers' news of theirs */
	mine = rfm_parallel_leader_parts(parallel);
	rfm_customers_set_share(st->customers, rfm_parallel_parts(parallel), mine);
	rfm_parallel_scan_part(query, st->customers, COL_KEY, nblocks, rfm_analysis_add_row, st);
	rows_done = palloc0(nworkers * sizeof(bool));
	for (int i = 0; i < nworkers && !st->overflow; i++)
	{
		Scanned		scanned;

		rfm_parallel_receive_struct(parallel, i, &scanned, sizeof(scanned));
		if (scanned.kind != MSG_SCANNED)
			elog(ERROR, "unexpected message %d from a parallel worker", (int) scanned.kind);
		st->overflow |= scanned.overflow;
		if (scanned.any_event && (!st->any_event || scanned.earliest < st->earliest))
			st->earliest = scanned.earliest;
		if (scanned.any_event && (!st->any_event || scanned.latest > st->latest))
			st->latest = scanned.latest;
		st->any_event |= scanned.any_event;
	}
	rfm_analysis_check_scores(st);
	if (nblocks > 0 && !st->overflow)
	{
		RfmExchangePayload payload = states_payload(st);

		st->overflow = !rfm_exchange_leader(parallel, st->customers, mine, &payload);
	}
	if (st->overflow)
	{
		rfm_parallel_cancel(parallel);
		return RFM_ANALYSIS_STATES;
	}
	if (st->any_event)
		rfm_check_as_of_gap(spec->as_of_input[spec->nsnapshots - 1],
							spec->as_of[spec->nsnapshots - 1],
							st->earliest, st->latest, spec->is_date);

	slot = MakeSingleTupleTableSlot(rsinfo->setDesc, &TTSOpsMinimalTuple);
	row_cxt = AllocSetContextCreate(CurrentMemoryContext, "rfm_analyze row",
									ALLOCSET_SMALL_SIZES);
	for (int snap = 0; snap < spec->nsnapshots; snap++)
		leader_snapshot(fcinfo, st, parallel, rows_done, nworkers, snap, with_as_of,
						slot, row_cxt);
	MemoryContextDelete(row_cxt);
	ExecDropSingleTupleTableSlot(slot);
	rfm_parallel_finish(parallel);
	return RFM_ANALYSIS_DONE;
}
