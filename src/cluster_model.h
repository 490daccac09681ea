/*-------------------------------------------------------------------------
 *
 * cluster_model.h
 *	  Reading and writing the composite values clustering models are
 *	  stored as (rfm_kmeans_model, rfm_hclust_model): the check of the
 *	  type against the library's list of fields, checked arrays, and a
 *	  model decoded once per call site.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_CLUSTER_MODEL_H
#define RFM_CLUSTER_MODEL_H

#include "compat.h"

#include "access/htup_details.h"
#include "fmgr.h"
#include "utils/array.h"

/* which model type a message is about */
typedef struct RfmModelKind
{
	const char *type_name;		/* rfm_kmeans_model */
	const char *fitter;			/* rfm_kmeans */
	const char *const *fields;	/* the library's list, in order */
	int			nfields;
	int			legacy_nfields; /* an older version's first fields, or 0 */
} RfmModelKind;

extern int	rfm_model_check_type(const RfmModelKind *kind, TupleDesc tupdesc);
extern int	rfm_model_check_value(const RfmModelKind *kind,
								  HeapTupleHeader model);
rfm_noreturn extern void rfm_model_malformed(const RfmModelKind *kind);
extern bool rfm_model_isnull(HeapTupleHeader model, int attno);
extern int32 rfm_model_int32(const RfmModelKind *kind, HeapTupleHeader model,
							 int attno);
extern const float8 *rfm_model_float8s(const RfmModelKind *kind,
									   HeapTupleHeader model, int attno,
									   int64 expected);
extern const int64 *rfm_model_int64s(const RfmModelKind *kind,
									 HeapTupleHeader model, int attno,
									 int64 expected);
extern const int32 *rfm_model_int32s(const RfmModelKind *kind,
									 HeapTupleHeader model, int attno,
									 int64 expected);
extern void *rfm_model_cache_lookup(FunctionCallInfo fcinfo, int argno);
extern void rfm_model_cache_store(FunctionCallInfo fcinfo, int argno,
								  void *decoded);

extern ArrayType *rfm_float8_array(const float8 *v, int64 n);
extern ArrayType *rfm_float8_matrix(const float8 *v, int rows, int cols);
extern ArrayType *rfm_int64_array(const int64 *v, int64 n);
extern ArrayType *rfm_int32_array(const int32 *v, int64 n);

#endif							/* RFM_CLUSTER_MODEL_H */
