// Read a model's views as a BI client does, with node-postgres (the driver
// behind many Node dashboards), and check what arrives: bigint and numeric
// as strings (exact, as the driver should), averages and shares already
// rounded, cohort_start as a date, every view and column described.
//
//   node check-bi.mjs MODEL          (connection from PGHOST, PGPORT, ...)
import pg from 'pg';

const model = process.argv[2];
const problems = [];
const client = new pg.Client();
await client.connect();
try {
	const expect = (ok, what) => { if (!ok) problems.push(what); };
	const decimals = (v, n) => typeof v === 'string' && new RegExp(`^-?\\d+\\.\\d{${n}}$`).test(v);

	const summary = (await client.query(`SELECT * FROM ${model}_segment_summary ORDER BY segment`)).rows;
	expect(summary.length > 0, 'the segment summary is empty');
	for (const s of summary) {
		expect(typeof s.customers === 'string' && /^\d+$/.test(s.customers), `customers of ${s.segment} arrives as ${typeof s.customers} ${s.customers}`);
		expect(decimals(s.customers_pct, 1), `customers_pct of ${s.segment} is ${s.customers_pct}, not 1 decimal`);
		expect(s.revenue === null || decimals(s.revenue, 2), `revenue of ${s.segment} is ${s.revenue}`);
		expect(s.revenue_pct === null || decimals(s.revenue_pct, 1), `revenue_pct of ${s.segment} is ${s.revenue_pct}`);
		expect(decimals(s.avg_recency_days, 1) || (s.segment === '(refunds only)' && s.avg_recency_days === null),
			`avg_recency_days of ${s.segment} is ${s.avg_recency_days}`);
		expect(s.avg_monetary === null || decimals(s.avg_monetary, 2), `avg_monetary of ${s.segment} is ${s.avg_monetary}`);
		expect(typeof s.description === 'string' && s.description.length > 0, `${s.segment} has no description`);
		expect(s.as_of instanceof Date, `as_of arrives as ${typeof s.as_of}`);
	}
	const share = summary.reduce((a, s) => a + Number(s.customers_pct), 0);
	expect(Math.abs(share - 100) < 0.05 * summary.length, `customer shares add up to ${share}`);

	const retention = (await client.query(`SELECT * FROM ${model}_retention ORDER BY cohort_start, period_offset LIMIT 5`)).rows;
	expect(retention.length > 0, 'the retention view is empty');
	for (const r of retention) {
		expect(r.cohort_start instanceof Date, `cohort_start arrives as ${typeof r.cohort_start}`);
		expect(typeof r.period_offset === 'number', `period_offset arrives as ${typeof r.period_offset}`);
		expect(decimals(r.retention_pct, 1), `retention_pct is ${r.retention_pct}`);
	}
	const clusters = (await client.query(`SELECT * FROM ${model}_cluster_profiles ORDER BY cluster`)).rows;
	expect(clusters.length > 1, 'the cluster profiles are empty');
	for (const c of clusters) {
		expect(typeof c.cluster === 'number', `cluster arrives as ${typeof c.cluster}`);
		expect(typeof c.customers === 'string' && /^\d+$/.test(c.customers), `customers of cluster ${c.cluster} is ${c.customers}`);
		expect(decimals(c.customers_pct, 1) && decimals(c.avg_recency_days, 1) && decimals(c.avg_monetary, 2),
			`cluster ${c.cluster}: shares and averages not rounded (${c.customers_pct}, ${c.avg_recency_days}, ${c.avg_monetary})`);
		expect(typeof c.dominant_segment === 'string' && typeof c.description === 'string' && c.description.length > 0,
			`cluster ${c.cluster} reads "${c.description}", dominant segment ${c.dominant_segment}`);
		expect(Array.isArray(c.distinctive) && c.distinctive.length > 0 && c.distinctive.every((f) => typeof f === 'string'),
			`the distinctive features of cluster ${c.cluster} arrive as ${JSON.stringify(c.distinctive)}`);
	}

	// what \d+ and a BI client's schema browser show
	const undescribed = (await client.query(`
		SELECT c.relname, a.attname FROM pg_class c
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		WHERE c.relkind = 'm' AND c.relname LIKE $1 AND col_description(c.oid, a.attnum) IS NULL`, [`${model}\\_%`])).rows;
	expect(undescribed.length === 0, `columns without a comment: ${undescribed.map((u) => `${u.relname}.${u.attname}`).join(', ')}`);
	console.log(`${summary.length} segments, ${retention.length} retention cells and ${clusters.length} cluster profiles read with node-postgres: ` +
		'counts and sums as strings, shares and averages rounded, dates as dates, every column described');
} finally {
	await client.end();
}
if (problems.length > 0) {
	for (const p of problems) console.error(`FAILED: ${p}`);
	process.exit(1);
}
