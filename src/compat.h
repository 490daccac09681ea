/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  What differs between the PostgreSQL versions rfm_segment is built and
 *	  tested on (15, 17 and 18; scripts/test-versions), in one place.
 *
 * Every PG_VERSION_NUM test of the extension lives here: a file that uses
 * an API whose header or signature changed includes this header, after
 * postgres.h, and calls the rfm_ name below, so that the rest of the code
 * reads the same on every version.  A guard is removed when the oldest
 * version it serves is no longer supported.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_COMPAT_H
#define RFM_COMPAT_H

/*
 * 16 moved the varlena macros (VARSIZE, SET_VARSIZE, VARDATA_ANY...) out of
 * postgres.h into varatt.h.
 */
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

/*
 * 16 gave float8in_internal an error-save context for soft errors; NULL
 * keeps the old behaviour of raising the error.
 */
#include "utils/float.h"
#if PG_VERSION_NUM >= 160000
#define rfm_float8in_internal(num, endptr, type_name, orig_string) \
	float8in_internal((num), (endptr), (type_name), (orig_string), NULL)
#else
#define rfm_float8in_internal(num, endptr, type_name, orig_string) \
	float8in_internal((num), (endptr), (type_name), (orig_string))
#endif

/*
 * 16 added a copy argument to tuplesort_getdatum; true returns a by-reference
 * value in the caller's memory, as 15 always did.
 */
#include "utils/tuplesort.h"
#if PG_VERSION_NUM >= 160000
#define rfm_tuplesort_getdatum(state, forward, val, isNull, abbrev) \
	tuplesort_getdatum((state), (forward), true, (val), (isNull), (abbrev))
#else
#define rfm_tuplesort_getdatum(state, forward, val, isNull, abbrev) \
	tuplesort_getdatum((state), (forward), (val), (isNull), (abbrev))
#endif

/*
 * 18 replaced pg_attribute_noreturn(), written after a declaration, by
 * pg_noreturn, written before it.  rfm_noreturn goes before the declaration
 * on every version (GCC and Clang take the attribute there).
 */
#if PG_VERSION_NUM >= 180000
#define rfm_noreturn pg_noreturn
#else
#define rfm_noreturn pg_attribute_noreturn()
#endif

/*
 * 18 gave heap_form_minimal_tuple an extra argument, bytes to leave free
 * before the tuple; none here.
 */
#include "access/htup_details.h"
#if PG_VERSION_NUM >= 180000
#define rfm_heap_form_minimal_tuple(desc, values, isnull) \
	heap_form_minimal_tuple((desc), (values), (isnull), 0)
#else
#define rfm_heap_form_minimal_tuple(desc, values, isnull) \
	heap_form_minimal_tuple((desc), (values), (isnull))
#endif

#endif							/* RFM_COMPAT_H */
