// The lifetime-value summary per customer (x, t_x, t_cal, mean spend, the
// holdout's purchases and spend; a purchase is a distinct day in UTC) in
// DuckDB, on the events bench/clv-summary exported to CSV, written as
// bench/clv-summary writes it for PostgreSQL.  Prints one JSON line:
// {"load_ms": ..., "times_ms": [...], "totals": [...], "threads": ...}
//   node clv_summary.mjs EVENTS_CSV CALIBRATION_END HOLDOUT_END REPS
import { loadEvents, timeQuery } from './events.mjs';

const [csv, calEnd, holdEnd, repsText] = process.argv.slice(2);
const reps = Number(repsText || 3);
const { con, loadMs } = await loadEvents(csv);
await con.run("SET TimeZone = 'UTC'");

const cal = `DATE '${calEnd}'`;
const summary = `
WITH d AS (
  SELECT customer_id, CAST(order_time AS DATE) AS day, sum(amount) AS spend, count(amount) AS amounts
  FROM events WHERE order_time IS NOT NULL AND CAST(order_time AS DATE) <= DATE '${holdEnd}'
  GROUP BY 1, 2
), c AS (
  SELECT *, min(day) OVER (PARTITION BY customer_id) AS first FROM d
), s AS (
  SELECT customer_id,
    count(*) FILTER (WHERE day <= ${cal}) - 1 AS x,
    (max(day) FILTER (WHERE day <= ${cal}) - first) / 7.0 AS t_x,
    (${cal} - first) / 7.0 AS t_cal,
    sum(spend) FILTER (WHERE day > first AND day <= ${cal} AND amounts > 0)
      / nullif(count(*) FILTER (WHERE day > first AND day <= ${cal} AND amounts > 0), 0) AS mean_spend,
    count(*) FILTER (WHERE day > ${cal}) AS x_holdout,
    CASE WHEN count(*) FILTER (WHERE day > ${cal}) = 0 THEN 0
         ELSE sum(spend) FILTER (WHERE day > ${cal} AND amounts > 0) END AS spend_holdout
  FROM c WHERE first <= ${cal} GROUP BY customer_id, first
)
SELECT count(*), sum(x), sum(x_holdout), sum(spend_holdout), sum(mean_spend), sum(t_x), sum(t_cal) FROM s`;

const { times, row, threads } = await timeQuery(con, summary, reps);
console.log(JSON.stringify({ load_ms: loadMs, times_ms: times, totals: row.map((v) => String(v)), threads }));
