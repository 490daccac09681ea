/*-------------------------------------------------------------------------
 *
 * lookalike.c
 *	  rfm_lookalike: the customers whose purchases most resemble those of
 *	  a seed audience.
 *
 * Each customer is a vector over the items: x(u, i) = w(u, i) * idf(i),
 * where w is 1 for an item bought (or the summed weights, with a weight
 * column) and idf(i) = ln(1 + N / b(i)) down-weights popular items (N
 * customers with a purchase, b(i) of them bought i): sharing a niche item
 * says more than sharing the bestseller.  The audience is the sum of its
 * members' unit vectors, so each seed counts the same however much they
 * bought, and a candidate's similarity is the cosine between its vector
 * and the audience's, in [0, 1].
 *
 * Only items the audience bought contribute, and only their buyers are
 * visited: the cost is the number of purchases of those items, not
 * customers x customers.  Seeds that have no purchase are reported in a
 * NOTICE; if none has, it is an error.
 *
 * Memory: the bipartite graph of graph_input.c (about 110 bytes per
 * customer or item, 32 per distinct purchase), 24 bytes per customer and
 * 16 per item more.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "graph_input.h"
#include "scan.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

/* argument positions */
#define ARG_SOURCE		0
#define ARG_CUSTOMER	1
#define ARG_ITEM		2
#define ARG_SEEDS		3
#define ARG_K			4
#define ARG_WEIGHT		5

#define SEEDS_HINT "Pass the keys of customer_column as text, such as ARRAY['42', '57']."

/* a candidate: a customer and its similarity */
typedef struct Candidate
{
	int32		customer;
	float8		similarity;
} Candidate;

/* most similar first; ties in key order */
static int
candidate_cmp(const void *a, const void *b)
{
	const Candidate *x = (const Candidate *) a;
	const Candidate *y = (const Candidate *) b;

	if (x->similarity != y->similarity)
		return x->similarity > y->similarity ? -1 : 1;
	return x->customer < y->customer ? -1 : (x->customer > y->customer ? 1 : 0);
}

/* name the seed customers before the scan */
static void
mark_seeds(FunctionCallInfo fcinfo, RfmGraphInput *in)
{
	ArrayType  *array;
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (PG_ARGISNULL(ARG_SEEDS))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("seed_customers must not be NULL"),
				 errhint(SEEDS_HINT)));
	array = PG_GETARG_ARRAYTYPE_P(ARG_SEEDS);
	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("seed_customers must not be empty"),
				 errhint(SEEDS_HINT)));
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("seed_customers must not contain NULL"),
					 errhint(SEEDS_HINT)));
		rfm_graph_input_mark(in, TextDatumGetCString(elems[i]));
	}
}

/* a customer's vector's length: sqrt of the sum of (w idf)^2 */
static float8
norm(const RfmGraph *g, int32 u, int32 ncustomers, const float8 *idf)
{
	const RfmGraphEdge *edges;
	int32		degree = rfm_graph_edges(g, u, &edges);
	float8		sum = 0;

	for (int32 e = 0; e < degree; e++)
	{
		float8		x = edges[e].weight * idf[edges[e].node - ncustomers];

		sum += x * x;
	}
	return sqrt(sum);
}

/*
 * rfm_lookalike(source, customer_column, item_column, seed_customers, k,
 * weight_column): the k customers outside seed_customers most similar to
 * them, as (customer_key, similarity, rank), rank 1 the most similar; ties
 * in the customer column's order.  Customers sharing no item with the
 * audience (similarity 0) are not returned, so there may be fewer than k.
 * seed_customers are keys as text (read with the column type's input
 * function); repeats count once; seeds without a purchase are reported
 * in a NOTICE, and an error when no seed has one.  NULL rows are skipped
 * and counted.
 */
PG_FUNCTION_INFO_V1(rfm_lookalike);
Datum
rfm_lookalike(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RfmGraphSpec spec;
	RfmGraphInput *in;
	const RfmGraphMemory *mem;
	const RfmGraph *g;
	int32		k;
	int32		ncustomers;
	int32		nitems;
	int32		active = 0;
	int32		known = 0;
	int32		ncandidates = 0;
	bool	   *seed;
	float8	   *idf;
	float8	   *audience;
	float8	   *dot;
	float8		audience_norm = 0;
	Candidate  *candidates;
	MemoryContext row_cxt;

	rfm_graph_purchases_spec(fcinfo, &spec, "rfm_lookalike", ARG_SOURCE,
							 ARG_CUSTOMER, ARG_ITEM, ARG_WEIGHT);
	k = rfm_graph_int_arg(fcinfo, ARG_K, "k", 1,
						  "Pass how many look-alikes to return, such as 100.");
	in = rfm_graph_input_create(&spec);
	mark_seeds(fcinfo, in);

	InitMaterializedSRF(fcinfo, 0);
	rfm_graph_input_read(in);
	mem = rfm_graph_input_memory(in);
	g = rfm_graph_input_graph(in);
	ncustomers = rfm_graph_input_count(in, RFM_SIDE_FIRST);
	nitems = rfm_graph_input_count(in, RFM_SIDE_SECOND);

	/* the seeds that bought something, and the customers who did */
	seed = rfm_graph_alloc(mem, Max(ncustomers, 1) * sizeof(bool));
	for (int32 u = 0; u < ncustomers; u++)
	{
		const RfmGraphEdge *edges;
		bool		bought = rfm_graph_edges(g, u, &edges) > 0;

		seed[u] = rfm_graph_input_marked(in, u);
		active += bought ? 1 : 0;
		known += seed[u] && bought ? 1 : 0;
	}
	if (known == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("none of the %d seed_customers has a purchase in %s",
						rfm_graph_input_nmarked(in), rfm_relation_name(spec.relid)),
				 errhint(SEEDS_HINT)));
	if (known < rfm_graph_input_nmarked(in))
		ereport(NOTICE,
				(errmsg("rfm_lookalike left out %d of %d seed customers, who have no purchase in %s",
						rfm_graph_input_nmarked(in) - known, rfm_graph_input_nmarked(in),
						rfm_relation_name(spec.relid))));

	/* idf, and the audience: the sum of its members' unit vectors */
	idf = rfm_graph_alloc(mem, Max(nitems, 1) * sizeof(float8));
	audience = rfm_graph_alloc(mem, Max(nitems, 1) * sizeof(float8));
	for (int32 i = 0; i < nitems; i++)
	{
		const RfmGraphEdge *edges;
		int32		buyers = rfm_graph_edges(g, ncustomers + i, &edges);

		idf[i] = buyers > 0 ? log(1.0 + (float8) active / buyers) : 0;
		audience[i] = 0;
	}
	for (int32 u = 0; u < ncustomers; u++)
	{
		const RfmGraphEdge *edges;
		int32		degree = rfm_graph_edges(g, u, &edges);
		float8		length;

		if (!seed[u] || degree == 0)
			continue;
		length = norm(g, u, ncustomers, idf);
		for (int32 e = 0; e < degree; e++)
		{
			int32		item = edges[e].node - ncustomers;

			audience[item] += edges[e].weight * idf[item] / length;
		}
	}
	for (int32 i = 0; i < nitems; i++)
		audience_norm += audience[i] * audience[i];
	audience_norm = sqrt(audience_norm);

	/* dot products: only the buyers of the audience's items */
	dot = rfm_graph_alloc(mem, Max(ncustomers, 1) * sizeof(float8));
	memset(dot, 0, ncustomers * sizeof(float8));
	for (int32 i = 0; i < nitems; i++)
	{
		const RfmGraphEdge *edges;
		int32		buyers;

		if (audience[i] == 0)
			continue;
		CHECK_FOR_INTERRUPTS();
		buyers = rfm_graph_edges(g, ncustomers + i, &edges);
		for (int32 e = 0; e < buyers; e++)
			if (!seed[edges[e].node])
				dot[edges[e].node] += edges[e].weight * idf[i] * audience[i];
	}

	candidates = rfm_graph_alloc(mem, Max(ncustomers, 1) * sizeof(Candidate));
	for (int32 u = 0; u < ncustomers; u++)
	{
		if (dot[u] <= 0)
			continue;
		candidates[ncandidates].customer = u;
		candidates[ncandidates++].similarity =
			dot[u] / (norm(g, u, ncustomers, idf) * audience_norm);
	}
	qsort(candidates, ncandidates, sizeof(Candidate), candidate_cmp);

	row_cxt = AllocSetContextCreate(CurrentMemoryContext, "rfm_lookalike row",
									ALLOCSET_SMALL_SIZES);
	for (int32 r = 0; r < ncandidates && r < k; r++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};
		MemoryContext old = MemoryContextSwitchTo(row_cxt);

		values[0] = rfm_graph_input_key(in, candidates[r].customer);
		values[1] = Float8GetDatum(candidates[r].similarity);
		values[2] = Int32GetDatum(r + 1);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		MemoryContextSwitchTo(old);
		MemoryContextReset(row_cxt);
	}
	MemoryContextDelete(row_cxt);
	MemoryContextDelete(mem->cxt);
	return (Datum) 0;
}
