/*-------------------------------------------------------------------------
 *
 * incremental.h
 *	  An incremental model's stored state of a customer, brought to the
 *	  model's as_of (incremental.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_INCREMENTAL_H
#define RFM_INCREMENTAL_H

#include "state.h"

extern RfmState *rfm_history_at(RfmState *history, const RfmState *window,
								bool has_last, int64 last_n, Numeric last_w,
								int64 as_of);

#endif							/* RFM_INCREMENTAL_H */
