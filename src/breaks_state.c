/*-------------------------------------------------------------------------
 *
 * breaks_state.c
 *	  rfm_breaks_state: the partial state of quantile breaks as a real type,
 *	  (value, count) pairs, so that shards compute their counts where the
 *	  rows are and a coordinator merges them (Citus combines aggregates whose
 *	  state is not "internal"; postgres_fdw sends a foreign table's
 *	  rfm_breaks_state_agg to its server, and rfm_breaks(state) merges).
 *
 * rfm_breaks keeps its "internal" state: it is the fast path in one
 * server.  Both hold the same multiset and compute the cuts with
 * scoring.c's rfm_compute_breaks, so the breaks are the same bits.
 *
 * The value holds the pairs inline after a fixed header, with room to
 * spare while it is an aggregate's state: a transition appends in place
 * and, when the room is used, compacts (sorts and merges equal values) or
 * makes a value twice the size.  16 bytes per distinct value, at most twice
 * that with the spare room; rfm_segment.max_memory bounds it.  Values
 * stored or sent are compact: sorted, unique, no spare room.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "guc.h"
#include "scoring.h"

#include "catalog/pg_type.h"
#include "common/int.h"
#include "common/shortest_dec.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

/* the layout version, the first field of every form */
#define BREAKS_STATE_VERSION	1

/* a new state's room, in pairs: many groups may each hold one */
#define INITIAL_PAIRS			16

/* the largest number of pairs a value can hold (1 GB) */
#define MAX_PAIRS \
	((int32) ((MaxAllocSize - offsetof(BreaksStateData, items)) / sizeof(RfmValueCount)))

#define MEMORY_HINT "Round the values first: memory grows with the number of distinct values."

typedef struct BreaksStateData
{
	int32		vl_len_;		/* varlena header */
	int32		version;
	int32		bins;
	int32		method;			/* RfmScoreMethod */
	int32		nitems;			/* pairs held */
	int32		ncompact;		/* items[0 .. ncompact-1] are sorted, unique */
	int32		capacity;		/* pairs there is room for */
	int32		padding;
	int64		nvalues;		/* values added, counting repeats */
	RfmValueCount items[FLEXIBLE_ARRAY_MEMBER];
} BreaksStateData;

#define STATE_SIZE(pairs) \
	(offsetof(BreaksStateData, items) + (Size) (pairs) * sizeof(RfmValueCount))
#define PG_GETARG_BREAKS_STATE(n) \
	((BreaksStateData *) PG_DETOAST_DATUM(PG_GETARG_DATUM(n)))

static const char *const method_names[] = {"quantile", "r_rfm"};

/* a state with room for "capacity" pairs, in the current memory context */
static BreaksStateData *
new_state(int32 bins, int32 method, int32 capacity)
{
	BreaksStateData *state;

	if (capacity > MAX_PAIRS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("rfm_breaks_state cannot hold more than %d distinct values", MAX_PAIRS),
				 errhint(MEMORY_HINT)));
	rfm_check_memory(STATE_SIZE(capacity), "rfm_breaks_state_agg", MEMORY_HINT);
	state = palloc0(STATE_SIZE(capacity));
	SET_VARSIZE(state, STATE_SIZE(capacity));
	state->version = BREAKS_STATE_VERSION;
	state->bins = bins;
	state->method = method;
	state->capacity = capacity;
	return state;
}

/* a copy with room for "extra" more pairs, or at least twice the pairs held */
static BreaksStateData *
grown_copy(const BreaksStateData *state, int32 extra)
{
	int64		want = Max((int64) state->nitems * 2, (int64) state->nitems + extra);
	BreaksStateData *copy;

	want = Max(want, INITIAL_PAIRS);
	copy = new_state(state->bins, state->method, (int32) Min(want, (int64) MAX_PAIRS));
	memcpy(copy->items, state->items, state->nitems * sizeof(RfmValueCount));
	copy->nitems = state->nitems;
	copy->ncompact = state->ncompact;
	copy->nvalues = state->nvalues;
	return copy;
}

/* sort and merge the pairs in place; the multiset stays the same */
static void
compact(BreaksStateData *state)
{
	if (state->ncompact == state->nitems)
		return;
	state->nitems = state->ncompact = rfm_compact_values(state->items, state->nitems);
}

/* a compact copy: sorted, unique, no spare room; what is stored and sent */
static BreaksStateData *
compact_copy(const BreaksStateData *state)
{
	BreaksStateData *copy = grown_copy(state, 0);
	BreaksStateData *result;

	compact(copy);
	result = new_state(copy->bins, copy->method, copy->nitems);
	memcpy(result->items, copy->items, copy->nitems * sizeof(RfmValueCount));
	result->nitems = result->ncompact = copy->nitems;
	result->nvalues = copy->nvalues;
	pfree(copy);
	return result;
}

/*
 * Room for "extra" more pairs in a state that may be changed in place:
 * compact first, and make a larger copy only when compacting freed less
 * than half of the room.  Returns the state to use, the same or a copy.
 */
static BreaksStateData *
make_room(BreaksStateData *state, int32 extra)
{
	/* room is only what the value really has */
	if (VARSIZE(state) < STATE_SIZE(state->capacity))
		state->capacity = state->nitems;
	if ((int64) state->nitems + extra <= state->capacity)
		return state;
	compact(state);
	if ((int64) state->nitems + extra <= state->capacity / 2)
		return state;
	if ((int64) state->nitems + extra > MAX_PAIRS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("rfm_breaks_state cannot hold more than %d distinct values", MAX_PAIRS),
				 errhint(MEMORY_HINT)));
	return grown_copy(state, extra);
}

/* the same bins and method, or an error: a merge must not mix them */
static void
check_same(const BreaksStateData *a, const BreaksStateData *b)
{
	if (a->bins != b->bins || a->method != b->method)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine rfm_breaks states with different bins or method"),
				 errhint("Compute every state with the same bins and method.")));
}

static Datum
state_trans(FunctionCallInfo fcinfo, bool has_method)
{
	BreaksStateData *state;
	int32		bins;
	int32		method;
	float8		value;
	bool		has_value;

	has_value = rfm_breaks_args(fcinfo, has_method, &bins, &method, &value);
	if (PG_ARGISNULL(0))
	{
		/* a new value: the executor copies it into the aggregate's memory */
		state = new_state(bins, method, INITIAL_PAIRS);
	}
	else
	{
		state = PG_GETARG_BREAKS_STATE(0);
		/* outside an aggregate the argument is not ours to change */
		if (!AggCheckCallContext(fcinfo, NULL))
			state = grown_copy(state, 1);
		rfm_breaks_check_same_bins(state->bins, bins);
	}
	if (!has_value)
		PG_RETURN_POINTER(state);
	state = make_room(state, 1);
	state->items[state->nitems].value = value;
	state->items[state->nitems].count = 1;
	state->nitems++;
	state->nvalues++;
	PG_RETURN_POINTER(state);
}

/*
 * rfm_breaks_state_agg(value, bins): transition.  Not STRICT: a NULL value
 * is left out, and the first call makes the state (bins checked then).
 * In an aggregate the state is changed in place, or replaced by a larger
 * copy; called directly, it returns a new value.
 */
PG_FUNCTION_INFO_V1(rfm_breaks_state_trans);
Datum
rfm_breaks_state_trans(PG_FUNCTION_ARGS)
{
	return state_trans(fcinfo, false);
}

/* rfm_breaks_state_agg(value, bins, method): transition, as above */
PG_FUNCTION_INFO_V1(rfm_breaks_state_trans_method);
Datum
rfm_breaks_state_trans_method(PG_FUNCTION_ARGS)
{
	return state_trans(fcinfo, true);
}

/*
 * rfm_breaks_state_combine(a, b): the union of two multisets.  STRICT: a
 * NULL state is no values, which PostgreSQL handles.  Different bins or
 * methods are an error, not a mix.  Within an aggregate the first state is
 * extended in place when it has room.
 */
PG_FUNCTION_INFO_V1(rfm_breaks_state_combine);
Datum
rfm_breaks_state_combine(PG_FUNCTION_ARGS)
{
	BreaksStateData *state = PG_GETARG_BREAKS_STATE(0);
	BreaksStateData *other = PG_GETARG_BREAKS_STATE(1);

	check_same(state, other);
	if (!AggCheckCallContext(fcinfo, NULL))
		state = grown_copy(state, other->nitems);
	else
		state = make_room(state, other->nitems);
	memcpy(state->items + state->nitems, other->items,
		   other->nitems * sizeof(RfmValueCount));
	state->nitems += other->nitems;
	state->nvalues += other->nvalues;
	compact(state);
	PG_RETURN_POINTER(state);
}

/* rfm_breaks_state_agg's final function: the state, compact.  STRICT. */
PG_FUNCTION_INFO_V1(rfm_breaks_state_agg_final);
Datum
rfm_breaks_state_agg_final(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(compact_copy(PG_GETARG_BREAKS_STATE(0)));
}

/*
 * rfm_breaks(state)'s final function: the bins - 1 cut points of the
 * merged values, as rfm_breaks computes them; NULL when no value was
 * counted.  STRICT.
 */
PG_FUNCTION_INFO_V1(rfm_breaks_state_final);
Datum
rfm_breaks_state_final(PG_FUNCTION_ARGS)
{
	BreaksStateData *state = compact_copy(PG_GETARG_BREAKS_STATE(0));
	float8		breaks[RFM_MAX_BINS];
	Datum		elems[RFM_MAX_BINS];

	if (state->nvalues == 0)
		PG_RETURN_NULL();
	rfm_compute_breaks(state->items, state->nvalues, state->bins,
					   state->method, breaks);
	for (int k = 0; k < state->bins - 1; k++)
		elems[k] = Float8GetDatum(breaks[k]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, state->bins - 1, FLOAT8OID,
										  sizeof(float8), FLOAT8PASSBYVAL,
										  TYPALIGN_DOUBLE));
}

/* a bad text form: 22P02, with what was wrong */
static void
bad_input(const char *input, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type rfm_breaks_state: \"%s\"", input),
			 errdetail("%s", why),
			 errhint("Use the output of rfm_breaks_state_agg, such as (1,5,quantile,{1:2,3.5:1}).")));
}

/*
 * Check a parsed or received state (what rfm_breaks_state_agg can make)
 * and set its count of values.
 */
static void
check_state(BreaksStateData *state, const char *input)
{
	int64		total = 0;

	if (state->bins < RFM_MIN_BINS || state->bins > RFM_MAX_BINS)
		bad_input(input, "Bins is out of range.");
	for (int i = 0; i < state->nitems; i++)
	{
		if (!isfinite(state->items[i].value))
			bad_input(input, "A value is not finite.");
		if (i > 0 && state->items[i].value <= state->items[i - 1].value)
			bad_input(input, "Values must be distinct and in increasing order.");
		if (state->items[i].count < 1 || pg_add_s64_overflow(total, state->items[i].count, &total))
			bad_input(input, "A count is out of range.");
	}
	state->nvalues = total;
}

/*
 * Text input: (version,bins,method,{value:count,...}).  Every field is
 * checked, so a hand-made or damaged value is refused, not turned into
 * wrong breaks later.
 */
PG_FUNCTION_INFO_V1(rfm_breaks_state_in);
Datum
rfm_breaks_state_in(PG_FUNCTION_ARGS)
{
	char	   *input = PG_GETARG_CSTRING(0);
	char	   *p = input;
	char	   *end;
	long		version;
	long		bins;
	int			method = -1;
	int32		npairs = 0;
	BreaksStateData *state;

	if (*p++ != '(')
		bad_input(input, "It must start with \"(\".");
	errno = 0;
	version = strtol(p, &end, 10);
	if (end == p || *end != ',' || errno != 0)
		bad_input(input, "The layout version is missing.");
	if (version != BREAKS_STATE_VERSION)
		bad_input(input, "The layout version is not 1.");
	p = end + 1;
	bins = strtol(p, &end, 10);
	if (end == p || *end != ',' || errno != 0 || bins < RFM_MIN_BINS || bins > RFM_MAX_BINS)
		bad_input(input, "Bins is missing or out of range.");
	p = end + 1;
	for (int m = 0; m < (int) lengthof(method_names); m++)
		if (strncmp(p, method_names[m], strlen(method_names[m])) == 0 &&
			p[strlen(method_names[m])] == ',')
			method = m;
	if (method < 0)
		bad_input(input, "The method must be quantile or r_rfm.");
	p += strlen(method_names[method]) + 1;
	if (*p != '{')
		bad_input(input, "The pairs must be in braces.");
	/* count the pairs to size the value: one colon each */
	for (const char *q = p; *q != '\0'; q++)
		npairs += (*q == ':');
	state = new_state((int32) bins, method, npairs);
	p++;
	while (*p != '}')
	{
		float8		value;
		long long	count;

		if (state->nitems > 0)
		{
			if (*p != ',')
				bad_input(input, "Pairs must be separated by commas.");
			p++;
		}
		errno = 0;
		value = strtod(p, &end);
		if (end == p || *end != ':' || errno != 0)
			bad_input(input, "A value is missing or out of range.");
		p = end + 1;
		count = strtoll(p, &end, 10);
		if (end == p || errno != 0)
			bad_input(input, "A count is missing or out of range.");
		p = end;
		if (state->nitems >= npairs)
			bad_input(input, "There are more pairs than colons.");
		state->items[state->nitems].value = value + 0.0;
		state->items[state->nitems].count = (int64) count;
		state->nitems++;
	}
	if (p[1] != ')' || p[2] != '\0')
		bad_input(input, "It must end with \"})\".");
	check_state(state, input);
	state->ncompact = state->nitems;
	state->capacity = state->nitems;
	SET_VARSIZE(state, STATE_SIZE(state->nitems));
	PG_RETURN_POINTER(state);
}

/* text output: exact (shortest round-trip digits), whatever the settings */
PG_FUNCTION_INFO_V1(rfm_breaks_state_out);
Datum
rfm_breaks_state_out(PG_FUNCTION_ARGS)
{
	BreaksStateData *state = compact_copy(PG_GETARG_BREAKS_STATE(0));
	StringInfoData buf;
	char		digits[DOUBLE_SHORTEST_DECIMAL_LEN];

	initStringInfo(&buf);
	appendStringInfo(&buf, "(%d,%d,%s,{", BREAKS_STATE_VERSION, state->bins,
					 method_names[state->method]);
	for (int i = 0; i < state->nitems; i++)
	{
		double_to_shortest_decimal_buf(state->items[i].value, digits);
		appendStringInfo(&buf, "%s%s:" INT64_FORMAT, i > 0 ? "," : "", digits,
						 state->items[i].count);
	}
	appendStringInfoString(&buf, "})");
	PG_RETURN_CSTRING(buf.data);
}

/* binary output: version, bins, method, count, then (value, count) pairs */
PG_FUNCTION_INFO_V1(rfm_breaks_state_send);
Datum
rfm_breaks_state_send(PG_FUNCTION_ARGS)
{
	BreaksStateData *state = compact_copy(PG_GETARG_BREAKS_STATE(0));
	StringInfoData buf;

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

/* binary input, checked as the text input is */
PG_FUNCTION_INFO_V1(rfm_breaks_state_recv);
Datum
rfm_breaks_state_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		version = pq_getmsgint(buf, 4);
	int32		bins;
	int32		method;
	int32		npairs;
	BreaksStateData *state;

	if (version != BREAKS_STATE_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("unsupported rfm_breaks_state layout version %d", version)));
	bins = pq_getmsgint(buf, 4);
	method = pq_getmsgint(buf, 4);
	npairs = pq_getmsgint(buf, 4);
	if (bins < RFM_MIN_BINS || bins > RFM_MAX_BINS ||
		method < 0 || method >= (int32) lengthof(method_names) ||
		npairs < 0 || (Size) npairs * (sizeof(float8) + sizeof(int64)) != (Size) (buf->len - buf->cursor))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary rfm_breaks_state")));
	state = new_state(bins, method, npairs);
	for (int i = 0; i < npairs; i++)
	{
		state->items[i].value = pq_getmsgfloat8(buf) + 0.0;
		state->items[i].count = pq_getmsgint64(buf);
	}
	state->nitems = state->ncompact = npairs;
	check_state(state, "(binary)");
	PG_RETURN_POINTER(state);
}
