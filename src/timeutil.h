/*-------------------------------------------------------------------------
 *
 * timeutil.h
 *	  Time conversions shared by every layer, with one set of checks and
 *	  messages.
 *
 * Inside the extension a time is int64 microseconds since 2000-01-01 UTC;
 * a date is the microseconds of its midnight, so date and timestamptz
 * forms share one set of code.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RFM_TIMEUTIL_H
#define RFM_TIMEUTIL_H

#include "datatype/timestamp.h"
#include "pgtime.h"
#include "utils/datetime.h"
#include "utils/date.h"

extern int64 rfm_timestamp_usecs(TimestampTz t, const char *argname);
extern int64 rfm_date_usecs(DateADT d, const char *argname);
extern int64 rfm_wall_usecs(Timestamp t, pg_tz *tz, const char *argname);
extern int64 rfm_as_of_usecs(TimestampTz as_of, bool is_date,
							 const char *argname);
extern Datum rfm_usecs_datum(int64 t, bool is_date);
extern int64 rfm_event_usecs(Datum value, bool is_date, const char *argname);
extern float8 rfm_days_between(int64 from, int64 to);
extern int64 rfm_time_plus(int64 t, const Interval *span);
extern int64 rfm_time_minus(int64 t, const Interval *span);
extern int64 rfm_period_start(int64 as_of, const Interval *last_period);
extern bool rfm_interval_equal(const Interval *a, const Interval *b);
extern void rfm_timestamp_tm(Timestamp t, pg_tz *tz, const char *argname,
							 struct pg_tm *tm, fsec_t *fsec);
extern void rfm_date_tm(DateADT d, const char *argname, struct pg_tm *tm);
extern pg_tz *rfm_load_tz(text *tzname);
extern void rfm_check_as_of_gap(TimestampTz as_of_input, int64 as_of,
								int64 earliest, int64 latest, bool is_date);

#endif							/* RFM_TIMEUTIL_H */
