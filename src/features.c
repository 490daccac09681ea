/*-------------------------------------------------------------------------
 *
 * features.c
 *	  Feature preparation shared by every clustering model (rfm_kmeans,
 *	  rfm_hclust): names, per-feature transforms and scaling, fitted on the
 *	  data and stored in the model, so that scoring a customer later
 *	  applies exactly the preparation the model was fitted with.
 *
 * The feature_names argument of a fit has one element per feature: its
 * name, then optionally ':' and the preparation, words separated by spaces:
 *
 *		'recency'						no transform
 *		'frequency: log1p'				sign(x) * ln(1 + |x|)
 *		'monetary: clip=0.99 log1p'		clip to the 1% and 99% quantiles, then log1p
 *		'tenure: rank'					the value's quantile, 0..1, in the fitted data
 *		'age: robust'					scale by median and IQR instead of z-scores
 *
 * Each feature goes raw -> clip -> log1p or rank -> scaling.  Scaling is the
 * z-score with the population standard deviation (standardize=true, the
 * default), the median and interquartile range ("robust"), or none.  The
 * quantiles are of type 7 (linear interpolation, as rfm_breaks).  The rank
 * keeps 101 quantiles (every percentile) of the fitted data, so a model
 * stays small whatever the number of customers; values between two
 * percentiles are interpolated, and a value equal to several (a count
 * shared by many customers) takes the middle of their range.
 *
 * A feature with |skewness| above 3 and no clip, log1p or rank gets a
 * NOTICE that names it: a heavy tail lets a few customers decide the
 * clusters.  Its hint suggests log1p for a long right tail (money, counts)
 * and clip or rank for a long left one, which log1p would stretch further.
 *
 * Memory: a fit keeps one column of n float8 (8 bytes per customer) while
 * it computes quantiles, besides the points the caller holds.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "cluster_model.h"
#include "features.h"

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "executor/executor.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"

/* percentiles a rank transform keeps: 0, 1, ..., 100 */
#define PREP_RANK_GRID			101

/* the clip quantile q clips to [quantile(1 - q), quantile(q)] */
#define PREP_CLIP_MIN			0.5
#define PREP_CLIP_MAX			1.0

/* a NOTICE for |skewness| above this, on at least this many customers */
#define PREP_SKEW_LIMIT			3.0
#define PREP_SKEW_MIN_N			20

#define PREP_SPEC_HINT "Write each element as a name, optionally followed by ':' and log1p, rank, robust or clip=0.99, such as 'monetary: clip=0.99 log1p'."

const char *const rfm_prep_fields[RFM_PREP_NFIELDS] = {
	"feature_names", "transforms", "clip_low", "clip_high", "quantiles",
	"prep_mean", "prep_std", "population_mean"
};

typedef enum PrepShape
{
	SHAPE_NONE,
	SHAPE_LOG1P,
	SHAPE_RANK
} PrepShape;

typedef struct PrepFeature
{
	char	   *name;			/* NULL when the features are unnamed */
	bool		clip;
	float8		clip_q;
	PrepShape	shape;
	bool		robust;
	/* fitted */
	float8		clip_low;		/* -Infinity without clip */
	float8		clip_high;		/* Infinity without clip */
	float8	   *grid;			/* rank: PREP_RANK_GRID quantiles */
	float8		center;
	float8		scale;
	float8		prep_mean;		/* of the clipped, transformed values */
	float8		prep_std;
	float8		population_mean;	/* of the raw values */
} PrepFeature;

struct RfmPrep
{
	int			dims;
	bool		standardize;
	bool		named;
	bool		has_stats;		/* prep_mean, prep_std, population_mean */
	PrepFeature *f;
};

/*
 * Read the words of a feature's preparation (spaces between them) into f.
 * A problem is an error naming the feature when report is set; else the
 * result is false (a model's stored words, checked when it is read).
 */
static bool
parse_words(char *words, PrepFeature *f, const char *name, bool report)
{
	char	   *save = NULL;

	for (char *w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save))
	{
		if (strcmp(w, "log1p") == 0 || strcmp(w, "rank") == 0)
		{
			if (f->shape != SHAPE_NONE)
			{
				if (!report)
					return false;
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("feature \"%s\" may have one of log1p and rank, not two", name),
						 errhint(PREP_SPEC_HINT)));
			}
			f->shape = w[0] == 'l' ? SHAPE_LOG1P : SHAPE_RANK;
		}
		else if (strcmp(w, "robust") == 0 && !f->robust)
			f->robust = true;
		else if (strncmp(w, "clip=", 5) == 0 && !f->clip)
		{
			char	   *end;

			f->clip = true;
			f->clip_q = strtod(w + 5, &end);
			if (*end != '\0' || end == w + 5)
			{
				if (!report)
					return false;
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid preparation \"%s\" of feature \"%s\"", w, name),
						 errhint(PREP_SPEC_HINT)));
			}
			if (!(f->clip_q > PREP_CLIP_MIN && f->clip_q < PREP_CLIP_MAX))
			{
				if (!report)
					return false;
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("clip quantile of feature \"%s\" must be above 0.5 and below 1, not %s",
								name, w + 5),
						 errhint("clip=0.99 clips to the 1%% and 99%% quantiles of the fitted data.")));
			}
		}
		else if (strcmp(w, "none") != 0)
		{
			if (!report)
				return false;
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid preparation \"%s\" of feature \"%s\"", w, name),
					 errhint(PREP_SPEC_HINT)));
		}
	}
	return true;
}

/* parse one element of feature_names, 'name[: words]', into f */
static void
parse_element(const char *element, PrepFeature *f)
{
	char	   *copy = pstrdup(element);
	char	   *colon = strchr(copy, ':');
	char	   *name;
	int			len;

	if (colon != NULL)
		*colon = '\0';
	/* the name, without surrounding spaces */
	name = copy;
	while (*name == ' ')
		name++;
	len = strlen(name);
	while (len > 0 && name[len - 1] == ' ')
		name[--len] = '\0';
	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("feature name must not be empty in \"%s\"", element),
				 errhint(PREP_SPEC_HINT)));
	f->name = name;
	if (colon != NULL)
		(void) parse_words(colon + 1, f, name, true);
}

/* the canonical text of a feature's transforms, as the model stores it */
static char *
transform_text(const PrepFeature *f)
{
	StringInfoData s;

	initStringInfo(&s);
	if (f->clip)
	{
		char		q[DOUBLE_SHORTEST_DECIMAL_LEN];

		/* the shortest text that reads back as the same double */
		double_to_shortest_decimal_buf(f->clip_q, q);
		appendStringInfo(&s, "clip=%s", q);
	}
	if (f->shape != SHAPE_NONE)
		appendStringInfo(&s, "%s%s", s.len > 0 ? " " : "",
						 f->shape == SHAPE_LOG1P ? "log1p" : "rank");
	if (f->robust)
		appendStringInfo(&s, "%s%s", s.len > 0 ? " " : "", "robust");
	if (s.len == 0)
		appendStringInfoString(&s, "none");
	return s.data;
}

/*
 * Parse feature_names (NULL: unnamed features, no transforms) for dims
 * features.
 */
static RfmPrep *
parse_spec(ArrayType *spec, int dims, bool standardize)
{
	RfmPrep    *p = palloc0(sizeof(RfmPrep));

	p->dims = dims;
	p->standardize = standardize;
	p->f = palloc0(sizeof(PrepFeature) * dims);
	if (spec != NULL)
	{
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		if (ARR_NDIM(spec) > 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("feature_names must be a one-dimensional array")));
		deconstruct_array(spec, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
		if (n != dims)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("feature_names must have %d elements, one per feature, not %d", dims, n),
					 errhint("Name every feature, in the order of the features array.")));
		for (int j = 0; j < dims; j++)
		{
			if (nulls[j])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("feature_names must not contain NULL"),
						 errhint(PREP_SPEC_HINT)));
			parse_element(TextDatumGetCString(elems[j]), &p->f[j]);
			for (int i = 0; i < j; i++)
				if (strcmp(p->f[i].name, p->f[j].name) == 0)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("feature name \"%s\" appears twice", p->f[j].name),
							 errhint("Give every feature its own name.")));
		}
		p->named = true;
	}
	for (int j = 0; j < dims; j++)
	{
		p->f[j].clip_low = -get_float8_infinity();
		p->f[j].clip_high = get_float8_infinity();
		p->f[j].center = 0;
		p->f[j].scale = 1;
	}
	return p;
}

/* a preparation to fit, from feature_names (NULL: unnamed, no transforms) */
RfmPrep *
rfm_prep_create(ArrayType *spec, int dims, bool standardize)
{
	return parse_spec(spec, dims, standardize);
}

static int
float8_cmp(const void *a, const void *b)
{
	float8		x = *(const float8 *) a;
	float8		y = *(const float8 *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/* type 7 quantile of n sorted values */
static float8
quantile7(const float8 *sorted, int64 n, float8 q)
{
	float8		h = (n - 1) * q;
	int64		lo = (int64) floor(h);

	if (lo >= n - 1)
		return sorted[n - 1];
	return sorted[lo] + (h - lo) * (sorted[lo + 1] - sorted[lo]);
}

/* the transform of a value before scaling: clip, then log1p or rank */
static float8
shape_value(const PrepFeature *f, float8 v)
{
	if (v < f->clip_low)
		v = f->clip_low;
	if (v > f->clip_high)
		v = f->clip_high;
	if (f->shape == SHAPE_LOG1P)
		return v < 0 ? -log1p(-v) : log1p(v);
	if (f->shape == SHAPE_RANK)
	{
		const float8 *g = f->grid;
		int			below = 0;	/* grid points < v */
		int			upto = 0;	/* grid points <= v */
		int			lo = 0,
					hi = PREP_RANK_GRID;

		/* binary searches: the grid is sorted */
		while (lo < hi)
		{
			int			mid = (lo + hi) / 2;

			if (g[mid] < v)
				lo = mid + 1;
			else
				hi = mid;
		}
		below = lo;
		hi = PREP_RANK_GRID;
		while (lo < hi)
		{
			int			mid = (lo + hi) / 2;

			if (g[mid] <= v)
				lo = mid + 1;
			else
				hi = mid;
		}
		upto = lo;
		if (upto > below)		/* equal to grid points below..upto-1 */
			return (below + upto - 1) / 2.0 / (PREP_RANK_GRID - 1);
		if (below == 0)
			return 0;
		if (below == PREP_RANK_GRID)
			return 1;
		return (below - 1 + (v - g[below - 1]) / (g[below] - g[below - 1])) /
			(PREP_RANK_GRID - 1);
	}
	return v;
}

/* NOTICE when a feature without a transform is heavily skewed */
static void
check_skew(const RfmPrep *p, int j, const float8 *raw, int64 n)
{
	const PrepFeature *f = &p->f[j];
	int			dims = p->dims;
	float8		mean = 0,
				m2 = 0,
				m3 = 0,
				skew;

	if (f->clip || f->shape != SHAPE_NONE || n < PREP_SKEW_MIN_N)
		return;
	for (int64 i = 0; i < n; i++)
		mean += raw[i * dims + j];
	mean /= n;
	for (int64 i = 0; i < n; i++)
	{
		float8		d = raw[i * dims + j] - mean;

		m2 += d * d;
		m3 += d * d * d;
	}
	m2 /= n;
	m3 /= n;
	if (m2 <= 0)
		return;
	skew = m3 / pow(m2, 1.5);
	if (fabs(skew) <= PREP_SKEW_LIMIT)
		return;
	/* log1p pulls in a long right tail; a left tail needs clip or rank */
	if (p->named)
		ereport(NOTICE,
				(errmsg("feature \"%s\" is heavily skewed (skewness %.1f)", f->name, skew),
				 skew > 0 ?
				 errhint("Prepare it with log1p, as '%s: log1p' in feature_names, so that a few extreme customers do not decide the clusters.",
						 f->name) :
				 errhint("Prepare it with clip=0.99 or rank, as '%s: rank' in feature_names, so that a few extreme customers do not decide the clusters.",
						 f->name)));
	else
		ereport(NOTICE,
				(errmsg("feature %d is heavily skewed (skewness %.1f)", j + 1, skew),
				 skew > 0 ?
				 errhint("Prepare it with log1p: name the features, with ': log1p' after this one's name, such as 'monetary: log1p', so that a few extreme customers do not decide the clusters.") :
				 errhint("Prepare it with clip=0.99 or rank: name the features, with ': rank' after this one's name, so that a few extreme customers do not decide the clusters.")));
}

/*
 * Fit the preparation on n points of raw values (n x dims, sorted as
 * rfm_points_sorted leaves them, so the sums do not depend on row order).
 * mean_var is the mean per-feature variance of the prepared points, the
 * scale of k-means' tolerance.
 */
void
rfm_prep_fit(RfmPrep *p, const float8 *raw, int64 n, float8 *mean_var)
{
	int			dims = p->dims;
	float8	   *col = NULL;

	*mean_var = 0;
	for (int j = 0; j < dims; j++)
	{
		PrepFeature *f = &p->f[j];
		float8		s = 0,
					ss = 0,
					rs = 0;

		CHECK_FOR_INTERRUPTS();
		check_skew(p, j, raw, n);
		for (int64 i = 0; i < n; i++)
			rs += raw[i * dims + j];
		f->population_mean = rs / n;

		if (f->clip || f->shape == SHAPE_RANK || f->robust)
		{
			if (col == NULL)
				col = palloc_extended(n * sizeof(float8), MCXT_ALLOC_HUGE);
			for (int64 i = 0; i < n; i++)
				col[i] = raw[i * dims + j];
			qsort(col, n, sizeof(float8), float8_cmp);
			if (f->clip)
			{
				f->clip_low = quantile7(col, n, 1 - f->clip_q);
				f->clip_high = quantile7(col, n, f->clip_q);
			}
			if (f->shape == SHAPE_RANK)
			{
				/* the column is sorted: clipping keeps it sorted */
				f->grid = palloc(PREP_RANK_GRID * sizeof(float8));
				for (int g = 0; g < PREP_RANK_GRID; g++)
					f->grid[g] = Min(Max(quantile7(col, n, (float8) g / (PREP_RANK_GRID - 1)),
										 f->clip_low), f->clip_high);
			}
		}

		/* mean and variance of the prepared values, as k-means has them */
		for (int64 i = 0; i < n; i++)
			s += shape_value(f, raw[i * dims + j]);
		f->prep_mean = s / n;
		for (int64 i = 0; i < n; i++)
		{
			float8		t = shape_value(f, raw[i * dims + j]) - f->prep_mean;

			ss += t * t;
		}
		f->prep_std = sqrt(ss / n);

		if (f->robust)
		{
			for (int64 i = 0; i < n; i++)
				col[i] = shape_value(f, raw[i * dims + j]);
			qsort(col, n, sizeof(float8), float8_cmp);
			f->center = quantile7(col, n, 0.5);
			f->scale = quantile7(col, n, 0.75) - quantile7(col, n, 0.25);
			if (f->scale == 0)
				f->scale = 1;
		}
		else
		{
			f->center = f->prep_mean;
			f->scale = f->prep_std;
			if (f->scale == 0 || !p->standardize)
				f->scale = 1;
			if (!p->standardize)
				f->center = 0;
		}
		*mean_var += (ss / n) / (f->scale * f->scale) / dims;
	}
	p->has_stats = true;
	if (col != NULL)
		pfree(col);
}

/* prepare one point: raw (dims values) into out, in the fit space */
void
rfm_prep_apply(const RfmPrep *p, const float8 *raw, float8 *out)
{
	for (int j = 0; j < p->dims; j++)
	{
		const PrepFeature *f = &p->f[j];

		out[j] = (shape_value(f, raw[j]) - f->center) / f->scale;
	}
}

/* a prepared copy of n points */
float8 *
rfm_prep_apply_all(const RfmPrep *p, const float8 *raw, int64 n)
{
	float8	   *x = palloc_extended((Size) n * p->dims * sizeof(float8), MCXT_ALLOC_HUGE);

	for (int64 i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		rfm_prep_apply(p, raw + i * p->dims, x + i * p->dims);
	}
	return x;
}

/* the scaling of each feature: prepared = (shaped - center) / scale */
void
rfm_prep_scaling(const RfmPrep *p, float8 *center, float8 *scale)
{
	for (int j = 0; j < p->dims; j++)
	{
		center[j] = p->f[j].center;
		scale[j] = p->f[j].scale;
	}
}

/* fill the RFM_PREP_NFIELDS model fields, in rfm_prep_fields' order */
void
rfm_prep_store(const RfmPrep *p, Datum *values, bool *nulls)
{
	int			dims = p->dims;
	Datum	   *names = palloc(sizeof(Datum) * dims);
	Datum	   *transforms = palloc(sizeof(Datum) * dims);
	float8	   *v = palloc(sizeof(float8) * dims * 5);
	float8	   *grids;
	int			nrank = 0;

	for (int j = 0; j < dims; j++)
	{
		const PrepFeature *f = &p->f[j];

		if (p->named)
			names[j] = CStringGetTextDatum(f->name);
		transforms[j] = CStringGetTextDatum(transform_text(f));
		v[j] = f->clip_low;
		v[dims + j] = f->clip_high;
		v[2 * dims + j] = f->prep_mean;
		v[3 * dims + j] = f->prep_std;
		v[4 * dims + j] = f->population_mean;
		if (f->shape == SHAPE_RANK)
			nrank++;
	}
	grids = palloc(sizeof(float8) * Max(nrank, 1) * PREP_RANK_GRID);
	nrank = 0;
	for (int j = 0; j < dims; j++)
		if (p->f[j].shape == SHAPE_RANK)
			memcpy(grids + PREP_RANK_GRID * nrank++, p->f[j].grid, sizeof(float8) * PREP_RANK_GRID);

	memset(nulls, 0, sizeof(bool) * RFM_PREP_NFIELDS);
	nulls[RFM_PREP_FEATURE_NAMES] = !p->named;
	if (p->named)
		values[RFM_PREP_FEATURE_NAMES] = PointerGetDatum(construct_array(names, dims, TEXTOID, -1, false, TYPALIGN_INT));
	values[RFM_PREP_TRANSFORMS] = PointerGetDatum(construct_array(transforms, dims, TEXTOID, -1, false, TYPALIGN_INT));
	values[RFM_PREP_CLIP_LOW] = PointerGetDatum(rfm_float8_array(v, dims));
	values[RFM_PREP_CLIP_HIGH] = PointerGetDatum(rfm_float8_array(v + dims, dims));
	values[RFM_PREP_QUANTILES] = PointerGetDatum(rfm_float8_array(grids, nrank * PREP_RANK_GRID));
	values[RFM_PREP_PREP_MEAN] = PointerGetDatum(rfm_float8_array(v + 2 * dims, dims));
	values[RFM_PREP_PREP_STD] = PointerGetDatum(rfm_float8_array(v + 3 * dims, dims));
	values[RFM_PREP_POPULATION_MEAN] = PointerGetDatum(rfm_float8_array(v + 4 * dims, dims));
}

/* the elements of a text[] model field with dims elements, or NULL */
static Datum *
model_texts(const RfmModelKind *kind, HeapTupleHeader t, int attno, int dims)
{
	bool		isnull;
	Datum		d = GetAttributeByNum(t, attno, &isnull);
	ArrayType  *a;
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (isnull)
		return NULL;
	a = DatumGetArrayTypeP(d);
	if (ARR_ELEMTYPE(a) != TEXTOID || ARR_NDIM(a) > 1)
		rfm_model_malformed(kind);
	deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n != dims)
		rfm_model_malformed(kind);
	for (int j = 0; j < n; j++)
		if (nulls[j])
			rfm_model_malformed(kind);
	return elems;
}

/*
 * The preparation stored in a model: center and scale at the given
 * attribute numbers, the RFM_PREP_NFIELDS fields from first_attno (0: the
 * model's type has none, as 0.1's rfm_kmeans_model).  A k-means model made
 * before 0.3 has none of these fields, or has them NULL: its features were
 * z-scored (standardize) or taken as they are, with no transform, and
 * scoring it gives what it gave.  Anything inconsistent is a malformed
 * model.  Allocated in the current memory context.
 */
RfmPrep *
rfm_prep_load(const RfmModelKind *kind, HeapTupleHeader t, int dims,
			  int center_attno, int scale_attno, int first_attno,
			  bool standardize)
{
	RfmPrep    *p = parse_spec(NULL, dims, standardize);
	const float8 *center = rfm_model_float8s(kind, t, center_attno, dims);
	const float8 *scale = rfm_model_float8s(kind, t, scale_attno, dims);
	Datum	   *names = NULL;
	Datum	   *transforms = NULL;
	const float8 *low,
			   *high,
			   *grids,
			   *prep_mean,
			   *prep_std,
			   *pop_mean;
	int			nrank = 0;

	if (center == NULL || scale == NULL)
		rfm_model_malformed(kind);
	if (first_attno > 0)
	{
		names = model_texts(kind, t, first_attno + RFM_PREP_FEATURE_NAMES, dims);
		transforms = model_texts(kind, t, first_attno + RFM_PREP_TRANSFORMS, dims);
	}
	for (int j = 0; j < dims; j++)
	{
		if (!(scale[j] > 0) || isinf(scale[j]) || isnan(center[j]) || isinf(center[j]))
			rfm_model_malformed(kind);
		p->f[j].center = center[j];
		p->f[j].scale = scale[j];
	}
	if (names != NULL)
	{
		p->named = true;
		for (int j = 0; j < dims; j++)
			p->f[j].name = TextDatumGetCString(names[j]);
	}
	if (transforms == NULL)
	{
		/* a model from before 0.3: its scaling was the z-score, or none */
		if (standardize)
			for (int j = 0; j < dims; j++)
			{
				p->f[j].prep_mean = center[j];
				p->f[j].prep_std = scale[j];
			}
		return p;
	}
	for (int j = 0; j < dims; j++)
	{
		PrepFeature f = {0};

		/* the stored words are checked as fitting checked them */
		if (!parse_words(TextDatumGetCString(transforms[j]), &f, NULL, false))
			rfm_model_malformed(kind);
		p->f[j].clip = f.clip;
		p->f[j].clip_q = f.clip_q;
		p->f[j].shape = f.shape;
		p->f[j].robust = f.robust;
		if (f.shape == SHAPE_RANK)
			nrank++;
	}
	low = rfm_model_float8s(kind, t, first_attno + RFM_PREP_CLIP_LOW, dims);
	high = rfm_model_float8s(kind, t, first_attno + RFM_PREP_CLIP_HIGH, dims);
	grids = rfm_model_float8s(kind, t, first_attno + RFM_PREP_QUANTILES, nrank * PREP_RANK_GRID);
	prep_mean = rfm_model_float8s(kind, t, first_attno + RFM_PREP_PREP_MEAN, dims);
	prep_std = rfm_model_float8s(kind, t, first_attno + RFM_PREP_PREP_STD, dims);
	pop_mean = rfm_model_float8s(kind, t, first_attno + RFM_PREP_POPULATION_MEAN, dims);
	if (low == NULL || high == NULL || grids == NULL || prep_mean == NULL ||
		prep_std == NULL || pop_mean == NULL)
		rfm_model_malformed(kind);
	nrank = 0;
	for (int j = 0; j < dims; j++)
	{
		PrepFeature *f = &p->f[j];

		if (isnan(low[j]) || isnan(high[j]) || low[j] > high[j] ||
			(!f->clip && (!isinf(low[j]) || !isinf(high[j]))))
			rfm_model_malformed(kind);
		f->clip_low = low[j];
		f->clip_high = high[j];
		if (f->shape == SHAPE_RANK)
		{
			f->grid = palloc(sizeof(float8) * PREP_RANK_GRID);
			memcpy(f->grid, grids + PREP_RANK_GRID * nrank++, sizeof(float8) * PREP_RANK_GRID);
			for (int g = 0; g < PREP_RANK_GRID; g++)
				if (isnan(f->grid[g]) || (g > 0 && f->grid[g] < f->grid[g - 1]))
					rfm_model_malformed(kind);
		}
		f->prep_mean = prep_mean[j];
		f->prep_std = prep_std[j];
		f->population_mean = pop_mean[j];
	}
	p->has_stats = true;
	return p;
}

int
rfm_prep_dims(const RfmPrep *p)
{
	return p->dims;
}

/* the name of feature j (0-based): its own, or "feature <j+1>" */
const char *
rfm_prep_name(const RfmPrep *p, int j)
{
	if (p->named)
		return p->f[j].name;
	return psprintf("feature %d", j + 1);
}

/* the feature called name, or -1 */
int
rfm_prep_find(const RfmPrep *p, const char *name)
{
	for (int j = 0; j < p->dims; j++)
		if (strcmp(rfm_prep_name(p, j), name) == 0)
			return j;
	return -1;
}

/* the mean of feature j's raw values; NaN for a model from before 0.3 */
float8
rfm_prep_population_mean(const RfmPrep *p, int j)
{
	return p->has_stats ? p->f[j].population_mean : get_float8_nan();
}

/*
 * The z-scores of a cluster against the population: its mean of each
 * prepared feature (from its mean in the fit space) minus the population's,
 * in population standard deviations of the prepared feature.  Without a
 * transform this is the plain z-score of the feature's mean.  False when
 * the model does not know the population's spread (a model from before 0.3
 * fitted with standardize=false).
 */
bool
rfm_prep_zscores(const RfmPrep *p, const float8 *fit_means, float8 *z)
{
	if (!p->has_stats && !p->standardize)
		return false;
	for (int j = 0; j < p->dims; j++)
	{
		const PrepFeature *f = &p->f[j];
		float8		prepared = fit_means[j] * f->scale + f->center;

		z[j] = f->prep_std > 0 ? (prepared - f->prep_mean) / f->prep_std : 0;
	}
	return true;
}
