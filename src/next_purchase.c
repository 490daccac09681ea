/*-------------------------------------------------------------------------
 *
 * next_purchase.c
 *	  Time-lagged next-purchase rules, rfm_next_purchase_rules: of the
 *	  customers who bought X, how many bought Y between min_lag and max_lag
 *	  later.
 *
 * Definitions.  t is a customer's first purchase of the antecedent X (the
 * first with amount >= min_amount when min_amount is given).  The customer
 * counts for X when the whole window is observed: t + max_lag is on or
 * before the latest event of the source (censoring).  Such a customer
 * converted to Y (a different item) when they bought Y within
 * [t + min_lag, t + max_lag], both ends included; the lag is from t to the
 * first such purchase.  confidence = converted / customers; lift =
 * confidence / (share of all customers who ever bought Y), all customers
 * being those with at least one purchase; median_lag is the median lag of
 * the converted customers (for an even number, the mean of the two middle
 * lags, rounded down to the microsecond).  A rule is returned when
 * customers >= min_customers and converted >= 1.  Intervals are added as
 * in UTC (timeutil.c), so no answer depends on the session TimeZone for a
 * timestamptz column.  Rows with a NULL time or item are not purchases;
 * rows with a NULL customer form one customer, as GROUP BY makes them.
 *
 * Algorithm, and its memory.  After a first query for the latest time
 * (rfm_latest_time), the source is read once, through scan.c, in order of
 * customer and time (PostgreSQL sorts it, spilling to disk under work_mem),
 * so one customer's purchases are at hand at a time: 16 bytes per purchase
 * of the largest customer.  Per customer, each antecedent's
 * window is found by binary search among its purchases, and each
 * (antecedent, consequent, lag) triple of a converted customer goes to a
 * tuplesort (work_mem, then disk); sorted, the triples are counted rule by
 * rule, the lags of one rule held for its median (8 bytes per converted
 * customer of that rule).  Items live in a dictionary (dictionary.c, about
 * 140 bytes per item plus its key) and rules in an array (48 bytes per
 * rule returned).  So memory grows with the items, the largest customer
 * and the rules returned, not with the number of events or customers, and
 * all of it but the sorts' work_mem counts against rfm_segment.max_memory.
 * Time: a customer with n purchases costs at most n times its distinct
 * qualifying items (each window is scanned once per antecedent).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "decimal.h"
#include "dictionary.h"
#include "guc.h"
#include "scan.h"
#include "timeutil.h"

#include "access/tupdesc.h"
#include "catalog/pg_operator_d.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/tuplesort.h"
#include "utils/typcache.h"

/* argument positions */
#define ARG_SOURCE			0
#define ARG_CUSTOMER		1
#define ARG_TIME			2
#define ARG_ITEM			3
#define ARG_MIN_LAG			4
#define ARG_MAX_LAG			5
#define ARG_MIN_CUSTOMERS	6
#define ARG_AMOUNT			7
#define ARG_MIN_AMOUNT		8

/* the scanned columns */
#define COL_KEY			0
#define COL_TIME		1
#define COL_ITEM		2
#define COL_AMOUNT		3
#define NCOLUMNS		4

/* the triples sorted into rules: antecedent, consequent, lag */
#define TRIPLE_X		1
#define TRIPLE_Y		2
#define TRIPLE_LAG		3
#define TRIPLE_NATTS	3

/* output columns */
#define RULE_COLS		7

/* buffers start with room for this many entries, then double */
#define INITIAL_ENTRIES 64

/* memory is checked this often, in rows */
#define MEMORY_CHECK_ROWS	65536

#define MEMORY_HINT "Use fewer items (group them into categories), or a source whose largest customer has fewer purchases"
#define AMOUNT_HINT "Pass NULL for a purchase without an amount."
#define LAG_HINT "Pass an interval with no negative part, such as '90 days'."

/* what is counted per item */
typedef struct ItemStats
{
	int64		buyers;			/* customers who ever bought it */
	int64		antecedents;	/* customers counted for it as antecedent */
	uint64		bought_by;		/* the last customer seen buying it */
	uint64		first_of;		/* the last customer whose first qualifying
								 * purchase of it was recorded */
	uint64		window;			/* the last antecedent window it was in */
} ItemStats;

/* one purchase of the customer at hand */
typedef struct Purchase
{
	int64		time;
	int32		item;
	bool		qualifies;		/* amount >= min_amount, or no min_amount */
} Purchase;

/* a customer's first qualifying purchase of an item */
typedef struct FirstPurchase
{
	int64		time;
	int32		item;
} FirstPurchase;

/* a rule that passed the filters */
typedef struct Rule
{
	int32		x;
	int32		y;
	int64		customers;
	int64		converted;
	int64		median_lag;		/* microseconds */
	float8		confidence;
	float8		lift;
} Rule;

typedef struct RulesState
{
	/* arguments */
	Oid			relid;
	const char *columns[NCOLUMNS];	/* key, time, item, amount (or NULL) */
	Oid			time_type;
	bool		is_date;
	Interval	min_lag;
	Interval	max_lag;
	int32		min_customers;
	Numeric		min_amount;		/* NULL: every purchase qualifies */
	int64		latest;			/* the latest event of the source */

	MemoryContext cxt;			/* counted against rfm_segment.max_memory */
	RfmDictionary *items;

	/* telling customers apart: adjacent rows, the key type's equality */
	FmgrInfo   *key_eq;
	Oid			key_collation;
	int16		key_typlen;
	bool		key_typbyval;
	MemoryContext key_cxt;		/* holds the current customer's key */
	bool		in_customer;
	bool		key_isnull;
	Datum		key;

	/* the customer at hand */
	Purchase   *purchases;
	int64		npurchases;
	int64		maxpurchases;
	FirstPurchase *firsts;
	int64		nfirsts;
	int64		maxfirsts;

	uint64		customers;		/* customers finished so far */
	uint64		windows;		/* antecedent windows scanned so far */
	uint64		rows;

	/* the (antecedent, consequent, lag) triples */
	TupleDesc	triple_desc;
	TupleTableSlot *triple_slot;
	Tuplesortstate *triples;
} RulesState;

static void
check_memory(RulesState *st, Size more)
{
	rfm_check_memory(MemoryContextMemAllocated(st->cxt, true) + more,
					 "rfm_next_purchase_rules", MEMORY_HINT);
}

/* room for one more entry in a buffer of the call's context */
static void *
grow(RulesState *st, void *buffer, int64 *max, Size entry_size)
{
	int64		newmax = *max == 0 ? INITIAL_ENTRIES : *max * 2;

	check_memory(st, newmax * entry_size);
	*max = newmax;
	if (buffer == NULL)
		return MemoryContextAllocExtended(st->cxt, newmax * entry_size, MCXT_ALLOC_HUGE);
	return repalloc_huge(buffer, newmax * entry_size);
}

static ItemStats *
item_stats(RulesState *st, int32 item)
{
	return (ItemStats *) rfm_dictionary_payload(st->items, item);
}

/* the first purchase at or after t (npurchases when none) */
static int64
first_at_or_after(const RulesState *st, int64 t)
{
	int64		lo = 0,
				hi = st->npurchases;

	while (lo < hi)
	{
		int64		mid = lo + (hi - lo) / 2;

		if (st->purchases[mid].time < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void
put_triple(RulesState *st, int32 x, int32 y, int64 lag)
{
	TupleTableSlot *slot = st->triple_slot;

	ExecClearTuple(slot);
	slot->tts_values[TRIPLE_X - 1] = Int32GetDatum(x);
	slot->tts_values[TRIPLE_Y - 1] = Int32GetDatum(y);
	slot->tts_values[TRIPLE_LAG - 1] = Int64GetDatum(lag);
	memset(slot->tts_isnull, 0, TRIPLE_NATTS * sizeof(bool));
	ExecStoreVirtualTuple(slot);
	tuplesort_puttupleslot(st->triples, slot);
}

/*
 * The customer at hand is complete (its purchases sorted by time): count
 * its items, and send a triple for each item it converted to from each
 * uncensored antecedent.
 */
static void
finish_customer(RulesState *st)
{
	uint64		customer = ++st->customers;

	st->nfirsts = 0;
	for (int64 i = 0; i < st->npurchases; i++)
	{
		const Purchase *p = &st->purchases[i];
		ItemStats  *s = item_stats(st, p->item);

		if (s->bought_by != customer)
		{
			s->bought_by = customer;
			s->buyers++;
		}
		if (p->qualifies && s->first_of != customer)
		{
			s->first_of = customer;
			if (st->nfirsts == st->maxfirsts)
				st->firsts = grow(st, st->firsts, &st->maxfirsts, sizeof(FirstPurchase));
			st->firsts[st->nfirsts].time = p->time;
			st->firsts[st->nfirsts].item = p->item;
			st->nfirsts++;
		}
	}

	for (int64 a = 0; a < st->nfirsts; a++)
	{
		const FirstPurchase *f = &st->firsts[a];
		int64		end = rfm_time_plus(f->time, &st->max_lag);
		int64		start;
		uint64		window;

		CHECK_FOR_INTERRUPTS();
		if (end > st->latest)
			continue;			/* censored: the window is not all observed */
		item_stats(st, f->item)->antecedents++;
		start = rfm_time_plus(f->time, &st->min_lag);
		window = ++st->windows;
		for (int64 i = first_at_or_after(st, start);
			 i < st->npurchases && st->purchases[i].time <= end; i++)
		{
			const Purchase *p = &st->purchases[i];
			ItemStats  *s;

			if (p->item == f->item)
				continue;
			s = item_stats(st, p->item);
			if (s->window == window)
				continue;		/* only its first purchase in the window */
			s->window = window;
			put_triple(st, f->item, p->item, p->time - f->time);
		}
	}
	st->npurchases = 0;
}

/* is this row's customer the one at hand? */
static bool
same_customer(const RulesState *st, Datum key, bool isnull)
{
	if (isnull || st->key_isnull)
		return isnull && st->key_isnull;
	return DatumGetBool(FunctionCall2Coll(st->key_eq, st->key_collation, st->key, key));
}

/* one scanned row: (key, time, item, amount), in order of key and time */
static void
rules_row(TupleTableSlot *slot, void *arg)
{
	RulesState *st = (RulesState *) arg;
	Datum		key = slot->tts_values[COL_KEY];
	bool		key_isnull = slot->tts_isnull[COL_KEY];
	bool		qualifies = true;
	int64		t;
	int32		item;
	Purchase   *p;

	if (++st->rows % MEMORY_CHECK_ROWS == 0)
		check_memory(st, 0);
	/* the query leaves out rows with a NULL time or item */
	t = rfm_event_usecs(slot->tts_values[COL_TIME], st->is_date, "event_time");
	if (st->min_amount != NULL)
	{
		if (slot->tts_isnull[COL_AMOUNT])
			qualifies = false;
		else
		{
			Numeric		amount = DatumGetNumeric(slot->tts_values[COL_AMOUNT]);

			rfm_check_finite(amount, "amount", AMOUNT_HINT);
			qualifies = DatumGetBool(DirectFunctionCall2(numeric_ge,
														 NumericGetDatum(amount),
														 NumericGetDatum(st->min_amount)));
		}
	}
	(void) rfm_dictionary_lookup(st->items, slot->tts_values[COL_ITEM], &item);

	if (!st->in_customer || !same_customer(st, key, key_isnull))
	{
		MemoryContext old;

		if (st->in_customer)
			finish_customer(st);
		MemoryContextReset(st->key_cxt);
		old = MemoryContextSwitchTo(st->key_cxt);
		st->key_isnull = key_isnull;
		st->key = key_isnull ? (Datum) 0 : datumCopy(key, st->key_typbyval, st->key_typlen);
		MemoryContextSwitchTo(old);
		st->in_customer = true;
	}

	if (st->npurchases == st->maxpurchases)
		st->purchases = grow(st, st->purchases, &st->maxpurchases, sizeof(Purchase));
	p = &st->purchases[st->npurchases++];
	p->time = t;
	p->item = item;
	p->qualifies = qualifies;
}

/* a lag argument: not NULL, no negative part */
static Interval
read_lag(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	Interval   *lag;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", argname),
				 errhint("%s", LAG_HINT)));
	lag = PG_GETARG_INTERVAL_P(argno);
	if (lag->month < 0 || lag->day < 0 || lag->time < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be negative", argname),
				 errhint("%s", LAG_HINT)));
	return *lag;
}

/* the customer column: a type that sorts, and its equality */
static void
read_customer_column(RulesState *st)
{
	Oid			type = rfm_column_type(st->relid, st->columns[COL_KEY],
									   "customer_column", &st->key_collation);
	TypeCacheEntry *tce = lookup_type_cache(type, TYPECACHE_LT_OPR |
											TYPECACHE_EQ_OPR_FINFO);

	if (!OidIsValid(tce->lt_opr) || !OidIsValid(tce->eq_opr))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("customer_column \"%s\" has type %s, which cannot be sorted",
						st->columns[COL_KEY], format_type_be(type)),
				 errhint("Pass a column of type bigint, integer, text or uuid, or a view that casts it.")));
	st->key_eq = &tce->eq_opr_finfo;
	get_typlenbyval(type, &st->key_typlen, &st->key_typbyval);
}

/* read and check the arguments */
static void
read_arguments(FunctionCallInfo fcinfo, RulesState *st)
{
	st->relid = rfm_source_arg(fcinfo, ARG_SOURCE);
	st->columns[COL_KEY] = rfm_column_arg(fcinfo, ARG_CUSTOMER, "customer_column", true);
	st->columns[COL_TIME] = rfm_column_arg(fcinfo, ARG_TIME, "time_column", true);
	st->columns[COL_ITEM] = rfm_column_arg(fcinfo, ARG_ITEM, "item_column", true);
	st->columns[COL_AMOUNT] = rfm_column_arg(fcinfo, ARG_AMOUNT, "amount_column", false);

	st->min_lag = read_lag(fcinfo, ARG_MIN_LAG, "min_lag");
	st->max_lag = read_lag(fcinfo, ARG_MAX_LAG, "max_lag");
	if (st->max_lag.month == 0 && st->max_lag.day == 0 && st->max_lag.time == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_lag must be positive"),
				 errhint("%s", LAG_HINT)));
	/* PostgreSQL's order of intervals: a month counts as 30 days */
	if (DatumGetInt32(DirectFunctionCall2(interval_cmp, IntervalPGetDatum(&st->min_lag),
										  IntervalPGetDatum(&st->max_lag))) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_lag must not be greater than max_lag"),
				 errhint("Pass the start of the window as min_lag and its end as max_lag, such as '90 days' and '210 days'.")));

	if (PG_ARGISNULL(ARG_MIN_CUSTOMERS))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("min_customers must not be NULL"),
				 errhint("Pass the smallest number of antecedent customers a rule needs, such as 10.")));
	st->min_customers = PG_GETARG_INT32(ARG_MIN_CUSTOMERS);
	if (st->min_customers < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_customers must be at least 1, not %d", st->min_customers),
				 errhint("Pass the smallest number of antecedent customers a rule needs, such as 10.")));

	if (!PG_ARGISNULL(ARG_MIN_AMOUNT))
	{
		if (st->columns[COL_AMOUNT] == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("min_amount needs amount_column"),
					 errhint("Name the column of purchase amounts, or leave min_amount out.")));
		st->min_amount = PG_GETARG_NUMERIC(ARG_MIN_AMOUNT);
		rfm_check_finite(st->min_amount, "min_amount",
						 "Pass a number, or NULL for purchases of any amount.");
	}

	st->time_type = rfm_time_column_type(st->relid, st->columns[COL_TIME], "time_column");
	st->is_date = st->time_type == DATEOID;
	rfm_check_number_column(st->relid, st->columns[COL_AMOUNT], "amount_column");
	read_customer_column(st);
}

/*
 * The scan's query: purchases in order of customer and time.  The time is
 * sorted as read (a timestamp cast to timestamptz), and the amount is read
 * only when it matters.
 */
static char *
build_query(const RulesState *st)
{
	StringInfoData buf;
	const char *time_column = quote_identifier(st->columns[COL_TIME]);
	const char *item_column = quote_identifier(st->columns[COL_ITEM]);

	initStringInfo(&buf);
	appendStringInfo(&buf, "SELECT %s, %s%s, %s, ",
					 quote_identifier(st->columns[COL_KEY]), time_column,
					 st->time_type == TIMESTAMPOID ? "::pg_catalog.timestamptz" : "",
					 item_column);
	if (st->min_amount != NULL)
		appendStringInfo(&buf, "%s::pg_catalog.numeric", quote_identifier(st->columns[COL_AMOUNT]));
	else
		appendStringInfoString(&buf, "NULL::pg_catalog.numeric");
	appendStringInfo(&buf, " FROM %s WHERE %s IS NOT NULL AND %s IS NOT NULL ORDER BY 1, 2",
					 rfm_relation_name(st->relid), time_column, item_column);
	return buf.data;
}

/* a tuplesort of (antecedent int4, consequent int4, lag int8) */
static void
begin_triples(RulesState *st)
{
	static AttrNumber atts[TRIPLE_NATTS] = {TRIPLE_X, TRIPLE_Y, TRIPLE_LAG};
	static Oid	ops[TRIPLE_NATTS] = {Int4LessOperator, Int4LessOperator, Int8LessOperator};
	static Oid	collations[TRIPLE_NATTS] = {InvalidOid, InvalidOid, InvalidOid};
	static bool nulls_first[TRIPLE_NATTS] = {false, false, false};

	st->triple_desc = CreateTemplateTupleDesc(TRIPLE_NATTS);
	TupleDescInitEntry(st->triple_desc, TRIPLE_X, "antecedent", INT4OID, -1, 0);
	TupleDescInitEntry(st->triple_desc, TRIPLE_Y, "consequent", INT4OID, -1, 0);
	TupleDescInitEntry(st->triple_desc, TRIPLE_LAG, "lag", INT8OID, -1, 0);
	st->triple_slot = MakeSingleTupleTableSlot(st->triple_desc, &TTSOpsVirtual);
	st->triples = tuplesort_begin_heap(st->triple_desc, TRIPLE_NATTS, atts, ops,
									   collations, nulls_first, work_mem, NULL,
									   TUPLESORT_NONE);
}

/* the median of sorted lags, for an even count rounded down */
static int64
median(const int64 *lags, int64 n)
{
	int64		a = lags[(n - 1) / 2];
	int64		b = lags[n / 2];

	return a + (b - a) / 2;
}

/*
 * The sorted triples as rules: per (antecedent, consequent), the converted
 * customers and their median lag, kept when the antecedent has
 * min_customers.
 */
static Rule *
count_rules(RulesState *st, int64 *nrules)
{
	TupleTableSlot *slot = MakeSingleTupleTableSlot(st->triple_desc, &TTSOpsMinimalTuple);
	Rule	   *rules = NULL;
	int64		maxrules = 0;
	int64	   *lags = NULL;
	int64		maxlags = 0;
	bool		more;
	bool		isnull;

	*nrules = 0;
	tuplesort_performsort(st->triples);
	more = tuplesort_gettupleslot(st->triples, true, false, slot, NULL);
	while (more)
	{
		int32		x = DatumGetInt32(slot_getattr(slot, TRIPLE_X, &isnull));
		int32		y = DatumGetInt32(slot_getattr(slot, TRIPLE_Y, &isnull));
		const ItemStats *sx = item_stats(st, x);
		const ItemStats *sy = item_stats(st, y);
		int64		n = 0;
		Rule	   *r;

		CHECK_FOR_INTERRUPTS();
		do
		{
			if (n == maxlags)
				lags = grow(st, lags, &maxlags, sizeof(int64));
			lags[n++] = DatumGetInt64(slot_getattr(slot, TRIPLE_LAG, &isnull));
			more = tuplesort_gettupleslot(st->triples, true, false, slot, NULL);
		} while (more &&
				 DatumGetInt32(slot_getattr(slot, TRIPLE_X, &isnull)) == x &&
				 DatumGetInt32(slot_getattr(slot, TRIPLE_Y, &isnull)) == y);

		if (sx->antecedents < st->min_customers)
			continue;
		if (*nrules == maxrules)
			rules = grow(st, rules, &maxrules, sizeof(Rule));
		r = &rules[(*nrules)++];
		r->x = x;
		r->y = y;
		r->customers = sx->antecedents;
		r->converted = n;
		r->median_lag = median(lags, n);
		r->confidence = (float8) n / (float8) sx->antecedents;
		r->lift = r->confidence / ((float8) sy->buyers / (float8) st->customers);
	}
	tuplesort_end(st->triples);
	ExecDropSingleTupleTableSlot(slot);
	return rules;
}

static int
compare_rules(const void *a, const void *b, void *arg)
{
	const RfmDictionary *items = (const RfmDictionary *) arg;
	const Rule *x = (const Rule *) a;
	const Rule *y = (const Rule *) b;
	int32		rx = rfm_dictionary_rank(items, x->x);
	int32		ry = rfm_dictionary_rank(items, y->x);

	if (rx == ry)
	{
		rx = rfm_dictionary_rank(items, x->y);
		ry = rfm_dictionary_rank(items, y->y);
	}
	return (rx > ry) - (rx < ry);
}

/*
 * rfm_next_purchase_rules(source, customer_column, time_column,
 * item_column, min_lag, max_lag, min_customers, amount_column, min_amount):
 * the rules "customers who bought X bought Y between min_lag and max_lag
 * later", as defined at the top of this file.  Rows come ordered by
 * antecedent and consequent, by name in byte order.  Only amount_column
 * and min_amount may be NULL; min_amount needs amount_column (the amount
 * is read only then).  A source without events returns no rows.
 */
PG_FUNCTION_INFO_V1(rfm_next_purchase_rules);
Datum
rfm_next_purchase_rules(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RulesState *st = palloc0(sizeof(RulesState));
	TimestampTz latest;
	MemoryContext old;
	Rule	   *rules;
	int64		nrules;

	read_arguments(fcinfo, st);
	st->cxt = AllocSetContextCreate(CurrentMemoryContext, "rfm_next_purchase_rules",
									ALLOCSET_DEFAULT_SIZES);
	st->key_cxt = AllocSetContextCreate(st->cxt, "rfm_next_purchase_rules key",
										ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(st->cxt);
	st->items = rfm_dictionary_create(st->relid, st->columns[COL_ITEM], "item_column",
									  sizeof(ItemStats), "rfm_next_purchase_rules",
									  MEMORY_HINT);
	MemoryContextSwitchTo(old);

	InitMaterializedSRF(fcinfo, 0);
	if (!rfm_latest_time(st->relid, st->columns[COL_TIME], &latest))
	{
		MemoryContextDelete(st->cxt);
		return (Datum) 0;		/* no events: no rules */
	}
	st->latest = rfm_as_of_usecs(latest, st->is_date, "event_time");

	begin_triples(st);
	(void) rfm_scan(build_query(st), rules_row, st);
	if (st->in_customer)
		finish_customer(st);
	rules = count_rules(st, &nrules);

	old = MemoryContextSwitchTo(st->cxt);
	rfm_dictionary_sort(st->items);
	MemoryContextSwitchTo(old);
	check_memory(st, 0);
	qsort_arg(rules, nrules, sizeof(Rule), compare_rules, st->items);

	for (int64 i = 0; i < nrules; i++)
	{
		const Rule *r = &rules[i];
		Datum		values[RULE_COLS];
		bool		nulls[RULE_COLS] = {false, false, false, false, false, false, false};
		Interval	lag;

		lag.month = 0;
		lag.day = (int32) (r->median_lag / USECS_PER_DAY);
		lag.time = r->median_lag % USECS_PER_DAY;
		values[0] = CStringGetTextDatum(rfm_dictionary_name(st->items, r->x));
		values[1] = CStringGetTextDatum(rfm_dictionary_name(st->items, r->y));
		values[2] = Int64GetDatum(r->customers);
		values[3] = Int64GetDatum(r->converted);
		values[4] = Float8GetDatum(r->confidence);
		values[5] = Float8GetDatum(r->lift);
		values[6] = IntervalPGetDatum(&lag);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		pfree(DatumGetPointer(values[0]));
		pfree(DatumGetPointer(values[1]));
	}
	ExecDropSingleTupleTableSlot(st->triple_slot);
	MemoryContextDelete(st->cxt);
	return (Datum) 0;
}
