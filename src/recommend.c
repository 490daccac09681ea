/*-------------------------------------------------------------------------
 *
 * recommend.c
 *	  rfm_recommend: for each customer, the k items most popular in their
 *	  micro-segment that they have not bought, then the most popular items
 *	  overall.
 *
 * The micro-segments are rfm_micro_segments' (communities.c), so a
 * recommendation and the segment shown for a customer agree.  An item's
 * score for a customer of community C, of n customers, of whom b bought
 * it, is its smoothed share of C
 *
 *		score = (b + s) / (n + 1)
 *
 * where s is the share of all customers who bought the item: the global
 * share is a prior worth one customer.  Any item bought in C therefore
 * ranks above every item that was not (b >= 1 > s), and among the latter
 * the order is global popularity: the fallback is part of the one score.
 * Ties go to the more popular item overall, then to the item that comes
 * first in key order.  "Bought" is having a row with the item (of
 * positive weight, with a weight column); popularity counts customers,
 * not rows or weights.
 *
 * Memory: that of the micro-segments (about 200 bytes per customer or
 * item, 32 per distinct purchase), 24 bytes per item and 4 per customer
 * more; the rows go to a tuplestore that spills to disk past work_mem.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "communities.h"

#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

/* argument positions */
#define ARG_SOURCE		0
#define ARG_CUSTOMER	1
#define ARG_ITEM		2
#define ARG_K			3
#define ARG_WEIGHT		4
#define ARG_RESOLUTION	5
#define ARG_SEED		6

/* the global share is a prior worth this many customers */
#define PRIOR_CUSTOMERS	1.0

/* what orders a community's items: its buyers, then all buyers, then key */
typedef struct Popularity
{
	const int32 *local;			/* buyers in the community, per item */
	const int32 *global;		/* buyers overall, per item */
} Popularity;

static int
popularity_cmp(const void *a, const void *b, void *arg)
{
	const Popularity *p = (const Popularity *) arg;
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;

	if (p->local && p->local[x] != p->local[y])
		return p->local[x] > p->local[y] ? -1 : 1;
	if (p->global[x] != p->global[y])
		return p->global[x] > p->global[y] ? -1 : 1;
	return x < y ? -1 : (x > y ? 1 : 0);
}

/* what the customers of one community are recommended */
typedef struct Recommender
{
	FunctionCallInfo fcinfo;
	RfmGraphInput *in;
	const RfmGraph *g;
	int32		k;
	int32		ncustomers;
	int32		nitems;
	int32	   *buyers;			/* per item, overall */
	int32	   *by_popularity;	/* items, most bought first */
	int32	   *local;			/* per item, in the current community */
	int32	   *bought;			/* per item, the last customer who bought it */
	Datum	   *item_keys;		/* per item, as text once asked */
	MemoryContext row_cxt;
} Recommender;

static Datum
item_key(Recommender *r, int32 item)
{
	if (r->item_keys[item] == (Datum) 0)
	{
		MemoryContext old = MemoryContextSwitchTo(rfm_graph_input_memory(r->in)->cxt);

		r->item_keys[item] = rfm_graph_input_key(r->in, r->ncustomers + item);
		MemoryContextSwitchTo(old);
	}
	return r->item_keys[item];
}

static void
emit(Recommender *r, Datum customer, int32 item, int32 rank, float8 score)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) r->fcinfo->resultinfo;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	values[0] = customer;
	values[1] = item_key(r, item);
	values[2] = Int32GetDatum(rank);
	values[3] = Float8GetDatum(score);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * Recommend to the customers members[0..n-1] of one community: first the
 * items bought in the community, then the rest by global popularity.
 */
static void
recommend_community(Recommender *r, const int32 *members, int32 n,
					int32 *items)
{
	int32		nitems = 0;
	Popularity	p = {r->local, r->buyers};

	for (int32 m = 0; m < n; m++)
	{
		const RfmGraphEdge *edges;
		int32		degree = rfm_graph_edges(r->g, members[m], &edges);

		for (int32 e = 0; e < degree; e++)
		{
			int32		item = edges[e].node - r->ncustomers;

			if (r->local[item]++ == 0)
				items[nitems++] = item;
		}
	}
	qsort_arg(items, nitems, sizeof(int32), popularity_cmp, &p);

	for (int32 m = 0; m < n; m++)
	{
		int32		u = members[m];
		const RfmGraphEdge *edges;
		int32		degree = rfm_graph_edges(r->g, u, &edges);
		int32		rank = 0;
		Datum		customer;
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(r->row_cxt);
		customer = rfm_graph_input_key(r->in, u);
		for (int32 e = 0; e < degree; e++)
			r->bought[edges[e].node - r->ncustomers] = u;
		for (int32 t = 0; t < nitems && rank < r->k; t++)
		{
			int32		item = items[t];
			float8		share = (float8) r->buyers[item] / r->ncustomers;

			if (r->bought[item] == u)
				continue;
			emit(r, customer, item, ++rank,
				 (r->local[item] + PRIOR_CUSTOMERS * share) / (n + PRIOR_CUSTOMERS));
		}
		for (int32 t = 0; t < r->nitems && rank < r->k; t++)
		{
			int32		item = r->by_popularity[t];
			float8		share = (float8) r->buyers[item] / r->ncustomers;

			if (r->bought[item] == u || r->local[item] > 0)
				continue;
			emit(r, customer, item, ++rank,
				 PRIOR_CUSTOMERS * share / (n + PRIOR_CUSTOMERS));
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(r->row_cxt);
	}
	for (int32 t = 0; t < nitems; t++)
		r->local[items[t]] = 0;
}

/*
 * rfm_recommend(source, customer_column, item_column, k, weight_column,
 * resolution, seed): up to k rows (customer_key, item_key, rank, score)
 * per customer, rank 1 the best, for the items the customer has not
 * bought: first those bought in the customer's micro-segment, by their
 * share of it, then the most popular overall (see the score above).
 * Fewer than k rows only when the customer has bought nearly every item.
 * weight_column, resolution and seed shape the micro-segments, as in
 * rfm_micro_segments.  NULL rows are skipped and counted; k, resolution
 * and seed must not be NULL.
 */
PG_FUNCTION_INFO_V1(rfm_recommend);
Datum
rfm_recommend(PG_FUNCTION_ARGS)
{
	RfmGraphSpec spec;
	RfmGraphInput *in;
	const RfmGraphMemory *mem;
	Recommender r;
	float8		resolution;
	int32		seed;
	int32		ncommunities;
	int32	   *membership;
	int32	   *start;
	int32	   *members;
	int32	   *items;

	rfm_graph_purchases_spec(fcinfo, &spec, "rfm_recommend", ARG_SOURCE,
							 ARG_CUSTOMER, ARG_ITEM, ARG_WEIGHT);
	memset(&r, 0, sizeof(r));
	r.k = rfm_graph_int_arg(fcinfo, ARG_K, "k", 1,
							"Pass how many items to recommend per customer, such as 10.");
	resolution = rfm_graph_resolution_arg(fcinfo, ARG_RESOLUTION);
	seed = rfm_graph_seed_arg(fcinfo, ARG_SEED);
	in = rfm_graph_input_create(&spec);

	InitMaterializedSRF(fcinfo, 0);
	rfm_graph_input_read(in);
	mem = rfm_graph_input_memory(in);
	r.fcinfo = fcinfo;
	r.in = in;
	r.g = rfm_graph_input_graph(in);
	r.ncustomers = rfm_graph_input_count(in, RFM_SIDE_FIRST);
	r.nitems = rfm_graph_input_count(in, RFM_SIDE_SECOND);
	membership = rfm_micro_segment_partition(in, resolution, seed, &ncommunities);

	/* the items by popularity: how many customers bought each */
	r.buyers = rfm_graph_alloc(mem, Max(r.nitems, 1) * sizeof(int32));
	r.by_popularity = rfm_graph_alloc(mem, Max(r.nitems, 1) * sizeof(int32));
	r.local = rfm_graph_alloc(mem, Max(r.nitems, 1) * sizeof(int32));
	r.bought = rfm_graph_alloc(mem, Max(r.nitems, 1) * sizeof(int32));
	r.item_keys = rfm_graph_alloc(mem, Max(r.nitems, 1) * sizeof(Datum));
	items = rfm_graph_alloc(mem, Max(r.nitems, 1) * sizeof(int32));
	for (int32 i = 0; i < r.nitems; i++)
	{
		const RfmGraphEdge *edges;

		r.buyers[i] = rfm_graph_edges(r.g, r.ncustomers + i, &edges);
		r.by_popularity[i] = i;
		r.local[i] = 0;
		r.bought[i] = -1;
		r.item_keys[i] = (Datum) 0;
	}
	{
		Popularity	p = {NULL, r.buyers};

		qsort_arg(r.by_popularity, r.nitems, sizeof(int32), popularity_cmp, &p);
	}

	/* the customers of each community, in key order */
	start = rfm_graph_alloc(mem, (ncommunities + 1) * sizeof(int32));
	members = rfm_graph_alloc(mem, Max(r.ncustomers, 1) * sizeof(int32));
	memset(start, 0, (ncommunities + 1) * sizeof(int32));
	for (int32 u = 0; u < r.ncustomers; u++)
		start[membership[u] + 1]++;
	for (int32 c = 0; c < ncommunities; c++)
		start[c + 1] += start[c];
	{
		int32	   *fill = rfm_graph_alloc(mem, Max(ncommunities, 1) * sizeof(int32));

		memcpy(fill, start, ncommunities * sizeof(int32));
		for (int32 u = 0; u < r.ncustomers; u++)
			members[fill[membership[u]]++] = u;
		pfree(fill);
	}

	r.row_cxt = AllocSetContextCreate(CurrentMemoryContext, "rfm_recommend row",
									  ALLOCSET_SMALL_SIZES);
	for (int32 c = 0; c < ncommunities; c++)
		if (start[c + 1] > start[c])
			recommend_community(&r, members + start[c], start[c + 1] - start[c], items);
	MemoryContextDelete(r.row_cxt);
	MemoryContextDelete(mem->cxt);
	return (Datum) 0;
}
