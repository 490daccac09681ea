/*-------------------------------------------------------------------------
 *
 * spec.h
 *	  The spec argument of the per-customer aggregates that states queries
 *	  run (rfm_active_periods, rfm_clv_state_agg): a composite value, which
 *	  has no collation and so travels to foreign servers, parsed once per
 *	  call site.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_SPEC_H
#define RFM_SPEC_H

#include "fmgr.h"
#include "access/htup.h"

/* fill parsed (parsed_size bytes, zeroed) from the composite row, or ereport */
typedef void (*RfmSpecParse) (HeapTupleHeader row, void *parsed);

extern const void *rfm_spec_arg(FunctionCallInfo fcinfo, int argno,
								Size parsed_size, RfmSpecParse parse,
								const char *hint);

#endif							/* RFM_SPEC_H */
