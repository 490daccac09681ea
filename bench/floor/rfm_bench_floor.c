/*-------------------------------------------------------------------------
 *
 * rfm_bench_floor.c
 *	  The benchmark's aggregate floor: a C aggregate that takes what
 *	  rfm_metrics takes and does nothing with it.
 *
 * bench/run times rfm_metrics under GROUP BY against count(*).  Part of
 * the difference is PostgreSQL's, whatever the aggregate computes: the
 * executor fetches two more columns of every row, evaluates the
 * arguments, calls a transition function per row, and keeps a
 * pass-by-reference state per group in the hash table.  This aggregate
 * pays exactly that and nothing more: rfm_metrics' arguments, a state of
 * its type and size (made at a group's first row, as rfm_metrics makes
 * its own, and copied by the executor into the group's memory), the same
 * SSPACE, and no work on any row.  What rfm_metrics costs above it is
 * rfm_segment's own work.
 *
 * The state's size comes from the fourth argument, a constant the
 * benchmark takes from a real state (pg_column_size), so that it follows
 * state.c without reading its struct.
 *
 * Not part of the extension: bench/run builds and installs it and creates
 * the aggregate in its own throwaway cluster.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

PG_MODULE_MAGIC;

/* a state larger than this is not rfm_metrics' */
#define MAX_STATE_BYTES		(64 * 1024)

/*
 * rfm_bench_floor_trans(state rfm_metrics_state, event_time timestamptz,
 * amount numeric, as_of timestamptz, state_bytes integer): the state as
 * it came, or at a group's first row a zeroed one of state_bytes.
 */
PG_FUNCTION_INFO_V1(rfm_bench_floor_trans);
Datum
rfm_bench_floor_trans(PG_FUNCTION_ARGS)
{
	int32		bytes;
	struct varlena *state;

	if (!AggCheckCallContext(fcinfo, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("rfm_bench_floor_trans is the transition function of rfm_bench_floor"),
				 errhint("Call the aggregate rfm_bench_floor.")));
	if (!PG_ARGISNULL(0))
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	bytes = PG_ARGISNULL(4) ? 0 : PG_GETARG_INT32(4);
	if (bytes < VARHDRSZ || bytes > MAX_STATE_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("state_bytes must be between %d and %d", VARHDRSZ, MAX_STATE_BYTES),
				 errhint("Pass the pg_column_size of an rfm_metrics state.")));
	state = palloc0(bytes);
	SET_VARSIZE(state, bytes);
	PG_RETURN_POINTER(state);
}

/* combine: either state will do, as neither holds anything */
PG_FUNCTION_INFO_V1(rfm_bench_floor_combine);
Datum
rfm_bench_floor_combine(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
	{
		if (PG_ARGISNULL(1))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(1));
	}
	PG_RETURN_DATUM(PG_GETARG_DATUM(0));
}

/* final: the state's size, so that the group has a value to read */
PG_FUNCTION_INFO_V1(rfm_bench_floor_final);
Datum
rfm_bench_floor_final(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	PG_RETURN_INT32(VARSIZE_ANY(PG_GETARG_POINTER(0)));
}
