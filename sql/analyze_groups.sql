-- rfm_analyze_groups: the analysis within each group (a category, a
-- store), breaks per group, in one scan.  Its rows are those of
-- rfm_analyze run on each group's rows alone, for every kind of column and
-- option; it completes where the customers do not fit max_memory.
\set VERBOSITY terse
SET TimeZone = 'UTC';
SET extra_float_digits = 0;

CREATE TABLE gev AS
SELECT CASE WHEN g % 997 = 0 THEN NULL ELSE (g * 7919) % 400 END::bigint AS cust,
	CASE WHEN g % 211 = 0 THEN NULL ELSE (ARRAY['auto', 'jobs', 'realty', 'services', 'Électronique'])[1 + (g / 7) % 5] END AS category,
	(g * 17) % 3 AS store,
	CASE WHEN g % 503 = 0 THEN NULL
		 ELSE '2023-01-01 00:00+00'::timestamptz + ((g::bigint * 104729) % 63072000) * interval '1 second' END AS t,
	CASE WHEN g % 11 = 0 THEN NULL WHEN g % 13 = 0 THEN -((g % 300) / 4.0) ELSE (g % 400) / 4.0 END AS amount,
	CASE g % 4 WHEN 0 THEN NULL WHEN 1 THEN 0.1::float8 WHEN 2 THEN 1 ELSE 0.35 END AS w
FROM generate_series(1, 15000) g;
ALTER TABLE gev ADD COLUMN d date;
UPDATE gev SET d = (t AT TIME ZONE 'UTC')::date;
ANALYZE gev;

-- rfm_analyze on each group's rows alone, the group prepended: the
-- definition rfm_analyze_groups must meet.  call is rfm_analyze's
-- arguments after the source, the customer and the time columns.
CREATE FUNCTION group_by_group(grp name, time_col name, call text)
RETURNS SETOF record LANGUAGE plpgsql AS $$
DECLARE
	g text;
	g_is_null boolean;
BEGIN
	FOR g, g_is_null IN EXECUTE format('SELECT DISTINCT %I::text, %I IS NULL FROM gev', grp, grp) LOOP
		EXECUTE format('CREATE TEMP TABLE one_group AS SELECT * FROM gev WHERE %s',
					   CASE WHEN g_is_null THEN format('%I IS NULL', grp) ELSE format('%I::text = %L', grp, g) END);
		RETURN QUERY EXECUTE format('SELECT %L::text, a.* FROM rfm_analyze(''one_group'', ''cust'', %L%s) a', g, time_col, call);
		DROP TABLE one_group;
	END LOOP;
END $$;

-- rows of rfm_analyze_groups, and how many differ from the definition
CREATE FUNCTION compare_groups(grp name, time_col name, call text,
							   OUT groups bigint, OUT customer_rows bigint, OUT only_groups bigint, OUT only_single bigint)
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('CREATE TEMP TABLE by_groups AS SELECT * FROM rfm_analyze_groups(''gev'', ''cust'', %L, %L%s)',
				   grp, time_col, call);
	EXECUTE format('CREATE TEMP TABLE by_single AS SELECT * FROM group_by_group(%L, %L, %L) AS x(group_key text,
		customer_key text, first_event timestamptz, last_event timestamptz, recency_days float8, tenure_days float8,
		frequency bigint, weighted_frequency numeric, frequency_last_period bigint, weighted_frequency_last_period numeric,
		monetary numeric, avg_amount numeric, ignored_after_as_of bigint, r int, f int, m int, segment text)',
				   grp, time_col, call);
	SELECT count(DISTINCT group_key) + count(DISTINCT 1) FILTER (WHERE group_key IS NULL), count(*)
		INTO groups, customer_rows FROM by_groups;
	SELECT count(*) INTO only_groups FROM (SELECT * FROM by_groups EXCEPT ALL SELECT * FROM by_single) x;
	SELECT count(*) INTO only_single FROM (SELECT * FROM by_single EXCEPT ALL SELECT * FROM by_groups) x;
	DROP TABLE by_groups, by_single;
END $$;

-- by category (text, with NULL), with an amount, weights, a last period
SELECT * FROM compare_groups('category', 't', ', ''amount'', as_of => ''2024-06-30''');
SELECT * FROM compare_groups('category', 't', ', ''amount'', ''w'', ''2024-06-30'', ''7 days''');
-- without an amount: rffl, the third score is last-period activity
SELECT * FROM compare_groups('category', 't', ', weight_column => ''w'', as_of => ''2024-06-30''');
-- a date column, r_rfm scoring, 4 bins; refunds adjusted; by an integer
SELECT * FROM compare_groups('category', 'd', ', ''amount'', as_of => ''2024-12-31'', method => ''r_rfm'', bins => 4');
SELECT * FROM compare_groups('category', 't', ', ''amount'', as_of => ''2024-06-30'', refunds => ''adjust''');
SELECT * FROM compare_groups('store', 't', ', ''amount'', as_of => ''2024-06-30'', bins => 3');

-- Breaks are per group: a customer's scores depend on their group only.
-- The same customers in a group with ten times the amounts score the same.
CREATE TABLE scaled AS
SELECT cust, 'a' AS category, t, amount FROM gev WHERE category = 'auto'
UNION ALL
SELECT cust, 'b', t, amount * 10 FROM gev WHERE category = 'auto';
SELECT count(*) AS customers, count(*) FILTER (WHERE (a.r, a.f, a.m) IS NOT DISTINCT FROM (b.r, b.f, b.m)) AS same_scores,
	count(*) FILTER (WHERE b.monetary = a.monetary * 10) AS ten_times_monetary
FROM rfm_analyze_groups('scaled', 'cust', 'category', 't', 'amount', as_of => '2024-06-30') a
JOIN rfm_analyze_groups('scaled', 'cust', 'category', 't', 'amount', as_of => '2024-06-30') b
	ON a.group_key = 'a' AND b.group_key = 'b' AND a.customer_key IS NOT DISTINCT FROM b.customer_key;
DROP TABLE scaled;

-- as_of NULL is the latest event of the whole source, for every group, so
-- recency compares across groups
SELECT count(DISTINCT recency_days) FILTER (WHERE last_event = (SELECT max(t) FROM gev)) AS recency_of_latest,
	min(recency_days) AS min_recency
FROM rfm_analyze_groups('gev', 'cust', 'category', 't', 'amount');

-- In parallel workers too: the same rows.
CREATE TABLE serial_rows AS
SELECT * FROM rfm_analyze_groups('gev', 'cust', 'category', 't', 'amount', 'w', '2024-06-30');
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SELECT count(*) AS differ FROM (
	(SELECT * FROM serial_rows EXCEPT ALL
	 SELECT * FROM rfm_analyze_groups('gev', 'cust', 'category', 't', 'amount', 'w', '2024-06-30'))
	UNION ALL
	(SELECT * FROM rfm_analyze_groups('gev', 'cust', 'category', 't', 'amount', 'w', '2024-06-30') EXCEPT ALL
	 SELECT * FROM serial_rows)) x;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;

-- No memory wall: 300,000 events of 20,000 customers in 49 groups (as
-- many group-customers) under a 1MB bound, whatever rfm_segment.scan says.
CREATE TABLE big AS
SELECT (g::bigint * 7919) % 20000 AS cust, 'g' || (g % 49) AS category,
	'2024-01-01 00:00+00'::timestamptz + (g::bigint * 104729 % 31536000) * interval '1 second' AS t,
	((g * 31) % 20000) / 100.0 AS amount
FROM generate_series(1, 300000) g;
CREATE TEMP TABLE unbounded AS
SELECT * FROM rfm_analyze_groups('big', 'cust', 'category', 't', 'amount', as_of => '2024-12-31');
SET rfm_segment.max_memory = '1MB';
SET rfm_segment.scan = 'rows';
SELECT count(*) AS group_customers,
	(SELECT count(*) FROM (SELECT * FROM unbounded EXCEPT ALL
						   SELECT * FROM rfm_analyze_groups('big', 'cust', 'category', 't', 'amount', as_of => '2024-12-31')) x) AS differ
FROM unbounded;
RESET rfm_segment.scan;
RESET rfm_segment.max_memory;
DROP TABLE big, serial_rows;

-- Bad input: each error names the argument and says what to pass.
\set VERBOSITY default
SELECT * FROM rfm_analyze_groups('gev', 'cust', NULL, 't', 'amount');
SELECT * FROM rfm_analyze_groups('gev', 'cust', 'nope', 't', 'amount');
SELECT * FROM rfm_analyze_groups('gev', 'cust', 'category', NULL, 'amount');
SELECT * FROM rfm_analyze_groups('gev', 'cust', 'category', 'category', 'amount');
SELECT * FROM rfm_analyze_groups('gev', 'cust', 'category', 't', 'category');
SELECT * FROM rfm_analyze_groups('gev', 'cust', 'category', 't', 'amount', bins => 1);
SELECT * FROM rfm_analyze_groups('gev', 'cust', 'category', 't', 'amount', refunds => NULL);
SELECT * FROM rfm_analyze_groups('gev', 'cust', 'category', 't', rule_set => 'standard');
CREATE TABLE pev (cust int, spot point, t timestamptz, amount numeric);
INSERT INTO pev VALUES (1, '(1,1)', '2024-01-01', 1);
SELECT * FROM rfm_analyze_groups('pev', 'cust', 'spot', 't', 'amount');
\echo SQLSTATE :SQLSTATE
DROP TABLE pev;

DROP FUNCTION compare_groups(name, name, text);
DROP FUNCTION group_by_group(name, name, text);
DROP TABLE gev;
