/*-------------------------------------------------------------------------
 *
 * graph.h
 *	  A weighted undirected graph in compressed sparse rows, built from an
 *	  edge list, and collapsing it by a partition.  Plain C on arrays: no
 *	  SQL here.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_GRAPH_H
#define RFM_GRAPH_H

/*
 * Where a call's graph memory lives, and how it is bounded: every large
 * allocation goes through rfm_graph_alloc, which checks
 * rfm_segment.max_memory against all that cxt holds.
 */
typedef struct RfmGraphMemory
{
	MemoryContext cxt;
	const char *function;		/* for the error message */
	const char *hint;
} RfmGraphMemory;

/* an adjacency entry: a neighbour and the weight of the edge to it */
typedef struct RfmGraphEdge
{
	int32		node;
	float8		weight;
} RfmGraphEdge;

/* what a repeated edge (the same pair in two rows) becomes */
typedef enum RfmGraphMerge
{
	RFM_GRAPH_SUM,				/* the weights add up */
	RFM_GRAPH_ONCE				/* one edge of weight 1 */
} RfmGraphMerge;

typedef struct RfmGraph RfmGraph;

extern void *rfm_graph_alloc(const RfmGraphMemory *mem, Size size);
extern void rfm_graph_check_memory(const RfmGraphMemory *mem, Size more);

extern RfmGraph *rfm_graph_build(const RfmGraphMemory *mem, int32 nnodes,
								 int64 nedges, const int32 *from,
								 const int32 *to, const float8 *weight,
								 RfmGraphMerge merge);
extern RfmGraph *rfm_graph_collapse(const RfmGraphMemory *mem,
									const RfmGraph *g,
									const int32 *membership, int32 ngroups);
extern void rfm_graph_free(RfmGraph *g);

extern int32 rfm_graph_nodes(const RfmGraph *g);
extern int32 rfm_graph_edges(const RfmGraph *g, int32 v,
							 const RfmGraphEdge **edges);
extern float8 rfm_graph_strength(const RfmGraph *g, int32 v);
extern float8 rfm_graph_total(const RfmGraph *g);
extern float8 rfm_graph_mean_weight(const RfmGraph *g);

#endif							/* RFM_GRAPH_H */
