-- Volatility, strictness and parallel labels are promises: check each one.
\set VERBOSITY terse

SELECT p.oid::regprocedure AS function, p.prokind AS kind,
	p.provolatile AS volatility, p.proisstrict AS strict, p.proparallel AS parallel
FROM pg_proc p
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'rfm_segment'
ORDER BY p.oid::regprocedure::text COLLATE "C";

-- Every aggregate can be combined (parallel query, Citus) and has no
-- "internal" state without serialization.
SELECT a.aggfnoid::regprocedure AS aggregate, a.aggcombinefn <> 0 AS has_combine,
	a.aggtranstype::regtype AS state_type,
	a.aggserialfn <> 0 OR a.aggtranstype <> 'internal'::regtype AS state_crosses_processes
FROM pg_aggregate a
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = a.aggfnoid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'rfm_segment'
ORDER BY a.aggfnoid::regprocedure::text COLLATE "C";

-- An aggregate of one "internal" state per customer declares what a state
-- takes (SSPACE): PostgreSQL plans such a state without it at 8 kB a group,
-- and its hash table of customers spills to disk long before the memory it
-- may use is full.  Those left without it gather a whole input into one
-- group: breaks, clusterings, model fits.
SELECT a.aggfnoid::regprocedure AS aggregate_without_sspace
FROM pg_aggregate a
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = a.aggfnoid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'rfm_segment'
WHERE a.aggtranstype = 'internal'::regtype AND a.aggtransspace = 0
ORDER BY a.aggfnoid::regprocedure::text COLLATE "C";

-- So 5,000 customers' states fit a hash table in work_mem 4MB, in one
-- batch (planned at 8 kB a state, it spilled in 5).
CREATE FUNCTION pg_temp.hash_batches(query text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	plan jsonb;
BEGIN
	EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON, COSTS OFF, TIMING OFF) ' || query INTO plan;
	RETURN jsonb_path_query_first(plan, '$.**."HashAgg Batches"');
END
$$;
SET max_parallel_workers_per_gather = 0;
SET enable_sort = off;
SET work_mem = '4MB';
SELECT pg_temp.hash_batches($$
	SELECT i % 5000 AS customer,
		rfm_clv_state_agg(timestamptz '2024-01-01 00:00+00' + (i % 97) * interval '1 day', 10.0,
						  ROW(NULL, NULL, 'UTC')::rfm_clv_spec)
	FROM generate_series(1, 20000) i GROUP BY 1$$) AS clv_state_batches,
	pg_temp.hash_batches($$
	SELECT i % 5000 AS customer,
		rfm_journey_state_agg(timestamptz '2024-11-01 00:00+00' + (i % 61) * interval '1 day', (i % 3)::text, NULL,
							  ROW('2025-01-01 00:00+00', '30 days', 'UTC')::rfm_journey_spec)
	FROM generate_series(1, 20000) i GROUP BY 1$$) AS journey_state_batches;
RESET work_mem;
RESET enable_sort;
RESET max_parallel_workers_per_gather;

-- No object of the extension runs with its owner's rights.
SELECT count(*) AS security_definer
FROM pg_proc p
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'rfm_segment'
WHERE p.prosecdef;
