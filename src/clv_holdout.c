/*-------------------------------------------------------------------------
 *
 * clv_holdout.c
 *	  rfm_clv_holdout: a transaction model's predictions against what the
 *	  customers did in the holdout period, by calibration frequency.
 *
 * It reads a summary (rfm_clv_summary's output, stored in a table, view or
 * materialized view; its columns x, t_x, t_cal and x_holdout) rather than
 * the events: the summary is what the model was fitted on, so the check
 * compares like with like and costs no second pass over the events.  The
 * holdout's length, in the summary's unit, is an argument: the summary does
 * not carry its dates.  Each customer's expected purchases over it
 * (rfm_expected_purchases) are grouped by x, the customers with x >= x_cap
 * in one group, as BTYD's censored frequency plot does.
 *
 * Sums of predictions are kept in fixed point (2^-40 units in 128 bits),
 * so they are exact and the result is the same whatever order the rows
 * arrive in, a parallel scan included.  Memory: 56 bytes per group.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "clv.h"
#include "clv_model.h"
#include "scan.h"

#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

/* argument positions */
#define ARG_MODEL		0
#define ARG_SUMMARY		1
#define ARG_HORIZON		2
#define ARG_CAP			3

/* the scanned columns */
#define COL_X			0
#define COL_T_X			1
#define COL_T_CAL		2
#define COL_X_HOLDOUT	3
#define NCOLUMNS		4

/* the output columns */
#define OUT_X			0
#define OUT_LABEL		1
#define OUT_CUSTOMERS	2
#define OUT_ACTUAL		3
#define OUT_PREDICTED	4
#define OUT_ACTUAL_SUM	5
#define OUT_PREDICT_SUM 6
#define OUT_MAE			7
#define NOUT			8

/* at most this many groups of x */
#define MAX_CAP			1000

/* sums of predictions in units of 2^-FIXED_BITS */
#define FIXED_BITS		40

/* a prediction above this is not a number of purchases */
#define MAX_PREDICTION	1e15

static const char *const columns[NCOLUMNS] = {"x", "t_x", "t_cal", "x_holdout"};

typedef struct HoldoutGroup
{
	int64		customers;
	int64		actual;
	int128		predicted;		/* fixed point */
	int128		abs_error;		/* fixed point */
} HoldoutGroup;

typedef struct HoldoutState
{
	RfmTransactionModel model;
	float8		horizon;
	int32		cap;
	HoldoutGroup *groups;		/* 0 .. cap: x, and x >= cap */
} HoldoutState;

static int128
to_fixed(double value)
{
	if (!(value >= 0 && value <= MAX_PREDICTION))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("could not compute the expected purchases for these parameters"),
				 errhint("The model's parameters are extreme: refit it on the data.")));
	return (int128) ldexp(value, FIXED_BITS);
}

static double
from_fixed(int128 value)
{
	return ldexp((double) value, -FIXED_BITS);
}

/* one summary row: (x, t_x, t_cal, x_holdout) */
static void
holdout_row(TupleTableSlot *slot, void *arg)
{
	HoldoutState *st = (HoldoutState *) arg;
	HoldoutGroup *g;
	int32		x;
	float8		t_x;
	float8		t_cal;
	int64		actual;
	double		predicted;

	for (int i = 0; i < NCOLUMNS; i++)
		if (slot->tts_isnull[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be NULL", columns[i]),
					 errhint("Pass rfm_clv_summary's output, or a view that leaves such rows out.")));
	x = DatumGetInt32(slot->tts_values[COL_X]);
	t_x = DatumGetFloat8(slot->tts_values[COL_T_X]);
	t_cal = DatumGetFloat8(slot->tts_values[COL_T_CAL]);
	actual = DatumGetInt64(slot->tts_values[COL_X_HOLDOUT]);
	rfm_clv_check_customer(x, t_x, t_cal);
	if (actual < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("x_holdout must not be negative"),
				 errhint("Pass rfm_clv_summary's output.")));
	predicted = rfm_tm_expected(&st->model, st->horizon, x, t_x, t_cal);

	g = &st->groups[Min(x, st->cap)];
	g->customers++;
	g->actual += actual;
	g->predicted += to_fixed(predicted);
	g->abs_error += to_fixed(fabs(actual - predicted));
}

static void
put_group(ReturnSetInfo *rsinfo, const HoldoutGroup *g, int32 x, const char *label)
{
	Datum		values[NOUT];
	bool		nulls[NOUT] = {0};

	nulls[OUT_X] = x < 0;
	values[OUT_X] = Int32GetDatum(x);
	values[OUT_LABEL] = CStringGetTextDatum(label);
	values[OUT_CUSTOMERS] = Int64GetDatum(g->customers);
	values[OUT_ACTUAL] = Float8GetDatum((double) g->actual / g->customers);
	values[OUT_PREDICTED] = Float8GetDatum(from_fixed(g->predicted) / g->customers);
	values[OUT_ACTUAL_SUM] = Int64GetDatum(g->actual);
	values[OUT_PREDICT_SUM] = Float8GetDatum(from_fixed(g->predicted));
	values[OUT_MAE] = Float8GetDatum(from_fixed(g->abs_error) / g->customers);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * rfm_clv_holdout(model, summary, horizon, x_cap): per calibration
 * frequency x (those >= x_cap together, labelled 'x_cap+'), the customers,
 * their mean holdout purchases (actual) and the model's mean expectation
 * over horizon (predicted), the totals of both, and the mean absolute
 * error per customer; then a 'total' row (x NULL) over everyone.  Groups
 * without customers are left out; a summary without rows gives no rows.
 * NULL model, summary, horizon or x_cap is an error, as are columns that
 * are missing or not numbers, and invalid rows (rfm_clv_check_customer).
 */
static Datum
clv_holdout(FunctionCallInfo fcinfo, RfmClvKind kind)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HoldoutState st;
	HoldoutGroup total = {0};
	Oid			relid;
	char	   *query;

	if (PG_ARGISNULL(ARG_MODEL) || PG_ARGISNULL(ARG_HORIZON) || PG_ARGISNULL(ARG_CAP))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL",
						PG_ARGISNULL(ARG_MODEL) ? "model" :
						PG_ARGISNULL(ARG_HORIZON) ? "horizon" : "x_cap"),
				 errhint("Pass a fitted model, the holdout period's length in the summary's unit, and the x to group from.")));
	relid = rfm_source_arg(fcinfo, ARG_SUMMARY);
	memset(&st, 0, sizeof(st));
	st.model = rfm_clv_transaction_model(fcinfo, ARG_MODEL, kind);
	st.horizon = PG_GETARG_FLOAT8(ARG_HORIZON);
	if (!(st.horizon > 0) || isinf(st.horizon))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("horizon must be positive and finite, not %g", st.horizon),
				 errhint("Pass the holdout period's length in the summary's unit, such as 39 (weeks).")));
	st.cap = PG_GETARG_INT32(ARG_CAP);
	if (st.cap < 1 || st.cap > MAX_CAP)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("x_cap must be between 1 and %d, not %d", MAX_CAP, st.cap),
				 errhint("Seven, as in the BG/NBD paper, groups the few frequent customers together.")));
	for (int i = 0; i < NCOLUMNS; i++)
	{
		if (get_attnum(relid, columns[i]) == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("summary %s has no column \"%s\"", get_rel_name(relid), columns[i]),
					 errhint("Pass a table or view of rfm_clv_summary's output, with its columns x, t_x, t_cal and x_holdout.")));
		rfm_check_number_column(relid, columns[i], "summary column");
	}
	st.groups = palloc0((st.cap + 1) * sizeof(HoldoutGroup));

	InitMaterializedSRF(fcinfo, 0);
	query = psprintf("SELECT x::pg_catalog.int4, t_x::pg_catalog.float8, "
					 "t_cal::pg_catalog.float8, x_holdout::pg_catalog.int8 FROM %s",
					 rfm_relation_name(relid));
	(void) rfm_scan(query, holdout_row, &st);

	for (int32 x = 0; x <= st.cap; x++)
	{
		HoldoutGroup *g = &st.groups[x];

		if (g->customers == 0)
			continue;
		put_group(rsinfo, g,
				  x, x < st.cap ? psprintf("%d", x) : psprintf("%d+", x));
		total.customers += g->customers;
		total.actual += g->actual;
		total.predicted += g->predicted;
		total.abs_error += g->abs_error;
	}
	if (total.customers > 0)
		put_group(rsinfo, &total, -1, "total");
	return (Datum) 0;
}

/* rfm_clv_holdout under BG/NBD */
PG_FUNCTION_INFO_V1(rfm_clv_holdout_bgnbd);
Datum
rfm_clv_holdout_bgnbd(PG_FUNCTION_ARGS)
{
	return clv_holdout(fcinfo, RFM_CLV_BGNBD);
}

/* rfm_clv_holdout under Pareto/NBD */
PG_FUNCTION_INFO_V1(rfm_clv_holdout_pnbd);
Datum
rfm_clv_holdout_pnbd(PG_FUNCTION_ARGS)
{
	return clv_holdout(fcinfo, RFM_CLV_PNBD);
}
