// Open a report in headless Chromium and check it as a person would see it:
// the page loads without a console error or a network request, every chart
// renders marks of a real size, and the numbers in the page equal the
// model's (given in EXPECTED, computed by the caller straight from the
// model's views).
//
//   node check.mjs REPORT.html EXPECTED.json [SCREENSHOT.png]
//
// Chromium is Debian's (/usr/bin/chromium, or $CHROMIUM), driven by
// playwright-core, which downloads no browser of its own.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium } from 'playwright-core';

const [reportPath, expectedPath, screenshot] = process.argv.slice(2);
const expected = JSON.parse(readFileSync(expectedPath, 'utf8'));
const problems = [];

const browser = await chromium.launch({
	executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
	// a closed network: no background traffic, no sandbox as root
	args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
		'--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
	const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
	page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
	page.on('pageerror', (e) => problems.push(`page error: ${e}`));
	page.on('request', (r) => {
		if (!/^(file|data|blob):/.test(r.url())) problems.push(`network request: ${r.url()}`);
	});
	await page.goto('file://' + resolve(reportPath));
	const ready = await page.waitForFunction(() => window.__report && window.__report.ready, null, { timeout: 30000 })
		.then(() => true, () => false);
	if (!ready) {
		problems.push('the charts did not finish rendering within 30 s');
		throw new Error('not rendered');
	}
	const report = await page.evaluate(() => ({ error: window.__report.error, charts: window.__report.charts }));
	if (report.error) problems.push(`chart error: ${report.error}`);

	// every chart is an SVG of a real size with marks that have a shape
	const charts = await page.$$eval('.chart', (els) => els.map((el) => {
		const svg = el.querySelector('svg');
		const box = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
		const marks = svg ? [...svg.querySelectorAll('.role-mark > path, .role-mark > text')]
			.filter((m) => (m.tagName === 'text' ? m.textContent.trim() !== '' : (m.getAttribute('d') || '').length > 4)) : [];
		return { id: el.dataset.chart, width: box.width, height: box.height, marks: marks.length };
	}));
	if (charts.length !== report.charts) problems.push(`${charts.length} chart containers, ${report.charts} charts`);
	for (const c of charts) {
		if (c.width < 100 || c.height < 50 || c.marks === 0)
			problems.push(`chart ${c.id} is blank: ${c.width}x${c.height}, ${c.marks} marks`);
	}

	// the numbers: every segment's customers and revenue, the totals, and
	// one retention cell
	const rows = await page.$$eval('#segment-table [data-segment]', (els) => els.map((e) => ({
		segment: e.dataset.segment, customers: e.dataset.customers, revenue: e.dataset.revenue,
	})));
	const shown = new Map(rows.map((r) => [r.segment, r]));
	for (const s of expected.segments) {
		const r = shown.get(s.segment);
		if (!r) problems.push(`segment ${s.segment} is not in the page`);
		else if (Number(r.customers) !== Number(s.customers) || (r.revenue || null) !== (s.revenue ?? null))
			problems.push(`segment ${s.segment}: page ${r.customers} / ${r.revenue}, model ${s.customers} / ${s.revenue}`);
	}
	if (rows.length !== expected.segments.length + 1)
		problems.push(`${rows.length - 1} segments in the page, ${expected.segments.length} in the model`);
	const total = shown.get('(all)');
	if (!total || Number(total.customers) !== Number(expected.customers) || total.revenue !== expected.revenue)
		problems.push(`totals: page ${total?.customers} / ${total?.revenue}, model ${expected.customers} / ${expected.revenue}`);
	const cell = await page.$eval(`#retention-table td[data-cohort="${expected.retention.cohort}"][data-offset="${expected.retention.period_offset}"]`,
		(td) => ({ active: td.dataset.active, rate: td.dataset.rate })).catch(() => null);
	if (!cell || Number(cell.active) !== Number(expected.retention.active) || Number(cell.rate) !== Number(expected.retention.rate))
		problems.push(`retention ${expected.retention.cohort}+${expected.retention.period_offset}: page ${JSON.stringify(cell)}, model ${JSON.stringify(expected.retention)}`);

	// lifetime value: every segment's customers and value, and the total
	const values = new Map((await page.$$eval('#clv-table [data-segment]', (els) => els.map((e) => ({
		segment: e.dataset.segment, customers: e.dataset.customers, clv: e.dataset.clv,
	})))).map((r) => [r.segment, r]));
	for (const g of expected.clv) {
		const r = values.get(g.segment);
		if (!r || Number(r.customers) !== Number(g.customers) || r.clv !== g.clv)
			problems.push(`lifetime value of ${g.segment}: page ${JSON.stringify(r)}, model ${g.customers} / ${g.clv}`);
	}
	if (values.get('(all)')?.clv !== expected.clv_total)
		problems.push(`lifetime value in all: page ${values.get('(all)')?.clv}, model ${expected.clv_total}`);
	const holdout = await page.$$eval('#clv-holdout-table [data-x]', (els) => els.length);
	if (holdout < 2) problems.push(`the holdout table has ${holdout} rows`);

	if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
	console.log(`${charts.length} charts rendered (${charts.map((c) => `${c.id} ${c.marks}`).join(', ')}); ` +
		`${rows.length - 1} segments, totals, retention ${expected.retention.cohort}+${expected.retention.period_offset} ` +
		`and the lifetime value of ${values.size - 1} segments equal the model; ${holdout} holdout rows`);
} catch (e) {
	if (e.message !== 'not rendered') problems.push(String(e));
} finally {
	await browser.close();
}
if (problems.length > 0) {
	for (const p of problems) console.error(`FAILED: ${p}`);
	process.exit(1);
}
