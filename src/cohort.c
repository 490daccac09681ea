/*-------------------------------------------------------------------------
 *
 * cohort.c
 *	  Period labels for cohorts: '2019-11' (month), '2019-W45' (ISO week),
 *	  '2019-Q4', '2019', '2019-11-05' (day), and the period's first day.
 *
 * The period of a timestamptz depends on a time zone, so the IMMUTABLE
 * forms take it as an argument; the forms without one read the session
 * TimeZone and are only STABLE.  Dates need no time zone.
 *
 * Periods are also numbered (consecutive integers per grain), which is how
 * rfm_retention counts offsets from a customer's first period: days as
 * their DateADT, ISO weeks from 2000-01-03, months as year * 12 + month - 1,
 * quarters as year * 4 + quarter - 1, years as themselves.  Incremental
 * models number periods the same way in SQL (rfm_model_period_number).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "cohort.h"
#include "timeutil.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

/* 2000-01-03 was a Monday: ISO weeks are counted from it */
#define MONDAY_2000_01_03	(POSTGRES_EPOCH_JDATE + 2)

RfmGrain
rfm_parse_grain(text *grain)
{
	char	   *name = text_to_cstring(grain);

	if (strcmp(name, "day") == 0)
		return RFM_GRAIN_DAY;
	if (strcmp(name, "week") == 0)
		return RFM_GRAIN_WEEK;
	if (strcmp(name, "month") == 0)
		return RFM_GRAIN_MONTH;
	if (strcmp(name, "quarter") == 0)
		return RFM_GRAIN_QUARTER;
	if (strcmp(name, "year") == 0)
		return RFM_GRAIN_YEAR;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown grain \"%s\"", name),
			 errhint("Use 'day', 'week', 'month', 'quarter' or 'year'.")));
	return RFM_GRAIN_MONTH;		/* keep the compiler quiet */
}

/* the consecutive number of the period containing a calendar day */
int32
rfm_period_of_day(int year, int month, int day, RfmGrain grain)
{
	int			j = date2j(year, month, day);

	switch (grain)
	{
		case RFM_GRAIN_DAY:
			/* the day's DateADT, as rfm_model_period_number numbers it */
			return j - POSTGRES_EPOCH_JDATE;
		case RFM_GRAIN_WEEK:
			/* floor division: weeks before 2000 are negative */
			return (j - MONDAY_2000_01_03 >= 0) ? (j - MONDAY_2000_01_03) / 7 :
				-((MONDAY_2000_01_03 - j + 6) / 7);
		case RFM_GRAIN_MONTH:
			return year * 12 + (month - 1);
		case RFM_GRAIN_QUARTER:
			return year * 4 + (month - 1) / 3;
		case RFM_GRAIN_YEAR:
			return year;
	}
	return 0;
}

/* the first day of a numbered period, as a Julian day */
static int
period_first_julian(int32 period, RfmGrain grain)
{
	switch (grain)
	{
		case RFM_GRAIN_DAY:
			return period + POSTGRES_EPOCH_JDATE;
		case RFM_GRAIN_WEEK:
			return MONDAY_2000_01_03 + period * 7;
		case RFM_GRAIN_MONTH:
			return date2j(period / 12 - (period < 0 && period % 12 ? 1 : 0),
						  ((period % 12) + 12) % 12 + 1, 1);
		case RFM_GRAIN_QUARTER:
			return date2j(period / 4 - (period < 0 && period % 4 ? 1 : 0),
						  (((period % 4) + 4) % 4) * 3 + 1, 1);
		case RFM_GRAIN_YEAR:
			return date2j(period, 1, 1);
	}
	return 0;
}

DateADT
rfm_period_start_date(int32 period, RfmGrain grain)
{
	return period_first_julian(period, grain) - POSTGRES_EPOCH_JDATE;
}

/* the label of a numbered period: '2019-11', '2019-W45', '2019-Q4', ... */
text *
rfm_period_label(int32 period, RfmGrain grain)
{
	int			year,
				month,
				day;

	j2date(period_first_julian(period, grain), &year, &month, &day);
	switch (grain)
	{
		case RFM_GRAIN_DAY:
			return cstring_to_text(psprintf("%04d-%02d-%02d", year, month, day));
		case RFM_GRAIN_WEEK:
			/* the Monday's ISO year and week name the week */
			return cstring_to_text(psprintf("%04d-W%02d", date2isoyear(year, month, day),
											date2isoweek(year, month, day)));
		case RFM_GRAIN_MONTH:
			return cstring_to_text(psprintf("%04d-%02d", year, month));
		case RFM_GRAIN_QUARTER:
			return cstring_to_text(psprintf("%04d-Q%d", year, (month - 1) / 3 + 1));
		case RFM_GRAIN_YEAR:
			return cstring_to_text(psprintf("%04d", year));
	}
	return NULL;
}

/*
 * The period of a timestamp in a time zone (tz NULL: the value's own
 * fields, for a timestamp without time zone).  argname names the value in
 * errors.
 */
int32
rfm_period_of_timestamp(Timestamp ts, pg_tz *tz, RfmGrain grain,
						const char *argname)
{
	struct pg_tm tm;

	rfm_timestamp_tm(ts, tz, argname, &tm, NULL);
	return rfm_period_of_day(tm.tm_year, tm.tm_mon, tm.tm_mday, grain);
}

int32
rfm_period_of_date(DateADT d, RfmGrain grain, const char *argname)
{
	struct pg_tm tm;

	rfm_date_tm(d, argname, &tm);
	return rfm_period_of_day(tm.tm_year, tm.tm_mon, tm.tm_mday, grain);
}

/*
 * The period of an event of a time column's type: a date's, a wall
 * time's (no zone), a timestamptz's in tz.  The one switch over the three
 * kinds of time column for the aggregates that take all three.
 */
int32
rfm_period_of_event(Datum value, Oid time_type, pg_tz *tz, RfmGrain grain,
					const char *argname)
{
	switch (time_type)
	{
		case DATEOID:
			return rfm_period_of_date(DatumGetDateADT(value), grain, argname);
		case TIMESTAMPOID:
			return rfm_period_of_timestamp(DatumGetTimestamp(value), NULL, grain, argname);
		default:
			return rfm_period_of_timestamp(DatumGetTimestampTz(value), tz, grain, argname);
	}
}

/* rfm_cohort(ts timestamptz, grain text, tz text): IMMUTABLE, tz explicit */
PG_FUNCTION_INFO_V1(rfm_cohort);
Datum
rfm_cohort(PG_FUNCTION_ARGS)
{
	RfmGrain	grain = rfm_parse_grain(PG_GETARG_TEXT_PP(1));
	pg_tz	   *tz = rfm_load_tz(PG_GETARG_TEXT_PP(2));

	PG_RETURN_TEXT_P(rfm_period_label(rfm_period_of_timestamp(PG_GETARG_TIMESTAMPTZ(0), tz, grain, "ts"),
									  grain));
}

/* rfm_cohort(ts timestamptz, grain text): STABLE, in the session TimeZone */
PG_FUNCTION_INFO_V1(rfm_cohort_session);
Datum
rfm_cohort_session(PG_FUNCTION_ARGS)
{
	RfmGrain	grain = rfm_parse_grain(PG_GETARG_TEXT_PP(1));

	PG_RETURN_TEXT_P(rfm_period_label(rfm_period_of_timestamp(PG_GETARG_TIMESTAMPTZ(0),
															  session_timezone, grain, "ts"),
									  grain));
}

/* rfm_cohort(d date, grain text): IMMUTABLE, a date has no time zone */
PG_FUNCTION_INFO_V1(rfm_cohort_date);
Datum
rfm_cohort_date(PG_FUNCTION_ARGS)
{
	RfmGrain	grain = rfm_parse_grain(PG_GETARG_TEXT_PP(1));

	PG_RETURN_TEXT_P(rfm_period_label(rfm_period_of_date(PG_GETARG_DATEADT(0), grain, "d"), grain));
}

/* rfm_cohort_start(ts timestamptz, grain text, tz text): the first day */
PG_FUNCTION_INFO_V1(rfm_cohort_start);
Datum
rfm_cohort_start(PG_FUNCTION_ARGS)
{
	RfmGrain	grain = rfm_parse_grain(PG_GETARG_TEXT_PP(1));
	pg_tz	   *tz = rfm_load_tz(PG_GETARG_TEXT_PP(2));

	PG_RETURN_DATEADT(rfm_period_start_date(rfm_period_of_timestamp(PG_GETARG_TIMESTAMPTZ(0), tz, grain, "ts"),
											grain));
}

/* rfm_cohort_start(ts timestamptz, grain text): STABLE, session TimeZone */
PG_FUNCTION_INFO_V1(rfm_cohort_start_session);
Datum
rfm_cohort_start_session(PG_FUNCTION_ARGS)
{
	RfmGrain	grain = rfm_parse_grain(PG_GETARG_TEXT_PP(1));

	PG_RETURN_DATEADT(rfm_period_start_date(rfm_period_of_timestamp(PG_GETARG_TIMESTAMPTZ(0),
																	session_timezone, grain, "ts"),
											grain));
}

/* rfm_cohort_start(d date, grain text) */
PG_FUNCTION_INFO_V1(rfm_cohort_start_date);
Datum
rfm_cohort_start_date(PG_FUNCTION_ARGS)
{
	RfmGrain	grain = rfm_parse_grain(PG_GETARG_TEXT_PP(1));

	PG_RETURN_DATEADT(rfm_period_start_date(rfm_period_of_date(PG_GETARG_DATEADT(0), grain, "d"),
											grain));
}

/*
 * The period a label names: the inverse of rfm_period_label, or -1 with
 * *ok false when the label is not one of its forms.
 */
static int32
period_of_label(const char *label, RfmGrain grain, bool *ok)
{
	int			year,
				month = 1,
				day = 1,
				n = 0;
	char		extra;

	*ok = false;
	switch (grain)
	{
		case RFM_GRAIN_DAY:
			*ok = sscanf(label, "%d-%d-%d%c", &year, &month, &day, &extra) == 3;
			break;
		case RFM_GRAIN_WEEK:
			if (sscanf(label, "%d-W%d%c", &year, &n, &extra) == 2 &&
				n >= 1 && n <= 53 && year >= 1 && year <= 9999)
			{
				/* the Monday of ISO week n of ISO year "year" */
				j2date(isoweek2j(year, n), &year, &month, &day);
				*ok = true;
			}
			break;
		case RFM_GRAIN_MONTH:
			*ok = sscanf(label, "%d-%d%c", &year, &month, &extra) == 2;
			break;
		case RFM_GRAIN_QUARTER:
			*ok = sscanf(label, "%d-Q%d%c", &year, &n, &extra) == 2 && n >= 1 && n <= 4;
			month = (n - 1) * 3 + 1;
			break;
		case RFM_GRAIN_YEAR:
			*ok = sscanf(label, "%d%c", &year, &extra) == 1;
			break;
	}
	/* the round trip through the label, in the caller, catches the rest */
	if (*ok)
		*ok = year >= 1 && year <= 9999 && month >= 1 && month <= 12 &&
			day >= 1 && day <= day_tab[isleap(year)][month - 1];
	if (!*ok)
		return -1;
	return rfm_period_of_day(year, month, day, grain);
}

/*
 * rfm_cohort_date(cohort text, grain text): the first day of the period a
 * cohort label names ('2019-11' -> 2019-11-01, '2019-W45' -> 2019-11-04),
 * so a dashboard can sort and plot cohorts by date.  IMMUTABLE STRICT; a
 * label that is not of the grain's form is an error.
 */
PG_FUNCTION_INFO_V1(rfm_cohort_date_of_label);
Datum
rfm_cohort_date_of_label(PG_FUNCTION_ARGS)
{
	char	   *label = text_to_cstring(PG_GETARG_TEXT_PP(0));
	RfmGrain	grain = rfm_parse_grain(PG_GETARG_TEXT_PP(1));
	bool		ok;
	int32		period = period_of_label(label, grain, &ok);
	text	   *again;

	/* only the label rfm_cohort writes for that period, not a look-alike */
	if (ok)
	{
		again = rfm_period_label(period, grain);
		ok = strcmp(text_to_cstring(again), label) == 0;
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" is not a cohort label of grain %s", label,
						text_to_cstring(PG_GETARG_TEXT_PP(1))),
				 errhint("Pass a label as rfm_cohort writes it: '2019-11-05', '2019-W45', '2019-11', '2019-Q4' or '2019'.")));
	PG_RETURN_DATEADT(rfm_period_start_date(period, grain));
}
