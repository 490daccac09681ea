/*-------------------------------------------------------------------------
 *
 * analyze.c
 *	  The one-call analysis: rfm_analyze and rfm_snapshots scan a table
 *	  once and return metrics, scores and segments per customer.
 *
 * The scan runs through SPI as the caller, so privileges, row-level
 * security, views and partitions behave as in any SELECT; its rows stream
 * into a DestReceiver instead of being materialized.  Customers live in a
 * simplehash table keyed by the customer column's own value (no text
 * conversion per row), each entry pointing to one metrics state per as-of
 * date.  Every event goes through rfm_state_add_event, the very code of the
 * rfm_metrics aggregate; breaks, scores and segments then use the code of
 * rfm_breaks, rfm_score and rfm_segment, so the numbers equal those of the
 * SQL composition of those functions.
 *
 * Memory: per customer, about 90 bytes of hash entry and bookkeeping, one
 * 152-byte state per as-of date, and the key's bytes when it is not passed
 * by value; at the end, 40 bytes per customer for the scores and 16 per
 * customer for each dimension's breaks, while the result rows go to a
 * tuplestore that spills to disk beyond work_mem.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "rfm_segment.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "tcop/dest.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/datum.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "pgtime.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

/* how customer keys are hashed and compared */
typedef enum KeyKind
{
	KEY_BYVAL,					/* by-value type with bitwise equality */
	KEY_BYTES,					/* by-reference type with bitwise equality */
	KEY_GENERIC					/* the type's hash and equality functions */
} KeyKind;

typedef struct KeyInfo
{
	KeyKind		kind;
	int16		typlen;
	bool		typbyval;
	Oid			collation;
	FmgrInfo   *hash_fn;
	FmgrInfo   *eq_fn;
} KeyInfo;

/*
 * A customer: key and one state per as-of date, in one allocation.
 * Customers are also listed in order of first appearance, so the final
 * pass walks memory in the order it was allocated.
 */
typedef struct Customer
{
	Datum		key;
	bool		key_null;
	RfmState   *states[FLEXIBLE_ARRAY_MEMBER];
} Customer;

/* the hash table's entry: small, as simplehash moves entries around */
typedef struct CustomerEntry
{
	Datum		key;
	uint32		hash;
	char		status;
	Customer   *customer;
} CustomerEntry;

static uint32 key_hash(const KeyInfo *info, Datum key);
static bool key_equal(const KeyInfo *info, Datum a, Datum b);

#define SH_PREFIX		customers
#define SH_ELEMENT_TYPE CustomerEntry
#define SH_KEY_TYPE		Datum
#define SH_KEY			key
#define SH_HASH_KEY(tb, k) key_hash((KeyInfo *) (tb)->private_data, k)
#define SH_EQUAL(tb, a, b) key_equal((KeyInfo *) (tb)->private_data, a, b)
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a) a->hash
#define SH_SCOPE		static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* the arguments of one analysis, checked */
typedef struct AnalyzeSpec
{
	const char *function;		/* for messages */
	Oid			relid;
	const char *columns[4];		/* key, time, amount, weight (NULL: none) */
	Oid			time_type;
	bool		is_date;
	int			nsnapshots;
	TimestampTz *as_of_input;	/* as given, for the output column */
	int64	   *as_of;			/* microseconds; midnights for dates */
	int64	   *period_start;
	Interval	last_period;
	int			bins;
	RfmScoreMethod method;
	RfmSegmentMap *segments;
} AnalyzeSpec;

/* the scan's running state, reached from the DestReceiver */
typedef struct AnalyzeState
{
	DestReceiver pub;
	AnalyzeSpec *spec;
	KeyInfo		key;
	customers_hash *table;
	Customer  **customers;		/* in order of first appearance */
	uint64		ncustomers;
	uint64		maxcustomers;
	Customer   *null_customer;	/* rows whose key is NULL group too */
	MemoryContext table_cxt;
	MemoryContext row_cxt;
	char	   *arena;			/* customers are carved from big blocks */
	Size		arena_left;
	Oid			key_output;		/* output function of the key's type */
	uint64		rows;
} AnalyzeState;

#define AMOUNT_HINT "Pass NULL to count the row for frequency only."
#define MEMORY_HINT "Compute the metrics with the rfm_metrics aggregate, whose GROUP BY spills to disk under work_mem"
#define WEIGHT_HINT "Pass NULL to leave the row out of the weighted frequency."

/* a 64-bit finalizer: by-value keys are spread over the table's slots */
static inline uint32
mix64(uint64 x)
{
	x ^= x >> 33;
	x *= UINT64CONST(0xff51afd7ed558ccd);
	x ^= x >> 33;
	x *= UINT64CONST(0xc4ceb9fe1a85ec53);
	x ^= x >> 33;
	return (uint32) x;
}

static uint32
key_hash(const KeyInfo *info, Datum key)
{
	switch (info->kind)
	{
		case KEY_BYVAL:
			return mix64((uint64) key);
		case KEY_BYTES:
			if (info->typlen == -1)
				return hash_bytes((unsigned char *) VARDATA_ANY(DatumGetPointer(key)),
								  VARSIZE_ANY_EXHDR(DatumGetPointer(key)));
			return hash_bytes((unsigned char *) DatumGetPointer(key), info->typlen);
		case KEY_GENERIC:
			return DatumGetUInt32(FunctionCall1Coll(info->hash_fn, info->collation, key));
	}
	return 0;					/* keep the compiler quiet */
}

static bool
key_equal(const KeyInfo *info, Datum a, Datum b)
{
	switch (info->kind)
	{
		case KEY_BYVAL:
			return a == b;
		case KEY_BYTES:
			if (info->typlen == -1)
			{
				Size		la = VARSIZE_ANY_EXHDR(DatumGetPointer(a));

				return la == VARSIZE_ANY_EXHDR(DatumGetPointer(b)) &&
					memcmp(VARDATA_ANY(DatumGetPointer(a)),
						   VARDATA_ANY(DatumGetPointer(b)), la) == 0;
			}
			return memcmp(DatumGetPointer(a), DatumGetPointer(b), info->typlen) == 0;
		case KEY_GENERIC:
			return DatumGetBool(FunctionCall2Coll(info->eq_fn, info->collation, a, b));
	}
	return false;
}

/*
 * Decide how keys of the customer column are hashed.  Types whose equality
 * is equality of bytes are hashed as bytes; anything else with a hash
 * opclass uses its own functions; a type without one cannot be grouped.
 */
static void
init_key_info(KeyInfo *info, Oid type, Oid collation, const char *column)
{
	TypeCacheEntry *tce;

	get_typlenbyval(type, &info->typlen, &info->typbyval);
	info->collation = collation;
	switch (type)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case OIDOID:
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			info->kind = KEY_BYVAL;
			return;
		case UUIDOID:
		case BYTEAOID:
			info->kind = KEY_BYTES;
			return;
		case TEXTOID:
		case VARCHAROID:
			if (!OidIsValid(collation) || get_collation_isdeterministic(collation))
			{
				info->kind = KEY_BYTES;
				return;
			}
			break;
		default:
			break;
	}
	tce = lookup_type_cache(type, TYPECACHE_HASH_PROC_FINFO | TYPECACHE_EQ_OPR_FINFO);
	if (!OidIsValid(tce->hash_proc) || !OidIsValid(tce->eq_opr))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("customer_column \"%s\" has type %s, which cannot be grouped by hashing",
						column, format_type_be(type)),
				 errhint("Pass a column of type bigint, integer, text or uuid, or a view that casts it.")));
	info->kind = KEY_GENERIC;
	info->hash_fn = &tce->hash_proc_finfo;
	info->eq_fn = &tce->eq_opr_finfo;
}

static int64
event_time(const AnalyzeSpec *spec, Datum value)
{
	if (spec->is_date)
		return rfm_date_usecs(DatumGetDateADT(value), "event_time");
	return rfm_timestamp_usecs(DatumGetTimestampTz(value), "event_time");
}

/* a new customer: key copied and states made in the table's context */
static Customer *
new_customer(AnalyzeState *st, Datum key, bool key_null)
{
	AnalyzeSpec *spec = st->spec;
	Size		head = MAXALIGN(offsetof(Customer, states) +
								spec->nsnapshots * sizeof(RfmState *));
	Size		size = MAXALIGN(head + spec->nsnapshots * RFM_STATE_FIXED_SIZE);
	char	   *block;
	Customer   *customer;

	/*
	 * Carve customers from 1 MB blocks: a palloc per customer would round
	 * each 176-byte request up to a 256-byte chunk.
	 */
	if (size > st->arena_left)
	{
		Size		blocksize = Max(size, 1024 * 1024);

		/* the hash table and the customer list grow in table_cxt too */
		rfm_check_memory(MemoryContextMemAllocated(st->table_cxt, true) + blocksize,
						 spec->function, MEMORY_HINT);
		st->arena = MemoryContextAlloc(st->table_cxt, blocksize);
		st->arena_left = blocksize;
	}
	block = st->arena;
	st->arena += size;
	st->arena_left -= size;
	customer = (Customer *) block;

	customer->key_null = key_null;
	customer->key = key;
	if (!key_null && !st->key.typbyval)
	{
		MemoryContext old = MemoryContextSwitchTo(st->table_cxt);

		customer->key = datumCopy(key, false, st->key.typlen);
		MemoryContextSwitchTo(old);
	}
	for (int i = 0; i < spec->nsnapshots; i++)
	{
		RfmState   *state = (RfmState *) (block + head + i * RFM_STATE_FIXED_SIZE);

		/* rfm_state_new's value, built in place */
		memset(state, 0, RFM_STATE_FIXED_SIZE);
		SET_VARSIZE(state, RFM_STATE_FIXED_SIZE);
		state->version = RFM_STATE_VERSION;
		state->flags = spec->is_date ? RFM_FLAG_DATE : 0;
		state->as_of = spec->as_of[i];
		state->last_period = spec->last_period;
		customer->states[i] = state;
	}

	if (st->ncustomers == st->maxcustomers)
	{
		st->maxcustomers *= 2;
		st->customers = repalloc_huge(st->customers,
									  st->maxcustomers * sizeof(Customer *));
	}
	st->customers[st->ncustomers++] = customer;
	return customer;
}

/* one scanned row: (key, time, amount, weight) */
static bool
analyze_receive(TupleTableSlot *slot, DestReceiver *self)
{
	AnalyzeState *st = (AnalyzeState *) self;
	AnalyzeSpec *spec = st->spec;
	MemoryContext old;
	Customer   *customer;
	RfmTerm		amount = {0};
	RfmTerm		weight = {0};
	Datum		key;
	int64		event;
	bool		found;

	CHECK_FOR_INTERRUPTS();
	slot_getallattrs(slot);
	st->rows++;
	if (slot->tts_isnull[1])
		return true;			/* no time: skipped, as by rfm_metrics */

	old = MemoryContextSwitchTo(st->row_cxt);
	event = event_time(spec, slot->tts_values[1]);
	if (!slot->tts_isnull[2])
		rfm_term_from_numeric((struct varlena *) DatumGetPointer(slot->tts_values[2]),
							  "amount", AMOUNT_HINT, &amount);
	if (spec->columns[3] == NULL)
		weight = rfm_term_one;
	else if (!slot->tts_isnull[3])
		rfm_term_from_numeric((struct varlena *) DatumGetPointer(slot->tts_values[3]),
							  "weight", WEIGHT_HINT, &weight);

	if (slot->tts_isnull[0])
	{
		if (st->null_customer == NULL)
			st->null_customer = new_customer(st, (Datum) 0, true);
		customer = st->null_customer;
	}
	else
	{
		CustomerEntry *entry;

		key = slot->tts_values[0];
		if (!st->key.typbyval && st->key.typlen == -1)
			key = PointerGetDatum(pg_detoast_datum_packed((struct varlena *) DatumGetPointer(key)));
		entry = customers_insert(st->table, key, &found);
		if (!found)
		{
			entry->customer = new_customer(st, key, false);
			/* the table must own its key: point it at the copy */
			entry->key = entry->customer->key;
		}
		customer = entry->customer;
	}

	for (int i = 0; i < spec->nsnapshots; i++)
	{
		RfmState   *state = rfm_state_add_event(customer->states[i], event,
												spec->period_start[i],
												&amount, &weight);

		/*
		 * A sum past 38 digits reallocated the state in this row's memory:
		 * keep it in the table's context (the old one stays in its block).
		 */
		if (state != customer->states[i])
		{
			RfmState   *kept = MemoryContextAlloc(st->table_cxt, VARSIZE(state));

			memcpy(kept, state, VARSIZE(state));
			customer->states[i] = kept;
		}
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(st->row_cxt);
	return true;
}

static void
analyze_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
}

static void
analyze_shutdown(DestReceiver *self)
{
}

static void
analyze_destroy(DestReceiver *self)
{
}

/* a receiver whose rows go to receive_slot; the other callbacks do nothing */
static void
init_receiver(DestReceiver *dest, bool (*receive_slot) (TupleTableSlot *, DestReceiver *))
{
	dest->receiveSlot = receive_slot;
	dest->rStartup = analyze_startup;
	dest->rShutdown = analyze_shutdown;
	dest->rDestroy = analyze_destroy;
	dest->mydest = DestNone;
}

/* run the scan as the caller, streaming its rows into the receiver */
static void
stream_query(const char *query, DestReceiver *dest)
{
	SPIExecuteOptions options;
	int			ret;

	memset(&options, 0, sizeof(options));
	options.read_only = true;
	options.dest = dest;
	ret = SPI_execute_extended(query, &options);
	/* SPI reports a SELECT into a DestNone receiver as a utility command */
	if (ret != SPI_OK_SELECT && ret != SPI_OK_UTILITY)
		elog(ERROR, "scan of the source failed: %s", SPI_result_code_string(ret));
}

/* the column's attribute number and type, or a clear error */
static Oid
column_type(Oid relid, const char *column, const char *argname, Oid *collation)
{
	AttrNumber	attnum = get_attnum(relid, column);
	Oid			type;
	int32		typmod;

	if (attnum == InvalidAttrNumber || attnum < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("%s \"%s\" is not a column of %s", argname, column,
						get_rel_name(relid)),
				 errhint("Pass the name of a column of the source table.")));
	get_atttypetypmodcoll(relid, attnum, &type, &typmod, collation);
	return type;
}

/* the type of the time column: date, timestamp or timestamptz */
static Oid
time_column_type(Oid relid, const char *column)
{
	Oid			collation;
	Oid			type = column_type(relid, column, "time_column", &collation);

	if (type != DATEOID && type != TIMESTAMPOID && type != TIMESTAMPTZOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("time_column \"%s\" has type %s, not a date or timestamp",
						column, format_type_be(type)),
				 errhint("Pass a column of type date, timestamp or timestamptz.")));
	return type;
}

static void
check_numeric_column(Oid relid, const char *column, const char *argname)
{
	Oid			collation;
	Oid			type;

	if (column == NULL)
		return;
	type = column_type(relid, column, argname, &collation);
	if (type != NUMERICOID && type != INT2OID && type != INT4OID &&
		type != INT8OID && type != FLOAT4OID && type != FLOAT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s \"%s\" has type %s, not a number", argname, column,
						format_type_be(type)),
				 errhint("Pass a numeric, integer or float column.")));
}

/*
 * The scan's query: the four columns, numbers cast to numeric (as the
 * aggregate's numeric forms take them) and a timestamp without time zone to
 * timestamptz in the session TimeZone, as its implicit cast does.
 */
static char *
build_query(const AnalyzeSpec *spec)
{
	StringInfoData buf;
	const char *rel = quote_qualified_identifier(get_namespace_name(get_rel_namespace(spec->relid)),
												 get_rel_name(spec->relid));

	initStringInfo(&buf);
	appendStringInfo(&buf, "SELECT %s, %s%s", quote_identifier(spec->columns[0]),
					 quote_identifier(spec->columns[1]),
					 spec->time_type == TIMESTAMPOID ? "::pg_catalog.timestamptz" : "");
	for (int i = 2; i < 4; i++)
	{
		if (spec->columns[i] != NULL)
			appendStringInfo(&buf, ", %s::pg_catalog.numeric", quote_identifier(spec->columns[i]));
		else
			appendStringInfoString(&buf, ", NULL::pg_catalog.numeric");
	}
	appendStringInfo(&buf, " FROM %s", rel);
	return buf.data;
}

/* as_of for the source's kind of time: a date in the session TimeZone */
static int64
internal_as_of(const AnalyzeSpec *spec, TimestampTz as_of)
{
	(void) rfm_timestamp_usecs(as_of, "as_of");
	if (spec->is_date)
	{
		DateADT		d = DatumGetDateADT(DirectFunctionCall1(timestamptz_date,
															TimestampTzGetDatum(as_of)));

		return rfm_date_usecs(d, "as_of");
	}
	return as_of;
}

/* the latest event time of the source, for as_of NULL; false if none */
static bool
latest_event(const AnalyzeSpec *spec, TimestampTz *latest)
{
	char	   *query;
	bool		isnull;
	Datum		value;

	query = psprintf("SELECT pg_catalog.max(%s)::pg_catalog.timestamptz FROM %s",
					 quote_identifier(spec->columns[1]),
					 quote_qualified_identifier(get_namespace_name(get_rel_namespace(spec->relid)),
												get_rel_name(spec->relid)));
	if (SPI_execute(query, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not find the latest event time");
	value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return false;
	*latest = DatumGetTimestampTz(value);
	return true;
}

/* read and check the common arguments (positions as in the SQL signature) */
static void
read_spec(FunctionCallInfo fcinfo, AnalyzeSpec *spec)
{
	bool		has_amount;
	static const char *const argnames[4] = {
		"customer_column", "time_column", "amount_column", "weight_column"
	};
	char	   *rule_set;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("source must not be NULL"),
				 errhint("Pass the table or view of events, such as 'orders'::regclass.")));
	spec->relid = PG_GETARG_OID(0);
	if (get_rel_name(spec->relid) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("source relation with OID %u does not exist", spec->relid)));
	for (int i = 0; i < 4; i++)
	{
		if (PG_ARGISNULL(i + 1))
		{
			if (i < 2)
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("%s must not be NULL", argnames[i]),
						 errhint("Pass the name of a column of the source table.")));
			spec->columns[i] = NULL;
		}
		else
			spec->columns[i] = NameStr(*PG_GETARG_NAME(i + 1));
	}
	has_amount = spec->columns[2] != NULL;

	spec->time_type = time_column_type(spec->relid, spec->columns[1]);
	spec->is_date = spec->time_type == DATEOID;
	check_numeric_column(spec->relid, spec->columns[2], "amount_column");
	check_numeric_column(spec->relid, spec->columns[3], "weight_column");

	if (PG_ARGISNULL(6))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("last_period must not be NULL"),
				 errhint("Pass an interval such as '30 days'.")));
	spec->last_period = *PG_GETARG_INTERVAL_P(6);
	if (PG_ARGISNULL(7))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("bins must not be NULL"),
				 errhint("Five bins are the usual choice.")));
	spec->bins = PG_GETARG_INT32(7);
	rfm_check_bins(spec->bins);
	if (PG_ARGISNULL(8))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("method must not be NULL"),
				 errhint("Use 'quantile' (the default) or 'r_rfm'.")));
	spec->method = rfm_parse_method(PG_GETARG_TEXT_PP(8));

	/* no amount, no monetary score: the third score is last-period activity */
	if (PG_ARGISNULL(9))
		rule_set = has_amount ? "standard" : "rffl";
	else
	{
		rule_set = text_to_cstring(PG_GETARG_TEXT_PP(9));
		if (!has_amount && strcmp(rule_set, "standard") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("rule set \"standard\" needs amount_column"),
					 errhint("Without an amount the third score is the last-period frequency: use rule_set 'rffl', or leave rule_set out.")));
	}
	spec->segments = rfm_segment_map_load(get_func_namespace(fcinfo->flinfo->fn_oid),
										  rule_set, CurrentMemoryContext);
}

/* the as_of dates of rfm_snapshots: not empty, no NULL, ascending */
static void
read_as_of_array(AnalyzeSpec *spec, ArrayType *array)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	deconstruct_array(array, TIMESTAMPTZOID, sizeof(TimestampTz), true,
					  TYPALIGN_DOUBLE, &elems, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("as_of must not be empty"),
				 errhint("Pass the dates of the snapshots, such as month ends.")));
	spec->nsnapshots = n;
	spec->as_of_input = palloc(n * sizeof(TimestampTz));
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("as_of must not contain NULL")));
		spec->as_of_input[i] = DatumGetTimestampTz(elems[i]);
		if (i > 0 && spec->as_of_input[i] <= spec->as_of_input[i - 1])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("as_of must be in ascending order without repeats"),
					 errhint("Sort the dates, for example with ARRAY(SELECT DISTINCT d FROM ... ORDER BY d).")));
	}
}

static void
prepare_snapshots(AnalyzeSpec *spec)
{
	spec->as_of = palloc(spec->nsnapshots * sizeof(int64));
	spec->period_start = palloc(spec->nsnapshots * sizeof(int64));
	for (int i = 0; i < spec->nsnapshots; i++)
	{
		spec->as_of[i] = internal_as_of(spec, spec->as_of_input[i]);
		spec->period_start[i] = rfm_period_start(spec->as_of[i], &spec->last_period);
	}
}

/* per snapshot and customer: the three values that are scored */
typedef struct Scored
{
	Customer   *customer;
	float8		value[3];
	bool		isnull[3];
} Scored;

/*
 * A sum of a state as float8: the double numeric_float8 gives for the
 * numeric rfm_metrics returns, without building that numeric.
 */
static float8
sum_float8(const RfmState *state, int which)
{
	if (state->sums[which].big_off != 0)
		return DatumGetFloat8(DirectFunctionCall1(numeric_float8,
												  NumericGetDatum(rfm_state_sum(state, which))));
	return rfm_decimal_float8(&state->sums[which]);
}

/*
 * The values scored for a customer: recency; frequency (the weighted one
 * when there is a weight column); monetary, or without an amount column the
 * last-period frequency (weighted likewise).  Sums are taken as float8, as
 * rfm_breaks and rfm_score take the numerics of rfm_metrics.
 */
static void
values_to_score(const AnalyzeSpec *spec, const RfmState *state, Scored *scored)
{
	bool		has_weight = spec->columns[3] != NULL;

	scored->value[0] = rfm_days_between(state->last_event, state->as_of);
	scored->isnull[0] = false;
	scored->value[1] = has_weight ? sum_float8(state, RFM_SUM_WEIGHTED) :
		(float8) state->frequency;
	scored->isnull[1] = false;
	if (spec->columns[2] != NULL)
	{
		scored->isnull[2] = state->amount_count == 0;
		scored->value[2] = scored->isnull[2] ? 0 : sum_float8(state, RFM_SUM_MONETARY);
	}
	else
	{
		scored->isnull[2] = false;
		scored->value[2] = has_weight ? sum_float8(state, RFM_SUM_WEIGHTED_LAST) :
			(float8) state->frequency_last;
	}
}

/* cut points of one dimension over the customers of a snapshot */
static bool
dimension_breaks(const AnalyzeSpec *spec, const Scored *scored, uint64 n, int d,
				 float8 *breaks)
{
	RfmValueCount *items = palloc_extended(Max(n, 1) * sizeof(RfmValueCount),
										   MCXT_ALLOC_HUGE);
	int64		total = 0;

	for (uint64 i = 0; i < n; i++)
	{
		if (scored[i].isnull[d])
			continue;
		/* -0 and 0 are one value, as in rfm_breaks */
		items[total].value = scored[i].value[d] + 0.0;
		items[total].count = 1;
		total++;
	}
	if (total > 0)
	{
		(void) rfm_compact_values(items, (int) total);
		rfm_compute_breaks(items, total, spec->bins, spec->method, breaks);
	}
	pfree(items);
	return total > 0;
}

/*
 * Emit one snapshot: breaks over the customers with an event on or before
 * its as_of, then a row per such customer.
 */
static void
emit_snapshot(FunctionCallInfo fcinfo, AnalyzeState *st, int snap,
			  bool with_as_of)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	AnalyzeSpec *spec = st->spec;
	Scored	   *scored = palloc_extended(Max(st->ncustomers, 1) * sizeof(Scored),
											 MCXT_ALLOC_HUGE);
	uint64		n = 0;
	float8		breaks[3][RFM_MAX_BINS];
	int			base = with_as_of ? 1 : 0;

	for (uint64 i = 0; i < st->ncustomers; i++)
	{
		RfmState   *state = st->customers[i]->states[snap];

		if (state->frequency == 0)
			continue;			/* no event on or before as_of */
		scored[n].customer = st->customers[i];
		values_to_score(spec, state, &scored[n]);
		n++;
	}
	for (int d = 0; d < 3; d++)
		(void) dimension_breaks(spec, scored, n, d, breaks[d]);

	for (uint64 i = 0; i < n; i++)
	{
		Datum		out[RFM_METRICS_NFIELDS + 6];
		bool		outnull[RFM_METRICS_NFIELDS + 6];
		Datum	   *values = out + base + 1;
		bool	   *nulls = outnull + base + 1;
		Customer   *entry = scored[i].customer;
		int			score[3];
		bool		any_null = false;
		MemoryContext old = MemoryContextSwitchTo(st->row_cxt);

		if (with_as_of)
		{
			out[0] = TimestampTzGetDatum(spec->as_of_input[snap]);
			outnull[0] = false;
		}
		outnull[base] = entry->key_null;
		out[base] = entry->key_null ? (Datum) 0 :
			CStringGetTextDatum(OidOutputFunctionCall(st->key_output, entry->key));

		rfm_state_values(entry->states[snap], values, nulls);
		if (spec->is_date)
		{
			/* first and last event at midnight in the session TimeZone */
			values[0] = DirectFunctionCall1(date_timestamptz, values[0]);
			values[1] = DirectFunctionCall1(date_timestamptz, values[1]);
		}
		for (int d = 0; d < 3; d++)
		{
			nulls[RFM_METRICS_NFIELDS + d] = scored[i].isnull[d];
			if (scored[i].isnull[d])
			{
				any_null = true;
				continue;
			}
			score[d] = rfm_score_value(scored[i].value[d], breaks[d],
									   spec->bins - 1, spec->method);
			if (d == 0)
				score[d] = spec->bins + 1 - score[d];	/* fewer days, higher */
			values[RFM_METRICS_NFIELDS + d] = Int32GetDatum(score[d]);
		}
		nulls[RFM_METRICS_NFIELDS + 3] = any_null;
		if (!any_null)
			values[RFM_METRICS_NFIELDS + 3] =
				PointerGetDatum(rfm_segment_map_name(spec->segments, score[0],
													 score[1], score[2]));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, outnull);
		MemoryContextSwitchTo(old);
		MemoryContextReset(st->row_cxt);
	}
	pfree(scored);
}

/*
 * Scan once, then emit every snapshot.  as_of NULL (rfm_analyze only)
 * means the latest event time of the source, found by a first query.
 */
static void
run_analysis(FunctionCallInfo fcinfo, AnalyzeSpec *spec, bool with_as_of)
{
	AnalyzeState *st = palloc0(sizeof(AnalyzeState));
	Oid			key_type;
	Oid			key_collation;
	bool		isvarlena;

	key_type = column_type(spec->relid, spec->columns[0], "customer_column", &key_collation);
	init_key_info(&st->key, key_type, key_collation, spec->columns[0]);
	getTypeOutputInfo(key_type, &st->key_output, &isvarlena);

	InitMaterializedSRF(fcinfo, 0);

	/* made before SPI_connect, whose memory goes away at SPI_finish */
	st->spec = spec;
	st->table_cxt = AllocSetContextCreate(CurrentMemoryContext, "rfm_analyze customers",
										  ALLOCSET_DEFAULT_SIZES);
	st->row_cxt = AllocSetContextCreate(CurrentMemoryContext, "rfm_analyze row",
										ALLOCSET_SMALL_SIZES);
	st->table = customers_create(st->table_cxt, 1024, &st->key);
	st->maxcustomers = 1024;
	st->customers = MemoryContextAlloc(st->table_cxt, st->maxcustomers * sizeof(Customer *));
	init_receiver(&st->pub, analyze_receive);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (spec->as_of_input == NULL)
	{
		TimestampTz latest;
		MemoryContext old;

		if (!latest_event(spec, &latest))
		{
			SPI_finish();
			return;				/* no events: no customers */
		}
		old = MemoryContextSwitchTo(st->table_cxt);
		spec->nsnapshots = 1;
		spec->as_of_input = palloc(sizeof(TimestampTz));
		spec->as_of_input[0] = latest;
		MemoryContextSwitchTo(old);
	}
	{
		MemoryContext old = MemoryContextSwitchTo(st->table_cxt);

		prepare_snapshots(spec);
		MemoryContextSwitchTo(old);
	}

	stream_query(build_query(spec), (DestReceiver *) st);
	SPI_finish();

	/* the hash table has done its work; its memory goes with the context */
	for (int snap = 0; snap < spec->nsnapshots; snap++)
		emit_snapshot(fcinfo, st, snap, with_as_of);
}

/*
 * rfm_analyze(source, customer_column, time_column, amount_column,
 * weight_column, as_of, last_period, bins, method, rule_set): metrics,
 * scores and segment of every customer with an event on or before as_of,
 * in one scan.
 */
PG_FUNCTION_INFO_V1(rfm_analyze);
Datum
rfm_analyze(PG_FUNCTION_ARGS)
{
	AnalyzeSpec *spec = palloc0(sizeof(AnalyzeSpec));

	spec->function = "rfm_analyze";
	read_spec(fcinfo, spec);
	if (!PG_ARGISNULL(5))
	{
		spec->nsnapshots = 1;
		spec->as_of_input = palloc(sizeof(TimestampTz));
		spec->as_of_input[0] = PG_GETARG_TIMESTAMPTZ(5);
	}
	run_analysis(fcinfo, spec, false);
	return (Datum) 0;
}

/*
 * rfm_snapshots(..., as_of timestamptz[], ...): the same at many as-of
 * dates, still in one scan; rows start with their as_of.
 */
PG_FUNCTION_INFO_V1(rfm_snapshots);
Datum
rfm_snapshots(PG_FUNCTION_ARGS)
{
	AnalyzeSpec *spec = palloc0(sizeof(AnalyzeSpec));

	spec->function = "rfm_snapshots";
	read_spec(fcinfo, spec);
	if (PG_ARGISNULL(5))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("as_of must not be NULL"),
				 errhint("Pass the dates of the snapshots, such as ARRAY['2024-01-31', '2024-02-29']::timestamptz[].")));
	read_as_of_array(spec, PG_GETARG_ARRAYTYPE_P(5));
	run_analysis(fcinfo, spec, true);
	return (Datum) 0;
}


/*
 * Retention: per customer, the sorted distinct periods with an event.
 * The first one is the cohort; the rest say in which later periods the
 * customer was active.  4 bytes per customer and active period.
 */
typedef struct Activity
{
	int32		nperiods;
	int32		maxperiods;
	int32	   *periods;
} Activity;

typedef struct RetentionState
{
	DestReceiver pub;
	KeyInfo		key;
	customers_hash *table;
	Activity   *null_customer;
	Activity  **all;
	uint64		nall;
	uint64		maxall;
	MemoryContext table_cxt;
	Oid			time_type;
	RfmGrain	grain;
	pg_tz	   *tz;
	bool		has_as_of;
	int64		as_of;			/* in the column's own domain */
	int32		last_period;	/* latest period with an event */
	bool		any;
	uint64		rows;
} RetentionState;

static Activity *
new_activity(RetentionState *st)
{
	Activity   *a = MemoryContextAllocZero(st->table_cxt, sizeof(Activity));

	a->maxperiods = 4;
	a->periods = MemoryContextAlloc(st->table_cxt, a->maxperiods * sizeof(int32));
	if (st->nall == st->maxall)
	{
		st->maxall *= 2;
		st->all = repalloc_huge(st->all, st->maxall * sizeof(Activity *));
	}
	st->all[st->nall++] = a;
	return a;
}

/* add a period to the sorted set of a customer */
static void
add_period(RetentionState *st, Activity *a, int32 period)
{
	int			lo = 0,
				hi = a->nperiods;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (a->periods[mid] < period)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < a->nperiods && a->periods[lo] == period)
		return;
	if (a->nperiods == a->maxperiods)
	{
		a->maxperiods *= 2;
		a->periods = repalloc(a->periods, a->maxperiods * sizeof(int32));
	}
	memmove(a->periods + lo + 1, a->periods + lo, (a->nperiods - lo) * sizeof(int32));
	a->periods[lo] = period;
	a->nperiods++;
}

static bool
retention_receive(TupleTableSlot *slot, DestReceiver *self)
{
	RetentionState *st = (RetentionState *) self;
	Datum		value;
	int32		period;
	Activity   *a;

	CHECK_FOR_INTERRUPTS();
	/* customers and their periods grow in many small steps: look now and then */
	if (++st->rows % 65536 == 0)
		rfm_check_memory(MemoryContextMemAllocated(st->table_cxt, true), "rfm_retention",
						 "Use a coarser grain, or a source with fewer customers or a shorter history");
	slot_getallattrs(slot);
	if (slot->tts_isnull[1])
		return true;
	value = slot->tts_values[1];
	switch (st->time_type)
	{
		case DATEOID:
			if (st->has_as_of && (int64) DatumGetDateADT(value) > st->as_of)
				return true;
			period = rfm_period_of_date(DatumGetDateADT(value), st->grain);
			break;
		case TIMESTAMPOID:
			/* a wall time: its period needs no time zone */
			if (st->has_as_of && DatumGetTimestamp(value) > st->as_of)
				return true;
			period = rfm_period_of_timestamp(DatumGetTimestamp(value), NULL, st->grain);
			break;
		default:
			if (st->has_as_of && DatumGetTimestampTz(value) > st->as_of)
				return true;
			period = rfm_period_of_timestamp(DatumGetTimestampTz(value), st->tz, st->grain);
			break;
	}

	if (slot->tts_isnull[0])
	{
		if (st->null_customer == NULL)
			st->null_customer = new_activity(st);
		a = st->null_customer;
	}
	else
	{
		Datum		key = slot->tts_values[0];
		CustomerEntry *entry;
		bool		found;

		if (!st->key.typbyval && st->key.typlen == -1)
			key = PointerGetDatum(pg_detoast_datum_packed((struct varlena *) DatumGetPointer(key)));
		entry = customers_insert(st->table, key, &found);
		if (!found)
		{
			MemoryContext old = MemoryContextSwitchTo(st->table_cxt);

			if (!st->key.typbyval)
				entry->key = datumCopy(key, false, st->key.typlen);
			MemoryContextSwitchTo(old);
			entry->customer = (Customer *) new_activity(st);
		}
		a = (Activity *) entry->customer;
	}
	add_period(st, a, period);
	if (!st->any || period > st->last_period)
		st->last_period = period;
	st->any = true;
	return true;
}

/*
 * rfm_retention(source, customer_column, time_column, grain, tz, as_of):
 * the cohort triangle in one scan.  A customer's cohort is the period of
 * their first event; offset k counts the customers of the cohort with an
 * event in the period k periods later.  Every cell up to as_of's period is
 * returned, zeros included.
 */
PG_FUNCTION_INFO_V1(rfm_retention);
Datum
rfm_retention(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RetentionState *st = palloc0(sizeof(RetentionState));
	Oid			relid;
	const char *key_column;
	const char *time_column;
	Oid			key_type;
	Oid			collation;
	int32		last = 0;
	int32		first = PG_INT32_MAX;
	int64		ncohorts;
	int64	   *size;
	int64	   *active;
	char	   *query;
	const char *rel;

	for (int i = 0; i < 5; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be NULL",
							(const char *[]) {"source", "customer_column", "time_column", "grain", "tz"}[i]),
					 errhint("Only as_of may be NULL (the latest event's period).")));
	relid = PG_GETARG_OID(0);
	if (get_rel_name(relid) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("source relation with OID %u does not exist", relid)));
	key_column = NameStr(*PG_GETARG_NAME(1));
	time_column = NameStr(*PG_GETARG_NAME(2));
	st->grain = rfm_parse_grain(PG_GETARG_TEXT_PP(3));
	st->tz = rfm_load_tz(PG_GETARG_TEXT_PP(4));

	key_type = column_type(relid, key_column, "customer_column", &collation);
	init_key_info(&st->key, key_type, collation, key_column);
	st->time_type = time_column_type(relid, time_column);

	/* as_of in the column's own domain, its wall time or date in tz */
	if (!PG_ARGISNULL(5))
	{
		TimestampTz as_of = PG_GETARG_TIMESTAMPTZ(5);
		struct pg_tm tm;
		fsec_t		fsec;
		int			tzoff;
		Timestamp	wall;

		(void) rfm_timestamp_usecs(as_of, "as_of");
		st->has_as_of = true;
		if (timestamp2tm(as_of, &tzoff, &tm, &fsec, NULL, st->tz) != 0 ||
			tm2timestamp(&tm, fsec, NULL, &wall) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("as_of out of range")));
		if (st->time_type == DATEOID)
			st->as_of = date2j(tm.tm_year, tm.tm_mon, tm.tm_mday) - POSTGRES_EPOCH_JDATE;
		else if (st->time_type == TIMESTAMPOID)
			st->as_of = wall;
		else
			st->as_of = as_of;
		last = rfm_period_of_day(tm.tm_year, tm.tm_mon, tm.tm_mday, st->grain);
	}

	InitMaterializedSRF(fcinfo, 0);
	st->table_cxt = AllocSetContextCreate(CurrentMemoryContext, "rfm_retention customers",
										  ALLOCSET_DEFAULT_SIZES);
	st->table = customers_create(st->table_cxt, 1024, &st->key);
	st->maxall = 1024;
	st->all = MemoryContextAlloc(st->table_cxt, st->maxall * sizeof(Activity *));
	init_receiver(&st->pub, retention_receive);

	rel = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									 get_rel_name(relid));
	query = psprintf("SELECT %s, %s FROM %s", quote_identifier(key_column),
					 quote_identifier(time_column), rel);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	stream_query(query, (DestReceiver *) st);
	SPI_finish();

	if (!st->any)
		return (Datum) 0;
	if (!st->has_as_of)
		last = st->last_period;
	for (uint64 i = 0; i < st->nall; i++)
		first = Min(first, st->all[i]->periods[0]);
	if (first > last)
		return (Datum) 0;
	ncohorts = (int64) last - first + 1;
	if (ncohorts * ncohorts > 50 * 1000 * 1000)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("retention over %lld periods is too large a triangle",
						(long long) ncohorts),
				 errhint("Use a coarser grain, or a later first event.")));

	/* cohort sizes and the triangle of active customers */
	size = palloc0(ncohorts * sizeof(int64));
	active = palloc_extended(ncohorts * ncohorts * sizeof(int64), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	for (uint64 i = 0; i < st->nall; i++)
	{
		Activity   *a = st->all[i];
		int64		cohort = a->periods[0] - first;

		size[cohort]++;
		for (int k = 0; k < a->nperiods; k++)
			active[cohort * ncohorts + (a->periods[k] - a->periods[0])]++;
	}

	for (int64 c = 0; c < ncohorts; c++)
	{
		text	   *label;

		if (size[c] == 0)
			continue;
		label = rfm_period_label((int32) (first + c), st->grain);
		for (int64 k = 0; k <= ncohorts - 1 - c; k++)
		{
			Datum		values[5];
			bool		nulls[5] = {false, false, false, false, false};
			int64		n = active[c * ncohorts + k];

			values[0] = PointerGetDatum(label);
			values[1] = Int32GetDatum((int32) k);
			values[2] = Int64GetDatum(size[c]);
			values[3] = Int64GetDatum(n);
			values[4] = Float8GetDatum((float8) n / (float8) size[c]);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	return (Datum) 0;
}
