/*-------------------------------------------------------------------------
 *
 * direct_scan.h
 *	  Reading a bare scan of one table without the executor (scan.c's).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_DIRECT_SCAN_H
#define RFM_DIRECT_SCAN_H

#include "executor/spi.h"
#include "storage/block.h"
#include "tcop/dest.h"

/* the most output columns a bare scan may have */
#define RFM_DIRECT_SCAN_MAX_COLUMNS	16

extern bool rfm_direct_scan(SPIPlanPtr plan, BlockNumber first, BlockNumber end,
							DestReceiver *dest);

#endif							/* RFM_DIRECT_SCAN_H */
