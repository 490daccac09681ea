-- Order-independent outputs (issue 19, item 6): the same rows in another
-- physical order give the same bytes from the functions and model views
-- whose output aggregates floats (float weights, averages, shares), so
-- that a refresh on Citus or in parallel workers, where the order of rows
-- varies, changes nothing.
\set VERBOSITY terse
SET TimeZone = 'UTC';

CREATE TABLE ord_a (customer int, at timestamptz, day date, amount numeric, w float8, category text, hour int);
INSERT INTO ord_a
SELECT (g * 7919) % 700,
	'2023-01-01 00:00+00'::timestamptz + ((g::bigint * 104729) % 63072000) * interval '1 second',
	('2023-01-01'::date + (g * 37) % 730),
	CASE WHEN g % 11 = 0 THEN NULL WHEN g % 13 = 0 THEN -((g % 300) / 4.0) ELSE (g % 400) / 4.0 END,
	-- weights whose float sum depends on the order of addition
	CASE g % 3 WHEN 0 THEN 0.1 WHEN 1 THEN 1e-7 * g ELSE 1e6 / g END,
	(ARRAY['books', 'music', 'video', 'games'])[1 + g % 4],
	g % 24
FROM generate_series(1, 12000) g;
-- the same rows, in an order unrelated to the first
CREATE TABLE ord_b AS SELECT * FROM ord_a ORDER BY md5(customer::text || at::text || w::text);
ANALYZE ord_a, ord_b;

-- md5 of a query's rows as text, over each table (named %s), and whether
-- they are the same bytes
CREATE FUNCTION ord_same(query text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	a text;
	b text;
BEGIN
	EXECUTE format('SELECT md5(string_agg(q_row::text, E''\n'' ORDER BY q_row::text)) FROM (%s) q_row', format(query, 'ord_a')) INTO a;
	EXECUTE format('SELECT md5(string_agg(q_row::text, E''\n'' ORDER BY q_row::text)) FROM (%s) q_row', format(query, 'ord_b')) INTO b;
	RETURN a IS NOT DISTINCT FROM b AND a IS NOT NULL;
END $$;

SELECT q.name, ord_same(q.query) AS same_bytes FROM (VALUES
	('rfm_metrics, float weights', $$SELECT customer, (rfm_metrics(at, amount, w, '2025-01-01', '30 days')).* FROM %s GROUP BY customer$$),
	('rfm_analyze, float weights', $$SELECT * FROM rfm_analyze('%s', 'customer', 'at', 'amount', 'w', '2025-01-01')$$),
	('rfm_snapshots', $$SELECT * FROM rfm_snapshots('%s', 'customer', 'at', 'amount', as_of => rfm_period_ends('2024-01-01', '2024-12-01', 'month', 'UTC'))$$),
	('rfm_retention', $$SELECT * FROM rfm_retention('%s', 'customer', 'at', 'month')$$),
	-- shares of counts, and of float weights (summed in fixed point)
	('rfm_shares', $$SELECT customer, rfm_shares(category, ARRAY['books', 'music', 'video']), rfm_shares(hour, 24) FROM %s GROUP BY customer$$),
	('rfm_shares, float weights', $$SELECT customer, rfm_shares(category, ARRAY['books', 'music', 'video'], w), rfm_shares(hour, 24, w) FROM %s GROUP BY customer$$),
	('rfm_clv_summary', $$SELECT * FROM rfm_clv_summary('%s', 'customer', 'day', 'amount', '2024-06-30', '2024-12-31')$$),
	('rfm_category_transitions', $$SELECT * FROM rfm_category_transitions('%s', 'customer', 'at', 'category', '2025-01-01')$$)
) q(name, query) ORDER BY q.name;

-- and in parallel workers, whose partial results are combined in any order
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SELECT ord_same($$SELECT customer, (rfm_metrics(at, amount, w, '2025-01-01', '30 days')).* FROM %s GROUP BY customer$$) AS metrics_parallel,
	ord_same($$SELECT * FROM rfm_analyze('%s', 'customer', 'at', 'amount', 'w', '2025-01-01')$$) AS analyze_parallel,
	-- one group: every worker's partial state is combined
	ord_same($$SELECT rfm_shares(category, ARRAY['books', 'music', 'video'], w), rfm_shares(hour, 24, w) FROM %s$$) AS shares_parallel;
EXPLAIN (COSTS OFF) SELECT rfm_shares(hour, 24, w) FROM ord_a;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;

-- the views of a model over each table, view for view
CREATE TABLE ord_views AS
SELECT unnest(rfm_create_model('ord_ma', 'ord_a', 'customer', 'at', 'amount', as_of => '2025-01-01', clusters => 3)) AS a,
	unnest(rfm_create_model('ord_mb', 'ord_b', 'customer', 'at', 'amount', as_of => '2025-01-01', clusters => 3)) AS b;
CREATE FUNCTION ord_view_md5(view text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	result text;
BEGIN
	EXECUTE format('SELECT md5(string_agg(q_row::text, E''\n'' ORDER BY q_row::text)) FROM %I q_row', view) INTO result;
	RETURN result;
END $$;
SELECT substr(a, length('ord_ma_') + 1) AS view, ord_view_md5(a) = ord_view_md5(b) AS same_bytes
FROM ord_views ORDER BY 1;
SELECT rfm_drop_model('ord_ma');
SELECT rfm_drop_model('ord_mb');

DROP FUNCTION ord_same(text), ord_view_md5(text);
DROP TABLE ord_a, ord_b, ord_views;
