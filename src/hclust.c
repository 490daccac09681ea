/*-------------------------------------------------------------------------
 *
 * hclust.c
 *	  Hierarchical clustering of per-customer feature vectors as an
 *	  aggregate, rfm_hclust, returning a storable model (hclust_model.c):
 *	  the options, the state, and the choice between an exact tree and the
 *	  two-step path.  The algorithms are hclust_fit.c's.
 *
 * Exact: up to HCLUST_EXACT_AUTO (20,000) customers by default, and up to
 * HCLUST_EXACT_MAX (100,000) with two_step=false, every customer is a leaf
 * of the tree.  Ward keeps, besides the state's 8 bytes per customer and
 * feature, a prepared copy and the clusters' centroids (16 bytes per
 * customer and feature) and about 50 bytes per customer; average and
 * complete linkage keep the distance of every pair instead (4 n^2 bytes:
 * 1.6 GB at 20,000 customers).  Its time grows with n^2 * features: about
 * a second for 20,000 customers with 3 features.  The model keeps every
 * leaf (16 bytes per customer and feature).
 *
 * Two-step, above that or with two_step=true: k-means on a sample makes
 * micro_clusters (200 by default) micro-clusters, every customer goes to
 * the nearest, and the tree is built on them, weighted by their customers;
 * the state's points plus 4 bytes per customer.  The model says which was
 * used (two_step, micro_clusters).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "features.h"
#include "guc.h"
#include "hclust_fit.h"
#include "hclust_model.h"
#include "points.h"

#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#define HCLUST_MEMORY_HINT		"Fit on a sample of the points, such as TABLESAMPLE SYSTEM (10), or use two_step=true"

/* exact trees: by default up to this many customers, at most this many */
#define HCLUST_EXACT_AUTO		20000
#define HCLUST_EXACT_MAX		100000

/* the micro-clusters of the two-step path */
#define HCLUST_MICRO_DEFAULT	200
#define HCLUST_MICRO_MIN		10
#define HCLUST_MICRO_MAX		5000

/* the k-means of the two-step path: one start, as micro-clusters are many */
#define HCLUST_MICRO_N_INIT		1
#define HCLUST_MICRO_MAX_ITER	100
#define HCLUST_MICRO_TOL		1e-4

typedef enum TwoStep
{
	TWO_STEP_AUTO,
	TWO_STEP_ON,
	TWO_STEP_OFF
} TwoStep;

typedef struct HclustOptions
{
	RfmLinkage	method;
	TwoStep		two_step;
	int32		micro_clusters;
	int32		seed;
	bool		standardize;
} HclustOptions;

static const HclustOptions default_options = {
	.method = RFM_LINKAGE_WARD,
	.two_step = TWO_STEP_AUTO,
	.micro_clusters = HCLUST_MICRO_DEFAULT,
	.seed = 0,
	.standardize = true
};

static const RfmPointsAgg hclust_agg = {
	"rfm_hclust", HCLUST_MEMORY_HINT, sizeof(HclustOptions), NULL
};

#define HCLUST_OPTIONS_HINT "Write options as 'method=ward two_step=auto micro_clusters=200 seed=0 standardize=true'; method is ward, average or complete, two_step auto, true or false."

/* parse 'method=ward two_step=auto micro_clusters=200 seed=0 standardize=true' */
static void
parse_options(const char *text, HclustOptions *o)
{
	char	   *copy = pstrdup(text);
	char	   *save = NULL;

	for (char *tok = strtok_r(copy, " ,", &save); tok; tok = strtok_r(NULL, " ,", &save))
	{
		char	   *eq = strchr(tok, '=');
		char	   *value;
		char	   *end;
		bool		b;

		if (eq == NULL)
			goto bad;
		*eq = '\0';
		value = eq + 1;
		if (strcmp(tok, "method") == 0)
		{
			if (strcmp(value, "ward") == 0)
				o->method = RFM_LINKAGE_WARD;
			else if (strcmp(value, "average") == 0)
				o->method = RFM_LINKAGE_AVERAGE;
			else if (strcmp(value, "complete") == 0)
				o->method = RFM_LINKAGE_COMPLETE;
			else
				goto bad;
		}
		else if (strcmp(tok, "two_step") == 0)
		{
			if (strcmp(value, "auto") == 0)
				o->two_step = TWO_STEP_AUTO;
			else if (parse_bool(value, &b))
				o->two_step = b ? TWO_STEP_ON : TWO_STEP_OFF;
			else
				goto bad;
		}
		else if (strcmp(tok, "micro_clusters") == 0 || strcmp(tok, "seed") == 0)
		{
			long		v = strtol(value, &end, 10);

			if (*end != '\0' || end == value || v < PG_INT32_MIN || v > PG_INT32_MAX)
				goto bad;
			if (tok[0] == 'm')
				o->micro_clusters = (int32) v;
			else
				o->seed = (int32) v;
		}
		else if (strcmp(tok, "standardize") == 0)
		{
			if (!parse_bool(value, &o->standardize))
				goto bad;
		}
		else
			goto bad;
	}
	if (o->micro_clusters < HCLUST_MICRO_MIN || o->micro_clusters > HCLUST_MICRO_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("micro_clusters must be between %d and %d, not %d",
						HCLUST_MICRO_MIN, HCLUST_MICRO_MAX, o->micro_clusters),
				 errhint("A few hundred micro-clusters are usual: 200 by default.")));
	return;
bad:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid options \"%s\"", text),
			 errhint(HCLUST_OPTIONS_HINT)));
}

/*
 * The transition: (state, features [, options [, feature_names]]).
 */
static Datum
hclust_trans(FunctionCallInfo fcinfo, bool has_options, bool has_names)
{
	MemoryContext aggcontext;
	RfmPoints  *st;
	ArrayType  *arr;
	ArrayType  *names = NULL;
	int			n;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "rfm_hclust_trans called in non-aggregate context");
	if (has_options && PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("options must not be NULL"),
				 errhint("Pass '' for the defaults.")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("features must not be NULL"),
				 errhint("Leave customers without features out with a WHERE clause.")));
	if (has_names && !PG_ARGISNULL(3))
		names = PG_GETARG_ARRAYTYPE_P(3);

	arr = PG_GETARG_ARRAYTYPE_P(1);
	n = rfm_points_array_length(arr);
	if (PG_ARGISNULL(0))
	{
		HclustOptions o;

		rfm_points_check_dims(n);
		/* padding too: partial states compare their options' bytes */
		memcpy(&o, &default_options, sizeof(o));
		if (has_options)
			parse_options(text_to_cstring(PG_GETARG_TEXT_PP(2)), &o);
		st = rfm_points_start(aggcontext, &hclust_agg, n, names, &o);
	}
	else
		st = (RfmPoints *) PG_GETARG_POINTER(0);
	rfm_points_add(st, arr, names);
	PG_RETURN_POINTER(st);
}

/* rfm_hclust(features float8[]): transition */
PG_FUNCTION_INFO_V1(rfm_hclust_trans);
Datum
rfm_hclust_trans(PG_FUNCTION_ARGS)
{
	return hclust_trans(fcinfo, false, false);
}

/* rfm_hclust(features float8[], options text): transition */
PG_FUNCTION_INFO_V1(rfm_hclust_trans_options);
Datum
rfm_hclust_trans_options(PG_FUNCTION_ARGS)
{
	return hclust_trans(fcinfo, true, false);
}

/*
 * rfm_hclust(features float8[], options text, feature_names text[]):
 * transition; NULL feature_names is the form without them
 */
PG_FUNCTION_INFO_V1(rfm_hclust_trans_names);
Datum
rfm_hclust_trans_names(PG_FUNCTION_ARGS)
{
	return hclust_trans(fcinfo, true, true);
}

/*
 * Merge partial states; not STRICT, as the state is internal: a NULL
 * state is no rows.
 */
PG_FUNCTION_INFO_V1(rfm_hclust_combine);
Datum
rfm_hclust_combine(PG_FUNCTION_ARGS)
{
	return rfm_points_combine(fcinfo, &hclust_agg);
}

/* the state as bytea; STRICT */
PG_FUNCTION_INFO_V1(rfm_hclust_serial);
Datum
rfm_hclust_serial(PG_FUNCTION_ARGS)
{
	return rfm_points_serial(fcinfo);
}

/* the state from bytea; STRICT */
PG_FUNCTION_INFO_V1(rfm_hclust_deserial);
Datum
rfm_hclust_deserial(PG_FUNCTION_ARGS)
{
	return rfm_points_deserial(fcinfo, &hclust_agg);
}

/* exact or two-step, as the options and the number of customers say */
static bool
use_two_step(const HclustOptions *o, int64 n)
{
	if (o->two_step == TWO_STEP_ON)
	{
		if (n <= o->micro_clusters)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("micro_clusters (%d) must be fewer than the customers (%lld)",
							o->micro_clusters, (long long) n),
					 errhint("Use fewer micro-clusters, or two_step=false for an exact tree.")));
		return true;
	}
	if (o->two_step == TWO_STEP_OFF)
	{
		if (n > HCLUST_EXACT_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("an exact tree takes at most %d customers, not %lld",
							HCLUST_EXACT_MAX, (long long) n),
					 errhint("Use two_step=auto, which builds the tree on micro-clusters above %d customers.",
							 HCLUST_EXACT_AUTO)));
		return false;
	}
	return n > HCLUST_EXACT_AUTO;
}

/*
 * Fit and return rfm_hclust_model (hclust_model.c describes its fields).
 * Needs at least two customers.
 */
PG_FUNCTION_INFO_V1(rfm_hclust_final);
Datum
rfm_hclust_final(PG_FUNCTION_ARGS)
{
	RfmPoints  *st;
	const HclustOptions *o;
	TupleDesc	tupdesc;
	RfmHclustFit fit = {0};
	RfmPrep    *prep;
	const float8 *raw;
	float8		mean_var;
	int64		n;
	int			dims;
	Size		held;
	RfmMerge   *merges;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "rfm_hclust must return a composite type");
	rfm_hclust_model_check_type(tupdesc);

	st = (RfmPoints *) PG_GETARG_POINTER(0);
	o = rfm_points_options(st);
	n = rfm_points_count(st);
	dims = rfm_points_dims(st);
	if (n < 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rfm_hclust needs at least 2 customers, not %lld", (long long) n)));
	held = (Size) n * dims * sizeof(float8);

	raw = rfm_points_sorted(st);
	prep = rfm_prep_create(rfm_points_names(st), dims, o->standardize);
	rfm_prep_fit(prep, raw, n, &mean_var);

	fit.method = o->method;
	fit.seed = o->seed;
	fit.standardize = o->standardize;
	fit.n = n;
	fit.dims = dims;
	fit.prep = prep;
	fit.two_step = use_two_step(o, n);
	if (!fit.two_step)
	{
		/* the prepared copy, and two copies of the leaves in arrays and the model */
		rfm_check_memory(held * 5 + rfm_hclust_linkage_bytes(n, dims, o->method),
						 "rfm_hclust", HCLUST_MEMORY_HINT);
		fit.leaves = n;
		fit.leaf_centroids = rfm_prep_apply_all(prep, raw, n);
		fit.leaf_means = raw;
		merges = palloc_extended(sizeof(RfmMerge) * (n - 1), MCXT_ALLOC_HUGE);
		rfm_hclust_linkage(fit.leaf_centroids, NULL, n, dims, o->method, merges);
	}
	else
	{
		RfmKmeansOptions ko = {
			.seed = o->seed,
			.n_init = HCLUST_MICRO_N_INIT,
			.max_iter = HCLUST_MICRO_MAX_ITER,
			.tol = HCLUST_MICRO_TOL,
			.standardize = o->standardize
		};
		RfmMicro   *micro;

		rfm_check_memory(held + rfm_hclust_micro_bytes(n, o->micro_clusters, dims) +
						 rfm_hclust_linkage_bytes(o->micro_clusters, dims, o->method),
						 "rfm_hclust", HCLUST_MEMORY_HINT);
		micro = rfm_hclust_micro(raw, n, prep, o->micro_clusters, &ko, mean_var);
		fit.micro_clusters = o->micro_clusters;
		fit.leaves = micro->m;
		fit.leaf_sizes = micro->sizes;
		fit.leaf_centroids = micro->means;
		fit.leaf_means = micro->raw_means;
		fit.micro_centers = micro->centers;
		fit.micro_inertia = micro->inertia;
		merges = palloc(sizeof(RfmMerge) * (micro->m - 1));
		rfm_hclust_linkage(micro->means, micro->sizes, micro->m, dims, o->method, merges);
	}
	fit.merges = merges;
	PG_RETURN_DATUM(rfm_hclust_model_datum(&fit, tupdesc));
}
