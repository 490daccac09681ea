/*-------------------------------------------------------------------------
 *
 * graph_input.c
 *	  Reading a table of edges (source, target) or of purchases (customer,
 *	  item) into a graph, and the arguments the graph functions share.
 *
 * The scan and the key tables are scan.c's: one RfmCustomers table keys
 * the nodes of each column by the column's own values (one table for
 * both columns of an edge list, whose nodes are of one kind; one per
 * column for purchases, whose customers and items are two kinds of node).
 * Each row becomes an edge between the two nodes, of weight 1 or of the
 * weight column.  Rows with a NULL node or a NULL weight are skipped and
 * counted (a NOTICE says how many); a negative or non-finite weight is
 * an error.
 *
 * After the scan every column's nodes are sorted by key, with the type's
 * default ordering and the column's collation, and numbered in that order
 * (in a bipartite graph the second column's nodes follow the first's).
 * Everything random later starts from that order, so the graph and all
 * that is computed from it depend on the set of rows, not on their order.
 *
 * The sort needs each key, which RfmCustomers keeps to itself: each
 * node's payload holds its own copy (the key's bytes again when it is not
 * passed by value).  A key accessor in scan.c would save that copy.
 *
 * Without a weight column a row's only contribution is its pair of nodes
 * (once for purchases, a count for an edge list), so the source may send
 * each distinct pair once with its number of rows: a GROUP BY of the two
 * columns, which postgres_fdw and Citus run where the rows are, chosen by
 * scan.c's rule (rfm_read_by_states: a foreign or distributed source, or
 * rfm_segment.scan = states).  The graph is the same either way, since it
 * depends on the set of pairs and their counts, not on the rows' order.
 *
 * Memory, all counted against rfm_segment.max_memory: about 110 bytes per
 * node (the hash table and record of scan.c, a 16-byte payload, the two
 * numberings), plus the key's bytes twice when it is not passed by value;
 * 8 bytes per row while reading (16 with a weight column, or per distinct
 * pair when grouped), then the graph (graph.c: 32 bytes per distinct pair
 * of nodes and 24 per node).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "graph_input.h"
#include "scan.h"

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/sortsupport.h"
#include "utils/typcache.h"

/* the scanned columns */
#define COL_FIRST		0
#define COL_SECOND		1
#define COL_WEIGHT		2

/* the edge list starts with room for this many rows, then doubles */
#define INITIAL_EDGES	1024

/* the key tables grow in small steps: memory is checked this often */
#define MEMORY_CHECK_ROWS	65536

/*
 * What a node costs, for the choice of the grouped read: hash entry, key
 * and payload, numberings, and an edge or two
 */
#define BYTES_PER_NODE		130

/* a node's payload in its RfmCustomers table */
typedef struct NodeEntry
{
	Datum		key;			/* a copy the sort can read */
	int32		id;				/* order of first appearance */
	bool		marked;			/* named before the scan */
} NodeEntry;

/* the nodes of one column */
typedef struct NodeSet
{
	RfmCustomers *table;
	Oid			type;
	int32		typmod;
	Oid			collation;
	int16		typlen;
	bool		typbyval;
	int32		count;
	int32	   *by_key;			/* first-appearance ids in key order */
	int32	   *rank;			/* first-appearance id -> position in key order */
} NodeSet;

struct RfmGraphInput
{
	RfmGraphSpec spec;
	RfmGraphMemory mem;
	int			nsets;			/* 2 for a bipartite graph, else 1 */
	NodeSet		sets[2];
	int32		nmarked;
	/* the edges, by first-appearance ids, while reading */
	int64		nedges;
	int64		capacity;
	int32	   *from;
	int32	   *to;
	float8	   *weight;			/* NULL without a weight column or counts */
	bool		counted;		/* grouped pairs weigh their number of rows */
	uint64		rows;
	uint64		skipped;
	/* after reading */
	RfmGraph   *graph;
};

/* the set that holds the nodes of a column */
static inline NodeSet *
set_of(RfmGraphInput *in, int side)
{
	return &in->sets[in->nsets == 2 ? side : 0];
}

/* a node column's type: it must have a hash opclass and an ordering */
static void
read_key_type(const RfmGraphSpec *spec, int side, NodeSet *set)
{
	const char *column = spec->columns[side];
	AttrNumber	attnum;
	TypeCacheEntry *tce;

	set->type = rfm_column_type(spec->relid, column, spec->argnames[side],
								&set->collation);
	attnum = get_attnum(spec->relid, column);
	get_atttypetypmodcoll(spec->relid, attnum, &set->type, &set->typmod,
						  &set->collation);
	get_typlenbyval(set->type, &set->typlen, &set->typbyval);
	tce = lookup_type_cache(set->type, TYPECACHE_LT_OPR | TYPECACHE_HASH_PROC);
	if (!OidIsValid(tce->lt_opr) || !OidIsValid(tce->hash_proc))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s \"%s\" has type %s, which cannot be both hashed and sorted",
						spec->argnames[side], column, format_type_be(set->type)),
				 errhint("Pass a column of type bigint, integer, text or uuid, or a view that casts it.")));
}

/*
 * Check the columns and make the key tables, in a memory context of the
 * call's own that every allocation of the graph functions is counted in.
 */
RfmGraphInput *
rfm_graph_input_create(const RfmGraphSpec *spec)
{
	RfmGraphInput *in = palloc0(sizeof(RfmGraphInput));
	MemoryContext old;

	in->spec = *spec;
	in->nsets = spec->bipartite ? 2 : 1;
	read_key_type(spec, RFM_SIDE_FIRST, &in->sets[0]);
	if (spec->bipartite)
		read_key_type(spec, RFM_SIDE_SECOND, &in->sets[1]);
	else
	{
		NodeSet		second;

		read_key_type(spec, RFM_SIDE_SECOND, &second);
		if (second.type != in->sets[0].type)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("%s \"%s\" has type %s, not %s as %s \"%s\"",
							spec->argnames[1], spec->columns[1],
							format_type_be(second.type),
							format_type_be(in->sets[0].type),
							spec->argnames[0], spec->columns[0]),
					 errhint("Both ends of an edge are nodes of one kind: cast one column in a view.")));
	}
	rfm_check_number_column(spec->relid, spec->weight_column, "weight_column");

	in->mem.cxt = AllocSetContextCreate(CurrentMemoryContext, "rfm_segment graph",
										ALLOCSET_DEFAULT_SIZES);
	in->mem.function = spec->function;
	in->mem.hint = spec->memory_hint;
	old = MemoryContextSwitchTo(in->mem.cxt);
	for (int s = 0; s < in->nsets; s++)
		in->sets[s].table = rfm_customers_create(spec->relid, spec->columns[s],
												 sizeof(NodeEntry), spec->function,
												 spec->memory_hint);
	MemoryContextSwitchTo(old);
	return in;
}

/* the node of a key, made when it is new */
static NodeEntry *
lookup_node(RfmGraphInput *in, NodeSet *set, Datum key)
{
	bool		found;
	NodeEntry  *node = rfm_customers_lookup(set->table, key, false, &found);

	if (found)
		return node;
	if (set->count == PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s supports at most %d nodes per column", in->spec.function,
						PG_INT32_MAX)));
	node->id = set->count++;
	if (set->typbyval)
		node->key = key;
	else
	{
		MemoryContext old = MemoryContextSwitchTo(rfm_customers_context(set->table));

		if (set->typlen == -1)
			key = PointerGetDatum(PG_DETOAST_DATUM_PACKED(key));
		node->key = datumCopy(key, false, set->typlen);
		MemoryContextSwitchTo(old);
	}
	return node;
}

/*
 * Name a node of the first column before the scan (a look-alike's seed
 * customers), as text in the column's input syntax.  It becomes a node
 * even when no row has it: then it has no edges.
 */
void
rfm_graph_input_mark(RfmGraphInput *in, const char *key)
{
	NodeSet    *set = set_of(in, RFM_SIDE_FIRST);
	Oid			input;
	Oid			ioparam;
	NodeEntry  *node;

	Assert(in->graph == NULL);
	getTypeInputInfo(set->type, &input, &ioparam);
	node = lookup_node(in, set, OidInputFunctionCall(input, (char *) key, ioparam,
													 set->typmod));
	if (!node->marked)
		in->nmarked++;
	node->marked = true;
}

/* room for one more edge */
static void
reserve_edge(RfmGraphInput *in)
{
	bool		weighted = in->spec.weight_column != NULL || in->counted;
	Size		per_edge = 2 * sizeof(int32) + (weighted ? sizeof(float8) : 0);

	if (in->nedges < in->capacity)
		return;
	in->capacity = in->capacity == 0 ? INITIAL_EDGES : in->capacity * 2;
	rfm_graph_check_memory(&in->mem, (in->capacity - in->nedges) * per_edge);
	if (in->from == NULL)
	{
		in->from = MemoryContextAllocHuge(in->mem.cxt, in->capacity * sizeof(int32));
		in->to = MemoryContextAllocHuge(in->mem.cxt, in->capacity * sizeof(int32));
		if (weighted)
			in->weight = MemoryContextAllocHuge(in->mem.cxt, in->capacity * sizeof(float8));
		return;
	}
	in->from = repalloc_huge(in->from, in->capacity * sizeof(int32));
	in->to = repalloc_huge(in->to, in->capacity * sizeof(int32));
	if (in->weight)
		in->weight = repalloc_huge(in->weight, in->capacity * sizeof(float8));
}

/* the edge of a row's two nodes (made when new), of weight w when kept */
static void
add_edge(RfmGraphInput *in, TupleTableSlot *slot, float8 w)
{
	NodeEntry  *a = lookup_node(in, set_of(in, RFM_SIDE_FIRST), slot->tts_values[COL_FIRST]);
	NodeEntry  *b = lookup_node(in, set_of(in, RFM_SIDE_SECOND), slot->tts_values[COL_SECOND]);

	reserve_edge(in);
	in->from[in->nedges] = a->id;
	in->to[in->nedges] = b->id;
	if (in->weight)
		in->weight[in->nedges] = w;
	in->nedges++;
}

/* one scanned row: (first, second[, weight]) */
static void
input_row(TupleTableSlot *slot, void *arg)
{
	RfmGraphInput *in = (RfmGraphInput *) arg;
	float8		w = 1.0;

	if (++in->rows % MEMORY_CHECK_ROWS == 0)
		rfm_graph_check_memory(&in->mem, 0);
	if (slot->tts_isnull[COL_FIRST] || slot->tts_isnull[COL_SECOND] ||
		(in->spec.weight_column && slot->tts_isnull[COL_WEIGHT]))
	{
		in->skipped++;
		return;
	}
	if (in->spec.weight_column)
	{
		w = DatumGetFloat8(slot->tts_values[COL_WEIGHT]);
		if (isnan(w) || isinf(w) || w < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("weight must be a finite number of at least 0, not %g", w),
					 errhint("Leave such rows out with a view or a WHERE clause, or pass NULL weights to skip them.")));
	}
	add_edge(in, slot, w);
}

/* one grouped row: (first, second, its number of rows) */
static void
grouped_row(TupleTableSlot *slot, void *arg)
{
	RfmGraphInput *in = (RfmGraphInput *) arg;
	int64		rows = DatumGetInt64(slot->tts_values[COL_WEIGHT]);

	if (++in->rows % MEMORY_CHECK_ROWS == 0)
		rfm_graph_check_memory(&in->mem, 0);
	if (slot->tts_isnull[COL_FIRST] || slot->tts_isnull[COL_SECOND])
	{
		in->skipped += rows;
		return;
	}
	add_edge(in, slot, (float8) rows);
}

/* sort a column's nodes by key: by_key and rank */
static int
key_cmp(const void *a, const void *b, void *arg)
{
	SortSupport ssup = (SortSupport) arg;
	const NodeEntry *x = *(NodeEntry *const *) a;
	const NodeEntry *y = *(NodeEntry *const *) b;

	return ApplySortComparator(x->key, false, y->key, false, ssup);
}

static void
order_by_key(RfmGraphInput *in, NodeSet *set)
{
	TypeCacheEntry *tce = lookup_type_cache(set->type, TYPECACHE_LT_OPR);
	SortSupportData ssup;
	NodeEntry **nodes;

	nodes = rfm_graph_alloc(&in->mem, Max(set->count, 1) * sizeof(NodeEntry *));
	for (int32 i = 0; i < set->count; i++)
		nodes[i] = rfm_customers_payload(set->table, i);
	memset(&ssup, 0, sizeof(ssup));
	ssup.ssup_cxt = CurrentMemoryContext;
	ssup.ssup_collation = set->collation;
	ssup.ssup_nulls_first = false;
	PrepareSortSupportFromOrderingOp(tce->lt_opr, &ssup);
	qsort_arg(nodes, set->count, sizeof(NodeEntry *), key_cmp, &ssup);

	set->by_key = rfm_graph_alloc(&in->mem, Max(set->count, 1) * sizeof(int32));
	set->rank = rfm_graph_alloc(&in->mem, Max(set->count, 1) * sizeof(int32));
	for (int32 i = 0; i < set->count; i++)
	{
		set->by_key[i] = nodes[i]->id;
		set->rank[nodes[i]->id] = i;
	}
	pfree(nodes);
}

/* the NOTICE for skipped rows, naming the columns that may be NULL */
static void
report_skipped(const RfmGraphInput *in)
{
	const RfmGraphSpec *spec = &in->spec;
	StringInfoData columns;

	if (in->skipped == 0)
		return;
	initStringInfo(&columns);
	if (spec->weight_column)
		appendStringInfo(&columns, "%s, %s or %s", quote_identifier(spec->columns[0]),
						 quote_identifier(spec->columns[1]),
						 quote_identifier(spec->weight_column));
	else
		appendStringInfo(&columns, "%s or %s", quote_identifier(spec->columns[0]),
						 quote_identifier(spec->columns[1]));
	ereport(NOTICE,
			(errmsg("%s skipped %llu rows where %s is NULL", spec->function,
					(unsigned long long) in->skipped, columns.data)));
}

/*
 * Scan the source as the caller, number the nodes by key and build the
 * graph.
 */
void
rfm_graph_input_read(RfmGraphInput *in)
{
	const RfmGraphSpec *spec = &in->spec;
	StringInfoData query;
	int32		offset;
	int32		nnodes;

	initStringInfo(&query);
	appendStringInfo(&query, "SELECT %s, %s", quote_identifier(spec->columns[0]),
					 quote_identifier(spec->columns[1]));
	if (spec->weight_column == NULL &&
		rfm_read_by_states(spec->relid, spec->columns[0], BYTES_PER_NODE))
	{
		/* each distinct pair once, counted where the rows are */
		in->counted = spec->merge == RFM_GRAPH_SUM;
		appendStringInfo(&query, ", pg_catalog.count(*) FROM %s GROUP BY 1, 2",
						 rfm_relation_name(spec->relid));
		ereport(DEBUG1,
				(errmsg_internal("rfm_segment states query: %s", query.data)));
		(void) rfm_scan_states(spec->relid, query.data, 0, NULL, NULL, grouped_row, in);
	}
	else
	{
		if (spec->weight_column)
			appendStringInfo(&query, ", %s::pg_catalog.float8",
							 quote_identifier(spec->weight_column));
		appendStringInfo(&query, " FROM %s", rfm_relation_name(spec->relid));
		(void) rfm_scan(query.data, input_row, in);
	}
	report_skipped(in);

	for (int s = 0; s < in->nsets; s++)
		order_by_key(in, &in->sets[s]);
	offset = in->nsets == 2 ? in->sets[0].count : 0;
	if ((int64) offset + set_of(in, RFM_SIDE_SECOND)->count > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s supports at most %d nodes", spec->function, PG_INT32_MAX)));
	nnodes = offset + set_of(in, RFM_SIDE_SECOND)->count;

	/* first-appearance ids to node numbers, in place */
	for (int64 i = 0; i < in->nedges; i++)
	{
		in->from[i] = set_of(in, RFM_SIDE_FIRST)->rank[in->from[i]];
		in->to[i] = offset + set_of(in, RFM_SIDE_SECOND)->rank[in->to[i]];
	}
	in->graph = rfm_graph_build(&in->mem, nnodes, in->nedges, in->from, in->to,
								in->weight, spec->merge);
	if (in->from)
	{
		pfree(in->from);
		pfree(in->to);
		if (in->weight)
			pfree(in->weight);
		in->from = in->to = NULL;
		in->weight = NULL;
	}
}

const RfmGraphMemory *
rfm_graph_input_memory(const RfmGraphInput *in)
{
	return &in->mem;
}

const RfmGraph *
rfm_graph_input_graph(const RfmGraphInput *in)
{
	Assert(in->graph != NULL);
	return in->graph;
}

/*
 * The nodes of a column.  In a bipartite graph the first column's are
 * nodes 0..count(first)-1 and the second's follow; otherwise both columns
 * share nodes 0..count-1.
 */
int32
rfm_graph_input_count(const RfmGraphInput *in, int side)
{
	return in->sets[in->nsets == 2 ? side : 0].count;
}

/* the set and first-appearance id of a node number */
static const NodeSet *
locate(const RfmGraphInput *in, int32 node, int32 *id)
{
	const NodeSet *set = &in->sets[0];

	if (in->nsets == 2 && node >= in->sets[0].count)
	{
		node -= in->sets[0].count;
		set = &in->sets[1];
	}
	*id = set->by_key[node];
	return set;
}

/* whether rfm_graph_input_mark named the node */
bool
rfm_graph_input_marked(const RfmGraphInput *in, int32 node)
{
	int32		id;
	const NodeSet *set = locate(in, node, &id);

	return ((NodeEntry *) rfm_customers_payload(set->table, id))->marked;
}

/* how many distinct nodes rfm_graph_input_mark named */
int32
rfm_graph_input_nmarked(const RfmGraphInput *in)
{
	return in->nmarked;
}

/* a node's key as text, through its type's output function */
Datum
rfm_graph_input_key(const RfmGraphInput *in, int32 node)
{
	int32		id;
	const NodeSet *set = locate(in, node, &id);
	bool		isnull;

	return rfm_customers_key_text(set->table, id, &isnull);
}

/*
 * The purchases a function reads, from its arguments source,
 * customer_column, item_column and weight_column (at the positions
 * given): customers and items are two kinds of node, and without a
 * weight column a pair bought many times is one edge of weight 1.
 */
void
rfm_graph_purchases_spec(FunctionCallInfo fcinfo, RfmGraphSpec *spec,
						 const char *function, int source_arg,
						 int customer_arg, int item_arg, int weight_arg)
{
	memset(spec, 0, sizeof(RfmGraphSpec));
	spec->function = function;
	spec->memory_hint = RFM_GRAPH_MEMORY_HINT;
	spec->relid = rfm_source_arg(fcinfo, source_arg);
	spec->argnames[0] = "customer_column";
	spec->argnames[1] = "item_column";
	spec->columns[0] = rfm_column_arg(fcinfo, customer_arg, spec->argnames[0], true);
	spec->columns[1] = rfm_column_arg(fcinfo, item_arg, spec->argnames[1], true);
	spec->weight_column = rfm_column_arg(fcinfo, weight_arg, "weight_column", false);
	spec->bipartite = true;
	spec->merge = spec->weight_column ? RFM_GRAPH_SUM : RFM_GRAPH_ONCE;
}

/*
 * A table argument other than rfm_source_arg's "source" (rfm_graph_
 * communities takes "edges"): the same checks, with its own name in the
 * message when it is NULL.
 */
Oid
rfm_graph_relation_arg(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", argname),
				 errhint("Pass a table or view, such as 'orders'::regclass.")));
	return rfm_source_arg(fcinfo, argno);
}

/* the resolution: a positive, finite number */
float8
rfm_graph_resolution_arg(FunctionCallInfo fcinfo, int argno)
{
	float8		resolution;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("resolution must not be NULL"),
				 errhint("Pass 1.0 for modularity as usually defined.")));
	resolution = PG_GETARG_FLOAT8(argno);
	if (!(resolution > 0) || isinf(resolution))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("resolution must be a positive finite number, not %g", resolution),
				 errhint("Pass 1.0 for modularity as usually defined; larger values give smaller communities.")));
	return resolution;
}

/* the seed of the random choices: any integer */
int32
rfm_graph_seed_arg(FunctionCallInfo fcinfo, int argno)
{
	return rfm_graph_int_arg(fcinfo, argno, "seed", PG_INT32_MIN,
							 "Pass any integer, such as 0: one seed gives one partition.");
}

/* an integer argument that must not be NULL, and at least min */
int32
rfm_graph_int_arg(FunctionCallInfo fcinfo, int argno, const char *argname,
				  int32 min, const char *hint)
{
	int32		value;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", argname),
				 errhint("%s", hint)));
	value = PG_GETARG_INT32(argno);
	if (value < min)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be at least %d, not %d", argname, min, value),
				 errhint("%s", hint)));
	return value;
}
