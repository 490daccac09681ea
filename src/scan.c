/*-------------------------------------------------------------------------
 *
 * scan.c
 *	  The machinery every set-returning function that reads a table
 *	  shares: argument and column checks, the scan itself, and a table of
 *	  customers keyed by the customer column's own values.
 *
 * The scan runs through SPI as the caller, so privileges, row-level
 * security, views and partitions behave as in any SELECT; its rows stream
 * into a DestReceiver, one callback per row in a per-row memory context,
 * instead of being materialized.  Interrupts are checked on every row.
 *
 * Customers live in a simplehash table keyed by the customer column's own
 * value (no text conversion per row): types whose equality is equality of
 * bytes are hashed as bytes, others through their hash opclass.  Each
 * customer gets a fixed-size payload owned by the caller, carved from 1 MB
 * blocks, and customers are listed in order of first appearance, so a
 * final pass walks memory in the order it was allocated.  Rows whose key
 * is NULL form one customer, as GROUP BY makes them.  All of it counts
 * against rfm_segment.max_memory.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "direct_scan.h"
#include "guc.h"
#include "scan.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_statistic.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/params.h"
#include "nodes/parsenodes.h"
#include "optimizer/cost.h"
#include "tcop/dest.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

/* customers are carved from blocks of this size */
#define CUSTOMER_BLOCK_SIZE		(1024 * 1024)

/* the hash table and the list start with room for this many customers */
#define INITIAL_CUSTOMERS		1024

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

/* a customer: its key, then the caller's payload (MAXALIGNed) */
typedef struct Customer
{
	Datum		key;
	bool		isnull;
} Customer;

#define CUSTOMER_HEADER		MAXALIGN(sizeof(Customer))
#define PAYLOAD(c)			((void *) ((char *) (c) + CUSTOMER_HEADER))

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
static bool in_share(const RfmCustomers *c, Datum key, bool isnull);

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

struct RfmCustomers
{
	KeyInfo		key;
	Oid			key_type;
	FmgrInfo   *key_output;		/* output function of the key's type */
	Size		payload_size;
	const char *function;		/* for messages */
	const char *memory_hint;
	MemoryContext cxt;			/* everything below lives here */
	customers_hash *table;
	Customer   *null_customer;
	Customer   *last;			/* the customer of the last lookup */
	Customer  **list;			/* in order of first appearance */
	uint64		count;
	uint64		capacity;
	char	   *arena;
	Size		arena_left;
	bool		soft_limit;		/* past max_memory: no new customer, no error */
	bool		frozen;			/* no new customer at all */
	int			nparts;			/* split among processes: 0 or 1 when not */
	uint64		parts;			/* the parts of the hash space kept here */
};

/* scan receiver: the caller's callback, in a per-row context */
typedef struct ScanReceiver
{
	DestReceiver pub;
	RfmRowCallback row;
	RfmRowUntil until;			/* instead of row: may stop the scan */
	void	   *arg;
	const RfmCustomers *share;	/* rows of other customers are skipped */
	int			key_attno;		/* of the customer key, for share */
	MemoryContext row_cxt;
	uint64		rows;
} ScanReceiver;

/*
 * The source argument: not NULL, and a relation that exists (a regclass
 * argument can hold the OID of a dropped one).
 */
Oid
rfm_source_arg(FunctionCallInfo fcinfo, int argno)
{
	Oid			relid;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("source must not be NULL"),
				 errhint("Pass the table or view of events, such as 'orders'::regclass.")));
	relid = PG_GETARG_OID(argno);
	if (get_rel_name(relid) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("source relation with OID %u does not exist", relid)));
	return relid;
}

/* a column-name argument; NULL when it is NULL and may be */
const char *
rfm_column_arg(FunctionCallInfo fcinfo, int argno, const char *argname,
			   bool required)
{
	if (!PG_ARGISNULL(argno))
		return NameStr(*PG_GETARG_NAME(argno));
	if (required)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", argname),
				 errhint("Pass the name of a column of the source table.")));
	return NULL;
}

/* the type (and collation) of a column, or a clear error */
Oid
rfm_column_type(Oid relid, const char *column, const char *argname,
				Oid *collation)
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

/* the type of a time column: date, timestamp or timestamptz */
Oid
rfm_time_column_type(Oid relid, const char *column, const char *argname)
{
	Oid			collation;
	Oid			type = rfm_column_type(relid, column, argname, &collation);

	if (type != DATEOID && type != TIMESTAMPOID && type != TIMESTAMPTZOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s \"%s\" has type %s, not a date or timestamp",
						argname, column, format_type_be(type)),
				 errhint("Pass a column of type date, timestamp or timestamptz.")));
	return type;
}

/* a column of numbers (numeric, integer or float), when one is named */
void
rfm_check_number_column(Oid relid, const char *column, const char *argname)
{
	Oid			collation;
	Oid			type;

	if (column == NULL)
		return;
	type = rfm_column_type(relid, column, argname, &collation);
	if (type != NUMERICOID && type != INT2OID && type != INT4OID &&
		type != INT8OID && type != FLOAT4OID && type != FLOAT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s \"%s\" has type %s, not a number", argname, column,
						format_type_be(type)),
				 errhint("Pass a numeric, integer or float column.")));
}

/* the relation's schema-qualified, quoted name, for a query */
char *
rfm_relation_name(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

static bool
scan_receive(TupleTableSlot *slot, DestReceiver *self)
{
	ScanReceiver *r = (ScanReceiver *) self;
	MemoryContext old;
	bool		more = true;

	CHECK_FOR_INTERRUPTS();
	r->rows++;
	old = MemoryContextSwitchTo(r->row_cxt);
	if (r->share != NULL)
	{
		bool		isnull;
		Datum		key = slot_getattr(slot, r->key_attno, &isnull);

		if (!in_share(r->share, key, isnull))
		{
			MemoryContextSwitchTo(old);
			MemoryContextReset(r->row_cxt);
			return true;
		}
	}
	slot_getallattrs(slot);
	if (r->until != NULL)
		more = r->until(slot, r->arg);
	else
		r->row(slot, r->arg);
	MemoryContextSwitchTo(old);
	MemoryContextReset(r->row_cxt);
	/* false ends the executor's run: the rest of the source is not read */
	return more;
}

static void
scan_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
}

static void
scan_shutdown(DestReceiver *self)
{
}

static void
scan_destroy(DestReceiver *self)
{
}

/*
 * Run a query as the caller and hand each row to the callback, in a
 * memory context reset after every row: what the callback keeps it must
 * allocate elsewhere (rfm_customers_context, or a context of its own).
 * Returns the number of rows.
 */
uint64
rfm_scan(const char *query, RfmRowCallback row, void *arg)
{
	return rfm_scan_params(query, 0, NULL, NULL, false, row, arg);
}

static uint64 scan_states(Oid relid, const char *query, int nargs, Oid *argtypes,
						  Datum *values, RfmRowCallback row, RfmRowUntil until,
						  void *arg);
static char *query_blocks(const char *query, BlockNumber first, BlockNumber end);
static uint64 scan_run(const char *query, int nargs, Oid *argtypes,
					   Datum *values, bool parallel_ok, bool distributed,
					   const RfmCustomers *share, int key_column,
					   BlockNumber first, BlockNumber end,
					   RfmRowCallback row, RfmRowUntil until, void *arg);

/*
 * rfm_scan whose callback may stop it: when it returns false the query
 * stops there (the executor reads no further row).
 */
uint64
rfm_scan_until(const char *query, RfmRowUntil row, void *arg)
{
	return scan_run(query, 0, NULL, NULL, false, false, NULL, 0, 0, InvalidBlockNumber,
					NULL, row, arg);
}

/*
 * rfm_scan_until of the rows of blocks first .. end - 1 of the relation a
 * query reads (by a TID range scan; end InvalidBlockNumber: to the last
 * block, those added since too).
 */
uint64
rfm_scan_blocks(const char *query, BlockNumber first, BlockNumber end,
				RfmRowUntil row, void *arg)
{
	return scan_run(query, 0, NULL, NULL, false, false, NULL, 0, first, end,
					NULL, row, arg);
}

/*
 * rfm_scan_until of one process's share of the customers
 * (rfm_customers_set_share): rows of the others are skipped before the
 * callback, on the key in column key_column (from 0) alone.
 */
uint64
rfm_scan_share(const char *query, const RfmCustomers *customers, int key_column,
			   RfmRowUntil row, void *arg)
{
	return scan_run(query, 0, NULL, NULL, false, false, customers, key_column,
					0, InvalidBlockNumber, NULL, row, arg);
}

/* rfm_scan_until of a query of source relid with parameters $1..$nargs */
uint64
rfm_scan_until_params(Oid relid, const char *query, int nargs, Oid *argtypes,
					  Datum *values, RfmRowUntil row, void *arg)
{
	return scan_run(query, nargs, argtypes, values, false, rfm_relation_is_distributed(relid),
					NULL, 0, 0, InvalidBlockNumber, NULL, row, arg);
}

/* the OID of a type of the extension's schema (namespace) */
Oid
rfm_schema_type(Oid namespace, const char *type_name)
{
	Oid			typid = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
										CStringGetDatum(type_name),
										ObjectIdGetDatum(namespace));

	if (!OidIsValid(typid))
		elog(ERROR, "type %s is missing from the extension's schema", type_name);
	return typid;
}

/*
 * A value of a composite type of the extension's schema (namespace), to
 * pass a states query as a parameter: the specs of the per-customer
 * aggregates are composites, which have no collation where text
 * arguments would give the aggregate one, and postgres_fdw ships no
 * function whose collation does not come from a foreign column.
 */
Datum
rfm_schema_row(Oid namespace, const char *type_name, Datum *values, bool *nulls,
			   Oid *typid)
{
	TupleDesc	desc;
	HeapTuple	tuple;

	*typid = rfm_schema_type(namespace, type_name);
	desc = lookup_rowtype_tupdesc(*typid, -1);
	tuple = heap_form_tuple(desc, values, nulls);
	ReleaseTupleDesc(desc);
	return HeapTupleGetDatum(tuple);
}

/*
 * rfm_scan with parameters $1 .. $nargs, and a plan that may use parallel
 * workers when parallel_ok (a GROUP BY of the source is then aggregated
 * partly in the workers, as any query's would be).
 */
uint64
rfm_scan_params(const char *query, int nargs, Oid *argtypes, Datum *values,
				bool parallel_ok, RfmRowCallback row, void *arg)
{
	return scan_run(query, nargs, argtypes, values, parallel_ok, false, NULL, 0,
					0, InvalidBlockNumber, row, NULL, arg);
}

/*
 * A states query's GROUP BY holds up to hash_mem_multiplier x work_mem of
 * states in the leader and in each worker before it spills to disk.  At
 * the default 4MB that is some 20,000 customers, and spilling them doubled
 * the time of a million-event analysis.  rfm_segment.max_memory is what
 * the user allows this extension to hold, so the scan's work_mem is raised
 * (for the scan only, never lowered) to share it among the processes that
 * may run it; past that the GROUP BY spills as before.
 */
static void
raise_work_mem(void)
{
	float8		processes = 1 + Max(max_parallel_workers_per_gather, 0);
	float8		kb = rfm_max_memory_kb / (processes * Max(hash_mem_multiplier, 1.0));
	char		value[32];

	if (kb <= work_mem)
		return;
	snprintf(value, sizeof(value), "%d", (int) Min(kb, (float8) MAX_KILOBYTES));
	(void) set_config_option("work_mem", value, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

/*
 * Run a states query of source relid (one GROUP BY of the customer, which
 * PostgreSQL may run in parallel workers, push down and spill):
 * rfm_scan_params with parallel plans allowed and the work_mem above.  The caller's tuplestores
 * and sorts keep the work_mem they were made with.
 */
uint64
rfm_scan_states(Oid relid, const char *query, int nargs, Oid *argtypes, Datum *values,
				RfmRowCallback row, void *arg)
{
	return scan_states(relid, query, nargs, argtypes, values, row, NULL, arg);
}

/* rfm_scan_states with a callback that may stop it */
uint64
rfm_scan_states_until(Oid relid, const char *query, int nargs, Oid *argtypes,
					  Datum *values, RfmRowUntil until, void *arg)
{
	return scan_states(relid, query, nargs, argtypes, values, NULL, until, arg);
}

static uint64
scan_states(Oid relid, const char *query, int nargs, Oid *argtypes, Datum *values,
			RfmRowCallback row, RfmRowUntil until, void *arg)
{
	int			save_nestlevel = NewGUCNestLevel();
	uint64		rows;

	raise_work_mem();
	rows = scan_run(query, nargs, argtypes, values, true, rfm_relation_is_distributed(relid),
					NULL, 0, 0, InvalidBlockNumber, row, until, arg);
	AtEOXact_GUC(true, save_nestlevel);
	return rows;
}

/* a scan's query planned through SPI (connected) */
static SPIPlanPtr
prepare_scan(const char *query, int nargs, Oid *argtypes, bool parallel_ok)
{
	SPIPlanPtr	plan = SPI_prepare_cursor(query, nargs, argtypes,
										  parallel_ok ? CURSOR_OPT_PARALLEL_OK : 0);

	if (plan == NULL)
		elog(ERROR, "could not plan the scan of the source: %s",
			 SPI_result_code_string(SPI_result));
	return plan;
}

/* run a scan's plan through the executor, its rows into dest */
static void
execute_scan(SPIPlanPtr plan, int nargs, Oid *argtypes, Datum *values,
			 bool distributed, DestReceiver *dest)
{
	SPIExecuteOptions options;
	ParamListInfo params = NULL;
	int			ret;

	if (nargs > 0)
	{
		/*
		 * Not PARAM_FLAG_CONST, unless the caller folds them: the planner
		 * still estimates with the values, but keeps them parameters, so
		 * postgres_fdw sends them as such, written in ISO style.  Folded
		 * into constants it would write them in the session's DateStyle,
		 * where a zone abbreviation such as IST means another zone on the
		 * foreign server (a silently wrong as_of).  Citus plans no
		 * subquery with parameters, so a Citus table's are folded, and
		 * written in ISO style by the DateStyle scan_run sets.
		 */
		params = makeParamList(nargs);
		for (int i = 0; i < nargs; i++)
		{
			params->params[i].value = values[i];
			params->params[i].isnull = false;
			params->params[i].pflags = distributed ? PARAM_FLAG_CONST : 0;
			params->params[i].ptype = argtypes[i];
		}
	}
	memset(&options, 0, sizeof(options));
	options.params = params;
	options.read_only = true;
	options.dest = dest;
	ret = SPI_execute_plan_extended(plan, &options);
	/* a caller's query of nothing (empty, or only a comment) */
	if (ret == SPI_OK_REWRITTEN)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("the query to read has no statement"),
				 errhint("Pass a SELECT.")));
	/* SPI reports a SELECT into a DestNone receiver as a utility command */
	if (ret != SPI_OK_SELECT && ret != SPI_OK_UTILITY)
		elog(ERROR, "scan of the source failed: %s", SPI_result_code_string(ret));
}

/*
 * The scan of rfm_scan_params and rfm_scan_until: one callback or the
 * other.  distributed: the source is a Citus table (its parameters are
 * folded, its constants written in ISO style; see below).  first, end: the
 * blocks to read, as rfm_scan_blocks takes them.  A query whose plan is a
 * bare scan of a table is read without the executor (direct_scan.c).
 */
static uint64
scan_run(const char *query, int nargs, Oid *argtypes, Datum *values,
		 bool parallel_ok, bool distributed, const RfmCustomers *share,
		 int key_column, BlockNumber first, BlockNumber end,
		 RfmRowCallback row, RfmRowUntil until, void *arg)
{
	ScanReceiver receiver;
	SPIPlanPtr	plan;
	int			save_nestlevel = 0;

	memset(&receiver, 0, sizeof(receiver));
	receiver.pub.receiveSlot = scan_receive;
	receiver.pub.rStartup = scan_startup;
	receiver.pub.rShutdown = scan_shutdown;
	receiver.pub.rDestroy = scan_destroy;
	receiver.pub.mydest = DestNone;
	receiver.row = row;
	receiver.until = until;
	receiver.arg = arg;
	receiver.share = share != NULL && share->nparts > 1 ? share : NULL;
	receiver.key_attno = key_column + 1;
	/* made before SPI_connect, whose memory goes away at SPI_finish */
	receiver.row_cxt = AllocSetContextCreate(CurrentMemoryContext,
											 "rfm_segment scan row",
											 ALLOCSET_SMALL_SIZES);

	/*
	 * Citus writes the constants of the queries it sends its workers in
	 * the session's DateStyle, and a worker may read a zone abbreviation
	 * as another zone: ISO style writes offsets.
	 */
	if (distributed)
	{
		save_nestlevel = NewGUCNestLevel();
		(void) set_config_option("DateStyle", "ISO", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		(void) set_config_option("IntervalStyle", "postgres", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	}
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = prepare_scan(query, nargs, argtypes, parallel_ok);
	if (nargs > 0 || !rfm_direct_scan(plan, first, end, (DestReceiver *) &receiver))
	{
		/* the executor reads a range of blocks by a TID range scan */
		if (first != 0 || end != InvalidBlockNumber)
			plan = prepare_scan(query_blocks(query, first, end), nargs, argtypes,
								parallel_ok);
		execute_scan(plan, nargs, argtypes, values, distributed,
					 (DestReceiver *) &receiver);
	}
	SPI_finish();
	if (distributed)
		AtEOXact_GUC(true, save_nestlevel);
	MemoryContextDelete(receiver.row_cxt);
	return receiver.rows;
}

/* the latest time of a column (as timestamptz); false if it has none */
bool
rfm_latest_time(Oid relid, const char *time_column, TimestampTz *latest)
{
	char	   *query;
	bool		isnull;
	Datum		value;

	query = psprintf("SELECT pg_catalog.max(%s)::pg_catalog.timestamptz FROM %s",
					 quote_identifier(time_column), rfm_relation_name(relid));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute(query, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not find the latest event time");
	value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
		*latest = DatumGetTimestampTz(value);
	SPI_finish();
	return !isnull;
}

/*
 * Whether Citus distributes the relation: it then lists it in
 * pg_dist_partition.  False where Citus is not installed.
 */
bool
rfm_relation_is_distributed(Oid relid)
{
	bool		distributed = false;
	bool		isnull;

	if (!OidIsValid(get_relname_relid("pg_dist_partition", PG_CATALOG_NAMESPACE)))
		return false;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition WHERE logicalrelid = $1)",
							  1, (Oid[]) {OIDOID}, (Datum[]) {ObjectIdGetDatum(relid)}, NULL,
							  true, 1) == SPI_OK_SELECT && SPI_processed == 1)
		distributed = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return distributed;
}

/* the planner's estimate of the relation's rows (reltuples), 0 if none */
float8
rfm_relation_rows(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	float8		rows = 0;

	if (HeapTupleIsValid(tuple))
	{
		rows = Max(((Form_pg_class) GETSTRUCT(tuple))->reltuples, 0);
		ReleaseSysCache(tuple);
	}
	return rows;
}

/*
 * The planner's estimate of a column's distinct values in one relation's
 * own rows (inherited false) or in its partitions too (true):
 * pg_statistic's stadistinct, a fraction of reltuples when negative; -1
 * when there are no such statistics.  An estimate only: stale or sampled.
 */
static float8
column_distinct(Oid relid, const char *column, bool inherited)
{
	AttrNumber	attnum = get_attnum(relid, column);
	HeapTuple	tuple;
	float8		distinct = -1;

	if (attnum == InvalidAttrNumber)
		return -1;
	tuple = SearchSysCache3(STATRELATTINH, ObjectIdGetDatum(relid),
							Int16GetDatum(attnum), BoolGetDatum(inherited));
	if (HeapTupleIsValid(tuple))
	{
		float4		stadistinct = ((Form_pg_statistic) GETSTRUCT(tuple))->stadistinct;

		if (stadistinct > 0)
			distinct = stadistinct;
		else if (stadistinct < 0)
			distinct = -stadistinct * rfm_relation_rows(relid);
		ReleaseSysCache(tuple);
	}
	return distinct;
}

/*
 * The statistics' correlation of a column's values with the physical order
 * of a relation's own rows (-1 .. 1), 0 when there is none.
 */
static float8
column_correlation(Oid relid, const char *column)
{
	AttrNumber	attnum = get_attnum(relid, column);
	HeapTuple	tuple;
	float8		correlation = 0;

	if (attnum == InvalidAttrNumber)
		return 0;
	tuple = SearchSysCache3(STATRELATTINH, ObjectIdGetDatum(relid),
							Int16GetDatum(attnum), BoolGetDatum(false));
	if (HeapTupleIsValid(tuple))
	{
		AttStatsSlot slot;

		if (get_attstatsslot(&slot, tuple, STATISTIC_KIND_CORRELATION, InvalidOid,
							 ATTSTATSSLOT_NUMBERS))
		{
			if (slot.nnumbers == 1)
				correlation = slot.numbers[0];
			free_attstatsslot(&slot);
		}
		ReleaseSysCache(tuple);
	}
	return correlation;
}

/* the leaf partitions of a partitioned table, locked as a scan locks them */
static List *
leaf_partitions(Oid relid)
{
	List	   *leaves = NIL;
	ListCell   *lc;

	foreach(lc, find_all_inheritors(relid, AccessShareLock, NULL))
	{
		Oid			child = lfirst_oid(lc);

		if (get_rel_relkind(child) != RELKIND_PARTITIONED_TABLE)
			leaves = lappend_oid(leaves, child);
	}
	return leaves;
}

/*
 * Whether a source's rows live on other servers: a foreign table, a table
 * Citus distributes, or a partitioned table with a foreign partition.
 * rfm_segment.scan = auto reads those by states, so that the GROUP BY runs
 * where the rows are and one state per customer travels.  A partitioned
 * table of local partitions is not one: its rows are read as a plain
 * table's, which at 10M events was 1.4 times faster than its states.
 */
static bool
source_is_remote(Oid relid)
{
	char		relkind = get_rel_relkind(relid);
	ListCell   *lc;

	if (relkind == RELKIND_FOREIGN_TABLE || rfm_relation_is_distributed(relid))
		return true;
	if (relkind != RELKIND_PARTITIONED_TABLE)
		return false;
	foreach(lc, leaf_partitions(relid))
	{
		if (get_rel_relkind(lfirst_oid(lc)) == RELKIND_FOREIGN_TABLE)
			return true;
	}
	return false;
}

/*
 * How many customers rfm_segment.scan = auto expects in a source, to judge
 * whether they fit rfm_segment.max_memory: the planner's estimate of the
 * column's distinct values, or every row a customer where the relation was
 * never analyzed.  A partitioned table has its own statistics only when
 * it is analyzed by name (autovacuum analyzes its partitions, not it), so
 * without them its partitions' estimates are added up: right when the
 * table is partitioned by customer, high when a customer's rows span
 * partitions (by time).  That errs towards the states, which are slower
 * but never fail, rather than towards a hash table that fills
 * max_memory and is thrown away.
 */
static float8
source_customers(Oid relid, const char *column)
{
	float8		customers;
	ListCell   *lc;

	if (get_rel_relkind(relid) != RELKIND_PARTITIONED_TABLE)
	{
		customers = column_distinct(relid, column, false);
		return customers >= 0 ? customers : rfm_relation_rows(relid);
	}
	customers = column_distinct(relid, column, true);
	if (customers >= 0)
		return customers;
	customers = 0;
	foreach(lc, leaf_partitions(relid))
	{
		Oid			leaf = lfirst_oid(lc);
		float8		leaf_customers = column_distinct(leaf, column, false);

		customers += leaf_customers >= 0 ? leaf_customers : rfm_relation_rows(leaf);
	}
	return customers;
}

/*
 * Whether to read a source by states (one GROUP BY per customer that
 * PostgreSQL runs, spills and pushes down) rather than by rows into the
 * hash table: rfm_segment.scan decides, or for auto a source whose rows
 * live on other servers (the GROUP BY goes where the rows are), or one
 * whose customers, at bytes_per_customer each in the hash table, would not
 * fit rfm_segment.max_memory.  The one rule for rfm_analyze, rfm_snapshots
 * and rfm_retention.  An estimate may be low (stale statistics): the hash
 * table then stops at the bound and its caller reads by states after all,
 * the cost of a partial scan.
 */
bool
rfm_read_by_states(Oid relid, const char *column, float8 bytes_per_customer)
{
	if (rfm_scan_mode != RFM_SCAN_AUTO)
		return rfm_scan_mode == RFM_SCAN_STATES;
	if (source_is_remote(relid))
		return true;
	return !rfm_customers_fit_estimate(relid, column, bytes_per_customer);
}

/*
 * Whether a source's customers, at bytes_per_customer each, fit
 * rfm_segment.max_memory by the planner's estimate (source_customers):
 * also for a source read by states because its rows live elsewhere, whose
 * states can then be held rather than spilled.
 */
bool
rfm_customers_fit_estimate(Oid relid, const char *column, float8 bytes_per_customer)
{
	return source_customers(relid, column) * bytes_per_customer <=
		(float8) rfm_max_memory_kb * 1024.0;
}

/*
 * Whether a source's rows live on other servers (a foreign table, Citus,
 * or partitions of either), which only a GROUP BY sent there reads well.
 */
bool
rfm_source_is_remote(Oid relid)
{
	return source_is_remote(relid);
}

/*
 * Whether a table stores each customer's rows together (loaded customer by
 * customer, or clustered on the customer), rather than spread over the
 * table as an order log stores them.  A sample of about SAMPLE_BLOCKS
 * whole blocks tells how many rows a customer has within one block: about
 * one in an order log, about all of them where they lie together.  It must
 * be two or more, and either the column's values follow the rows'
 * physical order (the statistics' correlation, loaded or clustered by
 * customer: 0.5 or more, as a table copied by a synchronized scan that
 * began mid-table still has it), or a customer's rows in a block are at
 * least half its rows in the table by the statistics.  That last estimate is conservative:
 * ANALYZE samples rows from few blocks, and where rows of a customer lie
 * together it finds fewer customers than there are, so more rows each.
 * False without statistics.  One relation's own rows only (ONLY).
 */
#define SAMPLE_BLOCKS	64

bool
rfm_source_clustered(Oid relid, const char *column, BlockNumber nblocks)
{
	float8		customers = column_distinct(relid, column, false);
	float8		rows = rfm_relation_rows(relid);
	float8		local = 0;
	bool		isnull = true;
	char	   *query;

	if (customers <= 0 || rows <= 0 || nblocks == 0)
		return false;
	query = psprintf("SELECT pg_catalog.sum(n)::pg_catalog.float8 / pg_catalog.count(*)"
					 " FROM (SELECT pg_catalog.count(*) AS n FROM ONLY %s TABLESAMPLE SYSTEM (%g) REPEATABLE (0)"
					 " GROUP BY (ctid::pg_catalog.text::pg_catalog.point)[0], %s) AS g",
					 rfm_relation_name(relid),
					 Min(100.0, 100.0 * SAMPLE_BLOCKS / (float8) nblocks),
					 quote_identifier(column));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute(query, true, 1) == SPI_OK_SELECT && SPI_processed == 1)
		local = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
											 1, &isnull));
	SPI_finish();
	if (isnull || local < 2)
		return false;
	return fabs(column_correlation(relid, column)) >= 0.5 ||
		local >= 0.5 * (rows / customers);
}

/*
 * A query of a relation (SELECT ... FROM it, without WHERE) restricted to
 * the rows of blocks first .. end - 1, read by a TID range scan (of each
 * of its partitions, for a partitioned table); end InvalidBlockNumber: to
 * the last block, those added since too.
 */
static char *
query_blocks(const char *query, BlockNumber first, BlockNumber end)
{
	if (end == InvalidBlockNumber)
		return psprintf("%s WHERE ctid >= '(%u,0)'::pg_catalog.tid", query, first);
	return psprintf("%s WHERE ctid >= '(%u,0)'::pg_catalog.tid AND ctid < '(%u,0)'::pg_catalog.tid",
					query, first, end);
}

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

/*
 * A table of the customers of column "column" of relation relid, each with
 * payload_size bytes for the caller, zeroed when the customer is first
 * seen.  Made in the current memory context, which must outlive the scan
 * (create it before rfm_scan).  function and memory_hint word the error
 * when rfm_segment.max_memory is reached.
 */
RfmCustomers *
rfm_customers_create(Oid relid, const char *column, Size payload_size,
					 const char *function, const char *memory_hint)
{
	RfmCustomers *c = palloc0(sizeof(RfmCustomers));
	Oid			type;
	Oid			collation;
	Oid			output;
	bool		isvarlena;

	type = rfm_column_type(relid, column, "customer_column", &collation);
	init_key_info(&c->key, type, collation, column);
	c->key_type = type;
	getTypeOutputInfo(type, &output, &isvarlena);
	c->key_output = palloc(sizeof(FmgrInfo));
	fmgr_info(output, c->key_output);
	c->payload_size = payload_size;
	c->function = function;
	c->memory_hint = memory_hint;
	c->cxt = AllocSetContextCreate(CurrentMemoryContext, "rfm_segment customers",
								   ALLOCSET_DEFAULT_SIZES);
	c->table = customers_create(c->cxt, INITIAL_CUSTOMERS, &c->key);
	c->capacity = INITIAL_CUSTOMERS;
	c->list = MemoryContextAlloc(c->cxt, c->capacity * sizeof(Customer *));
	return c;
}

/*
 * Stop when the customers hold more than rfm_segment.max_memory: an
 * error, or under a soft limit (rfm_customers_set_soft_limit) false, and
 * the caller reads by states instead.  Payloads that grow row by row
 * (days, periods) are checked here, every so many rows.
 */
bool
rfm_customers_check_memory(RfmCustomers *c)
{
	if (c->soft_limit && !rfm_customers_fit_more(c, 0))
		return false;
	rfm_customers_check_more(c, 0);
	return true;
}

/*
 * Stop when the customers and extra bytes more, which the caller is about
 * to allocate for them elsewhere, would pass rfm_segment.max_memory.
 */
void
rfm_customers_check_more(RfmCustomers *c, Size extra)
{
	rfm_check_memory(MemoryContextMemAllocated(c->cxt, true) + extra, c->function,
					 c->memory_hint);
}

/*
 * A caller that can do without the table (rfm_analyze, which then reads by
 * states) asks that a customer past rfm_segment.max_memory be refused,
 * not an error: rfm_customers_lookup then returns NULL.
 */
void
rfm_customers_set_soft_limit(RfmCustomers *c)
{
	c->soft_limit = true;
}

/*
 * No new customer from now on: rfm_customers_lookup finds the known ones
 * and returns NULL for any other, as past the soft limit.  A caller that
 * sets a new customer's rows aside (analyze.c's spill) must not see that
 * customer made later, when a block happens to have room again.
 */
void
rfm_customers_freeze(RfmCustomers *c)
{
	c->frozen = true;
}

/* whether the customers and extra bytes more stay within max_memory */
bool
rfm_customers_fit_more(const RfmCustomers *c, Size extra)
{
	return (float8) (MemoryContextMemAllocated(c->cxt, true) + extra) <=
		(float8) rfm_max_memory_kb * 1024.0;
}

/* give the customers' memory back (the table is not used after) */
void
rfm_customers_free(RfmCustomers *c)
{
	MemoryContextDelete(c->cxt);
	c->cxt = NULL;
	c->table = NULL;
	c->list = NULL;
	c->null_customer = NULL;
	c->last = NULL;
	c->count = 0;
}

/*
 * The context the customers live in: what a caller allocates there lives
 * as long as they do and counts against rfm_segment.max_memory with them.
 */
MemoryContext
rfm_customers_context(const RfmCustomers *c)
{
	return c->cxt;
}

/*
 * Whether one more customer fits rfm_segment.max_memory: in the current
 * block, or in a new one (the hash table's and the list's growth are
 * counted with the blocks, as new_customer counts them).
 */
static bool
has_room(const RfmCustomers *c)
{
	Size		size = CUSTOMER_HEADER + MAXALIGN(c->payload_size);

	return size <= c->arena_left ||
		rfm_customers_fit_more(c, Max(size, CUSTOMER_BLOCK_SIZE));
}

/* a new customer, its key copied and its payload zeroed */
static Customer *
new_customer(RfmCustomers *c, Datum key, bool isnull)
{
	Size		size = CUSTOMER_HEADER + MAXALIGN(c->payload_size);
	Customer   *customer;

	/*
	 * Carve customers from big blocks: a palloc per customer would round
	 * each request up to the next power of two.
	 */
	if (size > c->arena_left)
	{
		Size		blocksize = Max(size, CUSTOMER_BLOCK_SIZE);

		/* the hash table and the customer list grow in cxt too */
		rfm_check_memory(MemoryContextMemAllocated(c->cxt, true) + blocksize,
						 c->function, c->memory_hint);
		c->arena = MemoryContextAlloc(c->cxt, blocksize);
		c->arena_left = blocksize;
	}
	customer = (Customer *) c->arena;
	c->arena += size;
	c->arena_left -= size;
	memset(customer, 0, size);

	customer->isnull = isnull;
	customer->key = isnull ? (Datum) 0 : key;
	if (!isnull && !c->key.typbyval)
	{
		MemoryContext old = MemoryContextSwitchTo(c->cxt);

		customer->key = datumCopy(key, false, c->key.typlen);
		MemoryContextSwitchTo(old);
	}

	if (c->count == c->capacity)
	{
		c->capacity *= 2;
		c->list = repalloc_huge(c->list, c->capacity * sizeof(Customer *));
	}
	c->list[c->count++] = customer;
	return customer;
}

/*
 * The payload of the customer with this key, made (zeroed) when the
 * customer is new; *found says which.  A varlena key may have a short or
 * compressed header, as it comes from a heap tuple.
 */
void *
rfm_customers_lookup(RfmCustomers *c, Datum key, bool isnull, bool *found)
{
	CustomerEntry *entry;
	bool		room = !c->frozen && (!c->soft_limit || has_room(c));

	if (isnull)
	{
		*found = c->null_customer != NULL;
		if (!*found)
		{
			if (!room)
				return NULL;
			c->null_customer = new_customer(c, (Datum) 0, true);
		}
		return PAYLOAD(c->null_customer);
	}
	if (!c->key.typbyval && c->key.typlen == -1)
		key = PointerGetDatum(pg_detoast_datum_packed((struct varlena *) DatumGetPointer(key)));

	/*
	 * Rows often come a customer at a time (a table clustered or loaded by
	 * customer, a partition per customer range): the last customer is
	 * compared first, which saves the hash and the probe of a table too big
	 * for the CPU's caches.  Only where equality is a comparison of bytes;
	 * a type's own equality function costs as much as the probe.
	 */
	if (c->last != NULL && c->key.kind != KEY_GENERIC &&
		key_equal(&c->key, c->last->key, key))
	{
		*found = true;
		return PAYLOAD(c->last);
	}
	if (!room)
	{
		/* past the soft limit: a known customer only */
		entry = customers_lookup(c->table, key);
		*found = entry != NULL;
		if (entry == NULL)
			return NULL;
	}
	else
	{
		entry = customers_insert(c->table, key, found);
		if (!*found)
		{
			entry->customer = new_customer(c, key, false);
			/* the table must own its key: point it at the copy */
			entry->key = entry->customer->key;
		}
	}
	c->last = entry->customer;
	return PAYLOAD(entry->customer);
}

uint64
rfm_customers_count(const RfmCustomers *c)
{
	return c->count;
}

/* the payload of the i-th customer, in order of first appearance */
void *
rfm_customers_payload(const RfmCustomers *c, uint64 i)
{
	Assert(i < c->count);
	return PAYLOAD(c->list[i]);
}

/*
 * The key of the i-th customer as text, through its type's output.  This
 * runs once per output row, so the output function is looked up once, and
 * bigint and integer keys, the usual ones, are written straight into the
 * text: the same digits int8out and int4out write, without their cstring.
 */
Datum
rfm_customers_key_text(const RfmCustomers *c, uint64 i, bool *isnull)
{
	Customer   *customer = c->list[i];
	char		digits[MAXINT8LEN + 1];

	*isnull = customer->isnull;
	if (customer->isnull)
		return (Datum) 0;
	if (c->key_type == INT8OID)
		return PointerGetDatum(cstring_to_text_with_len(digits,
														pg_lltoa(DatumGetInt64(customer->key), digits)));
	if (c->key_type == INT4OID)
		return PointerGetDatum(cstring_to_text_with_len(digits,
														pg_ltoa(DatumGetInt32(customer->key), digits)));
	return CStringGetTextDatum(OutputFunctionCall(c->key_output, customer->key));
}

/*
 * Sharing the customers among parallel processes (parallel.c): each keeps
 * the customers whose key hashes into its parts of the hash space, a mask
 * of nparts parts (the leader keeps the parts of workers that could not be
 * launched too).  The part is taken from the hash's high bits, as the hash
 * table takes its slot from the low ones: a share still fills every slot.
 * The NULL key is part 0's, the leader's.
 */
void
rfm_customers_set_share(RfmCustomers *c, int nparts, uint64 parts)
{
	Assert(nparts >= 1 && nparts <= 64);
	c->nparts = nparts;
	c->parts = parts;
}

/*
 * The part, of nparts, of the hash space a key falls in: taken from the
 * hash's high bits, as the hash table takes its slot from the low ones.
 * The NULL key is in part 0.
 */
int
rfm_customers_part_of(const RfmCustomers *c, Datum key, bool isnull, int nparts)
{
	if (isnull)
		return 0;
	if (!c->key.typbyval && c->key.typlen == -1)
		key = PointerGetDatum(pg_detoast_datum_packed((struct varlena *) DatumGetPointer(key)));
	return (int) (((uint64) key_hash(&c->key, key) * (uint64) nparts) >> 32);
}

/* the part of the hash space a key falls in, of the processes' nparts */
static int
key_part(const RfmCustomers *c, Datum key, bool isnull)
{
	return rfm_customers_part_of(c, key, isnull, c->nparts);
}

static bool
in_share(const RfmCustomers *c, Datum key, bool isnull)
{
	return (c->parts & (UINT64CONST(1) << key_part(c, key, isnull))) != 0;
}

/* the number of parts and this process's, as rfm_customers_set_share set them */
int
rfm_customers_nparts(const RfmCustomers *c)
{
	return c->nparts;
}

uint64
rfm_customers_parts(const RfmCustomers *c)
{
	return c->parts;
}

/*
 * The part of the i-th customer.  When each process reads its own blocks
 * instead of its own customers (analyze_parallel.c), a process meets
 * customers of every part, and sends each to its part's process.
 */
int
rfm_customers_part(const RfmCustomers *c, uint64 i)
{
	Assert(i < c->count && c->nparts >= 1);
	return key_part(c, c->list[i]->key, c->list[i]->isnull);
}

/*
 * The i-th customer's key, as the table holds it (a copy of a varlena
 * key, in the customers' memory): valid until the table is freed.
 */
Datum
rfm_customers_key(const RfmCustomers *c, uint64 i, bool *isnull)
{
	Customer   *customer = c->list[i];

	Assert(i < c->count);
	*isnull = customer->isnull;
	return customer->key;
}

/*
 * The hash of the i-th customer's key, from which its part is taken (0 for
 * the NULL key, whose part is 0): processes that compare the hashes of
 * their customers find those they met in common.
 */
uint32
rfm_customers_hash(const RfmCustomers *c, uint64 i)
{
	Customer   *customer = c->list[i];

	Assert(i < c->count);
	return customer->isnull ? 0 : key_hash(&c->key, customer->key);
}

/*
 * Remove the customers marked in removed (one flag per customer, in the
 * table's order), which were sent to other processes.  Their memory stays
 * in the blocks until the table is freed.
 */
void
rfm_customers_remove(RfmCustomers *c, const bool *removed)
{
	uint64		kept = 0;

	for (uint64 i = 0; i < c->count; i++)
	{
		Customer   *customer = c->list[i];

		if (!removed[i])
			c->list[kept++] = customer;
		else if (customer->isnull)
			c->null_customer = NULL;
		else
			customers_delete(c->table, customer->key);
	}
	c->count = kept;
	c->last = NULL;
}

/*
 * A customer's key in a message to another process of the same scan: a
 * MAXALIGNed header with its length (-1 for NULL), then the Datum of a
 * by-value type or the bytes of a by-reference one (a varlena with its
 * header as stored), padded to MAXALIGN so that the next field is aligned
 * and the key is read in place.
 */
void
rfm_customers_write_key(const RfmCustomers *c, uint64 i, StringInfo buf)
{
	static const char zeros[MAXIMUM_ALIGNOF] = {0};
	Customer   *customer = c->list[i];
	int32		len;
	const char *data;

	if (customer->isnull)
	{
		len = -1;
		data = NULL;
	}
	else if (c->key.typbyval)
	{
		len = sizeof(Datum);
		data = (const char *) &customer->key;
	}
	else
	{
		data = DatumGetPointer(customer->key);
		len = c->key.typlen == -1 ? (int32) VARSIZE_ANY(data) : c->key.typlen;
	}
	appendBinaryStringInfo(buf, (const char *) &len, sizeof(len));
	appendBinaryStringInfo(buf, zeros, MAXALIGN(sizeof(len)) - sizeof(len));
	if (len > 0)
	{
		appendBinaryStringInfo(buf, data, len);
		appendBinaryStringInfo(buf, zeros, MAXALIGN(len) - len);
	}
}

/* a key written by rfm_customers_write_key, in place; moves *cursor past it */
Datum
rfm_customers_read_key(const RfmCustomers *c, const char **cursor, bool *isnull)
{
	int32		len;
	Datum		key = (Datum) 0;

	memcpy(&len, *cursor, sizeof(len));
	*cursor += MAXALIGN(sizeof(len));
	*isnull = len < 0;
	if (len < 0)
		return (Datum) 0;
	if (c->key.typbyval)
		memcpy(&key, *cursor, sizeof(Datum));
	else
		key = PointerGetDatum(*cursor);
	*cursor += MAXALIGN(len);
	return key;
}
