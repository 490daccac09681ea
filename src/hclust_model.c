/*-------------------------------------------------------------------------
 *
 * hclust_model.c
 *	  The stored hierarchical model, rfm_hclust_model, and what is read
 *	  from it: the tree (rfm_hclust_tree), a cut into k clusters
 *	  (rfm_hclust_cut), the scores of every cut (rfm_hclust_scan), and the
 *	  cluster of a customer (rfm_cluster).
 *
 * The model holds the merges as scipy's linkage matrix, its leaves (every
 * customer for an exact tree, the micro-clusters for a two-step one) in
 * the fit space and in the features' own units with their customers, and
 * the preparation of the features.  Everything here is computed from the
 * model alone, so these functions are IMMUTABLE.
 *
 * rfm_cluster at a cut of k clusters: a customer the tree was built on
 * (an exact model recognises its prepared features among the leaves) gets
 * its cluster in the tree; any other customer the cluster with the nearest
 * centroid.  A two-step model assigns every customer as its fit did: to the
 * nearest micro-cluster center, then that micro-cluster's cluster.  So for
 * the customers a model was fitted on, the counts of rfm_cluster equal the
 * sizes of rfm_hclust_cut.  Memory per call site: the decoded model, plus
 * per cut k one int per leaf and k centroids, plus for an exact model a
 * lookup table of 8 bytes per leaf.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "cluster_model.h"
#include "cluster_quality.h"
#include "distance.h"
#include "hclust_model.h"
#include "points.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/typcache.h"

/* rfm_hclust_scan measures the silhouette on at most this many leaves */
#define HCLUST_SILHOUETTE_SAMPLE	1000

/*
 * The fields of rfm_hclust_model, in the order the install script declares
 * them; checked as rfm_kmeans_model's are (kmeans.c).
 */
typedef enum ModelField
{
	MODEL_METHOD,
	MODEL_TWO_STEP,
	MODEL_MICRO_CLUSTERS,
	MODEL_SEED,
	MODEL_STANDARDIZE,
	MODEL_N,
	MODEL_DIMS,
	MODEL_LEAVES,
	MODEL_MERGE_LEFT,
	MODEL_MERGE_RIGHT,
	MODEL_MERGE_HEIGHT,
	MODEL_MERGE_SIZE,
	MODEL_LEAF_SIZES,
	MODEL_LEAF_CENTROIDS,
	MODEL_LEAF_MEANS,
	MODEL_MICRO_CENTERS,
	MODEL_MICRO_INERTIA,
	MODEL_CENTER,
	MODEL_SCALE,
	MODEL_PREP,					/* RFM_PREP_NFIELDS fields, features.h */
	MODEL_NFIELDS = MODEL_PREP + RFM_PREP_NFIELDS
} ModelField;

static const char *const model_fields[MODEL_NFIELDS] = {
	"method", "two_step", "micro_clusters", "seed", "standardize", "n", "dims",
	"leaves", "merge_left", "merge_right", "merge_height", "merge_size",
	"leaf_sizes", "leaf_centroids", "leaf_means", "micro_centers",
	"micro_inertia", "center", "scale",
	"feature_names", "transforms", "clip_low", "clip_high", "quantiles",
	"prep_mean", "prep_std", "population_mean"
};

static const RfmModelKind model_kind = {
	"rfm_hclust_model", "rfm_hclust", model_fields, MODEL_NFIELDS, 0
};

static const char *const method_names[] = {"ward", "average", "complete"};

/* a model decoded once per call site, with the last cut asked for */
typedef struct HclustModel
{
	RfmLinkage	method;
	bool		two_step;
	int64		n;
	int			dims;
	int64		leaves;
	RfmMerge   *merges;
	float8	   *leaf_sizes;
	float8	   *leaf_centroids;
	float8	   *leaf_means;
	float8	   *micro_centers;
	float8		micro_inertia;
	RfmPrep    *prep;
	/* exact models: leaves by prepared features, open addressing */
	int32	   *lookup;
	int64		lookup_mask;
	/* the cut of cut_k clusters */
	int			cut_k;
	int		   *labels;			/* per leaf, 0..cut_k-1 */
	float8	   *cut_centroids;	/* cut_k x dims, fit space */
} HclustModel;

const char *
rfm_hclust_method_name(RfmLinkage method)
{
	return method_names[method];
}

void
rfm_hclust_model_check_type(TupleDesc tupdesc)
{
	Assert(strcmp(model_fields[MODEL_PREP], rfm_prep_fields[0]) == 0);
	rfm_model_check_type(&model_kind, tupdesc);
}

/* the model as a composite of type tupdesc */
Datum
rfm_hclust_model_datum(const RfmHclustFit *fit, TupleDesc tupdesc)
{
	Datum		values[MODEL_NFIELDS];
	bool		nulls[MODEL_NFIELDS] = {0};
	int64		l = fit->leaves;
	int32	   *left = palloc(sizeof(int32) * Max(l - 1, 1));
	int32	   *right = palloc(sizeof(int32) * Max(l - 1, 1));
	float8	   *height = palloc(sizeof(float8) * Max(l - 1, 1));
	int64	   *size = palloc(sizeof(int64) * Max(l - 1, 1));
	int64	   *leaf_sizes = palloc_extended(sizeof(int64) * l, MCXT_ALLOC_HUGE);
	float8	   *center = palloc(sizeof(float8) * fit->dims);
	float8	   *scale = palloc(sizeof(float8) * fit->dims);

	for (int64 i = 0; i < l - 1; i++)
	{
		left[i] = fit->merges[i].left;
		right[i] = fit->merges[i].right;
		height[i] = fit->merges[i].height;
		size[i] = (int64) fit->merges[i].size;
	}
	for (int64 i = 0; i < l; i++)
		leaf_sizes[i] = fit->leaf_sizes ? (int64) fit->leaf_sizes[i] : 1;
	rfm_prep_scaling(fit->prep, center, scale);

	values[MODEL_METHOD] = CStringGetTextDatum(rfm_hclust_method_name(fit->method));
	values[MODEL_TWO_STEP] = BoolGetDatum(fit->two_step);
	values[MODEL_MICRO_CLUSTERS] = Int32GetDatum(fit->micro_clusters);
	nulls[MODEL_MICRO_CLUSTERS] = !fit->two_step;
	values[MODEL_SEED] = Int32GetDatum(fit->seed);
	values[MODEL_STANDARDIZE] = BoolGetDatum(fit->standardize);
	values[MODEL_N] = Int64GetDatum(fit->n);
	values[MODEL_DIMS] = Int32GetDatum(fit->dims);
	values[MODEL_LEAVES] = Int32GetDatum((int32) l);
	values[MODEL_MERGE_LEFT] = PointerGetDatum(rfm_int32_array(left, l - 1));
	values[MODEL_MERGE_RIGHT] = PointerGetDatum(rfm_int32_array(right, l - 1));
	values[MODEL_MERGE_HEIGHT] = PointerGetDatum(rfm_float8_array(height, l - 1));
	values[MODEL_MERGE_SIZE] = PointerGetDatum(rfm_int64_array(size, l - 1));
	values[MODEL_LEAF_SIZES] = PointerGetDatum(rfm_int64_array(leaf_sizes, l));
	values[MODEL_LEAF_CENTROIDS] = PointerGetDatum(rfm_float8_matrix(fit->leaf_centroids, l, fit->dims));
	values[MODEL_LEAF_MEANS] = PointerGetDatum(rfm_float8_matrix(fit->leaf_means, l, fit->dims));
	nulls[MODEL_MICRO_CENTERS] = fit->micro_centers == NULL;
	if (fit->micro_centers)
		values[MODEL_MICRO_CENTERS] = PointerGetDatum(rfm_float8_matrix(fit->micro_centers, l, fit->dims));
	values[MODEL_MICRO_INERTIA] = Float8GetDatum(fit->micro_inertia);
	values[MODEL_CENTER] = PointerGetDatum(rfm_float8_array(center, fit->dims));
	values[MODEL_SCALE] = PointerGetDatum(rfm_float8_array(scale, fit->dims));
	rfm_prep_store(fit->prep, values + MODEL_PREP, nulls + MODEL_PREP);
	return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls));
}

/* a hash of a prepared point; -0 and 0 hash alike, as they compare equal */
static uint32
point_hash(const float8 *z, int dims)
{
	uint32		h = 0;

	for (int j = 0; j < dims; j++)
	{
		float8		v = z[j] == 0 ? 0 : z[j];

		h = hash_combine(h, hash_bytes((const unsigned char *) &v, sizeof(float8)));
	}
	return h;
}

static void
build_lookup(HclustModel *m)
{
	int64		size = 1;

	while (size < 2 * m->leaves)
		size *= 2;
	m->lookup = palloc_extended(sizeof(int32) * size, MCXT_ALLOC_HUGE);
	memset(m->lookup, -1, sizeof(int32) * size);
	m->lookup_mask = size - 1;
	for (int64 i = 0; i < m->leaves; i++)
	{
		int64		slot = point_hash(m->leaf_centroids + i * m->dims, m->dims) & m->lookup_mask;

		/* equal leaves are in one cluster below any cut: keep the first */
		while (m->lookup[slot] >= 0)
		{
			if (rfm_dist2(m->leaf_centroids + m->lookup[slot] * m->dims,
						  m->leaf_centroids + i * m->dims, m->dims) == 0)
				break;
			slot = (slot + 1) & m->lookup_mask;
		}
		if (m->lookup[slot] < 0)
			m->lookup[slot] = (int32) i;
	}
}

/* the leaf whose prepared features are z, or -1 */
static int64
find_leaf(const HclustModel *m, const float8 *z)
{
	int64		slot = point_hash(z, m->dims) & m->lookup_mask;

	for (; m->lookup[slot] >= 0; slot = (slot + 1) & m->lookup_mask)
	{
		const float8 *leaf = m->leaf_centroids + m->lookup[slot] * m->dims;
		bool		equal = true;

		for (int j = 0; equal && j < m->dims; j++)
			equal = leaf[j] == z[j];
		if (equal)
			return m->lookup[slot];
	}
	return -1;
}

/*
 * The merges must describe a tree: merge i joins two clusters that exist
 * (a leaf, or an earlier merge) and were not joined before, at a finite
 * height, so that a forged model cannot make a cut read out of bounds.
 */
static void
check_merges(const HclustModel *m)
{
	bool	   *used = palloc0(sizeof(bool) * (2 * m->leaves - 1));

	for (int64 i = 0; i < m->leaves - 1; i++)
	{
		const RfmMerge *g = &m->merges[i];

		if (g->left < 0 || g->right < 0 || g->left >= m->leaves + i ||
			g->right >= m->leaves + i || g->left == g->right ||
			used[g->left] || used[g->right] || !(g->height >= 0) || isinf(g->height))
			rfm_model_malformed(&model_kind);
		used[g->left] = used[g->right] = true;
	}
	pfree(used);
}

/* the model argument argno, decoded once per call site */
static HclustModel *
read_model(FunctionCallInfo fcinfo, int argno)
{
	HclustModel *m = rfm_model_cache_lookup(fcinfo, argno);
	HeapTupleHeader t;
	MemoryContext old;
	bool		isnull;
	Datum		d;
	char	   *method;
	int64		l;
	int			dims;
	const int32 *left;
	const int32 *right;
	const float8 *height;
	const int64 *size;
	const int64 *leaf_sizes;
	const float8 *arr;
	bool		standardize;

	if (m != NULL)
		return m;
	t = PG_GETARG_HEAPTUPLEHEADER(argno);
	rfm_model_check_value(&model_kind, t);
	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	m = palloc0(sizeof(HclustModel));

	d = GetAttributeByNum(t, MODEL_METHOD + 1, &isnull);
	if (isnull)
		rfm_model_malformed(&model_kind);
	method = TextDatumGetCString(d);
	for (m->method = RFM_LINKAGE_WARD; m->method <= RFM_LINKAGE_COMPLETE; m->method++)
		if (strcmp(method, method_names[m->method]) == 0)
			break;
	if (m->method > RFM_LINKAGE_COMPLETE)
		rfm_model_malformed(&model_kind);
	m->two_step = DatumGetBool(GetAttributeByNum(t, MODEL_TWO_STEP + 1, &isnull));
	if (isnull)
		rfm_model_malformed(&model_kind);
	standardize = DatumGetBool(GetAttributeByNum(t, MODEL_STANDARDIZE + 1, &isnull));
	if (isnull)
		rfm_model_malformed(&model_kind);
	m->n = DatumGetInt64(GetAttributeByNum(t, MODEL_N + 1, &isnull));
	dims = m->dims = rfm_model_int32(&model_kind, t, MODEL_DIMS + 1);
	l = m->leaves = rfm_model_int32(&model_kind, t, MODEL_LEAVES + 1);
	if (isnull || dims < 1 || dims > RFM_POINTS_MAX_DIMS || l < 2 || m->n < l ||
		(!m->two_step && m->n != l))
		rfm_model_malformed(&model_kind);

	left = rfm_model_int32s(&model_kind, t, MODEL_MERGE_LEFT + 1, l - 1);
	right = rfm_model_int32s(&model_kind, t, MODEL_MERGE_RIGHT + 1, l - 1);
	height = rfm_model_float8s(&model_kind, t, MODEL_MERGE_HEIGHT + 1, l - 1);
	size = rfm_model_int64s(&model_kind, t, MODEL_MERGE_SIZE + 1, l - 1);
	leaf_sizes = rfm_model_int64s(&model_kind, t, MODEL_LEAF_SIZES + 1, l);
	if (!left || !right || !height || !size || !leaf_sizes)
		rfm_model_malformed(&model_kind);
	m->merges = palloc(sizeof(RfmMerge) * (l - 1));
	for (int64 i = 0; i < l - 1; i++)
	{
		m->merges[i].left = left[i];
		m->merges[i].right = right[i];
		m->merges[i].height = height[i];
		m->merges[i].size = size[i];
	}
	check_merges(m);
	m->leaf_sizes = palloc(sizeof(float8) * l);
	{
		int64		total = 0;

		for (int64 i = 0; i < l; i++)
		{
			if (leaf_sizes[i] < 1 || leaf_sizes[i] > m->n)
				rfm_model_malformed(&model_kind);
			m->leaf_sizes[i] = leaf_sizes[i];
			total += leaf_sizes[i];
		}
		if (total != m->n)
			rfm_model_malformed(&model_kind);
	}

	m->leaf_centroids = palloc_extended(sizeof(float8) * l * dims, MCXT_ALLOC_HUGE);
	m->leaf_means = palloc_extended(sizeof(float8) * l * dims, MCXT_ALLOC_HUGE);
	arr = rfm_model_float8s(&model_kind, t, MODEL_LEAF_CENTROIDS + 1, l * dims);
	if (arr == NULL)
		rfm_model_malformed(&model_kind);
	memcpy(m->leaf_centroids, arr, sizeof(float8) * l * dims);
	arr = rfm_model_float8s(&model_kind, t, MODEL_LEAF_MEANS + 1, l * dims);
	if (arr == NULL)
		rfm_model_malformed(&model_kind);
	memcpy(m->leaf_means, arr, sizeof(float8) * l * dims);
	arr = rfm_model_float8s(&model_kind, t, MODEL_MICRO_CENTERS + 1, l * dims);
	if ((arr == NULL) == m->two_step)
		rfm_model_malformed(&model_kind);
	if (arr)
	{
		m->micro_centers = palloc(sizeof(float8) * l * dims);
		memcpy(m->micro_centers, arr, sizeof(float8) * l * dims);
	}
	m->micro_inertia = DatumGetFloat8(GetAttributeByNum(t, MODEL_MICRO_INERTIA + 1, &isnull));
	if (isnull || !(m->micro_inertia >= 0))
		rfm_model_malformed(&model_kind);
	for (int64 i = 0; i < l * dims; i++)
		if (isnan(m->leaf_centroids[i]) || isinf(m->leaf_centroids[i]) ||
			isnan(m->leaf_means[i]) || isinf(m->leaf_means[i]) ||
			(m->micro_centers && (isnan(m->micro_centers[i]) || isinf(m->micro_centers[i]))))
			rfm_model_malformed(&model_kind);
	m->prep = rfm_prep_load(&model_kind, t, dims, MODEL_CENTER + 1, MODEL_SCALE + 1,
							MODEL_PREP + 1, standardize);
	if (!m->two_step)
		build_lookup(m);
	MemoryContextSwitchTo(old);
	rfm_model_cache_store(fcinfo, argno, m);
	return m;
}

/* k, which must be 2..leaves, as a cut of the model */
static void
check_cut_k(const HclustModel *m, int32 k)
{
	if (k < 2 || k > m->leaves)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be between 2 and %lld, the leaves of the tree, not %d",
						(long long) m->leaves, k),
				 errhint("Four to eight clusters are usual for customer segments.")));
}

/* the cut of k clusters: labels of the leaves and centroids (fit space) */
static void
cut(HclustModel *m, int k, float8 *heights)
{
	MemoryContext old;
	float8	   *weight;

	if (m->cut_k == k && heights == NULL)
		return;
	old = MemoryContextSwitchTo(GetMemoryChunkContext(m));
	if (m->labels == NULL)
		m->labels = palloc_extended(sizeof(int) * m->leaves, MCXT_ALLOC_HUGE);
	if (m->cut_centroids != NULL)
		pfree(m->cut_centroids);
	rfm_hclust_cut_tree(m->merges, m->leaf_sizes, m->leaves, k, m->labels, heights);
	m->cut_centroids = palloc0(sizeof(float8) * k * m->dims);
	weight = palloc0(sizeof(float8) * k);
	for (int64 i = 0; i < m->leaves; i++)
	{
		int			c = m->labels[i];

		weight[c] += m->leaf_sizes[i];
		for (int j = 0; j < m->dims; j++)
			m->cut_centroids[c * m->dims + j] += m->leaf_sizes[i] * m->leaf_centroids[i * m->dims + j];
	}
	for (int c = 0; c < k; c++)
		for (int j = 0; j < m->dims; j++)
			m->cut_centroids[c * m->dims + j] /= weight[c];
	pfree(weight);
	m->cut_k = k;
	MemoryContextSwitchTo(old);
}

/*
 * rfm_cluster(features, model rfm_hclust_model, k): the cluster (1..k) of
 * a customer at the cut of k clusters (see the file's header for how).
 * IMMUTABLE: it depends on its arguments only.  STRICT: NULL features
 * have no cluster, nor do features with a NULL element.
 */
PG_FUNCTION_INFO_V1(rfm_cluster_hclust);
Datum
rfm_cluster_hclust(PG_FUNCTION_ARGS)
{
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(0);
	HclustModel *m = read_model(fcinfo, 1);
	int32		k = PG_GETARG_INT32(2);
	float8	   *v = palloc(sizeof(float8) * m->dims);
	float8	   *z = palloc(sizeof(float8) * m->dims);
	float8		d2;
	int64		leaf;

	check_cut_k(m, k);
	if (!rfm_points_read(arr, m->dims, v))
		PG_RETURN_NULL();
	rfm_prep_apply(m->prep, v, z);
	cut(m, k, NULL);
	if (m->two_step)
		leaf = rfm_kmeans_nearest(z, m->micro_centers, (int) m->leaves, m->dims, &d2);
	else
		leaf = find_leaf(m, z);
	if (leaf >= 0)
		PG_RETURN_INT32(m->labels[leaf] + 1);
	PG_RETURN_INT32(rfm_kmeans_nearest(z, m->cut_centroids, k, m->dims, &d2) + 1);
}

/*
 * rfm_hclust_tree(model): the merges, as scipy's linkage matrix with a
 * step number: step s joins left_id and right_id (leaves are 0..leaves-1,
 * the cluster step s makes is leaves + s - 1) at height, into a cluster of
 * size customers, leaving clusters clusters.  IMMUTABLE STRICT.
 */
PG_FUNCTION_INFO_V1(rfm_hclust_tree);
Datum
rfm_hclust_tree(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HclustModel *m = read_model(fcinfo, 0);

	InitMaterializedSRF(fcinfo, 0);
	for (int64 i = 0; i < m->leaves - 1; i++)
	{
		Datum		values[6];
		bool		nulls[6] = {0};

		CHECK_FOR_INTERRUPTS();
		values[0] = Int32GetDatum((int32) (i + 1));
		values[1] = Int32GetDatum(m->merges[i].left);
		values[2] = Int32GetDatum(m->merges[i].right);
		values[3] = Float8GetDatum(m->merges[i].height);
		values[4] = Int64GetDatum((int64) m->merges[i].size);
		values[5] = Int32GetDatum((int32) (m->leaves - 1 - i));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * rfm_hclust_cut(model, k): the k clusters of the cut, numbered by
 * customers (most first): customers, share, the height the cluster was
 * formed at (0 for a single leaf) and its centroid in the features' own
 * units.  IMMUTABLE STRICT.
 */
PG_FUNCTION_INFO_V1(rfm_hclust_cut);
Datum
rfm_hclust_cut(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HclustModel *m = read_model(fcinfo, 0);
	int32		k = PG_GETARG_INT32(1);
	RfmClusterSummary *s;
	float8	   *heights;

	check_cut_k(m, k);
	heights = palloc(sizeof(float8) * k);
	cut(m, k, heights);
	s = rfm_hclust_summary(fcinfo, 0, k);
	InitMaterializedSRF(fcinfo, 0);
	for (int c = 0; c < k; c++)
	{
		Datum		values[5];
		bool		nulls[5] = {0};

		values[0] = Int32GetDatum(c + 1);
		values[1] = Int64GetDatum(s->sizes[c]);
		values[2] = Float8GetDatum((float8) s->sizes[c] / s->n);
		values[3] = Float8GetDatum(heights[c]);
		values[4] = PointerGetDatum(rfm_float8_array(s->means + c * s->dims, s->dims));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * rfm_hclust_scan(model, k_min, k_max): per k, the scores of the cut of k
 * clusters, on the leaves in the fit space: inertia (the within-cluster
 * sum of squares, with the micro-clusters' own for a two-step model),
 * silhouette on an evenly spaced sample of at most 1,000 leaves, Calinski-
 * Harabasz and Davies-Bouldin.  A two-step model scores its micro-clusters,
 * weighted by their customers: the silhouette and Davies-Bouldin then
 * approximate those of the customers.  IMMUTABLE STRICT.
 */
PG_FUNCTION_INFO_V1(rfm_hclust_scan);
Datum
rfm_hclust_scan(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HclustModel *m = read_model(fcinfo, 0);
	int32		k_min = PG_GETARG_INT32(1);
	int32		k_max = PG_GETARG_INT32(2);

	if (k_max < k_min)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k_max (%d) must not be less than k_min (%d)", k_max, k_min),
				 errhint("Pass the range of k from the smaller to the larger.")));
	check_cut_k(m, k_min);
	check_cut_k(m, k_max);
	InitMaterializedSRF(fcinfo, 0);
	for (int k = k_min; k <= k_max; k++)
	{
		RfmClusterScores scores;
		Datum		values[5];
		bool		nulls[5] = {0};

		CHECK_FOR_INTERRUPTS();
		cut(m, k, NULL);
		rfm_cluster_scores(m->leaf_centroids, m->two_step ? m->leaf_sizes : NULL,
						   m->labels, m->leaves, k, m->dims, m->micro_inertia,
						   HCLUST_SILHOUETTE_SAMPLE, &scores);
		values[0] = Int32GetDatum(k);
		values[1] = Float8GetDatum(scores.inertia);
		values[2] = Float8GetDatum(scores.silhouette);
		values[3] = Float8GetDatum(scores.calinski_harabasz);
		values[4] = Float8GetDatum(scores.davies_bouldin);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * The clusters of the cut of k of the model argument argno, for profiles: customers, means in the
 * features' own units, and z-scores from the means in the fit space.
 */
RfmClusterSummary *
rfm_hclust_summary(FunctionCallInfo fcinfo, int argno, int k)
{
	HclustModel *m = read_model(fcinfo, argno);
	RfmClusterSummary *s = palloc0(sizeof(RfmClusterSummary));
	int			dims = m->dims;

	check_cut_k(m, k);
	cut(m, k, NULL);
	s->k = k;
	s->dims = dims;
	s->n = m->n;
	s->prep = m->prep;
	s->sizes = palloc0(sizeof(int64) * k);
	s->means = palloc0(sizeof(float8) * k * dims);
	s->population_mean = palloc(sizeof(float8) * dims);
	for (int64 i = 0; i < m->leaves; i++)
	{
		int			c = m->labels[i];

		s->sizes[c] += (int64) m->leaf_sizes[i];
		for (int j = 0; j < dims; j++)
			s->means[c * dims + j] += m->leaf_sizes[i] * m->leaf_means[i * dims + j];
	}
	for (int c = 0; c < k; c++)
		for (int j = 0; j < dims; j++)
			s->means[c * dims + j] /= s->sizes[c];
	for (int j = 0; j < dims; j++)
		s->population_mean[j] = rfm_prep_population_mean(m->prep, j);
	s->z = palloc(sizeof(float8) * k * dims);
	for (int c = 0; c < k; c++)
		(void) rfm_prep_zscores(m->prep, m->cut_centroids + c * dims, s->z + c * dims);
	return s;
}
