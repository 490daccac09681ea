/*-------------------------------------------------------------------------
 *
 * segments.h
 *	  Segment names for R, F, M scores: rule sets compiled into lookup
 *	  tables, and the built-in rule sets.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_SEGMENTS_H
#define RFM_SEGMENTS_H

#include "lib/stringinfo.h"

/* the built-in rule sets (segments.c holds their rules) */
#define RFM_RULES_STANDARD	"standard"	/* R, F, M: the R rfm package */
#define RFM_RULES_RFFL		"rffl"		/* R, F, last-period F: no money */

typedef struct RfmSegmentMap RfmSegmentMap;

extern const char *rfm_default_rule_set(bool has_amount);
extern RfmSegmentMap *rfm_segment_map_load(Oid namespace, const char *rule_set,
										   MemoryContext mcxt);
extern text *rfm_segment_map_name(const RfmSegmentMap *map, int r, int f, int m);
extern void rfm_segment_map_write(const RfmSegmentMap *map, StringInfo buf);
extern RfmSegmentMap *rfm_segment_map_read(const char **cursor, MemoryContext mcxt);

#endif							/* RFM_SEGMENTS_H */
