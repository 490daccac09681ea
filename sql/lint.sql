-- Lint of the install and upgrade scripts, as installed, and of the
-- installed objects: PostgreSQL's security rules for extension scripts.
\set VERBOSITY terse

CREATE TABLE script AS
SELECT f AS file, pg_read_file(s.setting || '/extension/' || f) AS body
FROM pg_config s, pg_ls_dir(s.setting || '/extension') f
WHERE s.name = 'SHAREDIR' AND f ~ '^rfm_segment--[0-9.]+(--[0-9.]+)?\.sql$';
-- the same text with comments removed
CREATE TABLE code AS
SELECT file, regexp_replace(body, '--[^\n]*', '', 'g') AS body FROM script;
SELECT file FROM script ORDER BY file COLLATE "C";

-- 1. each refuses to run outside CREATE or ALTER EXTENSION
SELECT file, body ~ '^/\*[^\n]*\*/\s*\\echo Use "(CREATE EXTENSION rfm_segment|ALTER EXTENSION rfm_segment UPDATE TO ''[0-9.]+'')" to load this file\. \\quit' AS has_guard
FROM script ORDER BY file COLLATE "C";

-- 2. no SECURITY DEFINER; CREATE OR REPLACE only in upgrade steps, and
--    only of functions another of our scripts created
SELECT file, (SELECT count(*) FROM regexp_matches(body, 'SECURITY\s+DEFINER', 'gi')) AS security_definer
FROM code ORDER BY file COLLATE "C";
SELECT c.file, m[1] AS replaced,
	EXISTS (SELECT 1 FROM code e WHERE e.file <> c.file
			AND e.body ~ ('CREATE FUNCTION @extschema@\.' || m[1] || '\(')) AS created_earlier
FROM code c, regexp_matches(c.body, 'CREATE\s+OR\s+REPLACE\s+(?:FUNCTION\s+@extschema@\.(\w+))?', 'gi') AS m
ORDER BY c.file COLLATE "C", m[1] COLLATE "C";

-- 3. every object is created in @extschema@
SELECT file, m[1] AS kind, count(*) AS created,
	count(*) FILTER (WHERE m[2] LIKE '@extschema@.%') AS in_extschema
FROM code, regexp_matches(body, '(?:^|\n)CREATE\s+(?:OR\s+REPLACE\s+)?(FUNCTION|AGGREGATE|TYPE|TABLE|VIEW|MATERIALIZED VIEW|SEQUENCE|OPERATOR)\s+(\S+)', 'g') AS m
GROUP BY 1, 2 ORDER BY file COLLATE "C", kind;

-- 4. built-ins called from the scripts are qualified with pg_catalog where
--    a user's search_path could reach them at CREATE EXTENSION time
SELECT count(*) AS unqualified_config_dump
FROM code, regexp_matches(body, '(?<!pg_catalog\.)pg_extension_config_dump', 'g');

-- 5. No function of ours parses SQL at call time under the caller's
--    search_path: a body parsed at call time (PL/pgSQL, or SQL without a
--    BEGIN ATOMIC / RETURN body) must pin search_path.  SQL-standard
--    bodies are bound when the script runs; C functions quote and qualify
--    the SQL they build.
CREATE VIEW member_function AS
SELECT p.oid, p.oid::regprocedure::text AS function, l.lanname AS language, p.prokind,
	p.prosqlbody IS NOT NULL AS bound_at_install,
	coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false) AS pins_search_path
FROM pg_proc p
JOIN pg_language l ON l.oid = p.prolang
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'rfm_segment';
SELECT language, bound_at_install, pins_search_path, count(*)
FROM member_function WHERE prokind <> 'a' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
SELECT function AS parsed_at_call_time_without_pinned_search_path
FROM member_function
WHERE language IN ('sql', 'plpgsql') AND NOT bound_at_install AND NOT pins_search_path
ORDER BY function COLLATE "C";

-- 6. every member has a comment.  From PostgreSQL 17 on the types the
--    server makes itself, the array type of each type and the row type of
--    each table, are members too (commit e5bc9454); they are not ours to
--    comment, and leaving them out keeps the check the same on 15.
SELECT pg_describe_object(d.classid, d.objid, 0) AS uncommented
FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'rfm_segment'
WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
  AND obj_description(d.objid, d.classid::regclass::name) IS NULL
  AND NOT EXISTS (SELECT 1 FROM pg_type t LEFT JOIN pg_class c ON c.oid = t.typrelid
                  WHERE d.classid = 'pg_type'::regclass AND t.oid = d.objid
                    AND (EXISTS (SELECT 1 FROM pg_type a WHERE a.typarray = t.oid) OR c.relkind <> 'c'))
ORDER BY pg_describe_object(d.classid, d.objid, 0) COLLATE "C";

-- 7. docs/reference.md names every function a user calls.  Left out, and
--    said so there: the support functions of aggregates and types, the
--    model workers (rfm_model_*) and the rule-table trigger.
\getenv abs_srcdir PG_ABS_SRCDIR
\set reference_page :abs_srcdir '/docs/reference.md'
SELECT DISTINCT p.proname AS not_in_reference
FROM member_function f JOIN pg_proc p ON p.oid = f.oid
WHERE p.proname !~ '_(trans|combine|serial|deserial|final|in|out|recv|send)(_[a-z0-9_]+)?$'
  AND p.proname !~ '^rfm_model_' AND p.proname <> 'rfm_segment_rule_check'
  AND pg_read_file(:'reference_page') !~ ('`' || p.proname || '[(`]')
ORDER BY 1;

DROP VIEW member_function;
DROP TABLE script, code;
