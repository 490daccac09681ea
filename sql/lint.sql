-- Lint of the install script, as installed: PostgreSQL's security rules
-- for extension scripts.
\set VERBOSITY terse

CREATE TABLE script AS
SELECT pg_read_file(s.setting || '/extension/rfm_segment--0.1.sql') AS body
FROM pg_config s WHERE s.name = 'SHAREDIR';
-- the same text with comments removed
CREATE TABLE code AS
SELECT regexp_replace(body, '--[^\n]*', '', 'g') AS body FROM script;

-- 1. it refuses to run outside CREATE EXTENSION
SELECT body ~ '^/\*[^\n]*\*/\s*\\echo Use "CREATE EXTENSION rfm_segment" to load this file\. \\quit' AS has_guard FROM script;

-- 2. no CREATE OR REPLACE, no SECURITY DEFINER
SELECT count(*) AS create_or_replace FROM code, regexp_matches(body, 'CREATE\s+OR\s+REPLACE', 'gi');
SELECT count(*) AS security_definer FROM code, regexp_matches(body, 'SECURITY\s+DEFINER', 'gi');

-- 3. every object is created in @extschema@
SELECT m[1] AS kind, count(*) AS created,
	count(*) FILTER (WHERE m[2] LIKE '@extschema@.%') AS in_extschema
FROM code, regexp_matches(body, '(?:^|\n)CREATE\s+(FUNCTION|AGGREGATE|TYPE|TABLE|VIEW|MATERIALIZED VIEW|SEQUENCE|OPERATOR)\s+(\S+)', 'g') AS m
GROUP BY 1 ORDER BY 1;

-- 4. PL/pgSQL functions pin search_path, except the four that must see the
--    caller's current schema (models live there); their bodies qualify
--    every name of ours with @extschema@
SELECT f[1] AS function, f[2] ~ 'SET search_path = pg_catalog, pg_temp' AS pins_search_path
FROM code, regexp_matches(body, 'CREATE FUNCTION @extschema@\.(\w+)\(([^;$]*?LANGUAGE plpgsql[^;$]*?)AS \$\$', 'g') AS f
ORDER BY 1;

-- 5. every function, aggregate, type and table has a comment
SELECT (SELECT count(*) FROM code, regexp_matches(body, '(?:^|\n)CREATE\s+(FUNCTION|AGGREGATE|TYPE|TABLE)\s', 'g')) -
	   (SELECT count(*) FROM code, regexp_matches(body, 'COMMENT ON (FUNCTION|AGGREGATE|TYPE|TABLE)\s', 'g'))
	   - 1 AS uncommented_objects;	-- the shell type rfm_metrics_state is created twice

-- 6. built-ins called from the script are qualified with pg_catalog where a
--    user's search_path could reach them at CREATE EXTENSION time
SELECT count(*) AS unqualified_config_dump
FROM code, regexp_matches(body, '(?<!pg_catalog\.)pg_extension_config_dump', 'g');

DROP TABLE script, code;
