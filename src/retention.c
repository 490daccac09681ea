/*-------------------------------------------------------------------------
 *
 * retention.c
 *	  The cohort retention triangle, rfm_retention, in one scan.
 *
 * Two ways to read the source, chosen as rfm_analyze chooses (the setting
 * rfm_segment.scan):
 *
 * rows: the scan and the customer table are scan.c's; each customer's
 * payload here is the sorted set of periods in which they had an event.
 * The first one is the cohort; the rest say in which later periods the
 * customer was active.  Memory is about 180 bytes per customer (hash
 * entry, record, list of periods) plus 4 bytes per active period past the
 * fourth, up to rfm_segment.max_memory.
 *
 * states: PostgreSQL groups the rows per customer into the sorted list of
 * their periods (rfm_active_periods, periods.c: a GROUP BY customer that
 * partitions, parallel workers, postgres_fdw servers and Citus shards run
 * where the rows are), and counts customers per cohort, the first of
 * their periods, and period; only those counts come here.  The GROUP BY
 * spills to disk under work_mem, so there is no memory wall: what is held
 * here is the triangle, 8 bytes per cell, and while reading the non-empty
 * cells, 16 bytes each: what cannot spill, bounded by
 * rfm_segment.max_memory (and by MAX_TRIANGLE_CELLS).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "cohort.h"
#include "exchange.h"
#include "guc.h"
#include "parallel.h"
#include "scan.h"
#include "timeutil.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/lsyscache.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

/* argument positions */
#define ARG_SOURCE		0
#define ARG_CUSTOMER	1
#define ARG_TIME		2
#define ARG_GRAIN		3
#define ARG_TZ			4
#define ARG_AS_OF		5

/* the scanned columns */
#define COL_KEY			0
#define COL_TIME		1

/* the columns of the states query: cohort, period, customers, times */
#define PAIR_COHORT		0
#define PAIR_PERIOD		1
#define PAIR_CUSTOMERS	2
#define PAIR_EARLIEST	3
#define PAIR_LATEST		4

/* the states query's parameters: as_of, rfm_period_spec(grain, tz) */
#define PAIR_NARGS		2

/* a customer's memory in the rows way, to choose the way (see above) */
#define BYTES_PER_CUSTOMER		180

/* the states way's cells start with room for this many */
#define INITIAL_CELLS			64

/* a customer's list of periods starts with room for this many */
#define INITIAL_PERIODS			4

/* customers' periods grow in many small steps: memory is checked this often */
#define MEMORY_CHECK_ROWS		65536

/*
 * Cohorts x offsets is a square: past this many cells (about 7,000
 * periods, a daily grain over 20 years) the triangle is refused.
 */
#define MAX_TRIANGLE_CELLS		(50 * 1000 * 1000)

#define MEMORY_HINT "Use a coarser grain, or a source with fewer customers or a shorter history"

/* a customer's sorted, distinct periods with an event */
typedef struct Activity
{
	int32		nperiods;
	int32		maxperiods;
	int32	   *periods;
} Activity;

/* customers of a cohort active in a period, from the states query */
typedef struct Cell
{
	int32		cohort;
	int32		period;
	int64		customers;
} Cell;

typedef struct RetentionState
{
	RfmCustomers *customers;
	MemoryContext cells_cxt;	/* outlives the states query */
	Cell	   *cells;			/* the states way's counts */
	int64		ncells;
	int64		maxcells;
	int32		first_cohort;	/* the earliest cohort (either way) */
	Oid			time_type;
	RfmGrain	grain;
	pg_tz	   *tz;
	bool		has_as_of;
	int64		as_of;			/* in the column's own domain */
	bool		any;			/* an event was counted */
	int32		latest_period;	/* the latest period with an event */
	bool		any_time;		/* the source's time span in usecs, for */
	int64		earliest;		/* the as_of check */
	int64		latest;
	uint64		rows;
	bool		overflow;		/* the customers passed max_memory */
} RetentionState;

/* add a period to the sorted set of a customer */
static void
add_period(RetentionState *st, Activity *a, int32 period)
{
	int			lo = 0,
				hi = a->nperiods;

	if (a->periods == NULL)
	{
		a->maxperiods = INITIAL_PERIODS;
		a->periods = MemoryContextAlloc(rfm_customers_context(st->customers),
										a->maxperiods * sizeof(int32));
	}
	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (a->periods[mid] < period)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < a->nperiods && a->periods[lo] == period)
		return;
	if (a->nperiods == a->maxperiods)
	{
		a->maxperiods *= 2;
		a->periods = repalloc(a->periods, a->maxperiods * sizeof(int32));
	}
	memmove(a->periods + lo + 1, a->periods + lo, (a->nperiods - lo) * sizeof(int32));
	a->periods[lo] = period;
	a->nperiods++;
}

/* the time of a row in microseconds, whatever the column's type */
static void
note_time(RetentionState *st, Datum value)
{
	int64		t;

	if (st->time_type == DATEOID)
	{
		if (DATE_NOT_FINITE(DatumGetDateADT(value)))
			return;				/* rfm_period_of_date reports it */
		t = (int64) DatumGetDateADT(value) * USECS_PER_DAY;
	}
	else
	{
		t = DatumGetTimestamp(value);
		if (TIMESTAMP_NOT_FINITE(t))
			return;
	}
	if (!st->any_time || t < st->earliest)
		st->earliest = t;
	if (!st->any_time || t > st->latest)
		st->latest = t;
	st->any_time = true;
}

/*
 * One scanned row: (key, time).  False, stopping the scan, when the
 * customers pass rfm_segment.max_memory under the soft limit (rfm_retention
 * then reads by states).
 */
static bool
retention_row(TupleTableSlot *slot, void *arg)
{
	RetentionState *st = (RetentionState *) arg;
	Datum		value;
	int32		period;
	Activity   *a;
	bool		found;

	if (++st->rows % MEMORY_CHECK_ROWS == 0 && !rfm_customers_check_memory(st->customers))
	{
		st->overflow = true;
		return false;
	}
	if (slot->tts_isnull[COL_TIME])
		return true;
	value = slot->tts_values[COL_TIME];
	note_time(st, value);
	switch (st->time_type)
	{
		case DATEOID:
			if (st->has_as_of && (int64) DatumGetDateADT(value) > st->as_of)
				return true;
			period = rfm_period_of_date(DatumGetDateADT(value), st->grain, "event_time");
			break;
		case TIMESTAMPOID:
			/* a wall time: its period needs no time zone */
			if (st->has_as_of && DatumGetTimestamp(value) > st->as_of)
				return true;
			period = rfm_period_of_timestamp(DatumGetTimestamp(value), NULL,
											 st->grain, "event_time");
			break;
		default:
			if (st->has_as_of && DatumGetTimestampTz(value) > st->as_of)
				return true;
			period = rfm_period_of_timestamp(DatumGetTimestampTz(value), st->tz,
											 st->grain, "event_time");
			break;
	}

	a = rfm_customers_lookup(st->customers, slot->tts_values[COL_KEY],
							 slot->tts_isnull[COL_KEY], &found);
	if (a == NULL)
	{
		st->overflow = true;
		return false;
	}
	add_period(st, a, period);
	if (!st->any || period > st->latest_period)
		st->latest_period = period;
	/* the earliest period of all is the earliest customer's cohort */
	if (!st->any || period < st->first_cohort)
		st->first_cohort = period;
	st->any = true;
	return true;
}

/* the refusal of a triangle over too many periods */
static void check_triangle(int64 ncohorts);

/*
 * Count customers of a cohort active in a period, from the states query or
 * a parallel worker, in st->cells_cxt.
 */
static void
add_cell(RetentionState *st, int32 cohort, int32 period, int64 customers)
{
	Cell	   *cell;

	if (st->ncells == st->maxcells)
	{
		/*
		 * More cells than a triangle may hold: refuse before holding them
		 * (cells are at most the square of the periods they span).
		 */
		if (st->ncells > MAX_TRIANGLE_CELLS)
			check_triangle((int64) st->latest_period - st->first_cohort + 1);
		st->maxcells = st->maxcells == 0 ? INITIAL_CELLS : st->maxcells * 2;
		rfm_check_memory(st->maxcells * sizeof(Cell), "rfm_retention", MEMORY_HINT);
		st->cells = st->cells == NULL ?
			MemoryContextAllocHuge(st->cells_cxt, st->maxcells * sizeof(Cell)) :
			repalloc_huge(st->cells, st->maxcells * sizeof(Cell));
	}
	cell = &st->cells[st->ncells++];
	cell->cohort = cohort;
	cell->period = period;
	cell->customers = customers;
	if (!st->any || period > st->latest_period)
		st->latest_period = period;
	if (!st->any || cohort < st->first_cohort)
		st->first_cohort = cohort;
	st->any = true;
}

static void
check_triangle(int64 ncohorts)
{
	if (ncohorts * ncohorts > MAX_TRIANGLE_CELLS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("retention over %lld periods is too large a triangle",
						(long long) ncohorts),
				 errhint("Use a coarser grain, or a later first event.")));
}

/*
 * One row of the states query: (cohort, period, customers, earliest,
 * latest), the periods as numbers.  The period is NULL for the customers
 * whose events all come after as_of, who count only for the as_of check.
 */
static void
pairs_row(TupleTableSlot *slot, void *arg)
{
	RetentionState *st = (RetentionState *) arg;

	CHECK_FOR_INTERRUPTS();
	if (!slot->tts_isnull[PAIR_EARLIEST])
		note_time(st, slot->tts_values[PAIR_EARLIEST]);
	if (!slot->tts_isnull[PAIR_LATEST])
		note_time(st, slot->tts_values[PAIR_LATEST]);
	if (slot->tts_isnull[PAIR_PERIOD])
		return;
	add_cell(st, DatumGetInt32(slot->tts_values[PAIR_COHORT]),
			 DatumGetInt32(slot->tts_values[PAIR_PERIOD]),
			 DatumGetInt64(slot->tts_values[PAIR_CUSTOMERS]));
}

/*
 * The states query: each customer's periods with an event up to as_of
 * ($1), rfm_active_periods in the grain and zone of $2, one GROUP BY
 * customer; with the customer's finite earliest and latest event times,
 * for the as_of check.  Then the customers per cohort (the first period)
 * and period.  A customer whose events all come after as_of has no
 * periods: one row with NULL cohort and period keeps their times.
 */
static char *
build_pairs_query(const RetentionState *st, Oid namespace, Oid relid,
				  const char *key_column, const char *time_column)
{
	const char *schema = quote_identifier(get_namespace_name(namespace));
	const char *t = quote_identifier(time_column);
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf,
					 "SELECT c.ps[1], p.p, pg_catalog.count(*), pg_catalog.min(c.lo), pg_catalog.max(c.hi) "
					 "FROM (SELECT %s.rfm_active_periods(%s, $2)%s AS ps, "
					 "pg_catalog.min(%s) FILTER (WHERE pg_catalog.isfinite(%s)) AS lo, "
					 "pg_catalog.max(%s) FILTER (WHERE pg_catalog.isfinite(%s)) AS hi "
					 "FROM %s WHERE %s IS NOT NULL GROUP BY %s) c "
					 "LEFT JOIN LATERAL pg_catalog.unnest(c.ps) p(p) ON true "
					 "GROUP BY 1, 2",
					 schema, t, st->has_as_of ? psprintf(" FILTER (WHERE %s <= $1)", t) : "",
					 t, t, t, t, rfm_relation_name(relid), t, quote_identifier(key_column));
	return buf.data;
}

/*
 * The states query's grain and zone: an rfm_period_spec, the composite type
 * of the function's schema.
 */
static Datum
period_spec(Oid namespace, text *grain, text *tz, Oid *typid)
{
	Datum		values[2] = {PointerGetDatum(grain), PointerGetDatum(tz)};
	bool		nulls[2] = {false, false};

	return rfm_schema_row(namespace, "rfm_period_spec", values, nulls, typid);
}

/*
 * as_of in the column's own domain (its wall time or date in tz), and the
 * period it falls in.
 */
static int32
read_as_of(RetentionState *st, TimestampTz as_of)
{
	struct pg_tm tm;
	fsec_t		fsec;
	Timestamp	wall;

	rfm_timestamp_tm(as_of, st->tz, "as_of", &tm, &fsec);
	st->has_as_of = true;
	if (st->time_type == DATEOID)
		st->as_of = date2j(tm.tm_year, tm.tm_mon, tm.tm_mday) - POSTGRES_EPOCH_JDATE;
	else if (st->time_type == TIMESTAMPOID)
	{
		if (tm2timestamp(&tm, fsec, NULL, &wall) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("as_of is out of range"),
					 errhint("Pass a real time, not infinity or -infinity.")));
		st->as_of = wall;
	}
	else
		st->as_of = as_of;
	return rfm_period_of_day(tm.tm_year, tm.tm_mon, tm.tm_mday, st->grain);
}

/* run the states query; its rows go to pairs_row */
static void
scan_by_states(FunctionCallInfo fcinfo, RetentionState *st, Oid relid,
			   const char *key_column, const char *time_column)
{
	Oid			namespace = get_func_namespace(fcinfo->flinfo->fn_oid);
	Oid			types[PAIR_NARGS];
	Datum		values[PAIR_NARGS];
	char	   *query;

	/* as_of in the column's domain; unused without one */
	switch (st->time_type)
	{
		case DATEOID:
			types[0] = DATEOID;
			values[0] = DateADTGetDatum((DateADT) (st->has_as_of ? st->as_of : 0));
			break;
		case TIMESTAMPOID:
			types[0] = TIMESTAMPOID;
			values[0] = TimestampGetDatum(st->has_as_of ? st->as_of : 0);
			break;
		default:
			types[0] = TIMESTAMPTZOID;
			values[0] = TimestampTzGetDatum(st->has_as_of ? st->as_of : 0);
			break;
	}
	st->cells_cxt = CurrentMemoryContext;
	values[1] = period_spec(namespace, PG_GETARG_TEXT_PP(ARG_GRAIN), PG_GETARG_TEXT_PP(ARG_TZ),
							&types[1]);
	query = build_pairs_query(st, namespace, relid, key_column, time_column);
	ereport(DEBUG1,
			(errmsg_internal("rfm_segment states query: %s", query)));
	(void) rfm_scan_states(relid, query, PAIR_NARGS, types, values, pairs_row, st);
}

/*
 * Count a process's own customers into the triangle from cohort first, of
 * ncohorts periods: each customer's cohort is its first period.
 */
static void
count_customers(RetentionState *st, int64 *active, int32 first, int64 ncohorts)
{
	uint64		ncustomers = rfm_customers_count(st->customers);

	for (uint64 i = 0; i < ncustomers; i++)
	{
		Activity   *a = rfm_customers_payload(st->customers, i);
		int64		cohort = a->periods[0] - first;

		for (int k = 0; k < a->nperiods; k++)
			active[cohort * ncohorts + (a->periods[k] - a->periods[0])]++;
	}
}

/*
 * Parallel workers (parallel.c): each process reads every row and keeps
 * the customers whose key hashes into its part, through retention_row;
 * a worker then counts its own customers per cohort and period and sends
 * those cells, which the leader adds to the triangle as it adds the
 * states query's.  A worker's spec: this header, then the query, the
 * customer column and the zone's name, each ending in a zero byte.
 */
typedef struct RetentionSpec
{
	Oid			relid;
	Oid			time_type;
	RfmGrain	grain;
	bool		has_as_of;
	int64		as_of;
	int32		last;			/* as_of's period */
	BlockNumber nblocks;		/* read by blocks: the table's; else 0 */
} RetentionSpec;

/* what a worker sends: this, then ncells Cells, MAXALIGNed */
typedef struct WorkerCells
{
	bool		overflow;
	bool		any_time;
	int64		earliest;
	int64		latest;
	int64		ncells;
} WorkerCells;

/*
 * Split by blocks, a worker first says whether its scan passed
 * rfm_segment.max_memory; if none did, the customers two processes met go
 * to the process of their part with their periods (exchange.c), merged
 * there, before the workers count theirs.
 */
typedef struct Scanned
{
	bool		overflow;
} Scanned;

PGDLLEXPORT void rfm_retention_worker(dsm_segment *seg, shm_toc *toc);

static void
write_periods(void *arg, const void *payload, StringInfo buf)
{
	const Activity *a = (const Activity *) payload;

	appendBinaryStringInfo(buf, (const char *) &a->nperiods, sizeof(int32));
	appendBinaryStringInfo(buf, (const char *) a->periods, a->nperiods * sizeof(int32));
	rfm_parallel_pad(buf);
}

/* another process's periods of a customer into its set here */
static bool
merge_periods(void *arg, void *payload, bool found, const char *data)
{
	RetentionState *st = (RetentionState *) arg;
	Activity   *a = (Activity *) payload;
	int32		n;
	const int32 *theirs = (const int32 *) (data + sizeof(int32));

	memcpy(&n, data, sizeof(int32));
	for (int32 i = 0; i < n; i++)
		add_period(st, a, theirs[i]);
	if (n > 0)
	{
		if (!st->any || theirs[n - 1] > st->latest_period)
			st->latest_period = theirs[n - 1];
		if (!st->any || theirs[0] < st->first_cohort)
			st->first_cohort = theirs[0];
		st->any = true;
	}
	return true;
}

static RfmExchangePayload
periods_payload(RetentionState *st)
{
	RfmExchangePayload payload = {write_periods, merge_periods, NULL, st};

	return payload;
}

/* a parallel worker: its part of the customers, counted into cells */
void
rfm_retention_worker(dsm_segment *seg, shm_toc *toc)
{
	RfmParallelWorker w;
	const char *p;
	RetentionSpec spec;
	RetentionState *st = palloc0(sizeof(RetentionState));
	const char *query;
	const char *key_column;
	WorkerCells header;
	StringInfoData buf;

	p = rfm_parallel_worker_attach(seg, toc, &w, &spec, sizeof(spec));
	query = rfm_parallel_get_string(&p);
	key_column = rfm_parallel_get_string(&p);
	st->tz = rfm_load_tz(cstring_to_text(rfm_parallel_get_string(&p)));
	st->time_type = spec.time_type;
	st->grain = spec.grain;
	st->has_as_of = spec.has_as_of;
	st->as_of = spec.as_of;
	st->customers = rfm_customers_create(spec.relid, key_column, sizeof(Activity),
										 "rfm_retention", MEMORY_HINT);
	if (rfm_scan_mode == RFM_SCAN_AUTO)
		rfm_customers_set_soft_limit(st->customers);
	rfm_customers_set_share(st->customers, w.nparts, UINT64CONST(1) << w.part);
	rfm_parallel_scan_part(query, st->customers, COL_KEY, spec.nblocks, retention_row, st);
	if (spec.nblocks > 0)
	{
		Scanned		scanned = {st->overflow};
		RfmExchangePayload payload = periods_payload(st);

		rfm_parallel_send(w.queue, &scanned, sizeof(scanned));
		if (st->overflow || !rfm_exchange_worker(&w, st->customers, &payload))
			return;
	}

	memset(&header, 0, sizeof(header));
	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, (const char *) &header, MAXALIGN(sizeof(header)));
	if (!st->overflow && st->any)
	{
		int32		first = st->first_cohort;
		int32		hi = st->has_as_of ? spec.last : st->latest_period;

		if (first <= hi)
		{
			int64		ncohorts = (int64) hi - first + 1;
			Size		bytes = ncohorts * ncohorts * sizeof(int64);
			int64	   *active;

			check_triangle(ncohorts);
			if (rfm_scan_mode == RFM_SCAN_AUTO && !rfm_customers_fit_more(st->customers, bytes))
				st->overflow = true;
			else
			{
				rfm_customers_check_more(st->customers, bytes);
				active = palloc_extended(bytes, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
				count_customers(st, active, first, ncohorts);
				for (int64 c = 0; c < ncohorts; c++)
					for (int64 k = 0; k < ncohorts - c; k++)
					{
						Cell		cell;

						if (active[c * ncohorts + k] == 0)
							continue;
						cell.cohort = (int32) (first + c);
						cell.period = (int32) (first + c + k);
						cell.customers = active[c * ncohorts + k];
						appendBinaryStringInfo(&buf, (const char *) &cell, sizeof(cell));
						header.ncells++;
					}
			}
		}
	}
	header.overflow = st->overflow;
	header.any_time = st->any_time;
	header.earliest = st->earliest;
	header.latest = st->latest;
	memcpy(buf.data, &header, sizeof(header));
	if (st->overflow)
		buf.len = MAXALIGN(sizeof(header));
	rfm_parallel_send(w.queue, buf.data, buf.len);
}

/*
 * The rows way in parallel workers, where the source allows them: false
 * when none was launched (nothing read yet).  The workers' cells go to
 * st->cells; a process past rfm_segment.max_memory under the soft limit
 * sets st->overflow.
 */
static bool
scan_in_parallel(FunctionCallInfo fcinfo, RetentionState *st, Oid relid,
				 const char *key_column, const char *query, int32 last)
{
	int			planned = rfm_parallel_workers(relid);
	RetentionSpec spec;
	StringInfoData buf;
	RfmParallel *parallel;
	int			launched;
	uint64		mine;

	if (planned == 0)
		return false;
	memset(&spec, 0, sizeof(spec));
	spec.relid = relid;
	spec.time_type = st->time_type;
	spec.grain = st->grain;
	spec.has_as_of = st->has_as_of;
	spec.as_of = st->as_of;
	spec.last = last;
	spec.nblocks = rfm_parallel_blocks(relid, key_column, planned + 1);
	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, (const char *) &spec, sizeof(spec));
	rfm_parallel_put_string(&buf, query);
	rfm_parallel_put_string(&buf, key_column);
	rfm_parallel_put_string(&buf, text_to_cstring(PG_GETARG_TEXT_PP(ARG_TZ)));
	parallel = rfm_parallel_begin("rfm_retention", "rfm_retention_worker", planned,
								  buf.data, buf.len);
	if (parallel == NULL)
		return false;
	launched = rfm_parallel_launched(parallel);

	if (spec.nblocks > 0)
		ereport(DEBUG1,
				(errmsg_internal("rfm_retention: each process reads its own blocks")));

	st->cells_cxt = CurrentMemoryContext;
	mine = rfm_parallel_leader_parts(parallel);
	rfm_customers_set_share(st->customers, rfm_parallel_parts(parallel), mine);
	rfm_parallel_scan_part(query, st->customers, COL_KEY, spec.nblocks, retention_row, st);
	if (spec.nblocks > 0)
	{
		RfmExchangePayload payload = periods_payload(st);

		for (int i = 0; i < launched && !st->overflow; i++)
		{
			Scanned		scanned;

			rfm_parallel_receive_struct(parallel, i, &scanned, sizeof(scanned));
			st->overflow |= scanned.overflow;
		}
		if (!st->overflow)
			st->overflow = !rfm_exchange_leader(parallel, st->customers, mine, &payload);
	}
	for (int i = 0; i < launched && !st->overflow; i++)
	{
		Size		nbytes;
		const char *data = rfm_parallel_receive(parallel, i, false, &nbytes);
		WorkerCells header;
		const Cell *cells;

		memcpy(&header, data, sizeof(header));
		if (nbytes != MAXALIGN(sizeof(header)) + header.ncells * sizeof(Cell))
			elog(ERROR, "unexpected message from a parallel worker of rfm_retention");
		st->overflow |= header.overflow;
		if (header.any_time && (!st->any_time || header.earliest < st->earliest))
			st->earliest = header.earliest;
		if (header.any_time && (!st->any_time || header.latest > st->latest))
			st->latest = header.latest;
		st->any_time |= header.any_time;
		cells = (const Cell *) (data + MAXALIGN(sizeof(header)));
		for (int64 c = 0; c < header.ncells; c++)
			add_cell(st, cells[c].cohort, cells[c].period, cells[c].customers);
	}
	if (st->overflow)
		rfm_parallel_cancel(parallel);
	else
		rfm_parallel_finish(parallel);
	return true;
}

/*
 * rfm_retention(source, customer_column, time_column, grain, tz, as_of):
 * the cohort triangle in one scan.  A customer's cohort is the period of
 * their first event; offset k counts the customers of the cohort with an
 * event in the period k periods later.  Every cell up to as_of's period is
 * returned, zeros included.
 */
PG_FUNCTION_INFO_V1(rfm_retention);
Datum
rfm_retention(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RetentionState *st = palloc0(sizeof(RetentionState));
	Oid			relid;
	const char *key_column;
	const char *time_column;
	int32		last = 0;
	int32		first;
	int64		ncohorts;
	int64	   *active;
	bool		by_states;

	relid = rfm_source_arg(fcinfo, ARG_SOURCE);
	key_column = rfm_column_arg(fcinfo, ARG_CUSTOMER, "customer_column", true);
	time_column = rfm_column_arg(fcinfo, ARG_TIME, "time_column", true);
	if (PG_ARGISNULL(ARG_GRAIN) || PG_ARGISNULL(ARG_TZ))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", PG_ARGISNULL(ARG_GRAIN) ? "grain" : "tz"),
				 errhint("Only as_of may be NULL (the latest event's period).")));
	st->grain = rfm_parse_grain(PG_GETARG_TEXT_PP(ARG_GRAIN));
	st->tz = rfm_load_tz(PG_GETARG_TEXT_PP(ARG_TZ));

	st->customers = rfm_customers_create(relid, key_column, sizeof(Activity),
										 "rfm_retention", MEMORY_HINT);
	st->time_type = rfm_time_column_type(relid, time_column, "time_column");
	if (!PG_ARGISNULL(ARG_AS_OF))
		last = read_as_of(st, PG_GETARG_TIMESTAMPTZ(ARG_AS_OF));

	InitMaterializedSRF(fcinfo, 0);
	by_states = rfm_read_by_states(relid, key_column, BYTES_PER_CUSTOMER);
	if (!by_states)
	{
		char	   *query = psprintf("SELECT %s, %s FROM %s", quote_identifier(key_column),
										 quote_identifier(time_column), rfm_relation_name(relid));

		if (rfm_scan_mode == RFM_SCAN_AUTO)
			rfm_customers_set_soft_limit(st->customers);
		if (!scan_in_parallel(fcinfo, st, relid, key_column, query, last))
			(void) rfm_scan_until(query, retention_row, st);

		/*
		 * The triangle is held beside the customers; the states way holds
		 * it alone.  Under auto, a triangle that does not fit beside them
		 * sends the function there too.
		 */
		if (!st->overflow && rfm_scan_mode == RFM_SCAN_AUTO && st->any)
		{
			int32		hi = st->has_as_of ? last : st->latest_period;
			int64		side = (int64) hi - st->first_cohort + 1;

			if (st->first_cohort <= hi && side * side <= MAX_TRIANGLE_CELLS &&
				!rfm_customers_fit_more(st->customers, side * side * sizeof(int64) +
										st->maxcells * sizeof(Cell)))
				st->overflow = true;
		}
		if (st->overflow)
		{
			/* what the partial scan saw is seen again by the states */
			ereport(DEBUG1,
					(errmsg_internal("rfm_retention: the customers, or the triangle beside them, pass rfm_segment.max_memory; reading the states instead")));
			rfm_customers_free(st->customers);
			st->customers = NULL;
			st->any = st->any_time = false;
			st->rows = 0;
			st->ncells = 0;		/* the workers' */
			by_states = true;
		}
	}
	if (by_states)
		scan_by_states(fcinfo, st, relid, key_column, time_column);

	if (st->any_time && st->has_as_of)
		rfm_check_as_of_gap(PG_GETARG_TIMESTAMPTZ(ARG_AS_OF),
							st->time_type == DATEOID ? st->as_of * USECS_PER_DAY : st->as_of,
							st->earliest, st->latest, st->time_type == DATEOID);
	if (!st->any)
		return (Datum) 0;
	if (!st->has_as_of)
		last = st->latest_period;
	first = st->first_cohort;
	if (first > last)
		return (Datum) 0;
	ncohorts = (int64) last - first + 1;
	check_triangle(ncohorts);

	/*
	 * The triangle cannot spill.  By states, it and the cells are all this
	 * function holds; by rows, the customers are held beside it.  Both are
	 * what rfm_segment.max_memory bounds.
	 */
	if (by_states)
		rfm_check_memory(ncohorts * ncohorts * sizeof(int64) + st->maxcells * sizeof(Cell),
						 "rfm_retention", MEMORY_HINT);
	else
		rfm_customers_check_more(st->customers, ncohorts * ncohorts * sizeof(int64) +
								 st->maxcells * sizeof(Cell));

	/*
	 * The triangle of active customers; a cohort's size is its offset 0,
	 * the period of every member's first event.
	 */
	active = palloc_extended(ncohorts * ncohorts * sizeof(int64), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	if (!by_states)
		count_customers(st, active, first, ncohorts);
	/* the states query's cells, or the parallel workers' beside this backend's */
	for (int64 i = 0; i < st->ncells; i++)
	{
		const Cell *cell = &st->cells[i];

		active[(cell->cohort - first) * ncohorts + (cell->period - cell->cohort)] +=
			cell->customers;
	}

	for (int64 c = 0; c < ncohorts; c++)
	{
		text	   *label;
		int64		size = active[c * ncohorts];

		if (size == 0)
			continue;
		label = rfm_period_label((int32) (first + c), st->grain);
		for (int64 k = 0; k <= ncohorts - 1 - c; k++)
		{
			Datum		values[5];
			bool		nulls[5] = {false, false, false, false, false};
			int64		n = active[c * ncohorts + k];

			values[0] = PointerGetDatum(label);
			values[1] = Int32GetDatum((int32) k);
			values[2] = Int64GetDatum(size);
			values[3] = Int64GetDatum(n);
			values[4] = Float8GetDatum((float8) n / (float8) size);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	return (Datum) 0;
}
