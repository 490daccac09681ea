/*-------------------------------------------------------------------------
 *
 * dictionary.h
 *	  The distinct values of a column other than the customer's (a category,
 *	  an item) as dense ids, with their text and their order by text.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_DICTIONARY_H
#define RFM_DICTIONARY_H

#include "fmgr.h"

typedef struct RfmDictionary RfmDictionary;

extern RfmDictionary *rfm_dictionary_create(Oid relid, const char *column,
											const char *argname,
											Size payload_size,
											const char *function,
											const char *memory_hint);
extern void *rfm_dictionary_lookup(RfmDictionary *d, Datum value, int32 *id);
extern int32 rfm_dictionary_count(const RfmDictionary *d);
extern void *rfm_dictionary_payload(const RfmDictionary *d, int32 id);

/* after the scan: names, and ids ranked by name in byte order */
extern void rfm_dictionary_sort(RfmDictionary *d);
extern const char *rfm_dictionary_name(const RfmDictionary *d, int32 id);
extern int32 rfm_dictionary_rank(const RfmDictionary *d, int32 id);
extern int32 rfm_dictionary_at_rank(const RfmDictionary *d, int32 rank);

#endif							/* RFM_DICTIONARY_H */
