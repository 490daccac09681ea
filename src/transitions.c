/*-------------------------------------------------------------------------
 *
 * transitions.c
 *	  Journeys across categories: each customer's main category in two
 *	  adjacent windows, counted per pair of categories
 *	  (rfm_category_transitions) or listed for the customers who changed
 *	  (rfm_category_moves).
 *
 * journey.c says where the windows are and how the main category is
 * picked: the largest activity (events, or the exact sum of a weight
 * column), then the latest event, then the first name in byte order.
 * Rows with a NULL time or category are skipped; a NULL weight adds
 * nothing but the row still counts as an event (its time breaks ties), as
 * in rfm_metrics.
 *
 * Both ways read only the rows the windows can hold (window_condition: a
 * range of the time column, which an index serves and foreign servers
 * apply), by scan.c's one rule (rfm_read_by_states):
 *
 * - by rows, in one scan into scan.c's table of customers, each with a
 *	 list of (window, category) activities kept sorted for binary search.
 *	 Memory: per customer about 90 bytes of hash entry and bookkeeping and
 *	 16 of payload, plus 48 bytes per (window, category) it was active in;
 *	 per category as in dictionary.c.  At the end, 8 bytes per customer for
 *	 the transitions, or for the moves 32 bytes plus the key's text per
 *	 customer who moved.  Past rfm_segment.max_memory, under scan = auto,
 *	 the scan (or the lists after it) gives up and the states are read
 *	 instead.
 * - by states: one GROUP BY customer with rfm_journey_state_agg
 *	 (journey_state.c), which gives each customer's two main categories;
 *	 the transitions are then counted, and the moves sorted, in SQL, so
 *	 nothing is held per customer here.  PostgreSQL runs it in parallel,
 *	 spills it under work_mem and pushes it to postgres_fdw servers and
 *	 Citus shards.  The aggregate compares categories as text, which is
 *	 what the rows way compares only when a value prints one way: so the
 *	 states way takes a category column of text or varchar (with a
 *	 deterministic collation), an integer, date, boolean or uuid.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "decimal.h"
#include "dictionary.h"
#include "guc.h"
#include "journey.h"
#include "scan.h"
#include "timeutil.h"

#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

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
#define WINDOW_PREVIOUS RFM_WINDOW_PREVIOUS
#define WINDOW_CURRENT	RFM_WINDOW_CURRENT
#define NWINDOWS		RFM_NWINDOWS

/* no main category in a window */
#define NO_CATEGORY		(-1)

/* a customer's list of activities starts with room for this many */
#define INITIAL_ACTIVITIES	2

/* the list of moves starts with room for this many, then doubles */
#define INITIAL_MOVES		1024

/* the states query's parameters: the spec and the range of the windows */
#define STATES_NARGS	3

/* what the range of rows read adds on each side of the windows */
#define WINDOW_MARGIN	(2 * USECS_PER_DAY)

/* lists grow in many small steps: the memory is checked this often */
#define MEMORY_CHECK_ROWS	65536

/* output columns */
#define TRANSITION_COLS 4
#define MOVE_COLS		5

/*
 * What a customer costs in the hash table, for the choice of the states
 * way: hash entry, key and payload, and two activities
 */
#define BYTES_PER_CUSTOMER	200

#define MEMORY_HINT "Set rfm_segment.scan = states, which reads one state per customer and spills to disk under work_mem (for a category column of text, an integer or a date), or use a shorter period"
#define WEIGHT_HINT "Pass NULL to leave the row out of the activity."

/* a customer's activity in one category in one window */
typedef struct Activity
{
	RfmActivity act;			/* journey.c's */
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
	RfmWindows	windows;
	bool		text_categories;	/* the states way may read them */
	bool		soft_limit;		/* past max_memory: give up, read states */
	bool		overflow;		/* gave up */
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

/*
 * Whether the call may hold extra bytes more: past rfm_segment.max_memory
 * false under a soft limit (the caller then reads the states instead),
 * else the error.
 */
static bool
fits(JourneyState *st, Size extra)
{
	Size		held = MemoryContextMemAllocated(st->cxt, true) + extra;

	if (st->soft_limit && held > (Size) rfm_max_memory_kb * 1024)
		return false;
	rfm_check_memory(held, st->function, MEMORY_HINT);
	return true;
}

/*
 * Drop what the rows way holds, past max_memory under a soft limit: st->cxt
 * NULL tells the caller to read the states.  when says at which step, for
 * the DEBUG1 message.
 */
static void
give_up(JourneyState *st, const char *when)
{
	ereport(DEBUG1,
			(errmsg_internal("%s: the customers pass rfm_segment.max_memory %s; reading the states instead",
							 st->function, when)));
	rfm_customers_free(st->customers);
	MemoryContextDelete(st->cxt);
	st->cxt = NULL;
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
	rfm_activity_init(&a->act);
	a->window = window;
	a->category = category;
	return a;
}

/* does a beat b for main category: more activity, a later event, a name */
static bool
beats(const JourneyState *st, const Activity *a, const Activity *b)
{
	int			c = rfm_activity_compare(&a->act, &b->act);

	if (c != 0)
		return c > 0;
	return rfm_dictionary_rank(st->categories, a->category) <
		rfm_dictionary_rank(st->categories, b->category);
}

/* one scanned row: (key, time, category, weight); false: give up */
static bool
journey_row(TupleTableSlot *slot, void *arg)
{
	JourneyState *st = (JourneyState *) arg;
	RfmTerm		weight = {0};
	int64		t;
	int			window;
	int32		category;
	Journey    *j;
	Activity   *a;
	bool		found;

	if (++st->rows % MEMORY_CHECK_ROWS == 0 && !fits(st, 0))
	{
		st->overflow = true;
		return false;
	}
	if (slot->tts_isnull[COL_TIME])
		return true;
	/* bad data in the rows read is an error, as in rfm_analyze */
	t = rfm_event_usecs(slot->tts_values[COL_TIME], st->is_date, "event_time");
	if (st->columns[COL_WEIGHT] == NULL)
		weight = rfm_term_one;
	else if (!slot->tts_isnull[COL_WEIGHT])
		rfm_term_from_numeric((struct varlena *) DatumGetPointer(slot->tts_values[COL_WEIGHT]),
							  "weight", WEIGHT_HINT, &weight);

	window = rfm_journey_window(&st->windows, t);
	if (window < 0 || slot->tts_isnull[COL_CATEGORY])
		return true;
	j = rfm_customers_lookup(st->customers, slot->tts_values[COL_KEY],
							 slot->tts_isnull[COL_KEY], &found);
	if (j == NULL)
	{
		/* a new customer past the soft limit */
		st->overflow = true;
		return false;
	}
	(void) rfm_dictionary_lookup(st->categories, slot->tts_values[COL_CATEGORY],
								 &category);
	a = find_activity(st, j, window, category);
	rfm_activity_add(&a->act, &weight, t, rfm_customers_context(st->customers));
	return true;
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

/*
 * Whether a category column's values compare as their text, so that the
 * states way (which reads them as text) gives the rows way's answer: a
 * value that prints one way, in a collation that tells apart what differs.
 */
static bool
text_categories(Oid type, Oid collation)
{
	switch (type)
	{
		case TEXTOID:
		case VARCHAROID:
			return !OidIsValid(collation) || get_collation_isdeterministic(collation);
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case DATEOID:
		case BOOLOID:
		case UUIDOID:
			return true;
		default:
			return false;
	}
}

/* read and check the arguments, and the windows they make */
static void
read_arguments(FunctionCallInfo fcinfo, JourneyState *st)
{
	static const char *const argnames[NCOLUMNS] = {
		"customer_column", "time_column", "category_column", "weight_column"
	};
	Oid			category_type;
	Oid			collation;

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

	rfm_journey_windows(rfm_as_of_usecs(PG_GETARG_TIMESTAMPTZ(ARG_AS_OF), st->is_date, "as_of"),
						PG_GETARG_INTERVAL_P(ARG_PERIOD), "period", &st->windows);
	category_type = rfm_column_type(st->relid, st->columns[COL_CATEGORY], "category_column",
									&collation);
	st->text_categories = text_categories(category_type, collation);
}

/*
 * The rows the windows can hold, as a range of the time column in its own
 * type ($first and $first + 1 of a query), which an index on the column
 * serves and a foreign server or Citus worker applies: two days wider on
 * each side than the windows, since a wall time or a date lies within a
 * day of the instant it stands for; the exact bounds are checked row by
 * row (journey.c).  Rows outside are not read, so bad data there (an
 * infinite time, a NaN weight) is not seen: it cannot change the answer.
 */
static char *
window_condition(const JourneyState *st, int first, Oid *types, Datum *values)
{
	int64		from = st->windows.start[WINDOW_PREVIOUS];
	int64		to = st->windows.as_of;

	from = from < MIN_TIMESTAMP + WINDOW_MARGIN ? MIN_TIMESTAMP : from - WINDOW_MARGIN;
	to = to >= END_TIMESTAMP - WINDOW_MARGIN ? END_TIMESTAMP - 1 : to + WINDOW_MARGIN;
	/* a day's rounding of a date is within the margin */
	types[0] = types[1] = st->time_type;
	values[0] = rfm_usecs_datum(from, st->is_date);
	values[1] = rfm_usecs_datum(to, st->is_date);
	return psprintf(" WHERE %s >= $%d AND %s <= $%d", quote_identifier(st->columns[COL_TIME]), first,
					quote_identifier(st->columns[COL_TIME]), first + 1);
}

/* the scan's query: numbers as numeric, a timestamp as timestamptz */
static char *
build_query(const JourneyState *st, Oid *types, Datum *values)
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
	appendStringInfo(&buf, " FROM %s%s", rfm_relation_name(st->relid),
					 window_condition(st, 1, types, values));
	return buf.data;
}

/*
 * Check the arguments and choose the way.  By rows, scan: every customer's
 * activities in both windows, and the categories ranked by name.  By
 * states (chosen, or a scan under scan = auto that passed max_memory and
 * gave up), st->cxt is NULL and the caller reads the states.
 */
static JourneyState *
run_journeys(FunctionCallInfo fcinfo, const char *function)
{
	JourneyState *st = palloc0(sizeof(JourneyState));
	MemoryContext old;
	bool		by_states;
	char	   *query;
	Oid			types[2];
	Datum		values[2];

	st->function = function;
	read_arguments(fcinfo, st);
	by_states = rfm_read_by_states(st->relid, st->columns[COL_KEY], BYTES_PER_CUSTOMER);
	if (by_states && !st->text_categories)
	{
		if (rfm_scan_mode == RFM_SCAN_STATES)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("%s reads by states only a category_column of text, varchar, an integer, date, boolean or uuid type",
							function),
					 errhint("Cast the category to text in a view, or set rfm_segment.scan = rows.")));
		by_states = false;		/* auto, a foreign source: its rows, then */
	}
	if (by_states)
		return st;

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
	st->soft_limit = rfm_scan_mode == RFM_SCAN_AUTO && st->text_categories;
	if (st->soft_limit)
		rfm_customers_set_soft_limit(st->customers);

	query = build_query(st, types, values);
	(void) rfm_scan_until_params(st->relid, query, 2, types, values, journey_row, st);
	if (st->overflow)
	{
		/* what the partial scan saw is seen again by the states */
		give_up(st, "while reading the rows");
		return st;
	}

	old = MemoryContextSwitchTo(st->cxt);
	rfm_dictionary_sort(st->categories);
	MemoryContextSwitchTo(old);
	if (!fits(st, 0))
		give_up(st, "sorting the categories");
	return st;
}

/*
 * The states query: (customer key, its rfm_journey_state) for every
 * customer, the spec ($1) made of as_of, period and the session's zone,
 * over the rows of the windows ($2, $3).
 */
static char *
states_query(FunctionCallInfo fcinfo, const JourneyState *st, Oid *types, Datum *values)
{
	Oid			namespace = get_func_namespace(fcinfo->flinfo->fn_oid);
	Datum		fields[3];
	bool		nulls[3] = {false, false, false};
	char	   *query;

	fields[0] = PG_GETARG_DATUM(ARG_AS_OF);
	fields[1] = PG_GETARG_DATUM(ARG_PERIOD);
	fields[2] = CStringGetTextDatum(pg_get_timezone_name(session_timezone));
	values[0] = rfm_schema_row(namespace, "rfm_journey_spec", fields, nulls, &types[0]);
	query = psprintf("SELECT %s AS k, %s.rfm_journey_state_agg(%s, %s::pg_catalog.text, %s, $1) AS st "
					 "FROM %s%s GROUP BY %s",
					 quote_identifier(st->columns[COL_KEY]),
					 quote_identifier(get_namespace_name(namespace)),
					 quote_identifier(st->columns[COL_TIME]),
					 quote_identifier(st->columns[COL_CATEGORY]),
					 st->columns[COL_WEIGHT] != NULL ?
					 psprintf("%s::pg_catalog.numeric", quote_identifier(st->columns[COL_WEIGHT])) :
					 "1::pg_catalog.numeric",
					 rfm_relation_name(st->relid), window_condition(st, 2, types + 1, values + 1),
					 quote_identifier(st->columns[COL_KEY]));
	ereport(DEBUG1,
			(errmsg_internal("rfm_segment states query: %s", query)));
	return query;
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

/* the transitions read by states: (from, to, customers) rows in order */
typedef struct StateCells
{
	int64		n;
	int64		max;
	text	  **from;			/* NULL: new in the current window */
	text	  **to;				/* NULL: gone quiet */
	int64	   *customers;
	MemoryContext cxt;
} StateCells;

static void
state_cell_row(TupleTableSlot *slot, void *arg)
{
	StateCells *sc = (StateCells *) arg;
	MemoryContext old = MemoryContextSwitchTo(sc->cxt);

	if (sc->n == sc->max)
	{
		sc->max = sc->max == 0 ? 64 : sc->max * 2;
		sc->from = sc->from ? repalloc(sc->from, sc->max * sizeof(text *)) :
			palloc(sc->max * sizeof(text *));
		sc->to = sc->to ? repalloc(sc->to, sc->max * sizeof(text *)) :
			palloc(sc->max * sizeof(text *));
		sc->customers = sc->customers ? repalloc(sc->customers, sc->max * sizeof(int64)) :
			palloc(sc->max * sizeof(int64));
	}
	sc->from[sc->n] = slot->tts_isnull[0] ? NULL : DatumGetTextPCopy(slot->tts_values[0]);
	sc->to[sc->n] = slot->tts_isnull[1] ? NULL : DatumGetTextPCopy(slot->tts_values[1]);
	sc->customers[sc->n] = DatumGetInt64(slot->tts_values[2]);
	sc->n++;
	MemoryContextSwitchTo(old);
}

static bool
same_text(const text *a, const text *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return VARSIZE_ANY_EXHDR(a) == VARSIZE_ANY_EXHDR(b) &&
		memcmp(VARDATA_ANY(a), VARDATA_ANY(b), VARSIZE_ANY_EXHDR(a)) == 0;
}

/*
 * rfm_category_transitions by states: the customers counted per pair of
 * main categories in SQL (a few rows per pair of categories come back),
 * ordered as the rows way orders its ranks, names in byte order.
 */
static void
transitions_by_states(FunctionCallInfo fcinfo, const JourneyState *st)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	StateCells	sc = {0};
	Oid			types[STATES_NARGS];
	Datum		values[STATES_NARGS];
	char	   *query;
	int64		start = 0;

	query = states_query(fcinfo, st, types, values);
	query = psprintf("SELECT t.p, t.c, t.n FROM "
					 "(SELECT (g.st).previous_category AS p, (g.st).current_category AS c, "
					 "pg_catalog.count(*) AS n FROM (%s) g "
					 "WHERE (g.st).previous_category IS NOT NULL OR (g.st).current_category IS NOT NULL "
					 "GROUP BY 1, 2) t "
					 "ORDER BY t.p COLLATE \"C\" NULLS FIRST, t.c COLLATE \"C\" NULLS LAST",
					 query);
	sc.cxt = CurrentMemoryContext;
	(void) rfm_scan_states(st->relid, query, STATES_NARGS, types, values, state_cell_row, &sc);

	while (start < sc.n)
	{
		int64		end = start;
		int64		customers = 0;

		while (end < sc.n && same_text(sc.from[end], sc.from[start]))
			customers += sc.customers[end++];
		for (int64 i = start; i < end; i++)
		{
			Datum		values[TRANSITION_COLS];
			bool		nulls[TRANSITION_COLS] = {false, false, false, false};

			nulls[0] = sc.from[i] == NULL;
			values[0] = PointerGetDatum(sc.from[i]);
			nulls[1] = sc.to[i] == NULL;
			values[1] = PointerGetDatum(sc.to[i]);
			values[2] = Int64GetDatum(sc.customers[i]);
			values[3] = Float8GetDatum((float8) sc.customers[i] / (float8) customers);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
		start = end;
	}
}

/* a customer who moved, read by states, straight to the result */
static void
state_move_row(TupleTableSlot *slot, void *arg)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) arg;

	CHECK_FOR_INTERRUPTS();
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, slot->tts_values,
						 slot->tts_isnull);
}

/*
 * rfm_category_moves by states: the customers whose two main categories
 * differ, sorted in SQL (it spills under work_mem) by from, to and the
 * key's text, in byte order, the NULL customer last.
 */
static void
moves_by_states(FunctionCallInfo fcinfo, const JourneyState *st)
{
	Oid			types[STATES_NARGS];
	Datum		values[STATES_NARGS];
	char	   *query;

	query = states_query(fcinfo, st, types, values);
	query = psprintf("SELECT m.k, m.p, m.c, m.pa, m.ca FROM "
					 "(SELECT " RFM_KEY_TEXT("g.k") " AS k, (g.st).previous_category AS p, "
					 "(g.st).current_category AS c, (g.st).previous_activity AS pa, "
					 "(g.st).current_activity AS ca FROM (%s) g) m "
					 "WHERE m.p COLLATE \"C\" <> m.c COLLATE \"C\" "
					 "ORDER BY m.p COLLATE \"C\", m.c COLLATE \"C\", m.k COLLATE \"C\" NULLS LAST",
					 query);
	(void) rfm_scan_states(st->relid, query, STATES_NARGS, types, values, state_move_row,
						   fcinfo->resultinfo);
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
	if (st->cxt == NULL)
	{
		transitions_by_states(fcinfo, st);
		return (Datum) 0;
	}
	ncustomers = rfm_customers_count(st->customers);
	ncategories = rfm_dictionary_count(st->categories);

	if (!fits(st, Max(ncustomers, 1) * sizeof(Cell)))
	{
		give_up(st, "counting the transitions");
		transitions_by_states(fcinfo, st);
		return (Datum) 0;
	}
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
	if (st->cxt == NULL)
	{
		moves_by_states(fcinfo, st);
		return (Datum) 0;
	}
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
			if (!fits(st, maxmoves * sizeof(Move)))
			{
				give_up(st, "listing the moves");
				moves_by_states(fcinfo, st);
				return (Datum) 0;
			}
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
	if (!fits(st, 0))
	{
		give_up(st, "listing the moves");
		moves_by_states(fcinfo, st);
		return (Datum) 0;
	}
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
		values[3] = NumericGetDatum(rfm_activity_numeric(&m->previous->act));
		values[4] = NumericGetDatum(rfm_activity_numeric(&m->current->act));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		MemoryContextSwitchTo(old);
		MemoryContextReset(row_cxt);
	}
	MemoryContextDelete(row_cxt);
	MemoryContextDelete(st->cxt);
	return (Datum) 0;
}
