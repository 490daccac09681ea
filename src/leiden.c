/*-------------------------------------------------------------------------
 *
 * leiden.c
 *	  Community detection by the Leiden algorithm (Traag, Waltman and van
 *	  Eck, "From Louvain to Leiden: guaranteeing well-connected
 *	  communities", Scientific Reports 9, 5233, 2019), maximizing
 *	  modularity with a resolution gamma:
 *
 *		Q = 1/2m * sum over u, v in one community of
 *				(A[u][v] - gamma * k(u) k(v) / 2m)
 *
 * Each iteration runs, level by level:
 *	 1. fast local moving: nodes, from a queue in random order, move to the
 *		neighbouring community that raises Q most (or to an empty one);
 *		only the neighbours of a moved node are queued again;
 *	 2. refinement: inside each community, from singletons, a node that is
 *		well connected to its community may join a well-connected
 *		subcommunity, chosen at random with probability proportional to
 *		exp(gain / theta) among the moves that do not lower Q; this is what
 *		guarantees connected communities, which Louvain does not;
 *	 3. aggregation: the graph of the refined subcommunities, starting from
 *		the communities of step 1.
 * until every community is one node.  Iterations start from the previous
 * partition and repeat until one changes nothing (at most
 * LEIDEN_MAX_ITERATIONS): Q never decreases from one to the next.
 *
 * Determinism: the caller numbers nodes in a canonical order (sorted by
 * key), every random choice comes from pg_prng seeded with the seed, and
 * every sum runs in node order, so a graph and a seed give one partition
 * on any plan.  Communities are numbered by size: 0 is the one with the
 * most counted nodes (customers, say), then the most nodes, then the
 * smallest node number.
 *
 * Memory: about 90 bytes per node of working arrays at the first level,
 * and the aggregated graphs (graph.c: at most the input's entries, and in
 * practice far fewer).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "leiden.h"

#include "common/pg_prng.h"
#include "miscadmin.h"

/* iterations of the whole algorithm, each from the previous partition */
#define LEIDEN_MAX_ITERATIONS	10

/*
 * Randomness of the refinement, in units of the graph's mean edge weight
 * (igraph and leidenalg use 0.01 in units of weight; relative here, so
 * scaling every weight leaves the partition alone).
 */
#define LEIDEN_THETA			0.01

/*
 * A move must gain more than this, relative to the node's strength: gains
 * that differ only by rounding are ties, and ties keep the node where it
 * is, so no rounding can make nodes move back and forth.
 */
#define LEIDEN_EPSILON			1e-12

typedef struct Leiden
{
	const RfmGraphMemory *mem;
	float8		resolution;
	float8		theta;
	pg_prng_state rng;
} Leiden;

/* neighbour-community sums of one node: touched entries are reset after */
typedef struct Accumulator
{
	float8	   *sum;
	bool	   *seen;
	int32	   *touched;
	int32		ntouched;
} Accumulator;

static void
accumulator_init(const Leiden *L, Accumulator *a, int32 n)
{
	a->sum = rfm_graph_alloc(L->mem, Max(n, 1) * sizeof(float8));
	a->seen = rfm_graph_alloc(L->mem, Max(n, 1) * sizeof(bool));
	a->touched = rfm_graph_alloc(L->mem, Max(n, 1) * sizeof(int32));
	memset(a->seen, 0, n * sizeof(bool));
	a->ntouched = 0;
}

static inline void
accumulate(Accumulator *a, int32 c, float8 w)
{
	if (!a->seen[c])
	{
		a->seen[c] = true;
		a->sum[c] = 0;
		a->touched[a->ntouched++] = c;
	}
	a->sum[c] += w;
}

static inline float8
accumulated(const Accumulator *a, int32 c)
{
	return a->seen[c] ? a->sum[c] : 0;
}

static void
accumulator_reset(Accumulator *a)
{
	for (int32 t = 0; t < a->ntouched; t++)
		a->seen[a->touched[t]] = false;
	a->ntouched = 0;
}

static void
accumulator_free(Accumulator *a)
{
	pfree(a->sum);
	pfree(a->seen);
	pfree(a->touched);
}

/* 0..n-1 in random order (Fisher-Yates) */
static int32 *
random_order(Leiden *L, int32 n)
{
	int32	   *order = rfm_graph_alloc(L->mem, Max(n, 1) * sizeof(int32));

	for (int32 i = 0; i < n; i++)
		order[i] = i;
	for (int32 i = n - 1; i > 0; i--)
	{
		int32		j = (int32) pg_prng_uint64_range(&L->rng, 0, i);
		int32		t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	return order;
}

/*
 * Renumber a partition 0..k-1 in order of first appearance over the nodes;
 * returns k.
 */
static int32
renumber(const Leiden *L, int32 *part, int32 n)
{
	int32	   *map = rfm_graph_alloc(L->mem, Max(n, 1) * sizeof(int32));
	int32		next = 0;

	for (int32 c = 0; c < n; c++)
		map[c] = -1;
	for (int32 v = 0; v < n; v++)
	{
		if (map[part[v]] < 0)
			map[part[v]] = next++;
		part[v] = map[part[v]];
	}
	pfree(map);
	return next;
}

/*
 * Fast local moving (step 1) of the nodes of g, whose communities part
 * holds (numbers below n); returns whether any node moved.  The gain of
 * moving v, taken out of its community, into community c is, up to a
 * factor 1/m, w(v, c) - gamma k(v) K(c) / 2m; joining an empty community
 * gains 0.
 */
static bool
move_nodes(Leiden *L, const RfmGraph *g, int32 *part)
{
	int32		n = rfm_graph_nodes(g);
	float8		scale = L->resolution / rfm_graph_total(g);
	float8	   *tot = rfm_graph_alloc(L->mem, Max(n, 1) * sizeof(float8));
	int32	   *size = rfm_graph_alloc(L->mem, Max(n, 1) * sizeof(int32));
	int32	   *empty = rfm_graph_alloc(L->mem, Max(n, 1) * sizeof(int32));
	bool	   *queued = rfm_graph_alloc(L->mem, Max(n, 1) * sizeof(bool));
	int32	   *queue;
	int32		nempty = 0;
	int32		head = 0;
	int32		count = n;
	bool		moved = false;
	Accumulator acc;

	memset(tot, 0, n * sizeof(float8));
	memset(size, 0, n * sizeof(int32));
	for (int32 v = 0; v < n; v++)
	{
		tot[part[v]] += rfm_graph_strength(g, v);
		size[part[v]]++;
	}
	for (int32 c = n - 1; c >= 0; c--)
		if (size[c] == 0)
			empty[nempty++] = c;
	queue = random_order(L, n);
	for (int32 v = 0; v < n; v++)
		queued[v] = true;
	accumulator_init(L, &acc, n);

	while (count > 0)
	{
		int32		v = queue[head];
		int32		cv = part[v];
		float8		kv = rfm_graph_strength(g, v);
		float8		tol = LEIDEN_EPSILON * kv;
		const RfmGraphEdge *edges;
		int32		degree = rfm_graph_edges(g, v, &edges);
		int32		best;
		float8		best_gain;

		CHECK_FOR_INTERRUPTS();
		head = (head + 1) % n;
		count--;
		queued[v] = false;

		for (int32 e = 0; e < degree; e++)
			accumulate(&acc, part[edges[e].node], edges[e].weight);
		tot[cv] -= kv;
		size[cv]--;

		/* staying wins ties; then the first best in neighbour order */
		best = cv;
		best_gain = accumulated(&acc, cv) - kv * tot[cv] * scale;
		for (int32 t = 0; t < acc.ntouched; t++)
		{
			int32		c = acc.touched[t];
			float8		gain = acc.sum[c] - kv * tot[c] * scale;

			if (c != cv && gain > best_gain + tol)
			{
				best = c;
				best_gain = gain;
			}
		}
		if (best_gain < -tol)
		{
			/* alone is better: v's own community if it is now empty */
			if (size[cv] == 0)
				best = cv;
			else
				best = empty[--nempty];
		}
		accumulator_reset(&acc);

		tot[best] += kv;
		size[best]++;
		if (size[cv] == 0 && best != cv)
			empty[nempty++] = cv;
		part[v] = best;
		if (best == cv)
			continue;
		moved = true;
		for (int32 e = 0; e < degree; e++)
		{
			int32		u = edges[e].node;

			if (!queued[u] && part[u] != best)
			{
				queue[(head + count) % n] = u;
				queued[u] = true;
				count++;
			}
		}
	}
	accumulator_free(&acc);
	pfree(tot);
	pfree(size);
	pfree(empty);
	pfree(queued);
	pfree(queue);
	return moved;
}

/*
 * Refinement (step 2): a partition of each community of part into
 * well-connected subcommunities, in refined (renumbered 0..k-1); returns
 * k.  A set S of community C is well connected when the weight between S
 * and C - S is at least gamma K(S) (K(C) - K(S)) / 2m.  Each node is
 * visited once, in random order; only a node still alone may move, and
 * only into a well-connected subcommunity of its own community.
 */
static int32
refine(Leiden *L, const RfmGraph *g, const int32 *part, int32 *refined)
{
	int32		n = rfm_graph_nodes(g);
	float8		scale = L->resolution / rfm_graph_total(g);
	float8	   *ctot = rfm_graph_alloc(L->mem, Max(n, 1) * sizeof(float8));
	float8	   *rtot = rfm_graph_alloc(L->mem, Max(n, 1) * sizeof(float8));
	float8	   *ext = rfm_graph_alloc(L->mem, Max(n, 1) * sizeof(float8));
	bool	   *grown = rfm_graph_alloc(L->mem, Max(n, 1) * sizeof(bool));
	int32	   *cand = rfm_graph_alloc(L->mem, Max(n, 1) * sizeof(int32));
	float8	   *cum = rfm_graph_alloc(L->mem, Max(n, 1) * sizeof(float8));
	int32	   *order;
	Accumulator acc;

	memset(ctot, 0, n * sizeof(float8));
	for (int32 v = 0; v < n; v++)
	{
		const RfmGraphEdge *edges;
		int32		degree = rfm_graph_edges(g, v, &edges);

		ctot[part[v]] += rfm_graph_strength(g, v);
		refined[v] = v;
		rtot[v] = rfm_graph_strength(g, v);
		grown[v] = false;
		ext[v] = 0;
		for (int32 e = 0; e < degree; e++)
			if (part[edges[e].node] == part[v])
				ext[v] += edges[e].weight;
	}
	order = random_order(L, n);
	accumulator_init(L, &acc, n);

	for (int32 i = 0; i < n; i++)
	{
		int32		v = order[i];
		int32		r = refined[v];
		int32		c = part[v];
		float8		kv = rfm_graph_strength(g, v);
		float8		ext_v = ext[r];
		const RfmGraphEdge *edges;
		int32		degree;
		int32		ncand = 0;
		int32		chosen;
		float8		max_gain = 0;
		float8		pick;

		CHECK_FOR_INTERRUPTS();
		/* only a node still alone, and well connected to its community */
		if (grown[r] || ext_v < kv * (ctot[c] - kv) * scale)
			continue;

		degree = rfm_graph_edges(g, v, &edges);
		for (int32 e = 0; e < degree; e++)
			if (part[edges[e].node] == c)
				accumulate(&acc, refined[edges[e].node], edges[e].weight);
		rtot[r] = 0;
		ext[r] = 0;

		/* staying alone gains 0; then each well-connected subcommunity */
		cand[ncand] = r;
		cum[ncand++] = 0;
		for (int32 t = 0; t < acc.ntouched; t++)
		{
			int32		s = acc.touched[t];
			float8		gain;

			if (s == r || ext[s] < rtot[s] * (ctot[c] - rtot[s]) * scale)
				continue;
			gain = acc.sum[s] - kv * rtot[s] * scale;
			if (gain < 0)
				continue;
			cand[ncand] = s;
			cum[ncand++] = gain;
			max_gain = Max(max_gain, gain);
		}
		/* draw with probability proportional to exp(gain / theta) */
		for (int32 j = 0; j < ncand; j++)
			cum[j] = exp((cum[j] - max_gain) / L->theta) + (j > 0 ? cum[j - 1] : 0);
		pick = pg_prng_double(&L->rng) * cum[ncand - 1];
		chosen = cand[ncand - 1];
		for (int32 j = 0; j < ncand; j++)
			if (pick < cum[j])
			{
				chosen = cand[j];
				break;
			}

		rtot[chosen] += kv;
		ext[chosen] += ext_v - 2 * accumulated(&acc, chosen);
		if (chosen != r)
		{
			refined[v] = chosen;
			grown[chosen] = true;
		}
		accumulator_reset(&acc);
	}
	accumulator_free(&acc);
	pfree(ctot);
	pfree(rtot);
	pfree(ext);
	pfree(grown);
	pfree(cand);
	pfree(cum);
	pfree(order);
	return renumber(L, refined, n);
}

/*
 * One iteration from the partition membership of g0 (numbers below n0):
 * the levels of steps 1 to 3 until every community is one node.  Leaves
 * the new partition, renumbered in order of first appearance, in
 * membership; returns its number of communities.
 */
static int32
iterate(Leiden *L, const RfmGraph *g0, int32 *membership)
{
	int32		n0 = rfm_graph_nodes(g0);
	const RfmGraph *g = g0;
	RfmGraph   *owned = NULL;
	int32		n = n0;
	int32	   *part = rfm_graph_alloc(L->mem, n0 * sizeof(int32));
	int32	   *level = rfm_graph_alloc(L->mem, n0 * sizeof(int32));
	int32	   *refined = rfm_graph_alloc(L->mem, n0 * sizeof(int32));
	int32		ncomm;

	memcpy(part, membership, n0 * sizeof(int32));
	for (int32 x = 0; x < n0; x++)
		level[x] = x;			/* the node of g that holds node x of g0 */

	for (;;)
	{
		int32		nrefined;
		RfmGraph   *next;

		(void) move_nodes(L, g, part);
		ncomm = renumber(L, part, n);
		if (ncomm == n)
			break;
		nrefined = refine(L, g, part, refined);
		if (nrefined == n)
		{
			/* refinement merged nothing: aggregate by the communities */
			memcpy(refined, part, n * sizeof(int32));
			nrefined = ncomm;
		}
		next = rfm_graph_collapse(L->mem, g, refined, nrefined);
		/* the aggregate starts from the unrefined communities */
		{
			int32	   *start = rfm_graph_alloc(L->mem, nrefined * sizeof(int32));

			for (int32 v = 0; v < n; v++)
				start[refined[v]] = part[v];
			memcpy(part, start, nrefined * sizeof(int32));
			pfree(start);
		}
		for (int32 x = 0; x < n0; x++)
			level[x] = refined[level[x]];
		if (owned)
			rfm_graph_free(owned);
		owned = next;
		g = next;
		n = nrefined;
	}
	for (int32 x = 0; x < n0; x++)
		membership[x] = part[level[x]];
	if (owned)
		rfm_graph_free(owned);
	pfree(part);
	pfree(level);
	pfree(refined);
	return renumber(L, membership, n0);
}

/* community sizes, for numbering: counted nodes, all nodes, first node */
typedef struct CommunitySize
{
	int32		id;
	int32		counted;
	int32		nodes;
	int32		first;
} CommunitySize;

static int
size_cmp(const void *a, const void *b)
{
	const CommunitySize *x = (const CommunitySize *) a;
	const CommunitySize *y = (const CommunitySize *) b;

	if (x->counted != y->counted)
		return x->counted > y->counted ? -1 : 1;
	if (x->nodes != y->nodes)
		return x->nodes > y->nodes ? -1 : 1;
	return x->first < y->first ? -1 : (x->first > y->first ? 1 : 0);
}

/* number the communities by size: 0 is the largest */
static void
number_by_size(const Leiden *L, int32 *membership, int32 n, int32 ncomm,
			   const bool *counted)
{
	CommunitySize *sizes = rfm_graph_alloc(L->mem, Max(ncomm, 1) * sizeof(CommunitySize));
	int32	   *rank = rfm_graph_alloc(L->mem, Max(ncomm, 1) * sizeof(int32));

	for (int32 c = 0; c < ncomm; c++)
	{
		sizes[c].id = c;
		sizes[c].counted = 0;
		sizes[c].nodes = 0;
		sizes[c].first = -1;
	}
	for (int32 v = 0; v < n; v++)
	{
		CommunitySize *s = &sizes[membership[v]];

		if (counted == NULL || counted[v])
			s->counted++;
		s->nodes++;
		if (s->first < 0)
			s->first = v;
	}
	qsort(sizes, ncomm, sizeof(CommunitySize), size_cmp);
	for (int32 i = 0; i < ncomm; i++)
		rank[sizes[i].id] = i;
	for (int32 v = 0; v < n; v++)
		membership[v] = rank[membership[v]];
	pfree(sizes);
	pfree(rank);
}

/*
 * Communities of g by the Leiden algorithm with this resolution (> 0)
 * and seed: membership[v] for every node, numbered by size, where size
 * counts the nodes with counted[v] first (all nodes when counted is NULL).
 * Returns the number of communities.  Without any edge weight every node
 * is a community of its own.
 */
int32
rfm_leiden(const RfmGraphMemory *mem, const RfmGraph *g, float8 resolution,
		   int32 seed, const bool *counted, int32 *membership)
{
	int32		n = rfm_graph_nodes(g);
	int32		ncomm = n;
	int32	   *previous;
	Leiden		L;

	L.mem = mem;
	L.resolution = resolution;
	L.theta = LEIDEN_THETA * rfm_graph_mean_weight(g);
	pg_prng_seed(&L.rng, (uint64) (uint32) seed);

	for (int32 v = 0; v < n; v++)
		membership[v] = v;
	if (n == 0)
		return 0;
	if (rfm_graph_total(g) > 0)
	{
		previous = rfm_graph_alloc(mem, n * sizeof(int32));
		for (int i = 0; i < LEIDEN_MAX_ITERATIONS; i++)
		{
			memcpy(previous, membership, n * sizeof(int32));
			ncomm = iterate(&L, g, membership);
			/* both are numbered by first appearance: equal arrays, same partition */
			if (i > 0 && memcmp(previous, membership, n * sizeof(int32)) == 0)
				break;
		}
		pfree(previous);
	}
	number_by_size(&L, membership, n, ncomm, counted);
	return ncomm;
}
