/* rfm_segment.sql: the current install script, the API's table of contents */

\echo Use "CREATE EXTENSION rfm_segment" to load this file. \quit

-- The Makefile copies this file to rfm_segment--<version>.sql; released
-- versions' scripts (rfm_segment--0.1.sql) and the upgrade steps between
-- them (rfm_segment--0.1--0.2.sql, ...) are frozen beside it.  Layer by
-- layer, each object once, with the reason for its labels:
--
--   1. Metrics                  rfm_metrics aggregates and their state type
--   2. Scoring                  rfm_breaks, rfm_score, rfm_score_desc
--   3. Segments                 rule sets, rfm_rules, rfm_segment, rfm_check_rules
--   4. Cohorts and retention    rfm_cohort, rfm_retention
--   5. One-call analysis        rfm_analyze, per group, rfm_snapshots, transitions,
--                               alerts
--   6. Smart segmentation       rfm_kmeans, rfm_cluster, rfm_kmeans_scan
--   7. Client-product graph     rfm_graph_communities, rfm_micro_segments,
--                               rfm_recommend, rfm_lookalike
--   8. Journeys                 category transitions and moves, next-purchase
--                               rules, segment outcomes
--   9. Smart segmentation, 2    prepared features, rfm_hclust, rfm_cluster_profile,
--                               rfm_hclust_scan, rfm_shares
--  10. Customer lifetime value  rfm_clv_summary, the BG/NBD, Pareto/NBD and
--                               Gamma-Gamma fits, P(alive), CLV, holdout
--  11. Scale out               rfm_metrics_state_agg forms a foreign server runs,
--                               rfm_breaks_state: breaks merged from shards,
--                               rfm_active_periods: retention grouped per customer,
--                               rfm_clv_state_agg: lifetime-value summaries too,
--                               rfm_journey_state_agg: journeys too
--  12. Incremental models      rfm_state_metrics_at, a model's stored states
--  13. Models                   rfm_create_model, rfm_refresh, rfm_drop_model

-- ---------------------------------------------------------------------------
-- 1. Metrics
-- ---------------------------------------------------------------------------

-- The aggregate state.  A base type rather than "internal", so partial
-- aggregates cross process and node boundaries (parallel query, Citus) as
-- plain values.  Its text form is exact and independent of session settings.
CREATE TYPE @extschema@.rfm_metrics_state;

CREATE FUNCTION @extschema@.rfm_metrics_state_in(cstring)
	RETURNS @extschema@.rfm_metrics_state
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_metrics_state_in(cstring) IS 'text input of rfm_metrics_state; checks every field';

CREATE FUNCTION @extschema@.rfm_metrics_state_out(@extschema@.rfm_metrics_state)
	RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_metrics_state_out(@extschema@.rfm_metrics_state) IS 'text output of rfm_metrics_state';

CREATE FUNCTION @extschema@.rfm_metrics_state_recv(internal)
	RETURNS @extschema@.rfm_metrics_state
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_metrics_state_recv(internal) IS 'binary input of rfm_metrics_state';

CREATE FUNCTION @extschema@.rfm_metrics_state_send(@extschema@.rfm_metrics_state)
	RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_metrics_state_send(@extschema@.rfm_metrics_state) IS 'binary output of rfm_metrics_state';

CREATE TYPE @extschema@.rfm_metrics_state (
	INPUT = @extschema@.rfm_metrics_state_in,
	OUTPUT = @extschema@.rfm_metrics_state_out,
	RECEIVE = @extschema@.rfm_metrics_state_recv,
	SEND = @extschema@.rfm_metrics_state_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = double,
	STORAGE = plain
);
COMMENT ON TYPE @extschema@.rfm_metrics_state IS 'partial state of the rfm_metrics aggregates (fixed size, combinable)';

-- What the aggregates return.  The date forms return rfm_metrics_date, whose
-- first and last events are dates, so no time zone enters a date computation.
CREATE TYPE @extschema@.rfm_metrics AS (
	first_event timestamptz,
	last_event timestamptz,
	recency_days float8,
	tenure_days float8,
	frequency bigint,
	weighted_frequency numeric,
	frequency_last_period bigint,
	weighted_frequency_last_period numeric,
	monetary numeric,
	avg_amount numeric,
	ignored_after_as_of bigint
);
COMMENT ON TYPE @extschema@.rfm_metrics IS 'per-customer RFM metrics (timestamptz forms)';

CREATE TYPE @extschema@.rfm_metrics_date AS (
	first_event date,
	last_event date,
	recency_days float8,
	tenure_days float8,
	frequency bigint,
	weighted_frequency numeric,
	frequency_last_period bigint,
	weighted_frequency_last_period numeric,
	monetary numeric,
	avg_amount numeric,
	ignored_after_as_of bigint
);
COMMENT ON TYPE @extschema@.rfm_metrics_date IS 'per-customer RFM metrics (date forms; recency in whole days)';

-- Transition functions.  IMMUTABLE: interval arithmetic is done in UTC, so
-- nothing depends on TimeZone.  Not STRICT: NULL event times and amounts are
-- meaningful inputs (skipped, or counted for frequency only).
CREATE FUNCTION @extschema@.rfm_metrics_trans(@extschema@.rfm_metrics_state, timestamptz, numeric, timestamptz)
	RETURNS @extschema@.rfm_metrics_state
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_metrics_trans(@extschema@.rfm_metrics_state, timestamptz, numeric, timestamptz) IS 'transition function of rfm_metrics(timestamptz, numeric, timestamptz)';

CREATE FUNCTION @extschema@.rfm_metrics_trans_numeric(@extschema@.rfm_metrics_state, timestamptz, numeric, numeric, timestamptz, interval)
	RETURNS @extschema@.rfm_metrics_state
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_metrics_trans_numeric(@extschema@.rfm_metrics_state, timestamptz, numeric, numeric, timestamptz, interval) IS 'transition function of rfm_metrics with a numeric weight';

CREATE FUNCTION @extschema@.rfm_metrics_trans_float8(@extschema@.rfm_metrics_state, timestamptz, numeric, float8, timestamptz, interval)
	RETURNS @extschema@.rfm_metrics_state
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_metrics_trans_float8(@extschema@.rfm_metrics_state, timestamptz, numeric, float8, timestamptz, interval) IS 'transition function of rfm_metrics with a float8 weight';

CREATE FUNCTION @extschema@.rfm_metrics_trans_date(@extschema@.rfm_metrics_state, date, numeric, date)
	RETURNS @extschema@.rfm_metrics_state
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_metrics_trans_date(@extschema@.rfm_metrics_state, date, numeric, date) IS 'transition function of rfm_metrics(date, numeric, date)';

CREATE FUNCTION @extschema@.rfm_metrics_trans_date_numeric(@extschema@.rfm_metrics_state, date, numeric, numeric, date, interval)
	RETURNS @extschema@.rfm_metrics_state
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_metrics_trans_date_numeric(@extschema@.rfm_metrics_state, date, numeric, numeric, date, interval) IS 'transition function of rfm_metrics on dates with a numeric weight';

CREATE FUNCTION @extschema@.rfm_metrics_trans_date_float8(@extschema@.rfm_metrics_state, date, numeric, float8, date, interval)
	RETURNS @extschema@.rfm_metrics_state
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_metrics_trans_date_float8(@extschema@.rfm_metrics_state, date, numeric, float8, date, interval) IS 'transition function of rfm_metrics on dates with a float8 weight';

-- STRICT: the executor then handles NULL partial states itself.
CREATE FUNCTION @extschema@.rfm_metrics_combine(@extschema@.rfm_metrics_state, @extschema@.rfm_metrics_state)
	RETURNS @extschema@.rfm_metrics_state
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_metrics_combine(@extschema@.rfm_metrics_state, @extschema@.rfm_metrics_state) IS 'merges two partial rfm_metrics states; as_of and last_period must match';

CREATE FUNCTION @extschema@.rfm_metrics_final(@extschema@.rfm_metrics_state)
	RETURNS @extschema@.rfm_metrics
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_metrics_final(@extschema@.rfm_metrics_state) IS 'final function of the timestamptz forms of rfm_metrics';

CREATE FUNCTION @extschema@.rfm_metrics_final_date(@extschema@.rfm_metrics_state)
	RETURNS @extschema@.rfm_metrics_date
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_metrics_final_date(@extschema@.rfm_metrics_state) IS 'final function of the date forms of rfm_metrics';

CREATE AGGREGATE @extschema@.rfm_metrics(event_time timestamptz, amount numeric, as_of timestamptz) (
	SFUNC = @extschema@.rfm_metrics_trans,
	STYPE = @extschema@.rfm_metrics_state,
	SSPACE = 256,
	FINALFUNC = @extschema@.rfm_metrics_final,
	COMBINEFUNC = @extschema@.rfm_metrics_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_metrics(timestamptz, numeric, timestamptz) IS 'RFM metrics of a group of events as of a time (weight 1, last period 30 days)';

CREATE AGGREGATE @extschema@.rfm_metrics(event_time timestamptz, amount numeric, weight numeric, as_of timestamptz, last_period interval) (
	SFUNC = @extschema@.rfm_metrics_trans_numeric,
	STYPE = @extschema@.rfm_metrics_state,
	SSPACE = 256,
	FINALFUNC = @extschema@.rfm_metrics_final,
	COMBINEFUNC = @extschema@.rfm_metrics_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_metrics(timestamptz, numeric, numeric, timestamptz, interval) IS 'RFM metrics with event weights and a last period';

CREATE AGGREGATE @extschema@.rfm_metrics(event_time timestamptz, amount numeric, weight float8, as_of timestamptz, last_period interval) (
	SFUNC = @extschema@.rfm_metrics_trans_float8,
	STYPE = @extschema@.rfm_metrics_state,
	SSPACE = 256,
	FINALFUNC = @extschema@.rfm_metrics_final,
	COMBINEFUNC = @extschema@.rfm_metrics_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_metrics(timestamptz, numeric, float8, timestamptz, interval) IS 'RFM metrics with float8 event weights (each taken as float8::numeric) and a last period';

CREATE AGGREGATE @extschema@.rfm_metrics(event_time date, amount numeric, as_of date) (
	SFUNC = @extschema@.rfm_metrics_trans_date,
	STYPE = @extschema@.rfm_metrics_state,
	SSPACE = 256,
	FINALFUNC = @extschema@.rfm_metrics_final_date,
	COMBINEFUNC = @extschema@.rfm_metrics_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_metrics(date, numeric, date) IS 'RFM metrics of a group of dated orders (recency in whole days; weight 1, last period 30 days)';

CREATE AGGREGATE @extschema@.rfm_metrics(event_time date, amount numeric, weight numeric, as_of date, last_period interval) (
	SFUNC = @extschema@.rfm_metrics_trans_date_numeric,
	STYPE = @extschema@.rfm_metrics_state,
	SSPACE = 256,
	FINALFUNC = @extschema@.rfm_metrics_final_date,
	COMBINEFUNC = @extschema@.rfm_metrics_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_metrics(date, numeric, numeric, date, interval) IS 'RFM metrics of dated events with weights and a last period';

CREATE AGGREGATE @extschema@.rfm_metrics(event_time date, amount numeric, weight float8, as_of date, last_period interval) (
	SFUNC = @extschema@.rfm_metrics_trans_date_float8,
	STYPE = @extschema@.rfm_metrics_state,
	SSPACE = 256,
	FINALFUNC = @extschema@.rfm_metrics_final_date,
	COMBINEFUNC = @extschema@.rfm_metrics_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_metrics(date, numeric, float8, date, interval) IS 'RFM metrics of dated events with float8 weights and a last period';

-- Since 0.3: a last period without a weight, and refunds.  With refunds
-- 'adjust', a negative amount is a refund, as a retailer reads one: it
-- reduces monetary but is not a purchase (no frequency, recency, first or
-- last event, last-period activity); 'events' (the forms above) counts it
-- as an event like any other.  Aggregates have no defaults, so each
-- combination is its own form; the refunds forms take a weight (pass 1),
-- because a five-argument refunds form would make calls with a literal
-- as_of ambiguous with the weighted forms.
CREATE FUNCTION @extschema@.rfm_metrics_trans_period(@extschema@.rfm_metrics_state, timestamptz, numeric, timestamptz, interval)
	RETURNS @extschema@.rfm_metrics_state
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_metrics_trans_period(@extschema@.rfm_metrics_state, timestamptz, numeric, timestamptz, interval) IS 'transition function of rfm_metrics(timestamptz, numeric, timestamptz, interval)';

CREATE FUNCTION @extschema@.rfm_metrics_trans_date_period(@extschema@.rfm_metrics_state, date, numeric, date, interval)
	RETURNS @extschema@.rfm_metrics_state
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_metrics_trans_date_period(@extschema@.rfm_metrics_state, date, numeric, date, interval) IS 'transition function of rfm_metrics(date, numeric, date, interval)';

CREATE FUNCTION @extschema@.rfm_metrics_trans_numeric_refunds(@extschema@.rfm_metrics_state, timestamptz, numeric, numeric, timestamptz, interval, text)
	RETURNS @extschema@.rfm_metrics_state
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_metrics_trans_numeric_refunds(@extschema@.rfm_metrics_state, timestamptz, numeric, numeric, timestamptz, interval, text) IS 'transition function of rfm_metrics(timestamptz, numeric, numeric, timestamptz, interval, text)';

CREATE FUNCTION @extschema@.rfm_metrics_trans_float8_refunds(@extschema@.rfm_metrics_state, timestamptz, numeric, float8, timestamptz, interval, text)
	RETURNS @extschema@.rfm_metrics_state
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_metrics_trans_float8_refunds(@extschema@.rfm_metrics_state, timestamptz, numeric, float8, timestamptz, interval, text) IS 'transition function of rfm_metrics(timestamptz, numeric, float8, timestamptz, interval, text)';

CREATE FUNCTION @extschema@.rfm_metrics_trans_date_numeric_refunds(@extschema@.rfm_metrics_state, date, numeric, numeric, date, interval, text)
	RETURNS @extschema@.rfm_metrics_state
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_metrics_trans_date_numeric_refunds(@extschema@.rfm_metrics_state, date, numeric, numeric, date, interval, text) IS 'transition function of rfm_metrics(date, numeric, numeric, date, interval, text)';

CREATE FUNCTION @extschema@.rfm_metrics_trans_date_float8_refunds(@extschema@.rfm_metrics_state, date, numeric, float8, date, interval, text)
	RETURNS @extschema@.rfm_metrics_state
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_metrics_trans_date_float8_refunds(@extschema@.rfm_metrics_state, date, numeric, float8, date, interval, text) IS 'transition function of rfm_metrics(date, numeric, float8, date, interval, text)';

CREATE AGGREGATE @extschema@.rfm_metrics(event_time timestamptz, amount numeric, as_of timestamptz, last_period interval) (
	SFUNC = @extschema@.rfm_metrics_trans_period,
	STYPE = @extschema@.rfm_metrics_state,
	SSPACE = 256,
	FINALFUNC = @extschema@.rfm_metrics_final,
	COMBINEFUNC = @extschema@.rfm_metrics_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_metrics(timestamptz, numeric, timestamptz, interval) IS 'RFM metrics with a last period (weight 1)';

CREATE AGGREGATE @extschema@.rfm_metrics(event_time date, amount numeric, as_of date, last_period interval) (
	SFUNC = @extschema@.rfm_metrics_trans_date_period,
	STYPE = @extschema@.rfm_metrics_state,
	SSPACE = 256,
	FINALFUNC = @extschema@.rfm_metrics_final_date,
	COMBINEFUNC = @extschema@.rfm_metrics_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_metrics(date, numeric, date, interval) IS 'RFM metrics of dated events with a last period (weight 1)';

CREATE AGGREGATE @extschema@.rfm_metrics(event_time timestamptz, amount numeric, weight numeric, as_of timestamptz, last_period interval, refunds text) (
	SFUNC = @extschema@.rfm_metrics_trans_numeric_refunds,
	STYPE = @extschema@.rfm_metrics_state,
	SSPACE = 256,
	FINALFUNC = @extschema@.rfm_metrics_final,
	COMBINEFUNC = @extschema@.rfm_metrics_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_metrics(timestamptz, numeric, numeric, timestamptz, interval, text) IS 'RFM metrics with event weights, a last period and a refunds setting';

CREATE AGGREGATE @extschema@.rfm_metrics(event_time timestamptz, amount numeric, weight float8, as_of timestamptz, last_period interval, refunds text) (
	SFUNC = @extschema@.rfm_metrics_trans_float8_refunds,
	STYPE = @extschema@.rfm_metrics_state,
	SSPACE = 256,
	FINALFUNC = @extschema@.rfm_metrics_final,
	COMBINEFUNC = @extschema@.rfm_metrics_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_metrics(timestamptz, numeric, float8, timestamptz, interval, text) IS 'RFM metrics with float8 event weights, a last period and a refunds setting';

CREATE AGGREGATE @extschema@.rfm_metrics(event_time date, amount numeric, weight numeric, as_of date, last_period interval, refunds text) (
	SFUNC = @extschema@.rfm_metrics_trans_date_numeric_refunds,
	STYPE = @extschema@.rfm_metrics_state,
	SSPACE = 256,
	FINALFUNC = @extschema@.rfm_metrics_final_date,
	COMBINEFUNC = @extschema@.rfm_metrics_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_metrics(date, numeric, numeric, date, interval, text) IS 'RFM metrics of dated events with weights, a last period and a refunds setting';

CREATE AGGREGATE @extschema@.rfm_metrics(event_time date, amount numeric, weight float8, as_of date, last_period interval, refunds text) (
	SFUNC = @extschema@.rfm_metrics_trans_date_float8_refunds,
	STYPE = @extschema@.rfm_metrics_state,
	SSPACE = 256,
	FINALFUNC = @extschema@.rfm_metrics_final_date,
	COMBINEFUNC = @extschema@.rfm_metrics_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_metrics(date, numeric, float8, date, interval, text) IS 'RFM metrics of dated events with float8 weights, a last period and a refunds setting';

-- The partial state itself, as an aggregate without a final function: one
-- state per group, which rfm_metrics_final turns into the metrics and
-- rfm_metrics_combine merges.  rfm_analyze reads a source this way, GROUP
-- BY the customer, where that is pushed down to partitions, foreign servers
-- or Citus shards, run in parallel workers, or spilled to disk; a model can
-- keep such states.  The forms with a weight and refunds only: the others
-- pass weight 1 and 'events'.
CREATE AGGREGATE @extschema@.rfm_metrics_state_agg(event_time timestamptz, amount numeric, weight numeric, as_of timestamptz, last_period interval, refunds text) (
	SFUNC = @extschema@.rfm_metrics_trans_numeric_refunds,
	STYPE = @extschema@.rfm_metrics_state,
	SSPACE = 256,
	COMBINEFUNC = @extschema@.rfm_metrics_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_metrics_state_agg(timestamptz, numeric, numeric, timestamptz, interval, text) IS 'the partial rfm_metrics state of a group of events, to store or combine later';

CREATE AGGREGATE @extschema@.rfm_metrics_state_agg(event_time date, amount numeric, weight numeric, as_of date, last_period interval, refunds text) (
	SFUNC = @extschema@.rfm_metrics_trans_date_numeric_refunds,
	STYPE = @extschema@.rfm_metrics_state,
	SSPACE = 256,
	COMBINEFUNC = @extschema@.rfm_metrics_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_metrics_state_agg(date, numeric, numeric, date, interval, text) IS 'the partial rfm_metrics state of a group of dated events, to store or combine later';

-- ---------------------------------------------------------------------------
-- 2. Scoring
-- ---------------------------------------------------------------------------

-- rfm_breaks keeps (value, count) pairs in an "internal" state, so it needs
-- serial/deserial functions to cross processes.  Its memory is at most 32
-- bytes per distinct value, not per row.  The transition and combine
-- functions are not STRICT: NULL values are skipped, and the first state is
-- made by the function.
CREATE FUNCTION @extschema@.rfm_breaks_trans(internal, float8, int)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_breaks_trans(internal, float8, int) IS 'transition function of rfm_breaks(float8, int)';

CREATE FUNCTION @extschema@.rfm_breaks_trans_method(internal, float8, int, text)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_breaks_trans_method(internal, float8, int, text) IS 'transition function of rfm_breaks(float8, int, text)';

CREATE FUNCTION @extschema@.rfm_breaks_combine(internal, internal)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_breaks_combine(internal, internal) IS 'merges two partial rfm_breaks states';

CREATE FUNCTION @extschema@.rfm_breaks_serial(internal)
	RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_breaks_serial(internal) IS 'serializes a partial rfm_breaks state';

CREATE FUNCTION @extschema@.rfm_breaks_deserial(bytea, internal)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_breaks_deserial(bytea, internal) IS 'deserializes a partial rfm_breaks state';

CREATE FUNCTION @extschema@.rfm_breaks_final(internal)
	RETURNS float8[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_breaks_final(internal) IS 'final function of rfm_breaks: bins - 1 cut points';

CREATE AGGREGATE @extschema@.rfm_breaks(value float8, bins int) (
	SFUNC = @extschema@.rfm_breaks_trans,
	STYPE = internal,
	FINALFUNC = @extschema@.rfm_breaks_final,
	COMBINEFUNC = @extschema@.rfm_breaks_combine,
	SERIALFUNC = @extschema@.rfm_breaks_serial,
	DESERIALFUNC = @extschema@.rfm_breaks_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_breaks(float8, int) IS 'quantile cut points (type 7, at k/bins) for scoring values into bins';

CREATE AGGREGATE @extschema@.rfm_breaks(value float8, bins int, method text) (
	SFUNC = @extschema@.rfm_breaks_trans_method,
	STYPE = internal,
	FINALFUNC = @extschema@.rfm_breaks_final,
	COMBINEFUNC = @extschema@.rfm_breaks_combine,
	SERIALFUNC = @extschema@.rfm_breaks_serial,
	DESERIALFUNC = @extschema@.rfm_breaks_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_breaks(float8, int, text) IS 'cut points by method: ''quantile'' or ''r_rfm'' (the R rfm package)';

-- STRICT: a NULL value (or breaks) scores NULL.
CREATE FUNCTION @extschema@.rfm_score(value float8, breaks float8[], method text DEFAULT 'quantile')
	RETURNS int
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_score(float8, float8[], text) IS 'score 1..bins of a value, higher value -> higher score';

CREATE FUNCTION @extschema@.rfm_score_desc(value float8, breaks float8[], method text DEFAULT 'quantile')
	RETURNS int
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_score_desc(float8, float8[], text) IS 'score 1..bins of a value, lower value -> higher score (recency)';

-- The score table: per score, how many values and which range, including
-- scores a heavy tie left empty.  Bodies are bound when created (BEGIN
-- ATOMIC), so no search_path at call time can redirect them.
CREATE FUNCTION @extschema@.rfm_score_table(value float8[], breaks float8[], method text DEFAULT 'quantile',
											descending boolean DEFAULT false)
	RETURNS TABLE (score int, customers bigint, min_value float8, max_value float8,
				   lower_break float8, upper_break float8)
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
	SELECT s.score, count(v.x), min(v.x), max(v.x),
		breaks[CASE WHEN descending THEN cardinality(breaks) + 1 - s.score ELSE s.score - 1 END],
		breaks[CASE WHEN descending THEN cardinality(breaks) + 2 - s.score ELSE s.score END]
	FROM generate_series(1, cardinality(breaks) + 1) AS s(score)
	LEFT JOIN (SELECT u.x,
				   CASE WHEN descending THEN @extschema@.rfm_score_desc(u.x, breaks, method)
						ELSE @extschema@.rfm_score(u.x, breaks, method) END AS score
			   FROM unnest(value) AS u(x) WHERE u.x IS NOT NULL) AS v
		ON v.score = s.score
	GROUP BY s.score
	ORDER BY s.score;
END;
COMMENT ON FUNCTION @extschema@.rfm_score_table(float8[], float8[], text, boolean) IS 'per score: values, min and max, and the breaks around it';

CREATE FUNCTION @extschema@.rfm_score_table(value float8[], bins int, method text DEFAULT 'quantile',
											descending boolean DEFAULT false)
	RETURNS TABLE (score int, customers bigint, min_value float8, max_value float8,
				   lower_break float8, upper_break float8)
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
	SELECT t.*
	FROM (SELECT @extschema@.rfm_breaks(u.x, bins, method) AS b FROM unnest(value) AS u(x)) AS q,
		@extschema@.rfm_score_table(value, q.b, method, descending) AS t;
END;
COMMENT ON FUNCTION @extschema@.rfm_score_table(float8[], int, text, boolean) IS 'the score table for breaks computed from the values themselves';

-- ---------------------------------------------------------------------------
-- 3. Segments
-- ---------------------------------------------------------------------------

-- Built-in rule sets are read-only: copy one to change it.  A CHECK
-- constraint rather than privileges, because the owner (a superuser) must
-- be stopped too, and rather than a trigger, so that Citus can make the
-- table a reference table on every node.  It refuses a row under a
-- built-in name unless it is the library's rule, and a row marked builtin
-- under another name; it raises the error itself, to name the rule set
-- and give the fix.  A CHECK cannot refuse DELETE or TRUNCATE of the
-- seeded rows: rfm_segment compiles built-in names from the library, so
-- that changes no segment, and the rows can be put back from
-- rfm_builtin_rules() (segments.md).
-- IMMUTABLE: it reads its arguments and the compiled rules only.  Not
-- STRICT: description and action may be NULL.
CREATE FUNCTION @extschema@.rfm_segment_rule_check(rule_set text, priority int, segment text,
												   r_min int, r_max int, f_min int, f_max int,
												   m_min int, m_max int, builtin boolean,
												   description text, action text, danger boolean)
	RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_segment_rule_check(text, int, text, int, int, int, int, int, int, boolean, text, text, boolean) IS 'the CHECK constraint of rfm_segment_rule: rows under a built-in name are the library''s rules';

-- Editable rule sets: the first rule (lowest priority number) whose R, F and
-- M ranges all contain the scores names the segment; no match is 'Others'.
-- Scores run 1..10, the bins range of the library (RFM_MAX_BINS in
-- scoring.h; the consistency test checks that the two agree).
CREATE TABLE @extschema@.rfm_segment_rule (
	rule_set text NOT NULL CHECK (rule_set <> ''),
	priority int NOT NULL,
	segment text NOT NULL CHECK (segment <> ''),
	r_min int NOT NULL DEFAULT 1,
	r_max int NOT NULL DEFAULT 10,
	f_min int NOT NULL DEFAULT 1,
	f_max int NOT NULL DEFAULT 10,
	m_min int NOT NULL DEFAULT 1,
	m_max int NOT NULL DEFAULT 10,
	builtin boolean NOT NULL DEFAULT false,
	description text,			-- what the segment means (since 0.3)
	action text,				-- what to do about it
	danger boolean NOT NULL DEFAULT false,	-- rfm_churn_alerts watches it
	PRIMARY KEY (rule_set, priority),
	CONSTRAINT rfm_segment_rule_r CHECK (r_min BETWEEN 1 AND 10 AND r_max BETWEEN r_min AND 10),
	CONSTRAINT rfm_segment_rule_f CHECK (f_min BETWEEN 1 AND 10 AND f_max BETWEEN f_min AND 10),
	CONSTRAINT rfm_segment_rule_m CHECK (m_min BETWEEN 1 AND 10 AND m_max BETWEEN m_min AND 10),
	CONSTRAINT rfm_segment_rule_builtin CHECK (@extschema@.rfm_segment_rule_check(rule_set, priority, segment,
		r_min, r_max, f_min, f_max, m_min, m_max, builtin, description, action, danger))
);
COMMENT ON TABLE @extschema@.rfm_segment_rule IS 'segment rule sets: first match by priority wins; built-in sets are read-only';
COMMENT ON COLUMN @extschema@.rfm_segment_rule.description IS 'what the segment means, for the people who read a report';
COMMENT ON COLUMN @extschema@.rfm_segment_rule.action IS 'what to do about the segment';
COMMENT ON COLUMN @extschema@.rfm_segment_rule.danger IS 'a danger segment: rfm_churn_alerts alerts on customers who enter it';
-- user rules survive pg_dump; the seeded rows come from CREATE EXTENSION
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rfm_segment_rule', 'WHERE NOT builtin');
-- rfm_segment reads the table with the caller's rights
GRANT SELECT ON @extschema@.rfm_segment_rule TO PUBLIC;

-- The built-in rule sets live in the library (segments.c), their one home:
-- the table is seeded from this function, rfm_segment compiles their names
-- from the library, and rfm_segment_standard reads the standard set without
-- a table.  IMMUTABLE: the rules are compiled in.
--   standard  the R rfm package README's segments, in its order of priority
--   rffl      activity without money (Avito's RFFL): R = recency, F =
--             frequency (or weighted frequency), and the third score L =
--             last-period frequency, which tells a user active right now
--             from one whose activity is old
CREATE FUNCTION @extschema@.rfm_builtin_rules()
	RETURNS TABLE (rule_set text, priority int, segment text, r_min int, r_max int,
				   f_min int, f_max int, m_min int, m_max int,
				   description text, action text, danger boolean)
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 16;
COMMENT ON FUNCTION @extschema@.rfm_builtin_rules() IS 'the rules of the built-in rule sets, with each segment''s meaning, action and danger flag, as compiled into the library';

INSERT INTO @extschema@.rfm_segment_rule
	(rule_set, priority, segment, r_min, r_max, f_min, f_max, m_min, m_max, builtin,
	 description, action, danger)
SELECT b.rule_set, b.priority, b.segment, b.r_min, b.r_max, b.f_min, b.f_max, b.m_min, b.m_max, true,
	b.description, b.action, b.danger
FROM @extschema@.rfm_builtin_rules() b;

-- Every rule a rule set name can mean: the built-in sets from the library,
-- which no DELETE of the seeded rows can take away, and the user's rows.
-- The one reading of rules for SQL: rfm_check_rules, rfm_copy_rule_set,
-- rfm_churn_alerts' danger segments and a model's segment summary.
-- security_invoker: read with the caller's rights on rfm_segment_rule.
CREATE VIEW @extschema@.rfm_rules WITH (security_invoker = true) AS
SELECT b.rule_set, b.priority, b.segment, b.r_min, b.r_max, b.f_min, b.f_max, b.m_min, b.m_max,
	true AS builtin, b.description, b.action, b.danger
FROM @extschema@.rfm_builtin_rules() b
UNION ALL
SELECT u.rule_set, u.priority, u.segment, u.r_min, u.r_max, u.f_min, u.f_max, u.m_min, u.m_max,
	false, u.description, u.action, u.danger
FROM @extschema@.rfm_segment_rule u WHERE NOT u.builtin;
COMMENT ON VIEW @extschema@.rfm_rules IS 'every rule of every rule set: the built-in ones from the library, and the user''s rows of rfm_segment_rule';
GRANT SELECT ON @extschema@.rfm_rules TO PUBLIC;

-- The rule set rfm_analyze uses when none is named: 'standard' with an
-- amount column, 'rffl' without.  For SQL functions that must name the same
-- one as the library.
CREATE FUNCTION @extschema@.rfm_default_rule_set(has_amount boolean)
	RETURNS text
	AS 'MODULE_PATHNAME', 'rfm_default_rule_set_sql' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_default_rule_set(boolean) IS 'the rule set rfm_analyze uses when none is named';

-- STABLE: reads rfm_segment_rule.  STRICT: NULL scores have no segment.
CREATE FUNCTION @extschema@.rfm_segment(r int, f int, m int, rule_set text DEFAULT 'standard')
	RETURNS text
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_segment(int, int, int, text) IS 'segment name for R, F, M scores under a rule set';

-- IMMUTABLE: the built-in standard map is compiled in, no table is read, so
-- it may define a generated column.
CREATE FUNCTION @extschema@.rfm_segment_standard(r int, f int, m int)
	RETURNS text
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_segment_standard(int, int, int) IS 'segment name under the built-in standard rules, without reading a table';

CREATE FUNCTION @extschema@.rfm_copy_rule_set(source text, target text)
	RETURNS int
	LANGUAGE plpgsql VOLATILE STRICT
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	copied int;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM @extschema@.rfm_rules r WHERE r.rule_set = source) THEN
		RAISE EXCEPTION 'unknown rule set "%"', source USING ERRCODE = '22023';
	END IF;
	IF EXISTS (SELECT 1 FROM @extschema@.rfm_rules r WHERE r.rule_set = target) THEN
		RAISE EXCEPTION 'rule set "%" already exists', target
			USING ERRCODE = '42710', HINT = 'Choose another name, or delete that rule set first.';
	END IF;
	INSERT INTO @extschema@.rfm_segment_rule
		(rule_set, priority, segment, r_min, r_max, f_min, f_max, m_min, m_max, builtin,
		 description, action, danger)
	SELECT target, r.priority, r.segment, r.r_min, r.r_max, r.f_min, r.f_max, r.m_min, r.m_max, false,
		r.description, r.action, r.danger
	FROM @extschema@.rfm_rules r WHERE r.rule_set = source;
	GET DIAGNOSTICS copied = ROW_COUNT;
	RETURN copied;
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_copy_rule_set(text, text) IS 'copies a rule set (built-in or not), with its descriptions, actions and danger flags, under a new, editable name';

-- Problems of a rule set over the score cube 1..bins: rules that overlap an
-- earlier rule (the earlier one wins those cells), rules that can never win,
-- and cells no rule covers (they become 'Others').
CREATE FUNCTION @extschema@.rfm_check_rules(rule_set text, bins int DEFAULT 5)
	RETURNS TABLE (problem text, priority int, segment text, other_priority int,
				   other_segment text, cells bigint, detail text)
	LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	-- the range of RFM_MIN_BINS..RFM_MAX_BINS in scoring.h (test: consistency)
	IF bins < 2 OR bins > 10 THEN
		RAISE EXCEPTION 'bins must be between 2 and 10, not %', bins
			USING ERRCODE = '22023', HINT = 'Five bins are the usual choice.';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM @extschema@.rfm_rules r WHERE r.rule_set = rfm_check_rules.rule_set) THEN
		RAISE EXCEPTION 'unknown rule set "%"', rfm_check_rules.rule_set
			USING ERRCODE = '22023', HINT = 'Built-in rule sets are ''standard'' and ''rffl''.';
	END IF;
	RETURN QUERY
	WITH rules AS (
		SELECT r.* FROM @extschema@.rfm_rules r WHERE r.rule_set = rfm_check_rules.rule_set
	), grid AS (
		SELECT r, f, m FROM generate_series(1, bins) r, generate_series(1, bins) f, generate_series(1, bins) m
	), matches AS (
		SELECT g.r, g.f, g.m, x.priority, x.segment,
			row_number() OVER (PARTITION BY g.r, g.f, g.m ORDER BY x.priority) AS rank
		FROM grid g JOIN rules x
			ON g.r BETWEEN x.r_min AND x.r_max AND g.f BETWEEN x.f_min AND x.f_max
		   AND g.m BETWEEN x.m_min AND x.m_max
	), winners AS (
		SELECT * FROM matches WHERE rank = 1
	)
	SELECT 'overlap'::text, b.priority, b.segment, a.priority, a.segment, count(*),
		format('%s cells match both; %s wins them', count(*), a.segment)
	FROM matches a JOIN matches b USING (r, f, m)
	WHERE a.priority < b.priority
	GROUP BY a.priority, a.segment, b.priority, b.segment
	UNION ALL
	SELECT 'unreachable', x.priority, x.segment, NULL::int, NULL::text, 0::bigint,
		CASE WHEN EXISTS (SELECT 1 FROM matches y WHERE y.priority = x.priority)
			 THEN 'every cell it matches is taken by an earlier rule'
			 ELSE format('it matches no cell with scores 1..%s', bins) END
	FROM rules x
	WHERE NOT EXISTS (SELECT 1 FROM winners w WHERE w.priority = x.priority)
	UNION ALL
	SELECT 'uncovered', NULL::int, 'Others', NULL::int, NULL::text, 1::bigint,
		format('r=%s f=%s m=%s matches no rule', g.r, g.f, g.m)
	FROM grid g
	WHERE NOT EXISTS (SELECT 1 FROM matches x WHERE (x.r, x.f, x.m) = (g.r, g.f, g.m))
	ORDER BY 1, 2, 4, 7;
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_check_rules(text, int) IS 'overlapping and unreachable rules, and score cells no rule covers';

-- ---------------------------------------------------------------------------
-- 4. Cohorts and retention
-- ---------------------------------------------------------------------------

-- The period of a timestamptz depends on the time zone, so the IMMUTABLE
-- form takes it as an argument (usable in generated columns and indexes);
-- the form without one reads the session TimeZone and is only STABLE.
CREATE FUNCTION @extschema@.rfm_cohort(ts timestamptz, grain text, tz text)
	RETURNS text
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_cohort(timestamptz, text, text) IS 'period label (''2019-11'', ''2019-W45'', ''2019-Q4'', ''2019'', ''2019-11-05'') of a time in a time zone';

CREATE FUNCTION @extschema@.rfm_cohort(ts timestamptz, grain text)
	RETURNS text
	AS 'MODULE_PATHNAME', 'rfm_cohort_session' LANGUAGE C STABLE STRICT PARALLEL SAFE;  -- STABLE: session TimeZone
COMMENT ON FUNCTION @extschema@.rfm_cohort(timestamptz, text) IS 'period label of a time in the session TimeZone';

CREATE FUNCTION @extschema@.rfm_cohort(d date, grain text)
	RETURNS text
	AS 'MODULE_PATHNAME', 'rfm_cohort_date' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_cohort(date, text) IS 'period label of a date';

CREATE FUNCTION @extschema@.rfm_cohort_start(ts timestamptz, grain text, tz text)
	RETURNS date
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_cohort_start(timestamptz, text, text) IS 'first day of the period of a time in a time zone';

CREATE FUNCTION @extschema@.rfm_cohort_start(ts timestamptz, grain text)
	RETURNS date
	AS 'MODULE_PATHNAME', 'rfm_cohort_start_session' LANGUAGE C STABLE STRICT PARALLEL SAFE;  -- STABLE: session TimeZone
COMMENT ON FUNCTION @extschema@.rfm_cohort_start(timestamptz, text) IS 'first day of the period of a time in the session TimeZone';

CREATE FUNCTION @extschema@.rfm_cohort_start(d date, grain text)
	RETURNS date
	AS 'MODULE_PATHNAME', 'rfm_cohort_start_date' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_cohort_start(date, text) IS 'first day of the period of a date';

-- The as-of times of rolling snapshots: the last microsecond of every
-- period from the one holding first to the one holding last, in tz, so a
-- snapshot counts the whole last day (midnight at the start of the last
-- day, the usual hand-written month end, drops that day's orders).
-- IMMUTABLE: the time zone is an argument.  Periods are those of
-- rfm_cohort (ISO weeks start on Monday).
CREATE FUNCTION @extschema@.rfm_period_ends(first date, last date, grain text DEFAULT 'month',
											tz text DEFAULT 'UTC')
	RETURNS timestamptz[]
	LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	step interval;
BEGIN
	IF first > last THEN
		RAISE EXCEPTION 'first (%) must not be after last (%)', first, last
			USING ERRCODE = '22023', HINT = 'Pass the earlier date first.';
	END IF;
	step := CASE grain WHEN 'day' THEN interval '1 day' WHEN 'week' THEN interval '7 days'
					   WHEN 'month' THEN interval '1 month' WHEN 'quarter' THEN interval '3 months'
					   WHEN 'year' THEN interval '1 year' END;
	IF step IS NULL THEN
		RAISE EXCEPTION 'unknown grain "%"', grain
			USING ERRCODE = '22023', HINT = 'Use ''day'', ''week'', ''month'', ''quarter'' or ''year''.';
	END IF;
	RETURN ARRAY(
		SELECT ((p + step) AT TIME ZONE tz) - interval '1 microsecond'
		FROM generate_series(@extschema@.rfm_cohort_start(first, grain)::timestamp,
							 @extschema@.rfm_cohort_start(last, grain)::timestamp, step) AS p
		ORDER BY p);
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_period_ends(date, date, text, text) IS 'the last microsecond of every period from first to last, in a time zone: as-of times for rfm_snapshots';

-- The first day of the period a cohort label names, so a dashboard sorts
-- and plots cohorts by date.  IMMUTABLE: a label and a grain are all it
-- reads.
CREATE FUNCTION @extschema@.rfm_cohort_date(cohort text, grain text)
	RETURNS date
	AS 'MODULE_PATHNAME', 'rfm_cohort_date_of_label' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_cohort_date(text, text) IS 'first day of the period a cohort label (''2019-11'', ''2019-W45'', ...) names';

-- The retention triangle in one scan (no self-join).  STABLE: it reads the
-- source; PARALLEL RESTRICTED: it runs its own query.
CREATE FUNCTION @extschema@.rfm_retention(source regclass, customer_column name, time_column name,
										  grain text DEFAULT 'month', tz text DEFAULT 'UTC',
										  as_of timestamptz DEFAULT NULL)
	RETURNS TABLE (cohort text, period_offset int, cohort_size bigint, active bigint, rate float8)
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 1000;
COMMENT ON FUNCTION @extschema@.rfm_retention(regclass, name, name, text, text, timestamptz) IS 'cohort retention triangle: customers of each first-period cohort active k periods later';

-- ---------------------------------------------------------------------------
-- 5. One-call analysis (the fast path)
-- ---------------------------------------------------------------------------

-- One scan of the source, as the caller (privileges and row security apply),
-- with its own hash table of customers; the same numbers as rfm_metrics +
-- rfm_breaks + rfm_score + rfm_segment.  STABLE: it reads tables and, for
-- date and timestamp columns, the session TimeZone.  PARALLEL RESTRICTED:
-- it runs its own query, so it stays in the leader.  rule_set NULL means
-- 'standard' with an amount column and 'rffl' without one.  refunds
-- 'adjust' (since 0.3) makes a negative amount a refund, not a purchase; a
-- customer with refunds only is then reported with frequency 0 and no
-- scores.  A NOTICE says when as_of is far past the source's latest event.
CREATE FUNCTION @extschema@.rfm_analyze(source regclass, customer_column name, time_column name,
										amount_column name DEFAULT NULL, weight_column name DEFAULT NULL,
										as_of timestamptz DEFAULT NULL, last_period interval DEFAULT '30 days',
										bins int DEFAULT 5, method text DEFAULT 'quantile',
										rule_set text DEFAULT NULL, refunds text DEFAULT 'events')
	RETURNS TABLE (customer_key text, first_event timestamptz, last_event timestamptz,
				   recency_days float8, tenure_days float8, frequency bigint,
				   weighted_frequency numeric, frequency_last_period bigint,
				   weighted_frequency_last_period numeric, monetary numeric, avg_amount numeric,
				   ignored_after_as_of bigint, r int, f int, m int, segment text)
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10000;
COMMENT ON FUNCTION @extschema@.rfm_analyze(regclass, name, name, name, name, timestamptz, interval, int, text, text, text) IS 'metrics, scores and segment per customer in one scan';

-- The analysis within each group (a category, a store, a country): one row
-- per (group, customer), breaks per group, in one scan; the same rows as
-- rfm_analyze on each group's rows alone.  Read as one state per (group,
-- customer) from a GROUP BY ordered by group, so one group is held at a
-- time and it spills.  A separate name rather than a group_column of
-- rfm_analyze: its rows have one more column.
CREATE FUNCTION @extschema@.rfm_analyze_groups(source regclass, customer_column name, group_column name,
											   time_column name, amount_column name DEFAULT NULL,
											   weight_column name DEFAULT NULL, as_of timestamptz DEFAULT NULL,
											   last_period interval DEFAULT '30 days', bins int DEFAULT 5,
											   method text DEFAULT 'quantile', rule_set text DEFAULT NULL,
											   refunds text DEFAULT 'events')
	RETURNS TABLE (group_key text, customer_key text, first_event timestamptz, last_event timestamptz,
				   recency_days float8, tenure_days float8, frequency bigint,
				   weighted_frequency numeric, frequency_last_period bigint,
				   weighted_frequency_last_period numeric, monetary numeric, avg_amount numeric,
				   ignored_after_as_of bigint, r int, f int, m int, segment text)
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10000;
COMMENT ON FUNCTION @extschema@.rfm_analyze_groups(regclass, name, name, name, name, name, timestamptz, interval, int, text, text, text) IS 'metrics, scores and segment per customer within each group (category, store), breaks per group, in one scan';

-- The same at many as-of dates in one scan.  A separate name: an overload of
-- rfm_analyze on timestamptz[] would make calls with a literal ambiguous.
-- The first output column is snapshot_as_of: an output may not share the
-- name of the as_of parameter.
CREATE FUNCTION @extschema@.rfm_snapshots(source regclass, customer_column name, time_column name,
										  amount_column name DEFAULT NULL, weight_column name DEFAULT NULL,
										  as_of timestamptz[] DEFAULT NULL, last_period interval DEFAULT '30 days',
										  bins int DEFAULT 5, method text DEFAULT 'quantile',
										  rule_set text DEFAULT NULL, refunds text DEFAULT 'events')
	RETURNS TABLE (snapshot_as_of timestamptz, customer_key text, first_event timestamptz,
				   last_event timestamptz, recency_days float8, tenure_days float8, frequency bigint,
				   weighted_frequency numeric, frequency_last_period bigint,
				   weighted_frequency_last_period numeric, monetary numeric, avg_amount numeric,
				   ignored_after_as_of bigint, r int, f int, m int, segment text)
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 100000;
COMMENT ON FUNCTION @extschema@.rfm_snapshots(regclass, name, name, name, name, timestamptz[], interval, int, text, text, text) IS 'rfm_analyze at many as-of dates, in one scan';

-- Segment migration between two dates.  from_segment is NULL for customers
-- whose first event came after from_as_of.  revenue_between has one scale
-- for the whole result: the largest scale among its sums.
CREATE FUNCTION @extschema@.rfm_transitions(source regclass, customer_column name, time_column name,
											amount_column name DEFAULT NULL, weight_column name DEFAULT NULL,
											from_as_of timestamptz DEFAULT NULL, to_as_of timestamptz DEFAULT NULL,
											last_period interval DEFAULT '30 days', bins int DEFAULT 5,
											method text DEFAULT 'quantile', rule_set text DEFAULT NULL,
											refunds text DEFAULT 'events')
	RETURNS TABLE (from_segment text, to_segment text, customers bigint, revenue_between numeric)
	LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF from_as_of IS NULL OR to_as_of IS NULL THEN
		RAISE EXCEPTION 'from_as_of and to_as_of must not be NULL'
			USING ERRCODE = '22004', HINT = 'Pass the two dates to compare, the earlier first.';
	END IF;
	IF from_as_of >= to_as_of THEN
		RAISE EXCEPTION 'from_as_of must be before to_as_of'
			USING ERRCODE = '22023', HINT = 'Pass the earlier date as from_as_of.';
	END IF;
	RETURN QUERY
	WITH s AS (
		SELECT * FROM @extschema@.rfm_snapshots(source, customer_column, time_column, amount_column,
												 weight_column, ARRAY[from_as_of, to_as_of], last_period,
												 bins, method, rule_set, refunds)
	), a AS (
		SELECT * FROM s WHERE s.snapshot_as_of = from_as_of
	), b AS (
		SELECT * FROM s WHERE s.snapshot_as_of = to_as_of
	), moves AS (
		SELECT a.segment AS before, b.segment AS after, count(*) AS n,
			sum(b.monetary) - coalesce(sum(a.monetary), 0) AS revenue
		-- null-safe, and still a hash join: IS NOT DISTINCT FROM would not be
		FROM b LEFT JOIN a ON (a.customer_key IS NULL) = (b.customer_key IS NULL)
			AND coalesce(a.customer_key, '') = coalesce(b.customer_key, '')
		GROUP BY a.segment, b.segment
	)
	SELECT m.before, m.after, m.n, round(m.revenue, max(scale(m.revenue)) OVER ())
	FROM moves m
	ORDER BY m.before NULLS FIRST, m.after;
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_transitions(regclass, name, name, name, name, timestamptz, timestamptz, interval, int, text, text, text) IS 'segment-to-segment customer counts and revenue between two dates';

-- Early warning: customers present at both dates who entered a danger
-- segment from a segment that is not one (or, with danger_moves, moved
-- between two danger segments too, say About To Sleep to Lost), or whose
-- recency score fell by at least min_recency_drop.  danger NULL means the
-- segments of the rule set marked danger (rfm_segment_rule.danger): At
-- Risk, Can't Lose Them, About To Sleep, Lost for standard; Cooling, Cold
-- for rffl.  With p_alive_below, also customers whose probability of being
-- alive fell below it: a Pareto/NBD fitted at each date on the purchase
-- days up to it (days in the session's TimeZone).  The summaries and fits
-- run only when p_alive_below is given.
CREATE FUNCTION @extschema@.rfm_churn_alerts(source regclass, customer_column name, time_column name,
											 amount_column name DEFAULT NULL, weight_column name DEFAULT NULL,
											 from_as_of timestamptz DEFAULT NULL, to_as_of timestamptz DEFAULT NULL,
											 last_period interval DEFAULT '30 days', bins int DEFAULT 5,
											 method text DEFAULT 'quantile', rule_set text DEFAULT NULL,
											 danger text[] DEFAULT NULL, min_recency_drop int DEFAULT 2,
											 danger_moves boolean DEFAULT false, refunds text DEFAULT 'events',
											 p_alive_below float8 DEFAULT NULL)
	RETURNS TABLE (customer_key text, segment_before text, segment_after text,
				   r_before int, r_after int, f_before int, f_after int, m_before int, m_after int,
				   recency_days float8, frequency bigint, frequency_last_period bigint,
				   monetary numeric, p_alive_before float8, p_alive_after float8, reason text)
	LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	danger_set text[] := danger;
BEGIN
	IF from_as_of IS NULL OR to_as_of IS NULL THEN
		RAISE EXCEPTION 'from_as_of and to_as_of must not be NULL'
			USING ERRCODE = '22004', HINT = 'Pass the two dates to compare, the earlier first.';
	END IF;
	IF from_as_of >= to_as_of THEN
		RAISE EXCEPTION 'from_as_of must be before to_as_of'
			USING ERRCODE = '22023', HINT = 'Pass the earlier date as from_as_of.';
	END IF;
	IF min_recency_drop IS NULL OR min_recency_drop < 1 THEN
		RAISE EXCEPTION 'min_recency_drop must be at least 1'
			USING ERRCODE = '22023', HINT = 'A drop of 2 recency scores is the usual warning.';
	END IF;
	IF danger_moves IS NULL THEN
		RAISE EXCEPTION 'danger_moves must not be NULL'
			USING ERRCODE = '22004', HINT = 'Pass true to alert on moves between danger segments too.';
	END IF;
	IF NOT (p_alive_below > 0 AND p_alive_below < 1) THEN
		RAISE EXCEPTION 'p_alive_below must be between 0 and 1 exclusive, not %', p_alive_below
			USING ERRCODE = '22023', HINT = 'A threshold such as 0.5 alerts on customers more likely gone than not; leave it NULL for no P(alive) alerts.';
	END IF;
	IF danger_set IS NULL THEN
		-- the built-in sets from the library, which no DELETE can empty
		SELECT coalesce(array_agg(DISTINCT r.segment ORDER BY r.segment), '{}') INTO danger_set
		FROM @extschema@.rfm_rules r
		WHERE r.rule_set = coalesce(rfm_churn_alerts.rule_set,
									@extschema@.rfm_default_rule_set(amount_column IS NOT NULL))
		  AND r.danger;
	END IF;
	RETURN QUERY
	WITH s AS (
		SELECT * FROM @extschema@.rfm_snapshots(source, customer_column, time_column, amount_column,
												 weight_column, ARRAY[from_as_of, to_as_of], last_period,
												 bins, method, rule_set, refunds)
	), a AS (
		SELECT * FROM s WHERE s.snapshot_as_of = from_as_of
	), b AS (
		SELECT * FROM s WHERE s.snapshot_as_of = to_as_of
	), pairs AS (
		SELECT b.customer_key, a.segment AS before, b.segment AS after,
			a.r AS r0, b.r AS r1, a.f AS f0, b.f AS f1, a.m AS m0, b.m AS m1,
			b.recency_days, b.frequency, b.frequency_last_period, b.monetary,
			b.segment = ANY (danger_set)
				AND (NOT coalesce(a.segment = ANY (danger_set), false)
					 OR (danger_moves AND a.segment IS DISTINCT FROM b.segment)) AS entered,
			a.r - b.r >= min_recency_drop AS dropped
		FROM b JOIN a ON (a.customer_key IS NULL) = (b.customer_key IS NULL)
			AND coalesce(a.customer_key, '') = coalesce(b.customer_key, '')
	), cbs AS (
		SELECT d.at_to, c.customer_key, c.x, c.t_x, c.t_cal
		FROM (VALUES (false, from_as_of), (true, to_as_of)) d(at_to, at),
			LATERAL @extschema@.rfm_clv_summary(source, customer_column, time_column, NULL,
												(d.at AT TIME ZONE current_setting('TimeZone'))::date,
												NULL, 'week', current_setting('TimeZone')) c
		WHERE p_alive_below IS NOT NULL AND c.customer_key IS NOT NULL
	), fits AS (
		SELECT cbs.at_to, @extschema@.rfm_pnbd_fit(cbs.x, cbs.t_x, cbs.t_cal) AS model
		FROM cbs GROUP BY cbs.at_to
	), alive AS (
		SELECT cbs.customer_key,
			max(@extschema@.rfm_p_alive(f.model, cbs.x, cbs.t_x, cbs.t_cal)) FILTER (WHERE NOT cbs.at_to) AS before,
			max(@extschema@.rfm_p_alive(f.model, cbs.x, cbs.t_x, cbs.t_cal)) FILTER (WHERE cbs.at_to) AS after
		FROM cbs JOIN fits f USING (at_to)
		GROUP BY cbs.customer_key
	), flagged AS (
		SELECT p.*, l.before AS p0, l.after AS p1,
			coalesce(l.after < p_alive_below AND l.before >= p_alive_below, false) AS fading
		FROM pairs p LEFT JOIN alive l ON l.customer_key = p.customer_key
	)
	SELECT p.customer_key, p.before, p.after, p.r0, p.r1, p.f0, p.f1, p.m0, p.m1,
		p.recency_days, p.frequency, p.frequency_last_period, p.monetary, p.p0, p.p1,
		concat_ws('; ',
				  CASE WHEN p.entered THEN format('entered %s from %s', p.after, coalesce(p.before, 'no segment')) END,
				  CASE WHEN p.dropped THEN format('recency score fell from %s to %s', p.r0, p.r1) END,
				  CASE WHEN p.fading THEN format('P(alive) fell from %s to %s', round(p.p0::numeric, 2), round(p.p1::numeric, 2)) END)
	FROM flagged p
	WHERE p.entered OR p.dropped OR p.fading
	ORDER BY p.monetary DESC NULLS LAST, p.customer_key;
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_churn_alerts(regclass, name, name, name, name, timestamptz, timestamptz, interval, int, text, text, text[], int, boolean, text, float8) IS 'customers who entered a danger segment, lost recency or (with p_alive_below) became likely gone between two dates';

-- The 0.2 signatures.  In 0.3 these four functions gained parameters; a
-- function's arguments cannot change in place, and an overload with one
-- more defaulted parameter would make every existing call ambiguous.  So
-- the update renames the 0.2 functions, which views and materialized views
-- built on them keep calling (by OID), and a fresh install creates them
-- the same way, so both can restore a dump of such a view.  They behave as
-- in 0.2 (refunds 'events'); new SQL calls the functions above.
CREATE FUNCTION @extschema@.rfm_analyze_0_2(source regclass, customer_column name, time_column name,
										amount_column name DEFAULT NULL, weight_column name DEFAULT NULL,
										as_of timestamptz DEFAULT NULL, last_period interval DEFAULT '30 days',
										bins int DEFAULT 5, method text DEFAULT 'quantile',
										rule_set text DEFAULT NULL)
	RETURNS TABLE (customer_key text, first_event timestamptz, last_event timestamptz,
				   recency_days float8, tenure_days float8, frequency bigint,
				   weighted_frequency numeric, frequency_last_period bigint,
				   weighted_frequency_last_period numeric, monetary numeric, avg_amount numeric,
				   ignored_after_as_of bigint, r int, f int, m int, segment text)
	AS 'MODULE_PATHNAME', 'rfm_analyze' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10000;
COMMENT ON FUNCTION @extschema@.rfm_analyze_0_2(regclass, name, name, name, name, timestamptz, interval, int, text, text) IS 'rfm_analyze as in 0.2, kept for objects built on it';

CREATE FUNCTION @extschema@.rfm_snapshots_0_2(source regclass, customer_column name, time_column name,
										  amount_column name DEFAULT NULL, weight_column name DEFAULT NULL,
										  as_of timestamptz[] DEFAULT NULL, last_period interval DEFAULT '30 days',
										  bins int DEFAULT 5, method text DEFAULT 'quantile',
										  rule_set text DEFAULT NULL)
	RETURNS TABLE (snapshot_as_of timestamptz, customer_key text, first_event timestamptz,
				   last_event timestamptz, recency_days float8, tenure_days float8, frequency bigint,
				   weighted_frequency numeric, frequency_last_period bigint,
				   weighted_frequency_last_period numeric, monetary numeric, avg_amount numeric,
				   ignored_after_as_of bigint, r int, f int, m int, segment text)
	AS 'MODULE_PATHNAME', 'rfm_snapshots' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 100000;
COMMENT ON FUNCTION @extschema@.rfm_snapshots_0_2(regclass, name, name, name, name, timestamptz[], interval, int, text, text) IS 'rfm_snapshots as in 0.2, kept for objects built on it';

CREATE FUNCTION @extschema@.rfm_transitions_0_2(source regclass, customer_column name, time_column name,
											amount_column name DEFAULT NULL, weight_column name DEFAULT NULL,
											from_as_of timestamptz DEFAULT NULL, to_as_of timestamptz DEFAULT NULL,
											last_period interval DEFAULT '30 days', bins int DEFAULT 5,
											method text DEFAULT 'quantile', rule_set text DEFAULT NULL)
	RETURNS TABLE (from_segment text, to_segment text, customers bigint, revenue_between numeric)
	LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF from_as_of IS NULL OR to_as_of IS NULL THEN
		RAISE EXCEPTION 'from_as_of and to_as_of must not be NULL'
			USING ERRCODE = '22004', HINT = 'Pass the two dates to compare, the earlier first.';
	END IF;
	IF from_as_of >= to_as_of THEN
		RAISE EXCEPTION 'from_as_of must be before to_as_of'
			USING ERRCODE = '22023', HINT = 'Pass the earlier date as from_as_of.';
	END IF;
	RETURN QUERY
	WITH s AS (
		SELECT * FROM @extschema@.rfm_snapshots(source, customer_column, time_column, amount_column,
												 weight_column, ARRAY[from_as_of, to_as_of], last_period,
												 bins, method, rule_set)
	), a AS (
		SELECT * FROM s WHERE s.snapshot_as_of = from_as_of
	), b AS (
		SELECT * FROM s WHERE s.snapshot_as_of = to_as_of
	)
	SELECT a.segment, b.segment, count(*),
		sum(b.monetary) - coalesce(sum(a.monetary), 0)
	-- null-safe, and still a hash join: IS NOT DISTINCT FROM would not be
	FROM b LEFT JOIN a ON (a.customer_key IS NULL) = (b.customer_key IS NULL)
		AND coalesce(a.customer_key, '') = coalesce(b.customer_key, '')
	GROUP BY a.segment, b.segment
	ORDER BY a.segment NULLS FIRST, b.segment;
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_transitions_0_2(regclass, name, name, name, name, timestamptz, timestamptz, interval, int, text, text) IS 'rfm_transitions as in 0.2, kept for objects built on it';

CREATE FUNCTION @extschema@.rfm_churn_alerts_0_2(source regclass, customer_column name, time_column name,
											 amount_column name DEFAULT NULL, weight_column name DEFAULT NULL,
											 from_as_of timestamptz DEFAULT NULL, to_as_of timestamptz DEFAULT NULL,
											 last_period interval DEFAULT '30 days', bins int DEFAULT 5,
											 method text DEFAULT 'quantile', rule_set text DEFAULT NULL,
											 danger text[] DEFAULT NULL, min_recency_drop int DEFAULT 2)
	RETURNS TABLE (customer_key text, segment_before text, segment_after text,
				   r_before int, r_after int, f_before int, f_after int, m_before int, m_after int,
				   recency_days float8, frequency bigint, frequency_last_period bigint,
				   monetary numeric, reason text)
	LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	danger_set text[] := danger;
BEGIN
	IF from_as_of IS NULL OR to_as_of IS NULL THEN
		RAISE EXCEPTION 'from_as_of and to_as_of must not be NULL'
			USING ERRCODE = '22004', HINT = 'Pass the two dates to compare, the earlier first.';
	END IF;
	IF from_as_of >= to_as_of THEN
		RAISE EXCEPTION 'from_as_of must be before to_as_of'
			USING ERRCODE = '22023', HINT = 'Pass the earlier date as from_as_of.';
	END IF;
	IF min_recency_drop IS NULL OR min_recency_drop < 1 THEN
		RAISE EXCEPTION 'min_recency_drop must be at least 1'
			USING ERRCODE = '22023', HINT = 'A drop of 2 recency scores is the usual warning.';
	END IF;
	IF danger_set IS NULL THEN
		danger_set := CASE WHEN coalesce(rule_set, CASE WHEN amount_column IS NULL THEN 'rffl' ELSE 'standard' END) = 'rffl'
						   THEN ARRAY['Cooling', 'Cold']
						   ELSE ARRAY['At Risk', 'Can''t Lose Them', 'About To Sleep', 'Lost'] END;
	END IF;
	RETURN QUERY
	WITH s AS (
		SELECT * FROM @extschema@.rfm_snapshots(source, customer_column, time_column, amount_column,
												 weight_column, ARRAY[from_as_of, to_as_of], last_period,
												 bins, method, rule_set)
	), a AS (
		SELECT * FROM s WHERE s.snapshot_as_of = from_as_of
	), b AS (
		SELECT * FROM s WHERE s.snapshot_as_of = to_as_of
	), pairs AS (
		SELECT b.customer_key, a.segment AS before, b.segment AS after,
			a.r AS r0, b.r AS r1, a.f AS f0, b.f AS f1, a.m AS m0, b.m AS m1,
			b.recency_days, b.frequency, b.frequency_last_period, b.monetary,
			b.segment = ANY (danger_set) AND NOT (a.segment = ANY (danger_set)) AS entered,
			a.r - b.r >= min_recency_drop AS dropped
		FROM b JOIN a ON (a.customer_key IS NULL) = (b.customer_key IS NULL)
			AND coalesce(a.customer_key, '') = coalesce(b.customer_key, '')
	)
	SELECT p.customer_key, p.before, p.after, p.r0, p.r1, p.f0, p.f1, p.m0, p.m1,
		p.recency_days, p.frequency, p.frequency_last_period, p.monetary,
		concat_ws('; ',
				  CASE WHEN p.entered THEN format('entered %s from %s', p.after, p.before) END,
				  CASE WHEN p.dropped THEN format('recency score fell from %s to %s', p.r0, p.r1) END)
	FROM pairs p
	WHERE p.entered OR p.dropped
	ORDER BY p.monetary DESC NULLS LAST, p.customer_key;
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_churn_alerts_0_2(regclass, name, name, name, name, timestamptz, timestamptz, interval, int, text, text, text[], int) IS 'rfm_churn_alerts as in 0.2, kept for objects built on it';

-- ---------------------------------------------------------------------------
-- 6. Smart segmentation: k-means
-- ---------------------------------------------------------------------------

-- A fitted model: storable in a table, readable, and all rfm_cluster needs.
-- centroids is k x dims in the prepared features' units (their own without
-- a transform); center and scale are the scaling (0 and 1 when standardize
-- is off); inertia is measured in the space of the fit.  0.3 added the
-- preparation of the features (feature_names to population_mean) and each
-- cluster's means in the features' own units; a model stored before has
-- them NULL and scores as it did.
CREATE TYPE @extschema@.rfm_kmeans_model AS (
	k int,
	dims int,
	n bigint,
	centroids float8[],
	center float8[],
	scale float8[],
	inertia float8,
	iterations int,
	sizes bigint[],
	seed int,
	n_init int,
	standardize boolean,
	feature_names text[],
	transforms text[],
	clip_low float8[],
	clip_high float8[],
	quantiles float8[],
	prep_mean float8[],
	prep_std float8[],
	population_mean float8[],
	means float8[]
);
COMMENT ON TYPE @extschema@.rfm_kmeans_model IS 'a k-means model fitted by rfm_kmeans';

-- The state holds every feature vector (8 bytes per customer and feature):
-- exact k-means revisits all points on every iteration.
CREATE FUNCTION @extschema@.rfm_kmeans_trans(internal, float8[], int)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_kmeans_trans(internal, float8[], int) IS 'transition function of rfm_kmeans(float8[], int)';

CREATE FUNCTION @extschema@.rfm_kmeans_trans_options(internal, float8[], int, text)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_kmeans_trans_options(internal, float8[], int, text) IS 'transition function of rfm_kmeans(float8[], int, text)';

CREATE FUNCTION @extschema@.rfm_kmeans_combine(internal, internal)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_kmeans_combine(internal, internal) IS 'merges two partial rfm_kmeans states';

CREATE FUNCTION @extschema@.rfm_kmeans_serial(internal)
	RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_kmeans_serial(internal) IS 'serializes a partial rfm_kmeans state';

CREATE FUNCTION @extschema@.rfm_kmeans_deserial(bytea, internal)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_kmeans_deserial(bytea, internal) IS 'deserializes a partial rfm_kmeans state';

CREATE FUNCTION @extschema@.rfm_kmeans_final(internal)
	RETURNS @extschema@.rfm_kmeans_model
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_kmeans_final(internal) IS 'fits the k-means model';

CREATE AGGREGATE @extschema@.rfm_kmeans(features float8[], k int) (
	SFUNC = @extschema@.rfm_kmeans_trans,
	STYPE = internal,
	FINALFUNC = @extschema@.rfm_kmeans_final,
	COMBINEFUNC = @extschema@.rfm_kmeans_combine,
	SERIALFUNC = @extschema@.rfm_kmeans_serial,
	DESERIALFUNC = @extschema@.rfm_kmeans_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_kmeans(float8[], int) IS 'k-means clustering of feature vectors (k-means++, 10 restarts, z-scored, seed 0)';

CREATE AGGREGATE @extschema@.rfm_kmeans(features float8[], k int, options text) (
	SFUNC = @extschema@.rfm_kmeans_trans_options,
	STYPE = internal,
	FINALFUNC = @extschema@.rfm_kmeans_final,
	COMBINEFUNC = @extschema@.rfm_kmeans_combine,
	SERIALFUNC = @extschema@.rfm_kmeans_serial,
	DESERIALFUNC = @extschema@.rfm_kmeans_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_kmeans(float8[], int, text) IS 'k-means with options ''seed=42 n_init=10 max_iter=300 tol=0.0001 standardize=true''';

-- IMMUTABLE: the cluster depends on the features and the model only, so it
-- can define a generated column next to a stored model.
CREATE FUNCTION @extschema@.rfm_cluster(features float8[], model @extschema@.rfm_kmeans_model)
	RETURNS int
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_cluster(float8[], @extschema@.rfm_kmeans_model) IS 'cluster 1..k of a feature vector: the nearest centroid';

CREATE FUNCTION @extschema@.rfm_kmeans_profile(model @extschema@.rfm_kmeans_model)
	RETURNS TABLE (cluster int, customers bigint, share float8, centroid float8[])
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
BEGIN ATOMIC
	SELECT c.i::int, model.sizes[c.i], model.sizes[c.i]::float8 / model.n,
		ARRAY(SELECT model.centroids[c.i][j] FROM generate_series(1, model.dims) AS j ORDER BY j)
	FROM generate_series(1, model.k) AS c(i)
	ORDER BY 1;
END;
COMMENT ON FUNCTION @extschema@.rfm_kmeans_profile(@extschema@.rfm_kmeans_model) IS 'per cluster: customers, share, and centroid in the features'' units';

-- Choosing k: inertia and a sampled silhouette for every k in a range.
CREATE TYPE @extschema@.rfm_kmeans_score AS (k int, inertia float8, silhouette float8);
COMMENT ON TYPE @extschema@.rfm_kmeans_score IS 'quality of a k-means fit for one k';

CREATE FUNCTION @extschema@.rfm_kmeans_scan_trans(internal, float8[], int, int, text)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_kmeans_scan_trans(internal, float8[], int, int, text) IS 'transition function of rfm_kmeans_scan';

CREATE FUNCTION @extschema@.rfm_kmeans_scan_final(internal)
	RETURNS @extschema@.rfm_kmeans_score[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_kmeans_scan_final(internal) IS 'fits every k of the range';

CREATE AGGREGATE @extschema@.rfm_kmeans_scan(features float8[], k_min int, k_max int, options text) (
	SFUNC = @extschema@.rfm_kmeans_scan_trans,
	STYPE = internal,
	FINALFUNC = @extschema@.rfm_kmeans_scan_final,
	COMBINEFUNC = @extschema@.rfm_kmeans_combine,
	SERIALFUNC = @extschema@.rfm_kmeans_serial,
	DESERIALFUNC = @extschema@.rfm_kmeans_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_kmeans_scan(float8[], int, int, text) IS 'inertia and sampled silhouette for k_min..k_max, to choose k';

-- ---------------------------------------------------------------------------
-- 7. Client-product graph
-- ---------------------------------------------------------------------------

-- Communities by the Leiden algorithm (modularity with a resolution), on a
-- graph read from a table in one scan, as the caller.  The result depends
-- on the set of rows and the seed only: nodes are numbered by key before
-- anything random.  STABLE: they read the table; PARALLEL RESTRICTED: they
-- run their own query, so they stay in the leader.  Not STRICT:
-- weight_column may be NULL, and any other NULL argument is an error that
-- names it.
CREATE FUNCTION @extschema@.rfm_graph_communities(edges regclass, source_column name, target_column name,
												  weight_column name DEFAULT NULL, resolution float8 DEFAULT 1.0,
												  seed int DEFAULT 0)
	RETURNS TABLE (node text, community int)
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 1000;
COMMENT ON FUNCTION @extschema@.rfm_graph_communities(regclass, name, name, name, float8, int) IS 'communities of an undirected weighted graph (Leiden), numbered by size from 0';

-- Customers and items partitioned together on the bipartite purchase
-- graph, never projected onto customers (a product bought by 100,000
-- customers is 100,000 edges, not 5 billion).
CREATE FUNCTION @extschema@.rfm_micro_segments(source regclass, customer_column name, item_column name,
											   weight_column name DEFAULT NULL, resolution float8 DEFAULT 1.0,
											   seed int DEFAULT 0)
	RETURNS TABLE (node_kind text, node_key text, community int)
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10000;
COMMENT ON FUNCTION @extschema@.rfm_micro_segments(regclass, name, name, name, float8, int) IS 'customer and product micro-segments: communities of the bipartite purchase graph';

CREATE FUNCTION @extschema@.rfm_recommend(source regclass, customer_column name, item_column name, k int DEFAULT 10,
										  weight_column name DEFAULT NULL, resolution float8 DEFAULT 1.0,
										  seed int DEFAULT 0)
	RETURNS TABLE (customer_key text, item_key text, rank int, score float8)
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 100000;
COMMENT ON FUNCTION @extschema@.rfm_recommend(regclass, name, name, int, name, float8, int) IS 'per customer, the k items most popular in their micro-segment that they have not bought, then the most popular overall';

CREATE FUNCTION @extschema@.rfm_lookalike(source regclass, customer_column name, item_column name,
										  seed_customers text[], k int DEFAULT 100, weight_column name DEFAULT NULL)
	RETURNS TABLE (customer_key text, similarity float8, rank int)
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 100;
COMMENT ON FUNCTION @extschema@.rfm_lookalike(regclass, name, name, text[], int, name) IS 'the k customers whose purchases are most like the seed audience''s (cosine, popular items down-weighted)';

-- ---------------------------------------------------------------------------
-- 8. Journeys
-- ---------------------------------------------------------------------------

-- Each customer's main category (largest activity; ties to the latest
-- event, then the first name) in the previous window (as_of - 2 * period,
-- as_of - period] and the current one (as_of - period, as_of], in one scan
-- or by states (rfm_journey_state_agg, section 11) under rfm_segment.scan.
-- STABLE: they read the source and, for date and timestamp columns, the
-- session TimeZone.  PARALLEL RESTRICTED: they run their own query.  Not
-- STRICT: a NULL as_of or period is an error, not an empty answer.
CREATE FUNCTION @extschema@.rfm_category_transitions(source regclass, customer_column name, time_column name,
													 category_column name, as_of timestamptz,
													 period interval DEFAULT '30 days',
													 weight_column name DEFAULT NULL)
	RETURNS TABLE (from_category text, to_category text, customers bigint, share float8)
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 100;
COMMENT ON FUNCTION @extschema@.rfm_category_transitions(regclass, name, name, name, timestamptz, interval, name) IS 'customers per pair of main categories in the previous and the current window, and their share of the from row';

CREATE FUNCTION @extschema@.rfm_category_moves(source regclass, customer_column name, time_column name,
											   category_column name, as_of timestamptz,
											   period interval DEFAULT '30 days',
											   weight_column name DEFAULT NULL)
	RETURNS TABLE (customer_key text, from_category text, to_category text,
				   previous_activity numeric, current_activity numeric)
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 1000;
COMMENT ON FUNCTION @extschema@.rfm_category_moves(regclass, name, name, name, timestamptz, interval, name) IS 'the customers whose main category changed from the previous window to the current one';

-- Of the customers who bought X (first purchase, at least min_amount when
-- given, the window observed in full), those who bought Y within
-- [t + min_lag, t + max_lag].  One scan in order of customer and time.
CREATE FUNCTION @extschema@.rfm_next_purchase_rules(source regclass, customer_column name, time_column name,
													item_column name, min_lag interval DEFAULT '0',
													max_lag interval DEFAULT '90 days',
													min_customers int DEFAULT 10,
													amount_column name DEFAULT NULL,
													min_amount numeric DEFAULT NULL)
	RETURNS TABLE (antecedent text, consequent text, customers bigint, converted bigint,
				   confidence float8, lift float8, median_lag interval)
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 100;
COMMENT ON FUNCTION @extschema@.rfm_next_purchase_rules(regclass, name, name, name, interval, interval, int, name, numeric) IS 'time-lagged next-purchase rules: customers, converted, confidence, lift and median lag per antecedent and consequent';

-- Do the segments predict?  The segments and scores at as_of against
-- activity in (as_of, as_of + horizon], the horizon added as in UTC; per
-- segment and score: customers, share active, mean purchases and revenue
-- in the horizon, and per dimension the AUC of "active" (Mann-Whitney,
-- ties counted half; segments ranked by their own share active).  One
-- scan: rfm_snapshots at as_of and at the horizon's end.  The activity
-- reading (rffl, rfm_analyze's rule set without an amount) scores the
-- last-period activity as its third score, l, with the rfm_breaks and
-- rfm_score that rfm_analyze uses.  rule_sets NULL: standard and rffl
-- with an amount column, rffl without one.  A NOTICE when the horizon ends
-- after the last event: the time past it is counted as no activity.  jit
-- off: the planner sees only rfm_snapshots' guess of its rows, and on
-- 10,000 events compiling the plan took seconds where the query runs in
-- 70 ms.
CREATE FUNCTION @extschema@.rfm_segment_outcomes(source regclass, customer_column name, time_column name,
												 amount_column name, as_of timestamptz, horizon interval,
												 weight_column name DEFAULT NULL,
												 last_period interval DEFAULT '30 days', bins int DEFAULT 5,
												 method text DEFAULT 'quantile', rule_sets text[] DEFAULT NULL,
												 refunds text DEFAULT 'events')
	RETURNS TABLE (rule_set text, dimension text, value text, customers bigint, active bigint,
				   share_active float8, mean_purchases float8, mean_revenue numeric, auc float8)
	LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp
	SET jit = off
AS $$
#variable_conflict use_column
DECLARE
	activity_set text := @extschema@.rfm_default_rule_set(false);
	sets text[] := rule_sets;
	horizon_end timestamptz;
	end_is_date boolean;
	observed boolean := true;
	last_event timestamptz;
	x record;
BEGIN
	IF as_of IS NULL OR horizon IS NULL THEN
		RAISE EXCEPTION '% must not be NULL', CASE WHEN as_of IS NULL THEN 'as_of' ELSE 'horizon' END
			USING ERRCODE = '22004',
				  HINT = 'Pass the date of the segments and the period to watch after it, such as ''1997-09-30'' and ''39 weeks''.';
	END IF;
	IF NOT isfinite(as_of) THEN
		RAISE EXCEPTION 'as_of must be finite'
			USING ERRCODE = '22008', HINT = 'Pass a real time, not infinity or -infinity.';
	END IF;
	-- on a timestamp without time zone: a day is 24 hours, as in UTC
	horizon_end := (as_of AT TIME ZONE 'UTC' + horizon) AT TIME ZONE 'UTC';
	IF horizon_end <= as_of THEN
		RAISE EXCEPTION 'horizon must be positive'
			USING ERRCODE = '22023', HINT = 'Pass an interval such as ''90 days'' or ''6 months''.';
	END IF;
	IF sets IS NULL THEN
		sets := CASE WHEN amount_column IS NULL THEN ARRAY[activity_set] ELSE ARRAY['standard', activity_set] END;
	END IF;
	IF cardinality(sets) = 0 OR array_position(sets, NULL) IS NOT NULL
	   OR (SELECT count(DISTINCT s.x) FROM unnest(sets) AS s(x)) < cardinality(sets) THEN
		RAISE EXCEPTION 'rule_sets must name distinct rule sets, none NULL'
			USING ERRCODE = '22023', HINT = 'Pass ARRAY[''standard'', ''rffl''], or NULL for the default.';
	END IF;
	IF amount_column IS NULL AND 'standard' = ANY (sets) THEN
		RAISE EXCEPTION 'rule set "standard" needs amount_column'
			USING ERRCODE = '22023',
				  HINT = format('Without an amount the third score is the last-period frequency: use rule set %L.', activity_set);
	END IF;
	-- a date column takes the horizon's end as its date, as rfm_snapshots does
	SELECT a.atttypid = 'date'::regtype INTO end_is_date
	FROM pg_attribute a WHERE a.attrelid = source AND a.attname = time_column AND NOT a.attisdropped;

	FOR x IN
	WITH snap AS (
		SELECT s.snapshot_as_of = horizon_end AS at_end, s.customer_key, s.frequency, s.monetary, s.r, s.f, s.m,
			s.last_event, s.ignored_after_as_of,
			CASE WHEN weight_column IS NULL THEN s.frequency_last_period::float8
				 ELSE s.weighted_frequency_last_period::float8 END AS last_activity
		FROM @extschema@.rfm_snapshots(source, customer_column, time_column, amount_column, weight_column,
									   ARRAY[as_of, horizon_end], last_period, bins, method, NULL, refunds) s
	), now AS (
		-- customers with refunds only are not scored, nor in the breaks
		SELECT s.*,
			CASE WHEN s.frequency > 0
				 THEN @extschema@.rfm_score(s.last_activity,
											@extschema@.rfm_breaks(s.last_activity, bins, method)
												FILTER (WHERE s.frequency > 0) OVER (), method) END AS l
		FROM snap s WHERE NOT s.at_end
	), customer AS (
		-- without an amount, m already is the last-period score
		SELECT n.r, n.f, n.m, CASE WHEN amount_column IS NULL THEN n.m ELSE n.l END AS l,
			e.frequency - n.frequency AS purchases,
			CASE WHEN amount_column IS NOT NULL THEN coalesce(e.monetary, 0) - coalesce(n.monetary, 0) END AS revenue
		-- null-safe, and still a hash join
		FROM now n JOIN snap e ON e.at_end AND (e.customer_key IS NULL) = (n.customer_key IS NULL)
			AND coalesce(e.customer_key, '') = coalesce(n.customer_key, '')
	), horizon_seen AS (
		-- an event after the horizon, or one at its very end
		SELECT coalesce(sum(e.ignored_after_as_of), 0) > 0
				   OR max(e.last_event) >= CASE WHEN end_is_date THEN horizon_end::date::timestamptz
												ELSE horizon_end END AS observed,
			max(e.last_event) AS last_event
		FROM snap e WHERE e.at_end
	), reading AS (
		SELECT u.ord, u.set_name, amount_column IS NOT NULL AND u.set_name <> activity_set AS with_amount
		FROM unnest(sets) WITH ORDINALITY AS u(set_name, ord)
	), scored AS (
		SELECT g.ord, g.set_name, g.with_amount, c.r, c.f, CASE WHEN g.with_amount THEN c.m ELSE c.l END AS third,
			c.purchases, c.revenue
		FROM reading g CROSS JOIN customer c
	), named AS (
		-- one rfm_segment call per reading and scores, not per customer
		SELECT k.ord, k.r, k.f, k.third, @extschema@.rfm_segment(k.r, k.f, k.third, k.set_name) AS segment
		FROM (SELECT DISTINCT y.ord, y.set_name, y.r, y.f, y.third FROM scored y) k
	), grouped AS (
		-- per reading: by segment, and by each score
		SELECT s.ord, s.set_name, s.with_amount,
			CASE WHEN GROUPING(n.segment) = 0 THEN 1 WHEN GROUPING(s.r) = 0 THEN 2
				 WHEN GROUPING(s.f) = 0 THEN 3 ELSE 4 END AS dim_ord,
			n.segment, s.r, s.f, s.third, count(*) AS n, count(*) FILTER (WHERE s.purchases > 0) AS n_active,
			avg(s.purchases)::float8 AS purchases, avg(s.revenue) AS revenue
		-- scores run from 1, so 0 stands for NULL and the join stays a hash join
		FROM scored s JOIN named n ON n.ord = s.ord AND coalesce(n.r, 0) = coalesce(s.r, 0)
			AND coalesce(n.f, 0) = coalesce(s.f, 0) AND coalesce(n.third, 0) = coalesce(s.third, 0)
		GROUP BY s.ord, s.set_name, s.with_amount, GROUPING SETS ((n.segment), (s.r), (s.f), (s.third))
	), cells AS (
		SELECT g.ord, g.set_name, g.dim_ord, g.n, g.n_active, g.purchases, g.revenue,
			CASE g.dim_ord WHEN 1 THEN 'segment' WHEN 2 THEN 'r' WHEN 3 THEN 'f'
				 WHEN 4 THEN CASE WHEN g.with_amount THEN 'm' ELSE 'l' END END AS dim,
			CASE g.dim_ord WHEN 1 THEN g.segment WHEN 2 THEN g.r::text WHEN 3 THEN g.f::text
				 ELSE g.third::text END AS val,
			-- what predicts "active": the score, or a segment's own share
			CASE g.dim_ord WHEN 1 THEN g.n_active::float8 / g.n WHEN 2 THEN g.r WHEN 3 THEN g.f
				 ELSE g.third END AS predictor
		FROM grouped g
	), levels AS (
		-- cells with equal predictors form one level: their pairs are ties
		SELECT c.ord, c.dim_ord, c.predictor, sum(c.n_active) AS a, sum(c.n - c.n_active) AS i
		FROM cells c WHERE c.val IS NOT NULL
		GROUP BY c.ord, c.dim_ord, c.predictor
	), aucs AS (
		SELECT v.ord, v.dim_ord,
			CASE WHEN sum(v.a) > 0 AND sum(v.i) > 0
				 THEN (sum(v.a * (v.i_below + 0.5 * v.i)) / (sum(v.a) * sum(v.i)))::float8 END AS auc
		FROM (SELECT l.*, coalesce(sum(l.i) OVER (PARTITION BY l.ord, l.dim_ord ORDER BY l.predictor
												  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS i_below
			  FROM levels l) v
		GROUP BY v.ord, v.dim_ord
	)
	SELECT c.set_name, c.dim, c.val, c.n, c.n_active, c.purchases, c.revenue, a.auc, h.observed, h.last_event
	FROM cells c LEFT JOIN aucs a ON a.ord = c.ord AND a.dim_ord = c.dim_ord CROSS JOIN horizon_seen h
	ORDER BY c.ord, c.dim_ord, c.val IS NULL, c.predictor DESC, c.val
	LOOP
		rule_set := x.set_name;
		dimension := x.dim;
		value := x.val;
		customers := x.n;
		active := x.n_active;
		share_active := x.n_active::float8 / x.n;
		mean_purchases := x.purchases;
		mean_revenue := x.revenue;
		auc := x.auc;
		observed := x.observed;
		last_event := x.last_event;
		RETURN NEXT;
	END LOOP;
	IF NOT observed THEN
		RAISE NOTICE 'horizon ends at %, after the last event, at %', horizon_end, last_event
			USING HINT = 'Activity past the last event is not in the data and counts as none: end the horizon on or before it.';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_segment_outcomes(regclass, name, name, name, timestamptz, interval, name, interval, int, text, text[], text) IS 'per segment and score at as_of: share active, purchases and revenue in the next horizon, and the AUC of each dimension';

-- ---------------------------------------------------------------------------
-- 9. Smart segmentation, part 2: prepared features, hierarchical clustering,
--    cluster profiles, wide profiles
-- ---------------------------------------------------------------------------

-- Choosing k, for either kind of model: inertia, a sampled silhouette,
-- Calinski-Harabasz and Davies-Bouldin per k.
CREATE TYPE @extschema@.rfm_cluster_score AS (
	k int,
	inertia float8,
	silhouette float8,
	calinski_harabasz float8,
	davies_bouldin float8
);
COMMENT ON TYPE @extschema@.rfm_cluster_score IS 'quality of a clustering into k clusters: inertia, silhouette, Calinski-Harabasz, Davies-Bouldin';

-- k-means on named features, each with its preparation ('monetary: log1p');
-- the model keeps the preparation, and rfm_cluster applies it.  The other
-- support functions are rfm_kmeans's.
CREATE FUNCTION @extschema@.rfm_kmeans_trans_names(internal, float8[], int, text, text[])
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_kmeans_trans_names(internal, float8[], int, text, text[]) IS 'transition function of rfm_kmeans(float8[], int, text, text[])';

CREATE AGGREGATE @extschema@.rfm_kmeans(features float8[], k int, options text, feature_names text[]) (
	SFUNC = @extschema@.rfm_kmeans_trans_names,
	STYPE = internal,
	FINALFUNC = @extschema@.rfm_kmeans_final,
	COMBINEFUNC = @extschema@.rfm_kmeans_combine,
	SERIALFUNC = @extschema@.rfm_kmeans_serial,
	DESERIALFUNC = @extschema@.rfm_kmeans_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_kmeans(float8[], int, text, text[]) IS 'k-means on named features, each optionally prepared: ''name: clip=0.99 log1p'', rank, robust';

CREATE FUNCTION @extschema@.rfm_kmeans_scan_trans_names(internal, float8[], int, int, text, text[])
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_kmeans_scan_trans_names(internal, float8[], int, int, text, text[]) IS 'transition function of rfm_kmeans_scan with feature_names';

CREATE FUNCTION @extschema@.rfm_kmeans_scan_final_scores(internal)
	RETURNS @extschema@.rfm_cluster_score[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_kmeans_scan_final_scores(internal) IS 'fits every k of the range and scores it';

CREATE AGGREGATE @extschema@.rfm_kmeans_scan(features float8[], k_min int, k_max int, options text, feature_names text[]) (
	SFUNC = @extschema@.rfm_kmeans_scan_trans_names,
	STYPE = internal,
	FINALFUNC = @extschema@.rfm_kmeans_scan_final_scores,
	COMBINEFUNC = @extschema@.rfm_kmeans_combine,
	SERIALFUNC = @extschema@.rfm_kmeans_serial,
	DESERIALFUNC = @extschema@.rfm_kmeans_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_kmeans_scan(float8[], int, int, text, text[]) IS 'inertia, silhouette, Calinski-Harabasz and Davies-Bouldin for k_min..k_max, on prepared features';

-- A hierarchical model: the merge tree as scipy's linkage matrix (leaves
-- 0..leaves-1, merge i makes cluster leaves + i), its leaves in the fit
-- space and in the features' own units, and the preparation of the
-- features.  An exact tree has a leaf per customer; a two-step one a leaf
-- per micro-cluster, whose centers assign customers.
CREATE TYPE @extschema@.rfm_hclust_model AS (
	method text,
	two_step boolean,
	micro_clusters int,
	seed int,
	standardize boolean,
	n bigint,
	dims int,
	leaves int,
	merge_left int[],
	merge_right int[],
	merge_height float8[],
	merge_size bigint[],
	leaf_sizes bigint[],
	leaf_centroids float8[],
	leaf_means float8[],
	micro_centers float8[],
	micro_inertia float8,
	center float8[],
	scale float8[],
	feature_names text[],
	transforms text[],
	clip_low float8[],
	clip_high float8[],
	quantiles float8[],
	prep_mean float8[],
	prep_std float8[],
	population_mean float8[]
);
COMMENT ON TYPE @extschema@.rfm_hclust_model IS 'a hierarchical clustering model fitted by rfm_hclust';

-- The state holds every feature vector (8 bytes per customer and feature),
-- as rfm_kmeans's does; the final function builds the tree.
CREATE FUNCTION @extschema@.rfm_hclust_trans(internal, float8[])
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_hclust_trans(internal, float8[]) IS 'transition function of rfm_hclust(float8[])';

CREATE FUNCTION @extschema@.rfm_hclust_trans_options(internal, float8[], text)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_hclust_trans_options(internal, float8[], text) IS 'transition function of rfm_hclust(float8[], text)';

CREATE FUNCTION @extschema@.rfm_hclust_trans_names(internal, float8[], text, text[])
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_hclust_trans_names(internal, float8[], text, text[]) IS 'transition function of rfm_hclust(float8[], text, text[])';

CREATE FUNCTION @extschema@.rfm_hclust_combine(internal, internal)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_hclust_combine(internal, internal) IS 'merges two partial rfm_hclust states';

CREATE FUNCTION @extschema@.rfm_hclust_serial(internal)
	RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_hclust_serial(internal) IS 'serializes a partial rfm_hclust state';

CREATE FUNCTION @extschema@.rfm_hclust_deserial(bytea, internal)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_hclust_deserial(bytea, internal) IS 'deserializes a partial rfm_hclust state';

CREATE FUNCTION @extschema@.rfm_hclust_final(internal)
	RETURNS @extschema@.rfm_hclust_model
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_hclust_final(internal) IS 'builds the tree: exact, or two-step on micro-clusters';

CREATE AGGREGATE @extschema@.rfm_hclust(features float8[]) (
	SFUNC = @extschema@.rfm_hclust_trans,
	STYPE = internal,
	FINALFUNC = @extschema@.rfm_hclust_final,
	COMBINEFUNC = @extschema@.rfm_hclust_combine,
	SERIALFUNC = @extschema@.rfm_hclust_serial,
	DESERIALFUNC = @extschema@.rfm_hclust_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_hclust(float8[]) IS 'hierarchical clustering (Ward, z-scored; exact up to 20,000 customers, two-step above)';

CREATE AGGREGATE @extschema@.rfm_hclust(features float8[], options text) (
	SFUNC = @extschema@.rfm_hclust_trans_options,
	STYPE = internal,
	FINALFUNC = @extschema@.rfm_hclust_final,
	COMBINEFUNC = @extschema@.rfm_hclust_combine,
	SERIALFUNC = @extschema@.rfm_hclust_serial,
	DESERIALFUNC = @extschema@.rfm_hclust_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_hclust(float8[], text) IS 'hierarchical clustering with options ''method=ward two_step=auto micro_clusters=200 seed=0 standardize=true''';

CREATE AGGREGATE @extschema@.rfm_hclust(features float8[], options text, feature_names text[]) (
	SFUNC = @extschema@.rfm_hclust_trans_names,
	STYPE = internal,
	FINALFUNC = @extschema@.rfm_hclust_final,
	COMBINEFUNC = @extschema@.rfm_hclust_combine,
	SERIALFUNC = @extschema@.rfm_hclust_serial,
	DESERIALFUNC = @extschema@.rfm_hclust_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_hclust(float8[], text, text[]) IS 'hierarchical clustering on named features, each optionally prepared: ''name: clip=0.99 log1p'', rank, robust';

-- IMMUTABLE: these read the model only.
CREATE FUNCTION @extschema@.rfm_cluster(features float8[], model @extschema@.rfm_hclust_model, k int)
	RETURNS int
	AS 'MODULE_PATHNAME', 'rfm_cluster_hclust' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_cluster(float8[], @extschema@.rfm_hclust_model, int) IS 'cluster 1..k of a feature vector at the cut of k clusters';

CREATE FUNCTION @extschema@.rfm_hclust_tree(model @extschema@.rfm_hclust_model)
	RETURNS TABLE (step int, left_id int, right_id int, height float8, size bigint, clusters int)
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_hclust_tree(@extschema@.rfm_hclust_model) IS 'the merges of the tree, as scipy''s linkage matrix, for a dendrogram';

CREATE FUNCTION @extschema@.rfm_hclust_cut(model @extschema@.rfm_hclust_model, k int)
	RETURNS TABLE (cluster int, customers bigint, share float8, height float8, centroid float8[])
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_hclust_cut(@extschema@.rfm_hclust_model, int) IS 'the k clusters of the tree: customers, share, height formed at, centroid in the features'' units';

CREATE FUNCTION @extschema@.rfm_hclust_scan(model @extschema@.rfm_hclust_model, k_min int, k_max int)
	RETURNS SETOF @extschema@.rfm_cluster_score
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_hclust_scan(@extschema@.rfm_hclust_model, int, int) IS 'inertia, silhouette, Calinski-Harabasz and Davies-Bouldin of the cuts of k_min..k_max clusters';

-- Profiles a marketer reads.  Not STRICT: revenue_feature may be NULL (the
-- first feature named monetary, revenue or spend).  IMMUTABLE: they read
-- the model only.
CREATE FUNCTION @extschema@.rfm_cluster_profile(model @extschema@.rfm_kmeans_model, revenue_feature text DEFAULT NULL)
	RETURNS TABLE (cluster int, customers bigint, share float8, revenue_share float8, means float8[],
				   z float8[], distinctive text[], description text)
	AS 'MODULE_PATHNAME', 'rfm_cluster_profile_kmeans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_cluster_profile(@extschema@.rfm_kmeans_model, text) IS 'per cluster: customers, shares, feature means and z-scores, the 3 most distinctive features, a description';

CREATE FUNCTION @extschema@.rfm_cluster_profile(model @extschema@.rfm_hclust_model, k int, revenue_feature text DEFAULT NULL)
	RETURNS TABLE (cluster int, customers bigint, share float8, revenue_share float8, means float8[],
				   z float8[], distinctive text[], description text)
	AS 'MODULE_PATHNAME', 'rfm_cluster_profile_hclust' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_cluster_profile(@extschema@.rfm_hclust_model, int, text) IS 'per cluster of the cut of k: customers, shares, feature means and z-scores, the 3 most distinctive features, a description';

-- Wide profiles: shares of a customer's events (or of a weight) per key or
-- bucket, in one GROUP BY.  The state of counts is a float8[] of sums; the
-- state of weights an int8[] of fixed-point sums (two elements each), so
-- that the shares do not depend on the order of the rows.  Both are merged
-- by adding.  Not STRICT: NULL keys count in the total.
CREATE FUNCTION @extschema@.rfm_shares_trans_text(float8[], text, text[])
	RETURNS float8[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_shares_trans_text(float8[], text, text[]) IS 'transition function of rfm_shares(text, text[])';

CREATE FUNCTION @extschema@.rfm_shares_trans_text_weight(int8[], text, text[], float8)
	RETURNS int8[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_shares_trans_text_weight(int8[], text, text[], float8) IS 'transition function of rfm_shares(text, text[], float8)';

CREATE FUNCTION @extschema@.rfm_shares_trans_int(float8[], int, int)
	RETURNS float8[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_shares_trans_int(float8[], int, int) IS 'transition function of rfm_shares(int, int)';

CREATE FUNCTION @extschema@.rfm_shares_trans_int_weight(int8[], int, int, float8)
	RETURNS int8[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_shares_trans_int_weight(int8[], int, int, float8) IS 'transition function of rfm_shares(int, int, float8)';

-- STRICT: the executor then handles NULL partial states itself.
CREATE FUNCTION @extschema@.rfm_shares_combine(float8[], float8[])
	RETURNS float8[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_shares_combine(float8[], float8[]) IS 'merges two partial rfm_shares states of counts';

CREATE FUNCTION @extschema@.rfm_shares_weighted_combine(int8[], int8[])
	RETURNS int8[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_shares_weighted_combine(int8[], int8[]) IS 'merges two partial rfm_shares states of weights';

CREATE FUNCTION @extschema@.rfm_shares_final(float8[])
	RETURNS float8[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_shares_final(float8[]) IS 'final function of rfm_shares of counts: each sum over the total';

CREATE FUNCTION @extschema@.rfm_shares_weighted_final(int8[])
	RETURNS float8[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_shares_weighted_final(int8[]) IS 'final function of rfm_shares of weights: each sum over the total';

CREATE AGGREGATE @extschema@.rfm_shares(key text, keys text[]) (
	SFUNC = @extschema@.rfm_shares_trans_text,
	STYPE = float8[],
	FINALFUNC = @extschema@.rfm_shares_final,
	COMBINEFUNC = @extschema@.rfm_shares_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_shares(text, text[]) IS 'share of the rows with each of keys, in its order';

CREATE AGGREGATE @extschema@.rfm_shares(key text, keys text[], weight float8) (
	SFUNC = @extschema@.rfm_shares_trans_text_weight,
	STYPE = int8[],
	FINALFUNC = @extschema@.rfm_shares_weighted_final,
	COMBINEFUNC = @extschema@.rfm_shares_weighted_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_shares(text, text[], float8) IS 'share of the weight (such as revenue) of each of keys, in its order';

CREATE AGGREGATE @extschema@.rfm_shares(bucket int, buckets int) (
	SFUNC = @extschema@.rfm_shares_trans_int,
	STYPE = float8[],
	FINALFUNC = @extschema@.rfm_shares_final,
	COMBINEFUNC = @extschema@.rfm_shares_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_shares(int, int) IS 'share of the rows in each bucket 0..buckets-1 (hours, weekdays)';

CREATE AGGREGATE @extschema@.rfm_shares(bucket int, buckets int, weight float8) (
	SFUNC = @extschema@.rfm_shares_trans_int_weight,
	STYPE = int8[],
	FINALFUNC = @extschema@.rfm_shares_weighted_final,
	COMBINEFUNC = @extschema@.rfm_shares_weighted_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_shares(int, int, float8) IS 'share of the weight in each bucket 0..buckets-1';

-- ---------------------------------------------------------------------------
-- 10. Customer lifetime value
-- ---------------------------------------------------------------------------

-- The buy-till-you-die models (BG/NBD, Pareto/NBD) and Gamma-Gamma spend,
-- fitted by aggregates and scored by IMMUTABLE functions of a stored model.

-- The models' sufficient statistics per customer, in one scan of the
-- events: a purchase is a distinct day; x repeat purchases, the last t_x
-- after the first, observed for t_cal, in unit; then the holdout's.
-- STABLE: it reads the source; PARALLEL RESTRICTED: it runs its own query.
CREATE FUNCTION @extschema@.rfm_clv_summary(source regclass, customer_column name, time_column name,
											amount_column name DEFAULT NULL, calibration_end date DEFAULT NULL,
											holdout_end date DEFAULT NULL, unit text DEFAULT 'week',
											tz text DEFAULT 'UTC')
	RETURNS TABLE (customer_key text, x int, t_x float8, t_cal float8, mean_spend numeric,
				   x_holdout int, spend_holdout numeric)
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10000;
COMMENT ON FUNCTION @extschema@.rfm_clv_summary(regclass, name, name, name, date, date, text, text) IS 'per customer: repeat purchases x, t_x, t_cal, mean spend, and the holdout''s purchases and spend';

-- Fitted models: values to store, all the scoring functions need, and what
-- the fit says of itself: log-likelihood, customers, iterations of the
-- winning start, convergence, the largest gradient component of the mean
-- log-likelihood in log-parameters, the tolerance it was held to, starts.
CREATE TYPE @extschema@.rfm_bgnbd_model AS (
	r float8,
	alpha float8,
	a float8,
	b float8,
	ll float8,
	n bigint,
	iterations int,
	converged boolean,
	gradient float8,
	tol float8,
	starts int
);
COMMENT ON TYPE @extschema@.rfm_bgnbd_model IS 'a BG/NBD model fitted by rfm_bgnbd_fit';

CREATE TYPE @extschema@.rfm_pnbd_model AS (
	r float8,
	alpha float8,
	s float8,
	beta float8,
	ll float8,
	n bigint,
	iterations int,
	converged boolean,
	gradient float8,
	tol float8,
	starts int
);
COMMENT ON TYPE @extschema@.rfm_pnbd_model IS 'a Pareto/NBD model fitted by rfm_pnbd_fit';

CREATE TYPE @extschema@.rfm_gg_model AS (
	p float8,
	q float8,
	v float8,
	ll float8,
	n bigint,
	n_skipped bigint,
	iterations int,
	converged boolean,
	gradient float8,
	tol float8,
	starts int
);
COMMENT ON TYPE @extschema@.rfm_gg_model IS 'a Gamma-Gamma spend model fitted by rfm_gg_fit';

-- The fits keep the distinct (x, t_x, t_cal) rows, or (x, mean spend), with
-- their counts (BTYD's compressed CBS) in an "internal" state, serialized
-- to cross processes.  The transition functions are not STRICT: a NULL is
-- an error they report (or, for a mean spend, a customer skipped).
CREATE FUNCTION @extschema@.rfm_clv_fit_trans(internal, int, float8, float8)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_clv_fit_trans(internal, int, float8, float8) IS 'transition function of rfm_bgnbd_fit and rfm_pnbd_fit';

CREATE FUNCTION @extschema@.rfm_clv_fit_trans_options(internal, int, float8, float8, text)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_clv_fit_trans_options(internal, int, float8, float8, text) IS 'transition function of rfm_bgnbd_fit and rfm_pnbd_fit with options';

CREATE FUNCTION @extschema@.rfm_gg_fit_trans(internal, int, numeric)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_gg_fit_trans(internal, int, numeric) IS 'transition function of rfm_gg_fit';

CREATE FUNCTION @extschema@.rfm_gg_fit_trans_options(internal, int, numeric, text)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_gg_fit_trans_options(internal, int, numeric, text) IS 'transition function of rfm_gg_fit with options';

CREATE FUNCTION @extschema@.rfm_clv_fit_combine(internal, internal)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_clv_fit_combine(internal, internal) IS 'merges two partial states of the CLV fits';

CREATE FUNCTION @extschema@.rfm_clv_fit_serial(internal)
	RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_clv_fit_serial(internal) IS 'serializes a partial state of the CLV fits';

CREATE FUNCTION @extschema@.rfm_clv_fit_deserial(bytea, internal)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_clv_fit_deserial(bytea, internal) IS 'deserializes a partial state of the CLV fits';

-- The final functions fit by maximum likelihood; a fit that does not
-- converge says so in the model and with a WARNING.
CREATE FUNCTION @extschema@.rfm_bgnbd_fit_final(internal)
	RETURNS @extschema@.rfm_bgnbd_model
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_bgnbd_fit_final(internal) IS 'fits the BG/NBD model';

CREATE FUNCTION @extschema@.rfm_pnbd_fit_final(internal)
	RETURNS @extschema@.rfm_pnbd_model
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_pnbd_fit_final(internal) IS 'fits the Pareto/NBD model';

CREATE FUNCTION @extschema@.rfm_gg_fit_final(internal)
	RETURNS @extschema@.rfm_gg_model
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_gg_fit_final(internal) IS 'fits the Gamma-Gamma model';

CREATE AGGREGATE @extschema@.rfm_bgnbd_fit(x int, t_x float8, t_cal float8) (
	SFUNC = @extschema@.rfm_clv_fit_trans,
	STYPE = internal,
	FINALFUNC = @extschema@.rfm_bgnbd_fit_final,
	COMBINEFUNC = @extschema@.rfm_clv_fit_combine,
	SERIALFUNC = @extschema@.rfm_clv_fit_serial,
	DESERIALFUNC = @extschema@.rfm_clv_fit_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_bgnbd_fit(int, float8, float8) IS 'BG/NBD model of customers (x, t_x, t_cal), by maximum likelihood';

CREATE AGGREGATE @extschema@.rfm_bgnbd_fit(x int, t_x float8, t_cal float8, options text) (
	SFUNC = @extschema@.rfm_clv_fit_trans_options,
	STYPE = internal,
	FINALFUNC = @extschema@.rfm_bgnbd_fit_final,
	COMBINEFUNC = @extschema@.rfm_clv_fit_combine,
	SERIALFUNC = @extschema@.rfm_clv_fit_serial,
	DESERIALFUNC = @extschema@.rfm_clv_fit_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_bgnbd_fit(int, float8, float8, text) IS 'BG/NBD model with options ''starts=3 max_iter=200 tol=1e-8''';

CREATE AGGREGATE @extschema@.rfm_pnbd_fit(x int, t_x float8, t_cal float8) (
	SFUNC = @extschema@.rfm_clv_fit_trans,
	STYPE = internal,
	FINALFUNC = @extschema@.rfm_pnbd_fit_final,
	COMBINEFUNC = @extschema@.rfm_clv_fit_combine,
	SERIALFUNC = @extschema@.rfm_clv_fit_serial,
	DESERIALFUNC = @extschema@.rfm_clv_fit_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_pnbd_fit(int, float8, float8) IS 'Pareto/NBD model of customers (x, t_x, t_cal), by maximum likelihood';

CREATE AGGREGATE @extschema@.rfm_pnbd_fit(x int, t_x float8, t_cal float8, options text) (
	SFUNC = @extschema@.rfm_clv_fit_trans_options,
	STYPE = internal,
	FINALFUNC = @extschema@.rfm_pnbd_fit_final,
	COMBINEFUNC = @extschema@.rfm_clv_fit_combine,
	SERIALFUNC = @extschema@.rfm_clv_fit_serial,
	DESERIALFUNC = @extschema@.rfm_clv_fit_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_pnbd_fit(int, float8, float8, text) IS 'Pareto/NBD model with options ''starts=3 max_iter=200 tol=1e-8''';

CREATE AGGREGATE @extschema@.rfm_gg_fit(x int, mean_spend numeric) (
	SFUNC = @extschema@.rfm_gg_fit_trans,
	STYPE = internal,
	FINALFUNC = @extschema@.rfm_gg_fit_final,
	COMBINEFUNC = @extschema@.rfm_clv_fit_combine,
	SERIALFUNC = @extschema@.rfm_clv_fit_serial,
	DESERIALFUNC = @extschema@.rfm_clv_fit_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_gg_fit(int, numeric) IS 'Gamma-Gamma spend model of repeat customers (x, mean spend), by maximum likelihood';

CREATE AGGREGATE @extschema@.rfm_gg_fit(x int, mean_spend numeric, options text) (
	SFUNC = @extschema@.rfm_gg_fit_trans_options,
	STYPE = internal,
	FINALFUNC = @extschema@.rfm_gg_fit_final,
	COMBINEFUNC = @extschema@.rfm_clv_fit_combine,
	SERIALFUNC = @extschema@.rfm_clv_fit_serial,
	DESERIALFUNC = @extschema@.rfm_clv_fit_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_gg_fit(int, numeric, text) IS 'Gamma-Gamma model with options ''starts=3 max_iter=200 tol=1e-8''';

-- Scoring.  IMMUTABLE: a score depends on the model and the customer's
-- summary alone, so it can fill a generated column next to a stored model.
-- STRICT where every argument is needed.
CREATE FUNCTION @extschema@.rfm_p_alive(model @extschema@.rfm_bgnbd_model, x int, t_x float8, t_cal float8)
	RETURNS float8
	AS 'MODULE_PATHNAME', 'rfm_p_alive_bgnbd' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_p_alive(@extschema@.rfm_bgnbd_model, int, float8, float8) IS 'probability that a customer is still alive at t_cal, under BG/NBD';

CREATE FUNCTION @extschema@.rfm_p_alive(model @extschema@.rfm_pnbd_model, x int, t_x float8, t_cal float8)
	RETURNS float8
	AS 'MODULE_PATHNAME', 'rfm_p_alive_pnbd' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_p_alive(@extschema@.rfm_pnbd_model, int, float8, float8) IS 'probability that a customer is still alive at t_cal, under Pareto/NBD';

CREATE FUNCTION @extschema@.rfm_expected_purchases(model @extschema@.rfm_bgnbd_model, t float8, x int,
												   t_x float8, t_cal float8)
	RETURNS float8
	AS 'MODULE_PATHNAME', 'rfm_expected_purchases_bgnbd' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_expected_purchases(@extschema@.rfm_bgnbd_model, float8, int, float8, float8) IS 'expected purchases in the next t after t_cal given the customer''s history, under BG/NBD';

CREATE FUNCTION @extschema@.rfm_expected_purchases(model @extschema@.rfm_pnbd_model, t float8, x int,
												   t_x float8, t_cal float8)
	RETURNS float8
	AS 'MODULE_PATHNAME', 'rfm_expected_purchases_pnbd' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_expected_purchases(@extschema@.rfm_pnbd_model, float8, int, float8, float8) IS 'expected purchases in the next t after t_cal given the customer''s history, under Pareto/NBD';

CREATE FUNCTION @extschema@.rfm_expected_purchases_new(model @extschema@.rfm_bgnbd_model, t float8)
	RETURNS float8
	AS 'MODULE_PATHNAME', 'rfm_expected_purchases_new_bgnbd' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_expected_purchases_new(@extschema@.rfm_bgnbd_model, float8) IS 'expected repeat purchases in its first t of a new customer, under BG/NBD';

CREATE FUNCTION @extschema@.rfm_expected_purchases_new(model @extschema@.rfm_pnbd_model, t float8)
	RETURNS float8
	AS 'MODULE_PATHNAME', 'rfm_expected_purchases_new_pnbd' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_expected_purchases_new(@extschema@.rfm_pnbd_model, float8) IS 'expected repeat purchases in its first t of a new customer, under Pareto/NBD';

-- Not STRICT: a NULL mean_spend (no repeat purchase) means the population's
-- mean spend.
CREATE FUNCTION @extschema@.rfm_expected_spend(gg_model @extschema@.rfm_gg_model, x int, mean_spend numeric)
	RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_expected_spend(@extschema@.rfm_gg_model, int, numeric) IS 'expected spend per purchase of a customer, under Gamma-Gamma';

CREATE FUNCTION @extschema@.rfm_clv(transaction_model @extschema@.rfm_bgnbd_model, gg_model @extschema@.rfm_gg_model,
									x int, t_x float8, t_cal float8, mean_spend numeric, horizon float8,
									discount_rate float8 DEFAULT 0, margin float8 DEFAULT 1)
	RETURNS float8
	AS 'MODULE_PATHNAME', 'rfm_clv_bgnbd' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_clv(@extschema@.rfm_bgnbd_model, @extschema@.rfm_gg_model, int, float8, float8, numeric, float8, float8, float8) IS 'margin x expected spend x discounted expected purchases over the horizon, under BG/NBD and Gamma-Gamma';

CREATE FUNCTION @extschema@.rfm_clv(transaction_model @extschema@.rfm_pnbd_model, gg_model @extschema@.rfm_gg_model,
									x int, t_x float8, t_cal float8, mean_spend numeric, horizon float8,
									discount_rate float8 DEFAULT 0, margin float8 DEFAULT 1)
	RETURNS float8
	AS 'MODULE_PATHNAME', 'rfm_clv_pnbd' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_clv(@extschema@.rfm_pnbd_model, @extschema@.rfm_gg_model, int, float8, float8, numeric, float8, float8, float8) IS 'margin x expected spend x discounted expected purchases over the horizon, under Pareto/NBD and Gamma-Gamma';

-- Validation against the holdout period, read from a stored summary.
-- STABLE: it reads the summary; PARALLEL RESTRICTED: it runs its own query.
CREATE FUNCTION @extschema@.rfm_clv_holdout(model @extschema@.rfm_bgnbd_model, summary regclass, horizon float8,
											x_cap int DEFAULT 7)
	RETURNS TABLE (x int, label text, customers bigint, actual float8, predicted float8,
				   actual_total bigint, predicted_total float8, mean_abs_error float8)
	AS 'MODULE_PATHNAME', 'rfm_clv_holdout_bgnbd' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10;
COMMENT ON FUNCTION @extschema@.rfm_clv_holdout(@extschema@.rfm_bgnbd_model, regclass, float8, int) IS 'by calibration frequency: actual and predicted mean holdout purchases, totals and mean absolute error, under BG/NBD';

CREATE FUNCTION @extschema@.rfm_clv_holdout(model @extschema@.rfm_pnbd_model, summary regclass, horizon float8,
											x_cap int DEFAULT 7)
	RETURNS TABLE (x int, label text, customers bigint, actual float8, predicted float8,
				   actual_total bigint, predicted_total float8, mean_abs_error float8)
	AS 'MODULE_PATHNAME', 'rfm_clv_holdout_pnbd' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10;
COMMENT ON FUNCTION @extschema@.rfm_clv_holdout(@extschema@.rfm_pnbd_model, regclass, float8, int) IS 'by calibration frequency: actual and predicted mean holdout purchases, totals and mean absolute error, under Pareto/NBD';

-- ---------------------------------------------------------------------------
-- 11. Scale out: partitions, foreign servers, Citus
-- ---------------------------------------------------------------------------

-- rfm_metrics_state_agg without the refunds argument: refunds 'events'.
-- postgres_fdw sends no aggregate that has a collatable constant argument
-- (a text refunds), so rfm_analyze and rfm_snapshots read a source with
-- these forms when refunds are 'events': the GROUP BY of each partition on
-- a foreign server is then sent to that server.
CREATE AGGREGATE @extschema@.rfm_metrics_state_agg(event_time timestamptz, amount numeric, weight numeric, as_of timestamptz, last_period interval) (
	SFUNC = @extschema@.rfm_metrics_trans_numeric,
	STYPE = @extschema@.rfm_metrics_state,
	SSPACE = 256,
	COMBINEFUNC = @extschema@.rfm_metrics_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_metrics_state_agg(timestamptz, numeric, numeric, timestamptz, interval) IS 'the partial rfm_metrics state of a group of events, refunds ''events'', that postgres_fdw can push to a foreign server';

CREATE AGGREGATE @extschema@.rfm_metrics_state_agg(event_time date, amount numeric, weight numeric, as_of date, last_period interval) (
	SFUNC = @extschema@.rfm_metrics_trans_date_numeric,
	STYPE = @extschema@.rfm_metrics_state,
	SSPACE = 256,
	COMBINEFUNC = @extschema@.rfm_metrics_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_metrics_state_agg(date, numeric, numeric, date, interval) IS 'the partial rfm_metrics state of a group of dated events, refunds ''events'', that postgres_fdw can push to a foreign server';

-- The partial state of rfm_breaks as a real type, (value, count) pairs:
-- Citus combines aggregates whose state is not "internal" on the
-- coordinator, and a foreign server computes rfm_breaks_state_agg of its
-- rows, so only the counts of distinct values travel; rfm_breaks(state)
-- merges them into the same cut points rfm_breaks gives.  Its text form is
-- exact and independent of session settings.
CREATE TYPE @extschema@.rfm_breaks_state;

CREATE FUNCTION @extschema@.rfm_breaks_state_in(cstring)
	RETURNS @extschema@.rfm_breaks_state
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_breaks_state_in(cstring) IS 'text input of rfm_breaks_state; checks every field';

CREATE FUNCTION @extschema@.rfm_breaks_state_out(@extschema@.rfm_breaks_state)
	RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_breaks_state_out(@extschema@.rfm_breaks_state) IS 'text output of rfm_breaks_state';

CREATE FUNCTION @extschema@.rfm_breaks_state_recv(internal)
	RETURNS @extschema@.rfm_breaks_state
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_breaks_state_recv(internal) IS 'binary input of rfm_breaks_state';

CREATE FUNCTION @extschema@.rfm_breaks_state_send(@extschema@.rfm_breaks_state)
	RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_breaks_state_send(@extschema@.rfm_breaks_state) IS 'binary output of rfm_breaks_state';

-- STORAGE extended: a state of many distinct values may be stored (toasted)
CREATE TYPE @extschema@.rfm_breaks_state (
	INPUT = @extschema@.rfm_breaks_state_in,
	OUTPUT = @extschema@.rfm_breaks_state_out,
	RECEIVE = @extschema@.rfm_breaks_state_recv,
	SEND = @extschema@.rfm_breaks_state_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = double,
	STORAGE = extended
);
COMMENT ON TYPE @extschema@.rfm_breaks_state IS 'partial state of quantile breaks: bins, method and (value, count) pairs, combinable';

-- Not STRICT: NULL values are left out, and the first call makes the state.
CREATE FUNCTION @extschema@.rfm_breaks_state_trans(@extschema@.rfm_breaks_state, float8, int)
	RETURNS @extschema@.rfm_breaks_state
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_breaks_state_trans(@extschema@.rfm_breaks_state, float8, int) IS 'transition function of rfm_breaks_state_agg(float8, int)';

CREATE FUNCTION @extschema@.rfm_breaks_state_trans_method(@extschema@.rfm_breaks_state, float8, int, text)
	RETURNS @extschema@.rfm_breaks_state
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_breaks_state_trans_method(@extschema@.rfm_breaks_state, float8, int, text) IS 'transition function of rfm_breaks_state_agg(float8, int, text)';

CREATE FUNCTION @extschema@.rfm_breaks_state_combine(@extschema@.rfm_breaks_state, @extschema@.rfm_breaks_state)
	RETURNS @extschema@.rfm_breaks_state
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_breaks_state_combine(@extschema@.rfm_breaks_state, @extschema@.rfm_breaks_state) IS 'merges two rfm_breaks states (the union of their values)';

CREATE FUNCTION @extschema@.rfm_breaks_state_agg_final(@extschema@.rfm_breaks_state)
	RETURNS @extschema@.rfm_breaks_state
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_breaks_state_agg_final(@extschema@.rfm_breaks_state) IS 'final function of rfm_breaks_state_agg: the state, sorted and compact';

CREATE FUNCTION @extschema@.rfm_breaks_state_final(@extschema@.rfm_breaks_state)
	RETURNS float8[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_breaks_state_final(@extschema@.rfm_breaks_state) IS 'final function of rfm_breaks(rfm_breaks_state): bins - 1 cut points';

CREATE AGGREGATE @extschema@.rfm_breaks_state_agg(value float8, bins int) (
	SFUNC = @extschema@.rfm_breaks_state_trans,
	STYPE = @extschema@.rfm_breaks_state,
	FINALFUNC = @extschema@.rfm_breaks_state_agg_final,
	COMBINEFUNC = @extschema@.rfm_breaks_state_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_breaks_state_agg(float8, int) IS 'the partial state of rfm_breaks(value, bins): (value, count) pairs to merge elsewhere';

CREATE AGGREGATE @extschema@.rfm_breaks_state_agg(value float8, bins int, method text) (
	SFUNC = @extschema@.rfm_breaks_state_trans_method,
	STYPE = @extschema@.rfm_breaks_state,
	FINALFUNC = @extschema@.rfm_breaks_state_agg_final,
	COMBINEFUNC = @extschema@.rfm_breaks_state_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_breaks_state_agg(float8, int, text) IS 'the partial state of rfm_breaks(value, bins, method): (value, count) pairs to merge elsewhere';

CREATE AGGREGATE @extschema@.rfm_breaks(state @extschema@.rfm_breaks_state) (
	SFUNC = @extschema@.rfm_breaks_state_combine,
	STYPE = @extschema@.rfm_breaks_state,
	FINALFUNC = @extschema@.rfm_breaks_state_final,
	COMBINEFUNC = @extschema@.rfm_breaks_state_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_breaks(@extschema@.rfm_breaks_state) IS 'cut points of merged rfm_breaks states: those of rfm_breaks over all their values';

-- A customer's periods with an event, for rfm_retention's states way: one
-- GROUP BY customer, which postgres_fdw, Citus and partitionwise
-- aggregation push to where the rows are.  The grain and time zone travel
-- in a composite type, which has no collation: with two text arguments
-- postgres_fdw would not ship the aggregate.  The state is the int[] of
-- period numbers, ascending, merged by a sorted union.  IMMUTABLE as
-- rfm_cohort_start (a named zone's rules).  Not STRICT, with INITCOND '{}':
-- NULL times are skipped, a NULL spec is an error.
CREATE TYPE @extschema@.rfm_period_spec AS (grain text, tz text);
COMMENT ON TYPE @extschema@.rfm_period_spec IS 'a grain (day, week, month, quarter, year) and the time zone its periods are in';

CREATE FUNCTION @extschema@.rfm_active_periods_trans(int[], timestamptz, @extschema@.rfm_period_spec)
	RETURNS int[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_active_periods_trans(int[], timestamptz, @extschema@.rfm_period_spec) IS 'transition function of rfm_active_periods(timestamptz, rfm_period_spec)';

CREATE FUNCTION @extschema@.rfm_active_periods_trans(int[], timestamp, @extschema@.rfm_period_spec)
	RETURNS int[]
	AS 'MODULE_PATHNAME', 'rfm_active_periods_trans_wall' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_active_periods_trans(int[], timestamp, @extschema@.rfm_period_spec) IS 'transition function of rfm_active_periods(timestamp, rfm_period_spec)';

CREATE FUNCTION @extschema@.rfm_active_periods_trans(int[], date, @extschema@.rfm_period_spec)
	RETURNS int[]
	AS 'MODULE_PATHNAME', 'rfm_active_periods_trans_date' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_active_periods_trans(int[], date, @extschema@.rfm_period_spec) IS 'transition function of rfm_active_periods(date, rfm_period_spec)';

CREATE FUNCTION @extschema@.rfm_active_periods_combine(int[], int[])
	RETURNS int[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_active_periods_combine(int[], int[]) IS 'merges two partial rfm_active_periods states: their sorted union';

CREATE AGGREGATE @extschema@.rfm_active_periods(event_time timestamptz, spec @extschema@.rfm_period_spec) (
	SFUNC = @extschema@.rfm_active_periods_trans,
	STYPE = int[],
	INITCOND = '{}',
	COMBINEFUNC = @extschema@.rfm_active_periods_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_active_periods(timestamptz, @extschema@.rfm_period_spec) IS 'numbers of the periods with an event, ascending (the first is the cohort)';

CREATE AGGREGATE @extschema@.rfm_active_periods(event_time timestamp, spec @extschema@.rfm_period_spec) (
	SFUNC = @extschema@.rfm_active_periods_trans,
	STYPE = int[],
	INITCOND = '{}',
	COMBINEFUNC = @extschema@.rfm_active_periods_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_active_periods(timestamp, @extschema@.rfm_period_spec) IS 'numbers of the periods with an event, ascending; a wall time''s period needs no zone';

CREATE AGGREGATE @extschema@.rfm_active_periods(event_time date, spec @extschema@.rfm_period_spec) (
	SFUNC = @extschema@.rfm_active_periods_trans,
	STYPE = int[],
	INITCOND = '{}',
	COMBINEFUNC = @extschema@.rfm_active_periods_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_active_periods(date, @extschema@.rfm_period_spec) IS 'numbers of the periods with an event, ascending';

-- rfm_clv_summary's states way: a customer's purchase days and spend as
-- rfm_clv_summary splits them (a day of the event in spec's tz; the
-- calibration's up to calibration_end, the holdout's after it, none after
-- holdout_end), one GROUP BY customer that parallel workers, postgres_fdw
-- and Citus run where the rows are.  The state is internal (a growing,
-- sorted day list and exact sums), serialized for workers; the result is
-- a composite, so that it travels as text.  IMMUTABLE as rfm_active_periods
-- (a named zone's rules).  Not STRICT: NULL times are skipped, NULL
-- amounts count the day without spend, a NULL spec is an error.
CREATE TYPE @extschema@.rfm_clv_spec AS (calibration_end date, holdout_end date, tz text);
COMMENT ON TYPE @extschema@.rfm_clv_spec IS 'the end of the calibration period and of the holdout (NULL: none) and the time zone of the purchase days';

CREATE TYPE @extschema@.rfm_clv_state AS (days date[], unpriced_days date[], first_spend numeric,
										  repeat_spend numeric, holdout_spend numeric);
COMMENT ON TYPE @extschema@.rfm_clv_state IS 'a customer''s distinct purchase days, those without an amount, and the spend of the first day, of the later calibration days and of the holdout';

CREATE FUNCTION @extschema@.rfm_clv_state_trans(internal, timestamptz, numeric, @extschema@.rfm_clv_spec)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_clv_state_trans(internal, timestamptz, numeric, @extschema@.rfm_clv_spec) IS 'transition function of rfm_clv_state_agg(timestamptz, numeric, rfm_clv_spec)';

CREATE FUNCTION @extschema@.rfm_clv_state_trans(internal, timestamp, numeric, @extschema@.rfm_clv_spec)
	RETURNS internal
	AS 'MODULE_PATHNAME', 'rfm_clv_state_trans_wall' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_clv_state_trans(internal, timestamp, numeric, @extschema@.rfm_clv_spec) IS 'transition function of rfm_clv_state_agg(timestamp, numeric, rfm_clv_spec)';

CREATE FUNCTION @extschema@.rfm_clv_state_trans(internal, date, numeric, @extschema@.rfm_clv_spec)
	RETURNS internal
	AS 'MODULE_PATHNAME', 'rfm_clv_state_trans_date' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_clv_state_trans(internal, date, numeric, @extschema@.rfm_clv_spec) IS 'transition function of rfm_clv_state_agg(date, numeric, rfm_clv_spec)';

CREATE FUNCTION @extschema@.rfm_clv_state_combine(internal, internal)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_clv_state_combine(internal, internal) IS 'merges two partial rfm_clv_state_agg states of one customer';

CREATE FUNCTION @extschema@.rfm_clv_state_serial(internal)
	RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_clv_state_serial(internal) IS 'serializes a partial rfm_clv_state_agg state for parallel workers';

CREATE FUNCTION @extschema@.rfm_clv_state_deserial(bytea, internal)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_clv_state_deserial(bytea, internal) IS 'deserializes a partial rfm_clv_state_agg state';

CREATE FUNCTION @extschema@.rfm_clv_state_final(internal)
	RETURNS @extschema@.rfm_clv_state
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_clv_state_final(internal) IS 'final function of rfm_clv_state_agg: the rfm_clv_state, NULL without a purchase';

-- SSPACE: about what a customer's state takes.  Without it PostgreSQL plans
-- an internal state at 8 kB a group, and its hash table of customers spills
-- to disk long before it fills the memory it may use.
CREATE AGGREGATE @extschema@.rfm_clv_state_agg(event_time timestamptz, amount numeric, spec @extschema@.rfm_clv_spec) (
	SFUNC = @extschema@.rfm_clv_state_trans,
	STYPE = internal,
	SSPACE = 256,
	FINALFUNC = @extschema@.rfm_clv_state_final,
	COMBINEFUNC = @extschema@.rfm_clv_state_combine,
	SERIALFUNC = @extschema@.rfm_clv_state_serial,
	DESERIALFUNC = @extschema@.rfm_clv_state_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_clv_state_agg(timestamptz, numeric, @extschema@.rfm_clv_spec) IS 'a customer''s purchase days (in spec''s zone) and spend, split at calibration_end, as rfm_clv_summary reads them';

CREATE AGGREGATE @extschema@.rfm_clv_state_agg(event_time timestamp, amount numeric, spec @extschema@.rfm_clv_spec) (
	SFUNC = @extschema@.rfm_clv_state_trans,
	STYPE = internal,
	SSPACE = 256,
	FINALFUNC = @extschema@.rfm_clv_state_final,
	COMBINEFUNC = @extschema@.rfm_clv_state_combine,
	SERIALFUNC = @extschema@.rfm_clv_state_serial,
	DESERIALFUNC = @extschema@.rfm_clv_state_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_clv_state_agg(timestamp, numeric, @extschema@.rfm_clv_spec) IS 'a customer''s purchase days (a wall time''s own date) and spend, split at calibration_end';

CREATE AGGREGATE @extschema@.rfm_clv_state_agg(event_time date, amount numeric, spec @extschema@.rfm_clv_spec) (
	SFUNC = @extschema@.rfm_clv_state_trans,
	STYPE = internal,
	SSPACE = 256,
	FINALFUNC = @extschema@.rfm_clv_state_final,
	COMBINEFUNC = @extschema@.rfm_clv_state_combine,
	SERIALFUNC = @extschema@.rfm_clv_state_serial,
	DESERIALFUNC = @extschema@.rfm_clv_state_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_clv_state_agg(date, numeric, @extschema@.rfm_clv_spec) IS 'a customer''s purchase days and spend, split at calibration_end';

-- Two states of one customer's rows as one, as rfm_clv_state_agg over all
-- of them gives it (spec: the one both were made with), and one
-- customer's summary from a state: what an incremental model keeps and
-- reads back.  IMMUTABLE; not STRICT: a NULL state has no rows, and the
-- summary of one, or of a customer acquired after calibration_end, is NULL.
CREATE FUNCTION @extschema@.rfm_clv_state_merge(a @extschema@.rfm_clv_state, b @extschema@.rfm_clv_state,
												spec @extschema@.rfm_clv_spec)
	RETURNS @extschema@.rfm_clv_state
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_clv_state_merge(@extschema@.rfm_clv_state, @extschema@.rfm_clv_state, @extschema@.rfm_clv_spec) IS 'the state of the rows of two states of one customer';

CREATE FUNCTION @extschema@.rfm_clv_state_summary(state @extschema@.rfm_clv_state, calibration_end date,
												  unit text DEFAULT 'week', OUT x int, OUT t_x float8,
												  OUT t_cal float8, OUT mean_spend numeric)
	RETURNS record
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_clv_state_summary(@extschema@.rfm_clv_state, date, text) IS 'a customer''s x, t_x, t_cal and mean spend from an rfm_clv_state, as rfm_clv_summary gives them';

-- A customer's main category (and its activity) in the journeys' previous
-- and current windows, so that rfm_category_transitions and
-- rfm_category_moves read one GROUP BY customer where the rows are.  The
-- spec (as_of, period, tz: the reader's TimeZone, for timestamp and date
-- columns) is a composite, so it travels to foreign servers; the result a
-- composite, so it travels as text.  IMMUTABLE as rfm_active_periods (a
-- named zone's rules).  Not STRICT: NULL times and categories are
-- skipped, a NULL weight adds nothing, a NULL spec is an error.
CREATE TYPE @extschema@.rfm_journey_spec AS (as_of timestamptz, period interval, tz text);
COMMENT ON TYPE @extschema@.rfm_journey_spec IS 'the end of the current window, the windows'' length and the time zone of timestamp and date columns';

CREATE TYPE @extschema@.rfm_journey_state AS (previous_category text, previous_activity numeric,
											  current_category text, current_activity numeric);
COMMENT ON TYPE @extschema@.rfm_journey_state IS 'a customer''s main category and its activity in the previous and the current window (NULL: not active there)';

CREATE FUNCTION @extschema@.rfm_journey_state_trans(internal, timestamptz, text, numeric, @extschema@.rfm_journey_spec)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_journey_state_trans(internal, timestamptz, text, numeric, @extschema@.rfm_journey_spec) IS 'transition function of rfm_journey_state_agg(timestamptz, text, numeric, rfm_journey_spec)';

CREATE FUNCTION @extschema@.rfm_journey_state_trans(internal, timestamp, text, numeric, @extschema@.rfm_journey_spec)
	RETURNS internal
	AS 'MODULE_PATHNAME', 'rfm_journey_state_trans_wall' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_journey_state_trans(internal, timestamp, text, numeric, @extschema@.rfm_journey_spec) IS 'transition function of rfm_journey_state_agg(timestamp, text, numeric, rfm_journey_spec)';

CREATE FUNCTION @extschema@.rfm_journey_state_trans(internal, date, text, numeric, @extschema@.rfm_journey_spec)
	RETURNS internal
	AS 'MODULE_PATHNAME', 'rfm_journey_state_trans_date' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_journey_state_trans(internal, date, text, numeric, @extschema@.rfm_journey_spec) IS 'transition function of rfm_journey_state_agg(date, text, numeric, rfm_journey_spec)';

CREATE FUNCTION @extschema@.rfm_journey_state_combine(internal, internal)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_journey_state_combine(internal, internal) IS 'merges two partial rfm_journey_state_agg states of one customer';

CREATE FUNCTION @extschema@.rfm_journey_state_serial(internal)
	RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_journey_state_serial(internal) IS 'serializes a partial rfm_journey_state_agg state for parallel workers';

CREATE FUNCTION @extschema@.rfm_journey_state_deserial(bytea, internal)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_journey_state_deserial(bytea, internal) IS 'deserializes a partial rfm_journey_state_agg state';

CREATE FUNCTION @extschema@.rfm_journey_state_final(internal)
	RETURNS @extschema@.rfm_journey_state
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_journey_state_final(internal) IS 'final function of rfm_journey_state_agg: the rfm_journey_state, NULL for a customer active in neither window';

-- SSPACE: as rfm_clv_state_agg's, about what a customer's state takes
CREATE AGGREGATE @extschema@.rfm_journey_state_agg(event_time timestamptz, category text, weight numeric,
												  spec @extschema@.rfm_journey_spec) (
	SFUNC = @extschema@.rfm_journey_state_trans,
	STYPE = internal,
	SSPACE = 256,
	FINALFUNC = @extschema@.rfm_journey_state_final,
	COMBINEFUNC = @extschema@.rfm_journey_state_combine,
	SERIALFUNC = @extschema@.rfm_journey_state_serial,
	DESERIALFUNC = @extschema@.rfm_journey_state_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_journey_state_agg(timestamptz, text, numeric, @extschema@.rfm_journey_spec) IS 'a customer''s main category and activity in the previous and the current window, as rfm_category_transitions reads them';

CREATE AGGREGATE @extschema@.rfm_journey_state_agg(event_time timestamp, category text, weight numeric,
												  spec @extschema@.rfm_journey_spec) (
	SFUNC = @extschema@.rfm_journey_state_trans,
	STYPE = internal,
	SSPACE = 256,
	FINALFUNC = @extschema@.rfm_journey_state_final,
	COMBINEFUNC = @extschema@.rfm_journey_state_combine,
	SERIALFUNC = @extschema@.rfm_journey_state_serial,
	DESERIALFUNC = @extschema@.rfm_journey_state_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_journey_state_agg(timestamp, text, numeric, @extschema@.rfm_journey_spec) IS 'a customer''s main category and activity in the two windows, a wall time read in spec''s zone';

CREATE AGGREGATE @extschema@.rfm_journey_state_agg(event_time date, category text, weight numeric,
												  spec @extschema@.rfm_journey_spec) (
	SFUNC = @extschema@.rfm_journey_state_trans,
	STYPE = internal,
	SSPACE = 256,
	FINALFUNC = @extschema@.rfm_journey_state_final,
	COMBINEFUNC = @extschema@.rfm_journey_state_combine,
	SERIALFUNC = @extschema@.rfm_journey_state_serial,
	DESERIALFUNC = @extschema@.rfm_journey_state_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_journey_state_agg(date, text, numeric, @extschema@.rfm_journey_spec) IS 'a customer''s main category and activity in the two windows, as_of''s date in spec''s zone';

-- ---------------------------------------------------------------------------
-- 12. Incremental models
-- ---------------------------------------------------------------------------

-- An incremental model keeps one rfm_metrics_state per customer in a table
-- <name>_states beside its views, records the high-water mark of the rows
-- it has folded in, and at each refresh folds in only the rows past it
-- (rfm_metrics_combine), then computes its views from the states.  See
-- docs/incremental.md for when it applies and what falls back to a full
-- rebuild.

-- The metrics of a stored state at the model's as_of.  STABLE: the first
-- and last events of a date state are midnights in the session TimeZone.
-- Not STRICT: last_period_state may be NULL (no event in the last period).
CREATE FUNCTION @extschema@.rfm_state_metrics_at(history @extschema@.rfm_metrics_state,
												 last_period_state @extschema@.rfm_metrics_state,
												 as_of timestamptz)
	RETURNS @extschema@.rfm_metrics
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_state_metrics_at(@extschema@.rfm_metrics_state, @extschema@.rfm_metrics_state, timestamptz) IS 'a customer''s metrics as of as_of from a stored state (and, for a later state, its last period''s state)';

-- The periods a customer was active in, and those of its new rows: the
-- distinct ones, ascending.  Not STRICT: a new customer has none yet.
CREATE FUNCTION @extschema@.rfm_model_periods_union(a int[], b int[])
	RETURNS int[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_model_periods_union(int[], int[]) IS 'incremental models'' helper: the distinct elements of two int arrays, ascending';

-- The periods a fold adds to a customer's: those of a not in b, distinct,
-- ascending.  Not STRICT: a new customer has none yet.
CREATE FUNCTION @extschema@.rfm_model_periods_except(a int[], b int[])
	RETURNS int[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_model_periods_except(int[], int[]) IS 'incremental models'' helper: the distinct elements of one int array not in another, ascending';

-- The last period's count and weighted sum of a state at its own as_of, as
-- rfm_metrics reports them: what a fold slides, read without forming the
-- other fields.
CREATE FUNCTION @extschema@.rfm_model_state_last_n(state @extschema@.rfm_metrics_state)
	RETURNS bigint
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_model_state_last_n(@extschema@.rfm_metrics_state) IS 'incremental models'' helper: a state''s last-period count';
CREATE FUNCTION @extschema@.rfm_model_state_last_w(state @extschema@.rfm_metrics_state)
	RETURNS numeric
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_model_state_last_w(@extschema@.rfm_metrics_state) IS 'incremental models'' helper: a state''s last-period weighted sum';

-- What an incremental model has folded in.  Config-dumped like rfm_model,
-- with the same row security: each role sees its own.
CREATE TABLE @extschema@.rfm_model_incremental (
	schema_name name NOT NULL,
	name text NOT NULL,
	watermark_column name NOT NULL,
	watermark text,				-- highest watermark folded in (as text of
								-- the column's type); NULL: none yet
	folded_rows bigint NOT NULL,	-- source rows below it (or with a NULL
									-- watermark), all in the states
	states_as_of timestamptz NOT NULL,	-- the as_of the states are kept at
	states_date date,			-- and for a date source, its date (in
								-- the TimeZone of the last fold)
	states_timezone text,		-- for a timestamp (wall-time) source, the
								-- TimeZone its wall times were read in
	as_of timestamptz,			-- the model's as_of at the last refresh
	source_inserts bigint,		-- the source's counters at the last
	source_changes bigint,		-- refresh (rfm_model_source_counts)
	checked_rows bigint,		-- rows in the states then, at or below it
	last_refresh text NOT NULL CHECK (last_refresh IN ('full', 'incremental')),
	refreshed_at timestamptz NOT NULL DEFAULT now(),
	owner name NOT NULL DEFAULT current_user,
	PRIMARY KEY (schema_name, name)
);
COMMENT ON TABLE @extschema@.rfm_model_incremental IS 'incremental models: the watermark, folded rows and as_of of each model''s stored states';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rfm_model_incremental', '');
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.rfm_model_incremental TO PUBLIC;
ALTER TABLE @extschema@.rfm_model_incremental ENABLE ROW LEVEL SECURITY;
CREATE POLICY rfm_model_incremental_owner ON @extschema@.rfm_model_incremental
	USING (owner = current_user) WITH CHECK (owner = current_user);

-- The as_of at which the states of a model whose as_of is the latest event
-- are kept: far past any event, so that every event counts and none is
-- ignored (rfm_state_metrics_at brings them to the model's as_of).
CREATE FUNCTION @extschema@.rfm_model_history_as_of()
	RETURNS timestamptz
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN '294276-12-31 00:00:00+00'::pg_catalog.timestamptz;
COMMENT ON FUNCTION @extschema@.rfm_model_history_as_of() IS 'the as_of of the states of an incremental model whose as_of is the latest event';

-- The SQL of the state of a group of source rows (alias s) at as_of_sql,
-- for a model's columns: the forms analyze_states.c reads a source with.
CREATE FUNCTION @extschema@.rfm_model_incremental_state_sql(model record, time_type regtype, as_of_sql text)
	RETURNS text
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN format('@extschema@.rfm_metrics_state_agg(s.%I%s, %s, %s, (%s)%s, %L::pg_catalog.interval, %L)',
				  model.time_column, CASE WHEN time_type = 'timestamp'::regtype THEN '::pg_catalog.timestamptz' ELSE '' END,
				  CASE WHEN model.amount_column IS NULL THEN 'NULL::pg_catalog.numeric'
					   ELSE format('s.%I::pg_catalog.numeric', model.amount_column) END,
				  CASE WHEN model.weight_column IS NULL THEN '1::pg_catalog.numeric'
					   ELSE format('s.%I::pg_catalog.numeric', model.weight_column) END,
				  as_of_sql, CASE WHEN time_type = 'date'::regtype THEN '::pg_catalog.date' ELSE '' END,
				  model.last_period, model.refunds);
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_model_incremental_state_sql(record, regtype, text) IS 'incremental models'' helper: the state aggregate over a model''s source rows';

-- The purchase days and spend of a model with lifetime value, as its
-- _clv view summarizes them: every day up to as_of's day in the model's
-- tz (as_of the latest event: every day).  The SQL of the aggregate over
-- a group of source rows (alias s), as two columns: cst with the filter
-- below (the rows below the watermark), cedge with at_mark (those at it);
-- without lifetime value, NULLs.
CREATE FUNCTION @extschema@.rfm_model_incremental_clv_sql(model record, below text, at_mark text)
	RETURNS text
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	agg text;
BEGIN
	IF NOT coalesce(model.clv, false) THEN
		RETURN 'NULL::@extschema@.rfm_clv_state AS cst, NULL::@extschema@.rfm_clv_state AS cedge';
	END IF;
	agg := format('@extschema@.rfm_clv_state_agg(s.%I, %s, %L::@extschema@.rfm_clv_spec)', model.time_column,
				  CASE WHEN model.amount_column IS NULL THEN 'NULL::pg_catalog.numeric'
					   ELSE format('s.%I::pg_catalog.numeric', model.amount_column) END,
				  @extschema@.rfm_model_clv_spec(model));
	RETURN format('%1$s FILTER (WHERE %2$s) AS cst, %1$s FILTER (WHERE %3$s) AS cedge', agg, below, at_mark);
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_model_incremental_clv_sql(record, text, text) IS 'incremental models'' helper: the purchase-days aggregate of a model with lifetime value';

CREATE FUNCTION @extschema@.rfm_model_clv_spec(model record)
	RETURNS @extschema@.rfm_clv_spec
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN ROW((model.as_of AT TIME ZONE model.tz)::date, (model.as_of AT TIME ZONE model.tz)::date,
			   model.tz)::@extschema@.rfm_clv_spec;
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_model_clv_spec(record) IS 'incremental models'' helper: the spec of a model''s purchase days (to its fixed as_of''s day, or all)';

-- The options of rfm_create_model that make a model incremental.  A model
-- that follows the time of each refresh (as_of_now) is not: its as_of
-- moves without an event, past events its states would have to hold apart.
CREATE FUNCTION @extschema@.rfm_model_incremental_check(incremental boolean, watermark_column name, as_of_now boolean)
	RETURNS void
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF incremental IS NULL THEN
		RAISE EXCEPTION 'incremental must not be NULL'
			USING ERRCODE = '22004', HINT = 'Leave it out for a model refreshed in full, or pass true.';
	END IF;
	IF NOT incremental AND watermark_column IS NOT NULL THEN
		RAISE EXCEPTION 'watermark_column needs incremental => true'
			USING ERRCODE = '22023', HINT = 'Pass incremental => true, or leave watermark_column out.';
	END IF;
	IF incremental AND as_of_now THEN
		RAISE EXCEPTION 'an incremental model cannot follow the time of each refresh'
			USING ERRCODE = '22023',
				  HINT = 'Leave as_of_now out (as_of is then the latest event) or pass a fixed as_of.';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_model_incremental_check(boolean, name, boolean) IS 'rfm_create_model''s helper: checks the incremental options';

-- Make a model incremental: its states table (the customer column's type,
-- the state of the rows below the watermark and the state of the rows at
-- it, re-read at the next refresh) and its record.  The first fold is a
-- full one.  model is the model's row of rfm_model (or, while
-- rfm_model_create makes it, a record with the same fields).  A watermark column must be orderable: an integer, numeric,
-- date or timestamp.  A NOTICE says when no index starts with it.
CREATE FUNCTION @extschema@.rfm_model_incremental_create(model record, watermark_column name)
	RETURNS void
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	target name := model.schema_name;
	key_type text;
	wm_type regtype;
	states text := model.name || '_states';
BEGIN
	SELECT a.atttypid::regtype INTO wm_type
	FROM pg_attribute a WHERE a.attrelid = model.source AND a.attname = coalesce(watermark_column, model.time_column)
	  AND a.attnum > 0 AND NOT a.attisdropped;
	IF wm_type IS NULL THEN
		RAISE EXCEPTION 'watermark_column "%" is not a column of %', watermark_column, model.source
			USING ERRCODE = '42703', HINT = 'Pass a column that grows with every insert, such as an ingest id or timestamp.';
	END IF;
	IF wm_type NOT IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype, 'numeric'::regtype,
					   'date'::regtype, 'timestamp'::regtype, 'timestamptz'::regtype) THEN
		RAISE EXCEPTION 'watermark_column "%" has type %, not an integer, numeric, date or timestamp',
			coalesce(watermark_column, model.time_column), wm_type
			USING ERRCODE = '42804', HINT = 'Pass a column that grows with every insert, such as a bigint id or an ingest timestamp.';
	END IF;
	SELECT format_type(a.atttypid, a.atttypmod) INTO key_type
	FROM pg_attribute a WHERE a.attrelid = model.source AND a.attname = model.customer_column AND a.attnum > 0 AND NOT a.attisdropped;

	-- the rows with no customer have a state too: rfm_analyze scores them
	-- with the others (a model leaves them out of its views after) and
	-- rfm_retention counts them.  Room on each page, so that a fold's
	-- update of a customer's row stays on its page and leaves the indexes
	-- alone (a HOT update)
	EXECUTE format('CREATE TABLE %I.%I (key %s UNIQUE NULLS NOT DISTINCT, state @extschema@.rfm_metrics_state, '
				   'edge @extschema@.rfm_metrics_state, periods int[], lp_n bigint, lp_w numeric, '
				   'edge_lp_n bigint, edge_lp_w numeric, clv @extschema@.rfm_clv_state, clv_edge @extschema@.rfm_clv_state) '
				   'WITH (fillfactor = 60)', target, states, key_type);
	EXECUTE format('CREATE INDEX ON %I.%I (key) WHERE edge IS NOT NULL', target, states);
	EXECUTE format('COMMENT ON TABLE %I.%I IS %L', target, states,
				   format('RFM model %s: one rfm_metrics_state per customer, of the source rows folded in (state: below the watermark; edge: at it), the numbers of the periods the customer was active in, and with as_of the latest event, the counts of the last period (lp_: below the watermark; edge_lp_: at it), and with lifetime value the purchase days and spend (clv: below the watermark; clv_edge: at it)', model.name));
	EXECUTE format('CREATE TABLE %I.%I (cohort int, period_offset int, active bigint NOT NULL, '
				   'PRIMARY KEY (cohort, period_offset))', target, model.name || '_retention_cells');
	EXECUTE format('COMMENT ON TABLE %I.%I IS %L', target, model.name || '_retention_cells',
				   format('RFM model %s: customers active per first-period cohort and period offset, kept as rows are folded in', model.name));
	INSERT INTO @extschema@.rfm_model_incremental (schema_name, name, watermark_column, watermark, folded_rows,
												   states_as_of, as_of, last_refresh)
	VALUES (target, model.name, coalesce(watermark_column, model.time_column), NULL, 0,
			coalesce(model.as_of, @extschema@.rfm_model_history_as_of()), model.as_of, 'full');
	PERFORM @extschema@.rfm_model_incremental_fold(model, true);
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_model_incremental_create(record, name) IS 'rfm_create_model''s helper: the states table and record of an incremental model, built in full';

-- The source's row counters in PostgreSQL's statistics, for the cheap
-- checks of an incremental refresh: rows inserted, and rows updated or
-- deleted, ever (the shared counters plus this backend's own, not yet
-- flushed).  NULL where they cannot vouch for the rows a refresh sees: a
-- source that is not a table or a partitioned table of tables (a view, a
-- foreign table: their rows change elsewhere), track_counts off, or a
-- snapshot older than this statement (an isolation level above READ
-- COMMITTED: the counters must be read before the snapshot is taken).
-- VOLATILE: the counters move between calls.
CREATE FUNCTION @extschema@.rfm_model_source_counts(source regclass, OUT inserted bigint, OUT changed bigint)
	RETURNS record
	LANGUAGE plpgsql VOLATILE STRICT
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	tables oid[];
BEGIN
	-- the table, or the leaves of a partitioned table
	SELECT CASE c.relkind WHEN 'r' THEN ARRAY[c.oid]
						  WHEN 'p' THEN ARRAY(SELECT p.relid FROM pg_partition_tree(source) p WHERE p.isleaf) END
	INTO tables FROM pg_class c WHERE c.oid = source;
	IF tables IS NULL OR cardinality(tables) = 0 OR NOT current_setting('track_counts')::boolean
	   OR current_setting('transaction_isolation') <> 'read committed'
	   OR EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = ANY (tables) AND c.relkind <> 'r') THEN
		RETURN;
	END IF;
	-- a fresh reading, not the one cached earlier in the transaction
	PERFORM pg_stat_clear_snapshot();
	SELECT pg_catalog.sum(pg_stat_get_tuples_inserted(t) + pg_stat_get_xact_tuples_inserted(t)),
		   pg_catalog.sum(pg_stat_get_tuples_updated(t) + pg_stat_get_xact_tuples_updated(t)
						  + pg_stat_get_tuples_deleted(t) + pg_stat_get_xact_tuples_deleted(t))
	INTO inserted, changed
	FROM pg_catalog.unnest(tables) t;
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_model_source_counts(regclass) IS 'incremental models'' helper: a source''s rows inserted, and updated or deleted, in the statistics';

-- Whether an incremental model keeps its customers' last-period counts and
-- slides them as as_of moves (rfm_model_incremental_fold): a model whose
-- as_of is the latest event, of a timestamptz column, without a weight or
-- with an integer one.  A count slid by a difference shows as a full
-- refresh shows it; a numeric weight's sum would keep the scale of weights
-- that left the period.  And the period of a date or wall-time source
-- starts at a date or wall time in the session TimeZone, which may change
-- from one refresh to the next.  Other models re-read their last period at
-- each refresh instead.
CREATE FUNCTION @extschema@.rfm_model_incremental_slides(model record)
	RETURNS boolean
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN model.as_of IS NULL
		AND (SELECT a.atttypid = 'timestamptz'::regtype FROM pg_attribute a
			 WHERE a.attrelid = model.source AND a.attname = model.time_column AND a.attnum > 0 AND NOT a.attisdropped)
		AND (model.weight_column IS NULL
			 OR (SELECT a.atttypid IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype) FROM pg_attribute a
				 WHERE a.attrelid = model.source AND a.attname = model.weight_column AND a.attnum > 0 AND NOT a.attisdropped));
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_model_incremental_slides(record) IS 'incremental models'' helper: whether a model slides its last-period counts';

-- The rows of a query, to a statement that writes them: its RETURN QUERY
-- may use parallel workers, which the statement itself may not
-- (rfm_model_incremental_fold's rebuild reads every source row with it).
-- The query is the caller's own, run with the caller's rights.
CREATE FUNCTION @extschema@.rfm_model_incremental_rows(query text)
	RETURNS SETOF record
	LANGUAGE plpgsql VOLATILE STRICT
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN QUERY EXECUTE query;
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_model_incremental_rows(text) IS 'incremental models'' helper: the rows of a query, read with parallel workers where the planner allows';

-- The rows of an incremental model's _metrics, from its states: each
-- customer's state brought to as_of, then scored as rfm_analyze scores the
-- states of a source read by states (analyze.c), in one call: the same
-- values, breaks and segments.  states_query ($1 the as_of) gives
-- (key, history, last_period_state, last_n, last_w) per customer; it is
-- the model's own query, run with the caller's rights.
CREATE FUNCTION @extschema@.rfm_model_incremental_analyze(source regclass, customer_column name, time_column name,
	amount_column name, weight_column name, as_of timestamptz, last_period interval, bins int, method text,
	rule_set text, refunds text, states_query text)
	RETURNS TABLE (customer_key text, first_event timestamptz, last_event timestamptz,
				   recency_days float8, tenure_days float8, frequency bigint,
				   weighted_frequency numeric, frequency_last_period bigint,
				   weighted_frequency_last_period numeric, monetary numeric, avg_amount numeric,
				   ignored_after_as_of bigint, r int, f int, m int, segment text)
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE ROWS 10000;
COMMENT ON FUNCTION @extschema@.rfm_model_incremental_analyze(regclass, name, name, name, name, timestamptz, interval, int, text, text, text, text) IS 'incremental models'' helper: the rows of the _metrics view, scored from the states';

-- Fold the source's new rows into a model's states, or rebuild them
-- (rebuild, or when the source changed in a way a watermark cannot see).
-- The fold is one statement, so one snapshot: the new watermark and as_of,
-- the checks and the fold.  The checks: the watermark did not go down, the
-- latest event did not move back, no row was updated or deleted, and no
-- row was added below the watermark (late).  The last two are cheap where
-- PostgreSQL counts the source's rows (rfm_model_source_counts, read
-- before the snapshot): no update or delete was counted since the last
-- refresh, and the rows inserted since are no more than the rows found
-- past the watermark; otherwise, and for other sources, the rows below the
-- old watermark are counted (an index-only scan of the whole watermark
-- index) and must be as many as were folded.  The rows at the old
-- watermark are re-read (their states were kept apart, as the edge), so
-- rows that arrive later with the same watermark are counted once.  A
-- model that slides its last-period counts subtracts those of the rows
-- that left the period, re-read from the source (a range of the time
-- column: the rows between the old and the new start of the period, and
-- two days either side).  Returns 'full' or 'incremental'; a NOTICE gives
-- the reason of a rebuild.  The record's row is locked first, so two
-- refreshes of one model run one after the other.  Times pass through
-- text here (the watermark is kept as text, the statements carry
-- literals) in the ISO style whatever the session's: the SQL and Postgres
-- styles write a zone's abbreviation, which may read back as another zone
-- (Europe/Dublin's summer IST as Israel's), and a day and month in an order
-- another session's DateStyle reads the other way round.
CREATE FUNCTION @extschema@.rfm_model_incremental_fold(model record, rebuild boolean)
	RETURNS text
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	SET DateStyle = 'ISO, YMD'
	SET IntervalStyle = 'postgres'
AS $$
DECLARE
	target name := model.schema_name;
	inc record;
	time_type regtype;
	wm_type regtype;
	src text;
	states text := model.name || '_states';
	cells text := model.name || '_retention_cells';
	old_wm text;
	agg_sql text;
	latest_sql text;
	states_sql text;
	period_sql text;
	cutoff_sql text;
	reread_sql text := 'false';
	slide boolean;
	period_start text;
	window_start text;
	lp_sql text := 'SELECT NULL::bigint, NULL::pg_catalog.numeric, NULL::bigint, NULL::pg_catalog.numeric';
	window_sql text := 'NULL::@extschema@.rfm_metrics_state AS wst, NULL::@extschema@.rfm_metrics_state AS wedge';
	leave_sql text := 'SELECT g.k, 0::bigint AS leave_n, 0::pg_catalog.numeric AS leave_w FROM g WHERE false';
	counts record;
	need bigint;
	seqscan text;
	hashagg text;
	jit text;
	below bigint;
	new_states_date date;
	new_states_zone text;
	checks record;
	reason text;
	rows_sql text;
	rows_below text;
	rows_at text;
	key_type text;
BEGIN
	SELECT i.* INTO inc FROM @extschema@.rfm_model_incremental i
	WHERE i.schema_name = target AND i.name = model.name FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" is not incremental', model.name USING ERRCODE = '22023';
	END IF;
	src := model.source::oid::regclass::text;
	SELECT a.atttypid::regtype INTO time_type FROM pg_attribute a
	WHERE a.attrelid = model.source AND a.attname = model.time_column AND a.attnum > 0 AND NOT a.attisdropped;
	SELECT a.atttypid::regtype INTO wm_type FROM pg_attribute a
	WHERE a.attrelid = model.source AND a.attname = inc.watermark_column AND a.attnum > 0 AND NOT a.attisdropped;
	IF time_type IS NULL OR wm_type IS NULL THEN
		RAISE EXCEPTION 'model "%": its time or watermark column is no longer in %', model.name, src
			USING ERRCODE = '42703', HINT = 'Drop the model and create it again.';
	END IF;
	-- a date source's states are at a date: the far-future one in UTC, a
	-- fixed as_of's in the session TimeZone, as rfm_analyze reads it
	states_sql := CASE WHEN time_type = 'date'::regtype AND model.as_of IS NULL
					   THEN format('(%L::pg_catalog.timestamptz AT TIME ZONE ''UTC'')', inc.states_as_of)
					   ELSE format('%L::pg_catalog.timestamptz', inc.states_as_of) END;
	IF time_type = 'date'::regtype THEN
		EXECUTE format('SELECT (%s)::pg_catalog.date', states_sql) INTO new_states_date;
	END IF;
	-- a wall time is read as an instant in the session TimeZone, as
	-- rfm_analyze reads it: the states hold the instants of the folds' zone
	IF time_type = 'timestamp'::regtype THEN
		new_states_zone := current_setting('TimeZone');
	END IF;
	agg_sql := @extschema@.rfm_model_incremental_state_sql(model, time_type, states_sql);
	latest_sql := CASE WHEN model.as_of IS NULL
					   THEN format('(SELECT pg_catalog.max(%I)::pg_catalog.timestamptz FROM %s)', model.time_column, src)
					   ELSE format('%L::pg_catalog.timestamptz', model.as_of) END;
	-- retention, as rfm_retention reads a row: the sorted numbers of a
	-- customer's periods in tz, or of their own wall times or dates
	-- (rfm_active_periods, whose numbers rfm_model_period_number shares);
	-- counted when on or before as_of in the column's own domain (cutoff_sql,
	-- %s: the as_of); NULL for none, as the cells expect
	period_sql := format('@extschema@.rfm_active_periods(s.%I, %L::@extschema@.rfm_period_spec)',
						 model.time_column, ROW(model.grain, model.tz)::@extschema@.rfm_period_spec);
	cutoff_sql := CASE time_type
		WHEN 'timestamptz'::regtype THEN '(%s)'
		WHEN 'timestamp'::regtype THEN format('((%%s) AT TIME ZONE %L)', model.tz)
		ELSE format('((%%s) AT TIME ZONE %L)::pg_catalog.date', model.tz) END;
	-- with as_of the latest event, the wall time or date of as_of in tz
	-- moves by more than the rows past the watermark: re-read the rows
	-- between the old and the new one (their periods are a set, so a row
	-- read twice changes nothing)
	IF model.as_of IS NULL AND time_type <> 'timestamptz'::regtype AND inc.as_of IS NOT NULL THEN
		reread_sql := format('(s.%1$I > %2$s AND s.%1$I <= %3$s)', model.time_column,
							 format(cutoff_sql, format('%L::pg_catalog.timestamptz', inc.as_of)),
							 'ok.cutoff');
	END IF;
	-- (a view's or a foreign table's indexes are elsewhere)
	IF (SELECT c.relkind IN ('r', 'p', 'm') FROM pg_class c WHERE c.oid = model.source)
	   AND NOT EXISTS (SELECT 1 FROM pg_index x JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0]
					   WHERE x.indrelid = model.source AND a.attname = inc.watermark_column) THEN
		RAISE NOTICE 'model "%": no index starts with watermark column "%", so every refresh reads all of %',
			model.name, inc.watermark_column, src
			USING HINT = format('CREATE INDEX ON %s (%I);', src, inc.watermark_column);
	END IF;
	old_wm := CASE WHEN inc.watermark IS NULL THEN 'NULL' ELSE format('%L::%s', inc.watermark, wm_type) END;
	-- the last-period counts (of a timestamptz source): the rows from the
	-- start of the period (%s: the as_of), as_of - last_period as the
	-- state computes it (on the UTC calendar; the state's own bounds decide
	-- which rows count)
	slide := @extschema@.rfm_model_incremental_slides(model);
	period_start := format('(((%%1$s) AT TIME ZONE ''UTC'' - %L::pg_catalog.interval) AT TIME ZONE ''UTC'')',
						   model.last_period);
	window_start := format('s.%I >= %s', model.time_column, period_start);
	-- the source's counters, before the fold's snapshot is taken
	counts := @extschema@.rfm_model_source_counts(model.source);

	IF NOT rebuild AND new_states_date IS DISTINCT FROM inc.states_date THEN
		RAISE NOTICE 'model "%": full rebuild: as_of falls on % in this TimeZone, the states on %', model.name,
			new_states_date, inc.states_date
			USING HINT = 'Refresh a model of a date source with one TimeZone.';
		rebuild := true;
	END IF;
	IF NOT rebuild AND new_states_zone IS DISTINCT FROM inc.states_timezone THEN
		RAISE NOTICE 'model "%": full rebuild: its wall times were read in TimeZone %, this session''s is %',
			model.name, inc.states_timezone, new_states_zone
			USING HINT = 'Refresh a model of a timestamp source with one TimeZone.';
		rebuild := true;
	END IF;
	IF NOT rebuild AND counts.changed IS NOT NULL AND inc.source_changes IS NOT NULL
	   AND counts.changed <> inc.source_changes THEN
		RAISE NOTICE 'model "%": full rebuild: rows of its source were updated or deleted since the last refresh (% in the statistics)',
			model.name, CASE WHEN counts.changed > inc.source_changes THEN (counts.changed - inc.source_changes)::text
								  ELSE 'reset' END
			USING HINT = 'A watermark sees appends only; updates and deletes cost a full rebuild.';
		rebuild := true;
	END IF;
	IF NOT rebuild THEN
		-- how many more rows than were checked last time the counters allow:
		-- if the fold finds as many past the watermark, none is late
		IF counts.inserted >= inc.source_inserts THEN
			need := inc.checked_rows + (counts.inserted - inc.source_inserts) - inc.folded_rows;
		END IF;
		IF slide THEN
			-- the last period's numbers of the new rows' states, which are at
			-- the new as_of (a NULL state: NULLs)
			lp_sql := 'SELECT coalesce(@extschema@.rfm_model_state_last_n(nl.wst), 0), '
					  'coalesce(@extschema@.rfm_model_state_last_w(nl.wst), 0), '
					  '@extschema@.rfm_model_state_last_n(nl.wedge), @extschema@.rfm_model_state_last_w(nl.wedge)';
			window_sql := format('%1$s FILTER (WHERE %2$s AND s.%3$I < ok.wm AND %4$s) AS wst, '
								 '%1$s FILTER (WHERE s.%3$I >= ok.wm AND %4$s) AS wedge',
								 @extschema@.rfm_model_incremental_state_sql(model, time_type, 'ok.as_of'),
								 format('((s.%1$I >= %2$s OR %2$s IS NULL) AND s.%1$I IS NOT NULL)', inc.watermark_column, old_wm),
								 inc.watermark_column, format('s.%I >= ok.ws', model.time_column));
			IF inc.as_of IS NOT NULL THEN
				-- the rows below the old watermark that leave the period: in
				-- it at the old as_of, not at the new one
				leave_sql := format(
					'SELECT l.k, @extschema@.rfm_model_state_last_n(l.wa) - @extschema@.rfm_model_state_last_n(l.wb) AS leave_n, '
					'@extschema@.rfm_model_state_last_w(l.wa) - @extschema@.rfm_model_state_last_w(l.wb) AS leave_w '
					'FROM (SELECT s.%1$I AS k, %2$s AS wa, %3$s AS wb FROM %4$s s, ok '
					'WHERE ok.ok AND (s.%5$I < %6$s OR s.%5$I IS NULL) AND %7$s AND s.%8$I <= %9$s '
					'GROUP BY s.%1$I) l',
					model.customer_column,
					@extschema@.rfm_model_incremental_state_sql(model, time_type, format('%L::pg_catalog.timestamptz', inc.as_of)),
					@extschema@.rfm_model_incremental_state_sql(model, time_type, 'ok.as_of'), src,
					inc.watermark_column, old_wm, format(window_start, format('%L::pg_catalog.timestamptz', inc.as_of)),
					model.time_column, format(period_start, 'ok.as_of'));
			END IF;
		END IF;
		EXECUTE format('UPDATE %I.%I SET edge = NULL, edge_lp_n = NULL, edge_lp_w = NULL, clv_edge = NULL WHERE edge IS NOT NULL',
					   target, states);
		-- the new rows grouped by sorting them: hashing a customer's four
		-- states costs twice as much here, and spills
		hashagg := current_setting('enable_hashagg');
		PERFORM set_config('enable_hashagg', 'off', true);
		-- and without JIT: the statement's cost is estimated from joins of
		-- CTEs, orders of magnitude above its rows, and on a default
		-- server compiling and optimizing its expressions took 2.6 s of a
		-- 1% fold's 7.4 s (10M events, 100,000 customers).  The rebuild
		-- below, which reads every row, keeps it: there it saves a sixth.
		jit := current_setting('jit');
		PERFORM set_config('jit', 'off', true);
		-- g: the new rows' states (below and at the new watermark), their
		-- last-period states and periods (repeated: a DISTINCT would sort
		-- each customer's rows again; the merge below dedups); u: with the
		-- periods their
		-- customers had (an index lookup each: OFFSET 0 keeps the planner
		-- from joining the whole states table), n: and have, d: the
		-- retention cells the customers join (and, when their first period
		-- moved, leave: otherwise a cell they were in keeps them); lv: the customers
		-- whose rows left the last period, nl: those with new rows, lo:
		-- the others, whose counts up slides in the same pass as it merges
		-- nl's (its ON CONFLICT finds each by the key's index; a join
		-- hashed every state, a third of a 1% fold, and an = ANY lookup
		-- still cost a tenth)
		EXECUTE format(
			'WITH c AS MATERIALIZED (SELECT (SELECT pg_catalog.max(%1$I) FROM %2$s) AS wm, %4$s AS as_of), '
			'ok AS (SELECT c.*, %22$s AS ws, %23$s AS cutoff, coalesce(c.wm >= %3$s OR %3$s IS NULL, false) AS wm_ok, '
			'coalesce(c.as_of >= %6$L OR %6$L IS NULL, false) AS as_of_ok, '
			'coalesce(c.wm >= %3$s OR %3$s IS NULL, false) AND coalesce(c.as_of >= %6$L OR %6$L IS NULL, false) AS ok FROM c), '
			'g AS (SELECT s.%7$I AS k, %8$s FILTER (WHERE %11$s AND s.%1$I < ok.wm) AS st, '
			'%8$s FILTER (WHERE s.%1$I >= ok.wm) AS edge, pg_catalog.count(*) FILTER (WHERE %11$s AND s.%1$I < ok.wm) AS n, '
			'pg_catalog.count(*) FILTER (WHERE s.%1$I >= ok.wm) AS ne, '
			'%17$s, %13$s, '
			'%12$s AS np '
			'FROM %2$s s, ok WHERE ok.ok AND (%11$s OR %15$s) GROUP BY s.%7$I), '
			'u AS (SELECT g.*, o.periods AS old FROM g LEFT JOIN LATERAL (SELECT o.periods FROM %9$I.%10$I o '
			'WHERE o.key = g.k OFFSET 0) o ON true WHERE g.k IS NOT NULL '
			'UNION ALL SELECT g.*, (SELECT o.periods FROM %9$I.%10$I o WHERE o.key IS NULL) FROM g WHERE g.k IS NULL), '
			'n AS (SELECT u.*, CASE WHEN u.np <@ u.old THEN u.old ELSE @extschema@.rfm_model_periods_union(u.old, u.np) END AS periods FROM u), '
			'd AS (SELECT n.periods[1] AS cohort, p - n.periods[1] AS k, 1 AS delta FROM n, pg_catalog.unnest('
			'CASE WHEN n.old IS NULL OR n.old[1] <> n.periods[1] THEN n.periods '
			'ELSE @extschema@.rfm_model_periods_except(n.periods, n.old) END) p '
			'WHERE n.periods IS DISTINCT FROM n.old '
			'UNION ALL SELECT n.old[1], p - n.old[1], -1 FROM n, pg_catalog.unnest(n.old) p '
			'WHERE n.periods IS DISTINCT FROM n.old AND n.old[1] <> n.periods[1]), '
			'rc AS (INSERT INTO %9$I.%16$I AS r (cohort, period_offset, active) '
			'SELECT d.cohort, d.k, pg_catalog.sum(d.delta) FROM d GROUP BY 1, 2 HAVING pg_catalog.sum(d.delta) <> 0 '
			'ON CONFLICT (cohort, period_offset) DO UPDATE SET active = r.active + excluded.active), '
			'lv AS (%19$s), '
			'nl AS (SELECT n.*, coalesce(l.leave_n, 0) AS leave_n, coalesce(l.leave_w, 0) AS leave_w '
			'FROM n LEFT JOIN lv l ON l.k = n.k WHERE n.k IS NOT NULL '
			'UNION ALL SELECT n.*, coalesce((SELECT l.leave_n FROM lv l WHERE l.k IS NULL), 0), '
			'coalesce((SELECT l.leave_w FROM lv l WHERE l.k IS NULL), 0) FROM n WHERE n.k IS NULL), '
			'lo AS (SELECT l.* FROM lv l WHERE (l.leave_n <> 0 OR l.leave_w <> 0) AND l.k IS NOT NULL '
			'AND NOT EXISTS (SELECT 1 FROM g WHERE g.k = l.k) '
			'UNION ALL SELECT l.* FROM lv l WHERE (l.leave_n <> 0 OR l.leave_w <> 0) AND l.k IS NULL '
			'AND NOT EXISTS (SELECT 1 FROM g WHERE g.k IS NULL)), '
			'up AS (INSERT INTO %9$I.%10$I AS t (key, state, edge, periods, lp_n, lp_w, edge_lp_n, edge_lp_w, clv, clv_edge) '
			'SELECT n.k, n.st, n.edge, n.periods, n.add_n - n.leave_n, n.add_w - n.leave_w, n.edge_n, n.edge_w, n.cst, n.cedge '
			'FROM (SELECT nl.k, nl.st, nl.edge, nl.periods, nl.leave_n, nl.leave_w, nl.cst, nl.cedge, p.* FROM nl, ok, '
			'LATERAL (%20$s) p(add_n, add_w, edge_n, edge_w)) n '
			'UNION ALL SELECT lo.k, NULL, NULL, NULL, -lo.leave_n, -lo.leave_w, NULL, NULL, NULL, NULL FROM lo '
			'ON CONFLICT (key) DO UPDATE SET state = CASE WHEN t.state IS NULL THEN excluded.state '
			'WHEN excluded.state IS NULL THEN t.state ELSE @extschema@.rfm_metrics_combine(t.state, excluded.state) END, '
			'edge = excluded.edge, periods = coalesce(excluded.periods, t.periods), lp_n = coalesce(t.lp_n, 0) + excluded.lp_n, '
			'lp_w = coalesce(t.lp_w, 0) + excluded.lp_w, edge_lp_n = excluded.edge_lp_n, edge_lp_w = excluded.edge_lp_w, '
			'clv = CASE WHEN excluded.clv IS NULL THEN t.clv WHEN t.clv IS NULL THEN excluded.clv '
			'ELSE @extschema@.rfm_clv_state_merge(t.clv, excluded.clv, %14$L::@extschema@.rfm_clv_spec) END, '
			'clv_edge = excluded.clv_edge), '
			'tot AS (SELECT coalesce(pg_catalog.sum(g.n), 0) AS n, coalesce(pg_catalog.sum(g.ne), 0) AS ne FROM g) '
			'SELECT ok.wm::text AS wm, ok.as_of, ok.wm_ok, ok.as_of_ok, ok.ok, tot.n, tot.ne, '
			'CASE WHEN NOT ok.ok THEN NULL WHEN %21$s::bigint <= tot.n + tot.ne THEN %5$s ELSE -1 '
			'END AS below FROM ok, tot',
			inc.watermark_column, src, old_wm, latest_sql, inc.folded_rows, inc.as_of,
			model.customer_column, agg_sql, target, states,
			format('((s.%1$I >= %2$s OR %2$s IS NULL) AND s.%1$I IS NOT NULL)', inc.watermark_column, old_wm),
			format('NULLIF(%s FILTER (WHERE s.%I <= %s), ''{}'')', period_sql, model.time_column,
				   'ok.cutoff'),
			@extschema@.rfm_model_incremental_clv_sql(model,
				format('((s.%1$I >= %2$s OR %2$s IS NULL) AND s.%1$I IS NOT NULL) AND s.%1$I < ok.wm', inc.watermark_column, old_wm),
				format('s.%I >= ok.wm', inc.watermark_column)),
			@extschema@.rfm_model_clv_spec(model), reread_sql, cells,
			window_sql, NULL, leave_sql, lp_sql, coalesce(need::text, 'NULL'),
			format(period_start, 'c.as_of'), format(cutoff_sql, 'c.as_of')) INTO checks;
		PERFORM set_config('enable_hashagg', hashagg, true);
		PERFORM set_config('jit', jit, true);
		-- The rows below the old watermark, where the counters cannot vouch
		-- for them (-1 above): counted apart, so that its setting below
		-- leaves the fold's plan alone (with sequential scans off, merging
		-- the last period's counts read every state through the index).
		-- A statement that writes runs without parallel workers, so an
		-- index-only scan of the watermark's index is the cheapest count.
		-- Rows another session adds or removes in between change the count
		-- and cost a full rebuild, never a wrong model.
		IF checks.ok AND checks.below = -1 THEN
			seqscan := current_setting('enable_seqscan');
			PERFORM set_config('enable_seqscan', 'off', true);
			EXECUTE format('SELECT (SELECT pg_catalog.count(*) FROM %1$s WHERE %2$I < %3$s) + '
						   '(SELECT pg_catalog.count(*) FROM %1$s WHERE %2$I IS NULL)',
						   src, inc.watermark_column, old_wm) INTO below;
			PERFORM set_config('enable_seqscan', seqscan, true);
			checks.below := below;
		END IF;
		IF checks.ok AND checks.below = inc.folded_rows THEN
			UPDATE @extschema@.rfm_model_incremental i
			SET watermark = coalesce(checks.wm, i.watermark), folded_rows = i.folded_rows + checks.n,
				as_of = checks.as_of, states_date = new_states_date, states_timezone = new_states_zone,
				last_refresh = 'incremental',
				source_inserts = counts.inserted, source_changes = counts.changed,
				checked_rows = i.folded_rows + checks.n + checks.ne, refreshed_at = now()
			WHERE i.schema_name = target AND i.name = model.name;
			RETURN 'incremental';
		END IF;
		reason := CASE WHEN NOT checks.wm_ok
						   THEN format('the highest %s went down from %s to %s', inc.watermark_column, inc.watermark,
									   coalesce(checks.wm, 'none'))
					   WHEN NOT checks.as_of_ok
						   THEN format('as_of moved back from %s to %s', inc.as_of, coalesce(checks.as_of::text, 'none'))
					   ELSE format('%s rows lie below the watermark where %s were folded in (rows deleted, updated or arrived late)',
								   checks.below, inc.folded_rows) END;
		RAISE NOTICE 'model "%": full rebuild: %', model.name, reason
			USING HINT = 'A watermark sees appends only; updates and deletes cost a full rebuild.';
	END IF;

	EXECUTE format('TRUNCATE %I.%I, %I.%I', target, states, target, cells);
	-- The states of every customer, from one query that reads the source:
	-- w, the watermark, as_of and the start of the last period, once; the
	-- aggregates' filters compare with them as parameters (w's scalar
	-- subqueries, evaluated once), not as a join, which kept every row's
	-- window start in its time zone arithmetic and the scan from parallel
	-- workers.  The query runs in rfm_model_incremental_rows, whose RETURN
	-- QUERY may use parallel workers where a statement that writes may not;
	-- its rows wait in a tuplestore (spilled beyond work_mem).  At 10M
	-- events and 119,000 customers the query took 20.4 s serially with the
	-- join, 15.1 s serially and 8.9 s with 2 workers this way.  The
	-- retention cells unnest each customer's periods in the select list
	-- (one ProjectSet), not in a LATERAL function scan per customer: 0.38
	-- against 0.95 s for those customers.
	rows_below := format('s.%1$I < (SELECT w.wm FROM w) OR s.%1$I IS NULL OR (SELECT w.wm FROM w) IS NULL',
						 inc.watermark_column);
	rows_at := format('s.%I >= (SELECT w.wm FROM w)', inc.watermark_column);
	rows_sql := format(
		'WITH w AS MATERIALIZED (SELECT x.wm, x.as_of, %9$s AS ws, %12$s AS cutoff FROM '
		'(SELECT pg_catalog.max(%1$I) AS wm, %4$s AS as_of FROM %2$s) x) '
		'SELECT s.%3$I AS k, %5$s FILTER (WHERE %6$s) AS st, %5$s FILTER (WHERE %7$s) AS edge, '
		'pg_catalog.count(*) FILTER (WHERE %6$s) AS n, pg_catalog.count(*) FILTER (WHERE %7$s) AS ne, '
		'%10$s, %11$s, %8$s AS periods, (SELECT w.wm FROM w)::pg_catalog.text AS wm, (SELECT w.as_of FROM w) AS as_of '
		'FROM %2$s s GROUP BY s.%3$I',
		inc.watermark_column, src, model.customer_column, latest_sql, agg_sql, rows_below, rows_at,
		format('NULLIF(%s FILTER (WHERE s.%I <= %s), ''{}'')', period_sql, model.time_column,
			   '(SELECT w.cutoff FROM w)'),
		format(period_start, 'x.as_of'),
		CASE WHEN slide
			 THEN format('%1$s FILTER (WHERE (%2$s) AND s.%4$I >= (SELECT w.ws FROM w)) AS wst, '
						 '%1$s FILTER (WHERE %3$s AND s.%4$I >= (SELECT w.ws FROM w)) AS wedge',
						 @extschema@.rfm_model_incremental_state_sql(model, time_type, '(SELECT w.as_of FROM w)'),
						 rows_below, rows_at, model.time_column)
			 ELSE 'NULL::@extschema@.rfm_metrics_state AS wst, NULL::@extschema@.rfm_metrics_state AS wedge' END,
		@extschema@.rfm_model_incremental_clv_sql(model, rows_below, rows_at),
		format(cutoff_sql, 'x.as_of'));
	-- (the key's type without its modifier, which RETURN QUERY accepts
	-- for any)
	SELECT pg_catalog.format_type(a.atttypid, NULL) INTO key_type FROM pg_attribute a
	WHERE a.attrelid = pg_catalog.format('%I.%I', target, states)::regclass AND a.attname = 'key';
	EXECUTE format(
		'WITH g AS MATERIALIZED (SELECT * FROM @extschema@.rfm_model_incremental_rows($1) AS g(k %1$s, '
		'st @extschema@.rfm_metrics_state, edge @extschema@.rfm_metrics_state, n bigint, ne bigint, '
		'wst @extschema@.rfm_metrics_state, wedge @extschema@.rfm_metrics_state, cst @extschema@.rfm_clv_state, '
		'cedge @extschema@.rfm_clv_state, periods integer[], wm text, as_of timestamptz)), '
		'ins AS (INSERT INTO %2$I.%3$I (key, state, edge, periods, lp_n, lp_w, edge_lp_n, edge_lp_w, clv, clv_edge) '
		'SELECT g.k, g.st, g.edge, g.periods, %5$s, g.cst, g.cedge FROM g), '
		'rc AS (INSERT INTO %2$I.%4$I (cohort, period_offset, active) '
		'SELECT c.cohort, c.k, pg_catalog.count(*) FROM (SELECT g.periods[1] AS cohort, '
		'pg_catalog.unnest(g.periods) - g.periods[1] AS k FROM g) c GROUP BY 1, 2) '
		-- (no customer, no row: the as_of of an empty source)
		'SELECT (SELECT g.wm FROM g LIMIT 1) AS wm, coalesce((SELECT g.as_of FROM g LIMIT 1), %6$L::pg_catalog.timestamptz) AS as_of, '
		'(SELECT pg_catalog.sum(g.n) FROM g) AS n, (SELECT pg_catalog.sum(g.ne) FROM g) AS ne',
		key_type, target, states, cells,
		CASE WHEN slide
			 THEN 'coalesce((@extschema@.rfm_state_metrics_at(g.wst, NULL, g.as_of)).frequency_last_period, 0), '
				  'coalesce((@extschema@.rfm_state_metrics_at(g.wst, NULL, g.as_of)).weighted_frequency_last_period, 0), '
				  '(@extschema@.rfm_state_metrics_at(g.wedge, NULL, g.as_of)).frequency_last_period, '
				  '(@extschema@.rfm_state_metrics_at(g.wedge, NULL, g.as_of)).weighted_frequency_last_period'
			 ELSE 'NULL::bigint, NULL::pg_catalog.numeric, NULL::bigint, NULL::pg_catalog.numeric' END,
		model.as_of) USING rows_sql INTO checks;
	-- Statistics for the folds' plans.  Without them the planner guessed
	-- half the states had an edge and read them all to clear it, and
	-- merged the last period's counts by a scan of every state: a third of
	-- a 1% fold at 234,000 customers.  Autovacuum keeps them from here.
	EXECUTE format('ANALYZE %I.%I', target, states);
	EXECUTE format('ANALYZE %I.%I', target, cells);
	UPDATE @extschema@.rfm_model_incremental i
	SET watermark = checks.wm, folded_rows = coalesce(checks.n, 0), as_of = checks.as_of,
		states_date = new_states_date, states_timezone = new_states_zone, last_refresh = 'full',
		source_inserts = counts.inserted,
		source_changes = counts.changed, checked_rows = coalesce(checks.n, 0) + coalesce(checks.ne, 0),
		refreshed_at = now()
	WHERE i.schema_name = target AND i.name = model.name;
	RETURN 'full';
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_model_incremental_fold(record, boolean) IS 'rfm_refresh''s helper: folds an incremental model''s new rows into its states, or rebuilds them';

-- A period's number from its first day, and back, in the grains of
-- rfm_retention: consecutive, so a period offset is a subtraction (days and
-- ISO weeks from 2000-01-01 and 2000-01-03, months and quarters from year
-- 0).  The first day is rfm_cohort_start's.
CREATE FUNCTION @extschema@.rfm_model_period_number(first_day date, grain text)
	RETURNS int
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN CASE grain
	WHEN 'day' THEN first_day - DATE '2000-01-01'
	WHEN 'week' THEN (first_day - DATE '2000-01-03') / 7
	WHEN 'month' THEN pg_catalog.date_part('year', first_day)::int * 12 + pg_catalog.date_part('month', first_day)::int - 1
	WHEN 'quarter' THEN (pg_catalog.date_part('year', first_day)::int * 12 + pg_catalog.date_part('month', first_day)::int - 1) / 3
	WHEN 'year' THEN pg_catalog.date_part('year', first_day)::int END;
COMMENT ON FUNCTION @extschema@.rfm_model_period_number(date, text) IS 'incremental models'' helper: the number of the period starting on first_day';

CREATE FUNCTION @extschema@.rfm_model_period_date(period int, grain text)
	RETURNS date
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN CASE grain
	WHEN 'day' THEN DATE '2000-01-01' + period
	WHEN 'week' THEN DATE '2000-01-03' + 7 * period
	WHEN 'month' THEN pg_catalog.make_date(period / 12, period % 12 + 1, 1)
	WHEN 'quarter' THEN pg_catalog.make_date(period / 4, period % 4 * 3 + 1, 1)
	WHEN 'year' THEN pg_catalog.make_date(period, 1, 1) END;
COMMENT ON FUNCTION @extschema@.rfm_model_period_date(int, text) IS 'incremental models'' helper: the first day of a numbered period';

-- The query of an incremental model's <name>_retention view: the rows of
-- rfm_retention, from the cells the folds keep (customers active per
-- cohort and offset), every cell up to as_of's period, zeros included.
CREATE FUNCTION @extschema@.rfm_model_incremental_retention_sql(model record, metrics_view text)
	RETURNS text
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN format(
		'WITH t AS (SELECT pg_catalog.max(m.as_of) AS as_of FROM %1$I.%2$I m), '
		'l AS (SELECT t.as_of, @extschema@.rfm_model_period_number(@extschema@.rfm_cohort_start(t.as_of, %4$L, %5$L), %4$L) AS last FROM t), '
		'sz AS (SELECT c.cohort, c.active AS size FROM %1$I.%3$I c, l '
		'WHERE c.period_offset = 0 AND c.active > 0 AND c.cohort <= l.last), '
		'grid AS (SELECT sz.cohort, sz.size, k.k FROM sz, l, pg_catalog.generate_series(0, l.last - sz.cohort) k(k)), '
		'r AS (SELECT @extschema@.rfm_cohort(@extschema@.rfm_model_period_date(grid.cohort, %4$L), %4$L) AS cohort, '
		'grid.k AS period_offset, grid.size AS cohort_size, coalesce(c.active, 0) AS active, '
		'coalesce(c.active, 0)::pg_catalog.float8 / grid.size::pg_catalog.float8 AS rate '
		'FROM grid LEFT JOIN %1$I.%3$I c ON c.cohort = grid.cohort AND c.period_offset = grid.k) '
		'SELECT r.cohort, @extschema@.rfm_cohort_date(r.cohort, %4$L) AS cohort_start, r.period_offset, '
		'r.cohort_size, r.active, r.rate, round((100 * r.rate)::numeric, 1) AS retention_pct, l.as_of FROM r, l',
		model.schema_name, metrics_view, model.name || '_retention_cells', model.grain, model.tz);
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_model_incremental_retention_sql(record, text) IS 'incremental models'' helper: the query of the _retention view, from the retention cells';

-- The query of an incremental model's <name>_metrics view: the columns of
-- rfm_analyze's rows, from the states, scored in one call by
-- rfm_model_incremental_analyze.  The model's as_of is the one the last
-- fold recorded.  States kept at a far-future as_of are brought to it with
-- the counts of the last period the folds keep, or with the state of each
-- customer's rows of the last period, re-read from the source (a range of
-- the time column, the rows folded in only).
CREATE FUNCTION @extschema@.rfm_model_incremental_metrics_sql(model record, key_type text, rule_set text)
	RETURNS text
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	inc record;
	time_type regtype;
	wm_type regtype;
	src text;
	window_sql text := '';
	window_join text := '';
	lp_sql text := 'NULL::bigint';
	lpw_sql text := 'NULL::pg_catalog.numeric';
	states_query text;
BEGIN
	SELECT i.* INTO inc FROM @extschema@.rfm_model_incremental i WHERE i.schema_name = model.schema_name AND i.name = model.name;
	src := model.source::oid::regclass::text;
	SELECT a.atttypid::regtype INTO time_type FROM pg_attribute a
	WHERE a.attrelid = model.source AND a.attname = model.time_column AND a.attnum > 0 AND NOT a.attisdropped;
	SELECT a.atttypid::regtype INTO wm_type FROM pg_attribute a
	WHERE a.attrelid = model.source AND a.attname = inc.watermark_column AND a.attnum > 0 AND NOT a.attisdropped;
	IF @extschema@.rfm_model_incremental_slides(model) THEN
		-- the last period's counts, kept by the folds
		lp_sql := 'coalesce(h.lp_n, 0) + coalesce(h.edge_lp_n, 0)';
		lpw_sql := 'coalesce(h.lp_w, 0) + coalesce(h.edge_lp_w, 0)';
	ELSIF model.as_of IS NULL THEN
		-- the last period's rows: two days more than last_period before
		-- as_of, so that no time zone or calendar month can leave one out
		-- (the state counts only those in its last period)
		window_sql := format(
			', w AS (SELECT s.%1$I AS k, %2$s AS st FROM %3$s s, t '
			'WHERE s.%4$I >= ((t.as_of - %5$L::pg_catalog.interval - ''2 days''::pg_catalog.interval)::%6$s) '
			'AND s.%7$I <= t.watermark::%8$s GROUP BY s.%1$I)',
			model.customer_column, @extschema@.rfm_model_incremental_state_sql(model, time_type, 't.as_of'), src,
			model.time_column, model.last_period, time_type, inc.watermark_column, wm_type);
		window_join := ' LEFT JOIN w ON w.k = h.key';
	END IF;
	states_query := format(
		'WITH t AS (SELECT $1::pg_catalog.timestamptz AS as_of, i.watermark FROM @extschema@.rfm_model_incremental i '
		'WHERE i.schema_name = %1$L AND i.name = %2$L)%3$s '
		'SELECT h.key, CASE WHEN h.edge IS NULL THEN h.state WHEN h.state IS NULL THEN h.edge '
		'ELSE @extschema@.rfm_metrics_combine(h.state, h.edge) END, %4$s, %5$s, %6$s FROM %7$I.%8$I h%9$s',
		model.schema_name, model.name, window_sql,
		-- the rows with no customer have their last period's state too
		CASE WHEN window_sql <> ''
			 THEN 'coalesce(w.st, CASE WHEN h.key IS NULL THEN (SELECT n.st FROM w n WHERE n.k IS NULL) END)'
			 ELSE 'NULL::@extschema@.rfm_metrics_state' END,
		lp_sql, lpw_sql, model.schema_name, model.name || '_states', window_join);
	RETURN format(
		'SELECT a.customer_key::%1$s AS %2$I, t.as_of, a.first_event, a.last_event, a.recency_days, '
		'a.tenure_days, a.frequency, a.weighted_frequency, a.frequency_last_period, '
		'a.weighted_frequency_last_period, a.monetary, a.avg_amount, a.ignored_after_as_of, '
		'a.r, a.f, a.m, '
		'coalesce(a.segment, CASE WHEN a.frequency = 0 THEN ''(refunds only)'' '
		'WHEN a.monetary IS NULL THEN ''(no amount)'' END) AS segment '
		'FROM (SELECT i.as_of FROM @extschema@.rfm_model_incremental i '
		'WHERE i.schema_name = %3$L AND i.name = %4$L AND %16$L::pg_catalog.regclass IS NOT NULL OFFSET 0) t, '
		'LATERAL @extschema@.rfm_model_incremental_analyze(%5$L::regclass, %6$L, %7$L, %8$L, %9$L, t.as_of, '
		'%10$L::pg_catalog.interval, %11$s, %12$L, %13$L, %14$L, %15$L) a '
		'WHERE a.customer_key IS NOT NULL',
		key_type, model.customer_column, model.schema_name, model.name, src, model.customer_column,
		model.time_column, model.amount_column, model.weight_column, model.last_period, model.bins,
		model.method, rule_set, model.refunds, states_query,
		-- the states are read only through the helper's query: named as a
		-- regclass, the table is a dependency of the view, so that DROP
		-- TABLE refuses it while the view stands
		format('%I.%I', model.schema_name, model.name || '_states'));
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_model_incremental_metrics_sql(record, text, text) IS 'incremental models'' helper: the query of the _metrics view, from the states';

-- rfm_refresh's first step: fold an incremental model's new rows into its
-- states (rebuild: in full); nothing for a model refreshed in full.
CREATE FUNCTION @extschema@.rfm_model_incremental_refresh(target name, name text, rebuild boolean)
	RETURNS void
	LANGUAGE plpgsql VOLATILE STRICT
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	model record;
BEGIN
	IF EXISTS (SELECT 1 FROM @extschema@.rfm_model_incremental i
			   WHERE i.schema_name = target AND i.name = rfm_model_incremental_refresh.name) THEN
		SELECT m.* INTO model FROM @extschema@.rfm_model m
		WHERE m.schema_name = target AND m.name = rfm_model_incremental_refresh.name;
		PERFORM @extschema@.rfm_model_incremental_fold(model, rebuild);
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_model_incremental_refresh(name, text, boolean) IS 'rfm_refresh''s helper: folds an incremental model''s new rows in, if it is one';

-- rfm_drop_model's helper: an incremental model's states and record, after
-- its views.
CREATE FUNCTION @extschema@.rfm_model_incremental_drop(target name, name text)
	RETURNS void
	LANGUAGE plpgsql VOLATILE STRICT
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM @extschema@.rfm_model_incremental i
			   WHERE i.schema_name = target AND i.name = rfm_model_incremental_drop.name) THEN
		EXECUTE format('DROP TABLE IF EXISTS %I.%I, %I.%I', target, name || '_states', target, name || '_retention_cells');
		DELETE FROM @extschema@.rfm_model_incremental i
		WHERE i.schema_name = target AND i.name = rfm_model_incremental_drop.name;
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_model_incremental_drop(name, text) IS 'rfm_drop_model''s helper: drops an incremental model''s states and record';

-- ---------------------------------------------------------------------------
-- 13. Models
-- ---------------------------------------------------------------------------

-- Models are recorded here; the table is config-dumped, so pg_dump and
-- pg_restore bring the records along with the materialized views.  Every
-- role may create models; row security shows each role its own.
CREATE TABLE @extschema@.rfm_model (
	schema_name name NOT NULL,
	name text NOT NULL CHECK (name ~ '^[a-z_][a-z0-9_]*$' AND length(name) <= 40),
	source regclass NOT NULL,
	customer_column name NOT NULL,
	time_column name NOT NULL,
	amount_column name,
	weight_column name,
	as_of timestamptz,			-- NULL: see as_of_now
	last_period interval NOT NULL,
	bins int NOT NULL,
	method text NOT NULL,
	rule_set text,
	grain text NOT NULL,
	tz text NOT NULL,
	clusters int,				-- k of the model's k-means view, or NULL
	owner name NOT NULL DEFAULT current_user,
	created_at timestamptz NOT NULL DEFAULT now(),
	refunds text NOT NULL DEFAULT 'events',		-- since 0.3
	as_of_now boolean NOT NULL DEFAULT false,	-- as_of NULL: now() at each
												-- refresh, or else the
												-- latest event
	views text[],				-- the views made, in refresh order (NULL: a
								-- model made before 0.3, see rfm_model_views)
	cluster_method text NOT NULL DEFAULT 'kmeans',	-- since 0.3
	features text[],			-- clustering features, NULL: the default ones
	clv boolean NOT NULL DEFAULT false,
	clv_horizon float8,
	clv_unit text,
	clv_discount_rate float8,
	clv_margin float8,
	item_column name,
	micro_segments boolean NOT NULL DEFAULT false,
	clv_model text,				-- 'pnbd' or 'bgnbd' with clv, else NULL
	PRIMARY KEY (schema_name, name)
);
COMMENT ON TABLE @extschema@.rfm_model IS 'RFM models: the materialized views rfm_create_model made and rfm_refresh refreshes';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rfm_model', '');
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.rfm_model TO PUBLIC;
ALTER TABLE @extschema@.rfm_model ENABLE ROW LEVEL SECURITY;
CREATE POLICY rfm_model_owner ON @extschema@.rfm_model
	USING (owner = current_user) WITH CHECK (owner = current_user);

-- Every view a model may have, in the order they are refreshed.  A model
-- has those its options ask for, recorded in rfm_model.views; a model made
-- before 0.3 has no record of them, and has those of this list that exist.
CREATE FUNCTION @extschema@.rfm_model_views(name text)
	RETURNS text[]
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ARRAY[name || '_metrics', name || '_segments', name || '_segment_summary',
			 name || '_cohort_segments', name || '_retention', name || '_cluster_model',
			 name || '_clusters', name || '_cluster_profiles', name || '_clv',
			 name || '_micro_segments', name || '_recommendations'];
COMMENT ON FUNCTION @extschema@.rfm_model_views(text) IS 'names of the materialized views a model may have, in refresh order';

-- The workers.  PL/pgSQL pinned to search_path = pg_catalog, pg_temp: the
-- SQL they run cannot reach a function another role put on the caller's
-- path.  They take the schema to work in as an argument.  Internal: call
-- the API below.

-- The comments a BI client shows (\d+, Metabase, DBeaver) on a view and
-- its columns: columns is {column, comment, column, comment, ...}.
CREATE FUNCTION @extschema@.rfm_model_describe(target name, view_name text, about text, columns text[])
	RETURNS void
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	EXECUTE format('COMMENT ON MATERIALIZED VIEW %I.%I IS %L', target, view_name, about);
	FOR i IN 1 .. cardinality(columns) / 2 LOOP
		EXECUTE format('COMMENT ON COLUMN %I.%I.%I IS %L', target, view_name,
					   columns[2 * i - 1], columns[2 * i]);
	END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_model_describe(name, text, text, text[]) IS 'rfm_create_model''s helper: comments on a model view and its columns';

-- Create a model's materialized views in schema target, with the caller's
-- rights (never SECURITY DEFINER), in one transaction: an error leaves
-- nothing behind, and says what failed without the generated statement.
-- Each view has a unique index, so REFRESH MATERIALIZED VIEW CONCURRENTLY
-- works on it.  rfm_create_model passes the caller's current schema.
--
-- as_of NULL means the source's latest event at each refresh, as in
-- rfm_analyze; as_of_now follows now() instead.  Either way the views keep
-- the as_of they describe, the later views take it from _metrics, and a
-- NOTICE says when it lies far past the data.  Money columns of a summary
-- have one scale (the largest of their sums); averages are numeric and
-- rounded (money to 2 decimals, days and counts to 1), so they do not
-- depend on the order of the rows.
--
-- The optional views: clusters of customers on features of _metrics
-- (k-means or Ward, refitted at each refresh, the fitted model kept in
-- _cluster_model), lifetime value (Pareto/NBD or BG/NBD, and Gamma-Gamma, refitted at
-- each refresh with as_of's day as the end of calibration), and the
-- micro-segments of the client-product graph with recommendations.  The
-- views' SQL carries the lifetime value's numbers as text: extra_float_digits
-- is set so that they are written exactly (a session's lower setting
-- rounds them, 26 to 3e+01).
CREATE FUNCTION @extschema@.rfm_model_create(target name, name text, source regclass, customer_column name,
											 time_column name, amount_column name, weight_column name,
											 as_of timestamptz, last_period interval, bins int, method text,
											 rule_set text, grain text, tz text, clusters int,
											 refunds text, as_of_now boolean, cluster_method text,
											 features text[], clv boolean, clv_horizon float8, clv_unit text,
											 clv_discount_rate float8, clv_margin float8, item_column name,
											 micro_segments boolean, incremental boolean, watermark_column name,
											 clv_model text)
	RETURNS text[]
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	SET extra_float_digits = 3
AS $$
DECLARE
	inc_model record;
	clv_summary_sql text;
	key_type text;
	key_order text;
	item_type text;
	item_order text;
	time_type regtype;
	as_of_sql text;
	cohort_args text;
	first_day text;
	rules text := coalesce(rule_set, @extschema@.rfm_default_rule_set(amount_column IS NOT NULL));
	views text[] := @extschema@.rfm_model_views(name);
	made text[] := '{}';
	key_comment text;
	-- the columns of _metrics a cluster feature may be, each a number
	feature_columns CONSTANT text[] := ARRAY['recency_days', 'tenure_days', 'frequency',
		'weighted_frequency', 'frequency_last_period', 'weighted_frequency_last_period',
		'monetary', 'avg_amount'];
	feature_list text[] := features;
	feature_column text;
	feature_sql text;
	fit_sql text;
	cluster_sql text;
	-- products recommended to each customer
	recommendations CONSTANT int := 10;
	msg text;
	det text;
	hnt text;
	code text;
BEGIN
	IF name IS NULL OR source IS NULL OR customer_column IS NULL OR time_column IS NULL THEN
		RAISE EXCEPTION 'name, source, customer_column and time_column must not be NULL'
			USING ERRCODE = '22004';
	END IF;
	IF name !~ '^[a-z_][a-z0-9_]*$' OR length(name) > 40 THEN
		RAISE EXCEPTION 'model name "%" is not a lower-case identifier of at most 40 characters', name
			USING ERRCODE = '22023', HINT = 'Use letters, digits and underscores, such as ''shop_rfm''.';
	END IF;
	IF clusters IS NOT NULL AND (clusters < 2 OR clusters > 20) THEN
		RAISE EXCEPTION 'clusters must be between 2 and 20, not %', clusters
			USING ERRCODE = '22023', HINT = 'Four to eight clusters are usual; leave it NULL for no cluster views.';
	END IF;
	IF cluster_method IS NULL OR cluster_method NOT IN ('kmeans', 'hclust') THEN
		RAISE EXCEPTION 'cluster_method must be ''kmeans'' or ''hclust'', not %', coalesce(quote_literal(cluster_method), 'NULL')
			USING ERRCODE = '22023', HINT = 'Use ''kmeans'', the default, or ''hclust'' for Ward''s hierarchical clustering.';
	END IF;
	IF clusters IS NULL AND (features IS NOT NULL OR cluster_method <> 'kmeans') THEN
		RAISE EXCEPTION 'features and cluster_method need clusters'
			USING ERRCODE = '22023', HINT = 'Pass clusters => k, the number of clusters, too.';
	END IF;
	IF cardinality(features) = 0 OR array_position(features, NULL) IS NOT NULL THEN
		RAISE EXCEPTION 'features must name at least one column, and no NULL'
			USING ERRCODE = '22023', HINT = 'Pass columns of the model''s metrics, such as ARRAY[''recency_days'', ''frequency: log1p''].';
	END IF;
	FOREACH feature_column IN ARRAY coalesce(features, '{}') LOOP
		IF btrim(split_part(feature_column, ':', 1)) <> ALL (feature_columns) THEN
			RAISE EXCEPTION 'feature "%" is not a number column of the model''s metrics', feature_column
				USING ERRCODE = '22023',
					  HINT = format('Use %s, each with an optional preparation such as ''monetary: log1p''.',
									array_to_string(feature_columns, ', '));
		END IF;
	END LOOP;
	IF clv IS NULL OR micro_segments IS NULL THEN
		RAISE EXCEPTION 'clv and micro_segments must not be NULL'
			USING ERRCODE = '22004', HINT = 'Leave them out for false, or pass true for those views.';
	END IF;
	IF clv AND amount_column IS NULL THEN
		RAISE EXCEPTION 'clv needs amount_column'
			USING ERRCODE = '22023', HINT = 'Lifetime value is money: pass the amount column, or leave clv out.';
	END IF;
	IF clv AND NOT (clv_horizon > 0 AND clv_horizon < 'infinity' AND clv_discount_rate >= 0
					AND clv_discount_rate < 'infinity' AND clv_margin > 0 AND clv_margin < 'infinity') THEN
		RAISE EXCEPTION 'clv_horizon and clv_margin must be positive and clv_discount_rate at least 0, not %, % and %',
			clv_horizon, clv_margin, clv_discount_rate
			USING ERRCODE = '22023', HINT = 'clv_horizon counts clv_unit (52 weeks by default); the discount rate is per clv_unit.';
	END IF;
	IF clv AND (clv_model IS NULL OR clv_model NOT IN ('pnbd', 'bgnbd')) THEN
		RAISE EXCEPTION 'clv_model must be ''pnbd'' or ''bgnbd'', not %', coalesce(quote_literal(clv_model), 'NULL')
			USING ERRCODE = '22023',
			HINT = 'Pareto/NBD (pnbd) lets P(alive) of one-time buyers fall with time; BG/NBD (bgnbd), the model of lifetimes'' BetaGeoFitter, is the one to try when Pareto/NBD does not converge.';
	END IF;
	IF clv AND (clv_unit IS NULL OR clv_unit NOT IN ('day', 'week', 'month')) THEN
		RAISE EXCEPTION 'clv_unit must be ''day'', ''week'' or ''month'', not %', coalesce(quote_literal(clv_unit), 'NULL')
			USING ERRCODE = '22023', HINT = 'A week is the usual unit of the buy-till-you-die models.';
	END IF;
	IF micro_segments AND item_column IS NULL THEN
		RAISE EXCEPTION 'micro_segments needs item_column'
			USING ERRCODE = '22023', HINT = 'Pass item_column => the product column of the source.';
	END IF;
	IF item_column IS NOT NULL AND NOT micro_segments THEN
		RAISE EXCEPTION 'item_column is used by micro_segments only'
			USING ERRCODE = '22023', HINT = 'Pass micro_segments => true too, or leave item_column out.';
	END IF;
	IF refunds IS NULL OR as_of_now IS NULL THEN
		RAISE EXCEPTION 'refunds and as_of_now must not be NULL'
			USING ERRCODE = '22004', HINT = 'Leave them out for the defaults, ''events'' and false.';
	END IF;
	IF as_of_now AND as_of IS NOT NULL THEN
		RAISE EXCEPTION 'as_of_now needs as_of NULL'
			USING ERRCODE = '22023', HINT = 'Pass a fixed as_of, or as_of_now => true to follow the time of each refresh, not both.';
	END IF;
	PERFORM @extschema@.rfm_model_incremental_check(incremental, watermark_column, as_of_now);
	IF target IS NULL THEN
		RAISE EXCEPTION 'no schema to create the model in'
			USING ERRCODE = '3F000', HINT = 'Set search_path to the schema for the model''s views.';
	END IF;
	IF EXISTS (SELECT 1 FROM @extschema@.rfm_model m WHERE m.schema_name = target AND m.name = rfm_model_create.name) THEN
		RAISE EXCEPTION 'model "%" already exists in schema "%"', name, target
			USING ERRCODE = '42710', HINT = 'Drop it with rfm_drop_model, or choose another name.';
	END IF;
	-- under the pinned search_path, format_type and regclass output qualify
	-- every name outside pg_catalog, so the generated SQL is unambiguous
	-- The views kept per customer list their rows in the order of their
	-- bytes (the ORDER BY clauses below end in key_order), the order in
	-- which REFRESH ... CONCURRENTLY sorts every new row to look for
	-- duplicates (*<).  Rows already in that order sort in one pass; in
	-- another, 1.2M rows of _metrics took 13 s a copy (twice a refresh).
	-- A collatable key's bytes sort as under COLLATE "C"; a key of
	-- integers sorts as its bytes when positive (any other order is right,
	-- only slower to refresh concurrently).
	SELECT format_type(a.atttypid, a.atttypmod), CASE WHEN t.typcollation <> 0 THEN ' COLLATE "C"' ELSE '' END
	INTO key_type, key_order
	FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
	WHERE a.attrelid = source AND a.attname = customer_column AND a.attnum > 0 AND NOT a.attisdropped;
	IF key_type IS NULL THEN
		RAISE EXCEPTION 'customer_column "%" is not a column of %', customer_column, source
			USING ERRCODE = '42703', HINT = 'Pass the name of a column of the source table.';
	END IF;
	SELECT a.atttypid::regtype INTO time_type
	FROM pg_attribute a WHERE a.attrelid = source AND a.attname = time_column AND a.attnum > 0 AND NOT a.attisdropped;
	IF time_type IS NULL THEN
		RAISE EXCEPTION 'time_column "%" is not a column of %', time_column, source
			USING ERRCODE = '42703', HINT = 'Pass the name of a column of the source table.';
	END IF;
	IF time_type NOT IN ('date'::regtype, 'timestamp'::regtype, 'timestamptz'::regtype) THEN
		RAISE EXCEPTION 'time_column "%" has type %, not a date or timestamp', time_column, time_type
			USING ERRCODE = '42804', HINT = 'Pass a column of type date, timestamp or timestamptz.';
	END IF;
	IF item_column IS NOT NULL THEN
		SELECT format_type(a.atttypid, a.atttypmod), CASE WHEN t.typcollation <> 0 THEN ' COLLATE "C"' ELSE '' END
		INTO item_type, item_order
		FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
		WHERE a.attrelid = source AND a.attname = item_column AND a.attnum > 0 AND NOT a.attisdropped;
		IF item_type IS NULL THEN
			RAISE EXCEPTION 'item_column "%" is not a column of %', item_column, source
				USING ERRCODE = '42703', HINT = 'Pass the name of the product column of the source table.';
		END IF;
	END IF;

	as_of_sql := CASE WHEN as_of IS NOT NULL
					  THEN format('%L::timestamptz', to_char(as_of AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00')
					  WHEN as_of_now THEN 'pg_catalog.now()'
					  ELSE format('(SELECT pg_catalog.max(%I)::pg_catalog.timestamptz FROM %s)', time_column,
								  source::oid::regclass::text) END;
	-- what rfm_cohort and rfm_cohort_start take of a first event (%s), and
	-- their arguments after it: a date source's is a midnight in the
	-- session TimeZone
	first_day := CASE WHEN time_type = 'date'::regtype
					  THEN '(%s AT TIME ZONE pg_catalog.current_setting(''TimeZone''))::date' ELSE '%s' END;
	cohort_args := CASE WHEN time_type = 'date'::regtype THEN format(', %L', grain)
						ELSE format(', %L, %L', grain, tz) END;
	key_comment := format('the customer: column %s of %s', customer_column, source::oid::regclass::text);

	BEGIN
		-- an incremental model's _metrics reads its states, not the source
		IF incremental THEN
			SELECT target AS schema_name, name AS name, source AS source, customer_column AS customer_column,
				   time_column AS time_column, amount_column AS amount_column, weight_column AS weight_column,
				   as_of AS as_of, last_period AS last_period, bins AS bins, method AS method, refunds AS refunds,
				   grain AS grain, tz AS tz, clv AS clv
			INTO inc_model;
			PERFORM @extschema@.rfm_model_incremental_create(inc_model, watermark_column);
			EXECUTE format('CREATE MATERIALIZED VIEW %I.%I AS SELECT * FROM (%s) v ORDER BY v.%I%s', target, views[1],
						   @extschema@.rfm_model_incremental_metrics_sql(inc_model, key_type, rules), customer_column, key_order);
		ELSE
		-- OFFSET 0 keeps t a subquery: flattened, its as_of (the latest
		-- event's, a scan of the source) was computed twice, once for
		-- rfm_analyze and once for the column
		EXECUTE format(
			'CREATE MATERIALIZED VIEW %I.%I AS '
			'SELECT a.customer_key::%s AS %I, t.as_of, a.first_event, a.last_event, a.recency_days, '
			'a.tenure_days, a.frequency, a.weighted_frequency, a.frequency_last_period, '
			'a.weighted_frequency_last_period, a.monetary, a.avg_amount, a.ignored_after_as_of, '
			'a.r, a.f, a.m, '
			'coalesce(a.segment, CASE WHEN a.frequency = 0 THEN ''(refunds only)'' '
			'WHEN a.monetary IS NULL THEN ''(no amount)'' END) AS segment '
			'FROM (SELECT %s AS as_of OFFSET 0) t, '
			'LATERAL @extschema@.rfm_analyze(%L::regclass, %L, %L, %L, %L, t.as_of, %L::interval, %s, %L, %L, %L) a '
			'WHERE a.customer_key IS NOT NULL ORDER BY a.customer_key::%s%s',
			target, views[1], key_type, customer_column, as_of_sql, source::oid::regclass::text,
			customer_column, time_column, amount_column, weight_column, last_period, bins, method,
			rule_set, refunds, key_type, key_order);
		END IF;
		EXECUTE format('CREATE UNIQUE INDEX ON %I.%I (%I)', target, views[1], customer_column);
		PERFORM @extschema@.rfm_model_describe(target, views[1],
			format('RFM model %s: one row per customer, metrics, scores and segment as of as_of', name),
			ARRAY[customer_column, key_comment,
				  'as_of', 'the time the metrics are computed at',
				  'first_event', 'first purchase on or before as_of',
				  'last_event', 'last purchase on or before as_of',
				  'recency_days', 'days from the last purchase to as_of',
				  'tenure_days', 'days from the first purchase to as_of',
				  'frequency', 'purchases (events) on or before as_of',
				  'weighted_frequency', 'sum of the events'' weights',
				  'frequency_last_period', format('purchases in the last %s before as_of', last_period),
				  'weighted_frequency_last_period', 'sum of the weights in the last period',
				  'monetary', 'exact sum of the amounts' || CASE WHEN refunds = 'adjust' THEN ', less refunds' ELSE '' END,
				  'avg_amount', 'monetary per purchase with an amount',
				  'ignored_after_as_of', 'events after as_of, not counted',
				  'r', format('recency score, 1..%s, higher is more recent', bins),
				  'f', format('frequency score, 1..%s', bins),
				  'm', CASE WHEN amount_column IS NULL THEN format('last-period activity score, 1..%s', bins)
						   ELSE format('monetary score, 1..%s', bins) END,
				  'segment', format('segment under rule set %s; (no amount) or (refunds only) where a score is missing', rules)]);
		made := made || views[1];

		EXECUTE format('CREATE MATERIALIZED VIEW %I.%I AS SELECT m.%I, m.as_of, m.r, m.f, m.m, m.segment FROM %I.%I m '
					   'ORDER BY m.%I%s',
					   target, views[2], customer_column, target, views[1], customer_column, key_order);
		EXECUTE format('CREATE UNIQUE INDEX ON %I.%I (%I)', target, views[2], customer_column);
		PERFORM @extschema@.rfm_model_describe(target, views[2],
			format('RFM model %s: one row per customer, scores and segment', name),
			ARRAY[customer_column, key_comment, 'as_of', 'the time the scores are computed at',
				  'r', 'recency score', 'f', 'frequency score', 'm', 'monetary (or last-period activity) score',
				  'segment', format('segment under rule set %s', rules)]);
		made := made || views[2];

		-- aggregated by segment first, then joined to the dozen descriptions:
		-- joining every customer's row first cost a third of the view.  The
		-- average recency is summed as whole microseconds (bigint, exact,
		-- order-free, and no float8-to-numeric text conversion per row).
		EXECUTE format(
			'CREATE MATERIALIZED VIEW %I.%I AS '
			'SELECT s.segment, s.customers, '
			'round(100.0 * s.customers / sum(s.customers) OVER (), 1) AS customers_pct, '
			'round(s.revenue, max(s.revenue_scale) OVER ()) AS revenue, '
			'round(100 * s.revenue / nullif(sum(s.revenue) OVER (), 0), 1) AS revenue_pct, '
			'round(s.recency_us / 86400000000, 1) AS avg_recency_days, '
			's.avg_frequency, s.avg_monetary, d.description, d.action, s.as_of '
			'FROM (SELECT m.segment, count(*) AS customers, sum(m.monetary) AS revenue, '
			'max(scale(m.monetary)) AS revenue_scale, '
			'avg((m.recency_days * 86400000000)::bigint) AS recency_us, '
			'round(avg(m.frequency), 1) AS avg_frequency, '
			'round(avg(m.monetary), 2) AS avg_monetary, max(m.as_of) AS as_of '
			'FROM %I.%I m GROUP BY m.segment) s LEFT JOIN ('
			'(SELECT DISTINCT ON (r.segment) r.segment, r.description, r.action '
			'FROM @extschema@.rfm_rules r '
			'WHERE r.rule_set = %L ORDER BY r.segment, r.priority) '
			'UNION ALL VALUES (''Others'', ''Scores that no rule of the rule set matches.'', '
			'''See the uncovered cells with rfm_check_rules.''), '
			'(''(no amount)'', ''Customers whose purchases have no amount, so no monetary score.'', '
			'''Check the source: their amounts are NULL.''), '
			'(''(refunds only)'', ''Customers with refunds but no purchase on or before as_of.'', '
			'''Review the refunds; they are not buyers.'')) d ON d.segment = s.segment',
			target, views[3], target, views[1], rules);
		EXECUTE format('CREATE UNIQUE INDEX ON %I.%I (segment)', target, views[3]);
		PERFORM @extschema@.rfm_model_describe(target, views[3],
			format('RFM model %s: one row per segment, its size, revenue and what to do', name),
			ARRAY['segment', format('segment under rule set %s', rules),
				  'customers', 'customers in the segment',
				  'customers_pct', 'share of all customers, percent (1 decimal)',
				  'revenue', 'exact sum of the segment''s monetary',
				  'revenue_pct', 'share of all revenue, percent (1 decimal)',
				  'avg_recency_days', 'average days since the last purchase (1 decimal)',
				  'avg_frequency', 'average purchases (1 decimal)',
				  'avg_monetary', 'average monetary per customer (2 decimals)',
				  'description', 'what the segment means (rfm_segment_rule.description)',
				  'action', 'what to do about it (rfm_segment_rule.action)',
				  'as_of', 'the time the model is computed at']);
		made := made || views[3];

		-- grouped by the cohort's first day (a date) and the segment, then
		-- each group labelled by its earliest first event: the label and the
		-- day as grouping keys called rfm_cohort three times a customer and
		-- sorted by text, twice the time
		EXECUTE format(
			'CREATE MATERIALIZED VIEW %I.%I AS '
			'SELECT coalesce(@extschema@.rfm_cohort(%s%s), ''(no purchase)'') AS cohort, '
			'c.cohort_start, c.segment, c.customers, c.revenue, c.as_of '
			'FROM (SELECT @extschema@.rfm_cohort_start(%s%s) AS cohort_start, min(m.first_event) AS first_event, '
			'm.segment, count(*) AS customers, '
			'round(sum(m.monetary), max(max(scale(m.monetary))) OVER ()) AS revenue, max(m.as_of) AS as_of '
			'FROM %I.%I m GROUP BY 1, 3) c',
			target, views[4], format(first_day, 'c.first_event'), cohort_args,
			format(first_day, 'm.first_event'), cohort_args, target, views[1]);
		EXECUTE format('CREATE UNIQUE INDEX ON %I.%I (cohort, segment)', target, views[4]);
		PERFORM @extschema@.rfm_model_describe(target, views[4],
			format('RFM model %s: customers and revenue by first-purchase cohort and segment', name),
			ARRAY['cohort', format('the %s of the first purchase', grain),
				  'cohort_start', 'first day of the cohort, to sort and plot by',
				  'segment', 'segment as of as_of', 'customers', 'customers of the cohort in the segment',
				  'revenue', 'exact sum of their monetary', 'as_of', 'the time the model is computed at']);
		made := made || views[4];

		IF incremental THEN
			EXECUTE format('CREATE MATERIALIZED VIEW %I.%I AS %s', target, views[5],
						   @extschema@.rfm_model_incremental_retention_sql(inc_model, views[1]));
		ELSE
		EXECUTE format(
			'CREATE MATERIALIZED VIEW %I.%I AS '
			'SELECT r.cohort, @extschema@.rfm_cohort_date(r.cohort, %L) AS cohort_start, r.period_offset, '
			'r.cohort_size, r.active, r.rate, round((100 * r.rate)::numeric, 1) AS retention_pct, t.as_of '
			'FROM (SELECT max(m.as_of) AS as_of FROM %I.%I m) t, '
			'LATERAL @extschema@.rfm_retention(%L::regclass, %L, %L, %L, %L, t.as_of) r',
			target, views[5], grain, target, views[1], source::oid::regclass::text, customer_column,
			time_column, grain, tz);
		END IF;
		EXECUTE format('CREATE UNIQUE INDEX ON %I.%I (cohort, period_offset)', target, views[5]);
		PERFORM @extschema@.rfm_model_describe(target, views[5],
			format('RFM model %s: the retention triangle, one row per cohort and %s offset', name, grain),
			ARRAY['cohort', format('the %s of the first event', grain),
				  'cohort_start', 'first day of the cohort, to sort and plot by',
				  'period_offset', format('%ss after the cohort''s own (0 = the cohort''s)', grain),
				  'cohort_size', 'customers of the cohort',
				  'active', 'of them, customers with an event in that period',
				  'rate', 'active / cohort_size',
				  'retention_pct', 'rate in percent (1 decimal)',
				  'as_of', 'the time the model is computed at']);
		made := made || views[5];

		-- smart segments: customers with a purchase clustered on features of
		-- _metrics (seed 0, refitted at every refresh).  The default features
		-- take the log of the heavy-tailed counts and money, as rfm_kmeans's
		-- skewness NOTICE would advise.  The fitted model is a view of its
		-- own, so the assignments and the profiles read the same fit.
		IF clusters IS NOT NULL THEN
			feature_list := coalesce(feature_list,
									 CASE WHEN amount_column IS NULL
										  THEN ARRAY['recency_days', 'frequency: log1p', 'frequency_last_period: log1p']
										  ELSE ARRAY['recency_days', 'frequency: log1p', 'monetary: log1p'] END);
			SELECT 'ARRAY[' || string_agg(format('coalesce(m.%I::float8, 0)', btrim(split_part(f, ':', 1))), ', ' ORDER BY o)
				   || ']::float8[]' INTO feature_sql
			FROM unnest(feature_list) WITH ORDINALITY AS u(f, o);
			fit_sql := CASE cluster_method
				WHEN 'kmeans' THEN format('@extschema@.rfm_kmeans(%s, %s, ''seed=0'', %L::text[]) AS kmeans_model, '
										  'NULL::@extschema@.rfm_hclust_model AS hclust_model', feature_sql, clusters, feature_list)
				ELSE format('NULL::@extschema@.rfm_kmeans_model AS kmeans_model, '
							'@extschema@.rfm_hclust(%s, ''seed=0'', %L::text[]) AS hclust_model', feature_sql, feature_list) END;
			cluster_sql := CASE cluster_method
				WHEN 'kmeans' THEN format('@extschema@.rfm_cluster(%s, c.kmeans_model)', feature_sql)
				ELSE format('@extschema@.rfm_cluster(%s, c.hclust_model, c.k)', feature_sql) END;

			EXECUTE format(
				'CREATE MATERIALIZED VIEW %I.%I AS '
				'SELECT %L::text AS method, %s AS k, %L::text[] AS features, %s, count(*) AS customers, '
				'max(m.as_of) AS as_of FROM %I.%I m WHERE m.frequency > 0',
				target, views[6], cluster_method, clusters, feature_list, fit_sql, target, views[1]);
			EXECUTE format('CREATE UNIQUE INDEX ON %I.%I (method)', target, views[6]);
			PERFORM @extschema@.rfm_model_describe(target, views[6],
				format('RFM model %s: the fitted clustering (one row), refitted at each refresh', name),
				ARRAY['method', 'kmeans, or hclust (Ward''s hierarchical clustering)',
					  'k', 'the number of clusters',
					  'features', 'the columns of ' || views[1] || ' clustered, each with its preparation',
					  'kmeans_model', 'the k-means model (seed 0), for rfm_cluster and rfm_cluster_profile',
					  'hclust_model', 'the Ward tree, for rfm_cluster, rfm_hclust_cut, rfm_hclust_tree and rfm_cluster_profile',
					  'customers', 'customers clustered: those with a purchase',
					  'as_of', 'the time the model is computed at']);
			made := made || views[6];

			EXECUTE format(
				'CREATE MATERIALIZED VIEW %I.%I AS '
				'SELECT m.%I, %s AS cluster, m.segment, m.as_of '
				'FROM %I.%I m, %I.%I c WHERE m.frequency > 0 ORDER BY m.%I%s',
				target, views[7], customer_column, cluster_sql, target, views[1], target, views[6],
				customer_column, key_order);
			EXECUTE format('CREATE UNIQUE INDEX ON %I.%I (%I)', target, views[7], customer_column);
			PERFORM @extschema@.rfm_model_describe(target, views[7],
				format('RFM model %s: %s cluster (k = %s) of every customer with a purchase', name, cluster_method, clusters),
				ARRAY[customer_column, key_comment,
					  'cluster', format('cluster 1..k on %s (standardised, refitted at each refresh)', array_to_string(feature_list, ', ')),
					  'segment', 'RFM segment, for comparison', 'as_of', 'the time the model is computed at']);
			made := made || views[7];

			-- what each cluster is, for the marketer: size, revenue, averages in
			-- the metrics' own units (numeric, so the same bytes whatever the
			-- row order), the segment most of it is in, and rfm_cluster_profile's
			-- most distinctive features and description
			EXECUTE format(
				'CREATE MATERIALIZED VIEW %I.%I AS '
				'WITH c AS (SELECT k.cluster, m.recency_days::numeric AS recency_days, m.frequency, m.monetary, '
				'm.segment, m.as_of FROM %I.%I k JOIN %I.%I m USING (%I)), '
				'overall AS (SELECT count(*) AS n, sum(c.monetary) AS revenue FROM c), '
				'per AS (SELECT c.cluster, count(*) AS customers, sum(c.monetary) AS revenue, '
				'avg(c.recency_days) AS recency, avg(c.frequency) AS frequency, '
				'avg(coalesce(c.monetary, 0)) AS monetary, max(c.scale) AS scale, max(c.as_of) AS as_of '
				'FROM (SELECT c.*, scale(c.monetary) AS scale FROM c) c GROUP BY c.cluster), '
				'dominant AS (SELECT DISTINCT ON (c.cluster) c.cluster, c.segment, count(*) AS n FROM c '
				'GROUP BY c.cluster, c.segment ORDER BY c.cluster, count(*) DESC, c.segment COLLATE "C" NULLS LAST), '
				'profile AS (SELECT p.cluster, p.distinctive, p.description FROM %I.%I f, LATERAL %s p) '
				'SELECT p.cluster, p.customers, round(100.0 * p.customers / o.n, 1) AS customers_pct, '
				'round(p.revenue, max(p.scale) OVER ()) AS revenue, '
				'round(100 * p.revenue / nullif(o.revenue, 0), 1) AS revenue_pct, '
				'round(p.recency, 1) AS avg_recency_days, round(p.frequency, 1) AS avg_frequency, '
				'round(p.monetary, 2) AS avg_monetary, d.segment AS dominant_segment, '
				'round(100.0 * d.n / p.customers, 1) AS dominant_segment_pct, '
				'pr.distinctive, pr.description, p.as_of '
				'FROM per p CROSS JOIN overall o JOIN dominant d USING (cluster) LEFT JOIN profile pr USING (cluster)',
				target, views[8], target, views[7], target, views[1], customer_column, target, views[6],
				CASE cluster_method WHEN 'kmeans' THEN '@extschema@.rfm_cluster_profile(f.kmeans_model)'
					 ELSE '@extschema@.rfm_cluster_profile(f.hclust_model, f.k)' END);
			EXECUTE format('CREATE UNIQUE INDEX ON %I.%I (cluster)', target, views[8]);
			PERFORM @extschema@.rfm_model_describe(target, views[8],
				format('RFM model %s: one row per cluster, what it is and what it is worth', name),
				ARRAY['cluster', 'cluster number, as in ' || views[7],
					  'customers', 'customers in the cluster',
					  'customers_pct', 'share of the clustered customers, percent (1 decimal)',
					  'revenue', 'exact sum of the cluster''s monetary',
					  'revenue_pct', 'share of the clustered customers'' revenue, percent (1 decimal)',
					  'avg_recency_days', 'average days since the last purchase (1 decimal)',
					  'avg_frequency', 'average purchases (1 decimal)',
					  'avg_monetary', 'average monetary per customer, no amount as 0 (2 decimals)',
					  'dominant_segment', 'the RFM segment most of the cluster is in (ties: first by name)',
					  'dominant_segment_pct', 'share of the cluster in that segment, percent (1 decimal)',
					  'distinctive', 'the three features whose cluster mean is furthest from the population''s, in standard deviations (rfm_cluster_profile)',
					  'description', 'the cluster in words: its distinctive features as high or low (rfm_cluster_profile)',
					  'as_of', 'the time the model is computed at']);
			made := made || views[8];
		END IF;

		-- lifetime value: Pareto/NBD by default (whose P(alive) of a
		-- one-time buyer falls with time, unlike BG/NBD's, which stays 1), or
		-- BG/NBD, and Gamma-Gamma, refitted at each refresh on whole days up
		-- to as_of's day in tz
		IF clv THEN
			-- the summary: of the source's events, or for an incremental
			-- model of the purchase days its states keep (below and at the
			-- watermark, merged)
			IF incremental THEN
				clv_summary_sql := format(
					'SELECT t.as_of, h.key::pg_catalog.text AS customer_key, c.* '
					'FROM (SELECT pg_catalog.max(m.as_of) AS as_of FROM %1$I.%2$I m) t, %1$I.%3$I h, '
					'LATERAL @extschema@.rfm_clv_state_summary(CASE WHEN h.clv_edge IS NULL THEN h.clv '
					'ELSE @extschema@.rfm_clv_state_merge(h.clv, h.clv_edge, %4$L::@extschema@.rfm_clv_spec) END, '
					'(t.as_of AT TIME ZONE %5$L)::date, %6$L) c WHERE h.key IS NOT NULL AND c.x IS NOT NULL',
					target, views[1], name || '_states', @extschema@.rfm_model_clv_spec(inc_model), tz, clv_unit);
			ELSE
				clv_summary_sql := format(
					'SELECT t.as_of, c.* FROM (SELECT pg_catalog.max(m.as_of) AS as_of FROM %I.%I m) t, '
					'LATERAL @extschema@.rfm_clv_summary(%L::regclass, %L, %L, %L, (t.as_of AT TIME ZONE %L)::date, NULL, %L, %L) c '
					'WHERE c.customer_key IS NOT NULL',
					target, views[1], source::oid::regclass::text, customer_column, time_column,
					amount_column, tz, clv_unit, tz);
			END IF;
			EXECUTE format(
				'CREATE MATERIALIZED VIEW %I.%I AS '
				'WITH s AS (%s), '
				'fit AS (SELECT @extschema@.rfm_%s_fit(s.x, s.t_x, s.t_cal) AS tm, '
				'@extschema@.rfm_gg_fit(s.x, s.mean_spend) AS gg FROM s) '
				'SELECT s.customer_key::%s AS %I, s.x, s.t_x, s.t_cal, s.mean_spend, '
				'@extschema@.rfm_p_alive(fit.tm, s.x, s.t_x, s.t_cal) AS p_alive, '
				'@extschema@.rfm_expected_purchases(fit.tm, %s, s.x, s.t_x, s.t_cal) AS expected_purchases, '
				'round(@extschema@.rfm_expected_spend(fit.gg, s.x, s.mean_spend)::numeric, 2) AS expected_spend, '
				'round(@extschema@.rfm_clv(fit.tm, fit.gg, s.x, s.t_x, s.t_cal, s.mean_spend, %s, %s, %s)::numeric, 2) AS clv, '
				'(fit.tm).converged AND (fit.gg).converged AS fit_converged, s.as_of FROM s, fit '
				'ORDER BY s.customer_key::%s%s',
				target, views[9], clv_summary_sql, clv_model, key_type, customer_column, clv_horizon, clv_horizon,
				clv_discount_rate, clv_margin, key_type, key_order);
			EXECUTE format('CREATE UNIQUE INDEX ON %I.%I (%I)', target, views[9], customer_column);
			PERFORM @extschema@.rfm_model_describe(target, views[9],
				format('RFM model %s: lifetime value of every customer (%s and Gamma-Gamma, refitted at each refresh)', name,
					   CASE clv_model WHEN 'pnbd' THEN 'Pareto/NBD' ELSE 'BG/NBD' END),
				ARRAY[customer_column, key_comment,
					  'x', 'repeat purchases: purchase days after the first, up to as_of''s day',
					  't_x', format('%ss from the first purchase day to the last', clv_unit),
					  't_cal', format('%ss from the first purchase day to as_of''s day', clv_unit),
					  'mean_spend', 'mean amount of the repeat purchase days (NULL when x = 0)',
					  'p_alive', format('probability that the customer is still a customer (%s)',
										CASE clv_model WHEN 'pnbd' THEN 'Pareto/NBD' ELSE 'BG/NBD' END),
					  'expected_purchases', format('expected purchases in the next %s %ss', clv_horizon, clv_unit),
					  'expected_spend', 'expected spend per purchase (Gamma-Gamma, 2 decimals)',
					  'clv', format('expected margin over the next %s %ss: margin %s, discount %s per %s (2 decimals)',
									clv_horizon, clv_unit, clv_margin, clv_discount_rate, clv_unit),
					  'fit_converged', 'both fits converged; when false, read the numbers with care',
					  'as_of', 'the time the model is computed at']);
			made := made || views[9];
		END IF;

		-- micro-segments: communities of the bipartite customer-product
		-- graph of the whole source (the graph functions take no as_of), and
		-- each customer's recommendations from them
		IF micro_segments THEN
			EXECUTE format(
				'CREATE MATERIALIZED VIEW %I.%I AS '
				'SELECT s.node_kind, s.node_key, s.community '
				'FROM @extschema@.rfm_micro_segments(%L::regclass, %L, %L, %L, 1.0, 0) s '
				'ORDER BY s.node_kind COLLATE "C", s.node_key COLLATE "C"',
				target, views[10], source::oid::regclass::text, customer_column, item_column, weight_column);
			EXECUTE format('CREATE UNIQUE INDEX ON %I.%I (node_kind, node_key)', target, views[10]);
			PERFORM @extschema@.rfm_model_describe(target, views[10],
				format('RFM model %s: customers and products in micro-segments (communities of the purchase graph)', name),
				ARRAY['node_kind', 'customer or item',
					  'node_key', format('the customer (column %s) or the product (column %s), as text', customer_column, item_column),
					  'community', 'the micro-segment, numbered by size from 0']);
			made := made || views[10];

			EXECUTE format(
				'CREATE MATERIALIZED VIEW %I.%I AS '
				'SELECT r.customer_key::%s AS %I, r.item_key::%s AS %I, r.rank, r.score '
				'FROM @extschema@.rfm_recommend(%L::regclass, %L, %L, %s, %L, 1.0, 0) r '
				'ORDER BY r.customer_key::%s%s, r.item_key::%s%s',
				target, views[11], key_type, customer_column, item_type, item_column,
				source::oid::regclass::text, customer_column, item_column, recommendations, weight_column,
				key_type, key_order, item_type, item_order);
			EXECUTE format('CREATE UNIQUE INDEX ON %I.%I (%I, rank)', target, views[11], customer_column);
			PERFORM @extschema@.rfm_model_describe(target, views[11],
				format('RFM model %s: per customer, the %s products most bought in their micro-segment that they have not bought', name, recommendations),
				ARRAY[customer_column, key_comment,
					  item_column, 'the product recommended',
					  'rank', format('1..%s, best first', recommendations),
					  'score', 'the product''s weight in the customer''s micro-segment (popularity overall when the segment runs out)']);
			made := made || views[11];
		END IF;
	EXCEPTION WHEN OTHERS THEN
		-- the error, without the generated statement as its context
		GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL,
			hnt = PG_EXCEPTION_HINT, code = RETURNED_SQLSTATE;
		msg := format('model "%s": %s', name, msg);
		IF det <> '' AND hnt <> '' THEN
			RAISE EXCEPTION USING MESSAGE = msg, ERRCODE = code, DETAIL = det, HINT = hnt;
		ELSIF det <> '' THEN
			RAISE EXCEPTION USING MESSAGE = msg, ERRCODE = code, DETAIL = det;
		ELSIF hnt <> '' THEN
			RAISE EXCEPTION USING MESSAGE = msg, ERRCODE = code, HINT = hnt;
		ELSE
			RAISE EXCEPTION USING MESSAGE = msg, ERRCODE = code;
		END IF;
	END;

	INSERT INTO @extschema@.rfm_model (schema_name, name, source, customer_column, time_column,
									   amount_column, weight_column, as_of, last_period, bins, method,
									   rule_set, grain, tz, clusters, refunds, as_of_now, views,
									   cluster_method, features, clv, clv_horizon, clv_unit,
									   clv_discount_rate, clv_margin, item_column, micro_segments, clv_model)
	VALUES (target, name, source, customer_column, time_column, amount_column, weight_column,
			as_of, last_period, bins, method, rule_set, grain, tz, clusters, refunds, as_of_now, made,
			cluster_method, feature_list, clv,
			CASE WHEN clv THEN clv_horizon END, CASE WHEN clv THEN clv_unit END,
			CASE WHEN clv THEN clv_discount_rate END, CASE WHEN clv THEN clv_margin END,
			item_column, micro_segments, CASE WHEN clv THEN clv_model END);
	RETURN made;
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_model_create(name, text, regclass, name, name, name, name, timestamptz, interval, int, text, text, text, text, int, text, boolean, text, text[], boolean, float8, text, float8, float8, name, boolean, boolean, name, text) IS 'rfm_create_model''s worker: creates a model''s views in schema target';

-- The caller's model called name ('name' in current_schema, or
-- 'schema.name').  Not STRICT: a NULL current_schema finds nothing.
CREATE FUNCTION @extschema@.rfm_model_lookup(name text, current_schema name)
	RETURNS @extschema@.rfm_model
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	parts text[] := parse_ident(name);
	model @extschema@.rfm_model;
BEGIN
	SELECT m.* INTO model FROM @extschema@.rfm_model m
	WHERE m.name = parts[cardinality(parts)]
	  AND m.schema_name = CASE WHEN cardinality(parts) > 1 THEN parts[1] ELSE rfm_model_lookup.current_schema END;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" does not exist', name
			USING ERRCODE = '42704', HINT = 'See SELECT schema_name, name FROM rfm_model; create one with rfm_create_model.';
	END IF;
	RETURN model;
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_model_lookup(text, name) IS 'rfm_find_model''s worker: the caller''s model, with the schema to look in given';

-- Refresh every view a model has, in order, in one transaction, so the
-- views agree with each other.  CONCURRENTLY keeps them readable meanwhile.
CREATE FUNCTION @extschema@.rfm_model_refresh(model @extschema@.rfm_model, concurrently boolean)
	RETURNS void
	LANGUAGE plpgsql VOLATILE STRICT
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v text;
BEGIN
	FOREACH v IN ARRAY coalesce(model.views, @extschema@.rfm_model_views(model.name)) LOOP
		CONTINUE WHEN to_regclass(format('%I.%I', model.schema_name, v)) IS NULL;
		EXECUTE format('REFRESH MATERIALIZED VIEW %s %I.%I',
					   CASE WHEN rfm_model_refresh.concurrently THEN 'CONCURRENTLY' ELSE '' END, model.schema_name, v);
	END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_model_refresh(@extschema@.rfm_model, boolean) IS 'rfm_refresh''s worker: refreshes a found model''s views in order';

CREATE FUNCTION @extschema@.rfm_model_drop(model @extschema@.rfm_model)
	RETURNS void
	LANGUAGE plpgsql VOLATILE STRICT
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	views text[] := coalesce(model.views, @extschema@.rfm_model_views(model.name));
BEGIN
	FOR i IN REVERSE cardinality(views) .. 1 LOOP
		CONTINUE WHEN to_regclass(format('%I.%I', model.schema_name, views[i])) IS NULL;
		EXECUTE format('DROP MATERIALIZED VIEW %I.%I', model.schema_name, views[i]);
	END LOOP;
	PERFORM @extschema@.rfm_model_incremental_drop(model.schema_name, model.name);
	DELETE FROM @extschema@.rfm_model m WHERE m.schema_name = model.schema_name AND m.name = model.name;
END
$$;
COMMENT ON FUNCTION @extschema@.rfm_model_drop(@extschema@.rfm_model) IS 'rfm_drop_model''s worker: drops a found model''s views and its record';

-- The API.  SQL functions whose bodies were bound when they were created:
-- they only read the caller's current_schema() (models live there) and
-- pass it to the workers above, so no name in them is resolved through the
-- caller's search_path at call time (the 0.2 security fix).  VOLATILE:
-- they create, refresh and drop views.
CREATE FUNCTION @extschema@.rfm_create_model(name text, source regclass, customer_column name, time_column name,
											 amount_column name DEFAULT NULL, weight_column name DEFAULT NULL,
											 as_of timestamptz DEFAULT NULL, last_period interval DEFAULT '30 days',
											 bins int DEFAULT 5, method text DEFAULT 'quantile',
											 rule_set text DEFAULT NULL, grain text DEFAULT 'month',
											 tz text DEFAULT 'UTC', clusters int DEFAULT NULL,
											 refunds text DEFAULT 'events', as_of_now boolean DEFAULT false,
											 cluster_method text DEFAULT 'kmeans', features text[] DEFAULT NULL,
											 clv boolean DEFAULT false, clv_horizon float8 DEFAULT 52,
											 clv_unit text DEFAULT 'week', clv_discount_rate float8 DEFAULT 0,
											 clv_margin float8 DEFAULT 1, item_column name DEFAULT NULL,
											 micro_segments boolean DEFAULT false, incremental boolean DEFAULT false,
											 watermark_column name DEFAULT NULL, clv_model text DEFAULT 'pnbd')
	RETURNS text[]
	LANGUAGE sql VOLATILE
RETURN @extschema@.rfm_model_create(pg_catalog.current_schema(), name, source, customer_column, time_column,
									amount_column, weight_column, as_of, last_period, bins, method,
									rule_set, grain, tz, clusters, refunds, as_of_now, cluster_method,
									features, clv, clv_horizon, clv_unit, clv_discount_rate, clv_margin,
									item_column, micro_segments, incremental, watermark_column, clv_model);
COMMENT ON FUNCTION @extschema@.rfm_create_model(text, regclass, name, name, name, name, timestamptz, interval, int, text, text, text, text, int, text, boolean, text, text[], boolean, float8, text, float8, float8, name, boolean, boolean, name, text) IS 'creates a model''s materialized views (metrics, segments, summaries, cohorts, retention; clusters, CLV, micro-segments when asked) in the current schema';

-- STABLE: it reads rfm_model.
CREATE FUNCTION @extschema@.rfm_find_model(name text)
	RETURNS @extschema@.rfm_model
	LANGUAGE sql STABLE STRICT
RETURN @extschema@.rfm_model_lookup(name, pg_catalog.current_schema());
COMMENT ON FUNCTION @extschema@.rfm_find_model(text) IS 'the caller''s model of that name, in the current schema or as schema.name';

-- An incremental model folds its new rows into its states first (full:
-- rebuilds them), in the same transaction as its views.
CREATE FUNCTION @extschema@.rfm_refresh(name text, concurrently boolean DEFAULT false, full boolean DEFAULT false)
	RETURNS void
	LANGUAGE sql VOLATILE STRICT
BEGIN ATOMIC
	SELECT @extschema@.rfm_model_incremental_refresh(m.schema_name, m.name, rfm_refresh.full)
	FROM @extschema@.rfm_model_lookup(name, pg_catalog.current_schema()) AS m;
	SELECT @extschema@.rfm_model_refresh(@extschema@.rfm_model_lookup(name, pg_catalog.current_schema()), rfm_refresh.concurrently);
END;
COMMENT ON FUNCTION @extschema@.rfm_refresh(text, boolean, boolean) IS 'refreshes a model''s views in order (pg_cron-ready); an incremental model folds in its new rows first';

CREATE FUNCTION @extschema@.rfm_drop_model(name text)
	RETURNS void
	LANGUAGE sql VOLATILE STRICT
BEGIN ATOMIC
	SELECT @extschema@.rfm_model_drop(@extschema@.rfm_model_lookup(name, pg_catalog.current_schema()));
END;
COMMENT ON FUNCTION @extschema@.rfm_drop_model(text) IS 'drops a model''s views and its record';
