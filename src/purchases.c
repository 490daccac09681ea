/*-------------------------------------------------------------------------
 *
 * purchases.c
 *	  A customer's purchase days and spend, as the lifetime-value summary
 *	  (rfm_clv_summary) needs them, and rfm_clv_state_agg, the aggregate
 *	  that gathers them per customer where the rows are.
 *
 * A purchase is a distinct calendar day of the customer (clv_summary.c
 * says which).  A customer keeps the days seen, as day * 2 + (the day had
 * an amount), appended and sorted with duplicates merged whenever the
 * buffer fills (doubling it only when that frees less than half), so a
 * customer costs O(d log d) for d events; and three exact sums (decimal.h,
 * with numeric arithmetic past 38 digits): the first day's amounts, the
 * later calibration days' (the repeat purchases) and the holdout's.  A
 * day earlier than the first moves the first day's sum to the repeat
 * days' when that day is the calibration's.  Each sum keeps the largest
 * display scale of its terms, as sum() shows it, so the repeat days' mean
 * is the one sum() / count() gives.
 *
 * The same customer gathered in pieces (parallel workers, partitions,
 * shards) merges into what one piece of all the rows gives: the days'
 * union, and the sums by the same rule.  So rfm_clv_summary may read a
 * source by rows into its hash table, or by one GROUP BY customer with
 * rfm_clv_state_agg, which PostgreSQL runs in parallel, spills under
 * work_mem and pushes to postgres_fdw servers and Citus shards; the
 * aggregate's result is the composite rfm_clv_state, which travels as
 * text, and which rfm_clv_state_merge merges (an incremental model folds
 * its new rows' states into its stored ones with it).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "cohort.h"
#include "parallel.h"
#include "purchases.h"
#include "spec.h"
#include "timeutil.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

/* a customer's day buffer starts with room for this many */
#define INITIAL_DAYS		4

/* the version of the serialized state, for parallel workers */
#define PURCHASES_SERIAL_VERSION	1

/* the fields of rfm_clv_state */
#define STATE_DAYS			0
#define STATE_UNPRICED		1
#define STATE_FIRST			2
#define STATE_REPEAT		3
#define STATE_HOLDOUT		4
#define STATE_NFIELDS		5

#define AMOUNT_HINT "Pass NULL for an event without an amount."
#define SPEC_HINT "Pass ROW(calibration_end, holdout_end, tz)::rfm_clv_spec, such as ROW('1997-09-30', NULL, 'UTC')::rfm_clv_spec."
#define STATE_HINT "Pass a state made by rfm_clv_state_agg."

/* an exact sum: the fast part, and what passed 38 digits */
typedef struct ExactSum
{
	RfmDecimal	small;
	Numeric		big;			/* NULL, or in the purchases' context */
} ExactSum;

struct RfmPurchases
{
	int32		first_day;
	int32		ndays;			/* 0: no purchase yet */
	int32		maxdays;
	int32	   *days;			/* day * 2 + had an amount */
	ExactSum	first;			/* amounts of the first day, if the
								 * calibration's */
	ExactSum	repeat;			/* of the calibration's later days */
	ExactSum	holdout;		/* of the days after calibration_end */
};

/* the aggregate's state: the purchases and the spec they were split by */
typedef struct ClvAggState
{
	RfmClvBounds bounds;
	pg_tz	   *tz;
	RfmPurchases p;
} ClvAggState;

/* a parsed spec */
typedef struct ClvSpec
{
	RfmClvBounds bounds;
	pg_tz	   *tz;
} ClvSpec;

Size
rfm_purchases_size(void)
{
	return sizeof(RfmPurchases);
}

/*
 * The calibration and holdout ends (dates, NULL for none), checked, as
 * Julian day numbers.
 */
void
rfm_clv_bounds_set(RfmClvBounds *bounds, bool has_cal_end, DateADT cal_end,
				   bool has_hold_end, DateADT hold_end)
{
	memset(bounds, 0, sizeof(RfmClvBounds));
	bounds->has_cal_end = has_cal_end;
	bounds->has_hold_end = has_hold_end;
	if (has_cal_end)
	{
		(void) rfm_date_usecs(cal_end, "calibration_end");
		bounds->cal_end = cal_end + POSTGRES_EPOCH_JDATE;
	}
	if (has_hold_end)
	{
		(void) rfm_date_usecs(hold_end, "holdout_end");
		bounds->hold_end = hold_end + POSTGRES_EPOCH_JDATE;
		if (!has_cal_end)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("holdout_end needs calibration_end"),
					 errhint("Pass the end of the calibration period too; the holdout period follows it.")));
		if (bounds->hold_end < bounds->cal_end)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("holdout_end must not be before calibration_end"),
					 errhint("The holdout period follows the calibration period.")));
	}
}

static inline bool
in_calibration(const RfmClvBounds *bounds, int32 day)
{
	return !bounds->has_cal_end || day <= bounds->cal_end;
}

static bool
bounds_equal(const RfmClvBounds *a, const RfmClvBounds *b)
{
	return a->has_cal_end == b->has_cal_end && a->cal_end == b->cal_end &&
		a->has_hold_end == b->has_hold_end && a->hold_end == b->hold_end;
}

/*
 * The calendar day of an event as a Julian day number: a wall-clock time's
 * own date, a timestamptz's date in tz (cohort.c's day periods, which are
 * DateADT values, moved to the Julian origin).  Julian days of the
 * timestamp range are positive, so day * 2 + flag shifts back without a
 * sign, and fits int32 (dates are checked to lie in that range).
 */
int32
rfm_purchase_day(Datum value, Oid time_type, pg_tz *tz)
{
	/* a date is its day: checked to the timestamp range, not converted */
	if (time_type == DATEOID)
	{
		(void) rfm_date_usecs(DatumGetDateADT(value), "event_time");
		return DatumGetDateADT(value) + POSTGRES_EPOCH_JDATE;
	}
	return rfm_period_of_event(value, time_type, tz, RFM_GRAIN_DAY, "event_time") +
		POSTGRES_EPOCH_JDATE;
}

/* the value of an exact sum */
static Datum
exact_value(const ExactSum *sum)
{
	Datum		value = NumericGetDatum(rfm_decimal_numeric(&sum->small));

	if (sum->big)
		value = DirectFunctionCall2(numeric_add, value, NumericGetDatum(sum->big));
	return value;
}

/* the sum becomes value (a Numeric): its fast part if it fits, else in cxt */
static void
exact_set(ExactSum *sum, Datum value, MemoryContext cxt)
{
	Numeric		num = DatumGetNumeric(value);

	if (sum->big)
		pfree(sum->big);
	sum->big = NULL;
	if (!rfm_decimal_set(&sum->small, num))
	{
		sum->big = MemoryContextAlloc(cxt, VARSIZE(num));
		memcpy(sum->big, num, VARSIZE(num));
	}
}

/* add a term, in numeric arithmetic once past 38 digits */
static void
exact_add(ExactSum *sum, const RfmTerm *term, MemoryContext cxt)
{
	Datum		total;

	if (term->fits && rfm_decimal_add(&sum->small, term->mantissa, term->scale))
		return;
	total = DirectFunctionCall2(numeric_add, exact_value(sum),
								term->fits ?
								NumericGetDatum(rfm_int128_to_numeric(term->mantissa, term->scale)) :
								NumericGetDatum(term->value));
	exact_set(sum, total, cxt);
}

/* add another sum */
static void
exact_merge(ExactSum *sum, const ExactSum *other, MemoryContext cxt)
{
	Datum		total;

	if (other->big == NULL && rfm_decimal_merge(&sum->small, &other->small))
		return;
	total = DirectFunctionCall2(numeric_add, exact_value(sum), exact_value(other));
	exact_set(sum, total, cxt);
}

static void
exact_reset(ExactSum *sum)
{
	rfm_decimal_reset(&sum->small);
	if (sum->big)
		pfree(sum->big);
	sum->big = NULL;
}

static int
int32_cmp(const void *a, const void *b)
{
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* sort the days and merge repeats, keeping "had an amount" if any had */
static void
compact_days(RfmPurchases *p)
{
	int32		n = 0;

	qsort(p->days, p->ndays, sizeof(int32), int32_cmp);
	for (int32 i = 0; i < p->ndays; i++)
	{
		if (n > 0 && (p->days[n - 1] >> 1) == (p->days[i] >> 1))
			p->days[n - 1] |= p->days[i];
		else
			p->days[n++] = p->days[i];
	}
	p->ndays = n;
}

/*
 * Room for more days past ndays: the buffer is compacted first, and grown
 * (at least doubled) when that leaves it more than half full.
 */
static void
reserve_days(RfmPurchases *p, int32 more, MemoryContext cxt)
{
	int64		want;

	if (p->ndays + more <= p->maxdays)
		return;
	if (p->days == NULL)
	{
		p->maxdays = Max(INITIAL_DAYS, more);
		p->days = MemoryContextAlloc(cxt, p->maxdays * sizeof(int32));
		return;
	}
	compact_days(p);
	if (p->ndays + more <= p->maxdays && p->ndays <= p->maxdays / 2)
		return;
	want = Max((int64) p->maxdays * 2, (int64) p->ndays + more);
	if (want > (int64) (MaxAllocHugeSize / sizeof(int32)) || want > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a customer has too many purchase days")));
	p->maxdays = (int32) want;
	p->days = repalloc_huge(p->days, (Size) p->maxdays * sizeof(int32));
}

/* one more event: its day (a Julian day number) and amount */
void
rfm_purchases_add(RfmPurchases *p, const RfmClvBounds *bounds, int32 day,
				  const RfmTerm *amount, MemoryContext cxt)
{
	int32		code = day * 2 + (amount->present ? 1 : 0);

	if (p->ndays == 0 || day < p->first_day)
	{
		/* the first day so far becomes a repeat day, or stays a holdout day */
		if (p->ndays > 0 && in_calibration(bounds, p->first_day))
			exact_merge(&p->repeat, &p->first, cxt);
		exact_reset(&p->first);
		p->first_day = day;
	}
	if (amount->present)
	{
		if (!in_calibration(bounds, day))
			exact_add(&p->holdout, amount, cxt);
		else if (day == p->first_day)
			exact_add(&p->first, amount, cxt);
		else
			exact_add(&p->repeat, amount, cxt);
	}

	/* the common case: one more event of the day just added */
	if (p->ndays > 0 && (p->days[p->ndays - 1] >> 1) == day)
	{
		p->days[p->ndays - 1] |= code;
		return;
	}
	reserve_days(p, 1, cxt);
	p->days[p->ndays++] = code;
}

/* add another customer's purchases (the same customer, elsewhere) */
void
rfm_purchases_merge(RfmPurchases *p, const RfmPurchases *other,
					const RfmClvBounds *bounds, MemoryContext cxt)
{
	if (other->ndays == 0)
		return;
	if (p->ndays > 0 && other->first_day > p->first_day)
	{
		/* the other's first day is one of the repeat days here */
		if (in_calibration(bounds, other->first_day))
			exact_merge(&p->repeat, &other->first, cxt);
	}
	else if (p->ndays > 0 && other->first_day == p->first_day)
		exact_merge(&p->first, &other->first, cxt);
	else
	{
		if (p->ndays > 0 && in_calibration(bounds, p->first_day))
			exact_merge(&p->repeat, &p->first, cxt);
		exact_reset(&p->first);
		exact_merge(&p->first, &other->first, cxt);
		p->first_day = other->first_day;
	}
	exact_merge(&p->repeat, &other->repeat, cxt);
	exact_merge(&p->holdout, &other->holdout, cxt);
	reserve_days(p, other->ndays, cxt);
	memcpy(p->days + p->ndays, other->days, other->ndays * sizeof(int32));
	p->ndays += other->ndays;
	compact_days(p);
}

/*
 * A customer's purchases in a message to another parallel process
 * (exchange.c): this header, then the days, then the sums past 38 digits,
 * each MAXALIGNed so that rfm_purchases_read reads them in place.
 */
typedef struct PurchasesHeader
{
	int32		first_day;
	int32		ndays;
	RfmDecimal	small[3];		/* first, repeat, holdout */
	bool		big[3];
} PurchasesHeader;

void
rfm_purchases_write(const RfmPurchases *p, StringInfo buf)
{
	const ExactSum *sums[3] = {&p->first, &p->repeat, &p->holdout};
	PurchasesHeader header;

	memset(&header, 0, sizeof(header));
	header.first_day = p->first_day;
	header.ndays = p->ndays;
	for (int k = 0; k < 3; k++)
	{
		header.small[k] = sums[k]->small;
		header.big[k] = sums[k]->big != NULL;
	}
	appendBinaryStringInfo(buf, (const char *) &header, sizeof(header));
	rfm_parallel_pad(buf);
	appendBinaryStringInfo(buf, (const char *) p->days, p->ndays * sizeof(int32));
	rfm_parallel_pad(buf);
	for (int k = 0; k < 3; k++)
		if (sums[k]->big != NULL)
		{
			appendBinaryStringInfo(buf, (const char *) sums[k]->big, VARSIZE(sums[k]->big));
			rfm_parallel_pad(buf);
		}
}

/*
 * Purchases written by rfm_purchases_write into *p, which points into data
 * afterwards: to be merged (rfm_purchases_merge), not changed.
 */
void
rfm_purchases_read(RfmPurchases *p, const char *data)
{
	ExactSum   *sums[3] = {&p->first, &p->repeat, &p->holdout};
	PurchasesHeader header;

	memcpy(&header, data, sizeof(header));
	data += MAXALIGN(sizeof(header));
	memset(p, 0, sizeof(RfmPurchases));
	p->first_day = header.first_day;
	p->ndays = p->maxdays = header.ndays;
	p->days = (int32 *) data;
	data += MAXALIGN(header.ndays * sizeof(int32));
	for (int k = 0; k < 3; k++)
	{
		sums[k]->small = header.small[k];
		if (header.big[k])
		{
			sums[k]->big = (Numeric) data;
			data += MAXALIGN(VARSIZE(data));
		}
	}
}

/* the last purchase day, in the holdout too (the purchases are compacted) */
int32
rfm_purchases_last_day(const RfmPurchases *p)
{
	Assert(p->ndays > 0);
	return p->days[p->ndays - 1] >> 1;
}

/*
 * A customer's summary against cal_end (a Julian day): false when their
 * first purchase comes after it.  has_amount: the source has amounts (no
 * amount column: the holdout's spend is unknown, NULL).
 */
bool
rfm_purchases_summarize(RfmPurchases *p, int32 cal_end, bool has_amount,
						RfmPurchaseSummary *summary)
{
	int32		ncal = 0;
	int32		repeat_amount_days = 0;
	int32		holdout_amount_days = 0;

	memset(summary, 0, sizeof(RfmPurchaseSummary));
	if (p->ndays == 0)
		return false;
	compact_days(p);
	summary->first_day = p->days[0] >> 1;
	if (summary->first_day > cal_end)
		return false;			/* acquired after the calibration */
	for (int32 i = 0; i < p->ndays; i++)
	{
		bool		had_amount = (p->days[i] & 1) != 0;

		if ((p->days[i] >> 1) <= cal_end)
		{
			ncal++;
			if (i > 0 && had_amount)
				repeat_amount_days++;
		}
		else if (had_amount)
			holdout_amount_days++;
	}
	summary->last_day = p->days[ncal - 1] >> 1;
	summary->x = ncal - 1;
	summary->x_holdout = p->ndays - ncal;
	summary->has_mean_spend = repeat_amount_days > 0;
	if (summary->has_mean_spend)
		summary->mean_spend = DirectFunctionCall2(numeric_div, exact_value(&p->repeat),
												  NumericGetDatum(int64_to_numeric(repeat_amount_days)));
	/* no holdout purchase: spent 0; holdout days without amounts: unknown */
	summary->has_spend_holdout = has_amount &&
		!(p->ndays > ncal && holdout_amount_days == 0);
	if (summary->has_spend_holdout)
		summary->spend_holdout = exact_value(&p->holdout);
	return true;
}

/* Julian days to a date[] */
static Datum
days_array(const int32 *days, int32 n)
{
	Datum	   *elems = palloc(Max(n, 1) * sizeof(Datum));

	for (int32 i = 0; i < n; i++)
		elems[i] = DateADTGetDatum(days[i] - POSTGRES_EPOCH_JDATE);
	return PointerGetDatum(construct_array(elems, n, DATEOID, sizeof(DateADT), true,
										   TYPALIGN_INT));
}

/* the purchases as an rfm_clv_state (compacted first) */
static Datum
purchases_state(RfmPurchases *p, TupleDesc desc)
{
	Datum		values[STATE_NFIELDS];
	bool		nulls[STATE_NFIELDS] = {false, false, false, false, false};
	int32	   *all = palloc(Max(p->ndays, 1) * sizeof(int32));
	int32	   *unpriced = palloc(Max(p->ndays, 1) * sizeof(int32));
	int32		nunpriced = 0;

	compact_days(p);
	for (int32 i = 0; i < p->ndays; i++)
	{
		all[i] = p->days[i] >> 1;
		if ((p->days[i] & 1) == 0)
			unpriced[nunpriced++] = all[i];
	}
	values[STATE_DAYS] = days_array(all, p->ndays);
	values[STATE_UNPRICED] = days_array(unpriced, nunpriced);
	values[STATE_FIRST] = exact_value(&p->first);
	values[STATE_REPEAT] = exact_value(&p->repeat);
	values[STATE_HOLDOUT] = exact_value(&p->holdout);
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

/* a date[] field of a state: its elements, checked ascending and distinct */
static int32 *
state_days(HeapTupleHeader row, int field, int32 *n)
{
	bool		isnull;
	Datum		value = GetAttributeByNum(row, field + 1, &isnull);
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *elem_nulls;
	int			nelems;
	int32	   *days;

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid rfm_clv_state: a NULL list of days"),
				 errhint(STATE_HINT)));
	arr = DatumGetArrayTypeP(value);
	if (ARR_ELEMTYPE(arr) != DATEOID || ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid rfm_clv_state: its days are not a list of dates"),
				 errhint(STATE_HINT)));
	deconstruct_array(arr, DATEOID, sizeof(DateADT), true, TYPALIGN_INT, &elems, &elem_nulls,
					  &nelems);
	days = palloc(Max(nelems, 1) * sizeof(int32));
	for (int i = 0; i < nelems; i++)
	{
		if (elem_nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid rfm_clv_state: a NULL day"),
					 errhint(STATE_HINT)));
		(void) rfm_date_usecs(DatumGetDateADT(elems[i]), "rfm_clv_state");
		days[i] = DatumGetDateADT(elems[i]) + POSTGRES_EPOCH_JDATE;
		if (i > 0 && days[i] <= days[i - 1])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid rfm_clv_state: its days are not ascending"),
					 errhint(STATE_HINT)));
	}
	*n = nelems;
	return days;
}

/* a numeric field of a state, finite */
static Datum
state_sum(HeapTupleHeader row, int field)
{
	bool		isnull;
	Datum		value = GetAttributeByNum(row, field + 1, &isnull);

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid rfm_clv_state: a NULL sum"),
				 errhint(STATE_HINT)));
	rfm_check_finite(DatumGetNumeric(value), "rfm_clv_state", STATE_HINT);
	return value;
}

/*
 * Purchases (zeroed memory) from an rfm_clv_state, in cxt: false for a
 * state without a day.
 */
bool
rfm_purchases_from_state(RfmPurchases *p, Datum state, MemoryContext cxt)
{
	HeapTupleHeader row = DatumGetHeapTupleHeader(state);
	int32		ndays;
	int32		nunpriced;
	int32	   *days = state_days(row, STATE_DAYS, &ndays);
	int32	   *unpriced = state_days(row, STATE_UNPRICED, &nunpriced);
	int32		j = 0;

	if (ndays == 0)
		return false;
	reserve_days(p, ndays, cxt);
	for (int32 i = 0; i < ndays; i++)
	{
		bool		priced = true;

		while (j < nunpriced && unpriced[j] < days[i])
			j++;
		if (j < nunpriced && unpriced[j] == days[i])
			priced = false;
		p->days[i] = days[i] * 2 + (priced ? 1 : 0);
	}
	p->ndays = ndays;
	p->first_day = days[0];
	exact_set(&p->first, state_sum(row, STATE_FIRST), cxt);
	exact_set(&p->repeat, state_sum(row, STATE_REPEAT), cxt);
	exact_set(&p->holdout, state_sum(row, STATE_HOLDOUT), cxt);
	return true;
}

/* rfm_clv_spec's fields: the ends checked, the zone not NULL */
static void
parse_spec(HeapTupleHeader row, void *parsed)
{
	ClvSpec    *spec = (ClvSpec *) parsed;
	Datum		cal_end;
	Datum		hold_end;
	Datum		tz;
	bool		cal_null;
	bool		hold_null;
	bool		tz_null;

	cal_end = GetAttributeByNum(row, 1, &cal_null);
	hold_end = GetAttributeByNum(row, 2, &hold_null);
	tz = GetAttributeByNum(row, 3, &tz_null);
	if (tz_null)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("spec.tz must not be NULL"),
				 errhint(SPEC_HINT)));
	rfm_clv_bounds_set(&spec->bounds, !cal_null, cal_null ? 0 : DatumGetDateADT(cal_end),
					   !hold_null, hold_null ? 0 : DatumGetDateADT(hold_end));
	spec->tz = rfm_load_tz(DatumGetTextPP(tz));
}

/*
 * The transition of rfm_clv_state_agg(event_time, amount, spec): events
 * without a time, or after holdout_end, are skipped (a customer with no
 * other event has no state: NULL).
 */
static Datum
state_trans(FunctionCallInfo fcinfo, Oid time_type)
{
	MemoryContext aggcontext;
	const ClvSpec *spec = rfm_spec_arg(fcinfo, 3, sizeof(ClvSpec), parse_spec, SPEC_HINT);
	ClvAggState   *st = PG_ARGISNULL(0) ? NULL : (ClvAggState *) PG_GETARG_POINTER(0);
	RfmTerm		amount = {0};
	int32		day;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "rfm_clv_state_agg transition called in non-aggregate context");
	if (PG_ARGISNULL(1))
		RFM_RETURN_STATE(st);
	day = rfm_purchase_day(PG_GETARG_DATUM(1), time_type, spec->tz);
	if (spec->bounds.has_hold_end && day > spec->bounds.hold_end)
		RFM_RETURN_STATE(st);
	if (!PG_ARGISNULL(2))
		rfm_term_from_numeric((struct varlena *) PG_GETARG_POINTER(2), "amount", AMOUNT_HINT,
							  &amount);
	if (st == NULL)
	{
		st = MemoryContextAllocZero(aggcontext, sizeof(ClvAggState));
		st->bounds = spec->bounds;
		st->tz = spec->tz;
	}
	else if (!bounds_equal(&st->bounds, &spec->bounds) || st->tz != spec->tz)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("spec must be the same for every row"),
				 errhint("Pass the spec as a constant.")));
	rfm_purchases_add(&st->p, &st->bounds, day, &amount, aggcontext);
	PG_RETURN_POINTER(st);
}

PG_FUNCTION_INFO_V1(rfm_clv_state_trans);
Datum
rfm_clv_state_trans(PG_FUNCTION_ARGS)
{
	return state_trans(fcinfo, TIMESTAMPTZOID);
}

PG_FUNCTION_INFO_V1(rfm_clv_state_trans_wall);
Datum
rfm_clv_state_trans_wall(PG_FUNCTION_ARGS)
{
	return state_trans(fcinfo, TIMESTAMPOID);
}

PG_FUNCTION_INFO_V1(rfm_clv_state_trans_date);
Datum
rfm_clv_state_trans_date(PG_FUNCTION_ARGS)
{
	return state_trans(fcinfo, DATEOID);
}

/*
 * Merge two partial states (of one customer's rows).  Partial states of
 * one aggregate share its spec, which the planner passes to every one.
 */
PG_FUNCTION_INFO_V1(rfm_clv_state_combine);
Datum
rfm_clv_state_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	ClvAggState   *a = PG_ARGISNULL(0) ? NULL : (ClvAggState *) PG_GETARG_POINTER(0);
	ClvAggState   *b = PG_ARGISNULL(1) ? NULL : (ClvAggState *) PG_GETARG_POINTER(1);

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "rfm_clv_state_combine called in non-aggregate context");
	if (b == NULL)
		RFM_RETURN_STATE(a);
	if (a == NULL)
	{
		a = MemoryContextAllocZero(aggcontext, sizeof(ClvAggState));
		a->bounds = b->bounds;
		a->tz = b->tz;
	}
	rfm_purchases_merge(&a->p, &b->p, &a->bounds, aggcontext);
	PG_RETURN_POINTER(a);
}

static void
send_sum(StringInfo buf, const ExactSum *sum)
{
	Numeric		value = DatumGetNumeric(exact_value(sum));

	pq_sendint32(buf, VARSIZE(value));
	pq_sendbytes(buf, (char *) value, VARSIZE(value));
}

static void
read_sum(StringInfo buf, ExactSum *sum, MemoryContext cxt)
{
	int32		len = pq_getmsgint(buf, 4);
	Numeric		value = palloc(len);

	memcpy(value, pq_getmsgbytes(buf, len), len);
	exact_set(sum, NumericGetDatum(value), cxt);
}

/* a partial state for another process (parallel workers) */
PG_FUNCTION_INFO_V1(rfm_clv_state_serial);
Datum
rfm_clv_state_serial(PG_FUNCTION_ARGS)
{
	ClvAggState   *st = (ClvAggState *) PG_GETARG_POINTER(0);
	StringInfoData buf;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "rfm_clv_state_serial called in non-aggregate context");
	compact_days(&st->p);
	pq_begintypsend(&buf);
	pq_sendint32(&buf, PURCHASES_SERIAL_VERSION);
	pq_sendbyte(&buf, st->bounds.has_cal_end);
	pq_sendint32(&buf, st->bounds.cal_end);
	pq_sendbyte(&buf, st->bounds.has_hold_end);
	pq_sendint32(&buf, st->bounds.hold_end);
	pq_sendint32(&buf, st->p.first_day);
	pq_sendint32(&buf, st->p.ndays);
	for (int32 i = 0; i < st->p.ndays; i++)
		pq_sendint32(&buf, st->p.days[i]);
	send_sum(&buf, &st->p.first);
	send_sum(&buf, &st->p.repeat);
	send_sum(&buf, &st->p.holdout);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(rfm_clv_state_deserial);
Datum
rfm_clv_state_deserial(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	MemoryContext aggcontext;
	StringInfoData buf;
	ClvAggState   *st;
	int32		ndays;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "rfm_clv_state_deserial called in non-aggregate context");
	buf.data = VARDATA_ANY(data);
	buf.len = VARSIZE_ANY_EXHDR(data);
	buf.maxlen = buf.len;
	buf.cursor = 0;
	if (pq_getmsgint(&buf, 4) != PURCHASES_SERIAL_VERSION)
		elog(ERROR, "rfm_clv_state_agg: a serialized state of another version");
	st = MemoryContextAllocZero(aggcontext, sizeof(ClvAggState));
	st->bounds.has_cal_end = pq_getmsgbyte(&buf) != 0;
	st->bounds.cal_end = pq_getmsgint(&buf, 4);
	st->bounds.has_hold_end = pq_getmsgbyte(&buf) != 0;
	st->bounds.hold_end = pq_getmsgint(&buf, 4);
	st->p.first_day = pq_getmsgint(&buf, 4);
	ndays = pq_getmsgint(&buf, 4);
	if (ndays > 0)
	{
		reserve_days(&st->p, ndays, aggcontext);
		for (int32 i = 0; i < ndays; i++)
			st->p.days[i] = pq_getmsgint(&buf, 4);
	}
	st->p.ndays = ndays;
	read_sum(&buf, &st->p.first, aggcontext);
	read_sum(&buf, &st->p.repeat, aggcontext);
	read_sum(&buf, &st->p.holdout, aggcontext);
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(st);
}

/* the result: an rfm_clv_state, NULL for a customer without a purchase */
PG_FUNCTION_INFO_V1(rfm_clv_state_final);
Datum
rfm_clv_state_final(PG_FUNCTION_ARGS)
{
	ClvAggState   *st = PG_ARGISNULL(0) ? NULL : (ClvAggState *) PG_GETARG_POINTER(0);
	TupleDesc	desc;
	Datum		result;

	if (st == NULL || st->p.ndays == 0)
		PG_RETURN_NULL();
	desc = lookup_rowtype_tupdesc(get_func_rettype(fcinfo->flinfo->fn_oid), -1);
	result = purchases_state(&st->p, desc);
	ReleaseTupleDesc(desc);
	PG_RETURN_DATUM(result);
}

/*
 * rfm_clv_state_merge(a, b, spec): the state of the rows of two states of
 * one customer, as rfm_clv_state_agg would give over all of them (the
 * states of an incremental model and of the rows it folds in).  spec is
 * the one both were made with; it decides whether a first day moved to
 * the repeat days is the calibration's.  A NULL state is one without rows.
 */
PG_FUNCTION_INFO_V1(rfm_clv_state_merge);
Datum
rfm_clv_state_merge(PG_FUNCTION_ARGS)
{
	const ClvSpec *spec = rfm_spec_arg(fcinfo, 2, sizeof(ClvSpec), parse_spec, SPEC_HINT);
	RfmPurchases *a = palloc0(sizeof(RfmPurchases));
	RfmPurchases *b = palloc0(sizeof(RfmPurchases));
	bool		has_a;
	bool		has_b;
	TupleDesc	desc;
	Datum		result;

	has_a = !PG_ARGISNULL(0) && rfm_purchases_from_state(a, PG_GETARG_DATUM(0), CurrentMemoryContext);
	has_b = !PG_ARGISNULL(1) && rfm_purchases_from_state(b, PG_GETARG_DATUM(1), CurrentMemoryContext);
	if (!has_a && !has_b)
		PG_RETURN_NULL();
	rfm_purchases_merge(a, b, &spec->bounds, CurrentMemoryContext);
	desc = lookup_rowtype_tupdesc(get_func_rettype(fcinfo->flinfo->fn_oid), -1);
	result = purchases_state(a, desc);
	ReleaseTupleDesc(desc);
	PG_RETURN_DATUM(result);
}
