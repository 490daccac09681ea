/*-------------------------------------------------------------------------
 *
 * clv.c
 *	  The SQL face of the customer-lifetime-value models: the fitting
 *	  aggregates (rfm_bgnbd_fit, rfm_pnbd_fit, rfm_gg_fit), the model
 *	  composites they return, and the IMMUTABLE scoring functions that take
 *	  a model (rfm_p_alive, rfm_expected_purchases, rfm_expected_purchases_new,
 *	  rfm_expected_spend, rfm_clv).  clv_fit.c fits; clv_model.c computes.
 *
 * The aggregates' state is BTYD's compressed CBS: a hash table of the
 * distinct (x, t_x, t_cal) rows, or (x, mean spend) for Gamma-Gamma, with
 * the number of customers of each.  Memory is bounded by the number of
 * distinct rows, not of customers: about 64 bytes per distinct row in the
 * table (40-byte entries, at most half of the slots empty after a growth),
 * checked against rfm_segment.max_memory as the table grows, and up to
 * 208 more per row while the final function fits.  With t_x and t_cal in
 * whole days, as rfm_clv_summary gives them, the million simulated
 * customers of bench/clv have 110,000 distinct rows.  Combining merges the
 * tables, and the final function sorts the rows before fitting, so a
 * parallel plan gives the same model, bit for bit, as a serial one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "clv.h"
#include "clv_fit.h"
#include "clv_model.h"
#include "decimal.h"
#include "guc.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/typcache.h"

#define CLV_STATE_VERSION	1

/* a fit needs at least this many customers (for GG: not skipped) */
#define CLV_MIN_CUSTOMERS	10

/* bounds of the options */
#define CLV_MAX_STARTS		20
#define CLV_MAX_ITER		100000
#define CLV_MAX_TOL			1.0

/* the hash table starts with room for this many rows */
#define CLV_INITIAL_ROWS	1024

/* rfm_clv discounts period by period: at most this many periods */
#define CLV_MAX_PERIODS		10000

/* numeric to double exactly: mantissas below 2^53, powers of ten to 1e22 */
#define EXACT_MANTISSA		(((int64) 1) << 53)
#define EXACT_POW10			22

#define MEMORY_HINT "Fit on fewer distinct rows: whole days for t_x and t_cal (as rfm_clv_summary gives them), or a sample of the customers"
#define CUSTOMER_HINT "Compute x, t_x and t_cal with rfm_clv_summary: x repeat purchases, the last at t_x, observed until t_cal, both from the first purchase."

static const RfmClvOptions default_options = {
	.starts = 3,
	.max_iter = 200,
	.tol = 1e-8
};

/*
 * The fields of each model composite, in the order the install script
 * declares them: the parameters, then what the fit says about itself.
 */
#define MODEL_NFIELDS	11
static const char *const model_fields[3][MODEL_NFIELDS] = {
	{"r", "alpha", "a", "b", "ll", "n", "iterations", "converged", "gradient", "tol", "starts"},
	{"r", "alpha", "s", "beta", "ll", "n", "iterations", "converged", "gradient", "tol", "starts"},
	{"p", "q", "v", "ll", "n", "n_skipped", "iterations", "converged", "gradient", "tol", "starts"}
};
static const char *const model_names[3] = {"rfm_bgnbd_model", "rfm_pnbd_model", "rfm_gg_model"};
static const char *const fit_names[3] = {"rfm_bgnbd_fit", "rfm_pnbd_fit", "rfm_gg_fit"};

/* a distinct row: (x, t_x, t_cal), or (x, mean spend, 0) */
typedef struct ClvKey
{
	int32		x;
	int32		pad;			/* zero, so the key hashes as bytes */
	float8		u;
	float8		v;
} ClvKey;

typedef struct ClvEntry
{
	ClvKey		key;
	int64		count;
	uint32		hash;
	char		status;
} ClvEntry;

#define SH_PREFIX		clvrows
#define SH_ELEMENT_TYPE ClvEntry
#define SH_KEY_TYPE		ClvKey
#define SH_KEY			key
#define SH_HASH_KEY(tb, k) hash_bytes((const unsigned char *) &(k), sizeof(ClvKey))
#define SH_EQUAL(tb, a, b) (memcmp(&(a), &(b), sizeof(ClvKey)) == 0)
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a) a->hash
#define SH_SCOPE		static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

typedef struct ClvState
{
	bool		spend;			/* Gamma-Gamma's (x, mean spend) rows */
	RfmClvOptions options;
	text	   *options_text;	/* as given, so every row can be compared */
	int64		customers;
	int64		skipped;		/* Gamma-Gamma: rows left out */
	MemoryContext cxt;			/* the table's, for rfm_segment.max_memory */
	clvrows_hash *rows;
} ClvState;

/* parse 'starts=3 max_iter=200 tol=1e-8' */
static void
parse_options(const char *text, RfmClvOptions *o)
{
	char	   *copy = pstrdup(text);
	char	   *save = NULL;

	for (char *tok = strtok_r(copy, " ,", &save); tok; tok = strtok_r(NULL, " ,", &save))
	{
		char	   *eq = strchr(tok, '=');
		char	   *end;

		if (eq == NULL)
			goto bad;
		*eq = '\0';
		errno = 0;
		if (strcmp(tok, "starts") == 0)
			o->starts = (int32) strtol(eq + 1, &end, 10);
		else if (strcmp(tok, "max_iter") == 0)
			o->max_iter = (int32) strtol(eq + 1, &end, 10);
		else if (strcmp(tok, "tol") == 0)
			o->tol = strtod(eq + 1, &end);
		else
			goto bad;
		if (*end != '\0' || end == eq + 1 || errno != 0)
			goto bad;
	}
	if (o->starts < 1 || o->starts > CLV_MAX_STARTS ||
		o->max_iter < 1 || o->max_iter > CLV_MAX_ITER ||
		!(o->tol > 0 && o->tol <= CLV_MAX_TOL))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options out of range: \"%s\"", text),
				 errhint("starts must be 1..%d, max_iter 1..%d, tol above 0 and at most %g.",
						 CLV_MAX_STARTS, CLV_MAX_ITER, CLV_MAX_TOL)));
	pfree(copy);
	return;
bad:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid options \"%s\"", text),
			 errhint("Write options as 'starts=3 max_iter=200 tol=1e-8'.")));
}

/*
 * A customer's (x, t_x, t_cal), as the models need it: counts and times
 * not negative and finite, the last purchase within the observation, and
 * repeat purchases after the first (with purchases counted per day, t_x
 * is at least a day when x > 0, and 0 when x = 0).
 */
void
rfm_clv_check_customer(int32 x, float8 t_x, float8 t_cal)
{
	if (isnan(t_x) || isinf(t_x) || isnan(t_cal) || isinf(t_cal))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be finite", isnan(t_x) || isinf(t_x) ? "t_x" : "t_cal"),
				 errhint(CUSTOMER_HINT)));
	if (x < 0 || t_x < 0 || t_cal < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be negative", x < 0 ? "x" : t_x < 0 ? "t_x" : "t_cal"),
				 errhint(CUSTOMER_HINT)));
	if (t_x > t_cal)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("t_x (%g) must not exceed t_cal (%g)", t_x, t_cal),
				 errhint(CUSTOMER_HINT)));
	if (x > 0 && t_x == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("t_x must be positive when x (%d) is", x),
				 errhint("Repeat purchases come after the first: purchases on the day of the first are the same purchase, and t_x is at least a day.")));
	if (x == 0 && t_x != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("t_x must be 0 when x is 0, not %g", t_x),
				 errhint("Without a repeat purchase the last purchase is the first.")));
}

/* a numeric as float8, the value numeric_float8 gives, without its text */
static float8
numeric_to_float8(Numeric num, const char *argname)
{
	static const double pow10[EXACT_POW10 + 1] = {
		1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
		1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
	};
	int128		mantissa;
	int32		scale;

	rfm_check_finite(num, argname, "Pass NULL for a customer without a known spend.");
	/* both exact doubles: the division rounds once, as strtod does */
	if (rfm_numeric_decode((struct varlena *) num, &mantissa, &scale) &&
		mantissa < EXACT_MANTISSA && mantissa > -EXACT_MANTISSA &&
		scale <= EXACT_POW10)
		return (double) mantissa / pow10[scale];
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(num)));
}

static ClvState *
new_state(MemoryContext aggcontext, bool spend, const RfmClvOptions *options,
		  const text *options_text, int64 rows)
{
	ClvState   *st = MemoryContextAllocZero(aggcontext, sizeof(ClvState));

	st->spend = spend;
	st->options = *options;
	if (options_text)
		st->options_text = (text *) MemoryContextAlloc(aggcontext, VARSIZE_ANY(options_text));
	if (options_text)
		memcpy(st->options_text, options_text, VARSIZE_ANY(options_text));
	st->cxt = AllocSetContextCreate(aggcontext, "rfm_segment clv rows",
									ALLOCSET_DEFAULT_SIZES);
	st->rows = clvrows_create(st->cxt, Max(rows, CLV_INITIAL_ROWS), NULL);
	return st;
}

/* count customers of a row; the table's growth is checked against the bound */
static void
add_rows(ClvState *st, int32 x, float8 u, float8 v, int64 count)
{
	ClvKey		key;
	ClvEntry   *entry;
	bool		found;
	uint64		size = st->rows->size;

	memset(&key, 0, sizeof(key));
	key.x = x;
	/* -0 and 0 are one value */
	key.u = u + 0.0;
	key.v = v + 0.0;
	entry = clvrows_insert(st->rows, key, &found);
	if (!found)
		entry->count = 0;
	entry->count += count;
	st->customers += count;
	if (st->rows->size != size)
		rfm_check_memory(MemoryContextMemAllocated(st->cxt, true),
						 st->spend ? "rfm_gg_fit" : "rfm_bgnbd_fit or rfm_pnbd_fit",
						 MEMORY_HINT);
}

/* the options of a row: the first row's, and every other row's the same */
static void
check_options(FunctionCallInfo fcinfo, int argno, ClvState *st)
{
	text	   *options;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("options must not be NULL"),
				 errhint("Pass '' for the defaults.")));
	options = PG_GETARG_TEXT_PP(argno);
	if (st->options_text == NULL ||
		VARSIZE_ANY_EXHDR(options) != VARSIZE_ANY_EXHDR(st->options_text) ||
		memcmp(VARDATA_ANY(options), VARDATA_ANY(st->options_text),
			   VARSIZE_ANY_EXHDR(options)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options must be the same for every row"),
				 errhint("Pass the options as a constant.")));
}

/* the state of a transition: made on the first row, with its options */
static ClvState *
trans_state(FunctionCallInfo fcinfo, bool spend, int options_arg)
{
	MemoryContext aggcontext;
	RfmClvOptions options = default_options;
	text	   *options_text = NULL;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "rfm_segment clv transition called in non-aggregate context");
	if (!PG_ARGISNULL(0))
	{
		ClvState   *st = (ClvState *) PG_GETARG_POINTER(0);

		if (options_arg >= 0)
			check_options(fcinfo, options_arg, st);
		return st;
	}
	if (options_arg >= 0)
	{
		if (PG_ARGISNULL(options_arg))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("options must not be NULL"),
					 errhint("Pass '' for the defaults.")));
		options_text = PG_GETARG_TEXT_PP(options_arg);
		parse_options(text_to_cstring(options_text), &options);
	}
	return new_state(aggcontext, spend, &options, options_text, 0);
}

/* the transition of the transaction models: (state, x, t_x, t_cal [, options]) */
static Datum
clv_trans(FunctionCallInfo fcinfo, int options_arg)
{
	ClvState   *st = trans_state(fcinfo, false, options_arg);
	static const char *const names[3] = {"x", "t_x", "t_cal"};
	int32		x;

	for (int i = 1; i <= 3; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be NULL", names[i - 1]),
					 errhint("Leave customers without a summary out with a WHERE clause.")));
	x = PG_GETARG_INT32(1);
	rfm_clv_check_customer(x, PG_GETARG_FLOAT8(2), PG_GETARG_FLOAT8(3));
	add_rows(st, x, PG_GETARG_FLOAT8(2), PG_GETARG_FLOAT8(3), 1);
	PG_RETURN_POINTER(st);
}

/*
 * rfm_bgnbd_fit(x, t_x, t_cal) and rfm_pnbd_fit(...): transition.  The
 * state is the same for both; the final function chooses the model.  NULL
 * or invalid input is an error (rfm_clv_check_customer).
 */
PG_FUNCTION_INFO_V1(rfm_clv_fit_trans);
Datum
rfm_clv_fit_trans(PG_FUNCTION_ARGS)
{
	return clv_trans(fcinfo, -1);
}

/* the same with options, which must not be NULL and not vary by row */
PG_FUNCTION_INFO_V1(rfm_clv_fit_trans_options);
Datum
rfm_clv_fit_trans_options(PG_FUNCTION_ARGS)
{
	return clv_trans(fcinfo, 4);
}

/* the transition of Gamma-Gamma: (state, x, mean_spend [, options]) */
static Datum
gg_trans(FunctionCallInfo fcinfo, int options_arg)
{
	ClvState   *st = trans_state(fcinfo, true, options_arg);
	int32		x;
	float8		m;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("x must not be NULL"),
				 errhint("Leave customers without a summary out with a WHERE clause.")));
	x = PG_GETARG_INT32(1);
	if (x < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("x must not be negative"),
				 errhint(CUSTOMER_HINT)));
	if (PG_ARGISNULL(2))
	{
		st->skipped++;
		PG_RETURN_POINTER(st);
	}
	m = numeric_to_float8(PG_GETARG_NUMERIC(2), "mean_spend");
	/* the model is of positive spend by repeat customers: skip the rest */
	if (x == 0 || !(m > 0))
		st->skipped++;
	else
		add_rows(st, x, m, 0, 1);
	PG_RETURN_POINTER(st);
}

/*
 * rfm_gg_fit(x, mean_spend): transition.  Customers with x = 0, or a
 * mean_spend that is NULL or not positive, are counted as skipped, as
 * CLVTools does; a NULL x, a negative x and a NaN or infinite mean_spend
 * are errors.
 */
PG_FUNCTION_INFO_V1(rfm_gg_fit_trans);
Datum
rfm_gg_fit_trans(PG_FUNCTION_ARGS)
{
	return gg_trans(fcinfo, -1);
}

/* the same with options */
PG_FUNCTION_INFO_V1(rfm_gg_fit_trans_options);
Datum
rfm_gg_fit_trans_options(PG_FUNCTION_ARGS)
{
	return gg_trans(fcinfo, 3);
}

/* merge other's rows into st */
static void
merge_rows(ClvState *st, ClvState *other)
{
	clvrows_iterator it;
	ClvEntry   *entry;

	clvrows_start_iterate(other->rows, &it);
	while ((entry = clvrows_iterate(other->rows, &it)) != NULL)
		add_rows(st, entry->key.x, entry->key.u, entry->key.v, entry->count);
	st->skipped += other->skipped;
}

/* two partial states must be of the same aggregate, with the same options */
static void
check_compatible(const ClvState *a, const ClvState *b)
{
	bool		same_text;

	if (a->options_text == NULL || b->options_text == NULL)
		same_text = a->options_text == b->options_text;
	else
		same_text = VARSIZE_ANY_EXHDR(a->options_text) == VARSIZE_ANY_EXHDR(b->options_text) &&
			memcmp(VARDATA_ANY(a->options_text), VARDATA_ANY(b->options_text),
				   VARSIZE_ANY_EXHDR(a->options_text)) == 0;
	if (a->spend != b->spend || !same_text)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine partial states of different fits"),
				 errhint("Combine states of one aggregate, with the same options.")));
}

/* merge partial states; not STRICT, as the state is internal */
PG_FUNCTION_INFO_V1(rfm_clv_fit_combine);
Datum
rfm_clv_fit_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	ClvState   *st;
	ClvState   *other;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "rfm_clv_fit_combine called in non-aggregate context");
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_POINTER(PG_GETARG_POINTER(0));
	}
	other = (ClvState *) PG_GETARG_POINTER(1);
	if (PG_ARGISNULL(0))
		st = new_state(aggcontext, other->spend, &other->options,
					   other->options_text, other->rows->members);
	else
	{
		st = (ClvState *) PG_GETARG_POINTER(0);
		check_compatible(st, other);
	}
	merge_rows(st, other);
	PG_RETURN_POINTER(st);
}

/* the state as bytes: version, kind, options, counts, then the rows */
PG_FUNCTION_INFO_V1(rfm_clv_fit_serial);
Datum
rfm_clv_fit_serial(PG_FUNCTION_ARGS)
{
	ClvState   *st = (ClvState *) PG_GETARG_POINTER(0);
	StringInfoData buf;
	clvrows_iterator it;
	ClvEntry   *entry;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, CLV_STATE_VERSION);
	pq_sendbyte(&buf, st->spend ? 1 : 0);
	pq_sendint32(&buf, st->options.starts);
	pq_sendint32(&buf, st->options.max_iter);
	pq_sendfloat8(&buf, st->options.tol);
	pq_sendbyte(&buf, st->options_text ? 1 : 0);
	if (st->options_text)
	{
		pq_sendint32(&buf, VARSIZE_ANY_EXHDR(st->options_text));
		pq_sendbytes(&buf, VARDATA_ANY(st->options_text),
					 VARSIZE_ANY_EXHDR(st->options_text));
	}
	pq_sendint64(&buf, st->skipped);
	pq_sendint64(&buf, st->rows->members);
	clvrows_start_iterate(st->rows, &it);
	while ((entry = clvrows_iterate(st->rows, &it)) != NULL)
	{
		pq_sendint32(&buf, entry->key.x);
		pq_sendfloat8(&buf, entry->key.u);
		pq_sendfloat8(&buf, entry->key.v);
		pq_sendint64(&buf, entry->count);
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(rfm_clv_fit_deserial);
Datum
rfm_clv_fit_deserial(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	MemoryContext aggcontext;
	StringInfoData buf;
	RfmClvOptions options;
	text	   *options_text = NULL;
	ClvState   *st;
	bool		spend;
	int64		skipped;
	int64		nrows;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "rfm_clv_fit_deserial called in non-aggregate context");
	buf.data = VARDATA_ANY(data);
	buf.len = VARSIZE_ANY_EXHDR(data);
	buf.maxlen = buf.len;
	buf.cursor = 0;
	if (pq_getmsgint(&buf, 4) != CLV_STATE_VERSION)
		elog(ERROR, "unsupported rfm_segment clv state version");
	spend = pq_getmsgbyte(&buf) != 0;
	options.starts = pq_getmsgint(&buf, 4);
	options.max_iter = pq_getmsgint(&buf, 4);
	options.tol = pq_getmsgfloat8(&buf);
	if (pq_getmsgbyte(&buf) != 0)
	{
		int32		len = pq_getmsgint(&buf, 4);

		if (len < 0 || len > buf.len - buf.cursor)
			elog(ERROR, "corrupt rfm_segment clv state");
		options_text = cstring_to_text_with_len(pq_getmsgbytes(&buf, len), len);
	}
	skipped = pq_getmsgint64(&buf);
	nrows = pq_getmsgint64(&buf);
	if (nrows < 0 || (Size) (buf.len - buf.cursor) != (Size) nrows * (4 + 8 + 8 + 8))
		elog(ERROR, "corrupt rfm_segment clv state");
	st = new_state(aggcontext, spend, &options, options_text, nrows);
	st->skipped = skipped;
	for (int64 i = 0; i < nrows; i++)
	{
		int32		x = pq_getmsgint(&buf, 4);
		float8		u = pq_getmsgfloat8(&buf);
		float8		v = pq_getmsgfloat8(&buf);
		int64		count = pq_getmsgint64(&buf);

		add_rows(st, x, u, v, count);
	}
	PG_RETURN_POINTER(st);
}

/* rows in (x, u, v) order; no two are equal */
static int
entry_cmp(const void *a, const void *b)
{
	const ClvKey *x = &((const ClvEntry *) a)->key;
	const ClvKey *y = &((const ClvEntry *) b)->key;

	if (x->x != y->x)
		return x->x < y->x ? -1 : 1;
	if (x->u != y->u)
		return x->u < y->u ? -1 : 1;
	if (x->v != y->v)
		return x->v < y->v ? -1 : 1;
	return 0;
}

/* check that a row type has the fields this library expects, by name */
static void
check_model_type(TupleDesc tupdesc, RfmClvKind kind)
{
	bool		ok = tupdesc->natts == MODEL_NFIELDS;

	for (int i = 0; ok && i < MODEL_NFIELDS; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		ok = !att->attisdropped && strcmp(NameStr(att->attname), model_fields[kind][i]) == 0;
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s does not have the fields this version of the library expects",
						model_names[kind]),
				 errhint("Run ALTER EXTENSION rfm_segment UPDATE, so the SQL objects match the installed library.")));
}

/*
 * The final functions: sort the distinct rows, check there is something to
 * fit, fit, and return the model; a WARNING when the fit did not converge.
 */
static Datum
clv_final(FunctionCallInfo fcinfo, RfmClvKind kind)
{
	ClvState   *st;
	TupleDesc	tupdesc;
	ClvEntry   *rows;
	int32	   *x;
	float8	   *u;
	float8	   *v;
	float8	   *count;
	int64		nrows;
	int64		i = 0;
	int64		repeat = 0;
	RfmClvData	data;
	RfmClvFit	fit;
	int			nparams = rfm_clv_nparams(kind);
	Datum		values[MODEL_NFIELDS];
	bool		nulls[MODEL_NFIELDS] = {0};
	int			f;
	clvrows_iterator it;
	ClvEntry   *entry;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (ClvState *) PG_GETARG_POINTER(0);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "%s must return a composite type", fit_names[kind]);
	check_model_type(tupdesc, kind);
	if (st->customers < CLV_MIN_CUSTOMERS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s needs at least %d customers, not " INT64_FORMAT,
						fit_names[kind], CLV_MIN_CUSTOMERS, st->customers),
				 kind == RFM_CLV_GG ?
				 errdetail(INT64_FORMAT " customers without a repeat purchase of positive spend were skipped.",
						   st->skipped) : 0,
				 errhint("A model of a handful of customers says nothing: fit on more.")));

	nrows = st->rows->members;
	rfm_check_memory(MemoryContextMemAllocated(st->cxt, true) +
					 nrows * (sizeof(ClvEntry) + sizeof(int32) + 3 * sizeof(float8)) +
					 rfm_clv_fit_bytes(kind, nrows),
					 fit_names[kind], MEMORY_HINT);
	rows = palloc_extended(nrows * sizeof(ClvEntry), MCXT_ALLOC_HUGE);
	clvrows_start_iterate(st->rows, &it);
	while ((entry = clvrows_iterate(st->rows, &it)) != NULL)
		rows[i++] = *entry;
	qsort(rows, nrows, sizeof(ClvEntry), entry_cmp);
	x = palloc_extended(nrows * sizeof(int32), MCXT_ALLOC_HUGE);
	u = palloc_extended(nrows * sizeof(float8), MCXT_ALLOC_HUGE);
	v = palloc_extended(nrows * sizeof(float8), MCXT_ALLOC_HUGE);
	count = palloc_extended(nrows * sizeof(float8), MCXT_ALLOC_HUGE);
	for (i = 0; i < nrows; i++)
	{
		x[i] = rows[i].key.x;
		u[i] = rows[i].key.u;
		v[i] = rows[i].key.v;
		count[i] = (float8) rows[i].count;
		if (x[i] > 0)
			repeat++;
	}
	pfree(rows);
	if (kind != RFM_CLV_GG && repeat == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s needs customers with repeat purchases, and no customer has one",
						fit_names[kind]),
				 errhint("Use a longer calibration period, so that some customers buy again.")));

	data.ntuples = nrows;
	data.customers = st->customers;
	data.x = x;
	data.u = u;
	data.v = v;
	data.count = count;
	rfm_clv_fit(kind, &data, &st->options, &fit);
	if (isnan(fit.ll))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s could not evaluate the likelihood at any starting point",
						fit_names[kind]),
				 errhint("Check the data: the times should be in a unit where purchases are some units apart, such as weeks.")));
	if (!fit.converged && fit.boundary >= 0)
		ereport(WARNING,
				(errmsg("%s did not converge: %s went to %g", fit_names[kind],
						model_fields[kind][fit.boundary], fit.params[fit.boundary]),
				 errdetail("The likelihood rises toward a limit of the model, where a distribution across customers collapses to a point."),
				 errhint("The model returned has converged = false: the data show too little difference between customers for this model.")));
	else if (!fit.converged)
		ereport(WARNING,
				(errmsg("%s did not converge", fit_names[kind]),
				 errdetail("After %d iterations the largest gradient component is %g, above the tolerance %g.",
						   fit.iterations, fit.gradient, st->options.tol),
				 errhint("The model returned has converged = false: check the data, or raise max_iter or starts in the options.")));

	for (f = 0; f < nparams; f++)
		values[f] = Float8GetDatum(fit.params[f]);
	values[f++] = Float8GetDatum(fit.ll);
	values[f++] = Int64GetDatum(st->customers);
	if (kind == RFM_CLV_GG)
		values[f++] = Int64GetDatum(st->skipped);
	values[f++] = Int32GetDatum(fit.iterations);
	values[f++] = BoolGetDatum(fit.converged);
	values[f++] = Float8GetDatum(fit.gradient);
	values[f++] = Float8GetDatum(st->options.tol);
	values[f++] = Int32GetDatum(st->options.starts);
	Assert(f == MODEL_NFIELDS);
	tupdesc = BlessTupleDesc(tupdesc);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * rfm_bgnbd_fit: the BG/NBD model of the customers, by maximum likelihood.
 * No rows: NULL.  Fewer than CLV_MIN_CUSTOMERS customers, or none with a
 * repeat purchase: an error.
 */
PG_FUNCTION_INFO_V1(rfm_bgnbd_fit_final);
Datum
rfm_bgnbd_fit_final(PG_FUNCTION_ARGS)
{
	return clv_final(fcinfo, RFM_CLV_BGNBD);
}

/* rfm_pnbd_fit: the Pareto/NBD model, as rfm_bgnbd_fit */
PG_FUNCTION_INFO_V1(rfm_pnbd_fit_final);
Datum
rfm_pnbd_fit_final(PG_FUNCTION_ARGS)
{
	return clv_final(fcinfo, RFM_CLV_PNBD);
}

/*
 * rfm_gg_fit: the Gamma-Gamma model of the repeat customers' mean spend.
 * No rows: NULL; fewer than CLV_MIN_CUSTOMERS customers not skipped: an
 * error.
 */
PG_FUNCTION_INFO_V1(rfm_gg_fit_final);
Datum
rfm_gg_fit_final(PG_FUNCTION_ARGS)
{
	return clv_final(fcinfo, RFM_CLV_GG);
}

/* a model read, cached per call site and argument */
typedef struct ModelCache
{
	Oid			typid;			/* checked row type, or InvalidOid */
	Size		len;
	char	   *bytes;			/* the last model's bytes */
	float8		params[RFM_CLV_MAX_PARAMS];
} ModelCache;

/*
 * The parameters of the model in argument argno, which must be of kind:
 * its row type is checked once per call site, and its parameters read once
 * per distinct model (a query scores many rows with one model).  Each must
 * be positive and finite, as a fit makes them; a model typed by hand that
 * is not is an error.
 */
void
rfm_clv_read_model(FunctionCallInfo fcinfo, int argno, int slot,
				   RfmClvKind kind, float8 *params)
{
	HeapTupleHeader t = PG_GETARG_HEAPTUPLEHEADER(argno);
	Size		len = HeapTupleHeaderGetDatumLength(t);
	ModelCache *cache = (ModelCache *) fcinfo->flinfo->fn_extra;
	ModelCache *c;
	int			nparams = rfm_clv_nparams(kind);

	Assert(slot < RFM_CLV_MODEL_SLOTS);
	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt,
									   RFM_CLV_MODEL_SLOTS * sizeof(ModelCache));
		fcinfo->flinfo->fn_extra = cache;
	}
	c = &cache[slot];
	if (c->bytes != NULL && c->len == len && memcmp(c->bytes, t, len) == 0)
	{
		memcpy(params, c->params, nparams * sizeof(float8));
		return;
	}
	if (c->typid != HeapTupleHeaderGetTypeId(t))
	{
		TupleDesc	tupdesc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(t),
													 HeapTupleHeaderGetTypMod(t));

		check_model_type(tupdesc, kind);
		ReleaseTupleDesc(tupdesc);
		c->typid = HeapTupleHeaderGetTypeId(t);
	}
	for (int i = 0; i < nparams; i++)
	{
		bool		isnull;
		Datum		d = GetAttributeByNum(t, i + 1, &isnull);

		params[i] = isnull ? NAN : DatumGetFloat8(d);
		if (!(params[i] > 0) || isinf(params[i]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("malformed %s: %s must be positive and finite",
							model_names[kind], model_fields[kind][i]),
					 errhint("Pass a model returned by %s.", fit_names[kind])));
	}
	if (c->bytes != NULL)
		pfree(c->bytes);
	c->bytes = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, len);
	memcpy(c->bytes, t, len);
	c->len = len;
	memcpy(c->params, params, nparams * sizeof(float8));
}

/*
 * The transaction model (BG/NBD or Pareto/NBD, as kind says) in argument
 * argno, read and checked by rfm_clv_read_model.
 */
RfmTransactionModel
rfm_clv_transaction_model(FunctionCallInfo fcinfo, int argno, RfmClvKind kind)
{
	float8		p[RFM_CLV_MAX_PARAMS];
	RfmTransactionModel m;

	rfm_clv_read_model(fcinfo, argno, 0, kind, p);
	memset(&m, 0, sizeof(m));
	m.kind = kind;
	if (kind == RFM_CLV_BGNBD)
	{
		m.bgnbd.r = p[0];
		m.bgnbd.alpha = p[1];
		m.bgnbd.a = p[2];
		m.bgnbd.b = p[3];
	}
	else
	{
		m.pnbd.r = p[0];
		m.pnbd.alpha = p[1];
		m.pnbd.s = p[2];
		m.pnbd.beta = p[3];
	}
	return m;
}

/* a time argument: finite and not negative */
static float8
time_arg(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	float8		t = PG_GETARG_FLOAT8(argno);

	if (isnan(t) || isinf(t) || t < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be finite and not negative, not %g", argname, t),
				 errhint("Pass a length of time in the unit of the model's data, such as 39 (weeks).")));
	return t;
}

/* a result, or an error when the model's functions could not compute it */
static Datum
result(float8 value, const char *what)
{
	if (isnan(value))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("could not compute %s for these parameters", what),
				 errhint("The model's parameters are extreme: refit it on the data.")));
	PG_RETURN_FLOAT8(value);
}

/* the customer arguments (x, t_x, t_cal) from argno on, checked */
static void
customer_args(FunctionCallInfo fcinfo, int argno, int32 *x, float8 *t_x,
			  float8 *t_cal)
{
	*x = PG_GETARG_INT32(argno);
	*t_x = PG_GETARG_FLOAT8(argno + 1);
	*t_cal = PG_GETARG_FLOAT8(argno + 2);
	rfm_clv_check_customer(*x, *t_x, *t_cal);
}

/*
 * rfm_p_alive(model, x, t_x, t_cal): the probability that the customer is
 * still alive at t_cal.  STRICT; IMMUTABLE, it depends on its arguments
 * alone.  Invalid (x, t_x, t_cal) is an error (rfm_clv_check_customer).
 */
static Datum
p_alive(FunctionCallInfo fcinfo, RfmClvKind kind)
{
	RfmTransactionModel m = rfm_clv_transaction_model(fcinfo, 0, kind);
	int32		x;
	float8		t_x;
	float8		t_cal;

	customer_args(fcinfo, 1, &x, &t_x, &t_cal);
	return result(rfm_tm_p_alive(&m, x, t_x, t_cal), "P(alive)");
}

/* rfm_p_alive under BG/NBD */
PG_FUNCTION_INFO_V1(rfm_p_alive_bgnbd);
Datum
rfm_p_alive_bgnbd(PG_FUNCTION_ARGS)
{
	return p_alive(fcinfo, RFM_CLV_BGNBD);
}

/* rfm_p_alive under Pareto/NBD */
PG_FUNCTION_INFO_V1(rfm_p_alive_pnbd);
Datum
rfm_p_alive_pnbd(PG_FUNCTION_ARGS)
{
	return p_alive(fcinfo, RFM_CLV_PNBD);
}

/*
 * rfm_expected_purchases(model, t, x, t_x, t_cal): expected purchases in
 * the next t after t_cal, given the customer's history.  STRICT; t must
 * be finite and not negative.
 */
static Datum
expected_purchases(FunctionCallInfo fcinfo, RfmClvKind kind)
{
	RfmTransactionModel m = rfm_clv_transaction_model(fcinfo, 0, kind);
	float8		t = time_arg(fcinfo, 1, "t");
	int32		x;
	float8		t_x;
	float8		t_cal;

	customer_args(fcinfo, 2, &x, &t_x, &t_cal);
	return result(rfm_tm_expected(&m, t, x, t_x, t_cal), "the expected purchases");
}

/* rfm_expected_purchases under BG/NBD */
PG_FUNCTION_INFO_V1(rfm_expected_purchases_bgnbd);
Datum
rfm_expected_purchases_bgnbd(PG_FUNCTION_ARGS)
{
	return expected_purchases(fcinfo, RFM_CLV_BGNBD);
}

/* rfm_expected_purchases under Pareto/NBD */
PG_FUNCTION_INFO_V1(rfm_expected_purchases_pnbd);
Datum
rfm_expected_purchases_pnbd(PG_FUNCTION_ARGS)
{
	return expected_purchases(fcinfo, RFM_CLV_PNBD);
}

/*
 * rfm_expected_purchases_new(model, t): expected purchases in (0, t] of a
 * customer just acquired (repeat purchases: the first is not counted).
 * STRICT.
 */
static Datum
expected_purchases_new(FunctionCallInfo fcinfo, RfmClvKind kind)
{
	RfmTransactionModel m = rfm_clv_transaction_model(fcinfo, 0, kind);

	return result(rfm_tm_expected_new(&m, time_arg(fcinfo, 1, "t")),
				  "the expected purchases");
}

/* rfm_expected_purchases_new under BG/NBD */
PG_FUNCTION_INFO_V1(rfm_expected_purchases_new_bgnbd);
Datum
rfm_expected_purchases_new_bgnbd(PG_FUNCTION_ARGS)
{
	return expected_purchases_new(fcinfo, RFM_CLV_BGNBD);
}

/* rfm_expected_purchases_new under Pareto/NBD */
PG_FUNCTION_INFO_V1(rfm_expected_purchases_new_pnbd);
Datum
rfm_expected_purchases_new_pnbd(PG_FUNCTION_ARGS)
{
	return expected_purchases_new(fcinfo, RFM_CLV_PNBD);
}

/*
 * The expected spend per purchase of the Gamma-Gamma model in argument
 * model_arg for x and mean_spend in arguments x_arg and spend_arg: false
 * when there is none (x > 0 with a mean spend that is not positive, which
 * the model does not describe, or q too small for the mean to exist).
 */
static bool
expected_spend(FunctionCallInfo fcinfo, int model_arg, int x_arg, int spend_arg,
			   float8 *spend)
{
	float8		p[RFM_CLV_MAX_PARAMS];
	RfmGg		m;
	int32		x = PG_GETARG_INT32(x_arg);
	bool		has_spend = !PG_ARGISNULL(spend_arg);
	float8		mean_spend = 0;

	rfm_clv_read_model(fcinfo, model_arg, 1, RFM_CLV_GG, p);
	m.p = p[0];
	m.q = p[1];
	m.v = p[2];
	if (x < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("x must not be negative"),
				 errhint(CUSTOMER_HINT)));
	if (has_spend)
	{
		mean_spend = numeric_to_float8(PG_GETARG_NUMERIC(spend_arg), "mean_spend");
		if (x > 0 && !(mean_spend > 0))
			return false;
	}
	*spend = rfm_gg_expected_spend(&m, x, mean_spend, has_spend);
	return !isnan(*spend);
}

/*
 * rfm_expected_spend(gg_model, x, mean_spend): the expected spend per
 * purchase of the customer under Gamma-Gamma.  x = 0 or a NULL mean_spend
 * give the population's mean.  NULL when the model or x is NULL, when a
 * repeat customer's mean_spend is not positive (the fit skipped such
 * customers), or when the model's mean spend does not exist (q <= 1).
 */
PG_FUNCTION_INFO_V1(rfm_expected_spend);
Datum
rfm_expected_spend(PG_FUNCTION_ARGS)
{
	float8		spend;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	if (!expected_spend(fcinfo, 0, 1, 2, &spend))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(spend);
}

/* rfm_clv's argument positions after the transaction model */
#define CLV_ARG_GG			1
#define CLV_ARG_X			2
#define CLV_ARG_SPEND		5
#define CLV_ARG_HORIZON		6
#define CLV_ARG_DISCOUNT	7
#define CLV_ARG_MARGIN		8

/*
 * The arguments of rfm_clv besides the transaction model: false (NULL
 * result) when one of them other than mean_spend is NULL, or there is no
 * expected spend.
 */
static bool
clv_args(FunctionCallInfo fcinfo, int32 *x, float8 *t_x, float8 *t_cal,
		 float8 *horizon, float8 *rate, float8 *margin, float8 *spend)
{
	for (int i = 0; i <= CLV_ARG_MARGIN; i++)
		if (i != CLV_ARG_SPEND && PG_ARGISNULL(i))
			return false;
	customer_args(fcinfo, CLV_ARG_X, x, t_x, t_cal);
	*horizon = time_arg(fcinfo, CLV_ARG_HORIZON, "horizon");
	*rate = PG_GETARG_FLOAT8(CLV_ARG_DISCOUNT);
	*margin = PG_GETARG_FLOAT8(CLV_ARG_MARGIN);
	if (isnan(*rate) || isinf(*rate) || *rate < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("discount_rate must be finite and not negative, not %g", *rate),
				 errhint("Pass the discount rate per unit of time, such as 0.0019 for 10%% a year in weeks.")));
	if (isnan(*margin) || isinf(*margin) || *margin < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("margin must be finite and not negative, not %g", *margin),
				 errhint("Pass the share of spend that is profit, such as 0.3, or 1 for revenue.")));
	if (*rate > 0 && ceil(*horizon) > CLV_MAX_PERIODS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("horizon must be at most %d units when discounting, not %g",
						CLV_MAX_PERIODS, *horizon),
				 errhint("Discounting sums period by period: use a coarser unit, such as months instead of days.")));

	return expected_spend(fcinfo, CLV_ARG_GG, CLV_ARG_X, CLV_ARG_SPEND, spend);
}

/*
 * rfm_clv(transaction_model, gg_model, x, t_x, t_cal, mean_spend, horizon,
 * discount_rate, margin): margin x expected spend per purchase x the
 * expected purchases over (t_cal, t_cal + horizon], those of period j
 * discounted by (1 + discount_rate)^-j (clv_model.c).  Not STRICT:
 * mean_spend may be NULL (the population's mean spend); any other NULL
 * argument, or no expected spend, gives NULL.
 */
static Datum
clv(FunctionCallInfo fcinfo, RfmClvKind kind)
{
	RfmTransactionModel m;
	int32		x;
	float8		t_x,
				t_cal,
				horizon,
				rate,
				margin,
				spend;

	if (!clv_args(fcinfo, &x, &t_x, &t_cal, &horizon, &rate, &margin, &spend))
		PG_RETURN_NULL();
	m = rfm_clv_transaction_model(fcinfo, 0, kind);
	return result(margin * spend *
				  rfm_tm_discounted(&m, x, t_x, t_cal, horizon, rate), "the CLV");
}

/* rfm_clv under BG/NBD */
PG_FUNCTION_INFO_V1(rfm_clv_bgnbd);
Datum
rfm_clv_bgnbd(PG_FUNCTION_ARGS)
{
	return clv(fcinfo, RFM_CLV_BGNBD);
}

/* rfm_clv under Pareto/NBD */
PG_FUNCTION_INFO_V1(rfm_clv_pnbd);
Datum
rfm_clv_pnbd(PG_FUNCTION_ARGS)
{
	return clv(fcinfo, RFM_CLV_PNBD);
}
