/*-------------------------------------------------------------------------
 *
 * spec.h
 *	  The spec argument of the per-customer aggregates that states queries
 *	  run (rfm_active_periods, rfm_clv_state_agg, rfm_journey_state_agg): a
 *	  composite value, which has no collation and so travels to foreign
 *	  servers, parsed once per call site; and how their transitions return
 *	  a state unchanged.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_SPEC_H
#define RFM_SPEC_H

#include "fmgr.h"
#include "access/htup.h"

/* fill parsed (parsed_size bytes, zeroed) from the composite row, or ereport */
typedef void (*RfmSpecParse) (HeapTupleHeader row, void *parsed);

/*
 * Return an internal state unchanged from a transition or combine
 * function: NULL (flagged as such) while the group has none yet.
 */
#define RFM_RETURN_STATE(st) \
	do { \
		if ((st) == NULL) \
			PG_RETURN_NULL(); \
		PG_RETURN_POINTER(st); \
	} while (0)

extern const void *rfm_spec_arg(FunctionCallInfo fcinfo, int argno,
								Size parsed_size, RfmSpecParse parse,
								const char *hint);

#endif							/* RFM_SPEC_H */
