/*-------------------------------------------------------------------------
 *
 * periods.c
 *	  rfm_active_periods: the periods (day, week, month, quarter, year) in
 *	  which a customer had an event, aggregated per customer, so that
 *	  rfm_retention's states way is one GROUP BY customer.
 *
 * Grouped by customer, rfm_retention needs only each customer's sorted,
 * distinct periods: the first is the cohort, the rest the later periods
 * the customer was active in.  A GROUP BY customer is what postgres_fdw,
 * Citus and partitionwise aggregation push to where the rows are; a GROUP
 * BY customer and period is not, because the planner expects a period of
 * a time column to have about as many values as the column.
 *
 * The grain and time zone travel in one rfm_period_spec, a composite type:
 * it has no collation, where two text arguments would give the aggregate
 * one, and postgres_fdw ships no function whose collation does not come
 * from a foreign column.
 *
 * The state is an int4[] of period numbers (cohort.c's, consecutive),
 * ascending: a plain array, so no serialization, merged by a sorted union.
 * A row in a period the customer already has costs a binary search; a new
 * period, a copy of the customer's array.  It holds 4 bytes per active
 * period and customer, and spills with the GROUP BY under work_mem.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "cohort.h"
#include "spec.h"
#include "timeutil.h"

#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/timestamp.h"

#define SPEC_HINT "Pass ROW(grain, tz)::rfm_period_spec, such as ROW('month', 'UTC')::rfm_period_spec or '(month,UTC)'."

/* a parsed spec */
typedef struct PeriodSpec
{
	RfmGrain	grain;
	pg_tz	   *tz;
} PeriodSpec;

/* a state's periods: it has no NULLs, so they follow the fixed overhead */
#define PERIODS(st)		((int32 *) ((char *) (st) + ARR_OVERHEAD_NONULLS(1)))

/* rfm_period_spec's fields: neither may be NULL */
static void
parse_spec(HeapTupleHeader row, void *parsed)
{
	PeriodSpec *spec = (PeriodSpec *) parsed;
	Datum		grain;
	Datum		tz;
	bool		grain_null;
	bool		tz_null;

	grain = GetAttributeByNum(row, 1, &grain_null);
	tz = GetAttributeByNum(row, 2, &tz_null);
	if (grain_null || tz_null)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("spec.%s must not be NULL", grain_null ? "grain" : "tz"),
				 errhint(SPEC_HINT)));
	spec->grain = rfm_parse_grain(DatumGetTextPP(grain));
	spec->tz = rfm_load_tz(DatumGetTextPP(tz));
}

static const PeriodSpec *
spec_arg(FunctionCallInfo fcinfo, int argno)
{
	return rfm_spec_arg(fcinfo, argno, sizeof(PeriodSpec), parse_spec, SPEC_HINT);
}

/* n periods as an int4[] (empty for none) */
static ArrayType *
periods_array(int n)
{
	Size		size = ARR_OVERHEAD_NONULLS(1) + sizeof(int32) * n;
	ArrayType  *st;

	if (n == 0)
		return construct_empty_array(INT4OID);
	st = palloc(size);
	SET_VARSIZE(st, size);
	st->ndim = 1;
	st->dataoffset = 0;
	st->elemtype = INT4OID;
	ARR_DIMS(st)[0] = n;
	ARR_LBOUND(st)[0] = 1;
	return st;
}

/* a state's number of periods, checked: int4, without NULLs, 0 or 1-D */
static int
state_periods(ArrayType *st)
{
	if (ARR_ELEMTYPE(st) != INT4OID || ARR_HASNULL(st) || ARR_NDIM(st) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid rfm_active_periods state"),
				 errhint("Pass a state made by rfm_active_periods.")));
	return ARR_NDIM(st) == 0 ? 0 : ARR_DIMS(st)[0];
}

/*
 * Add a period to the state, argument 0: the same state if it has the
 * period already (so the executor copies nothing), else a new one with it
 * in its place.  A NULL state, from a direct call (the aggregate starts
 * from INITCOND '{}'), counts as empty.
 */
static Datum
add_period(FunctionCallInfo fcinfo, int32 period)
{
	ArrayType  *st = PG_ARGISNULL(0) ? construct_empty_array(INT4OID) : PG_GETARG_ARRAYTYPE_P(0);
	int			n = state_periods(st);
	const int32 *p = n > 0 ? PERIODS(st) : NULL;
	int			lo = 0,
				hi = n;
	ArrayType  *result;
	int32	   *q;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (p[mid] < period)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < n && p[lo] == period)
		PG_RETURN_ARRAYTYPE_P(st);
	result = periods_array(n + 1);
	q = PERIODS(result);
	if (lo > 0)
		memcpy(q, p, lo * sizeof(int32));
	q[lo] = period;
	if (n > lo)
		memcpy(q + lo + 1, p + lo, (n - lo) * sizeof(int32));
	PG_RETURN_ARRAYTYPE_P(result);
}

/*
 * The state, unchanged, for a row without a time; NULL times are skipped.
 * Not STRICT, so that a NULL spec is an error rather than every row
 * skipped.
 */
#define SKIP_NULL_TIME(fcinfo) \
	do { \
		if (PG_ARGISNULL(1)) \
		{ \
			if (PG_ARGISNULL(0)) \
				PG_RETURN_NULL(); \
			PG_RETURN_DATUM(PG_GETARG_DATUM(0)); \
		} \
	} while (0)

/* the transition for an event of time_type: its period in spec's zone */
static Datum
periods_trans(FunctionCallInfo fcinfo, Oid time_type)
{
	const PeriodSpec *spec = spec_arg(fcinfo, 2);

	SKIP_NULL_TIME(fcinfo);
	return add_period(fcinfo, rfm_period_of_event(PG_GETARG_DATUM(1), time_type, spec->tz,
												   spec->grain, "event_time"));
}

/* rfm_active_periods(event_time timestamptz, spec) */
PG_FUNCTION_INFO_V1(rfm_active_periods_trans);
Datum
rfm_active_periods_trans(PG_FUNCTION_ARGS)
{
	return periods_trans(fcinfo, TIMESTAMPTZOID);
}

/* rfm_active_periods(event_time timestamp, spec): a wall time needs no zone */
PG_FUNCTION_INFO_V1(rfm_active_periods_trans_wall);
Datum
rfm_active_periods_trans_wall(PG_FUNCTION_ARGS)
{
	return periods_trans(fcinfo, TIMESTAMPOID);
}

/* rfm_active_periods(event_time date, spec) */
PG_FUNCTION_INFO_V1(rfm_active_periods_trans_date);
Datum
rfm_active_periods_trans_date(PG_FUNCTION_ARGS)
{
	return periods_trans(fcinfo, DATEOID);
}

/*
 * Merge two partial states: the sorted union of their periods.  STRICT
 * (states are never NULL, from INITCOND '{}').
 */
PG_FUNCTION_INFO_V1(rfm_active_periods_combine);
Datum
rfm_active_periods_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *b = PG_GETARG_ARRAYTYPE_P(1);
	int			na = state_periods(a);
	int			nb = state_periods(b);
	const int32 *pa;
	const int32 *pb;
	int32	   *merged;
	int			i = 0,
				j = 0,
				n = 0;
	ArrayType  *result;

	if (nb == 0)
		PG_RETURN_ARRAYTYPE_P(a);
	if (na == 0)
		PG_RETURN_ARRAYTYPE_P(b);
	pa = PERIODS(a);
	pb = PERIODS(b);
	merged = palloc(sizeof(int32) * (na + nb));
	while (i < na || j < nb)
	{
		int32		next;

		if (j == nb || (i < na && pa[i] <= pb[j]))
			next = pa[i++];
		else
			next = pb[j++];
		if (n == 0 || merged[n - 1] != next)
			merged[n++] = next;
	}
	result = periods_array(n);
	memcpy(PERIODS(result), merged, n * sizeof(int32));
	PG_RETURN_ARRAYTYPE_P(result);
}
