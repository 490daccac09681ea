// The events a benchmark exported to CSV (customer_id, order_time, amount),
// loaded into an in-memory DuckDB table "events"; and a query timed REPS
// times after a warm-up.  Shared by run.mjs and clv_summary.mjs.
import { DuckDBInstance } from '@duckdb/node-api';

export async function loadEvents(csv) {
  const instance = await DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  const t = performance.now();
  await con.run(`CREATE TABLE events AS SELECT * FROM read_csv('${csv.replace(/'/g, "''")}',
    header = true, columns = {'customer_id': 'BIGINT', 'order_time': 'TIMESTAMPTZ', 'amount': 'DECIMAL(18,2)'})`);
  return { con, loadMs: performance.now() - t };
}

// times in ms, and the first row of the last run
export async function timeQuery(con, sql, reps) {
  await con.runAndReadAll(sql);            // warm-up
  const times = [];
  let row = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    const result = await con.runAndReadAll(sql);
    times.push(performance.now() - t);
    row = result.getRows()[0];
  }
  const threads = (await con.runAndReadAll("SELECT current_setting('threads')")).getRows()[0][0];
  return { times, row, threads: Number(threads) };
}
