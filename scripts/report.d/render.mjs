// Render a model's report data (the JSON report.sql prints) into one
// self-contained HTML page: Vega, Vega-Lite and vega-embed are inlined, so
// the page needs no network when it is opened.
//
//   node render.mjs DATA.json > REPORT.html
//
// The charts are Vega-Lite specifications; the numbers also appear in plain
// tables (with data-* attributes the headless check reads), so the page
// says the same thing to a person who reads numbers and to one who reads
// pictures.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const data = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const library = (pkg, file) => readFileSync(join(here, 'node_modules', pkg, 'build', file), 'utf8');

// text for HTML, and JSON or JavaScript that may sit inside <script>
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const inScript = (s) => s.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
const num = (v, digits) => (v === null || v === undefined ? '' : Number(v).toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }));
const day = (t) => (t ? String(t).slice(0, 10) : '');

const model = data.model;
const money = 'monetary';
const charts = [];

// one Vega-Lite chart: a titled container, and its specification
function chart(id, title, note, spec) {
	charts.push({ id, spec: { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', ...spec } });
	return `<figure><figcaption><b>${esc(title)}</b>${note ? ` <span class="note">${esc(note)}</span>` : ''}</figcaption>` +
		`<div class="chart" id="chart-${id}" data-chart="${id}"></div></figure>`;
}

const sections = [];

// segments: the table a marketer reads, and the bars
{
	const rows = data.summary.map((s) => `<tr data-segment="${esc(s.segment)}" data-customers="${s.customers}" data-revenue="${s.revenue ?? ''}">` +
		`<td>${esc(s.segment)}</td><td class="n">${num(s.customers, 0)}</td><td class="n">${num(s.customers_pct, 1)}%</td>` +
		`<td class="n">${num(s.revenue, 2)}</td><td class="n">${s.revenue_pct === null ? '' : num(s.revenue_pct, 1) + '%'}</td>` +
		`<td class="n">${num(s.avg_recency_days, 1)}</td><td class="n">${num(s.avg_frequency, 1)}</td>` +
		`<td class="n">${num(s.avg_monetary, 2)}</td><td>${esc(s.description)}</td><td>${esc(s.action)}</td></tr>`).join('\n');
	const total = `<tr class="total" data-segment="(all)" data-customers="${data.totals.customers ?? 0}" data-revenue="${data.totals.revenue ?? ''}">` +
		`<td>All customers</td><td class="n">${num(data.totals.customers, 0)}</td><td class="n">100%</td>` +
		`<td class="n">${num(data.totals.revenue, 2)}</td><td class="n">100%</td><td colspan="5"></td></tr>`;
	// the charts get numbers; the table above keeps money exact, as text
	const values = data.summary.map((s) => ({ ...s, revenue: s.revenue === null ? null : Number(s.revenue) }));
	const bars = (field, title) => ({
		data: { values }, mark: { type: 'bar', tooltip: true }, width: 360, height: { step: 22 },
		encoding: {
			y: { field: 'segment', type: 'nominal', sort: { field: 'revenue', order: 'descending' }, title: null },
			x: { field, type: 'quantitative', title },
			color: { field: 'segment', type: 'nominal', legend: null },
		},
	});
	sections.push(`<section id="segments"><h2>Segments</h2>
<p>Who the customers are, as of ${esc(day(data.as_of))}, under rule set <b>${esc(model.rule_set ?? (model.amount_column ? 'standard' : 'rffl'))}</b>.
Shares are of all customers and of all revenue; averages are per customer.</p>
<table id="segment-table"><thead><tr><th>segment</th><th>customers</th><th>share</th><th>revenue</th><th>share</th>
<th>avg recency, days</th><th>avg orders</th><th>avg ${money}</th><th>what it means</th><th>what to do</th></tr></thead>
<tbody>${rows}</tbody><tfoot>${total}</tfoot></table>
<div class="row">${chart('segment-customers', 'Customers by segment', '', bars('customers', 'customers'))}
${chart('segment-revenue', 'Revenue by segment', '', bars('revenue', 'revenue'))}</div></section>`);
}

// the R x F heat map, mean monetary per cell, as R's rfm_heatmap
sections.push(`<section id="scores"><h2>Recency and frequency scores</h2>
<p>Each cell holds the customers with that recency score (R, 5 = most recent) and frequency score (F);
its colour is their mean ${money}, the number in it how many they are.</p>
${chart('heatmap', 'Mean monetary by R and F score', '', {
	data: { values: data.heatmap }, width: 360, height: 300,
	encoding: {
		x: { field: 'f', type: 'ordinal', title: 'frequency score' },
		y: { field: 'r', type: 'ordinal', title: 'recency score', sort: 'descending' },
	},
	layer: [
		{ mark: { type: 'rect', tooltip: true }, encoding: { color: { field: 'avg_monetary', type: 'quantitative', title: `mean ${money}`, scale: { scheme: 'blues' } } } },
		{ mark: { type: 'text', fontSize: 11 }, encoding: { text: { field: 'customers', type: 'quantitative' } } },
	],
})}</section>`);

// distributions of the three metrics
const histogram = (values, x, title, sorted) => ({
	data: { values }, mark: { type: 'bar', tooltip: true }, width: 260, height: 180,
	encoding: {
		x: sorted ? { field: x, type: 'ordinal', title, sort: { field: 'order' } } :
			{ field: x, type: 'ordinal', title, sort: null, axis: { labelAngle: -45 } },
		y: { field: 'customers', type: 'quantitative' },
	},
});
const ranged = (rows) => rows.map((r) => ({ ...r, range: `${Math.round(r.from)}–${Math.round(r.to)}` }));
sections.push(`<section id="distributions"><h2>Recency, frequency and monetary</h2>
<p>How the customers spread over each metric. Monetary runs from its 1st to its 99th percentile, the tails
counted in the end bars; the most frequent 1% of customers share the last frequency bar.</p>
<div class="row">${chart('recency', 'Recency, days since the last order', '', histogram(ranged(data.recency), 'range', 'days'))}
${chart('frequency', 'Orders per customer', '', histogram(data.frequency, 'frequency', 'orders', true))}
${chart('monetary', 'Monetary per customer', '', histogram(ranged(data.monetary), 'range', money))}</div></section>`);

// retention heat map, and its numbers
{
	const cohorts = [...new Map(data.retention.map((c) => [c.cohort, c.cohort_start])).entries()];
	const offsets = Math.max(0, ...data.retention.map((c) => c.period_offset)) + 1;
	const cell = new Map(data.retention.map((c) => [`${c.cohort}/${c.period_offset}`, c]));
	const rows = cohorts.map(([cohort]) => {
		const size = cell.get(`${cohort}/0`)?.cohort_size ?? '';
		const tds = Array.from({ length: offsets }, (_, k) => {
			const c = cell.get(`${cohort}/${k}`);
			return c ? `<td class="n" data-cohort="${esc(cohort)}" data-offset="${k}" data-active="${c.active}" data-rate="${c.rate}">${num(100 * c.rate, 1)}%</td>` : '<td></td>';
		}).join('');
		return `<tr><td>${esc(cohort)}</td><td class="n">${size}</td>${tds}</tr>`;
	}).join('\n');
	const grain = model.grain;
	sections.push(`<section id="retention"><h2>Retention by cohort</h2>
<p>Customers are grouped by the ${esc(grain)} of their first order (the cohort); each cell is the share of a cohort
that ordered again ${esc(grain)}s later.</p>
${chart('retention', `Share of each cohort active, by ${grain}s since the first order`, '', {
	data: { values: data.retention.map((c) => ({ ...c, pct: Math.round(1000 * c.rate) / 10 })) },
	width: { step: Math.max(14, Math.min(40, Math.floor(720 / Math.max(1, offsets)))) }, height: { step: 18 },
	encoding: {
		x: { field: 'period_offset', type: 'ordinal', title: `${grain}s since the first order` },
		y: { field: 'cohort', type: 'ordinal', title: 'cohort', sort: { field: 'cohort_start' } },
	},
	layer: [
		{ mark: { type: 'rect', tooltip: true }, encoding: { color: { field: 'rate', type: 'quantitative', title: 'active', scale: { scheme: 'greens', domain: [0, 1] }, legend: { format: '.0%' } } } },
		{ mark: { type: 'text', fontSize: 9 }, encoding: { text: { field: 'pct', type: 'quantitative' } } },
	],
})}
<details><summary>The numbers</summary><table id="retention-table"><thead><tr><th>cohort</th><th>customers</th>
${Array.from({ length: offsets }, (_, k) => `<th>${k}</th>`).join('')}</tr></thead><tbody>${rows}</tbody></table></details></section>`);
}

// where last period's segments went
if (data.migration.rows.length > 0) {
	const rows = data.migration.rows;
	sections.push(`<section id="migration"><h2>Segment migration</h2>
<p>Customers by their segment on ${esc(day(data.migration.from))} (rows; <i>(new)</i>: not yet a customer) and on
${esc(day(data.migration.to))} (columns).</p>
${chart('migration', 'Customers moving between segments', '', {
	data: { values: rows }, width: { step: 44 }, height: { step: 22 },
	encoding: {
		x: { field: 'to_segment', type: 'nominal', title: `segment on ${day(data.migration.to)}`, axis: { labelAngle: -40 } },
		y: { field: 'from_segment', type: 'nominal', title: `segment on ${day(data.migration.from)}` },
	},
	layer: [
		{ mark: { type: 'rect', tooltip: true }, encoding: { color: { field: 'customers', type: 'quantitative', scale: { scheme: 'oranges' } } } },
		{ mark: { type: 'text', fontSize: 10 }, encoding: { text: { field: 'customers', type: 'quantitative' } } },
	],
})}</section>`);
}

// clusters, when the model has them, with what each is in words
if (data.clusters.length > 0) {
	const words = new Map((data.profiles ?? []).map((p) => [p.cluster, p.description]));
	const rows = data.clusters.map((c) => `<tr data-cluster="${c.cluster}" data-customers="${c.customers}"><td>${c.cluster}</td>` +
		`<td class="n">${num(c.customers, 0)}</td><td class="n">${num(c.share_pct, 1)}%</td><td class="n">${num(c.revenue_share_pct, 1)}%</td>` +
		`<td class="n">${num(c.recency_days, 1)}</td><td class="n">${num(c.frequency, 1)}</td><td class="n">${num(c.monetary, 2)}</td>` +
		`<td>${esc(c.dominant_segment)}</td><td>${esc(words.get(c.cluster) ?? '')}</td></tr>`).join('\n');
	const method = model.cluster_method === 'hclust' ? "Ward's hierarchical clustering" : 'k-means';
	const z = data.clusters.flatMap((c) => [['recency', c.z_recency], ['frequency', c.z_frequency], ['monetary', c.z_monetary]]
		.map(([feature, value]) => ({ cluster: `cluster ${c.cluster}`, feature, z: value })));
	sections.push(`<section id="clusters"><h2>Smart segments (${esc(method)})</h2>
<p>Clusters found by ${esc(method)} in ${esc((model.features ?? ['recency', 'frequency', 'monetary']).join(', '))}. The bars show how far
each cluster's centre lies from all customers in recency, frequency and monetary, in standard deviations.</p>
<table id="cluster-table"><thead><tr><th>cluster</th><th>customers</th><th>share</th><th>revenue share</th>
<th>recency, days</th><th>orders</th><th>${money}</th><th>mostly</th><th>in words</th></tr></thead><tbody>${rows}</tbody></table>
${chart('clusters', 'Cluster centres against all customers (z-scores)', '', {
	data: { values: z }, mark: { type: 'bar', tooltip: true }, width: { step: 18 }, height: 180,
	encoding: {
		x: { field: 'feature', type: 'nominal', title: null },
		xOffset: { field: 'cluster' },
		y: { field: 'z', type: 'quantitative', title: 'z-score' },
		color: { field: 'cluster', type: 'nominal' },
	},
})}</section>`);
}

// lifetime value, when the model has it: per segment, and whether the
// model predicts, on a holdout
if (data.clv) {
	const clv = data.clv;
	const unit = clv.unit ?? 'week';
	const rows = clv.segments.map((g) => `<tr data-segment="${esc(g.segment)}" data-customers="${g.customers}" data-clv="${g.clv ?? ''}">` +
		`<td>${esc(g.segment)}</td><td class="n">${num(g.customers, 0)}</td><td class="n">${num(g.avg_p_alive, 3)}</td>` +
		`<td class="n">${num(g.expected_purchases, 1)}</td><td class="n">${num(g.clv, 2)}</td><td class="n">${g.clv_pct === null ? '' : num(g.clv_pct, 1) + '%'}</td></tr>`).join('\n');
	const total = `<tr class="total" data-segment="(all)" data-customers="${clv.customers}" data-clv="${clv.clv ?? ''}"><td>All customers</td>` +
		`<td class="n">${num(clv.customers, 0)}</td><td class="n"></td><td class="n"></td><td class="n">${num(clv.clv, 2)}</td><td class="n">100%</td></tr>`;
	const warn = clv.converged ? '' : '<p class="warn"><b>The fit did not converge</b>: the data show too little difference between customers ' +
		'for the model (for example, nobody seems to leave). Read these numbers with care.</p>';
	const h = clv.holdout;
	let holdout = '';
	if (h) {
		const points = h.rows.filter((r) => r.x !== null).flatMap((r) => [
			{ label: r.label, x: r.x, kind: 'actual', purchases: r.actual },
			{ label: r.label, x: r.x, kind: 'predicted', purchases: r.predicted }]);
		const hrows = h.rows.map((r) => `<tr data-x="${r.label}"><td>${esc(r.label)}</td><td class="n">${num(r.customers, 0)}</td>` +
			`<td class="n">${num(r.actual, 3)}</td><td class="n">${num(r.predicted, 3)}</td></tr>`).join('\n');
		holdout = `<h3>Does the model predict?</h3>
<p>The same model fitted on the orders up to ${esc(day(h.calibration_end))}, against what the customers bought in the
${num(h.weeks, 1)} weeks after it: mean purchases per customer, by their repeat purchases before the cut.
${num(h.actual_total, 0)} purchases happened, ${num(h.predicted_total, 1)} were predicted; mean absolute error
${num(h.mean_abs_error, 3)} per customer${h.converged ? '' : ' (this fit did not converge either)'}.</p>
<div class="row">${chart('clv-holdout', 'Purchases after the cut: actual and predicted', 'per customer', {
	data: { values: points }, mark: { type: 'line', point: true, tooltip: true }, width: 360, height: 200,
	encoding: {
		x: { field: 'label', type: 'ordinal', title: 'repeat purchases before the cut', sort: { field: 'x' } },
		y: { field: 'purchases', type: 'quantitative', title: 'mean purchases after' },
		color: { field: 'kind', type: 'nominal', title: null },
	},
})}
<table id="clv-holdout-table"><thead><tr><th>repeat purchases</th><th>customers</th><th>actual</th><th>predicted</th></tr></thead>
<tbody>${hrows}</tbody></table></div>`;
	}
	sections.push(`<section id="clv"><h2>Lifetime value</h2>
<p>What each segment is worth over the next ${num(clv.horizon, 0)} ${esc(unit)}s: the probability that its customers are still
customers (${clv.model === 'bgnbd' ? 'BG/NBD' : 'Pareto/NBD'}), the purchases they are expected to make, and their value (margin ${num(clv.margin, 2)},
discount ${num(clv.discount_rate, 4)} per ${esc(unit)}). ${num(clv.expected_alive, 1)} of ${num(clv.customers, 0)} customers are
expected to be alive.</p>
${warn}
<table id="clv-table"><thead><tr><th>segment</th><th>customers</th><th>mean P(alive)</th><th>expected purchases</th>
<th>value</th><th>share</th></tr></thead><tbody>${rows}</tbody><tfoot>${total}</tfoot></table>
${chart('clv-segments', 'Lifetime value by segment', '', {
	data: { values: clv.segments.map((g) => ({ ...g, clv: Number(g.clv) })) }, mark: { type: 'bar', tooltip: true },
	width: 360, height: { step: 22 },
	encoding: {
		y: { field: 'segment', type: 'nominal', sort: { field: 'clv', order: 'descending' }, title: null },
		x: { field: 'clv', type: 'quantitative', title: 'value' },
		color: { field: 'segment', type: 'nominal', legend: null },
	},
})}
${holdout}</section>`);
}

const libs = [library('vega', 'vega.min.js'), library('vega-lite', 'vega-lite.min.js'), library('vega-embed', 'vega-embed.min.js')];
const title = `RFM report: ${model.name}`;
const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1200px; color: #222; padding: 0 16px; }
h1 { font-size: 24px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #ddd; }
.meta { color: #555; } .note { color: #777; font-weight: normal; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { border-bottom: 1px solid #eee; padding: 3px 8px; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tfoot td { font-weight: bold; border-top: 2px solid #ccc; }
figure { margin: 8px 24px 8px 0; } .row { display: flex; flex-wrap: wrap; }
figcaption { margin-bottom: 4px; } .warn { color: #a40; }
</style></head>
<body>
<h1>${esc(title)}</h1>
<p class="meta">Source <b>${esc(model.source)}</b> · as of ${esc(data.as_of ?? '')} · ${num(data.customers, 0)} customers ·
revenue ${num(data.totals.revenue, 2)} · ${model.bins} scores per metric${model.refunds === 'adjust' ? ' · refunds adjusted' : ''}</p>
${sections.join('\n')}
<p class="meta">Made by rfm_segment's scripts/report from the model's views.</p>
<script type="application/json" id="report-data">${inScript(JSON.stringify(data))}</script>
${libs.map((l) => `<script>${inScript(l)}</script>`).join('\n')}
<script>
(function () {
	var charts = ${inScript(JSON.stringify(charts))};
	window.__report = { ready: false, charts: charts.length, views: {} };
	Promise.all(charts.map(function (c) {
		return vegaEmbed('#chart-' + c.id, c.spec, { renderer: 'svg', actions: false }).then(function (r) {
			window.__report.views[c.id] = r.view;
		});
	})).then(function () {
		window.__report.ready = true;
	}).catch(function (e) {
		window.__report.ready = true;
		window.__report.error = String(e);
		console.error(e);
	});
})();
</script>
</body></html>
`;
process.stdout.write(page);
