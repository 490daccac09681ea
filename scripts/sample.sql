-- Generate a realistic order log in table rfm_sample_orders.
-- psql variables: orders (how many orders; default 100000), per_customer
-- (mean orders per customer; default 4), seed.
-- Deterministic: the same seed and size give the same rows.
--
-- Shape: customers join over 2022-2024 and order a heavy-tailed number of
-- times (most buy once or twice, a few are whales); a quarter of orders fall
-- in the November-December peak; about 3% are refunds (negative amounts)
-- and 1% have no amount (free orders); 2-3% fall after the as-of date
-- 2025-01-01 (late-arriving data a replay must ignore), most of them from
-- customers who joined in the last weeks.
\if :{?orders}
\else
\set orders 100000
\endif
\if :{?per_customer}
\else
\set per_customer 4
\endif
\if :{?seed}
\else
\set seed 0.42
\endif

SET max_parallel_workers_per_gather = 0;	-- one stream of random() values
SET client_min_messages = warning;
SELECT setseed(:seed);

DROP TABLE IF EXISTS rfm_sample_orders;
CREATE TABLE rfm_sample_orders AS
WITH customers AS (
	SELECT id AS customer_id,
		'2022-01-01 00:00+00'::timestamptz + random() * interval '1080 days' AS joined,
		-- heavy tail: most buy a few times, 5% buy about six times as often
		1 + floor(-ln(1 - random()) * (:per_customer - 1) / 1.25
				  * CASE WHEN random() < 0.05 THEN 6 ELSE 1 END)::int AS n_orders,
		exp(3 + random() * 1.5) AS basket	-- typical order value, 20 to 90
	FROM generate_series(1, greatest(1, (:orders / (:per_customer - 0.7))::bigint)) id
),
raw AS (
	SELECT c.customer_id, c.basket, c.joined,
		c.joined + CASE WHEN k = 1 THEN interval '0'
			ELSE random() * ('2025-01-10 00:00+00'::timestamptz - c.joined) END AS t,
		random() AS u, random() AS v
	FROM customers c, generate_series(1, c.n_orders) k
)
SELECT customer_id,
	CASE WHEN u < 0.25 AND t < '2025-01-01 00:00+00'	-- the November-December peak
		THEN greatest(joined,
					  make_timestamptz(extract(year FROM t AT TIME ZONE 'UTC')::int, 11, 1, 0, 0, 0, 'UTC')
					  + v * interval '61 days')
		ELSE t END AS order_time,
	CASE WHEN v < 0.01 THEN NULL
		 WHEN v < 0.04 THEN -round((basket * (0.2 + u))::numeric, 2)
		 ELSE round((basket * (0.3 + 1.4 * v))::numeric, 2) END AS amount
FROM raw
LIMIT :orders;

ANALYZE rfm_sample_orders;
