/*-------------------------------------------------------------------------
 *
 * purchases.h
 *	  A customer's purchase days and spend, split at the end of a
 *	  calibration period: what the lifetime-value summary needs of them,
 *	  gathered from rows (rfm_clv_summary's hash table) or by the
 *	  rfm_clv_state_agg aggregate, and merged.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_PURCHASES_H
#define RFM_PURCHASES_H

#include "decimal.h"

#include "lib/stringinfo.h"
#include "pgtime.h"
#include "utils/date.h"

/*
 * Where purchases fall, as Julian day numbers: on or before cal_end they
 * are the calibration's, after it the holdout's, and after hold_end they
 * are not counted.  Without cal_end every day is the calibration's.
 */
typedef struct RfmClvBounds
{
	bool		has_cal_end;
	int32		cal_end;
	bool		has_hold_end;
	int32		hold_end;
} RfmClvBounds;

/* one customer's purchases; zeroed memory is a customer with none */
typedef struct RfmPurchases RfmPurchases;

/* what they summarize to, against the end of the calibration */
typedef struct RfmPurchaseSummary
{
	int32		x;				/* calibration days after the first */
	int32		first_day;
	int32		last_day;		/* the last calibration day */
	int32		x_holdout;		/* holdout days */
	bool		has_mean_spend;
	Datum		mean_spend;		/* numeric: the mean of the repeat days' */
	bool		has_spend_holdout;
	Datum		spend_holdout;	/* numeric */
} RfmPurchaseSummary;

extern void rfm_clv_bounds_set(RfmClvBounds *bounds, bool has_cal_end,
							   DateADT cal_end, bool has_hold_end,
							   DateADT hold_end);
extern int32 rfm_purchase_day(Datum value, Oid time_type, pg_tz *tz);

extern Size rfm_purchases_size(void);
extern void rfm_purchases_add(RfmPurchases *p, const RfmClvBounds *bounds,
							  int32 day, const RfmTerm *amount,
							  MemoryContext cxt);
extern void rfm_purchases_merge(RfmPurchases *p, const RfmPurchases *other,
								const RfmClvBounds *bounds, MemoryContext cxt);
extern bool rfm_purchases_summarize(RfmPurchases *p, int32 cal_end,
									bool has_amount,
									RfmPurchaseSummary *summary);
extern bool rfm_purchases_from_state(RfmPurchases *p, Datum state,
									 MemoryContext cxt);
extern int32 rfm_purchases_last_day(const RfmPurchases *p);
extern void rfm_purchases_write(const RfmPurchases *p, StringInfo buf);
extern void rfm_purchases_read(RfmPurchases *p, const char *data);

#endif							/* RFM_PURCHASES_H */
