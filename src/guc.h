/*-------------------------------------------------------------------------
 *
 * guc.h
 *	  The extension's settings: rfm_segment.max_memory, rfm_segment.scan and
 *	  rfm_segment.max_parallel_workers, rfm_segment.parallel_split.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_GUC_H
#define RFM_GUC_H

extern int	rfm_max_memory_kb;

typedef enum RfmScanMode
{
	RFM_SCAN_AUTO,
	RFM_SCAN_ROWS,
	RFM_SCAN_STATES
} RfmScanMode;

extern int	rfm_scan_mode;
extern int	rfm_max_parallel_workers;

typedef enum RfmParallelSplit
{
	RFM_SPLIT_AUTO,
	RFM_SPLIT_CUSTOMERS,
	RFM_SPLIT_BLOCKS
} RfmParallelSplit;

extern int	rfm_parallel_split;

extern void rfm_check_memory(Size bytes, const char *function,
							 const char *hint);

#endif							/* RFM_GUC_H */
