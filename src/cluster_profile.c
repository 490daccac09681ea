/*-------------------------------------------------------------------------
 *
 * cluster_profile.c
 *	  What a marketer reads about the clusters of a model, k-means or
 *	  hierarchical (rfm_cluster_profile): per cluster, its customers and
 *	  share, its share of revenue, its mean of every feature in the
 *	  features' own units and as a z-score against the population, its
 *	  three most distinctive features and a one-line description.
 *
 * The z-score of a feature is the cluster's mean of the prepared feature
 * (after the model's clip, log1p or rank) minus the population's, in
 * population standard deviations: without a transform, the plain z-score
 * of the cluster's mean; with one, the distance the model itself saw.  The
 * most distinctive features have the largest |z| (ties: the earlier
 * feature).
 *
 * The description names up to DESCRIBE_MAX_TRAITS traits: the features
 * with |z| of at least DESCRIBE_MIN_Z, the largest first.  A feature whose
 * name (in lower case) is one of the words below, or starts with one
 * followed by '_', gets that word's phrase; any other feature "high <name>"
 * or "low <name>".  Recency, frequency and monetary traits come first, in
 * that order, then "; " and the others:
 *
 *		recency							z > 0: "lapsed"		z < 0: "recent"
 *		frequency, orders				"frequent"			"rare"
 *		monetary, revenue, spend		"high spend"		"low spend"
 *
 * so a cluster reads "recent, frequent, high spend; low tenure".  With no
 * trait, "near average".  Memory: O(k * features).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "cluster_model.h"
#include "cluster_profile.h"
#include "hclust_model.h"
#include "kmeans.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/formatting.h"

/* a trait needs |z| of at least this; a description has at most this many */
#define DESCRIBE_MIN_Z			0.5
#define DESCRIBE_MAX_TRAITS		4

/* the most distinctive features listed per cluster */
#define PROFILE_DISTINCTIVE		3

/* the phrases of the RFM features, in the order a description lists them */
typedef struct Vocabulary
{
	const char *const *words;	/* NULL-terminated */
	const char *high;
	const char *low;
} Vocabulary;

static const char *const recency_words[] = {"recency", NULL};
static const char *const frequency_words[] = {"frequency", "orders", NULL};
static const char *const monetary_words[] = {"monetary", "revenue", "spend", NULL};

static const Vocabulary vocabulary[] = {
	{recency_words, "lapsed", "recent"},
	{frequency_words, "frequent", "rare"},
	{monetary_words, "high spend", "low spend"}
};

#define VOCABULARY_SIZE		lengthof(vocabulary)
#define MONETARY_ENTRY		2

/* the entry of vocabulary a feature name matches, or -1 */
static int
vocabulary_entry(const char *name)
{
	char	   *lower = asc_tolower(name, strlen(name));

	for (int e = 0; e < (int) VOCABULARY_SIZE; e++)
		for (const char *const *w = vocabulary[e].words; *w; w++)
		{
			size_t		len = strlen(*w);

			if (strncmp(lower, *w, len) == 0 && (lower[len] == '\0' || lower[len] == '_'))
				return e;
		}
	return -1;
}

/* features by |z|, largest first, ties by feature order */
static int
rank_by_z(const float8 *z, int dims, int *order)
{
	int			n = 0;

	for (int j = 0; j < dims; j++)
	{
		int			at = n++;

		/* insertion: stable, so equal |z| keep the feature order */
		while (at > 0 && fabs(z[order[at - 1]]) < fabs(z[j]))
		{
			order[at] = order[at - 1];
			at--;
		}
		order[at] = j;
	}
	return n;
}

/* the one-line description of a cluster (rule in the file's header) */
static char *
describe(const RfmPrep *prep, const float8 *z, const int *order, int dims)
{
	StringInfoData rfm;
	StringInfoData other;
	const char *phrase[VOCABULARY_SIZE] = {NULL};
	int			traits = 0;

	initStringInfo(&rfm);
	initStringInfo(&other);
	for (int i = 0; i < dims && traits < DESCRIBE_MAX_TRAITS; i++)
	{
		int			j = order[i];
		const char *name = rfm_prep_name(prep, j);
		int			e;

		if (fabs(z[j]) < DESCRIBE_MIN_Z)
			break;
		traits++;
		e = vocabulary_entry(name);
		if (e >= 0 && phrase[e] == NULL)
			phrase[e] = z[j] > 0 ? vocabulary[e].high : vocabulary[e].low;
		else
			appendStringInfo(&other, "%s%s %s", other.len > 0 ? ", " : "",
							 z[j] > 0 ? "high" : "low", name);
	}
	for (int e = 0; e < (int) VOCABULARY_SIZE; e++)
		if (phrase[e])
			appendStringInfo(&rfm, "%s%s", rfm.len > 0 ? ", " : "", phrase[e]);
	if (rfm.len > 0 && other.len > 0)
		appendStringInfo(&rfm, "; %s", other.data);
	else if (other.len > 0)
		appendStringInfoString(&rfm, other.data);
	else if (rfm.len == 0)
		appendStringInfoString(&rfm, "near average");
	return rfm.data;
}

/*
 * The feature revenue shares are of: revenue_feature when given (it must
 * be a feature), else the first named monetary, revenue or spend; -1 when
 * none is.
 */
static int
revenue_feature(const RfmPrep *prep, FunctionCallInfo fcinfo, int argno)
{
	int			dims = rfm_prep_dims(prep);

	if (!PG_ARGISNULL(argno))
	{
		char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(argno));
		int			j = rfm_prep_find(prep, name);

		if (j < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("revenue_feature \"%s\" is not a feature of the model", name),
					 errhint("Pass one of the model's feature_names, or NULL.")));
		return j;
	}
	for (int j = 0; j < dims; j++)
		if (vocabulary_entry(rfm_prep_name(prep, j)) == MONETARY_ENTRY)
			return j;
	return -1;
}

/* one row per cluster of the summary */
static void
emit_profile(FunctionCallInfo fcinfo, const RfmClusterSummary *s, int revenue)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			dims = s->dims;
	int		   *order = palloc(sizeof(int) * dims);
	float8		total_revenue = revenue >= 0 ? s->population_mean[revenue] * s->n : 0;

	InitMaterializedSRF(fcinfo, 0);
	for (int c = 0; c < s->k; c++)
	{
		Datum		values[8];
		bool		nulls[8] = {0};
		const float8 *z = s->z ? s->z + c * dims : NULL;

		values[0] = Int32GetDatum(c + 1);
		values[1] = Int64GetDatum(s->sizes[c]);
		values[2] = Float8GetDatum((float8) s->sizes[c] / s->n);
		if (revenue >= 0 && total_revenue > 0)
			values[3] = Float8GetDatum(s->means[c * dims + revenue] * s->sizes[c] / total_revenue);
		else
			nulls[3] = true;
		values[4] = PointerGetDatum(rfm_float8_array(s->means + c * dims, dims));
		if (z)
		{
			Datum	   *names = palloc(sizeof(Datum) * PROFILE_DISTINCTIVE);
			int			nd = Min(dims, PROFILE_DISTINCTIVE);

			rank_by_z(z, dims, order);
			for (int i = 0; i < nd; i++)
				names[i] = CStringGetTextDatum(rfm_prep_name(s->prep, order[i]));
			values[5] = PointerGetDatum(rfm_float8_array(z, dims));
			values[6] = PointerGetDatum(construct_array(names, nd, TEXTOID, -1, false, TYPALIGN_INT));
			values[7] = CStringGetTextDatum(describe(s->prep, z, order, dims));
		}
		else
			nulls[5] = nulls[6] = nulls[7] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

/*
 * rfm_cluster_profile(model rfm_kmeans_model, revenue_feature text): the
 * profile of every cluster (rule in the file's header).  Not STRICT, as
 * revenue_feature may be NULL: a NULL model has no clusters.  z,
 * distinctive and description are NULL for a model stored before 0.3 and
 * fitted with standardize=false, which does not know the population's
 * spread.  IMMUTABLE: it depends on its arguments only.
 */
PG_FUNCTION_INFO_V1(rfm_cluster_profile_kmeans);
Datum
rfm_cluster_profile_kmeans(PG_FUNCTION_ARGS)
{
	RfmClusterSummary *s;

	if (PG_ARGISNULL(0))
	{
		InitMaterializedSRF(fcinfo, 0);
		return (Datum) 0;
	}
	s = rfm_kmeans_summary(fcinfo, 0);
	emit_profile(fcinfo, s, revenue_feature(s->prep, fcinfo, 1));
	return (Datum) 0;
}

/*
 * rfm_cluster_profile(model rfm_hclust_model, k int, revenue_feature
 * text): the profile of the clusters of the cut of k (numbered as
 * rfm_hclust_cut numbers them).  Not STRICT: a NULL model or k has no
 * clusters.  IMMUTABLE: it depends on its arguments only.
 */
PG_FUNCTION_INFO_V1(rfm_cluster_profile_hclust);
Datum
rfm_cluster_profile_hclust(PG_FUNCTION_ARGS)
{
	RfmClusterSummary *s;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
	{
		InitMaterializedSRF(fcinfo, 0);
		return (Datum) 0;
	}
	s = rfm_hclust_summary(fcinfo, 0, PG_GETARG_INT32(1));
	emit_profile(fcinfo, s, revenue_feature(s->prep, fcinfo, 2));
	return (Datum) 0;
}
