/*-------------------------------------------------------------------------
 *
 * leiden.h
 *	  Community detection by the Leiden algorithm: modularity with a
 *	  resolution, deterministic for a seed.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_LEIDEN_H
#define RFM_LEIDEN_H

#include "graph.h"

extern int32 rfm_leiden(const RfmGraphMemory *mem, const RfmGraph *g,
						float8 resolution, int32 seed, const bool *counted,
						int32 *membership);

#endif							/* RFM_LEIDEN_H */
