/*-------------------------------------------------------------------------
 *
 * cluster_model.c
 *	  Reading and writing the composite values clustering models are
 *	  stored as (rfm_kmeans_model, rfm_hclust_model).
 *
 * A model is a plain composite, so it can live in a table, a view or a
 * generated column.  The library checks the type's fields against its own
 * list before reading one (a library and an install script that disagree,
 * after an update without ALTER EXTENSION UPDATE, stop with an error instead
 * of reading the wrong field), checks every array it reads (a model typed
 * by hand is refused, never misread), and decodes a model once per call
 * site: the scoring functions are called once per customer with the same
 * model.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "cluster_model.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/memutils.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

/* a decoded model, kept in fn_extra with the bytes that identify it */
typedef struct ModelCache
{
	Size		len;
	char	   *bytes;
	void	   *decoded;
} ModelCache;

/*
 * Check that a row type is the model type as this library knows it, or as
 * the install script of an older version declared it (the first
 * legacy_nfields fields: the library keeps working before ALTER EXTENSION
 * UPDATE); returns its number of fields.
 */
int
rfm_model_check_type(const RfmModelKind *kind, TupleDesc tupdesc)
{
	bool		ok = tupdesc->natts == kind->nfields ||
		(kind->legacy_nfields > 0 && tupdesc->natts == kind->legacy_nfields);

	for (int i = 0; ok && i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		ok = !att->attisdropped && strcmp(NameStr(att->attname), kind->fields[i]) == 0;
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s does not have the fields this version of the library expects",
						kind->type_name),
				 errhint("Run ALTER EXTENSION rfm_segment UPDATE, so the SQL objects match the installed library.")));
	return tupdesc->natts;
}

/* the same check, for the type of a model value */
int
rfm_model_check_value(const RfmModelKind *kind, HeapTupleHeader model)
{
	TupleDesc	tupdesc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(model),
												 HeapTupleHeaderGetTypMod(model));
	int			natts = rfm_model_check_type(kind, tupdesc);

	ReleaseTupleDesc(tupdesc);
	return natts;
}

void
rfm_model_malformed(const RfmModelKind *kind)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("malformed %s", kind->type_name),
			 errhint("Pass a model returned by %s.", kind->fitter)));
}

bool
rfm_model_isnull(HeapTupleHeader model, int attno)
{
	bool		isnull;

	(void) GetAttributeByNum(model, attno, &isnull);
	return isnull;
}

/* an int field that must not be NULL */
int32
rfm_model_int32(const RfmModelKind *kind, HeapTupleHeader model, int attno)
{
	bool		isnull;
	Datum		d = GetAttributeByNum(model, attno, &isnull);

	if (isnull)
		rfm_model_malformed(kind);
	return DatumGetInt32(d);
}

/*
 * The elements of an array field of the given element type, which must
 * have exactly expected elements (in any number of dimensions) and no
 * NULL; NULL when the field is NULL.
 */
static const void *
model_array(const RfmModelKind *kind, HeapTupleHeader model, int attno,
			Oid elemtype, int64 expected)
{
	bool		isnull;
	Datum		d = GetAttributeByNum(model, attno, &isnull);
	ArrayType  *a;

	if (isnull)
		return NULL;
	a = DatumGetArrayTypeP(d);
	if (ARR_ELEMTYPE(a) != elemtype || ARR_HASNULL(a) ||
		ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a)) != expected)
		rfm_model_malformed(kind);
	/* no NULLs: the data follows the fixed overhead */
	return (const char *) a + ARR_OVERHEAD_NONULLS(ARR_NDIM(a));
}

const float8 *
rfm_model_float8s(const RfmModelKind *kind, HeapTupleHeader model, int attno,
				  int64 expected)
{
	return model_array(kind, model, attno, FLOAT8OID, expected);
}

const int64 *
rfm_model_int64s(const RfmModelKind *kind, HeapTupleHeader model, int attno,
				 int64 expected)
{
	return model_array(kind, model, attno, INT8OID, expected);
}

const int32 *
rfm_model_int32s(const RfmModelKind *kind, HeapTupleHeader model, int attno,
				 int64 expected)
{
	return model_array(kind, model, attno, INT4OID, expected);
}

/*
 * The bytes that identify the model argument argno without detoasting it:
 * a stored model arrives as a pointer to its TOAST value (or compressed),
 * and decompressing a large model on every call of a scoring function
 * would cost more than the scoring.  Values of other external kinds
 * (indirect, expanded) are flattened.
 */
static struct varlena *
model_key(FunctionCallInfo fcinfo, int argno)
{
	struct varlena *raw = (struct varlena *) DatumGetPointer(PG_GETARG_DATUM(argno));

	if (VARATT_IS_EXTERNAL(raw) && !VARATT_IS_EXTERNAL_ONDISK(raw))
		return pg_detoast_datum(raw);
	return raw;
}

/* what rfm_model_cache_store kept for the model argument argno, or NULL */
void *
rfm_model_cache_lookup(FunctionCallInfo fcinfo, int argno)
{
	ModelCache *c = (ModelCache *) fcinfo->flinfo->fn_extra;
	struct varlena *key = model_key(fcinfo, argno);

	if (c != NULL && c->len == VARSIZE_ANY(key) && memcmp(c->bytes, key, c->len) == 0)
		return c->decoded;
	return NULL;
}

/*
 * Keep decoded (allocated in fcinfo->flinfo->fn_mcxt) as the decoding of
 * the model argument argno for the rest of the query.
 */
void
rfm_model_cache_store(FunctionCallInfo fcinfo, int argno, void *decoded)
{
	ModelCache *c = (ModelCache *) fcinfo->flinfo->fn_extra;
	struct varlena *key = model_key(fcinfo, argno);
	Size		len = VARSIZE_ANY(key);

	if (c == NULL)
		c = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(ModelCache));
	else if (c->bytes != NULL)
		pfree(c->bytes);
	c->bytes = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, len);
	memcpy(c->bytes, key, len);
	c->len = len;
	c->decoded = decoded;
	fcinfo->flinfo->fn_extra = c;
}

/*
 * A float8 array of ndim dimensions (lengths in dims) holding the values
 * of v, built in place rather than through a Datum per value: a model's
 * leaves are large.
 */
static ArrayType *
float8_md_array(const float8 *v, int ndim, const int *dims)
{
	int64		n = 1;
	Size		bytes;
	ArrayType  *a;

	for (int i = 0; i < ndim; i++)
		n *= dims[i];
	/* an empty array has no dimensions */
	if (n == 0)
		ndim = 0;
	bytes = ARR_OVERHEAD_NONULLS(ndim) + n * sizeof(float8);
	a = palloc_extended(bytes, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	SET_VARSIZE(a, bytes);
	a->ndim = ndim;
	a->dataoffset = 0;
	a->elemtype = FLOAT8OID;
	for (int i = 0; i < ndim; i++)
	{
		ARR_DIMS(a)[i] = dims[i];
		ARR_LBOUND(a)[i] = 1;
	}
	/* no NULLs: the data follows the fixed overhead */
	memcpy((char *) a + ARR_OVERHEAD_NONULLS(ndim), v, n * sizeof(float8));
	return a;
}

ArrayType *
rfm_float8_array(const float8 *v, int64 n)
{
	int			dims[1] = {(int) n};

	return float8_md_array(v, 1, dims);
}

/* a rows x cols float8[][] of row-major values */
ArrayType *
rfm_float8_matrix(const float8 *v, int rows, int cols)
{
	int			dims[2] = {rows, cols};

	return float8_md_array(v, 2, dims);
}

ArrayType *
rfm_int64_array(const int64 *v, int64 n)
{
	Datum	   *d = palloc_extended(Max(n, 1) * sizeof(Datum), MCXT_ALLOC_HUGE);

	for (int64 i = 0; i < n; i++)
		d[i] = Int64GetDatum(v[i]);
	return construct_array(d, n, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
}

ArrayType *
rfm_int32_array(const int32 *v, int64 n)
{
	Datum	   *d = palloc_extended(Max(n, 1) * sizeof(Datum), MCXT_ALLOC_HUGE);

	for (int64 i = 0; i < n; i++)
		d[i] = Int32GetDatum(v[i]);
	return construct_array(d, n, INT4OID, sizeof(int32), true, TYPALIGN_INT);
}
