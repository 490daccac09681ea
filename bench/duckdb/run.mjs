// The plain RFM pipeline (metrics, NTILE scores, CASE segments) in DuckDB,
// on the events bench/run exported to CSV.  Prints one JSON line:
// {"load_ms": ..., "times_ms": [...], "customers": ..., "threads": ...}
//   node run.mjs EVENTS_CSV AS_OF REPS
import { loadEvents, timeQuery } from './events.mjs';

const [csv, asOf, repsText] = process.argv.slice(2);
const reps = Number(repsText || 5);
const { con, loadMs } = await loadEvents(csv);

const pipeline = `
WITH m AS (
  SELECT customer_id,
    epoch(TIMESTAMPTZ '${asOf}' - max(order_time)) / 86400 AS recency_days,
    count(*) AS frequency, sum(amount) AS monetary
  FROM events WHERE order_time <= TIMESTAMPTZ '${asOf}' GROUP BY customer_id
), s AS (
  SELECT *, ntile(5) OVER (ORDER BY recency_days DESC) AS r, ntile(5) OVER (ORDER BY frequency) AS f,
    ntile(5) OVER (ORDER BY monetary NULLS FIRST) AS m
  FROM m
)
SELECT count(*) FROM (
  SELECT customer_id, recency_days, frequency, monetary, r, f, m,
    CASE WHEN r = 5 AND f = 5 AND m = 5 THEN 'Champions'
         WHEN r >= 3 AND f >= 3 AND m >= 2 THEN 'Potential Loyalist'
         WHEN r BETWEEN 2 AND 4 AND f BETWEEN 2 AND 4 AND m BETWEEN 2 AND 4 THEN 'Loyal Customers'
         WHEN r BETWEEN 3 AND 4 AND f <= 3 AND m >= 3 THEN 'Promising'
         WHEN r >= 4 AND f <= 3 THEN 'New Customers'
         WHEN r <= 2 AND f BETWEEN 3 AND 4 AND m >= 4 THEN 'Can''t Lose Them'
         WHEN r <= 2 AND f >= 2 AND m >= 4 THEN 'At Risk'
         WHEN r <= 3 AND f >= 3 AND m >= 3 THEN 'Need Attention'
         WHEN r BETWEEN 2 AND 3 AND f <= 3 AND m <= 4 THEN 'About To Sleep'
         WHEN r = 1 THEN 'Lost' ELSE 'Others' END AS segment
  FROM s) x`;

const { times, row, threads } = await timeQuery(con, pipeline, reps);
console.log(JSON.stringify({ load_ms: loadMs, times_ms: times, customers: Number(row[0]), threads }));
