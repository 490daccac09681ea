/*-------------------------------------------------------------------------
 *
 * journey_state.c
 *	  rfm_journey_state_agg: a customer's main category in the two windows
 *	  of the journeys, aggregated per customer, so that the journeys'
 *	  states way is one GROUP BY customer.
 *
 * rfm_category_transitions and rfm_category_moves need of each customer
 * only its main category (and that category's activity) in the previous
 * and the current window.  A GROUP BY customer is what parallel workers,
 * partitionwise aggregation, postgres_fdw and Citus run where the rows are,
 * and it spills under work_mem; only one small composite per customer
 * travels.
 *
 * The state is the customer's activities, one per (window, category
 * name), kept sorted for binary search, each an exact sum and the latest
 * event (journey.c); two partial states of one customer merge activity by
 * activity, so any split of the rows gives the same answer.  The main
 * category follows journey.c's rule, the last tie going to the first name
 * in byte order, as the rows way ranks its categories.  The category is
 * compared as text: what the rows way compares for text, integers or
 * dates (transitions.c says when the states way applies).
 *
 * The spec (as_of, period, tz) is a composite, which has no collation, so
 * postgres_fdw ships the aggregate.  tz stands for the session's TimeZone,
 * which a foreign server or a Citus worker does not share: a timestamp
 * without time zone is the instant a cast to timestamptz gives in it, and
 * for a date column as_of is its date there, as the rows way reads them.  Memory: per
 * customer about 64 bytes plus 56 and the name's length per (window,
 * category) it was active in.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "journey.h"
#include "spec.h"
#include "timeutil.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

/* the version of the serialized state, for parallel workers */
#define JOURNEY_SERIAL_VERSION	1

/* a customer's list of activities starts with room for this many */
#define INITIAL_ACTIVITIES	2

/* the fields of rfm_journey_state */
#define STATE_PREVIOUS		0
#define STATE_PREVIOUS_ACT	1
#define STATE_CURRENT		2
#define STATE_CURRENT_ACT	3
#define STATE_NFIELDS		4

#define SPEC_HINT "Pass ROW(as_of, period, tz)::rfm_journey_spec, such as ROW('2024-06-30', '30 days', 'UTC')::rfm_journey_spec."
#define WEIGHT_HINT "Pass NULL to leave the row out of the activity."

/* a parsed spec: the windows of a time column and of a date column */
typedef struct JourneySpec
{
	RfmWindows	time_windows;
	RfmWindows	date_windows;
	pg_tz	   *tz;
} JourneySpec;

/* one (window, category) of a customer */
typedef struct Entry
{
	RfmActivity act;
	int32		window;
	int32		len;			/* the name's length in bytes */
	char	   *name;			/* not terminated */
} Entry;

typedef struct JourneyAggState
{
	RfmWindows	windows;		/* the spec's, checked the same every row */
	pg_tz	   *tz;
	int32		n;
	int32		max;
	Entry	   *entries;		/* sorted by (window, name) */
} JourneyAggState;

/* rfm_journey_spec's fields: none may be NULL */
static void
parse_spec(HeapTupleHeader row, void *parsed)
{
	static const char *const names[3] = {"spec.as_of", "spec.period", "spec.tz"};
	JourneySpec *spec = (JourneySpec *) parsed;
	Datum		fields[3];
	bool		nulls[3];
	int64		as_of;
	struct pg_tm tm;
	DateADT		as_of_date;

	for (int i = 0; i < 3; i++)
	{
		fields[i] = GetAttributeByNum(row, i + 1, &nulls[i]);
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be NULL", names[i]),
					 errhint(SPEC_HINT)));
	}
	spec->tz = rfm_load_tz(DatumGetTextPP(fields[2]));
	as_of = rfm_timestamp_usecs(DatumGetTimestampTz(fields[0]), names[0]);
	rfm_journey_windows(as_of, DatumGetIntervalP(fields[1]), names[1], &spec->time_windows);

	/* for a date column, as_of's date in tz, as the rows way's in its session */
	rfm_timestamp_tm(as_of, spec->tz, names[0], &tm, NULL);
	as_of_date = date2j(tm.tm_year, tm.tm_mon, tm.tm_mday) - POSTGRES_EPOCH_JDATE;
	rfm_journey_windows(rfm_date_usecs(as_of_date, names[0]), DatumGetIntervalP(fields[1]),
						names[1], &spec->date_windows);
}

/* order of (window, name): names in byte order, a prefix first */
static int
compare_keys(int32 wa, const char *a, int32 la, int32 wb, const char *b, int32 lb)
{
	int			c;

	if (wa != wb)
		return (wa > wb) - (wa < wb);
	c = memcmp(a, b, Min(la, lb));
	if (c != 0)
		return c;
	return (la > lb) - (la < lb);
}

/* the entry of (window, name), made (name copied) if new */
static Entry *
find_entry(JourneyAggState *st, int32 window, const char *name, int32 len,
		   MemoryContext cxt)
{
	int			lo = 0,
				hi = st->n;
	Entry	   *e;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;
		Entry	   *m = &st->entries[mid];

		if (compare_keys(m->window, m->name, m->len, window, name, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < st->n &&
		compare_keys(st->entries[lo].window, st->entries[lo].name, st->entries[lo].len,
					 window, name, len) == 0)
		return &st->entries[lo];

	if (st->entries == NULL)
	{
		st->max = INITIAL_ACTIVITIES;
		st->entries = MemoryContextAlloc(cxt, st->max * sizeof(Entry));
	}
	else if (st->n == st->max)
	{
		st->max *= 2;
		st->entries = repalloc(st->entries, st->max * sizeof(Entry));
	}
	memmove(st->entries + lo + 1, st->entries + lo, (st->n - lo) * sizeof(Entry));
	st->n++;
	e = &st->entries[lo];
	rfm_activity_init(&e->act);
	e->window = window;
	e->len = len;
	e->name = MemoryContextAlloc(cxt, Max(len, 1));
	memcpy(e->name, name, len);
	return e;
}

static JourneyAggState *
new_state(MemoryContext cxt, const RfmWindows *windows, pg_tz *tz)
{
	JourneyAggState *st = MemoryContextAllocZero(cxt, sizeof(JourneyAggState));

	st->windows = *windows;
	st->tz = tz;
	return st;
}

/*
 * The transition of rfm_journey_state_agg(event_time, category, weight,
 * spec), row by row as the rows way: a NULL time is skipped; a time or
 * weight that is not finite is an error wherever it is; then rows outside
 * the windows or without a category are skipped.  A NULL weight adds
 * nothing but its time still breaks ties.
 */
static Datum
state_trans(FunctionCallInfo fcinfo, Oid time_type)
{
	MemoryContext aggcontext;
	const JourneySpec *spec = rfm_spec_arg(fcinfo, 4, sizeof(JourneySpec), parse_spec,
										   SPEC_HINT);
	const RfmWindows *windows = time_type == DATEOID ? &spec->date_windows :
		&spec->time_windows;
	JourneyAggState *st = PG_ARGISNULL(0) ? NULL : (JourneyAggState *) PG_GETARG_POINTER(0);
	RfmTerm		weight = {0};
	text	   *category;
	int64		t;
	int			window;
	Entry	   *e;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "rfm_journey_state_agg transition called in non-aggregate context");
	if (st != NULL && (memcmp(&st->windows, windows, sizeof(RfmWindows)) != 0 ||
					   st->tz != spec->tz))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("spec must be the same for every row"),
				 errhint("Pass the spec as a constant.")));
	if (PG_ARGISNULL(1))
		RFM_RETURN_STATE(st);
	if (time_type == DATEOID)
		t = rfm_date_usecs(PG_GETARG_DATEADT(1), "event_time");
	else if (time_type == TIMESTAMPOID)
		t = rfm_wall_usecs(PG_GETARG_TIMESTAMP(1), spec->tz, "event_time");
	else
		t = rfm_timestamp_usecs(PG_GETARG_TIMESTAMPTZ(1), "event_time");
	if (!PG_ARGISNULL(3))
		rfm_term_from_numeric((struct varlena *) PG_GETARG_POINTER(3), "weight", WEIGHT_HINT,
							  &weight);
	window = rfm_journey_window(windows, t);
	if (window < 0 || PG_ARGISNULL(2))
		RFM_RETURN_STATE(st);

	if (st == NULL)
		st = new_state(aggcontext, windows, spec->tz);
	category = PG_GETARG_TEXT_PP(2);
	e = find_entry(st, window, VARDATA_ANY(category), VARSIZE_ANY_EXHDR(category), aggcontext);
	rfm_activity_add(&e->act, &weight, t, aggcontext);
	PG_RETURN_POINTER(st);
}

PG_FUNCTION_INFO_V1(rfm_journey_state_trans);
Datum
rfm_journey_state_trans(PG_FUNCTION_ARGS)
{
	return state_trans(fcinfo, TIMESTAMPTZOID);
}

PG_FUNCTION_INFO_V1(rfm_journey_state_trans_wall);
Datum
rfm_journey_state_trans_wall(PG_FUNCTION_ARGS)
{
	return state_trans(fcinfo, TIMESTAMPOID);
}

PG_FUNCTION_INFO_V1(rfm_journey_state_trans_date);
Datum
rfm_journey_state_trans_date(PG_FUNCTION_ARGS)
{
	return state_trans(fcinfo, DATEOID);
}

/* merge two partial states of one customer's rows, activity by activity */
PG_FUNCTION_INFO_V1(rfm_journey_state_combine);
Datum
rfm_journey_state_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	JourneyAggState *a = PG_ARGISNULL(0) ? NULL : (JourneyAggState *) PG_GETARG_POINTER(0);
	JourneyAggState *b = PG_ARGISNULL(1) ? NULL : (JourneyAggState *) PG_GETARG_POINTER(1);

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "rfm_journey_state_combine called in non-aggregate context");
	if (b == NULL)
		RFM_RETURN_STATE(a);
	if (a == NULL)
		a = new_state(aggcontext, &b->windows, b->tz);
	for (int32 i = 0; i < b->n; i++)
	{
		const Entry *other = &b->entries[i];
		Entry	   *e = find_entry(a, other->window, other->name, other->len, aggcontext);

		rfm_activity_merge(&e->act, &other->act, aggcontext);
	}
	PG_RETURN_POINTER(a);
}

/* a partial state for another process (parallel workers) */
PG_FUNCTION_INFO_V1(rfm_journey_state_serial);
Datum
rfm_journey_state_serial(PG_FUNCTION_ARGS)
{
	JourneyAggState *st = (JourneyAggState *) PG_GETARG_POINTER(0);
	StringInfoData buf;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "rfm_journey_state_serial called in non-aggregate context");
	pq_begintypsend(&buf);
	pq_sendint32(&buf, JOURNEY_SERIAL_VERSION);
	pq_sendint64(&buf, st->windows.as_of);
	pq_sendint64(&buf, st->windows.start[RFM_WINDOW_PREVIOUS]);
	pq_sendint64(&buf, st->windows.start[RFM_WINDOW_CURRENT]);
	/* the zone is the spec's, which the planner passes to every process */
	pq_sendint32(&buf, st->n);
	for (int32 i = 0; i < st->n; i++)
	{
		const Entry *e = &st->entries[i];
		Numeric		sum = rfm_activity_numeric(&e->act);

		pq_sendint32(&buf, e->window);
		pq_sendint64(&buf, e->act.latest);
		pq_sendint32(&buf, e->len);
		pq_sendbytes(&buf, e->name, e->len);
		pq_sendint32(&buf, VARSIZE(sum));
		pq_sendbytes(&buf, (char *) sum, VARSIZE(sum));
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(rfm_journey_state_deserial);
Datum
rfm_journey_state_deserial(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	MemoryContext aggcontext;
	StringInfoData buf;
	JourneyAggState *st;
	RfmWindows	windows;
	int32		n;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "rfm_journey_state_deserial called in non-aggregate context");
	buf.data = VARDATA_ANY(data);
	buf.len = VARSIZE_ANY_EXHDR(data);
	buf.maxlen = buf.len;
	buf.cursor = 0;
	if (pq_getmsgint(&buf, 4) != JOURNEY_SERIAL_VERSION)
		elog(ERROR, "rfm_journey_state_agg: a serialized state of another version");
	windows.as_of = pq_getmsgint64(&buf);
	windows.start[RFM_WINDOW_PREVIOUS] = pq_getmsgint64(&buf);
	windows.start[RFM_WINDOW_CURRENT] = pq_getmsgint64(&buf);
	st = new_state(aggcontext, &windows, NULL);
	n = pq_getmsgint(&buf, 4);
	for (int32 i = 0; i < n; i++)
	{
		int32		window = pq_getmsgint(&buf, 4);
		int64		latest = pq_getmsgint64(&buf);
		int32		len = pq_getmsgint(&buf, 4);
		const char *name = pq_getmsgbytes(&buf, len);
		int32		size = pq_getmsgint(&buf, 4);
		Numeric		sum = MemoryContextAlloc(aggcontext, size);
		Entry	   *e;

		memcpy(sum, pq_getmsgbytes(&buf, size), size);
		e = find_entry(st, window, name, len, aggcontext);
		e->act.latest = latest;
		if (!rfm_decimal_set(&e->act.sum, sum))
			e->act.overflow = sum;
		else
			pfree(sum);
	}
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(st);
}

/* does a beat b for main category: journey.c's rule, then the name */
static bool
beats(const Entry *a, const Entry *b)
{
	int			c = rfm_activity_compare(&a->act, &b->act);

	if (c != 0)
		return c > 0;
	return compare_keys(a->window, a->name, a->len, b->window, b->name, b->len) < 0;
}

/*
 * The result: an rfm_journey_state (the main category of each window and
 * its activity, NULL where the customer was not active), NULL for a
 * customer active in neither window.
 */
PG_FUNCTION_INFO_V1(rfm_journey_state_final);
Datum
rfm_journey_state_final(PG_FUNCTION_ARGS)
{
	JourneyAggState *st = PG_ARGISNULL(0) ? NULL : (JourneyAggState *) PG_GETARG_POINTER(0);
	const Entry *main[RFM_NWINDOWS] = {NULL, NULL};
	Datum		values[STATE_NFIELDS];
	bool		nulls[STATE_NFIELDS];
	TupleDesc	desc;
	HeapTuple	tuple;

	if (st == NULL || st->n == 0)
		PG_RETURN_NULL();
	for (int32 i = 0; i < st->n; i++)
	{
		const Entry *e = &st->entries[i];

		if (main[e->window] == NULL || beats(e, main[e->window]))
			main[e->window] = e;
	}
	for (int w = 0; w < RFM_NWINDOWS; w++)
	{
		int			field = w == RFM_WINDOW_PREVIOUS ? STATE_PREVIOUS : STATE_CURRENT;

		nulls[field] = nulls[field + 1] = main[w] == NULL;
		if (main[w] == NULL)
			continue;
		values[field] = PointerGetDatum(cstring_to_text_with_len(main[w]->name, main[w]->len));
		values[field + 1] = NumericGetDatum(rfm_activity_numeric(&main[w]->act));
	}
	desc = lookup_rowtype_tupdesc(get_func_rettype(fcinfo->flinfo->fn_oid), -1);
	tuple = heap_form_tuple(desc, values, nulls);
	ReleaseTupleDesc(desc);
	PG_RETURN_DATUM(HeapTupleGetDatum(tuple));
}
