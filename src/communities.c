/*-------------------------------------------------------------------------
 *
 * communities.c
 *	  Communities of a graph read from a table: rfm_graph_communities on
 *	  an edge list, and rfm_micro_segments on purchases, where customers
 *	  and items are partitioned together on the bipartite graph.
 *
 * graph_input.c reads the table (nodes numbered by key), leiden.c finds
 * the communities; this file reads the arguments and returns the rows.
 * The bipartite graph is used as it is, never projected onto customers: a
 * product bought by 100,000 customers is 100,000 edges, not 5 billion.
 * Memory is graph_input.c's and leiden.c's: for purchases, about 200
 * bytes per customer or item and 32 bytes per distinct (customer, item)
 * pair, plus 8 per row while reading.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "communities.h"
#include "leiden.h"
#include "scan.h"

#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

/* argument positions, the same in both functions */
#define ARG_SOURCE		0
#define ARG_FIRST		1
#define ARG_SECOND		2
#define ARG_WEIGHT		3
#define ARG_RESOLUTION	4
#define ARG_SEED		5

/* a micro-segment's kinds of node */
static const char *const node_kinds[2] = {"customer", "item"};

/*
 * The micro-segments of purchases read by in (a bipartite graph): every
 * node's community, numbered by customers, most first; how many there
 * are in *ncommunities, unless it is NULL.
 */
int32 *
rfm_micro_segment_partition(RfmGraphInput *in, float8 resolution, int32 seed,
							int32 *ncommunities)
{
	const RfmGraphMemory *mem = rfm_graph_input_memory(in);
	const RfmGraph *g = rfm_graph_input_graph(in);
	int32		n = rfm_graph_nodes(g);
	int32		customers = rfm_graph_input_count(in, RFM_SIDE_FIRST);
	int32	   *membership = rfm_graph_alloc(mem, Max(n, 1) * sizeof(int32));
	bool	   *counted = rfm_graph_alloc(mem, Max(n, 1) * sizeof(bool));
	int32		found;

	for (int32 v = 0; v < n; v++)
		counted[v] = v < customers;
	found = rfm_leiden(mem, g, resolution, seed, counted, membership);
	if (ncommunities)
		*ncommunities = found;
	pfree(counted);
	return membership;
}

/*
 * Read, partition, and return one row per node: (kind, key, community)
 * for purchases, (key, community) for an edge list.
 */
static void
communities(FunctionCallInfo fcinfo, const RfmGraphSpec *spec)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	float8		resolution = rfm_graph_resolution_arg(fcinfo, ARG_RESOLUTION);
	int32		seed = rfm_graph_seed_arg(fcinfo, ARG_SEED);
	RfmGraphInput *in = rfm_graph_input_create(spec);
	const RfmGraphMemory *mem;
	const RfmGraph *g;
	int32		n;
	int32		first;
	int32	   *membership;
	MemoryContext row_cxt;

	InitMaterializedSRF(fcinfo, 0);
	rfm_graph_input_read(in);
	mem = rfm_graph_input_memory(in);
	g = rfm_graph_input_graph(in);
	n = rfm_graph_nodes(g);
	first = rfm_graph_input_count(in, RFM_SIDE_FIRST);
	if (spec->bipartite)
		membership = rfm_micro_segment_partition(in, resolution, seed, NULL);
	else
	{
		membership = rfm_graph_alloc(mem, Max(n, 1) * sizeof(int32));
		(void) rfm_leiden(mem, g, resolution, seed, NULL, membership);
	}

	row_cxt = AllocSetContextCreate(CurrentMemoryContext, "rfm_segment community row",
									ALLOCSET_SMALL_SIZES);
	for (int32 v = 0; v < n; v++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};
		int			i = 0;
		MemoryContext old = MemoryContextSwitchTo(row_cxt);

		if (spec->bipartite)
			values[i++] = CStringGetTextDatum(node_kinds[v < first ? RFM_SIDE_FIRST
														 : RFM_SIDE_SECOND]);
		values[i++] = rfm_graph_input_key(in, v);
		values[i++] = Int32GetDatum(membership[v]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		MemoryContextSwitchTo(old);
		MemoryContextReset(row_cxt);
	}
	MemoryContextDelete(row_cxt);
	MemoryContextDelete(mem->cxt);
}

/*
 * rfm_graph_communities(edges, source_column, target_column,
 * weight_column, resolution, seed): the communities of an undirected
 * graph, one row (node, community) per distinct node, communities
 * numbered by size from 0.  Rows are edges; repeated pairs (in either
 * direction) add their weights; a NULL node or weight skips the row (a
 * NOTICE counts them); weight_column NULL weighs every row 1.  No rows,
 * no nodes.
 */
PG_FUNCTION_INFO_V1(rfm_graph_communities);
Datum
rfm_graph_communities(PG_FUNCTION_ARGS)
{
	RfmGraphSpec spec;

	memset(&spec, 0, sizeof(spec));
	spec.function = "rfm_graph_communities";
	spec.memory_hint = RFM_GRAPH_MEMORY_HINT;
	spec.relid = rfm_graph_relation_arg(fcinfo, ARG_SOURCE, "edges");
	spec.argnames[0] = "source_column";
	spec.argnames[1] = "target_column";
	spec.columns[0] = rfm_column_arg(fcinfo, ARG_FIRST, spec.argnames[0], true);
	spec.columns[1] = rfm_column_arg(fcinfo, ARG_SECOND, spec.argnames[1], true);
	spec.weight_column = rfm_column_arg(fcinfo, ARG_WEIGHT, "weight_column", false);
	spec.bipartite = false;
	spec.merge = RFM_GRAPH_SUM;
	communities(fcinfo, &spec);
	return (Datum) 0;
}

/*
 * rfm_micro_segments(source, customer_column, item_column, weight_column,
 * resolution, seed): customers and items partitioned together on the
 * bipartite purchase graph, one row (node_kind, node_key, community) per
 * distinct customer and item; communities numbered by their customers,
 * most first.  Without weight_column a pair bought many times is one
 * edge of weight 1 (what links customers is which products they share,
 * not how often they restock one); with it, the pair's weights add up.
 * Rows with a NULL customer, item or weight are skipped (a NOTICE counts
 * them).  No rows, no segments.
 */
PG_FUNCTION_INFO_V1(rfm_micro_segments);
Datum
rfm_micro_segments(PG_FUNCTION_ARGS)
{
	RfmGraphSpec spec;

	rfm_graph_purchases_spec(fcinfo, &spec, "rfm_micro_segments", ARG_SOURCE,
							 ARG_FIRST, ARG_SECOND, ARG_WEIGHT);
	communities(fcinfo, &spec);
	return (Datum) 0;
}
