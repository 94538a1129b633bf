// tests/web/dashboard.test.mjs - the dashboard in Debian's chromium, fed with recorded results
//
// Run by tests/web/run.sh, which starts the collector and sets BASE_URL,
// TOKENS_DIR (one <agent>.token per branch) and ARTIFACTS (screenshots).
// Tests run in order and share one browser and one growing data set.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const BASE = process.env.BASE_URL;
const TOKENS = process.env.TOKENS_DIR;
const ARTIFACTS = process.env.ARTIFACTS || path.join(here, 'artifacts');
const MOCK = process.env.MOCK === '1'; /* tests/web/mock_api.mjs: no event stream, no CLI */
assert.ok(BASE && TOKENS, 'run through tests/web/run.sh (BASE_URL and TOKENS_DIR)');

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
	'--disable-background-networking', '--disable-component-update', '--disable-sync'];

let ctx, userDir, lastFed = -Infinity;
const pageErrors = [];
const foreignRequests = [];

/* ---- feeding recorded results ---- */

function loadPhase(name) {
	return fs.readFileSync(path.join(here, 'fixtures', `${name}.jsonl`), 'utf8')
		.trim().split('\n').map((l) => JSON.parse(l));
}

/* POST one phase, round by round per agent, as the agents would. Times are
 * moved so the phase ends just now and starts after whatever was fed before
 * (squeezed when the test runs faster than the recording). */
async function feed(name) {
	const recs = loadPhase(name);
	const times = recs.map((r) => Date.parse(r.time));
	const t0 = Math.min(...times), t1 = Math.max(...times);
	const now = Date.now() - 300;
	const k = Math.min(1, (now - lastFed) / (t1 - t0 + 2000));
	const groups = new Map();
	for (const r of recs) {
		const key = `${r.agent}/${r.round}`;
		if (!groups.has(key)) groups.set(key, []);
		const rec = Object.assign({}, r, { time: new Date(now - (t1 - Date.parse(r.time)) * k).toISOString() });
		delete rec.agent; /* the token says who we are */
		groups.get(key).push([r.agent, rec]);
	}
	const tokens = {};
	for (const f of fs.readdirSync(TOKENS)) tokens[f.replace(/\.token$/, '')] = fs.readFileSync(path.join(TOKENS, f), 'utf8').trim();
	const ordered = [...groups.values()].sort((a, b) => a[0][1].time.localeCompare(b[0][1].time));
	for (const g of ordered) {
		const agent = g[0][0], results = g.map((x) => x[1]);
		const status = { uptime_s: 3600, spool_depth: agent === 'br4' ? 12 : 0, dropped: 0,
			send_errors: agent === 'br4' ? 3 : 0, clock_offset_ms: 0.42, version: '0.1.0' };
		const res = await fetch(`${BASE}/api/v1/results`, {
			method: 'POST', body: JSON.stringify({ results, status }),
			headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${tokens[agent]}`,
				'User-Agent': 'anycast-agent/0.1.0' },
		});
		const body = await res.json().catch(() => null);
		assert.equal(res.status, 200, `ingest ${agent}: ${res.status} ${JSON.stringify(body)}`);
		assert.equal(body.stored + body.duplicates, results.length);
	}
	lastFed = now;
}

async function api(p) {
	const res = await fetch(`${BASE}/api/v1/${p}`);
	assert.equal(res.status, 200, p);
	return res.json();
}

/* Poll fn until it returns something truthy (or throw after ms). */
async function until(fn, ms, what) {
	const end = Date.now() + ms;
	let last;
	while (Date.now() < end) {
		try {
			last = await fn();
			if (last) return last;
		} catch (e) {
			last = e;
		}
		await new Promise((r) => setTimeout(r, 250));
	}
	throw new Error(`timed out waiting for ${what}: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
}

function row(cs, agent, service) {
	return cs.catchments.find((c) => c.agent === agent && c.service === service && (c.family || 4) === 4);
}

async function newPage(opts = {}) {
	const page = await ctx.newPage();
	page.on('pageerror', (e) => pageErrors.push(e.message));
	page.on('request', (r) => {
		const u = r.url();
		if (!u.startsWith(BASE) && !(process.env.SECURE_URL && u.startsWith(process.env.SECURE_URL)) && !u.startsWith('data:'))
			foreignRequests.push(u);
	});
	if (opts.viewport) await page.setViewportSize(opts.viewport);
	await page.emulateMedia({ colorScheme: opts.scheme || 'light' });
	return page;
}

const cell = (page, agent, service) => page.locator(`#matrix td[data-key="${agent}|${service}|4"]`);

before(async () => {
	userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'anycast-chromium-'));
	ctx = await chromium.launchPersistentContext(userDir, {
		executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS,
		viewport: { width: 1366, height: 820 }, timezoneId: 'Europe/Berlin', locale: 'en-GB',
	});
	fs.mkdirSync(ARTIFACTS, { recursive: true });
});

after(async () => {
	if (ctx) await ctx.close();
	fs.rmSync(userDir, { recursive: true, force: true });
});

test('the collector serves the dashboard and its uPlot copy at /', async () => {
	const html = await (await fetch(`${BASE}/`)).text();
	assert.match(html, /<title>Anycast monitor<\/title>/);
	assert.doesNotMatch(html, /https?:\/\/(?!www\.w3\.org)/, 'no external URL in the page');
	const js = await fetch(`${BASE}/vendor/uPlot.iife.min.js`);
	assert.equal(js.status, 200, 'web/vendor filled by web/build.sh and served');
});

test('matrix shows which instance answers each branch', async () => {
	await feed('initial');
	/* the collector evaluates the last round when it is old enough */
	await until(async () => {
		const cs = await api('catchments');
		const b1 = row(cs, 'br1', 'dns'), b2 = row(cs, 'br2', 'ntp');
		return b1 && b1.instance === 'site-a' && b2 && b2.status === 'outage';
	}, 20000, 'br1 dns on site-a and br2 ntp in outage');

	const page = await newPage();
	await page.goto(`${BASE}/#/matrix`);
	/* the lab's routing: br1 and br4 reach site-a, br2 site-b, br3 site-c */
	const want = { br1: ['site-a', 'site-a'], br2: ['site-b', null], br3: ['site-c', 'site-c'], br4: ['site-a', 'site-a'] };
	for (const [agent, [dns, ntp]] of Object.entries(want)) {
		await assert.doesNotReject(cell(page, agent, 'dns').and(page.locator(`[data-instance="${dns}"]`)).waitFor({ timeout: 8000 }),
			`${agent} dns should show ${dns}`);
		assert.match(await cell(page, agent, 'dns').innerText(), new RegExp(dns));
		if (ntp) assert.equal(await cell(page, agent, 'ntp').getAttribute('data-instance'), ntp, `${agent} ntp`);
	}
	/* IPv4 and IPv6 get a column each */
	assert.equal(await page.locator('#matrix thead th').allInnerTexts().then((t) => t.filter((x) => /IPv6/.test(x)).length), 2);
	const outage = cell(page, 'br2', 'ntp');
	assert.equal(await outage.getAttribute('data-status'), 'outage');
	assert.match(await outage.innerText(), /no answer/);

	/* one colour per instance, a different one for each instance */
	const bg = (a, s) => cell(page, a, s).evaluate((e) => getComputedStyle(e).backgroundColor);
	assert.equal(await bg('br1', 'dns'), await bg('br4', 'ntp'), 'site-a twice, same colour');
	const colours = new Set([await bg('br1', 'dns'), await bg('br2', 'dns'), await bg('br3', 'dns')]);
	assert.equal(colours.size, 3, 'site-a, site-b, site-c look different');
	await page.close();
});

test('a cell tells RTT, since-when (UTC on hover) and evidence', async () => {
	const page = await newPage();
	await page.goto(`${BASE}/#/matrix`);
	const c = cell(page, 'br2', 'dns');
	await c.waitFor();
	assert.match(await c.getAttribute('title'), /RTT \d+(\.\d+)? ms[\s\S]*since .* UTC/);
	await c.click();
	const detail = page.locator('#cell-detail');
	await detail.getByText('site-b.lab').first().waitFor();
	assert.match(await detail.innerText(), /RTT\s+\d+(\.\d+)? ms/);
	const since = detail.locator('dd time').first();
	assert.match(await since.getAttribute('title'), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
	/* evidence: the latest answers, identified as site-b */
	await detail.locator('table.mini tbody tr').first().waitFor({ timeout: 8000 });
	assert.match(await detail.locator('table.mini').innerText(), /site-b\.lab[\s\S]*site-b/);
	/* the outage cell shows its event */
	await cell(page, 'br2', 'ntp').click();
	await detail.locator('.ev-outage').first().waitFor({ timeout: 8000 });
	await page.close();
});

test('a branch that moves changes the matrix and the timeline without a reload', async () => {
	const matrix = await newPage();
	const timeline = await newPage();
	await matrix.goto(`${BASE}/#/matrix`);
	await timeline.goto(`${BASE}/#/events`);
	await cell(matrix, 'br4', 'dns').and(matrix.locator('[data-instance="site-a"]')).waitFor();
	await timeline.locator('#timeline li').first().waitFor();
	for (const p of [matrix, timeline]) await p.evaluate(() => { window.__sameDocument = true; });
	/* the collector pushes changes over Server-Sent Events; the pill says so */
	if (!MOCK) await until(async () => (await matrix.getAttribute('#live', 'data-state')) === 'live', 8000, 'the live pill');
	const moved = timeline.locator('#timeline li[data-type="catchment_change"]', { hasText: 'br4' });
	assert.equal(await moved.count(), 0);

	await feed('move'); /* the lab's "fault cost br4": br4 is routed to site-c */
	await cell(matrix, 'br4', 'dns').and(matrix.locator('[data-instance="site-c"]')).waitFor({ timeout: 20000 });
	await moved.first().waitFor({ timeout: 20000 });
	assert.match(await moved.first().innerText(), /site-a[\s\S]*→[\s\S]*site-c[\s\S]*route change/);
	for (const p of [matrix, timeline])
		assert.equal(await p.evaluate(() => window.__sameDocument), true, 'the page was not reloaded');
	await matrix.close();
	await timeline.close();
});

test('timeline: newest first, filters by type, agent, service and time', async () => {
	const page = await newPage();
	await page.goto(`${BASE}/#/events`);
	const items = page.locator('#timeline li');
	await page.locator('#timeline li[data-type="catchment_change"]', { hasText: 'br4' }).first().waitFor({ timeout: 10000 });
	await page.locator('#timeline li[data-type="outage"]', { hasText: 'br2' }).first().waitFor({ timeout: 10000 });

	const times = await items.locator('time').evaluateAll((ts) => ts.map((t) => Date.parse(t.getAttribute('datetime'))));
	assert.deepEqual(times, [...times].sort((a, b) => b - a));

	const types = () => items.evaluateAll((li) => li.map((e) => e.dataset.type));
	await page.selectOption('#f-type', 'outage');
	await until(async () => { const t = await types(); return t.length && t.every((x) => x === 'outage'); }, 8000, 'only outages');
	assert.match(page.url(), /type=outage/, 'filters are kept in the URL');

	await page.selectOption('#f-type', '');
	await page.selectOption('#f-agent', 'br4');
	await until(async () => {
		const txt = await items.allInnerTexts();
		return txt.length && txt.every((t) => t.includes('br4'));
	}, 8000, 'only br4 events');

	await page.selectOption('#f-agent', '');
	await page.selectOption('#f-service', 'ntp');
	await until(async () => {
		const txt = await items.allInnerTexts();
		return txt.length && txt.every((t) => /ntp/.test(t)) && !txt.some((t) => /· dns/.test(t));
	}, 8000, 'only ntp events');

	await page.selectOption('#f-service', '');
	await page.selectOption('#f-period', '15m');
	await until(async () => (await items.count()) > 0, 8000, 'events of the last 15 minutes');
	await page.click('#event-filters button.link');
	await until(async () => !/\?/.test(page.url()), 8000, 'clear empties the URL filters');
	await page.close();
});

test('catchment graph groups the branches by the instance they reach', async () => {
	const page = await newPage();
	await page.goto(`${BASE}/#/graph`);
	const siteC = page.locator('.graph-card[data-service="dns IPv4"] .graph-col[data-instance="site-c"]');
	await siteC.waitFor({ timeout: 10000 });
	assert.deepEqual((await siteC.locator('li a').allInnerTexts()).sort(), ['br3', 'br4']);
	assert.equal(await siteC.locator('.count').innerText(), '2');
	const outage = page.locator('.graph-card[data-service="ntp IPv4"] .graph-col.outage');
	assert.match(await outage.innerText(), /br2/);
	await page.close();
});

test('instance page: management health from every agent and an RTT chart', async () => {
	const page = await newPage();
	await page.goto(`${BASE}/#/instance/site-a`);
	const health = page.locator('table.health').first();
	await health.waitFor({ timeout: 10000 });
	for (const a of ['br1', 'br2', 'br3', 'br4']) {
		const r = health.locator('tr', { hasText: a }).first();
		await r.waitFor();
		assert.match(await r.innerText(), /● up/);
	}
	await page.locator('#rtt-chart canvas').first().waitFor({ timeout: 15000 });
	const legend = await page.locator('#rtt-chart .u-legend').first().innerText();
	for (const a of ['br1', 'br2', 'br3', 'br4']) assert.match(legend, new RegExp(a));
	await page.screenshot({ path: path.join(ARTIFACTS, 'instance-light.png'), fullPage: true });
	await page.close();
});

test('agent page: last seen, version, spool depth, dropped, clock offset', async () => {
	const page = await newPage();
	await page.goto(`${BASE}/#/agent/br4`);
	const info = page.locator('#agent-info');
	await info.waitFor({ timeout: 10000 });
	const text = await info.innerText();
	assert.match(text, /last seen\s+\S/i);
	assert.match(text, /reporting/i);
	assert.match(text, /version\s+0\.1\.0/i);
	assert.match(text, /spool depth\s+12/i);
	assert.match(text, /dropped\s+0/i);
	assert.match(text, /clock offset\s+0\.42 ms/i);
	await page.close();
});

test('an unknown instance is red and unmistakable; screenshots', async () => {
	await feed('hijack'); /* the lab's "fault rogue" */
	const page = await newPage();
	await page.goto(`${BASE}/#/matrix`);
	const c = cell(page, 'br4', 'dns');
	await c.and(page.locator('[data-status="unknown_instance"]')).waitFor({ timeout: 20000 });
	assert.match(await c.innerText(), /UNKNOWN[\s\S]*rogue\.evil/);
	const [r, g, b] = (await c.evaluate((e) => getComputedStyle(e).backgroundColor)).match(/\d+/g).map(Number);
	assert.ok(r > 180 && g < 80 && b < 90, `red background, got rgb(${r},${g},${b})`);
	await page.locator('.pill.unknown').waitFor();

	await cell(page, 'br4', 'dns').click();
	await page.locator('#cell-detail table.mini').waitFor({ timeout: 8000 });
	await page.screenshot({ path: path.join(ARTIFACTS, 'matrix-desktop-light.png'), fullPage: true });
	await page.emulateMedia({ colorScheme: 'dark' });
	await page.waitForTimeout(300);
	await page.screenshot({ path: path.join(ARTIFACTS, 'matrix-desktop-dark.png'), fullPage: true });
	await page.goto(`${BASE}/#/events`);
	await page.locator('#timeline li').first().waitFor();
	await page.screenshot({ path: path.join(ARTIFACTS, 'events-desktop-dark.png'), fullPage: true });
	await page.close();

	const phone = await newPage({ viewport: { width: 390, height: 844 } });
	await phone.goto(`${BASE}/#/matrix`);
	await cell(phone, 'br4', 'dns').waitFor();
	const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
	assert.ok(overflow <= 1, `no sideways scrolling on a phone (${overflow}px too wide)`);
	await phone.screenshot({ path: path.join(ARTIFACTS, 'matrix-phone.png'), fullPage: true });
	await phone.goto(`${BASE}/#/events`);
	await phone.locator('#timeline li').first().waitFor();
	await phone.screenshot({ path: path.join(ARTIFACTS, 'events-phone.png'), fullPage: true });
	await phone.close();
});

test('terminal view: anycast-collector status', { skip: MOCK && 'mock API run' }, async () => {
	const bin = path.join(process.env.ANYCAST_BIN, 'anycast-collector');
	const run = (args) => new Promise((resolve) => execFile(bin, args, { timeout: 20000 },
		(err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr })));
	const r = await run(['status', '--url', BASE, '--no-color', '--events', '100']);
	assert.equal(r.code, 0, r.stderr);
	const line = (a) => r.stdout.split('\n').find((l) => l.startsWith(a + ' ')) || '';
	assert.match(line('br1'), /site-a/);
	// by now the recording has the rogue capturing br3 for DNS and NTP alike
	assert.match(line('br3'), /!! UNKNOWN rogue\.evil .*!! UNKNOWN s9\//);
	assert.match(line('br4'), /!! UNKNOWN rogue\.evil/);
	assert.match(line('br2'), /xx OUTAGE/);
	assert.match(r.stdout, /catchment_change\s+br4\s+dns\/v4\s+site-a -> site-c/);
	const j = await run(['status', '--url', BASE, '--json']);
	assert.equal(j.code, 0, j.stderr);
	const parsed = JSON.parse(j.stdout);
	assert.ok(Array.isArray(parsed.catchments) && Array.isArray(parsed.events));
	const down = await run(['status', '--url', 'http://127.0.0.1:1']);
	assert.notEqual(down.code, 0);
	assert.match(down.stderr, /^anycast-collector status: cannot reach the collector[^\n]*\n$/);
});

test('a collector with a read token: the dashboard asks for it, the terminal view takes --token-file',
	{ skip: !process.env.SECURE_URL && 'no secured collector in this run' }, async () => {
		const url = process.env.SECURE_URL;
		const token = fs.readFileSync(process.env.READ_TOKEN_FILE, 'utf8').trim();
		const closed = await fetch(`${url}/api/v1/catchments`);
		assert.equal(closed.status, 401);

		const page = await newPage();
		await page.goto(`${url}/#/matrix`);
		await page.locator('#token-input').waitFor({ timeout: 10000 });
		assert.match(await page.locator('#banner').innerText(), /read token/);
		await page.fill('#token-input', 'not-the-token');
		await page.click('#token-submit');
		await page.getByText('That read token was refused').waitFor({ timeout: 10000 });
		await page.fill('#token-input', token);
		await page.click('#token-submit');
		await page.locator('.matrix-box .empty').waitFor({ timeout: 10000 });
		assert.equal(await page.locator('#banner').isHidden(), true);
		/* the event stream takes the token too */
		await until(async () => (await page.getAttribute('#live', 'data-state')) === 'live', 8000, 'the live pill');
		/* remembered for the next visit */
		await page.reload();
		await page.locator('.matrix-box .empty').waitFor({ timeout: 10000 });
		assert.equal(await page.locator('#banner').isHidden(), true);
		await page.evaluate(() => localStorage.clear());
		await page.close();

		const bin = path.join(process.env.ANYCAST_BIN, 'anycast-collector');
		const run = (args) => new Promise((resolve) => execFile(bin, args, { timeout: 20000 },
			(err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr })));
		const denied = await run(['status', '--url', url]);
		assert.equal(denied.code, 1);
		assert.match(denied.stderr, /401/);
		const ok = await run(['status', '--url', url, '--token-file', process.env.READ_TOKEN_FILE, '--no-color']);
		assert.equal(ok.code, 0, ok.stderr);
		assert.match(ok.stdout, /No catchment data yet/);
	});

test('a hostile identity is shown as text, never run', { skip: MOCK && 'mock API run' }, async () => {
	const evil = '<img src=x onerror="window.__pwned=1">';
	const token = fs.readFileSync(path.join(TOKENS, 'br1.token'), 'utf8').trim();
	const now = Date.now();
	const results = ['nsid', 'id.server'].map((q, i) => ({
		seq: 1000000 + i, round: 1000000, time: new Date(now - 50 + i).toISOString(), service: 'dns',
		address: '198.18.255.53', family: 4, target: 'anycast', instance: null, identity: evil,
		identity_source: q, query: q, transport: 'udp', outcome: 'ok', rcode: 'NOERROR', rtt_ms: 0.5,
	}));
	const res = await fetch(`${BASE}/api/v1/results`, {
		method: 'POST', body: JSON.stringify({ results }),
		headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
	});
	assert.equal(res.status, 200);

	const page = await newPage();
	let dialogs = 0;
	page.on('dialog', (d) => { dialogs++; d.dismiss(); });
	await page.goto(`${BASE}/#/matrix`);
	await cell(page, 'br1', 'dns').click();
	const evidence = page.locator('#cell-detail table.mini');
	await until(async () => (await evidence.innerText()).includes(evil), 10000, 'the identity, literally');
	assert.equal(await page.locator('#cell-detail img, #matrix img').count(), 0);
	assert.equal(await page.evaluate(() => window.__pwned), undefined);
	assert.equal(dialogs, 0);
	await page.close();
});

test('no page made a request outside the collector or raised a script error', () => {
	assert.deepEqual(foreignRequests, []);
	assert.deepEqual(pageErrors, []);
});
