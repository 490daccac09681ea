/*-------------------------------------------------------------------------
 *
 * graph.c
 *	  A weighted undirected graph in compressed sparse rows (CSR), built
 *	  from an edge list, and collapsing it by a partition (the aggregation
 *	  step of Louvain and Leiden).
 *
 * Nodes are 0..n-1.  Each node's neighbours are sorted by node number,
 * repeated edges merged, and every sum (a merged weight, a node's
 * strength, the total) is taken in that fixed order, with repeated
 * weights of one pair sorted first: the graph, to the last bit, depends
 * only on the set of edges, never on the order they came in.
 *
 * In the adjacency matrix A, an edge {u, v} of weight w sets A[u][v] =
 * A[v][u] = w, and a self-loop of weight w sets A[v][v] = 2w (it adds 2w
 * to v's strength, as in networkx and igraph).  A node's strength is the
 * sum of its row, and the total, 2m, the sum of all strengths.
 *
 * Memory: 16 bytes per adjacency entry (two per edge, one per self-loop)
 * and 24 bytes per node; building needs 16 bytes per row of the edge list
 * before repeats are merged, and 8 more per node.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "graph.h"
#include "guc.h"

#include "miscadmin.h"
#include "utils/memutils.h"

/* interrupts are checked once per this many nodes or entries */
#define GRAPH_INTERRUPT_EVERY	4096

struct RfmGraph
{
	int32		nnodes;
	int64		nentries;		/* adjacency entries, self-loops excluded */
	int64	   *offsets;		/* nnodes + 1; node v's entries start here */
	RfmGraphEdge *entries;
	float8	   *self;			/* A[v][v] */
	float8	   *strength;		/* the sum of row v of A */
	float8		total;			/* 2m: the sum of all strengths */
	float8		mean_weight;	/* of the entries (1 without any) */
};

/* stop when the call would hold more than rfm_segment.max_memory */
void
rfm_graph_check_memory(const RfmGraphMemory *mem, Size more)
{
	rfm_check_memory(MemoryContextMemAllocated(mem->cxt, true) + more,
					 mem->function, mem->hint);
}

/* a checked allocation in the call's graph memory */
void *
rfm_graph_alloc(const RfmGraphMemory *mem, Size size)
{
	rfm_graph_check_memory(mem, size);
	return MemoryContextAllocHuge(mem->cxt, Max(size, 1));
}

/* ascending int32 */
static int
int32_cmp(const void *a, const void *b)
{
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/* order of entries: by node, then by weight (so sums are reproducible) */
static int
entry_cmp(const void *a, const void *b)
{
	const RfmGraphEdge *x = (const RfmGraphEdge *) a;
	const RfmGraphEdge *y = (const RfmGraphEdge *) b;

	if (x->node != y->node)
		return x->node < y->node ? -1 : 1;
	if (x->weight != y->weight)
		return x->weight < y->weight ? -1 : 1;
	return 0;
}

static RfmGraph *
new_graph(const RfmGraphMemory *mem, int32 nnodes)
{
	RfmGraph   *g = rfm_graph_alloc(mem, sizeof(RfmGraph));

	memset(g, 0, sizeof(RfmGraph));
	g->nnodes = nnodes;
	g->offsets = rfm_graph_alloc(mem, (nnodes + 1) * sizeof(int64));
	g->self = rfm_graph_alloc(mem, Max(nnodes, 1) * sizeof(float8));
	g->strength = rfm_graph_alloc(mem, Max(nnodes, 1) * sizeof(float8));
	return g;
}

/* strengths, the total and the mean weight, summed in node order */
static void
finish_graph(RfmGraph *g)
{
	float8		entry_sum = 0;

	g->total = 0;
	for (int32 v = 0; v < g->nnodes; v++)
	{
		float8		k = 0;

		for (int64 e = g->offsets[v]; e < g->offsets[v + 1]; e++)
			k += g->entries[e].weight;
		entry_sum += k;
		k += g->self[v];
		g->strength[v] = k;
		g->total += k;
	}
	g->mean_weight = g->nentries > 0 ? entry_sum / g->nentries : 1.0;
}

/*
 * The graph of nnodes nodes and nedges undirected edges from[i]--to[i],
 * of weight weight[i] (1 when weight is NULL; each at least 0).  Repeated
 * pairs are merged as merge says; edges whose merged weight is 0 are left
 * out, their nodes kept.
 */
RfmGraph *
rfm_graph_build(const RfmGraphMemory *mem, int32 nnodes, int64 nedges,
				const int32 *from, const int32 *to, const float8 *weight,
				RfmGraphMerge merge)
{
	RfmGraph   *g = new_graph(mem, nnodes);
	int64	   *fill;
	int64		nraw = 0;
	int64		out = 0;

	/* each edge is an entry of both ends; a self-loop one entry */
	memset(g->offsets, 0, (nnodes + 1) * sizeof(int64));
	for (int64 i = 0; i < nedges; i++)
	{
		g->offsets[from[i] + 1]++;
		if (to[i] != from[i])
			g->offsets[to[i] + 1]++;
	}
	for (int32 v = 0; v < nnodes; v++)
		g->offsets[v + 1] += g->offsets[v];
	nraw = g->offsets[nnodes];

	g->entries = rfm_graph_alloc(mem, nraw * sizeof(RfmGraphEdge));
	fill = rfm_graph_alloc(mem, Max(nnodes, 1) * sizeof(int64));
	memcpy(fill, g->offsets, nnodes * sizeof(int64));
	for (int64 i = 0; i < nedges; i++)
	{
		float8		w = weight ? weight[i] : 1.0;

		if ((i % GRAPH_INTERRUPT_EVERY) == 0)
			CHECK_FOR_INTERRUPTS();
		g->entries[fill[from[i]]].node = to[i];
		g->entries[fill[from[i]]++].weight = w;
		if (to[i] != from[i])
		{
			g->entries[fill[to[i]]].node = from[i];
			g->entries[fill[to[i]]++].weight = w;
		}
	}
	pfree(fill);

	/* sort each node's entries, merge repeats, compact to the left */
	for (int32 v = 0; v < nnodes; v++)
	{
		int64		start = g->offsets[v];
		int64		end = g->offsets[v + 1];

		if ((v % GRAPH_INTERRUPT_EVERY) == 0)
			CHECK_FOR_INTERRUPTS();
		g->offsets[v] = out;
		g->self[v] = 0;
		if (end - start > 1)
			qsort(g->entries + start, end - start, sizeof(RfmGraphEdge), entry_cmp);
		for (int64 e = start; e < end;)
		{
			int32		u = g->entries[e].node;
			float8		w = 0;

			for (; e < end && g->entries[e].node == u; e++)
				w += g->entries[e].weight;
			if (merge == RFM_GRAPH_ONCE)
				w = 1.0;
			if (w <= 0)
				continue;
			if (u == v)
				g->self[v] = 2 * w;
			else
			{
				g->entries[out].node = u;
				g->entries[out].weight = w;
				out++;
			}
		}
	}
	g->offsets[nnodes] = out;
	g->nentries = out;
	if (out < nraw)
		g->entries = repalloc_huge(g->entries, Max(out, 1) * sizeof(RfmGraphEdge));
	finish_graph(g);
	return g;
}

/*
 * The graph whose nodes are the groups of a partition of g (membership[v]
 * in 0..ngroups-1): the weight between two groups is the sum of the
 * weights between their members, and a group's self weight A[c][c] the
 * sum of A[u][v] over its members u and v, so strengths and the total are
 * those of g.  Two passes over g (count, then fill) keep the memory exact.
 */
RfmGraph *
rfm_graph_collapse(const RfmGraphMemory *mem, const RfmGraph *g,
				   const int32 *membership, int32 ngroups)
{
	RfmGraph   *c = new_graph(mem, ngroups);
	int64	   *start;			/* members of each group, in node order */
	int32	   *members;
	float8	   *acc;
	int32	   *stamp;
	int32	   *touched;

	start = rfm_graph_alloc(mem, (ngroups + 1) * sizeof(int64));
	members = rfm_graph_alloc(mem, Max(g->nnodes, 1) * sizeof(int32));
	acc = rfm_graph_alloc(mem, Max(ngroups, 1) * sizeof(float8));
	stamp = rfm_graph_alloc(mem, Max(ngroups, 1) * sizeof(int32));
	touched = rfm_graph_alloc(mem, Max(ngroups, 1) * sizeof(int32));

	memset(start, 0, (ngroups + 1) * sizeof(int64));
	for (int32 v = 0; v < g->nnodes; v++)
		start[membership[v] + 1]++;
	for (int32 k = 0; k < ngroups; k++)
		start[k + 1] += start[k];
	{
		int64	   *fill = rfm_graph_alloc(mem, Max(ngroups, 1) * sizeof(int64));

		memcpy(fill, start, ngroups * sizeof(int64));
		for (int32 v = 0; v < g->nnodes; v++)
			members[fill[membership[v]]++] = v;
		pfree(fill);
	}
	for (int32 k = 0; k < ngroups; k++)
		stamp[k] = -1;

	/* pass 0 counts each group's neighbour groups, pass 1 fills them */
	for (int pass = 0; pass < 2; pass++)
	{
		int64		out = 0;

		if (pass == 1)
		{
			c->entries = rfm_graph_alloc(mem, Max(c->nentries, 1) * sizeof(RfmGraphEdge));
			for (int32 k = 0; k < ngroups; k++)
				stamp[k] = -1;
		}
		for (int32 k = 0; k < ngroups; k++)
		{
			int32		ntouched = 0;
			float8		self = 0;

			if ((k % GRAPH_INTERRUPT_EVERY) == 0)
				CHECK_FOR_INTERRUPTS();
			c->offsets[k] = out;
			for (int64 m = start[k]; m < start[k + 1]; m++)
			{
				int32		v = members[m];

				self += g->self[v];
				for (int64 e = g->offsets[v]; e < g->offsets[v + 1]; e++)
				{
					int32		other = membership[g->entries[e].node];

					if (other == k)
					{
						self += g->entries[e].weight;
						continue;
					}
					if (stamp[other] != k)
					{
						stamp[other] = k;
						acc[other] = 0;
						touched[ntouched++] = other;
					}
					acc[other] += g->entries[e].weight;
				}
			}
			if (pass == 1)
			{
				c->self[k] = self;
				qsort(touched, ntouched, sizeof(int32), int32_cmp);
				for (int32 t = 0; t < ntouched; t++)
				{
					c->entries[out + t].node = touched[t];
					c->entries[out + t].weight = acc[touched[t]];
				}
			}
			out += ntouched;
		}
		c->offsets[ngroups] = out;
		c->nentries = out;
	}
	pfree(start);
	pfree(members);
	pfree(acc);
	pfree(stamp);
	pfree(touched);
	finish_graph(c);
	return c;
}

void
rfm_graph_free(RfmGraph *g)
{
	pfree(g->offsets);
	pfree(g->entries);
	pfree(g->self);
	pfree(g->strength);
	pfree(g);
}

int32
rfm_graph_nodes(const RfmGraph *g)
{
	return g->nnodes;
}

/* node v's neighbours, sorted by node number; returns how many */
int32
rfm_graph_edges(const RfmGraph *g, int32 v, const RfmGraphEdge **edges)
{
	*edges = g->entries + g->offsets[v];
	return (int32) (g->offsets[v + 1] - g->offsets[v]);
}

float8
rfm_graph_strength(const RfmGraph *g, int32 v)
{
	return g->strength[v];
}

float8
rfm_graph_total(const RfmGraph *g)
{
	return g->total;
}

float8
rfm_graph_mean_weight(const RfmGraph *g)
{
	return g->mean_weight;
}
