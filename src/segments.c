/*-------------------------------------------------------------------------
 *
 * segments.c
 *	  Segment names for R, F, M scores: user rule sets read from the
 *	  rfm_segment_rule table (rfm_segment), and the built-in rule sets,
 *	  whose one home is this file: the install script seeds the table from
 *	  rfm_builtin_rules() (a readable copy), the table's CHECK constraint
 *	  (rfm_segment_rule_check) keeps that copy equal to them, and a
 *	  built-in name is always compiled from here, never from the table.
 *
 * A rule set is turned into a 10 x 10 x 10 table of names once per query
 * (first matching rule by priority wins, "Others" where none matches), so
 * the per-row cost is an array lookup, not a query.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "scoring.h"
#include "segments.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#define NSCORES RFM_MAX_BINS

/*
 * A rule: the segment of every score triple inside its ranges.  Built-in
 * rules also say what the segment means and what to do about it, and
 * whether it is a danger segment (the default of rfm_churn_alerts).
 */
typedef struct SegmentRule
{
	const char *segment;
	int			r_min,
				r_max,
				f_min,
				f_max,
				m_min,
				m_max;
	const char *description;
	const char *action;
	bool		danger;
} SegmentRule;

/*
 * The built-in rule sets, each in priority order (priority = position).
 * The install script seeds rfm_segment_rule from rfm_builtin_rules(), so
 * these rows are the only place they are written.
 *
 * standard: the R rfm package README's table.
 */
static const SegmentRule standard_rules[] = {
	{"Champions", 5, 5, 5, 5, 5, 5,
		"Bought most recently, buy most often and spend the most.",
		"Reward them: early access, loyalty perks; ask for reviews and referrals.", false},
	{"Potential Loyalist", 3, 5, 3, 5, 2, 5,
		"Recent customers who buy often and spend a good amount.",
		"Offer a membership or loyalty programme; recommend related products.", false},
	{"Loyal Customers", 2, 4, 2, 4, 2, 4,
		"Buy regularly and spend well; they answer promotions.",
		"Upsell higher-value products; ask for reviews.", false},
	{"Promising", 3, 4, 1, 3, 3, 5,
		"Fairly recent shoppers who spent well but have not bought often yet.",
		"Build the relationship: onboarding, an incentive for the next order.", false},
	{"New Customers", 4, 5, 1, 3, 1, 5,
		"Bought recently, but not often.",
		"Welcome them and make the second purchase easy.", false},
	{"Can't Lose Them", 1, 2, 3, 4, 4, 5,
		"Bought often and spent a lot, but have not come back for a long time.",
		"Win them back personally with renewals or new products before a competitor does.", true},
	{"At Risk", 1, 2, 2, 5, 4, 5,
		"Spent a lot and bought often, but long ago.",
		"Send personalised reactivation offers and useful reminders.", true},
	{"Need Attention", 1, 3, 3, 5, 3, 5,
		"Above-average frequency and spend, but recency is slipping.",
		"Make a limited-time offer based on what they bought before.", false},
	{"About To Sleep", 2, 3, 1, 3, 1, 4,
		"Below-average recency, frequency and spend; lost unless reactivated.",
		"Share popular products and a discount to wake them up.", true},
	{"Lost", 1, 1, 1, 5, 1, 5,
		"Have not bought for the longest time.",
		"Try one win-back campaign, then stop spending on them.", true},
};

/*
 * rffl: activity without money (Avito's RFFL).  R = recency, F = frequency
 * (or weighted frequency), and the third score L = last-period frequency,
 * which tells a user active right now from one whose activity is old.
 */
static const SegmentRule rffl_rules[] = {
	{"Hot", 4, 5, 4, 5, 4, 5,
		"Frequent users who are active right now.",
		"Keep them engaged; cross-promote other categories.", false},
	{"Rising", 4, 5, 1, 3, 3, 5,
		"Little history, but busy in the last period: new or coming back.",
		"Onboard them and suggest the next step.", false},
	{"Steady", 3, 5, 3, 5, 1, 5,
		"Regular users.",
		"Maintain with loyalty perks and relevant news.", false},
	{"Occasional", 3, 5, 1, 2, 1, 5,
		"Recent but light activity.",
		"Nudge with relevant listings or saved-search alerts.", false},
	{"Cooling", 2, 2, 1, 5, 1, 5,
		"Recency is falling: activity is fading.",
		"Act now: reminders and alerts on what they looked at.", true},
	{"Cold", 1, 1, 1, 5, 1, 5,
		"Gone quiet.",
		"Run a win-back campaign, or stop spending on them.", true},
};

typedef struct BuiltinRuleSet
{
	const char *name;
	const SegmentRule *rules;
	int			nrules;
} BuiltinRuleSet;

static const BuiltinRuleSet builtin_sets[] = {
	{RFM_RULES_STANDARD, standard_rules, lengthof(standard_rules)},
	{RFM_RULES_RFFL, rffl_rules, lengthof(rffl_rules)},
};

/* Citus's setting that lets a shard's query read a distributed table */
#define CITUS_NESTED_EXECUTION "citus.allow_nested_distributed_execution"

/* the name of scores no rule matches */
#define OTHERS "Others"

/*
 * The rule set of an analysis that names none: with an amount, the
 * standard one; without, the third score is last-period activity, which
 * only rffl reads.
 */
const char *
rfm_default_rule_set(bool has_amount)
{
	return has_amount ? RFM_RULES_STANDARD : RFM_RULES_RFFL;
}

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

/* the built-in rule set of that name, or NULL */
static const BuiltinRuleSet *
find_builtin_set(const char *name)
{
	for (int s = 0; s < (int) lengthof(builtin_sets); s++)
		if (strcmp(builtin_sets[s].name, name) == 0)
			return &builtin_sets[s];
	return NULL;
}

/* a built-in rule set compiled from the library, in memory of mcxt */
static SegmentMap *
compile_builtin(const BuiltinRuleSet *set, MemoryContext mcxt)
{
	SegmentMap *map = MemoryContextAllocZero(mcxt, sizeof(SegmentMap));
	MemoryContext old = MemoryContextSwitchTo(mcxt);

	map->rule_set = pstrdup(set->name);
	for (int i = 0; i < set->nrules; i++)
		apply_rule(map, &set->rules[i], cstring_to_text(set->rules[i].segment));
	fill_others(map);
	MemoryContextSwitchTo(old);
	return map;
}

/*
 * On a Citus worker, rfm_segment runs inside the query of a shard, and
 * Citus refuses any query of a distributed table there, the reference
 * table rfm_segment_rule included, although a worker holds all of it.
 * The read is of a reference table, whole on every node, and reads nothing
 * else: allow it for the statement (the setting is undone after it).
 * Without Citus the setting does not exist and nothing is done.
 */
static void
allow_citus_local_read(void)
{
	if (GetConfigOption(CITUS_NESTED_EXECUTION, true, false) != NULL)
		(void) set_config_option(CITUS_NESTED_EXECUTION, "on", PGC_USERSET,
								 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
}

/*
 * Compile a rule set into memory of the given context.  A built-in name is
 * compiled from the library: its meaning cannot change, whatever happens
 * to the table's copy (deleting the seeded rows cannot be refused without
 * a trigger), and it needs no table on a node that lacks one.  Other names
 * are read from rfm_segment_rule in the extension's schema, as the caller:
 * the table is readable by everyone, and nothing else is touched.
 */
RfmSegmentMap *
rfm_segment_map_load(Oid namespace, const char *rule_set, MemoryContext mcxt)
{
	const BuiltinRuleSet *builtin = find_builtin_set(rule_set);
	char	   *schema;
	char	   *query;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	SegmentMap *map;
	MemoryContext old;
	int			save_nestlevel;

	if (builtin != NULL)
		return compile_builtin(builtin, mcxt);
	schema = get_namespace_name(namespace);
	query = psprintf("SELECT segment, r_min, r_max, f_min, f_max, m_min, m_max "
					 "FROM %s.rfm_segment_rule WHERE rule_set = $1 "
					 "ORDER BY priority",
					 quote_identifier(schema));
	args[0] = CStringGetTextDatum(rule_set);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	save_nestlevel = NewGUCNestLevel();
	allow_citus_local_read();
	if (SPI_execute_with_args(query, 1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read rule set \"%s\"", rule_set);
	AtEOXact_GUC(true, save_nestlevel);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown rule set \"%s\"", rule_set),
				 errhint("Built-in rule sets are '%s' and '%s'; see SELECT DISTINCT rule_set FROM %s.rfm_segment_rule.",
						 RFM_RULES_STANDARD, RFM_RULES_RFFL, quote_identifier(schema))));

	map = MemoryContextAllocZero(mcxt, sizeof(SegmentMap));
	old = MemoryContextSwitchTo(mcxt);
	map->rule_set = pstrdup(rule_set);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		SegmentRule rule = {0};
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
 * A compiled map as bytes, for a parallel worker, which must not read the
 * rule table itself (on Citus the table is a reference table, which a
 * parallel worker cannot query): the rule set's name, then the name of
 * every score triple, each ending in a zero byte.
 */
void
rfm_segment_map_write(const RfmSegmentMap *map, StringInfo buf)
{
	appendBinaryStringInfo(buf, map->rule_set, strlen(map->rule_set) + 1);
	for (int r = 0; r < NSCORES; r++)
		for (int f = 0; f < NSCORES; f++)
			for (int m = 0; m < NSCORES; m++)
			{
				text	   *name = map->names[r][f][m];

				appendBinaryStringInfo(buf, VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name));
				appendStringInfoChar(buf, '\0');
			}
}

/* the map rfm_segment_map_write wrote at *cursor, which moves past it */
RfmSegmentMap *
rfm_segment_map_read(const char **cursor, MemoryContext mcxt)
{
	SegmentMap *map = MemoryContextAllocZero(mcxt, sizeof(SegmentMap));
	MemoryContext old = MemoryContextSwitchTo(mcxt);
	const char *p = *cursor;

	map->rule_set = pstrdup(p);
	p += strlen(p) + 1;
	for (int r = 0; r < NSCORES; r++)
		for (int f = 0; f < NSCORES; f++)
			for (int m = 0; m < NSCORES; m++)
			{
				map->names[r][f][m] = cstring_to_text(p);
				p += strlen(p) + 1;
			}
	MemoryContextSwitchTo(old);
	*cursor = p;
	return map;
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
	for (int i = 0; i < (int) lengthof(standard_rules); i++)
	{
		const SegmentRule *rule = &standard_rules[i];

		if (r >= rule->r_min && r <= rule->r_max &&
			f >= rule->f_min && f <= rule->f_max &&
			m >= rule->m_min && m <= rule->m_max)
			PG_RETURN_TEXT_P(cstring_to_text(rule->segment));
	}
	PG_RETURN_TEXT_P(cstring_to_text(OTHERS));
}

/*
 * rfm_builtin_rules(): the rules of the built-in rule sets, with what each
 * segment means, what to do about it and whether it is a danger segment,
 * in the columns of rfm_segment_rule.  The install script seeds the table
 * from it.
 */
PG_FUNCTION_INFO_V1(rfm_builtin_rules);
Datum
rfm_builtin_rules(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (int s = 0; s < (int) lengthof(builtin_sets); s++)
	{
		const BuiltinRuleSet *set = &builtin_sets[s];

		for (int i = 0; i < set->nrules; i++)
		{
			const SegmentRule *rule = &set->rules[i];
			Datum		values[12];
			bool		nulls[12] = {0};

			values[0] = CStringGetTextDatum(set->name);
			values[1] = Int32GetDatum(i + 1);
			values[2] = CStringGetTextDatum(rule->segment);
			values[3] = Int32GetDatum(rule->r_min);
			values[4] = Int32GetDatum(rule->r_max);
			values[5] = Int32GetDatum(rule->f_min);
			values[6] = Int32GetDatum(rule->f_max);
			values[7] = Int32GetDatum(rule->m_min);
			values[8] = Int32GetDatum(rule->m_max);
			values[9] = CStringGetTextDatum(rule->description);
			values[10] = CStringGetTextDatum(rule->action);
			values[11] = BoolGetDatum(rule->danger);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	return (Datum) 0;
}

/*
 * rfm_default_rule_set(has_amount): the rule set rfm_analyze uses when
 * none is named, for the SQL functions that must name the same one.
 */
PG_FUNCTION_INFO_V1(rfm_default_rule_set_sql);
Datum
rfm_default_rule_set_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(rfm_default_rule_set(PG_GETARG_BOOL(0))));
}

/* a text argument as a C string, NULL for SQL NULL */
static const char *
text_arg_or_null(FunctionCallInfo fcinfo, int argno)
{
	return PG_ARGISNULL(argno) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/* two optional strings are the same (both NULL, or equal) */
static bool
same_text(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* the rfm_segment_rule columns rfm_segment_rule_check takes, in order */
#define RULE_ARG_RULE_SET		0
#define RULE_ARG_PRIORITY		1
#define RULE_ARG_SEGMENT		2
#define RULE_ARG_FIRST_BOUND	3	/* r_min, r_max, f_min, f_max, m_min, m_max */
#define RULE_NBOUNDS			6
#define RULE_ARG_BUILTIN		9
#define RULE_ARG_DESCRIPTION	10
#define RULE_ARG_ACTION			11
#define RULE_ARG_DANGER			12

/* the row is the library's rule at its priority in that set */
static bool
row_is_builtin_rule(FunctionCallInfo fcinfo, const BuiltinRuleSet *set)
{
	int32		priority = PG_GETARG_INT32(RULE_ARG_PRIORITY);
	const SegmentRule *rule;
	int32		bounds[RULE_NBOUNDS];

	if (priority < 1 || priority > set->nrules)
		return false;
	rule = &set->rules[priority - 1];
	bounds[0] = rule->r_min;
	bounds[1] = rule->r_max;
	bounds[2] = rule->f_min;
	bounds[3] = rule->f_max;
	bounds[4] = rule->m_min;
	bounds[5] = rule->m_max;
	for (int j = 0; j < RULE_NBOUNDS; j++)
		if (PG_ARGISNULL(RULE_ARG_FIRST_BOUND + j) ||
			PG_GETARG_INT32(RULE_ARG_FIRST_BOUND + j) != bounds[j])
			return false;
	return same_text(text_arg_or_null(fcinfo, RULE_ARG_SEGMENT), rule->segment) &&
		same_text(text_arg_or_null(fcinfo, RULE_ARG_DESCRIPTION), rule->description) &&
		same_text(text_arg_or_null(fcinfo, RULE_ARG_ACTION), rule->action) &&
		!PG_ARGISNULL(RULE_ARG_DANGER) &&
		PG_GETARG_BOOL(RULE_ARG_DANGER) == rule->danger;
}

/*
 * rfm_segment_rule_check(rule_set, priority, segment, r_min, r_max, f_min,
 * f_max, m_min, m_max, builtin, description, action, danger): the CHECK
 * constraint of rfm_segment_rule that keeps the built-in rule sets
 * read-only without a trigger, so that Citus can make the table a
 * reference table.  A row under a built-in name must be marked builtin and
 * be the library's rule at its priority (the seeded rows, or a deleted one
 * put back); a row marked builtin must have a built-in name.  It raises
 * 55000 itself instead of returning false, so the message names the rule
 * set and the hint says what to do.  Not STRICT: description and action
 * may be NULL; a NULL rule_set, priority or builtin returns true and is
 * left to the table's NOT NULL constraints.  IMMUTABLE: it reads only its
 * arguments and the compiled rules.
 */
PG_FUNCTION_INFO_V1(rfm_segment_rule_check);
Datum
rfm_segment_rule_check(PG_FUNCTION_ARGS)
{
	const char *rule_set;
	const BuiltinRuleSet *set;
	bool		builtin;

	if (PG_ARGISNULL(RULE_ARG_RULE_SET) || PG_ARGISNULL(RULE_ARG_PRIORITY) ||
		PG_ARGISNULL(RULE_ARG_BUILTIN))
		PG_RETURN_BOOL(true);
	rule_set = text_arg_or_null(fcinfo, RULE_ARG_RULE_SET);
	set = find_builtin_set(rule_set);
	builtin = PG_GETARG_BOOL(RULE_ARG_BUILTIN);

	if (set != NULL && !builtin)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("rule set \"%s\" is built in and read-only", rule_set),
				 errhint("Give your rule set its own name, with builtin false.")));
	if (set != NULL && !row_is_builtin_rule(fcinfo, set))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("rule set \"%s\" is built in and read-only", rule_set),
				 errhint("Copy it and edit the copy: SELECT rfm_copy_rule_set('%s', 'my_rules').",
						 rule_set)));
	if (set == NULL && builtin)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("rule set \"%s\" is not a built-in rule set", rule_set),
				 errhint("Insert your own rules with builtin false; the built-in rule sets are '%s' and '%s'.",
						 RFM_RULES_STANDARD, RFM_RULES_RFFL)));
	PG_RETURN_BOOL(true);
}
