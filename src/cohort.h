/*-------------------------------------------------------------------------
 *
 * cohort.h
 *	  Periods (day, ISO week, month, quarter, year): numbers and labels.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_COHORT_H
#define RFM_COHORT_H

#include "datatype/timestamp.h"
#include "pgtime.h"
#include "utils/date.h"

typedef enum RfmGrain
{
	RFM_GRAIN_DAY,
	RFM_GRAIN_WEEK,
	RFM_GRAIN_MONTH,
	RFM_GRAIN_QUARTER,
	RFM_GRAIN_YEAR
} RfmGrain;

extern RfmGrain rfm_parse_grain(text *grain);
extern int32 rfm_period_of_day(int year, int month, int day, RfmGrain grain);
extern int32 rfm_period_of_timestamp(Timestamp ts, pg_tz *tz, RfmGrain grain,
									 const char *argname);
extern int32 rfm_period_of_date(DateADT date, RfmGrain grain,
								const char *argname);
extern int32 rfm_period_of_event(Datum value, Oid time_type, pg_tz *tz,
								 RfmGrain grain, const char *argname);
extern DateADT rfm_period_start_date(int32 period, RfmGrain grain);
extern text *rfm_period_label(int32 period, RfmGrain grain);

#endif							/* RFM_COHORT_H */
