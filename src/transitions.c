/*-------------------------------------------------------------------------
 *
 * transitions.c
 *	  Journeys across categories: each customer's main category in two
 *	  adjacent windows, counted per pair of categories
 *	  (rfm_category_transitions) or listed for the customers who changed
 *	  (rfm_category_moves), in one scan.
 *
 * The windows end at as_of: the current one is (as_of - period, as_of]
 * and the previous one (as_of - 2 * period, as_of - period], both computed
 * as in UTC (a day is 24 hours, a month a calendar month), so no answer
 * depends on the session TimeZone for a timestamptz column.  A customer's
 * activity in a category is its number of events there, or with a weight
 * column the sum of their weights, summed exactly as decimals so that
 * ties do not depend on the order of the rows.  The main category of a
 * window is the one with the largest activity; ties go to the category
 * with the latest event in the window, then to the first name in byte
 * order.  Rows with a NULL time or category are skipped; a NULL weight
 * adds nothing but the row still counts as an event (its time breaks
 * ties), as in rfm_metrics.
 *
 * The scan and the customer table are scan.c's; each customer's payload
 * is a list of (window, category) activities, kept sorted for binary
 * search.  Memory: per customer about 90 bytes of hash entry and
 * bookkeeping and 16 of payload, plus 48 bytes per (window, category) it
 * was active in; per category as in dictionary.c.  At the end, 8 bytes per
 * customer for the transitions, or for the moves 32 bytes plus the key's
 * text per customer who moved.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "decimal.h"
#include "dictionary.h"
#include "guc.h"
#include "scan.h"
#include "timeutil.h"

#include "catalog/pg_type.h"
#include "common/int.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

/* argument positions, shared by both functions */
#define ARG_SOURCE		0
#define ARG_CUSTOMER	1
#define ARG_TIME		2
#define ARG_CATEGORY	3
#define ARG_AS_OF		4
#define ARG_PERIOD		5
#define ARG_WEIGHT		6

/* the scanned columns */
#define COL_KEY			0
#define COL_TIME		1
#define COL_CATEGORY	2
#define COL_WEIGHT		3
#define NCOLUMNS		4

/* the two windows */
#define WINDOW_PREVIOUS 0
#define WINDOW_CURRENT	1
#define NWINDOWS		2

/* no main category in a window */
#define NO_CATEGORY		(-1)

/* a customer's list of activities starts with room for this many */
#define INITIAL_ACTIVITIES	2

/* the list of moves starts with room for this many, then doubles */
#define INITIAL_MOVES		1024

/* lists grow in many small steps: the memory is checked this often */
#define MEMORY_CHECK_ROWS	65536

/* output columns */
#define TRANSITION_COLS 4
#define MOVE_COLS		5

#define MEMORY_HINT "Use a shorter period, or a source with fewer customers"
#define WEIGHT_HINT "Pass NULL to leave the row out of the activity."

/* a customer's activity in one category in one window */
typedef struct Activity
{
	RfmDecimal	sum;			/* exact sum of weights (its big_off unused) */
	Numeric		overflow;		/* what did not fit in 38 digits, or NULL */
	int64		latest;			/* the latest event */
	int32		window;
	int32		category;		/* dictionary id */
} Activity;

/* a customer: activities sorted by (window, category) */
typedef struct Journey
{
	int32		nactivities;
	int32		maxactivities;
	Activity   *activities;
} Journey;

typedef struct JourneyState
{
	const char *function;		/* for messages */
	Oid			relid;
	const char *columns[NCOLUMNS];	/* key, time, category, weight (or
									 * NULL) */
	Oid			time_type;
	bool		is_date;
	int64		as_of;
	int64		window_start[NWINDOWS];	/* exclusive */
	MemoryContext cxt;			/* everything below lives here */
	MemoryContext scratch;		/* reset after each customer's comparisons */
	RfmCustomers *customers;
	RfmDictionary *categories;
	uint64		rows;
} JourneyState;

/* a customer's main category in each window: its activity, or NULL */
typedef struct MainCategories
{
	const Activity *main[NWINDOWS];
} MainCategories;

/* stop when the call holds more than rfm_segment.max_memory */
static void
check_memory(JourneyState *st)
{
	rfm_check_memory(MemoryContextMemAllocated(st->cxt, true), st->function,
					 MEMORY_HINT);
}

/* the activity of (window, category) in a customer's list, made if new */
static Activity *
find_activity(JourneyState *st, Journey *j, int32 window, int32 category)
{
	int			lo = 0,
				hi = j->nactivities;
	Activity   *a;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;
		Activity   *m = &j->activities[mid];

		if (m->window < window || (m->window == window && m->category < category))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < j->nactivities && j->activities[lo].window == window &&
		j->activities[lo].category == category)
		return &j->activities[lo];

	if (j->activities == NULL)
	{
		j->maxactivities = INITIAL_ACTIVITIES;
		j->activities = MemoryContextAlloc(rfm_customers_context(st->customers),
										   j->maxactivities * sizeof(Activity));
	}
	else if (j->nactivities == j->maxactivities)
	{
		j->maxactivities *= 2;
		j->activities = repalloc(j->activities, j->maxactivities * sizeof(Activity));
	}
	memmove(j->activities + lo + 1, j->activities + lo,
			(j->nactivities - lo) * sizeof(Activity));
	j->nactivities++;
	a = &j->activities[lo];
	memset(a, 0, sizeof(Activity));
	a->window = window;
	a->category = category;
	a->latest = PG_INT64_MIN;
	return a;
}

/* add a weight to an activity, exactly; past 38 digits in numeric */
static void
add_weight(JourneyState *st, Activity *a, const RfmTerm *w)
{
	MemoryContext old;
	Numeric		term;

	if (!w->present)
		return;
	if (w->fits && rfm_decimal_add(&a->sum, w->mantissa, w->scale))
		return;
	term = w->fits ? rfm_int128_to_numeric(w->mantissa, w->scale) : w->value;
	old = MemoryContextSwitchTo(rfm_customers_context(st->customers));
	if (a->overflow == NULL)
		a->overflow = DatumGetNumeric(datumCopy(NumericGetDatum(term), false, -1));
	else
		a->overflow = DatumGetNumeric(DirectFunctionCall2(numeric_add,
														  NumericGetDatum(a->overflow),
														  NumericGetDatum(term)));
	MemoryContextSwitchTo(old);
}

/* an activity as a numeric: the exact sum */
static Numeric
activity_numeric(const Activity *a)
{
	Numeric		sum = rfm_decimal_numeric(&a->sum);

	if (a->overflow == NULL)
		return sum;
	return DatumGetNumeric(DirectFunctionCall2(numeric_add, NumericGetDatum(sum),
											   NumericGetDatum(a->overflow)));
}

/* a sum's fast part at a scale at least its own; false if it overflows */
static bool
rescale(const RfmDecimal *sum, int32 scale, int128 *value)
{
	RfmDecimal	r = {0};

	r.scale = scale;
	if (!rfm_decimal_add(&r, sum->small, sum->scale))
		return false;
	*value = r.small;
	return true;
}

/*
 * Compare two activities' sums exactly: < 0, 0, > 0.  In 128 bits at the
 * larger scale; in numeric, allocated in the current context, only past
 * 38 digits.
 */
static int
compare_sums(const Activity *a, const Activity *b)
{
	int32		scale = Max(a->sum.scale, b->sum.scale);
	int128		x;
	int128		y;

	if (a->overflow == NULL && b->overflow == NULL &&
		rescale(&a->sum, scale, &x) && rescale(&b->sum, scale, &y))
		return (x > y) - (x < y);
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp,
											 NumericGetDatum(activity_numeric(a)),
											 NumericGetDatum(activity_numeric(b))));
}

/* does a beat b for main category: more activity, a later event, a name */
static bool
beats(const JourneyState *st, const Activity *a, const Activity *b)
{
	int			c = compare_sums(a, b);

	if (c != 0)
		return c > 0;
	if (a->latest != b->latest)
		return a->latest > b->latest;
	return rfm_dictionary_rank(st->categories, a->category) <
		rfm_dictionary_rank(st->categories, b->category);
}

/* one scanned row: (key, time, category, weight) */
static void
journey_row(TupleTableSlot *slot, void *arg)
{
	JourneyState *st = (JourneyState *) arg;
	RfmTerm		weight = {0};
	int64		t;
	int32		window;
	int32		category;
	Journey    *j;
	Activity   *a;
	bool		found;

	if (++st->rows % MEMORY_CHECK_ROWS == 0)
		check_memory(st);
	if (slot->tts_isnull[COL_TIME])
		return;
	/* bad data is an error wherever it is, as in rfm_analyze */
	t = rfm_event_usecs(slot->tts_values[COL_TIME], st->is_date, "event_time");
	if (st->columns[COL_WEIGHT] == NULL)
		weight = rfm_term_one;
	else if (!slot->tts_isnull[COL_WEIGHT])
		rfm_term_from_numeric((struct varlena *) DatumGetPointer(slot->tts_values[COL_WEIGHT]),
							  "weight", WEIGHT_HINT, &weight);

	if (t <= st->window_start[WINDOW_PREVIOUS] || t > st->as_of ||
		slot->tts_isnull[COL_CATEGORY])
		return;
	window = t > st->window_start[WINDOW_CURRENT] ? WINDOW_CURRENT : WINDOW_PREVIOUS;
	(void) rfm_dictionary_lookup(st->categories, slot->tts_values[COL_CATEGORY],
								 &category);
	j = rfm_customers_lookup(st->customers, slot->tts_values[COL_KEY],
							 slot->tts_isnull[COL_KEY], &found);
	a = find_activity(st, j, window, category);
	add_weight(st, a, &weight);
	a->latest = Max(a->latest, t);
}

/* a customer's main category in each window (NULL: not active there) */
static void
main_categories(const JourneyState *st, const Journey *j, MainCategories *mc)
{
	MemoryContext old = MemoryContextSwitchTo(st->scratch);

	for (int w = 0; w < NWINDOWS; w++)
		mc->main[w] = NULL;
	for (int i = 0; i < j->nactivities; i++)
	{
		const Activity *a = &j->activities[i];
		const Activity *best = mc->main[a->window];

		if (best == NULL || beats(st, a, best))
			mc->main[a->window] = a;
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(st->scratch);
}

/* 2 * period, field by field, or an error */
static Interval
double_interval(const Interval *period)
{
	Interval	twice;

	if (pg_mul_s32_overflow(period->month, 2, &twice.month) ||
		pg_mul_s32_overflow(period->day, 2, &twice.day) ||
		pg_mul_s64_overflow(period->time, 2, &twice.time))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("period is out of range"),
				 errhint("Pass an interval such as '30 days' or '1 month'.")));
	return twice;
}

/* read and check the arguments, and the windows they make */
static void
read_arguments(FunctionCallInfo fcinfo, JourneyState *st)
{
	static const char *const argnames[NCOLUMNS] = {
		"customer_column", "time_column", "category_column", "weight_column"
	};
	const Interval *period;
	Interval	twice;

	st->relid = rfm_source_arg(fcinfo, ARG_SOURCE);
	st->columns[COL_KEY] = rfm_column_arg(fcinfo, ARG_CUSTOMER, argnames[COL_KEY], true);
	st->columns[COL_TIME] = rfm_column_arg(fcinfo, ARG_TIME, argnames[COL_TIME], true);
	st->columns[COL_CATEGORY] = rfm_column_arg(fcinfo, ARG_CATEGORY, argnames[COL_CATEGORY], true);
	st->columns[COL_WEIGHT] = rfm_column_arg(fcinfo, ARG_WEIGHT, argnames[COL_WEIGHT], false);
	if (PG_ARGISNULL(ARG_AS_OF))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("as_of must not be NULL"),
				 errhint("Pass the end of the current window, such as '2024-06-30'.")));
	if (PG_ARGISNULL(ARG_PERIOD))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("period must not be NULL"),
				 errhint("Pass an interval such as '30 days' or '1 month'.")));

	st->time_type = rfm_time_column_type(st->relid, st->columns[COL_TIME], "time_column");
	st->is_date = st->time_type == DATEOID;
	rfm_check_number_column(st->relid, st->columns[COL_WEIGHT], "weight_column");

	/* as_of - 2 * period, not (as_of - period) - period: month ends stay */
	st->as_of = rfm_as_of_usecs(PG_GETARG_TIMESTAMPTZ(ARG_AS_OF), st->is_date, "as_of");
	period = PG_GETARG_INTERVAL_P(ARG_PERIOD);
	twice = double_interval(period);
	st->window_start[WINDOW_CURRENT] = rfm_time_minus(st->as_of, period);
	st->window_start[WINDOW_PREVIOUS] = rfm_time_minus(st->as_of, &twice);
	if (st->window_start[WINDOW_CURRENT] >= st->as_of ||
		st->window_start[WINDOW_PREVIOUS] >= st->window_start[WINDOW_CURRENT])
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("period must be positive"),
				 errhint("Pass an interval such as '30 days' or '1 month'.")));
}

/* the scan's query: numbers as numeric, a timestamp as timestamptz */
static char *
build_query(const JourneyState *st)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "SELECT %s, %s%s, %s, ",
					 quote_identifier(st->columns[COL_KEY]),
					 quote_identifier(st->columns[COL_TIME]),
					 st->time_type == TIMESTAMPOID ? "::pg_catalog.timestamptz" : "",
					 quote_identifier(st->columns[COL_CATEGORY]));
	if (st->columns[COL_WEIGHT] != NULL)
		appendStringInfo(&buf, "%s::pg_catalog.numeric", quote_identifier(st->columns[COL_WEIGHT]));
	else
		appendStringInfoString(&buf, "NULL::pg_catalog.numeric");
	appendStringInfo(&buf, " FROM %s", rfm_relation_name(st->relid));
	return buf.data;
}

/*
 * Check the arguments and scan: every customer's activities in both
 * windows, and the categories ranked by name.
 */
static JourneyState *
run_journeys(FunctionCallInfo fcinfo, const char *function)
{
	JourneyState *st = palloc0(sizeof(JourneyState));
	MemoryContext old;

	st->function = function;
	read_arguments(fcinfo, st);

	st->cxt = AllocSetContextCreate(CurrentMemoryContext, "rfm_segment journeys",
									ALLOCSET_DEFAULT_SIZES);
	st->scratch = AllocSetContextCreate(st->cxt, "rfm_segment journeys scratch",
										ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(st->cxt);
	st->categories = rfm_dictionary_create(st->relid, st->columns[COL_CATEGORY],
										   "category_column", 0, function, MEMORY_HINT);
	st->customers = rfm_customers_create(st->relid, st->columns[COL_KEY],
										 sizeof(Journey), function, MEMORY_HINT);
	MemoryContextSwitchTo(old);

	(void) rfm_scan(build_query(st), journey_row, st);

	old = MemoryContextSwitchTo(st->cxt);
	rfm_dictionary_sort(st->categories);
	MemoryContextSwitchTo(old);
	check_memory(st);
	return st;
}

/* a cell of the transition table: from and to as ranks */
typedef struct Cell
{
	int32		from;			/* -1: new in the current window */
	int32		to;				/* ncategories: gone quiet */
} Cell;

static int
compare_cells(const void *a, const void *b)
{
	const Cell *x = (const Cell *) a;
	const Cell *y = (const Cell *) b;

	if (x->from != y->from)
		return (x->from > y->from) - (x->from < y->from);
	return (x->to > y->to) - (x->to < y->to);
}

/* a category's text for output, from its rank; NULL when out of range */
static Datum
category_text(const JourneyState *st, int32 rank, bool *isnull)
{
	*isnull = rank < 0 || rank >= rfm_dictionary_count(st->categories);
	if (*isnull)
		return (Datum) 0;
	return CStringGetTextDatum(rfm_dictionary_name(st->categories,
												   rfm_dictionary_at_rank(st->categories, rank)));
}

/*
 * rfm_category_transitions(source, customer_column, time_column,
 * category_column, as_of, period, weight_column): how many customers went
 * from each main category in the previous window to each in the current
 * one.  from_category is NULL for customers active only in the current
 * window, to_category for those active only in the previous one; share is
 * customers over all customers of the same from_category, so each from
 * row sums to 1.  Rows come ordered by from_category (NULL first) and
 * to_category (NULL last), by name in byte order.  as_of and period must
 * not be NULL; a source with no event in the windows returns no rows.
 */
PG_FUNCTION_INFO_V1(rfm_category_transitions);
Datum
rfm_category_transitions(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	JourneyState *st;
	uint64		ncustomers;
	int32		ncategories;
	Cell	   *cells;
	uint64		start = 0;
	MemoryContext row_cxt;

	InitMaterializedSRF(fcinfo, 0);
	st = run_journeys(fcinfo, "rfm_category_transitions");
	ncustomers = rfm_customers_count(st->customers);
	ncategories = rfm_dictionary_count(st->categories);

	rfm_check_memory(MemoryContextMemAllocated(st->cxt, true) +
					 Max(ncustomers, 1) * sizeof(Cell), st->function, MEMORY_HINT);
	cells = MemoryContextAllocExtended(st->cxt, Max(ncustomers, 1) * sizeof(Cell),
									   MCXT_ALLOC_HUGE);
	for (uint64 i = 0; i < ncustomers; i++)
	{
		MainCategories mc;

		CHECK_FOR_INTERRUPTS();
		main_categories(st, rfm_customers_payload(st->customers, i), &mc);
		cells[i].from = mc.main[WINDOW_PREVIOUS] == NULL ? NO_CATEGORY :
			rfm_dictionary_rank(st->categories, mc.main[WINDOW_PREVIOUS]->category);
		cells[i].to = mc.main[WINDOW_CURRENT] == NULL ? ncategories :
			rfm_dictionary_rank(st->categories, mc.main[WINDOW_CURRENT]->category);
	}
	qsort(cells, ncustomers, sizeof(Cell), compare_cells);

	/* runs of equal cells, within runs of equal from */
	row_cxt = AllocSetContextCreate(CurrentMemoryContext, "rfm_category_transitions row",
									ALLOCSET_SMALL_SIZES);
	while (start < ncustomers)
	{
		uint64		end = start;

		while (end < ncustomers && cells[end].from == cells[start].from)
			end++;
		for (uint64 i = start; i < end;)
		{
			uint64		k = i;
			Datum		values[TRANSITION_COLS];
			bool		nulls[TRANSITION_COLS] = {false, false, false, false};
			MemoryContext old = MemoryContextSwitchTo(row_cxt);

			while (k < end && cells[k].to == cells[i].to)
				k++;
			values[0] = category_text(st, cells[i].from, &nulls[0]);
			values[1] = category_text(st, cells[i].to, &nulls[1]);
			values[2] = Int64GetDatum((int64) (k - i));
			values[3] = Float8GetDatum((float8) (k - i) / (float8) (end - start));
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			MemoryContextSwitchTo(old);
			MemoryContextReset(row_cxt);
			i = k;
		}
		start = end;
	}
	MemoryContextDelete(row_cxt);
	MemoryContextDelete(st->cxt);
	return (Datum) 0;
}

/* a customer who moved */
typedef struct Move
{
	Cell		cell;			/* from and to, as ranks */
	char	   *key;			/* its text; NULL for the NULL customer */
	const Activity *previous;	/* the main categories' activities */
	const Activity *current;
} Move;

static int
compare_moves(const void *a, const void *b)
{
	const Move *x = (const Move *) a;
	const Move *y = (const Move *) b;
	int			c = compare_cells(&x->cell, &y->cell);

	if (c != 0)
		return c;
	if (x->key == NULL || y->key == NULL)
		return (x->key == NULL) - (y->key == NULL);
	return strcmp(x->key, y->key);
}

/*
 * rfm_category_moves(...): the same arguments; one row per customer whose
 * main category in the current window differs from the one in the
 * previous window (customers active in only one window are not moves),
 * with the activity of the main category in each window.  Rows come
 * ordered by from_category, to_category and customer_key, by name in byte
 * order, the NULL customer (rows with a NULL key form one customer) last.
 */
PG_FUNCTION_INFO_V1(rfm_category_moves);
Datum
rfm_category_moves(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	JourneyState *st;
	uint64		ncustomers;
	uint64		nmoves = 0;
	uint64		maxmoves = INITIAL_MOVES;
	Move	   *moves;
	MemoryContext old;
	MemoryContext row_cxt;

	InitMaterializedSRF(fcinfo, 0);
	st = run_journeys(fcinfo, "rfm_category_moves");
	ncustomers = rfm_customers_count(st->customers);

	/* in the call's context, so that the keys' texts count against the limit */
	moves = MemoryContextAlloc(st->cxt, maxmoves * sizeof(Move));
	for (uint64 i = 0; i < ncustomers; i++)
	{
		MainCategories mc;
		Move	   *m;
		bool		isnull;
		Datum		key;

		CHECK_FOR_INTERRUPTS();
		main_categories(st, rfm_customers_payload(st->customers, i), &mc);
		if (mc.main[WINDOW_PREVIOUS] == NULL || mc.main[WINDOW_CURRENT] == NULL ||
			mc.main[WINDOW_PREVIOUS]->category == mc.main[WINDOW_CURRENT]->category)
			continue;
		if (nmoves == maxmoves)
		{
			check_memory(st);
			maxmoves *= 2;
			moves = repalloc_huge(moves, maxmoves * sizeof(Move));
		}
		m = &moves[nmoves++];
		m->previous = mc.main[WINDOW_PREVIOUS];
		m->current = mc.main[WINDOW_CURRENT];
		m->cell.from = rfm_dictionary_rank(st->categories, m->previous->category);
		m->cell.to = rfm_dictionary_rank(st->categories, m->current->category);
		key = rfm_customers_key_text(st->customers, i, &isnull);
		m->key = NULL;
		if (!isnull)
		{
			old = MemoryContextSwitchTo(st->cxt);
			m->key = TextDatumGetCString(key);
			MemoryContextSwitchTo(old);
			pfree(DatumGetPointer(key));
		}
	}
	check_memory(st);
	qsort(moves, nmoves, sizeof(Move), compare_moves);

	row_cxt = AllocSetContextCreate(CurrentMemoryContext, "rfm_category_moves row",
									ALLOCSET_SMALL_SIZES);
	for (uint64 i = 0; i < nmoves; i++)
	{
		const Move *m = &moves[i];
		Datum		values[MOVE_COLS];
		bool		nulls[MOVE_COLS] = {false, false, false, false, false};

		old = MemoryContextSwitchTo(row_cxt);

		nulls[0] = m->key == NULL;
		values[0] = nulls[0] ? (Datum) 0 : CStringGetTextDatum(m->key);
		values[1] = category_text(st, m->cell.from, &nulls[1]);
		values[2] = category_text(st, m->cell.to, &nulls[2]);
		values[3] = NumericGetDatum(activity_numeric(m->previous));
		values[4] = NumericGetDatum(activity_numeric(m->current));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		MemoryContextSwitchTo(old);
		MemoryContextReset(row_cxt);
	}
	MemoryContextDelete(row_cxt);
	MemoryContextDelete(st->cxt);
	return (Datum) 0;
}
