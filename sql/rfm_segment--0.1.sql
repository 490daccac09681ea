/* rfm_segment--0.1.sql: the API, layer by layer (see DESIGN.md) */

\echo Use "CREATE EXTENSION rfm_segment" to load this file. \quit

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
