/*-------------------------------------------------------------------------
 *
 * clv_summary.c
 *	  rfm_clv_summary: the sufficient statistics of the customer-lifetime-
 *	  value models, per customer, in one scan.
 *
 * A purchase is a distinct calendar day of the customer (the date of a
 * date column, the wall-clock date of a timestamp, the date in tz of a
 * timestamptz): events of one day are one purchase, their amounts summed,
 * as in the CDNOW papers.  Up to calibration_end (inclusive), x counts the
 * days after the first, t_x is the time from the first day to the last,
 * t_cal from the first day to calibration_end, in the unit asked for, and
 * mean_spend is the mean amount of those repeat days.  After it, up to
 * holdout_end, x_holdout and spend_holdout count the holdout's days and
 * amounts.
 *
 * A customer's days and sums are purchases.c's.  The source is read one
 * of two ways, by scan.c's one rule (rfm_read_by_states): by rows into
 * scan.c's table of customers, about 200 bytes per customer (hash entry,
 * key, payload) plus 4 to 8 bytes per distinct purchase day, all counted
 * against rfm_segment.max_memory; or by states, one GROUP BY customer with
 * rfm_clv_state_agg, which PostgreSQL runs in parallel, spills to disk
 * under work_mem and pushes to where the rows are (postgres_fdw, Citus),
 * and of which this function holds one customer at a time.  Without
 * calibration_end, t_cal runs to the latest purchase of all, known only
 * at the end: the states are then read through a window that passes it
 * along (materialized by PostgreSQL, spilling too).
 *
 * By rows, a table of this cluster is read in parallel workers where
 * PostgreSQL would give a sequential scan some (parallel.c): every process
 * reads all the rows and keeps the customers whose key hashes into its
 * part, the leader tells the workers the latest purchase day of all (when
 * it is the end of the calibration), and each worker sends its customers'
 * rows, which the leader stores beside its own.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "exchange.h"
#include "guc.h"
#include "parallel.h"
#include "purchases.h"
#include "scan.h"
#include "timeutil.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

/* argument positions */
#define ARG_SOURCE		0
#define ARG_CUSTOMER	1
#define ARG_TIME		2
#define ARG_AMOUNT		3
#define ARG_CAL_END		4
#define ARG_HOLD_END	5
#define ARG_UNIT		6
#define ARG_TZ			7

/* the scanned columns */
#define COL_KEY			0
#define COL_TIME		1
#define COL_AMOUNT		2

/* the output columns */
#define OUT_KEY			0
#define OUT_X			1
#define OUT_T_X			2
#define OUT_T_CAL		3
#define OUT_MEAN_SPEND	4
#define OUT_X_HOLDOUT	5
#define OUT_SPEND_HOLD	6
#define NOUT			7

/* days grow in many small steps: memory is checked this often */
#define MEMORY_CHECK_ROWS	65536

/* a parallel leader takes the workers' rows every so many rows of its own */
#define DRAIN_EVERY			1024

/*
 * What a customer costs in the hash table, for the choice of the states
 * way: hash entry, key and payload, and a few purchase days
 */
#define BYTES_PER_CUSTOMER	240

/* the units of time, in days: a month and a year are their mean lengths */
#define UNIT_WEEK_DAYS		7.0
#define UNIT_MONTH_DAYS		30.4375
#define UNIT_YEAR_DAYS		365.25

#define AMOUNT_HINT "Pass NULL for an event without an amount."
#define MEMORY_HINT "Set rfm_segment.scan = states, which reads one state per customer and spills to disk under work_mem"

typedef struct SummaryState
{
	RfmCustomers *customers;
	Oid			time_type;
	pg_tz	   *tz;
	bool		has_amount;
	RfmClvBounds bounds;		/* Julian day numbers, as purchases.c's */
	bool		any;
	int32		latest;			/* the latest day seen */
	bool		overflow;		/* the rows passed max_memory (auto) */
	uint64		rows;
	/* the output: where, and in what unit */
	ReturnSetInfo *rsinfo;
	RfmRowSender *sender;		/* in a parallel worker: rows go there */
	double		unit;
	MemoryContext row_cxt;
} SummaryState;

/* one scanned row: (key, time, amount); false: stop, past max_memory */
static bool
summary_row(TupleTableSlot *slot, void *arg)
{
	SummaryState *st = (SummaryState *) arg;
	RfmTerm		amount = {0};
	RfmPurchases *p;
	int32		day;
	bool		found;

	if (++st->rows % MEMORY_CHECK_ROWS == 0 && !rfm_customers_check_memory(st->customers))
	{
		st->overflow = true;
		return false;
	}
	if (slot->tts_isnull[COL_TIME])
		return true;			/* no time: no purchase, as in rfm_metrics */
	day = rfm_purchase_day(slot->tts_values[COL_TIME], st->time_type, st->tz);
	if (st->bounds.has_hold_end && day > st->bounds.hold_end)
		return true;
	if (st->has_amount && !slot->tts_isnull[COL_AMOUNT])
		rfm_term_from_numeric((struct varlena *) DatumGetPointer(slot->tts_values[COL_AMOUNT]),
							  "amount", AMOUNT_HINT, &amount);

	p = rfm_customers_lookup(st->customers, slot->tts_values[COL_KEY],
							 slot->tts_isnull[COL_KEY], &found);
	if (p == NULL)
	{
		/* a new customer past the soft limit: read by states instead */
		st->overflow = true;
		return false;
	}
	rfm_purchases_add(p, &st->bounds, day, &amount, rfm_customers_context(st->customers));
	if (!st->any || day > st->latest)
		st->latest = day;
	st->any = true;
	return true;
}

static double
unit_days(text *unit)
{
	char	   *name = text_to_cstring(unit);

	if (strcmp(name, "day") == 0)
		return 1;
	if (strcmp(name, "week") == 0)
		return UNIT_WEEK_DAYS;
	if (strcmp(name, "month") == 0)
		return UNIT_MONTH_DAYS;
	if (strcmp(name, "year") == 0)
		return UNIT_YEAR_DAYS;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unit \"%s\" not recognized", name),
			 errhint("Use 'day', 'week' (7 days), 'month' (30.4375 days) or 'year' (365.25 days).")));
	return 0;					/* keep the compiler quiet */
}

/*
 * One customer's output row, against cal_end (a Julian day); none for a
 * customer whose first purchase comes after it.
 */
static void
put_customer(SummaryState *st, RfmPurchases *p, int32 cal_end, Datum key, bool key_null)
{
	RfmPurchaseSummary s;
	Datum		values[NOUT];
	bool		nulls[NOUT] = {0};

	if (!rfm_purchases_summarize(p, cal_end, st->has_amount, &s))
		return;
	values[OUT_KEY] = key;
	nulls[OUT_KEY] = key_null;
	values[OUT_X] = Int32GetDatum(s.x);
	values[OUT_T_X] = Float8GetDatum((s.last_day - s.first_day) / st->unit);
	values[OUT_T_CAL] = Float8GetDatum((cal_end - s.first_day) / st->unit);
	values[OUT_MEAN_SPEND] = s.mean_spend;
	nulls[OUT_MEAN_SPEND] = !s.has_mean_spend;
	values[OUT_X_HOLDOUT] = Int32GetDatum(s.x_holdout);
	values[OUT_SPEND_HOLD] = s.spend_holdout;
	nulls[OUT_SPEND_HOLD] = !s.has_spend_holdout;
	if (st->sender)
		rfm_parallel_send_row(st->sender, values, nulls);
	else
		tuplestore_putvalues(st->rsinfo->setResult, st->rsinfo->setDesc, values, nulls);
}

/*
 * The rows read into the hash table, summarized customer by customer.  In
 * a parallel leader (parallel not NULL) the workers' rows waiting are
 * taken every so often, so that they need not wait for the leader's end.
 */
static void
put_customers(SummaryState *st, RfmParallel *parallel, bool *rows_done, int nworkers,
			  TupleTableSlot *slot)
{
	uint64		ncustomers = rfm_customers_count(st->customers);
	int32		cal_end = st->bounds.has_cal_end ? st->bounds.cal_end : st->latest;

	if (!st->any)
		return;
	for (uint64 i = 0; i < ncustomers; i++)
	{
		MemoryContext old;
		Datum		key;
		bool		key_null;

		if (parallel && i % DRAIN_EVERY == DRAIN_EVERY - 1)
			for (int w = 0; w < nworkers; w++)
				if (!rows_done[w])
					rows_done[w] = rfm_parallel_take_rows(parallel, w, true,
														  st->rsinfo->setResult, slot);
		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(st->row_cxt);
		key = rfm_customers_key_text(st->customers, i, &key_null);
		put_customer(st, rfm_customers_payload(st->customers, i), cal_end, key, key_null);
		MemoryContextSwitchTo(old);
		MemoryContextReset(st->row_cxt);
	}
}

/*
 * One row of the states query: (key as text, rfm_clv_state [, the latest
 * purchase day of all]).
 */
static void
summary_state_row(TupleTableSlot *slot, void *arg)
{
	SummaryState *st = (SummaryState *) arg;
	MemoryContext old = MemoryContextSwitchTo(st->row_cxt);
	RfmPurchases *p = palloc0(rfm_purchases_size());

	CHECK_FOR_INTERRUPTS();
	if (rfm_purchases_from_state(p, slot->tts_values[1], st->row_cxt))
		put_customer(st, p, st->bounds.has_cal_end ? st->bounds.cal_end :
					 DatumGetDateADT(slot->tts_values[2]) + POSTGRES_EPOCH_JDATE,
					 slot->tts_values[0], slot->tts_isnull[0]);
	MemoryContextSwitchTo(old);
	MemoryContextReset(st->row_cxt);
}

/*
 * Read the source by states: one rfm_clv_state per customer, with the
 * spec (calibration_end, holdout_end, tz) as the query's parameter, and
 * without calibration_end the latest purchase day of all beside each.
 */
static void
scan_by_states(FunctionCallInfo fcinfo, SummaryState *st, Oid relid, const char *key_column,
			   const char *time_column, const char *amount_column)
{
	Oid			namespace = get_func_namespace(fcinfo->flinfo->fn_oid);
	const char *schema = quote_identifier(get_namespace_name(namespace));
	Datum		fields[3];
	bool		field_nulls[3];
	Oid			type;
	Datum		spec;
	char	   *query;

	fields[0] = PG_GETARG_DATUM(ARG_CAL_END);
	field_nulls[0] = PG_ARGISNULL(ARG_CAL_END);
	fields[1] = PG_GETARG_DATUM(ARG_HOLD_END);
	field_nulls[1] = PG_ARGISNULL(ARG_HOLD_END);
	fields[2] = PG_GETARG_DATUM(ARG_TZ);
	field_nulls[2] = false;
	spec = rfm_schema_row(namespace, "rfm_clv_spec", fields, field_nulls, &type);
	query = psprintf("SELECT " RFM_KEY_TEXT("g.k") ", g.st%s FROM "
					 "(SELECT %s AS k, %s.rfm_clv_state_agg(%s, %s, $1) AS st FROM %s GROUP BY %s) g "
					 "WHERE g.st IS NOT NULL",
					 st->bounds.has_cal_end ? "" :
					 ", pg_catalog.max((g.st).days[pg_catalog.cardinality((g.st).days)]) OVER ()",
					 quote_identifier(key_column), schema, quote_identifier(time_column),
					 amount_column ? psprintf("%s::pg_catalog.numeric", quote_identifier(amount_column)) :
					 "NULL::pg_catalog.numeric",
					 rfm_relation_name(relid), quote_identifier(key_column));
	ereport(DEBUG1,
			(errmsg_internal("rfm_segment states query: %s", query)));
	(void) rfm_scan_states(relid, query, 1, &type, &spec, summary_state_row, st);
}

/*
 * Parallel workers.  A worker's spec: this header, then the query, the
 * customer column and the zone's name, each ending in a zero byte.  After
 * its scan a worker sends Scanned; the leader replies with the end of the
 * calibration (Go), or stops it when any process passed
 * rfm_segment.max_memory (the call then reads by states); the worker then
 * sends its rows (rfm_parallel_send_row).  Split by blocks, the customers
 * two processes met move between Scanned and Go (exchange.c).
 */
typedef struct WorkerSpec
{
	Oid			relid;
	Oid			function_oid;	/* its result type is the rows' */
	Oid			time_type;
	bool		has_amount;
	RfmClvBounds bounds;
	double		unit;
	BlockNumber nblocks;		/* read by blocks: the table's; else 0 */
} WorkerSpec;

typedef enum MessageKind
{
	MSG_SCANNED,				/* worker: its scan is done */
	MSG_GO,						/* leader: the end of the calibration */
} MessageKind;

typedef struct Scanned
{
	MessageKind kind;
	bool		overflow;
	bool		any;
	int32		latest;
} Scanned;

typedef struct Go
{
	MessageKind kind;
	int32		cal_end;
} Go;

PGDLLEXPORT void rfm_clv_summary_worker(dsm_segment *seg, shm_toc *toc);

/*
 * Split by blocks, a customer met by two processes goes to the process of
 * its part (exchange.c) with its purchases, which are merged there.
 */
static void
write_purchases(void *arg, const void *payload, StringInfo buf)
{
	rfm_purchases_write((const RfmPurchases *) payload, buf);
}

static bool
merge_purchases(void *arg, void *payload, bool found, const char *data)
{
	SummaryState *st = (SummaryState *) arg;
	RfmPurchases *theirs = palloc(rfm_purchases_size());

	rfm_purchases_read(theirs, data);
	rfm_purchases_merge((RfmPurchases *) payload, theirs, &st->bounds,
						rfm_customers_context(st->customers));
	pfree(theirs);
	return true;
}

static RfmExchangePayload
purchases_payload(SummaryState *st)
{
	RfmExchangePayload payload = {write_purchases, merge_purchases, NULL, st};

	return payload;
}

void
rfm_clv_summary_worker(dsm_segment *seg, shm_toc *toc)
{
	RfmParallelWorker w;
	WorkerSpec	spec;
	SummaryState *st = palloc0(sizeof(SummaryState));
	const char *p;
	const char *query;
	const char *key_column;
	Scanned		scanned;
	Go			go;
	Size		nbytes;
	void	   *data;
	Oid			type;
	TupleDesc	desc;

	p = rfm_parallel_worker_attach(seg, toc, &w, &spec, sizeof(spec));
	query = rfm_parallel_get_string(&p);
	key_column = rfm_parallel_get_string(&p);
	st->tz = rfm_load_tz(cstring_to_text(rfm_parallel_get_string(&p)));
	st->time_type = spec.time_type;
	st->has_amount = spec.has_amount;
	st->bounds = spec.bounds;
	st->unit = spec.unit;
	st->customers = rfm_customers_create(spec.relid, key_column, rfm_purchases_size(),
										 "rfm_clv_summary", MEMORY_HINT);
	if (rfm_scan_mode == RFM_SCAN_AUTO)
		rfm_customers_set_soft_limit(st->customers);
	rfm_customers_set_share(st->customers, w.nparts, UINT64CONST(1) << w.part);
	rfm_parallel_scan_part(query, st->customers, COL_KEY, spec.nblocks, summary_row, st);

	scanned.kind = MSG_SCANNED;
	scanned.overflow = st->overflow;
	scanned.any = st->any;
	scanned.latest = st->latest;
	rfm_parallel_send(w.queue, &scanned, sizeof(scanned));
	if (st->overflow)
		return;					/* the leader reads by states */
	if (spec.nblocks > 0)
	{
		RfmExchangePayload payload = purchases_payload(st);

		if (!rfm_exchange_worker(&w, st->customers, &payload))
			return;
	}
	if (shm_mq_receive(w.reply, &nbytes, &data, false) != SHM_MQ_SUCCESS ||
		nbytes != sizeof(go))
		return;					/* the leader has gone, or stopped us */
	memcpy(&go, data, sizeof(go));
	if (go.kind != MSG_GO)
		return;

	if (get_func_result_type(spec.function_oid, &type, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "rfm_clv_summary does not return rows");
	st->row_cxt = AllocSetContextCreate(CurrentMemoryContext, "rfm_clv_summary row",
										ALLOCSET_SMALL_SIZES);
	st->sender = rfm_parallel_rows_begin(w.queue, desc);
	/* the leader's latest day of all: the end of the calibration without one */
	st->latest = go.cal_end;
	put_customers(st, NULL, NULL, 0, NULL);
	rfm_parallel_rows_end(st->sender);
}

/*
 * The rows way in parallel workers, where the source allows them: false
 * when none was launched (nothing read yet).  Otherwise the rows of every
 * process are stored, or st->overflow is set (a process passed
 * rfm_segment.max_memory under the soft limit; the workers are stopped).
 */
static bool
scan_in_parallel(FunctionCallInfo fcinfo, SummaryState *st, Oid relid,
				 const char *key_column, const char *query)
{
	int			planned = rfm_parallel_workers(relid);
	WorkerSpec	spec;
	StringInfoData buf;
	RfmParallel *parallel;
	int			launched;
	uint64		mine;
	bool	   *rows_done;
	TupleTableSlot *slot;
	Go			go;

	if (planned == 0)
		return false;
	memset(&spec, 0, sizeof(spec));
	spec.relid = relid;
	spec.function_oid = fcinfo->flinfo->fn_oid;
	spec.time_type = st->time_type;
	spec.has_amount = st->has_amount;
	spec.bounds = st->bounds;
	spec.unit = st->unit;
	spec.nblocks = rfm_parallel_blocks(relid, key_column, planned + 1);
	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, (const char *) &spec, sizeof(spec));
	rfm_parallel_put_string(&buf, query);
	rfm_parallel_put_string(&buf, key_column);
	rfm_parallel_put_string(&buf, text_to_cstring(PG_GETARG_TEXT_PP(ARG_TZ)));
	parallel = rfm_parallel_begin("rfm_clv_summary", "rfm_clv_summary_worker", planned,
								  buf.data, buf.len);
	if (parallel == NULL)
		return false;
	launched = rfm_parallel_launched(parallel);
	if (spec.nblocks > 0)
		ereport(DEBUG1,
				(errmsg_internal("rfm_clv_summary: each process reads its own blocks")));

	mine = rfm_parallel_leader_parts(parallel);
	rfm_customers_set_share(st->customers, rfm_parallel_parts(parallel), mine);
	rfm_parallel_scan_part(query, st->customers, COL_KEY, spec.nblocks, summary_row, st);
	for (int i = 0; i < launched && !st->overflow; i++)
	{
		Scanned		scanned;

		rfm_parallel_receive_struct(parallel, i, &scanned, sizeof(scanned));
		if (scanned.kind != MSG_SCANNED)
			elog(ERROR, "unexpected message %d from a parallel worker", (int) scanned.kind);
		st->overflow |= scanned.overflow;
		if (scanned.any && (!st->any || scanned.latest > st->latest))
			st->latest = scanned.latest;
		st->any |= scanned.any;
	}
	if (spec.nblocks > 0 && !st->overflow)
	{
		RfmExchangePayload payload = purchases_payload(st);

		st->overflow = !rfm_exchange_leader(parallel, st->customers, mine, &payload);
	}
	if (st->overflow)
	{
		rfm_parallel_cancel(parallel);
		return true;
	}

	go.kind = MSG_GO;
	go.cal_end = st->bounds.has_cal_end ? st->bounds.cal_end : st->latest;
	rfm_parallel_reply_all(parallel, &go, sizeof(go));

	slot = MakeSingleTupleTableSlot(st->rsinfo->setDesc, &TTSOpsMinimalTuple);
	rows_done = palloc0(launched * sizeof(bool));
	put_customers(st, parallel, rows_done, launched, slot);
	for (int w = 0; w < launched; w++)
		if (!rows_done[w])
			rows_done[w] = rfm_parallel_take_rows(parallel, w, false,
												  st->rsinfo->setResult, slot);
	ExecDropSingleTupleTableSlot(slot);
	rfm_parallel_finish(parallel);
	return true;
}

/*
 * rfm_clv_state_summary(state, calibration_end, unit): one customer's
 * (x, t_x, t_cal, mean_spend) from an rfm_clv_state, as rfm_clv_summary
 * gives them with that calibration_end: NULL (a row of NULLs) without a
 * state or when the first purchase comes after calibration_end.  What an
 * incremental model's lifetime value reads from its stored states.
 */
PG_FUNCTION_INFO_V1(rfm_clv_state_summary);
Datum
rfm_clv_state_summary(PG_FUNCTION_ARGS)
{
	RfmPurchases *p = palloc0(rfm_purchases_size());
	RfmPurchaseSummary s;
	TupleDesc	desc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	RfmClvBounds bounds;
	double		unit;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", PG_ARGISNULL(1) ? "calibration_end" : "unit"),
				 errhint("Pass the day the summary is computed at, and 'day', 'week', 'month' or 'year'.")));
	rfm_clv_bounds_set(&bounds, true, PG_GETARG_DATEADT(1), false, 0);
	unit = unit_days(PG_GETARG_TEXT_PP(2));
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "rfm_clv_state_summary must return a record");
	if (PG_ARGISNULL(0) ||
		!rfm_purchases_from_state(p, PG_GETARG_DATUM(0), CurrentMemoryContext) ||
		!rfm_purchases_summarize(p, bounds.cal_end, true, &s))
		PG_RETURN_NULL();
	values[0] = Int32GetDatum(s.x);
	values[1] = Float8GetDatum((s.last_day - s.first_day) / unit);
	values[2] = Float8GetDatum((bounds.cal_end - s.first_day) / unit);
	values[3] = s.mean_spend;
	nulls[3] = !s.has_mean_spend;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

/*
 * rfm_clv_summary(source, customer_column, time_column, amount_column,
 * calibration_end, holdout_end, unit, tz): a row per customer whose first
 * purchase is on or before calibration_end: (customer_key, x, t_x, t_cal,
 * mean_spend, x_holdout, spend_holdout).  calibration_end NULL: the latest
 * purchase day (no holdout); holdout_end NULL: the holdout runs to the
 * latest purchase.  Events with a NULL time are skipped; NULL amounts
 * count the purchase without spend: mean_spend is NULL without a repeat
 * day with an amount, spend_holdout is 0 without a holdout purchase and
 * NULL when no holdout day has an amount or there is no amount_column.
 */
PG_FUNCTION_INFO_V1(rfm_clv_summary);
Datum
rfm_clv_summary(PG_FUNCTION_ARGS)
{
	SummaryState *st = palloc0(sizeof(SummaryState));
	Oid			relid;
	const char *key_column;
	const char *time_column;
	const char *amount_column;
	bool		by_states;

	relid = rfm_source_arg(fcinfo, ARG_SOURCE);
	key_column = rfm_column_arg(fcinfo, ARG_CUSTOMER, "customer_column", true);
	time_column = rfm_column_arg(fcinfo, ARG_TIME, "time_column", true);
	amount_column = rfm_column_arg(fcinfo, ARG_AMOUNT, "amount_column", false);
	if (PG_ARGISNULL(ARG_UNIT) || PG_ARGISNULL(ARG_TZ))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", PG_ARGISNULL(ARG_UNIT) ? "unit" : "tz"),
				 errhint("Leave it out for its default ('week', 'UTC').")));
	st->unit = unit_days(PG_GETARG_TEXT_PP(ARG_UNIT));
	st->tz = rfm_load_tz(PG_GETARG_TEXT_PP(ARG_TZ));
	rfm_clv_bounds_set(&st->bounds,
					   !PG_ARGISNULL(ARG_CAL_END), PG_ARGISNULL(ARG_CAL_END) ? 0 : PG_GETARG_DATEADT(ARG_CAL_END),
					   !PG_ARGISNULL(ARG_HOLD_END), PG_ARGISNULL(ARG_HOLD_END) ? 0 : PG_GETARG_DATEADT(ARG_HOLD_END));

	st->customers = rfm_customers_create(relid, key_column, rfm_purchases_size(),
										 "rfm_clv_summary", MEMORY_HINT);
	st->time_type = rfm_time_column_type(relid, time_column, "time_column");
	rfm_check_number_column(relid, amount_column, "amount_column");
	st->has_amount = amount_column != NULL;

	InitMaterializedSRF(fcinfo, 0);
	st->rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	st->row_cxt = AllocSetContextCreate(CurrentMemoryContext, "rfm_clv_summary row",
										ALLOCSET_SMALL_SIZES);
	by_states = rfm_read_by_states(relid, key_column, BYTES_PER_CUSTOMER);
	if (!by_states)
	{
		char	   *query = psprintf("SELECT %s, %s, %s FROM %s", quote_identifier(key_column),
									 quote_identifier(time_column),
									 amount_column ? psprintf("%s::pg_catalog.numeric",
															  quote_identifier(amount_column)) :
									 "NULL::pg_catalog.numeric",
									 rfm_relation_name(relid));
		bool		parallel;

		if (rfm_scan_mode == RFM_SCAN_AUTO)
			rfm_customers_set_soft_limit(st->customers);
		parallel = scan_in_parallel(fcinfo, st, relid, key_column, query);
		if (!parallel)
			(void) rfm_scan_until(query, summary_row, st);
		if (st->overflow)
		{
			/* what the partial scan saw is seen again by the states */
			ereport(DEBUG1,
					(errmsg_internal("rfm_clv_summary: the customers pass rfm_segment.max_memory; reading the states instead")));
			by_states = true;
		}
		else if (!parallel)
			put_customers(st, NULL, NULL, 0, NULL);
	}
	rfm_customers_free(st->customers);
	if (by_states)
		scan_by_states(fcinfo, st, relid, key_column, time_column, amount_column);
	MemoryContextDelete(st->row_cxt);
	return (Datum) 0;
}
