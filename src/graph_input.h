/*-------------------------------------------------------------------------
 *
 * graph_input.h
 *	  Reading a table of edges (or of purchases: customer, item) into a
 *	  graph whose nodes are numbered in the order of their keys, and the
 *	  arguments the graph functions share.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_GRAPH_INPUT_H
#define RFM_GRAPH_INPUT_H

#include "fmgr.h"

#include "graph.h"

/* the two node columns: source and target, or customer and item */
#define RFM_SIDE_FIRST		0
#define RFM_SIDE_SECOND		1

#define RFM_GRAPH_MEMORY_HINT "Pass a source with fewer rows, such as the last year's purchases"

typedef struct RfmGraphSpec
{
	const char *function;		/* for messages */
	const char *memory_hint;
	Oid			relid;
	const char *columns[2];		/* the node columns */
	const char *argnames[2];	/* their arguments, for messages */
	const char *weight_column;	/* NULL: every row weighs 1 */
	bool		bipartite;		/* two kinds of nodes, one per column */
	RfmGraphMerge merge;		/* what repeated pairs become */
} RfmGraphSpec;

typedef struct RfmGraphInput RfmGraphInput;

extern RfmGraphInput *rfm_graph_input_create(const RfmGraphSpec *spec);
extern void rfm_graph_input_mark(RfmGraphInput *in, const char *key);
extern void rfm_graph_input_read(RfmGraphInput *in);

extern const RfmGraphMemory *rfm_graph_input_memory(const RfmGraphInput *in);
extern const RfmGraph *rfm_graph_input_graph(const RfmGraphInput *in);
extern int32 rfm_graph_input_count(const RfmGraphInput *in, int side);
extern bool rfm_graph_input_marked(const RfmGraphInput *in, int32 node);
extern int32 rfm_graph_input_nmarked(const RfmGraphInput *in);
extern Datum rfm_graph_input_key(const RfmGraphInput *in, int32 node);

/* arguments */
extern void rfm_graph_purchases_spec(FunctionCallInfo fcinfo, RfmGraphSpec *spec,
									 const char *function, int source_arg,
									 int customer_arg, int item_arg,
									 int weight_arg);
extern Oid	rfm_graph_relation_arg(FunctionCallInfo fcinfo, int argno,
								   const char *argname);
extern float8 rfm_graph_resolution_arg(FunctionCallInfo fcinfo, int argno);
extern int32 rfm_graph_seed_arg(FunctionCallInfo fcinfo, int argno);
extern int32 rfm_graph_int_arg(FunctionCallInfo fcinfo, int argno,
							   const char *argname, int32 min,
							   const char *hint);

#endif							/* RFM_GRAPH_INPUT_H */
