/*-------------------------------------------------------------------------
 *
 * retention.c
 *	  The cohort retention triangle, rfm_retention, in one scan.
 *
 * The scan and the customer table are scan.c's; each customer's payload
 * here is the sorted set of periods in which they had an event.  The first
 * one is the cohort; the rest say in which later periods the customer was
 * active.  Memory is about 180 bytes per customer (hash entry, record, list
 * of periods) plus 4 bytes per active period past the fourth.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "cohort.h"
#include "scan.h"
#include "timeutil.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
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

typedef struct RetentionState
{
	RfmCustomers *customers;
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

/* one scanned row: (key, time) */
static void
retention_row(TupleTableSlot *slot, void *arg)
{
	RetentionState *st = (RetentionState *) arg;
	Datum		value;
	int32		period;
	Activity   *a;
	bool		found;

	if (++st->rows % MEMORY_CHECK_ROWS == 0)
		rfm_customers_check_memory(st->customers);
	if (slot->tts_isnull[COL_TIME])
		return;
	value = slot->tts_values[COL_TIME];
	note_time(st, value);
	switch (st->time_type)
	{
		case DATEOID:
			if (st->has_as_of && (int64) DatumGetDateADT(value) > st->as_of)
				return;
			period = rfm_period_of_date(DatumGetDateADT(value), st->grain, "event_time");
			break;
		case TIMESTAMPOID:
			/* a wall time: its period needs no time zone */
			if (st->has_as_of && DatumGetTimestamp(value) > st->as_of)
				return;
			period = rfm_period_of_timestamp(DatumGetTimestamp(value), NULL,
											 st->grain, "event_time");
			break;
		default:
			if (st->has_as_of && DatumGetTimestampTz(value) > st->as_of)
				return;
			period = rfm_period_of_timestamp(DatumGetTimestampTz(value), st->tz,
											 st->grain, "event_time");
			break;
	}

	a = rfm_customers_lookup(st->customers, slot->tts_values[COL_KEY],
							 slot->tts_isnull[COL_KEY], &found);
	add_period(st, a, period);
	if (!st->any || period > st->latest_period)
		st->latest_period = period;
	st->any = true;
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
	int32		first = PG_INT32_MAX;
	uint64		ncustomers;
	int64		ncohorts;
	int64	   *size;
	int64	   *active;

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
	(void) rfm_scan(psprintf("SELECT %s, %s FROM %s", quote_identifier(key_column),
							 quote_identifier(time_column), rfm_relation_name(relid)),
					retention_row, st);

	if (st->any_time && st->has_as_of)
		rfm_check_as_of_gap(PG_GETARG_TIMESTAMPTZ(ARG_AS_OF),
							st->time_type == DATEOID ? st->as_of * USECS_PER_DAY : st->as_of,
							st->earliest, st->latest, st->time_type == DATEOID);
	if (!st->any)
		return (Datum) 0;
	if (!st->has_as_of)
		last = st->latest_period;
	ncustomers = rfm_customers_count(st->customers);
	for (uint64 i = 0; i < ncustomers; i++)
	{
		Activity   *a = rfm_customers_payload(st->customers, i);

		first = Min(first, a->periods[0]);
	}
	if (first > last)
		return (Datum) 0;
	ncohorts = (int64) last - first + 1;
	if (ncohorts * ncohorts > MAX_TRIANGLE_CELLS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("retention over %lld periods is too large a triangle",
						(long long) ncohorts),
				 errhint("Use a coarser grain, or a later first event.")));

	/* cohort sizes and the triangle of active customers */
	size = palloc0(ncohorts * sizeof(int64));
	active = palloc_extended(ncohorts * ncohorts * sizeof(int64), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	for (uint64 i = 0; i < ncustomers; i++)
	{
		Activity   *a = rfm_customers_payload(st->customers, i);
		int64		cohort = a->periods[0] - first;

		size[cohort]++;
		for (int k = 0; k < a->nperiods; k++)
			active[cohort * ncohorts + (a->periods[k] - a->periods[0])]++;
	}

	for (int64 c = 0; c < ncohorts; c++)
	{
		text	   *label;

		if (size[c] == 0)
			continue;
		label = rfm_period_label((int32) (first + c), st->grain);
		for (int64 k = 0; k <= ncohorts - 1 - c; k++)
		{
			Datum		values[5];
			bool		nulls[5] = {false, false, false, false, false};
			int64		n = active[c * ncohorts + k];

			values[0] = PointerGetDatum(label);
			values[1] = Int32GetDatum((int32) k);
			values[2] = Int64GetDatum(size[c]);
			values[3] = Int64GetDatum(n);
			values[4] = Float8GetDatum((float8) n / (float8) size[c]);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	return (Datum) 0;
}
