/*-------------------------------------------------------------------------
 *
 * timeutil.c
 *	  Time conversions shared by every layer, with one set of checks and
 *	  messages.
 *
 * Every function that takes a time from the user goes through here, so
 * an infinite or out-of-range time is the same error (22008, naming the
 * argument) whichever function it reaches.  Interval arithmetic is done
 * on timestamps without time zone, so a day is 24 hours and a month a
 * calendar month in UTC, and no result depends on the session TimeZone.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "timeutil.h"

#include "utils/builtins.h"
#include "common/int.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"
#include "utils/timestamp.h"

#define TIME_HINT	"Pass a real time, not infinity or -infinity."

/* when an as_of is "far" past the latest event (rfm_check_as_of_gap) */
#define FAR_AS_OF_DAYS			365
#define FAR_AS_OF_MIN_SPAN_DAYS 30
#define DATE_HINT	"Pass a real date, not infinity or -infinity."

/* a timestamptz, checked: ±infinity is an error naming the argument */
int64
rfm_timestamp_usecs(TimestampTz t, const char *argname)
{
	if (TIMESTAMP_NOT_FINITE(t))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("%s must be finite", argname),
				 errhint(TIME_HINT)));
	return t;
}

/*
 * A timestamp without time zone as the instant it is in tz: what a cast to
 * timestamptz gives under TimeZone = tz, so that an aggregate told the
 * session's zone reads a wall time as a query that casts it does.
 */
int64
rfm_wall_usecs(Timestamp t, pg_tz *tz, const char *argname)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			offset;
	int64		result;

	rfm_timestamp_tm(t, NULL, argname, &tm, &fsec);
	offset = DetermineTimeZoneOffset(&tm, tz);
	if (pg_add_s64_overflow(t, (int64) offset * USECS_PER_SEC, &result) ||
		!IS_VALID_TIMESTAMP(result))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("%s is out of range", argname),
				 errhint(TIME_HINT)));
	return result;
}

/*
 * A date as the microseconds of its midnight.  Dates reach beyond the
 * timestamp range (to 5874897 AD), where the product would overflow: those
 * are an error, not a wrapped number.
 */
int64
rfm_date_usecs(DateADT d, const char *argname)
{
	if (DATE_NOT_FINITE(d))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("%s must be finite", argname),
				 errhint(DATE_HINT)));
	if (d < DATETIME_MIN_JULIAN - POSTGRES_EPOCH_JDATE ||
		d >= TIMESTAMP_END_JULIAN - POSTGRES_EPOCH_JDATE)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("%s is out of range", argname),
				 errhint("Dates must lie within the timestamp range, 4713 BC to 294276 AD.")));
	return (int64) d * USECS_PER_DAY;
}

/*
 * An as_of given as timestamptz, for a source whose times are of the given
 * kind: itself, or for a date source its date in the session TimeZone (as
 * the timestamptz::date cast gives it).
 */
int64
rfm_as_of_usecs(TimestampTz as_of, bool is_date, const char *argname)
{
	DateADT		d;

	(void) rfm_timestamp_usecs(as_of, argname);
	if (!is_date)
		return as_of;
	d = DatumGetDateADT(DirectFunctionCall1(timestamptz_date,
											TimestampTzGetDatum(as_of)));
	return rfm_date_usecs(d, argname);
}

/* a time back as the SQL value it came from: a date or a timestamptz */
Datum
rfm_usecs_datum(int64 t, bool is_date)
{
	if (is_date)
		return DateADTGetDatum((DateADT) (t / USECS_PER_DAY));
	return TimestampTzGetDatum(t);
}

/* days from one time to another, fractional; whole for midnights */
float8
rfm_days_between(int64 from, int64 to)
{
	int64		diff;

	/* times 292,000 years apart overflow int64: then in double */
	if (__builtin_sub_overflow(to, from, &diff))
		return ((float8) to - (float8) from) / (float8) USECS_PER_DAY;
	return (float8) diff / (float8) USECS_PER_DAY;
}

/*
 * A value of a time column, read as date or timestamptz (a timestamp
 * column is cast to timestamptz by the scan's query), in microseconds;
 * ±infinity is an error naming the argument.
 */
int64
rfm_event_usecs(Datum value, bool is_date, const char *argname)
{
	if (is_date)
		return rfm_date_usecs(DatumGetDateADT(value), argname);
	return rfm_timestamp_usecs(DatumGetTimestampTz(value), argname);
}

/*
 * t + span and t - span, computed on timestamps without time zone: a day
 * is 24 hours and a month is a calendar month in UTC, so the answer never
 * depends on the session TimeZone.  A result out of range is PostgreSQL's
 * own error (22008).
 */
int64
rfm_time_plus(int64 t, const Interval *span)
{
	int64		days;
	int64		result;

	if (span->month != 0)
		return DatumGetTimestamp(DirectFunctionCall2(timestamp_pl_interval,
													 TimestampGetDatum(t),
													 IntervalPGetDatum(span)));

	/*
	 * Without months, what timestamp_pl_interval does without a time zone,
	 * with its two range checks, minus the cost of a calendar conversion:
	 * callers add lags to every customer's purchases.
	 */
	if (__builtin_mul_overflow((int64) span->day, USECS_PER_DAY, &days) ||
		__builtin_add_overflow(t, days, &result) ||
		!IS_VALID_TIMESTAMP(result) ||
		__builtin_add_overflow(result, span->time, &result) ||
		!IS_VALID_TIMESTAMP(result))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	return result;
}

int64
rfm_time_minus(int64 t, const Interval *span)
{
	return DatumGetTimestamp(DirectFunctionCall2(timestamp_mi_interval,
												 TimestampGetDatum(t),
												 IntervalPGetDatum(span)));
}

/*
 * Start of the last period, as_of - last_period (rfm_time_minus).  The
 * period must be positive.
 */
int64
rfm_period_start(int64 as_of, const Interval *last_period)
{
	int64		start;

	start = rfm_time_minus(as_of, last_period);
	if (start >= as_of)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("last_period must be positive"),
				 errhint("Pass an interval such as '30 days'.")));
	return start;
}

/* equal as stored, field by field: '1 month' is not '30 days' */
bool
rfm_interval_equal(const Interval *a, const Interval *b)
{
	return a->time == b->time && a->day == b->day && a->month == b->month;
}

/*
 * The calendar fields of a timestamp in a time zone (tz NULL: the value's
 * own fields, for a timestamp without time zone or UTC), and the fraction
 * of its second when fsec is not NULL.
 */
void
rfm_timestamp_tm(Timestamp t, pg_tz *tz, const char *argname, struct pg_tm *tm,
				 fsec_t *fsec)
{
	fsec_t		frac;
	int			tzoff;

	(void) rfm_timestamp_usecs(t, argname);
	if (timestamp2tm(t, tz ? &tzoff : NULL, tm, fsec ? fsec : &frac, NULL, tz) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("%s is out of range", argname),
				 errhint(TIME_HINT)));
}

/* the calendar fields of a date */
void
rfm_date_tm(DateADT d, const char *argname, struct pg_tm *tm)
{
	if (DATE_NOT_FINITE(d))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("%s must be finite", argname),
				 errhint(DATE_HINT)));
	memset(tm, 0, sizeof(*tm));
	j2date(d + POSTGRES_EPOCH_JDATE, &tm->tm_year, &tm->tm_mon, &tm->tm_mday);
}

/* a time zone by name, or an error naming it */
pg_tz *
rfm_load_tz(text *tzname)
{
	char	   *name = text_to_cstring(tzname);
	pg_tz	   *tz = pg_tzset(name);

	if (tz == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" not recognized", name),
				 errhint("Pass a time zone name such as 'UTC' or 'Europe/Berlin'.")));
	return tz;
}

/*
 * A NOTICE when as_of lies far past the latest event of a source: the trap
 * of historical data scored as of today, where every customer looks
 * lapsed.  Far is a gap (latest event to as_of) over FAR_AS_OF_DAYS, or
 * a gap longer than the data's own span (earliest to latest event) once
 * the gap is over FAR_AS_OF_MIN_SPAN_DAYS, so a month of data scored a
 * week later stays quiet.  as_of, earliest and latest are in
 * the source's domain (midnights for dates); as_of_input is as given.
 */
void
rfm_check_as_of_gap(TimestampTz as_of_input, int64 as_of, int64 earliest,
					int64 latest, bool is_date)
{
	float8		gap;
	float8		span;
	char	   *as_of_text;
	char	   *latest_text;

	if (as_of <= latest)
		return;
	gap = rfm_days_between(latest, as_of);
	span = rfm_days_between(earliest, latest);
	if (gap <= FAR_AS_OF_DAYS && (gap <= span || gap <= FAR_AS_OF_MIN_SPAN_DAYS))
		return;
	/* timestamptz_to_str reuses one buffer: copy each in turn */
	as_of_text = pstrdup(timestamptz_to_str(as_of_input));
	latest_text = is_date ?
		DatumGetCString(DirectFunctionCall1(date_out, rfm_usecs_datum(latest, true))) :
		pstrdup(timestamptz_to_str(latest));
	ereport(NOTICE,
			(errmsg("as_of %s is %.0f days after the latest event of the source, %s",
					as_of_text, gap, latest_text),
			 errdetail("The source spans %.0f days; recency and retention are measured to as_of.",
					   span),
			 errhint("Leave as_of out to measure as of the latest event, or pass a time near the data.")));
}
