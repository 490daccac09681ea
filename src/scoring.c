/*-------------------------------------------------------------------------
 *
 * scoring.c
 *	  Quantile breaks (the rfm_breaks aggregate) and scores (rfm_score,
 *	  rfm_score_desc).
 *
 * Breaks are exact type-7 quantiles, not sketches.  The aggregate keeps
 * (value, count) pairs, compacting them whenever its buffer fills and
 * doubling the buffer only when compaction frees less than half of it, so
 * its memory is at most 32 bytes per distinct value (16 per pair, at most
 * half unused), not proportional to the number of rows: recency in days and
 * frequency have a few hundred distinct values even over millions of
 * customers.
 *
 * Two methods place cut points and values differently:
 *	 'quantile'  cut k is the type-7 quantile at k/bins; a value equal to a
 *				 cut falls in the lower bin: score = 1 + #(cuts < value).
 *	 'r_rfm'	 the R rfm package (0.3): cut k is the type-7 quantile at
 *				 probability k * (1/bins), as R's seq() computes it, plus 1;
 *				 score = 1 + #(cuts <= value).  The arithmetic follows R's
 *				 quantile() step by step in double precision, so the cuts
 *				 are the same bits R computes.
 * Either way a score depends only on the value, so equal values always get
 * equal scores.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "guc.h"
#include "scoring.h"

#include "catalog/pg_type.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#define BREAKS_STATE_VERSION	1
#define BREAKS_INITIAL_CAPACITY 1024

typedef struct BreaksState
{
	int32		bins;
	int32		method;			/* RfmScoreMethod */
	int64		nvalues;		/* values added, counting repeats */
	int32		nitems;
	int32		capacity;
	int32		ncompact;		/* items[0 .. ncompact-1] are sorted, unique */
	RfmValueCount *items;
} BreaksState;

/* parse a method name; errors name the argument and list the choices */
RfmScoreMethod
rfm_parse_method(text *method)
{
	char	   *name = text_to_cstring(method);
	RfmScoreMethod result;

	if (strcmp(name, "quantile") == 0)
		result = RFM_METHOD_QUANTILE;
	else if (strcmp(name, "r_rfm") == 0)
		result = RFM_METHOD_R_RFM;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown scoring method \"%s\"", name),
				 errhint("Use 'quantile' (the default) or 'r_rfm' (the R rfm package's rule).")));
	pfree(name);
	return result;
}

void
rfm_check_bins(int32 bins)
{
	if (bins < RFM_MIN_BINS || bins > RFM_MAX_BINS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bins must be between %d and %d, not %d",
						RFM_MIN_BINS, RFM_MAX_BINS, bins),
				 errhint("Five bins are the usual choice.")));
}

/* a sort specialized for (value, count) pairs: no comparator calls */
#define ST_SORT sort_value_counts
#define ST_ELEMENT_TYPE RfmValueCount
#define ST_COMPARE(a, b) (((a)->value > (b)->value) - ((a)->value < (b)->value))
#define ST_SCOPE static
#define ST_DECLARE
#define ST_DEFINE
#include "lib/sort_template.h"

/* sort and merge equal values; returns how many distinct values remain */
int
rfm_compact_values(RfmValueCount *items, int n)
{
	int			out = 0;

	sort_value_counts(items, n);
	for (int i = 0; i < n; i++)
	{
		if (out > 0 && items[out - 1].value == items[i].value)
			items[out - 1].count += items[i].count;
		else
			items[out++] = items[i];
	}
	return out;
}

/* compact the whole buffer of a state */
static void
compact(BreaksState *state)
{
	if (state->ncompact == state->nitems)
		return;
	state->nitems = state->ncompact = rfm_compact_values(state->items, state->nitems);
}

/* room for "extra" more items; repalloc keeps the aggregate context */
static void
reserve(BreaksState *state, int32 extra)
{
	int32		capacity = state->capacity;

	if (state->nitems + extra <= capacity)
		return;
	compact(state);
	/* grow when compaction freed less than half of the buffer */
	while (state->nitems + extra > capacity / 2)
	{
		if (capacity > PG_INT32_MAX / 2)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("rfm_breaks cannot hold more than %d distinct values",
							PG_INT32_MAX / 2)));
		capacity *= 2;
	}
	if (capacity != state->capacity)
	{
		rfm_check_memory((Size) capacity * sizeof(RfmValueCount), "rfm_breaks",
						 "Round the values first: memory grows with the number of distinct values");
		state->items = (RfmValueCount *) repalloc_huge(state->items,
													   (Size) capacity * sizeof(RfmValueCount));
		state->capacity = capacity;
	}
}

static BreaksState *
new_state(MemoryContext context, int32 bins, int32 method, int32 capacity)
{
	BreaksState *state = MemoryContextAllocZero(context, sizeof(BreaksState));

	state->bins = bins;
	state->method = method;
	state->capacity = Max(capacity, BREAKS_INITIAL_CAPACITY);
	state->items = MemoryContextAllocHuge(context,
										  (Size) state->capacity * sizeof(RfmValueCount));
	return state;
}

/*
 * The arguments of one row of rfm_breaks or rfm_breaks_state_agg: (state,
 * value, bins [, method]).  bins and method must not be NULL; on a group's
 * first row (no state yet) bins is checked and the method read.  Returns
 * false for a NULL value, which is left out; a value must be finite.
 */
bool
rfm_breaks_args(FunctionCallInfo fcinfo, bool has_method, int32 *bins,
				int32 *method, float8 *value)
{
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("bins must not be NULL"),
				 errhint("Five bins are the usual choice.")));
	*bins = PG_GETARG_INT32(2);
	*method = RFM_METHOD_QUANTILE;
	if (has_method && PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("method must not be NULL"),
				 errhint("Use 'quantile' (the default) or 'r_rfm'.")));
	if (PG_ARGISNULL(0))
	{
		rfm_check_bins(*bins);
		if (has_method)
			*method = rfm_parse_method(PG_GETARG_TEXT_PP(3));
	}
	if (PG_ARGISNULL(1))
		return false;
	*value = PG_GETARG_FLOAT8(1);
	if (isnan(*value) || isinf(*value))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("value must be finite, not %s", isnan(*value) ? "NaN" : "infinity"),
				 errhint("Pass NULL to leave the row out of the breaks.")));
	/* -0 and 0 are one value */
	*value += 0.0;
	return true;
}

/* a row that changed the bins of its group: an error, not a mix */
void
rfm_breaks_check_same_bins(int32 state_bins, int32 bins)
{
	if (state_bins != bins)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bins must be the same for every row of a group"),
				 errhint("Pass a constant number of bins.")));
}

static Datum
breaks_trans(FunctionCallInfo fcinfo, bool has_method)
{
	MemoryContext aggcontext;
	BreaksState *state;
	int32		bins;
	int32		method;
	float8		value;
	bool		has_value;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "rfm_breaks_trans called in non-aggregate context");

	has_value = rfm_breaks_args(fcinfo, has_method, &bins, &method, &value);
	if (PG_ARGISNULL(0))
		state = new_state(aggcontext, bins, method, BREAKS_INITIAL_CAPACITY);
	else
	{
		state = (BreaksState *) PG_GETARG_POINTER(0);
		rfm_breaks_check_same_bins(state->bins, bins);
	}
	if (!has_value)
		PG_RETURN_POINTER(state);

	reserve(state, 1);
	state->items[state->nitems].value = value;
	state->items[state->nitems].count = 1;
	state->nitems++;
	state->nvalues++;
	PG_RETURN_POINTER(state);
}

/* rfm_breaks(value float8, bins int): transition */
PG_FUNCTION_INFO_V1(rfm_breaks_trans);
Datum
rfm_breaks_trans(PG_FUNCTION_ARGS)
{
	return breaks_trans(fcinfo, false);
}

/* rfm_breaks(value float8, bins int, method text): transition */
PG_FUNCTION_INFO_V1(rfm_breaks_trans_method);
Datum
rfm_breaks_trans_method(PG_FUNCTION_ARGS)
{
	return breaks_trans(fcinfo, true);
}

/*
 * Merge two partial states.  Not STRICT: with an "internal" state the
 * function itself must copy the second state when the first is NULL.
 */
PG_FUNCTION_INFO_V1(rfm_breaks_combine);
Datum
rfm_breaks_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	BreaksState *state;
	BreaksState *other;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "rfm_breaks_combine called in non-aggregate context");
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_POINTER(PG_GETARG_POINTER(0));
	}
	other = (BreaksState *) PG_GETARG_POINTER(1);
	if (PG_ARGISNULL(0))
	{
		state = new_state(aggcontext, other->bins, other->method, other->nitems);
		memcpy(state->items, other->items, other->nitems * sizeof(RfmValueCount));
		state->nitems = other->nitems;
		state->ncompact = other->ncompact;
		state->nvalues = other->nvalues;
		PG_RETURN_POINTER(state);
	}
	state = (BreaksState *) PG_GETARG_POINTER(0);
	if (state->bins != other->bins || state->method != other->method)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine rfm_breaks states with different bins or method")));
	reserve(state, other->nitems);
	memcpy(state->items + state->nitems, other->items,
		   other->nitems * sizeof(RfmValueCount));
	state->nitems += other->nitems;
	state->nvalues += other->nvalues;
	compact(state);
	PG_RETURN_POINTER(state);
}

/* the partial state as bytea: version, bins, method, then (value, count) */
PG_FUNCTION_INFO_V1(rfm_breaks_serial);
Datum
rfm_breaks_serial(PG_FUNCTION_ARGS)
{
	BreaksState *state = (BreaksState *) PG_GETARG_POINTER(0);
	StringInfoData buf;

	compact(state);
	pq_begintypsend(&buf);
	pq_sendint32(&buf, BREAKS_STATE_VERSION);
	pq_sendint32(&buf, state->bins);
	pq_sendint32(&buf, state->method);
	pq_sendint32(&buf, state->nitems);
	for (int i = 0; i < state->nitems; i++)
	{
		pq_sendfloat8(&buf, state->items[i].value);
		pq_sendint64(&buf, state->items[i].count);
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(rfm_breaks_deserial);
Datum
rfm_breaks_deserial(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	MemoryContext aggcontext;
	StringInfoData buf;
	BreaksState *state;
	int32		bins;
	int32		method;
	int32		nitems;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "rfm_breaks_deserial called in non-aggregate context");
	buf.data = VARDATA_ANY(data);
	buf.len = VARSIZE_ANY_EXHDR(data);
	buf.maxlen = buf.len;
	buf.cursor = 0;
	if (pq_getmsgint(&buf, 4) != BREAKS_STATE_VERSION)
		elog(ERROR, "unsupported rfm_breaks state version");
	bins = pq_getmsgint(&buf, 4);
	method = pq_getmsgint(&buf, 4);
	nitems = pq_getmsgint(&buf, 4);
	if (nitems < 0 || (Size) nitems * 16 != (Size) (buf.len - buf.cursor))
		elog(ERROR, "corrupt rfm_breaks state");
	state = new_state(aggcontext, bins, method, nitems);
	for (int i = 0; i < nitems; i++)
	{
		state->items[i].value = pq_getmsgfloat8(&buf);
		state->items[i].count = pq_getmsgint64(&buf);
		state->nvalues += state->items[i].count;
	}
	state->nitems = state->ncompact = nitems;
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(state);
}

/*
 * Cut points of a sorted multiset of n values, bins - 1 of them, both type-7
 * quantiles but each computed the way its reference computes it, so that
 * the doubles agree to the last bit:
 *	 'quantile'  PostgreSQL's percentile_cont: pos = p * (n - 1), then
 *				 x[lo] + (x[hi] - x[lo]) * (pos - lo), with p = k / bins.
 *	 'r_rfm'	 R's quantile(type = 7): index = 1 + (n - 1) * p, then
 *				 (1 - h) * x[lo] + h * x[hi] with h = index - lo, only where
 *				 index > lo and x[hi] != x[lo]; p = k * (1 / bins) as R's
 *				 seq() makes it; and the rfm package adds 1.
 *
 * A cut point reads the values at two 1-based positions, lo and hi, of the
 * sorted values.  rfm_break_positions lists those positions (sorted, without
 * repeats), so that a caller holding the values in any sorted form (the
 * (value, count) pairs of rfm_breaks, a tuplesort that spilled to disk) can
 * fetch them in one forward pass; rfm_breaks_at then computes the cuts from
 * the values found there.  One formula, whatever holds the values.
 */
static void
break_bounds(int64 n, int bins, RfmScoreMethod method, int k, float8 *at,
			 int64 *lo, int64 *hi)
{
	if (method == RFM_METHOD_R_RFM)
	{
		float8		index = 1.0 + (float8) (n - 1) * (k * (1.0 / bins));

		*at = index;
		*lo = (int64) floor(index);
		*hi = (int64) ceil(index);
	}
	else
	{
		float8		pos = ((float8) k / bins) * (float8) (n - 1);

		*at = pos;
		/* positions count from 1 */
		*lo = (int64) floor(pos) + 1;
		*hi = (int64) ceil(pos) + 1;
	}
}

int
rfm_break_positions(int64 n, int bins, RfmScoreMethod method, int64 *positions)
{
	int			npos = 0;

	for (int k = 1; k < bins; k++)
	{
		float8		at;
		int64		lo,
					hi;

		break_bounds(n, bins, method, k, &at, &lo, &hi);
		/* lo and hi only grow with k, bar a step back of one: keep it sorted */
		for (int i = 0; i < 2; i++)
		{
			int64		p = i == 0 ? lo : hi;
			int			j = npos;

			while (j > 0 && positions[j - 1] > p)
				j--;
			if (j > 0 && positions[j - 1] == p)
				continue;
			memmove(positions + j + 1, positions + j, (npos - j) * sizeof(int64));
			positions[j] = p;
			npos++;
		}
	}
	return npos;
}

/* the value found at position pos, one of the listed positions */
static float8
value_at_position(const int64 *positions, const float8 *values, int npos, int64 pos)
{
	for (int i = 0; i < npos; i++)
		if (positions[i] == pos)
			return values[i];
	elog(ERROR, "position " INT64_FORMAT " was not fetched", pos);
	return 0;					/* keep the compiler quiet */
}

void
rfm_breaks_at(int64 n, int bins, RfmScoreMethod method, const int64 *positions,
			  const float8 *values, int npos, float8 *breaks)
{
	for (int k = 1; k < bins; k++)
	{
		float8		at;
		int64		lo,
					hi;
		float8		q;
		float8		x_hi;

		break_bounds(n, bins, method, k, &at, &lo, &hi);
		q = value_at_position(positions, values, npos, lo);
		x_hi = value_at_position(positions, values, npos, hi);
		if (method == RFM_METHOD_R_RFM)
		{
			if (at > (float8) lo && x_hi != q)
			{
				float8		h = at - (float8) lo;

				q = (1 - h) * q + h * x_hi;
			}
			q += 1;
		}
		else if (hi != lo)
			q = q + (x_hi - q) * (at - (float8) (lo - 1));
		breaks[k - 1] = q;
	}
}

/*
 * The values at the sorted 1-based positions of values[lo..hi) (0-based,
 * half-open) into found[], by selection: a three-way partition around the
 * median of three, continued only into the parts that hold a position, so
 * k positions cost O(n log k) comparisons instead of a sort's O(n log n).
 * Ties, common among frequencies, fall into the middle part, which ends
 * the search there.  The smaller part recurses, the larger loops, so the
 * depth stays logarithmic.  values is reordered.
 */
static void
select_positions(float8 *values, int64 lo, int64 hi, const int64 *positions,
				 int npos, float8 *found)
{
	check_stack_depth();
	while (npos > 0)
	{
		int64		n = hi - lo;
		float8		a,
					b,
					c,
					pivot;
		int64		lt = lo,
					i = lo,
					gt = hi;
		int			left,
					right;

		if (n <= 16)
		{
			for (int64 j = lo + 1; j < hi; j++)
			{
				float8		x = values[j];
				int64		k = j;

				while (k > lo && values[k - 1] > x)
				{
					values[k] = values[k - 1];
					k--;
				}
				values[k] = x;
			}
			for (int p = 0; p < npos; p++)
				found[p] = values[positions[p] - 1];
			return;
		}
		a = values[lo];
		b = values[lo + n / 2];
		c = values[hi - 1];
		pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
		/* values[lo..lt) < pivot, [lt..i) = pivot, [gt..hi) > pivot */
		while (i < gt)
		{
			float8		x = values[i];

			if (x < pivot)
			{
				values[i++] = values[lt];
				values[lt++] = x;
			}
			else if (x > pivot)
			{
				values[i] = values[--gt];
				values[gt] = x;
			}
			else
				i++;
		}
		for (left = 0; left < npos && positions[left] - 1 < lt; left++)
			;
		for (right = left; right < npos && positions[right] - 1 < gt; right++)
			found[right] = pivot;
		if (left == 0)
		{
			lo = gt;
			positions += right;
			found += right;
			npos -= right;
		}
		else if (right == npos)
		{
			hi = lt;
			npos = left;
		}
		else if (lt - lo <= hi - gt)
		{
			select_positions(values, lo, lt, positions, left, found);
			lo = gt;
			positions += right;
			found += right;
			npos -= right;
		}
		else
		{
			select_positions(values, gt, hi, positions + right, npos - right, found + right);
			hi = lt;
			npos = left;
		}
	}
}

/*
 * Cut points of n values held in any order (reordered): the values at the
 * positions the cuts read are selected, not sorted, and rfm_breaks_at
 * computes the cuts from them, the same bits as rfm_compute_breaks gives
 * for the same values.
 */
void
rfm_select_breaks(float8 *values, int64 n, int bins, RfmScoreMethod method,
				  float8 *breaks)
{
	int64		positions[2 * RFM_MAX_BINS];
	float8		found[2 * RFM_MAX_BINS];
	int			npos = rfm_break_positions(n, bins, method, positions);

	select_positions(values, 0, n, positions, npos, found);
	rfm_breaks_at(n, bins, method, positions, found, npos, breaks);
}

/* cut points of a sorted multiset held as (value, count) pairs */
void
rfm_compute_breaks(const RfmValueCount *items, int64 n, int bins,
				   RfmScoreMethod method, float8 *breaks)
{
	int64		positions[2 * RFM_MAX_BINS];
	float8		values[2 * RFM_MAX_BINS];
	int			npos = rfm_break_positions(n, bins, method, positions);
	int			cursor = 0;
	int64		before = 0;

	for (int i = 0; i < npos; i++)
	{
		while (before + items[cursor].count < positions[i])
		{
			before += items[cursor].count;
			cursor++;
		}
		values[i] = items[cursor].value;
	}
	rfm_breaks_at(n, bins, method, positions, values, npos, breaks);
}

/* final: the cut points as float8[], or NULL when no value was seen */
PG_FUNCTION_INFO_V1(rfm_breaks_final);
Datum
rfm_breaks_final(PG_FUNCTION_ARGS)
{
	BreaksState *state;
	float8		breaks[RFM_MAX_BINS];
	Datum		elems[RFM_MAX_BINS];

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	state = (BreaksState *) PG_GETARG_POINTER(0);
	if (state->nvalues == 0)
		PG_RETURN_NULL();

	/* compacting keeps the multiset: the state stays valid for more rows */
	compact(state);
	rfm_compute_breaks(state->items, state->nvalues, state->bins,
					   state->method, breaks);
	for (int k = 0; k < state->bins - 1; k++)
		elems[k] = Float8GetDatum(breaks[k]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, state->bins - 1, FLOAT8OID,
										  sizeof(float8), FLOAT8PASSBYVAL,
										  TYPALIGN_DOUBLE));
}

/*
 * Read and check a breaks array: one dimension, 1 to 9 elements, no NULL or
 * NaN, in non-decreasing order (computed breaks repeat under heavy ties).
 */
int
rfm_get_breaks(ArrayType *array, float8 *breaks)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("breaks must be a one-dimensional array")));
	deconstruct_array(array, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL,
					  TYPALIGN_DOUBLE, &elems, &nulls, &n);
	if (n < RFM_MIN_BINS - 1 || n > RFM_MAX_BINS - 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("breaks must have between %d and %d elements, not %d",
						RFM_MIN_BINS - 1, RFM_MAX_BINS - 1, n),
				 errhint("bins = number of breaks + 1, from %d to %d.",
						 RFM_MIN_BINS, RFM_MAX_BINS)));
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("breaks must not contain NULL")));
		breaks[i] = DatumGetFloat8(elems[i]);
		if (isnan(breaks[i]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("breaks must not contain NaN")));
		if (i > 0 && breaks[i] < breaks[i - 1])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("breaks must be in ascending order"),
					 errdetail("Element %d (%g) is less than element %d (%g).",
							   i + 1, breaks[i], i, breaks[i - 1]),
					 errhint("Sort the thresholds from low to high; rfm_score_desc reverses the scores.")));
	}
	return n;
}

/* 1..bins, higher value -> higher score */
int
rfm_score_value(float8 value, const float8 *breaks, int nbreaks,
				RfmScoreMethod method)
{
	int			score = 1;

	for (int i = 0; i < nbreaks; i++)
	{
		if (method == RFM_METHOD_R_RFM ? breaks[i] <= value : breaks[i] < value)
			score++;
	}
	return score;
}

static int
score_common(FunctionCallInfo fcinfo, bool descending)
{
	float8		value = PG_GETARG_FLOAT8(0);
	float8		breaks[RFM_MAX_BINS];
	int			nbreaks = rfm_get_breaks(PG_GETARG_ARRAYTYPE_P(1), breaks);
	RfmScoreMethod method = rfm_parse_method(PG_GETARG_TEXT_PP(2));
	int			score;

	if (isnan(value))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("value must not be NaN"),
				 errhint("Pass NULL to get a NULL score.")));
	score = rfm_score_value(value, breaks, nbreaks, method);
	return descending ? nbreaks + 2 - score : score;
}

/*
 * rfm_score(value, breaks, method): 1 .. number of breaks + 1, a higher
 * value scoring higher.  STRICT: a NULL value scores NULL.
 */
PG_FUNCTION_INFO_V1(rfm_score);
Datum
rfm_score(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(score_common(fcinfo, false));
}

/* rfm_score_desc: the same bins reversed, a lower value scoring higher */
PG_FUNCTION_INFO_V1(rfm_score_desc);
Datum
rfm_score_desc(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(score_common(fcinfo, true));
}
