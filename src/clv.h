/*-------------------------------------------------------------------------
 *
 * clv.h
 *	  The SQL face of the customer-lifetime-value models, for the other
 *	  files that take a model or a customer's summary: reading a model
 *	  composite, and the checks of a customer's (x, t_x, t_cal).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_CLV_H
#define RFM_CLV_H

#include "fmgr.h"

#include "clv_fit.h"
#include "clv_model.h"

/* a function reads at most this many model arguments */
#define RFM_CLV_MODEL_SLOTS 2

extern void rfm_clv_read_model(FunctionCallInfo fcinfo, int argno, int slot,
							   RfmClvKind kind, float8 *params);
extern RfmTransactionModel rfm_clv_transaction_model(FunctionCallInfo fcinfo,
													 int argno, RfmClvKind kind);
extern void rfm_clv_check_customer(int32 x, float8 t_x, float8 t_cal);

#endif							/* RFM_CLV_H */
