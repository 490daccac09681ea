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
 * 0.  The state is a float8[] of one sum per key plus the total (8 bytes
 * per key and group), merged by adding: no serialization, and the same
 * sums whatever the plan (up to the order of floating-point additions of
 * weights; counts are exact).
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
#define SUMS(st)	((float8 *) ((char *) (st) + ARR_OVERHEAD_NONULLS(1)))

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
 * The state to add to: a new one of nkeys sums and a total (the executor
 * copies it into the aggregate's context once), or the one passed, which
 * must have that shape.  Updated in place in aggregate context; a copy
 * otherwise, as float8_accum does.
 */
static ArrayType *
shares_state(FunctionCallInfo fcinfo, int nkeys)
{
	ArrayType  *st;

	if (PG_ARGISNULL(0))
	{
		Datum	   *d = palloc(sizeof(Datum) * (nkeys + 1));

		for (int i = 0; i <= nkeys; i++)
			d[i] = Float8GetDatum(0.0);
		return construct_array(d, nkeys + 1, FLOAT8OID, sizeof(float8),
							   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	}
	st = AggCheckCallContext(fcinfo, NULL) ?
		PG_GETARG_ARRAYTYPE_P(0) : PG_GETARG_ARRAYTYPE_P_COPY(0);
	if (ARR_NDIM(st) != 1 || ARR_HASNULL(st) || ARR_ELEMTYPE(st) != FLOAT8OID ||
		ARR_DIMS(st)[0] != nkeys + 1)
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
	return true;
}

static Datum
shares_text(FunctionCallInfo fcinfo, int weight_arg)
{
	KeyTable   *t;
	ArrayType  *st;
	float8	   *sums;
	float8		w;

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("keys must not be NULL"),
				 errhint(SHARES_KEYS_HINT)));
	t = key_table(fcinfo, PG_GETARG_ARRAYTYPE_P(2));
	st = shares_state(fcinfo, t->nkeys);
	if (!row_weight(fcinfo, weight_arg, &w))
		PG_RETURN_ARRAYTYPE_P(st);
	sums = SUMS(st);
	if (!PG_ARGISNULL(1))
	{
		int			i = key_index(t, PG_GETARG_TEXT_PP(1));

		if (i >= 0)
			sums[i] += w;
	}
	sums[t->nkeys] += w;
	PG_RETURN_ARRAYTYPE_P(st);
}

static Datum
shares_int(FunctionCallInfo fcinfo, int weight_arg)
{
	int32		buckets;
	ArrayType  *st;
	float8	   *sums;
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
	st = shares_state(fcinfo, buckets);
	if (!row_weight(fcinfo, weight_arg, &w))
		PG_RETURN_ARRAYTYPE_P(st);
	sums = SUMS(st);
	if (!PG_ARGISNULL(1))
	{
		int32		b = PG_GETARG_INT32(1);

		if (b < 0 || b >= buckets)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("bucket %d is outside 0..%d", b, buckets - 1),
					 errhint("Number buckets from 0, such as extract(dow FROM t)::int for weekdays 0..6.")));
		sums[b] += w;
	}
	sums[buckets] += w;
	PG_RETURN_ARRAYTYPE_P(st);
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

/* a state's sums, checked: one-dimensional float8 without NULL, 2+ long */
static float8 *
state_sums(ArrayType *st, int *n)
{
	if (ARR_NDIM(st) != 1 || ARR_HASNULL(st) || ARR_ELEMTYPE(st) != FLOAT8OID ||
		ARR_DIMS(st)[0] < 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid rfm_shares state"),
				 errhint("Pass a state made by the rfm_shares transition functions.")));
	*n = ARR_DIMS(st)[0];
	return SUMS(st);
}

/*
 * Merge two partial states by adding; STRICT, so the executor handles
 * NULL states.  The first is updated in place in aggregate context.
 */
PG_FUNCTION_INFO_V1(rfm_shares_combine);
Datum
rfm_shares_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *a = AggCheckCallContext(fcinfo, NULL) ?
		PG_GETARG_ARRAYTYPE_P(0) : PG_GETARG_ARRAYTYPE_P_COPY(0);
	ArrayType  *b = PG_GETARG_ARRAYTYPE_P(1);
	int			na,
				nb;
	float8	   *sa = state_sums(a, &na);
	float8	   *sb = state_sums(b, &nb);

	if (na != nb)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("keys must be the same for every row"),
				 errhint(SHARES_KEYS_HINT)));
	for (int i = 0; i < na; i++)
		sa[i] += sb[i];
	PG_RETURN_ARRAYTYPE_P(a);
}

/*
 * The shares, one per key or bucket: its sum over the total (all 0 when
 * the total is 0).  STRICT: a group without rows has no shares.
 */
PG_FUNCTION_INFO_V1(rfm_shares_final);
Datum
rfm_shares_final(PG_FUNCTION_ARGS)
{
	int			n;
	float8	   *sums = state_sums(PG_GETARG_ARRAYTYPE_P(0), &n);
	float8		total = sums[n - 1];
	Datum	   *d = palloc(sizeof(Datum) * (n - 1));

	for (int i = 0; i < n - 1; i++)
		d[i] = Float8GetDatum(total != 0 ? sums[i] / total : 0);
	PG_RETURN_ARRAYTYPE_P(construct_array(d, n - 1, FLOAT8OID, sizeof(float8),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}
