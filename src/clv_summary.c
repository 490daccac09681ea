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
 * The scan and the customer table are scan.c's.  Rows arrive in any
 * order, so each customer keeps the days seen, as day * 2 + (the day had an
 * amount), appended and sorted with duplicates merged whenever the buffer
 * fills (doubling it only when that frees less than half), so a customer
 * costs O(d log d) for d events; and three exact sums (decimal.h, with
 * numeric arithmetic past 38 digits): the calibration's amounts, the first
 * day's (reset when an earlier day turns up) and the holdout's.  The
 * repeat days' spend is the first minus the second, shown at the largest
 * display scale of the repeat days' amounts, as sum() shows it.  Memory: about 200
 * bytes per customer (hash entry, key, payload) plus 4 to 8 bytes per
 * distinct purchase day, all counted against rfm_segment.max_memory.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "cohort.h"
#include "decimal.h"
#include "scan.h"
#include "timeutil.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/fmgrprotos.h"
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

/* a customer's day buffer starts with room for this many */
#define INITIAL_DAYS		4

/* days grow in many small steps: memory is checked this often */
#define MEMORY_CHECK_ROWS	65536

/* the units of time, in days: a month and a year are their mean lengths */
#define UNIT_WEEK_DAYS		7.0
#define UNIT_MONTH_DAYS		30.4375
#define UNIT_YEAR_DAYS		365.25

#define AMOUNT_HINT "Pass NULL for an event without an amount."
#define MEMORY_HINT "Summarize fewer customers at once, such as one cohort or a hash partition of the customers"

/* an exact sum: the fast part, and what passed 38 digits */
typedef struct ExactSum
{
	RfmDecimal	small;
	Numeric		big;			/* NULL, or in the customers' context */
} ExactSum;

/* a customer */
typedef struct Purchases
{
	int32		first_day;
	int32		ndays;
	int32		maxdays;
	int32	   *days;			/* day * 2 + had an amount */
	ExactSum	calibration;	/* amounts on or before calibration_end */
	ExactSum	first;			/* amounts of the first day */
	ExactSum	holdout;		/* amounts after calibration_end */
	int32		first_scale;	/* largest display scale of the first day's */
	int32		repeat_scale;	/* and of the other calibration days' */
} Purchases;

typedef struct SummaryState
{
	RfmCustomers *customers;
	Oid			time_type;
	pg_tz	   *tz;
	bool		has_amount;
	bool		has_cal_end;
	int32		cal_end;		/* Julian day numbers, as event_day */
	bool		has_hold_end;
	int32		hold_end;
	bool		any;
	int32		latest;			/* the latest day seen */
	uint64		rows;
} SummaryState;

/* add a term, in numeric arithmetic once past 38 digits */
static void
exact_add(ExactSum *sum, const RfmTerm *term, MemoryContext cxt)
{
	MemoryContext old;
	Datum		total;

	if (term->fits && rfm_decimal_add(&sum->small, term->mantissa, term->scale))
		return;
	old = MemoryContextSwitchTo(cxt);
	total = NumericGetDatum(rfm_decimal_numeric(&sum->small));
	if (sum->big)
		total = DirectFunctionCall2(numeric_add, total, NumericGetDatum(sum->big));
	total = DirectFunctionCall2(numeric_add, total,
								term->fits ?
								NumericGetDatum(rfm_int128_to_numeric(term->mantissa, term->scale)) :
								NumericGetDatum(term->value));
	if (sum->big)
		pfree(sum->big);
	sum->big = DatumGetNumeric(total);
	rfm_decimal_reset(&sum->small);
	MemoryContextSwitchTo(old);
}

static void
exact_reset(ExactSum *sum)
{
	rfm_decimal_reset(&sum->small);
	if (sum->big)
		pfree(sum->big);
	sum->big = NULL;
}

static Datum
exact_value(const ExactSum *sum)
{
	Datum		value = NumericGetDatum(rfm_decimal_numeric(&sum->small));

	if (sum->big)
		value = DirectFunctionCall2(numeric_add, value, NumericGetDatum(sum->big));
	return value;
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
compact_days(Purchases *p)
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

static void
add_day(SummaryState *st, Purchases *p, int32 day, bool has_amount)
{
	int32		code = day * 2 + (has_amount ? 1 : 0);

	/* the common case: one more event of the day just added */
	if (p->ndays > 0 && (p->days[p->ndays - 1] >> 1) == day)
	{
		p->days[p->ndays - 1] |= code;
		return;
	}
	if (p->ndays == p->maxdays)
	{
		if (p->days == NULL)
		{
			p->maxdays = INITIAL_DAYS;
			p->days = MemoryContextAlloc(rfm_customers_context(st->customers),
										 p->maxdays * sizeof(int32));
		}
		else
		{
			compact_days(p);
			if (p->ndays > p->maxdays / 2)
			{
				p->maxdays *= 2;
				p->days = repalloc_huge(p->days, (Size) p->maxdays * sizeof(int32));
			}
		}
	}
	p->days[p->ndays++] = code;
}

/*
 * The calendar day of an event as a Julian day number: a wall-clock time's
 * own date, a timestamptz's date in tz (cohort.c's day periods, which are
 * DateADT values, moved to the Julian origin).  Julian days of the
 * timestamp range are positive, so day * 2 + flag shifts back without a
 * sign, and fits int32 (dates are checked to lie in that range).
 */
static int32
event_day(const SummaryState *st, Datum value)
{
	switch (st->time_type)
	{
		case DATEOID:
			(void) rfm_date_usecs(DatumGetDateADT(value), "event_time");
			return DatumGetDateADT(value) + POSTGRES_EPOCH_JDATE;
		case TIMESTAMPOID:
			return rfm_period_of_timestamp(DatumGetTimestamp(value), NULL,
										   RFM_GRAIN_DAY, "event_time") + POSTGRES_EPOCH_JDATE;
		default:
			return rfm_period_of_timestamp(DatumGetTimestampTz(value), st->tz,
										   RFM_GRAIN_DAY, "event_time") + POSTGRES_EPOCH_JDATE;
	}
}

/* one scanned row: (key, time, amount) */
static void
summary_row(TupleTableSlot *slot, void *arg)
{
	SummaryState *st = (SummaryState *) arg;
	MemoryContext cxt = rfm_customers_context(st->customers);
	RfmTerm		amount = {0};
	Purchases  *p;
	int32		day;
	bool		found;

	if (++st->rows % MEMORY_CHECK_ROWS == 0)
		rfm_customers_check_memory(st->customers);
	if (slot->tts_isnull[COL_TIME])
		return;					/* no time: no purchase, as in rfm_metrics */
	day = event_day(st, slot->tts_values[COL_TIME]);
	if (st->has_hold_end && day > st->hold_end)
		return;
	if (st->has_amount && !slot->tts_isnull[COL_AMOUNT])
		rfm_term_from_numeric((struct varlena *) DatumGetPointer(slot->tts_values[COL_AMOUNT]),
							  "amount", AMOUNT_HINT, &amount);

	p = rfm_customers_lookup(st->customers, slot->tts_values[COL_KEY],
							 slot->tts_isnull[COL_KEY], &found);
	if (!found || day < p->first_day)
	{
		/* the first day so far becomes a repeat day, or a holdout day */
		if (found && (!st->has_cal_end || p->first_day <= st->cal_end))
			p->repeat_scale = Max(p->repeat_scale, p->first_scale);
		p->first_day = day;
		p->first_scale = 0;
		exact_reset(&p->first);
	}
	if (amount.present)
	{
		bool		calibration = !st->has_cal_end || day <= st->cal_end;

		if (calibration)
			exact_add(&p->calibration, &amount, cxt);
		else
			exact_add(&p->holdout, &amount, cxt);
		if (day == p->first_day)
		{
			exact_add(&p->first, &amount, cxt);
			p->first_scale = Max(p->first_scale, amount.scale);
		}
		else if (calibration)
			p->repeat_scale = Max(p->repeat_scale, amount.scale);
	}
	add_day(st, p, day, amount.present);
	if (!st->any || day > st->latest)
		st->latest = day;
	st->any = true;
}

/* a date argument as a Julian day number, as event_day; finite */
static int32
date_arg(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	DateADT		d = PG_GETARG_DATEADT(argno);

	(void) rfm_date_usecs(d, argname);
	return d + POSTGRES_EPOCH_JDATE;
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

/* one customer's output row; false when they are left out */
static bool
summarize(const SummaryState *st, Purchases *p, int32 cal_end, double unit,
		  Datum *values, bool *nulls)
{
	int32		ncal = 0;
	int32		repeat_amount_days = 0;
	int32		holdout_amount_days = 0;
	int32		first;
	int32		last;

	compact_days(p);
	first = p->days[0] >> 1;
	if (first > cal_end)
		return false;			/* acquired after the calibration */
	for (int32 i = 0; i < p->ndays; i++)
	{
		bool		has_amount = (p->days[i] & 1) != 0;

		if ((p->days[i] >> 1) <= cal_end)
		{
			ncal++;
			if (i > 0 && has_amount)
				repeat_amount_days++;
		}
		else if (has_amount)
			holdout_amount_days++;
	}
	last = p->days[ncal - 1] >> 1;

	values[OUT_X] = Int32GetDatum(ncal - 1);
	values[OUT_T_X] = Float8GetDatum((last - first) / unit);
	values[OUT_T_CAL] = Float8GetDatum((cal_end - first) / unit);
	values[OUT_X_HOLDOUT] = Int32GetDatum(p->ndays - ncal);
	nulls[OUT_MEAN_SPEND] = repeat_amount_days == 0;
	if (repeat_amount_days > 0)
	{
		Datum		repeat_spend = DirectFunctionCall2(numeric_sub,
													   exact_value(&p->calibration),
													   exact_value(&p->first));

		/*
		 * The difference is exact; shown at the repeat days' own display
		 * scale (its digits beyond are zeros), it is the sum sum() gives,
		 * and the mean the one sum() / count() gives.
		 */
		repeat_spend = DirectFunctionCall2(numeric_round, repeat_spend,
										   Int32GetDatum(p->repeat_scale));

		values[OUT_MEAN_SPEND] =
			DirectFunctionCall2(numeric_div, repeat_spend,
								NumericGetDatum(int64_to_numeric(repeat_amount_days)));
	}
	/* no holdout purchase: spent 0; holdout days without amounts: unknown */
	nulls[OUT_SPEND_HOLD] = !st->has_amount ||
		(p->ndays > ncal && holdout_amount_days == 0);
	if (!nulls[OUT_SPEND_HOLD])
		values[OUT_SPEND_HOLD] = exact_value(&p->holdout);
	return true;
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
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	SummaryState *st = palloc0(sizeof(SummaryState));
	Oid			relid;
	const char *key_column;
	const char *time_column;
	const char *amount_column;
	double		unit;
	int32		cal_end;
	uint64		ncustomers;
	MemoryContext row_cxt;

	relid = rfm_source_arg(fcinfo, ARG_SOURCE);
	key_column = rfm_column_arg(fcinfo, ARG_CUSTOMER, "customer_column", true);
	time_column = rfm_column_arg(fcinfo, ARG_TIME, "time_column", true);
	amount_column = rfm_column_arg(fcinfo, ARG_AMOUNT, "amount_column", false);
	if (PG_ARGISNULL(ARG_UNIT) || PG_ARGISNULL(ARG_TZ))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", PG_ARGISNULL(ARG_UNIT) ? "unit" : "tz"),
				 errhint("Leave it out for its default ('week', 'UTC').")));
	unit = unit_days(PG_GETARG_TEXT_PP(ARG_UNIT));
	st->tz = rfm_load_tz(PG_GETARG_TEXT_PP(ARG_TZ));
	st->has_cal_end = !PG_ARGISNULL(ARG_CAL_END);
	st->has_hold_end = !PG_ARGISNULL(ARG_HOLD_END);
	if (st->has_cal_end)
		st->cal_end = date_arg(fcinfo, ARG_CAL_END, "calibration_end");
	if (st->has_hold_end)
	{
		st->hold_end = date_arg(fcinfo, ARG_HOLD_END, "holdout_end");
		if (!st->has_cal_end)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("holdout_end needs calibration_end"),
					 errhint("Pass the end of the calibration period too; the holdout period follows it.")));
		if (st->hold_end < st->cal_end)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("holdout_end must not be before calibration_end"),
					 errhint("The holdout period follows the calibration period.")));
	}

	st->customers = rfm_customers_create(relid, key_column, sizeof(Purchases),
										 "rfm_clv_summary", MEMORY_HINT);
	st->time_type = rfm_time_column_type(relid, time_column, "time_column");
	rfm_check_number_column(relid, amount_column, "amount_column");
	st->has_amount = amount_column != NULL;

	InitMaterializedSRF(fcinfo, 0);
	(void) rfm_scan(psprintf("SELECT %s, %s, %s FROM %s", quote_identifier(key_column),
							 quote_identifier(time_column),
							 amount_column ? psprintf("%s::pg_catalog.numeric",
													  quote_identifier(amount_column)) :
							 "NULL::pg_catalog.numeric",
							 rfm_relation_name(relid)),
					summary_row, st);
	if (!st->any)
		return (Datum) 0;
	cal_end = st->has_cal_end ? st->cal_end : st->latest;

	row_cxt = AllocSetContextCreate(CurrentMemoryContext, "rfm_clv_summary row",
									ALLOCSET_SMALL_SIZES);
	ncustomers = rfm_customers_count(st->customers);
	for (uint64 i = 0; i < ncustomers; i++)
	{
		Datum		values[NOUT];
		bool		nulls[NOUT] = {0};
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(row_cxt);
		if (summarize(st, rfm_customers_payload(st->customers, i), cal_end, unit,
					  values, nulls))
		{
			values[OUT_KEY] = rfm_customers_key_text(st->customers, i, &nulls[OUT_KEY]);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(row_cxt);
	}
	MemoryContextDelete(row_cxt);
	return (Datum) 0;
}
