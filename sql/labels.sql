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

-- No object of the extension runs with its owner's rights.
SELECT count(*) AS security_definer
FROM pg_proc p
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'rfm_segment'
WHERE p.prosecdef;
