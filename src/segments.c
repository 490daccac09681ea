/*-------------------------------------------------------------------------
 *
 * segments.c
 *	  Segment names for R, F, M scores: rule sets read from the
 *	  rfm_segment_rule table (rfm_segment), and the built-in standard map
 *	  that needs no table (rfm_segment_standard).
 *
 * A rule set is turned into a 10 x 10 x 10 table of names once per query
 * (first matching rule by priority wins, "Others" where none matches), so
 * the per-row cost is an array lookup, not a query.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "rfm_segment.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#define NSCORES RFM_MAX_BINS

typedef struct SegmentRule
{
	const char *segment;
	int			r_min,
				r_max,
				f_min,
				f_max,
				m_min,
				m_max;
} SegmentRule;

/*
 * The built-in standard map: the R rfm package README's table, in priority
 * order.  The seeded 'standard' rule set holds the same rows; a test checks
 * that the two agree on every cell.
 */
static const SegmentRule standard_rules[] = {
	{"Champions", 5, 5, 5, 5, 5, 5},
	{"Potential Loyalist", 3, 5, 3, 5, 2, 5},
	{"Loyal Customers", 2, 4, 2, 4, 2, 4},
	{"Promising", 3, 4, 1, 3, 3, 5},
	{"New Customers", 4, 5, 1, 3, 1, 5},
	{"Can't Lose Them", 1, 2, 3, 4, 4, 5},
	{"At Risk", 1, 2, 2, 5, 4, 5},
	{"Need Attention", 1, 3, 3, 5, 3, 5},
	{"About To Sleep", 2, 3, 1, 3, 1, 4},
	{"Lost", 1, 1, 1, 5, 1, 5},
};

#define OTHERS "Others"

/* a rule set compiled into a lookup table, cached per call site */
struct RfmSegmentMap
{
	char	   *rule_set;
	text	   *names[NSCORES][NSCORES][NSCORES];
};
typedef RfmSegmentMap SegmentMap;

static void
check_score(int32 score, const char *argname)
{
	if (score < 1 || score > NSCORES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a score between 1 and %d, not %d",
						argname, NSCORES, score),
				 errhint("Pass scores from rfm_score or rfm_score_desc.")));
}

/* the r, f, m arguments, each checked */
static void
get_scores(FunctionCallInfo fcinfo, int32 *r, int32 *f, int32 *m)
{
	*r = PG_GETARG_INT32(0);
	*f = PG_GETARG_INT32(1);
	*m = PG_GETARG_INT32(2);
	check_score(*r, "r");
	check_score(*f, "f");
	check_score(*m, "m");
}

/* fill the cells of one rule that no earlier rule took */
static void
apply_rule(SegmentMap *map, const SegmentRule *rule, text *name)
{
	for (int r = rule->r_min; r <= rule->r_max; r++)
		for (int f = rule->f_min; f <= rule->f_max; f++)
			for (int m = rule->m_min; m <= rule->m_max; m++)
				if (map->names[r - 1][f - 1][m - 1] == NULL)
					map->names[r - 1][f - 1][m - 1] = name;
}

static void
fill_others(SegmentMap *map)
{
	text	   *others = cstring_to_text(OTHERS);

	for (int r = 0; r < NSCORES; r++)
		for (int f = 0; f < NSCORES; f++)
			for (int m = 0; m < NSCORES; m++)
				if (map->names[r][f][m] == NULL)
					map->names[r][f][m] = others;
}

/*
 * Read a rule set from rfm_segment_rule in the extension's schema and
 * compile it into memory of the given context.  Runs as the caller: the
 * table is readable by everyone, and nothing else is touched.
 */
RfmSegmentMap *
rfm_segment_map_load(Oid namespace, const char *rule_set, MemoryContext mcxt)
{
	char	   *schema = get_namespace_name(namespace);
	char	   *query;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	SegmentMap *map;
	MemoryContext old;

	query = psprintf("SELECT segment, r_min, r_max, f_min, f_max, m_min, m_max "
					 "FROM %s.rfm_segment_rule WHERE rule_set = $1 "
					 "ORDER BY priority",
					 quote_identifier(schema));
	args[0] = CStringGetTextDatum(rule_set);

	SPI_connect();
	if (SPI_execute_with_args(query, 1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read rule set \"%s\"", rule_set);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown rule set \"%s\"", rule_set),
				 errhint("Built-in rule sets are 'standard' and 'rffl'; see SELECT DISTINCT rule_set FROM %s.rfm_segment_rule.",
						 quote_identifier(schema))));

	map = MemoryContextAllocZero(mcxt, sizeof(SegmentMap));
	old = MemoryContextSwitchTo(mcxt);
	map->rule_set = pstrdup(rule_set);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		SegmentRule rule;
		bool		isnull;
		int			bounds[6];

		for (int j = 0; j < 6; j++)
			bounds[j] = DatumGetInt32(SPI_getbinval(tuple, desc, j + 2, &isnull));
		rule.r_min = bounds[0];
		rule.r_max = bounds[1];
		rule.f_min = bounds[2];
		rule.f_max = bounds[3];
		rule.m_min = bounds[4];
		rule.m_max = bounds[5];
		/* the table's CHECK constraints keep bounds within 1..10 */
		apply_rule(map, &rule, cstring_to_text(SPI_getvalue(tuple, desc, 1)));
	}
	fill_others(map);
	MemoryContextSwitchTo(old);
	SPI_finish();
	return map;
}

/*
 * The segment of checked scores, as a fresh copy: a caller may free a
 * result, and the map outlives it.
 */
text *
rfm_segment_map_name(const RfmSegmentMap *map, int r, int f, int m)
{
	text	   *name = map->names[r - 1][f - 1][m - 1];
	text	   *result = (text *) palloc(VARSIZE(name));

	memcpy(result, name, VARSIZE(name));
	return result;
}

/*
 * rfm_segment(r, f, m, rule_set): the segment of a score triple under an
 * editable rule set.  STABLE: it reads rfm_segment_rule.  The compiled map
 * is kept for the rest of the query; a different rule_set reloads it.
 */
PG_FUNCTION_INFO_V1(rfm_segment);
Datum
rfm_segment(PG_FUNCTION_ARGS)
{
	int32		r,
				f,
				m;
	char	   *rule_set = text_to_cstring(PG_GETARG_TEXT_PP(3));
	SegmentMap *map = (SegmentMap *) fcinfo->flinfo->fn_extra;

	get_scores(fcinfo, &r, &f, &m);
	if (map == NULL || strcmp(map->rule_set, rule_set) != 0)
	{
		map = rfm_segment_map_load(get_func_namespace(fcinfo->flinfo->fn_oid),
								   rule_set, fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = map;
	}
	PG_RETURN_TEXT_P(rfm_segment_map_name(map, r, f, m));
}

/*
 * rfm_segment_standard(r, f, m): the built-in standard map, compiled in.
 * IMMUTABLE (no table, no setting), so it can define a generated column.
 */
PG_FUNCTION_INFO_V1(rfm_segment_standard);
Datum
rfm_segment_standard(PG_FUNCTION_ARGS)
{
	int32		r,
				f,
				m;

	get_scores(fcinfo, &r, &f, &m);
	for (size_t i = 0; i < lengthof(standard_rules); i++)
	{
		const SegmentRule *rule = &standard_rules[i];

		if (r >= rule->r_min && r <= rule->r_max &&
			f >= rule->f_min && f <= rule->f_max &&
			m >= rule->m_min && m <= rule->m_max)
			PG_RETURN_TEXT_P(cstring_to_text(rule->segment));
	}
	PG_RETURN_TEXT_P(cstring_to_text(OTHERS));
}
