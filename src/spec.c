/*-------------------------------------------------------------------------
 *
 * spec.c
 *	  The spec argument of the per-customer aggregates, parsed once per
 *	  call site.
 *
 * Every row of an aggregate passes the same spec, and parsing it (a time
 * zone's lookup, a grain's name) would cost more than the row's own work.
 * So the parsed form is kept in the call site's fn_extra beside the bytes
 * it was parsed from, and parsed again only when the bytes change.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "spec.h"

#include "access/htup_details.h"
#include "utils/memutils.h"

/* the bytes of the spec, then the parsed form */
typedef struct SpecCache
{
	struct varlena *spec;
} SpecCache;

#define PARSED(cache)	((char *) (cache) + MAXALIGN(sizeof(SpecCache)))

/*
 * The parsed spec of argument argno.  A NULL spec is an error (hint: how
 * to write one); so is whatever parse refuses.
 */
const void *
rfm_spec_arg(FunctionCallInfo fcinfo, int argno, Size parsed_size,
			 RfmSpecParse parse, const char *hint)
{
	SpecCache  *cache = (SpecCache *) fcinfo->flinfo->fn_extra;
	struct varlena *spec;
	MemoryContext old;
	void	   *parsed;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("spec must not be NULL"),
				 errhint("%s", hint)));
	spec = PG_DETOAST_DATUM(PG_GETARG_DATUM(argno));
	if (cache != NULL && VARSIZE(cache->spec) == VARSIZE(spec) &&
		memcmp(cache->spec, spec, VARSIZE(spec)) == 0)
		return PARSED(cache);

	/* what parse keeps (a time zone, say) lives as long as the call site */
	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	parsed = palloc0(parsed_size);
	parse((HeapTupleHeader) spec, parsed);
	if (cache == NULL)
		cache = palloc0(MAXALIGN(sizeof(SpecCache)) + parsed_size);
	else
		pfree(cache->spec);
	memcpy(PARSED(cache), parsed, parsed_size);
	pfree(parsed);
	cache->spec = palloc(VARSIZE(spec));
	memcpy(cache->spec, spec, VARSIZE(spec));
	MemoryContextSwitchTo(old);
	fcinfo->flinfo->fn_extra = cache;
	return PARSED(cache);
}
