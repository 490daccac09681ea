/*-------------------------------------------------------------------------
 *
 * shares.c
 *	  Wide customer profiles: rfm_shares, an aggregate that turns a
 *	  customer's events into one array of shares (of events, or of a
 *	  weight such as revenue) per category, channel, weekday or hour, so
 *	  that a profile of a few hundred features is built in one GROUP BY.
 *
 * In plain SQL each share is its own "count(*) FILTER (WHERE category =
 * 'x')" column, written once per category; rfm_shares takes the list of
 * categories as an array and returns the shares in its order:
 *
 *		rfm_shares(category, ARRAY['books', 'music', 'video'])	-> {0.5, 0.25, 0}
 *		rfm_shares(extract(hour FROM at)::int, 24)				-> 24 shares
 *
 * A key outside the list (or NULL, or a bucket NULL) counts in the total
 * only, so the shares of the listed keys sum to at most 1.  With a weight,
 * the shares are of the summed weight; a row whose weight is NULL is left
 * out, as sum() leaves it out.  A customer whose total is 0 has all shares
 * 0.
 *
 * The shares are the same bytes whatever the order of the rows or the
 * plan, so that a model or a dashboard never changes in the last digit
 * between refreshes.  Counts are summed as float8, exact up to 2^53 rows
 * per group (8 bytes per key and group).  Weights cannot be: a float sum
 * depends on the order of its terms.  They are summed in fixed point
 * instead, in units of 2^-64 in 128 bits (16 bytes per key), which adds
 * any weight from 2^-11 up exactly and rounds smaller ones the same way
 * in every order; the sums must stay below 2^63 (9.2e18) in magnitude.
 * Both states are plain arrays (float8[], and int8[] holding each sum as
 * its high and low 64 bits), merged by adding: no serialization, and
 * Citus or postgres_fdw can move them as text.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

/* a state's sums: it has no NULLs, so they follow the fixed overhead */
#define STATE_DATA(st)	((char *) (st) + ARR_OVERHEAD_NONULLS(1))

/* weighted sums are kept in units of 2^-FIXED_BITS */
#define FIXED_BITS				64

/* weights, and their sums, must be smaller than 2^63 in magnitude */
#define WEIGHT_LIMIT			9223372036854775808.0
#define WEIGHT_RANGE_HINT "Weights and their sums per group must be below 9.2e18 in magnitude; scale them down, such as to thousands."

/* the most keys or buckets one rfm_shares may count */
#define SHARES_MAX_KEYS			10000

#define SHARES_KEYS_HINT "Pass the list of keys as a constant array, such as ARRAY['web', 'app', 'store']."

/* the keys of a text rfm_shares, looked up by hash; cached per call site */
typedef struct KeyTable
{
	ArrayType  *keys;			/* a copy, to spot another list */
	int			nkeys;
	int			mask;
	int		   *slots;			/* key index or -1, open addressing */
	char	  **key;
	int		   *len;
} KeyTable;

static uint32
key_hash(const char *s, int len)
{
	return hash_bytes((const unsigned char *) s, len);
}

static KeyTable *
key_table(FunctionCallInfo fcinfo, ArrayType *keys)
{
	KeyTable   *t = (KeyTable *) fcinfo->flinfo->fn_extra;
	MemoryContext old;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			size = 1;

	if (t != NULL && (t->keys == keys ||
					  (VARSIZE(t->keys) == VARSIZE(keys) &&
					   memcmp(t->keys, keys, VARSIZE(keys)) == 0)))
		return t;
	if (ARR_NDIM(keys) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("keys must be a one-dimensional array"),
				 errhint(SHARES_KEYS_HINT)));
	deconstruct_array(keys, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n < 1 || n > SHARES_MAX_KEYS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("keys must have between 1 and %d elements, not %d", SHARES_MAX_KEYS, n),
				 errhint(SHARES_KEYS_HINT)));
	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	t = palloc0(sizeof(KeyTable));
	t->keys = palloc(VARSIZE(keys));
	memcpy(t->keys, keys, VARSIZE(keys));
	t->nkeys = n;
	while (size < 2 * n)
		size *= 2;
	t->mask = size - 1;
	t->slots = palloc(sizeof(int) * size);
	memset(t->slots, -1, sizeof(int) * size);
	t->key = palloc(sizeof(char *) * n);
	t->len = palloc(sizeof(int) * n);
	for (int i = 0; i < n; i++)
	{
		text	   *k;
		int			slot;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("keys must not contain NULL"),
					 errhint(SHARES_KEYS_HINT)));
		k = DatumGetTextPP(elems[i]);
		t->key[i] = VARDATA_ANY(k);
		t->len[i] = VARSIZE_ANY_EXHDR(k);
		for (slot = key_hash(t->key[i], t->len[i]) & t->mask; t->slots[slot] >= 0;
			 slot = (slot + 1) & t->mask)
			if (t->len[t->slots[slot]] == t->len[i] &&
				memcmp(t->key[t->slots[slot]], t->key[i], t->len[i]) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("key \"%s\" appears twice in keys", text_to_cstring(k)),
						 errhint("List every key once.")));
		t->slots[slot] = i;
	}
	MemoryContextSwitchTo(old);
	fcinfo->flinfo->fn_extra = t;
	return t;
}

/* the index of key in the table, or -1 */
static int
key_index(const KeyTable *t, text *key)
{
	const char *s = VARDATA_ANY(key);
	int			len = VARSIZE_ANY_EXHDR(key);

	for (int slot = key_hash(s, len) & t->mask; t->slots[slot] >= 0; slot = (slot + 1) & t->mask)
	{
		int			i = t->slots[slot];

		if (t->len[i] == len && memcmp(t->key[i], s, len) == 0)
			return i;
	}
	return -1;
}

/*
 * The state to add to: a new one of nkeys sums and a total, all zero (the
 * executor copies it into the aggregate's context once), or the one
 * passed, which must have that shape: float8 counts, or weighted sums of
 * two int8 words each.  Updated in place in aggregate context; a copy
 * otherwise, as float8_accum does.
 */
static ArrayType *
shares_state(FunctionCallInfo fcinfo, int nkeys, bool weighted)
{
	ArrayType  *st;
	Oid			elemtype = weighted ? INT8OID : FLOAT8OID;
	int			n = (nkeys + 1) * (weighted ? 2 : 1);

	if (PG_ARGISNULL(0))
	{
		Size		size = ARR_OVERHEAD_NONULLS(1) + sizeof(int64) * n;

		st = palloc0(size);
		SET_VARSIZE(st, size);
		st->ndim = 1;
		st->dataoffset = 0;
		st->elemtype = elemtype;
		ARR_DIMS(st)[0] = n;
		ARR_LBOUND(st)[0] = 1;
		return st;
	}
	st = AggCheckCallContext(fcinfo, NULL) ?
		PG_GETARG_ARRAYTYPE_P(0) : PG_GETARG_ARRAYTYPE_P_COPY(0);
	if (ARR_NDIM(st) != 1 || ARR_HASNULL(st) || ARR_ELEMTYPE(st) != elemtype ||
		ARR_DIMS(st)[0] != n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("keys must be the same for every row"),
				 errhint(SHARES_KEYS_HINT)));
	return st;
}

/* the weight argument: true to count the row (with *w), false to skip it */
static bool
row_weight(FunctionCallInfo fcinfo, int argno, float8 *w)
{
	*w = 1;
	if (argno < 0)
		return true;
	if (PG_ARGISNULL(argno))
		return false;
	*w = PG_GETARG_FLOAT8(argno);
	if (isnan(*w) || isinf(*w))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("weight must be a finite number"),
				 errhint("Pass NULL to leave the row out.")));
	if (fabs(*w) >= WEIGHT_LIMIT)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("weight %g is out of range", *w),
				 errhint(WEIGHT_RANGE_HINT)));
	return true;
}

/*
 * A weighted sum, the i-th of a state: its high and low 64 bits, so that
 * the array means the same on every platform (and in binary COPY).
 */
static int128
wsum_get(const int64 *words, int i)
{
	return (int128) (((uint128) (uint64) words[2 * i] << 64) | (uint64) words[2 * i + 1]);
}

static void
wsum_put(int64 *words, int i, int128 value)
{
	words[2 * i] = (int64) (value >> 64);
	words[2 * i + 1] = (int64) (uint64) value;
}

static void
wsum_add(int64 *words, int i, int128 term)
{
	int128		sum;

	if (__builtin_add_overflow(wsum_get(words, i), term, &sum))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the sum of weights is out of range"),
				 errhint(WEIGHT_RANGE_HINT)));
	wsum_put(words, i, sum);
}

/*
 * Add one row to a state: to the sum of key i (-1: none) and the total.
 * A weight is rounded to the fixed point once, the same way wherever the
 * row is summed.
 */
static Datum
shares_add(FunctionCallInfo fcinfo, ArrayType *st, int nkeys, int i, bool weighted, float8 w)
{
	if (weighted)
	{
		int64	   *words = (int64 *) STATE_DATA(st);
		int128		term = (int128) rint(ldexp(w, FIXED_BITS));

		if (i >= 0)
			wsum_add(words, i, term);
		wsum_add(words, nkeys, term);
	}
	else
	{
		float8	   *sums = (float8 *) STATE_DATA(st);

		if (i >= 0)
			sums[i] += 1;
		sums[nkeys] += 1;
	}
	PG_RETURN_ARRAYTYPE_P(st);
}

static Datum
shares_text(FunctionCallInfo fcinfo, int weight_arg)
{
	bool		weighted = weight_arg >= 0;
	KeyTable   *t;
	ArrayType  *st;
	float8		w;

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("keys must not be NULL"),
				 errhint(SHARES_KEYS_HINT)));
	t = key_table(fcinfo, PG_GETARG_ARRAYTYPE_P(2));
	st = shares_state(fcinfo, t->nkeys, weighted);
	if (!row_weight(fcinfo, weight_arg, &w))
		PG_RETURN_ARRAYTYPE_P(st);
	return shares_add(fcinfo, st, t->nkeys,
					  PG_ARGISNULL(1) ? -1 : key_index(t, PG_GETARG_TEXT_PP(1)),
					  weighted, w);
}

static Datum
shares_int(FunctionCallInfo fcinfo, int weight_arg)
{
	bool		weighted = weight_arg >= 0;
	int32		buckets;
	int32		b = -1;
	ArrayType  *st;
	float8		w;

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("buckets must not be NULL"),
				 errhint("Pass the number of buckets, such as 24 for hours.")));
	buckets = PG_GETARG_INT32(2);
	if (buckets < 1 || buckets > SHARES_MAX_KEYS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("buckets must be between 1 and %d, not %d", SHARES_MAX_KEYS, buckets),
				 errhint("Pass the number of buckets, such as 24 for hours.")));
	st = shares_state(fcinfo, buckets, weighted);
	if (!row_weight(fcinfo, weight_arg, &w))
		PG_RETURN_ARRAYTYPE_P(st);
	if (!PG_ARGISNULL(1))
	{
		b = PG_GETARG_INT32(1);
		if (b < 0 || b >= buckets)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("bucket %d is outside 0..%d", b, buckets - 1),
					 errhint("Number buckets from 0, such as extract(dow FROM t)::int for weekdays 0..6.")));
	}
	return shares_add(fcinfo, st, buckets, b, weighted, w);
}

/* rfm_shares(key text, keys text[]): transition; not STRICT (NULL keys count) */
PG_FUNCTION_INFO_V1(rfm_shares_trans_text);
Datum
rfm_shares_trans_text(PG_FUNCTION_ARGS)
{
	return shares_text(fcinfo, -1);
}

/* rfm_shares(key text, keys text[], weight float8): transition */
PG_FUNCTION_INFO_V1(rfm_shares_trans_text_weight);
Datum
rfm_shares_trans_text_weight(PG_FUNCTION_ARGS)
{
	return shares_text(fcinfo, 3);
}

/* rfm_shares(bucket int, buckets int): transition */
PG_FUNCTION_INFO_V1(rfm_shares_trans_int);
Datum
rfm_shares_trans_int(PG_FUNCTION_ARGS)
{
	return shares_int(fcinfo, -1);
}

/* rfm_shares(bucket int, buckets int, weight float8): transition */
PG_FUNCTION_INFO_V1(rfm_shares_trans_int_weight);
Datum
rfm_shares_trans_int_weight(PG_FUNCTION_ARGS)
{
	return shares_int(fcinfo, 3);
}

/*
 * A state's number of sums (keys and the total), checked: one-dimensional,
 * of elemtype, without NULL, at least two sums of width elements.
 */
static int
state_sums(ArrayType *st, Oid elemtype, int width)
{
	if (ARR_NDIM(st) != 1 || ARR_HASNULL(st) || ARR_ELEMTYPE(st) != elemtype ||
		ARR_DIMS(st)[0] < 2 * width || ARR_DIMS(st)[0] % width != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid rfm_shares state"),
				 errhint("Pass a state made by the rfm_shares transition functions.")));
	return ARR_DIMS(st)[0] / width;
}

/*
 * The two states of a combine function, checked, the first to update (in
 * place in aggregate context); their number of sums in *n.
 */
static ArrayType *
combine_states(FunctionCallInfo fcinfo, Oid elemtype, int width, ArrayType **b, int *n)
{
	ArrayType  *a = AggCheckCallContext(fcinfo, NULL) ?
		PG_GETARG_ARRAYTYPE_P(0) : PG_GETARG_ARRAYTYPE_P_COPY(0);

	*b = PG_GETARG_ARRAYTYPE_P(1);
	*n = state_sums(a, elemtype, width);
	if (state_sums(*b, elemtype, width) != *n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("keys must be the same for every row"),
				 errhint(SHARES_KEYS_HINT)));
	return a;
}

/*
 * Merge two partial states of counts by adding; STRICT, so the executor
 * handles NULL states.
 */
PG_FUNCTION_INFO_V1(rfm_shares_combine);
Datum
rfm_shares_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *b;
	int			n;
	ArrayType  *a = combine_states(fcinfo, FLOAT8OID, 1, &b, &n);
	float8	   *sa = (float8 *) STATE_DATA(a);
	const float8 *sb = (const float8 *) STATE_DATA(b);

	for (int i = 0; i < n; i++)
		sa[i] += sb[i];
	PG_RETURN_ARRAYTYPE_P(a);
}

/* the same for weighted states: integer additions, in any order */
PG_FUNCTION_INFO_V1(rfm_shares_weighted_combine);
Datum
rfm_shares_weighted_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *b;
	int			n;
	ArrayType  *a = combine_states(fcinfo, INT8OID, 2, &b, &n);
	int64	   *wa = (int64 *) STATE_DATA(a);
	const int64 *wb = (const int64 *) STATE_DATA(b);

	for (int i = 0; i < n; i++)
		wsum_add(wa, i, wsum_get(wb, i));
	PG_RETURN_ARRAYTYPE_P(a);
}

/* n - 1 shares from n sums, the last the total (all 0 when it is 0) */
static Datum
shares_result(const float8 *sums, int n)
{
	float8		total = sums[n - 1];
	Datum	   *d = palloc(sizeof(Datum) * (n - 1));

	for (int i = 0; i < n - 1; i++)
		d[i] = Float8GetDatum(total != 0 ? sums[i] / total : 0);
	PG_RETURN_ARRAYTYPE_P(construct_array(d, n - 1, FLOAT8OID, sizeof(float8),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * The shares, one per key or bucket: its sum over the total.  STRICT: a
 * group without rows has no shares.
 */
PG_FUNCTION_INFO_V1(rfm_shares_final);
Datum
rfm_shares_final(PG_FUNCTION_ARGS)
{
	ArrayType  *st = PG_GETARG_ARRAYTYPE_P(0);

	return shares_result((const float8 *) STATE_DATA(st), state_sums(st, FLOAT8OID, 1));
}

/*
 * The same from weighted sums.  The ratio is of the sums rounded to
 * float8, each rounded once: the same bytes whatever the order.
 */
PG_FUNCTION_INFO_V1(rfm_shares_weighted_final);
Datum
rfm_shares_weighted_final(PG_FUNCTION_ARGS)
{
	ArrayType  *st = PG_GETARG_ARRAYTYPE_P(0);
	int			n = state_sums(st, INT8OID, 2);
	const int64 *words = (const int64 *) STATE_DATA(st);
	float8	   *sums = palloc(sizeof(float8) * n);

	for (int i = 0; i < n; i++)
		sums[i] = ldexp((float8) wsum_get(words, i), -FIXED_BITS);
	return shares_result(sums, n);
}
