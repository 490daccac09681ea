-- IMMUTABLE is a promise: the IMMUTABLE functions return the same values
-- under four TimeZone and two DateStyle settings (compared as values, not
-- as their displayed text), and the state's text form is the same text.
\set VERBOSITY terse

CREATE TABLE vol_events (customer int, at timestamptz, day date, amount numeric, w float8);
INSERT INTO vol_events
SELECT g % 7, '2024-03-30 21:00+00'::timestamptz + g * interval '3 hours 7 minutes', '2024-03-01'::date + g % 40,
	g % 13 + 0.25, (g % 4) * 0.1
FROM generate_series(1, 200) g;

CREATE FUNCTION vol_collect(setting text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	-- values are rendered under one fixed setting below, so only the values
	-- computed here can differ
	CREATE TEMP TABLE IF NOT EXISTS vol_values (setting text, what text, m rfm_metrics, md rfm_metrics_date,
		state rfm_metrics_state, label text, start date, breaks float8[], score int, seg text,
		model rfm_kmeans_model, cluster int, hmodel rfm_hclust_model, clv float8[]);
	INSERT INTO vol_values (setting, what, m)
	SELECT setting, 'rfm_metrics ' || customer, rfm_metrics(at, amount, w, '2024-04-05 12:00+00', '2 days')
	FROM vol_events GROUP BY customer;
	INSERT INTO vol_values (setting, what, md)
	SELECT setting, 'rfm_metrics date ' || customer, rfm_metrics(day, amount, w::numeric, '2024-04-05', '2 days')
	FROM vol_events GROUP BY customer;
	INSERT INTO vol_values (setting, what, state)
	SELECT setting, 'state ' || customer, rfm_metrics_trans(NULL, min(at), sum(amount), '2024-04-05 12:00+00')
	FROM vol_events GROUP BY customer;
	INSERT INTO vol_values (setting, what, label, start)
	SELECT setting, 'cohort ' || g || ' ' || z || ' ' || extract(epoch FROM at), rfm_cohort(at, g, z), rfm_cohort_start(at, g, z)
	FROM vol_events, unnest(ARRAY['day', 'week', 'month', 'quarter', 'year']) g,
		unnest(ARRAY['UTC', 'Europe/Berlin', 'Asia/Kolkata', 'America/Los_Angeles']) z
	WHERE customer = 1;
	INSERT INTO vol_values (setting, what, label, start)
	SELECT setting, 'cohort date ' || (day - DATE '2000-01-01'), rfm_cohort(day, 'week'), rfm_cohort_start(day, 'month') FROM vol_events;
	INSERT INTO vol_values (setting, what, breaks)
	SELECT setting, 'breaks', rfm_breaks(amount::float8, 5, 'r_rfm') FROM vol_events;
	INSERT INTO vol_values (setting, what, score, seg)
	SELECT setting, 'score ' || amount, rfm_score(amount::float8, '{3,6,9,12}'),
		rfm_segment_standard(rfm_score(amount::float8, '{3,6,9,12}'), 3, 4) FROM vol_events;
	INSERT INTO vol_values (setting, what, model)
	SELECT setting, 'kmeans', rfm_kmeans(ARRAY[amount, w, extract(epoch FROM at)]::float8[], 3, 'seed=5') FROM vol_events;
	INSERT INTO vol_values (setting, what, cluster)
	SELECT setting, 'cluster ' || g, rfm_cluster(ARRAY[g % 13, 0.1, 1711900000 + g * 3600]::float8[],
		(SELECT model FROM vol_values WHERE what = 'kmeans' AND vol_values.setting = vol_collect.setting))
	FROM generate_series(1, 50) g;
	-- 0.3: prepared features, trees, profiles, shares
	INSERT INTO vol_values (setting, what, model)
	SELECT setting, 'kmeans prepared', rfm_kmeans(ARRAY[amount, w, extract(epoch FROM at)]::float8[], 3, 'seed=5',
		ARRAY['monetary: clip=0.9 log1p', 'w: rank', 'at: robust']) FROM vol_events;
	INSERT INTO vol_values (setting, what, hmodel)
	SELECT setting, 'hclust', rfm_hclust(ARRAY[amount, w, extract(epoch FROM at)]::float8[], '',
		ARRAY['monetary: log1p', 'w: rank', 'at']) FROM vol_events;
	INSERT INTO vol_values (setting, what, cluster)
	SELECT setting, 'hclust cluster ' || g, rfm_cluster(ARRAY[g % 13, 0.1, 1711900000 + g * 3600]::float8[],
		(SELECT hmodel FROM vol_values WHERE what = 'hclust' AND vol_values.setting = vol_collect.setting), 3)
	FROM generate_series(1, 50) g;
	INSERT INTO vol_values (setting, what, label)
	SELECT setting, 'profile ' || p.cluster, p::text
	FROM rfm_cluster_profile((SELECT hmodel FROM vol_values WHERE what = 'hclust' AND vol_values.setting = vol_collect.setting), 3) p;
	INSERT INTO vol_values (setting, what, label)
	SELECT setting, 'tree cut scan', (SELECT array_agg(t)::text FROM rfm_hclust_tree(m) t) ||
		(SELECT array_agg(c)::text FROM rfm_hclust_cut(m, 3) c) || (SELECT array_agg(s)::text FROM rfm_hclust_scan(m, 2, 4) s)
	FROM (SELECT hmodel AS m FROM vol_values WHERE what = 'hclust' AND vol_values.setting = vol_collect.setting) h;
	INSERT INTO vol_values (setting, what, breaks)
	SELECT setting, 'shares ' || customer, rfm_shares(amount::text, ARRAY['1.25', '2.25', '3.25'], w) || rfm_shares(customer, 7)
	FROM vol_events GROUP BY customer;
	-- the CLV fits (to a loose tolerance: what matters here is that they do
	-- not depend on the settings) and the scores of models typed by hand
	INSERT INTO vol_values (setting, what, clv)
	SELECT setting, 'clv fits', ARRAY[(bg).r, (bg).alpha, (bg).a, (bg).b, (bg).ll, (pn).r, (pn).alpha, (pn).s,
		(pn).beta, (pn).ll, (gg).p, (gg).q, (gg).v, (gg).ll]
	FROM (SELECT rfm_bgnbd_fit(x, t_x, t_cal, 'tol=1') AS bg, rfm_pnbd_fit(x, t_x, t_cal, 'tol=1') AS pn,
			  rfm_gg_fit(x, (10 + x * i % 7)::numeric) AS gg
		  FROM generate_series(1, 60) i, LATERAL (SELECT i % 5 AS x, (i % 5) * (2.0 + i % 3) AS t_x, 20.0 + i % 7 AS t_cal) c) f;
	INSERT INTO vol_values (setting, what, clv)
	SELECT setting, 'clv ' || g, ARRAY[rfm_p_alive(bg, g % 5, (g % 5) * 2, 20), rfm_p_alive(pn, g % 5, (g % 5) * 2, 20),
		rfm_expected_purchases(bg, 10, g % 5, (g % 5) * 2, 20), rfm_expected_purchases(pn, 10, g % 5, (g % 5) * 2, 20),
		rfm_expected_purchases_new(bg, g), rfm_expected_purchases_new(pn, g), rfm_expected_spend(gg, g % 5, g + 0.5),
		rfm_clv(bg, gg, g % 5, (g % 5) * 2, 20, g + 0.5, 26, 0.002), rfm_clv(pn, gg, g % 5, (g % 5) * 2, 20, NULL, 26)]
	FROM (SELECT ROW(0.24, 4.4, 0.79, 2.4, 0, 0, 0, true, 0, 0, 0)::rfm_bgnbd_model AS bg,
			  ROW(0.55, 10.6, 0.61, 11.7, 0, 0, 0, true, 0, 0, 0)::rfm_pnbd_model AS pn,
			  ROW(6.25, 3.74, 15.44, 0, 0, 0, 0, true, 0, 0, 0)::rfm_gg_model AS gg) m,
		generate_series(1, 5) g;
END $$;

DO $$
DECLARE
	z text;
	d text;
BEGIN
	FOREACH z IN ARRAY ARRAY['UTC', 'Europe/Berlin', 'America/Los_Angeles', 'Asia/Kolkata'] LOOP
		FOREACH d IN ARRAY ARRAY['ISO, MDY', 'SQL, DMY'] LOOP
			PERFORM set_config('TimeZone', z, true);
			PERFORM set_config('DateStyle', d, true);
			PERFORM vol_collect(z || ' / ' || d);
		END LOOP;
	END LOOP;
END $$;

-- rendered under one setting: each computed value must be the same in all 8
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, MDY';
SELECT (SELECT count(DISTINCT setting) FROM vol_values) AS settings, count(*) AS values_checked,
	count(*) FILTER (WHERE n > 1) AS values_that_differ
FROM (SELECT what, count(DISTINCT (m, md, state::text, label, start, breaks, score, seg, model, cluster, hmodel, clv)::text) AS n
	  FROM vol_values GROUP BY what) s;
SELECT what FROM (SELECT what, count(DISTINCT (m, md, state::text, label, start, breaks, score, seg, model, cluster, hmodel, clv)::text) AS n
				  FROM vol_values GROUP BY what) s WHERE n > 1 ORDER BY 1 LIMIT 5;

-- the state's text form is the same text in every setting
DO $$
DECLARE
	z text;
	t text[] := '{}';
BEGIN
	FOREACH z IN ARRAY ARRAY['UTC', 'Asia/Kolkata'] LOOP
		PERFORM set_config('TimeZone', z, true);
		PERFORM set_config('DateStyle', CASE z WHEN 'UTC' THEN 'ISO, MDY' ELSE 'German, DMY' END, true);
		t := t || (SELECT string_agg(rfm_metrics_trans(NULL, at, amount, '2024-04-05 12:00+00')::text, ';' ORDER BY at)
				   FROM vol_events);
	END LOOP;
	RAISE NOTICE 'state text identical across settings: %', t[1] = t[2];
END $$;

-- and the functions declared IMMUTABLE are exactly those expected
SELECT count(*) AS immutable_functions FROM pg_proc p
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'rfm_segment'
WHERE p.provolatile = 'i';

DROP FUNCTION vol_collect(text);
DROP TABLE vol_events;
