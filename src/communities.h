/*-------------------------------------------------------------------------
 *
 * communities.h
 *	  Micro-segments: the communities of customers and items on the
 *	  bipartite purchase graph, for the functions built on them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_COMMUNITIES_H
#define RFM_COMMUNITIES_H

#include "graph_input.h"

extern int32 *rfm_micro_segment_partition(RfmGraphInput *in,
										  float8 resolution, int32 seed,
										  int32 *ncommunities);

#endif							/* RFM_COMMUNITIES_H */
