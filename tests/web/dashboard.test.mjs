// tests/web/dashboard.test.mjs - the dashboard in Debian's chromium, fed with recorded results
//
// Run by tests/web/run.sh, which starts the collector and sets BASE_URL,
// TOKENS_DIR (one <agent>.token per branch), ARTIFACTS (screenshots) and
// MOCK_URL (tests/web/mock_api.mjs, for what the collector does not serve yet).
// Tests run in order and share one browser and one growing data set; every
// result fed goes to the collector and to the mock alike.
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
const MOCK = process.env.MOCK === '1'; /* tests/web/mock_api.mjs: no CLI */
const MOCK_URL = process.env.MOCK_URL || (MOCK ? BASE : '');
assert.ok(BASE && TOKENS, 'run through tests/web/run.sh (BASE_URL and TOKENS_DIR)');
/* where results go: the collector, and the mock when it runs beside it */
const TARGETS = [...new Set([BASE, MOCK_URL].filter(Boolean))];
const WIDTHS = [390, 768, 1440];

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
	const ordered = [...groups.values()].sort((a, b) => a[0][1].time.localeCompare(b[0][1].time));
	for (const g of ordered) await post(g[0][0], g.map((x) => x[1]));
	lastFed = now;
}

function tokenOf(agent) {
	return fs.readFileSync(path.join(TOKENS, `${agent}.token`), 'utf8').trim();
}

/* POST one round of results as agent, to the collector and the mock */
async function post(agent, results, targets = TARGETS) {
	const status = { uptime_s: 3600, spool_depth: agent === 'br4' ? 12 : 0, dropped: 0,
		send_errors: agent === 'br4' ? 3 : 0, clock_offset_ms: 0.42, version: '0.1.0' };
	for (const base of targets) {
		const res = await fetch(`${base}/api/v1/results`, {
			method: 'POST', body: JSON.stringify({ results, status }),
			headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${tokenOf(agent)}`,
				'User-Agent': 'anycast-agent/0.1.0' },
		});
		const body = await res.json().catch(() => null);
		assert.equal(res.status, 200, `ingest ${agent} at ${base}: ${res.status} ${JSON.stringify(body)}`);
		assert.equal(body.stored + body.duplicates, results.length);
	}
}

/* Made-up rounds for an agent of its own (br5, br6): br1's recorded rounds
 * (all services, anycast and management) replayed from time t0 every stepMs,
 * with the agent's DNS anycast answers turned into timeouts in the rounds
 * for which dnsDown(i) is true. The collector takes each result's time from
 * the record, so minutes of rounds can be sent in a second. */
const br1Rounds = (() => {
	const m = new Map();
	for (const r of loadPhase('initial').filter((x) => x.agent === 'br1')) {
		if (!m.has(r.round)) m.set(r.round, []);
		m.get(r.round).push(r);
	}
	return [...m.values()];
})();
const nextSeq = new Map();
function madeUpRound(agent, i, time, dnsDown) {
	const src = br1Rounds[i % br1Rounds.length];
	const t0 = Date.parse(src[0].time);
	let seq = nextSeq.get(agent) || 1;
	const recs = src.map((r) => {
		const rec = Object.assign({}, r, { seq: seq++, round: 100000 + i + (nextSeq.get(agent + '/round') || 0),
			time: new Date(time + (Date.parse(r.time) - t0)).toISOString() });
		delete rec.agent;
		if (dnsDown && r.service === 'dns' && r.target === 'anycast')
			Object.assign(rec, { outcome: 'timeout', instance: null, identity: null, rcode: null, rtt_ms: null });
		return rec;
	});
	nextSeq.set(agent, seq);
	return recs;
}
async function feedMadeUp(agent, t0, n, stepMs, dnsDown, targets = TARGETS) {
	const base = nextSeq.get(agent + '/round') || 0;
	for (let i = 0; i < n; i++) await post(agent, madeUpRound(agent, i, t0 + i * stepMs, dnsDown(i)), targets);
	nextSeq.set(agent + '/round', base + n);
}

async function api(p, base = BASE) {
	const res = await fetch(`${base}/api/v1/${p}`);
	assert.equal(res.status, 200, p);
	return res.json();
}

/* The dashboard's HH:MM:SS in the test's zone and locale (Europe/Berlin, en-GB) */
const clock = (t) => new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', minute: '2-digit', second: '2-digit' }).format(new Date(t));

/* The collector's incidents, or those of the mock while it has none (404). */
let incBaseMemo = null;
async function incidentBase() {
	if (incBaseMemo) return incBaseMemo;
	const res = await fetch(`${BASE}/api/v1/incidents?limit=1`);
	incBaseMemo = res.status === 200 ? BASE : MOCK_URL;
	if (incBaseMemo !== BASE) console.log(`# ${BASE} has no /api/v1/incidents (${res.status}): incident checks run against the mock at ${MOCK_URL}`);
	return incBaseMemo;
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
		const ours = [BASE, process.env.SECURE_URL, MOCK_URL].filter(Boolean);
		if (!ours.some((b) => u.startsWith(b)) && !u.startsWith('data:'))
			foreignRequests.push(u);
	});
	if (opts.viewport) await page.setViewportSize(opts.viewport);
	await page.emulateMedia({ colorScheme: opts.scheme || 'light' });
	return page;
}

const cell = (page, agent, service, fam = 4) => page.locator(`#matrix td[data-key="${agent}|${service}|${fam}"]`);
const redish = (rgb) => {
	const [r, g, b] = rgb.match(/\d+/g).map(Number);
	return r > 150 && g < 90 && b < 100;
};

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
	/* br6 reports a few rounds now and then nothing: silent later in the run */
	await feedMadeUp('br6', Date.now() - 20000, 10, 2000, () => false);
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
	await until(async () => (await matrix.getAttribute('#live', 'data-state')) === 'live', 8000, 'the live pill');
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

test('an outage stays red with "outage since" for as long as its agent keeps reporting', async () => {
	/* br5: 150 s of rounds, its DNS anycast answers lost from the 10th round on;
	 * the last answer is then minutes old, the last report is not */
	const t0 = Date.now() - 150000;
	await feedMadeUp('br5', t0, 75, 2000, (i) => i >= 10);
	const r = await until(async () => {
		const x = row(await api('catchments'), 'br5', 'dns');
		return x && x.status === 'outage' && Date.now() - Date.parse(x.since) > 90000 && x;
	}, 20000, 'br5 dns in outage for more than 90 s');
	if ('agent_state' in r) assert.equal(r.agent_state, 'reporting');

	/* the agent goes on reporting timeouts, round after round */
	let stop = false;
	const keepOn = (async () => {
		while (!stop) {
			await feedMadeUp('br5', Date.now() - 100, 1, 0, () => true);
			await new Promise((res) => setTimeout(res, 2000));
		}
	})();
	try {
		const page = await newPage();
		await page.goto(`${BASE}/#/matrix`);
		const c = cell(page, 'br5', 'dns');
		await c.and(page.locator('[data-status="outage"]')).waitFor({ timeout: 10000 });
		for (let k = 0; k < 2; k++) {
			assert.equal(await c.getAttribute('data-agent-state'), 'reporting');
			assert.doesNotMatch(await c.getAttribute('class'), /is-silent|is-stale/);
			const text = await c.innerText();
			assert.match(text, /no answer/);
			assert.match(text, new RegExp(`outage since ${clock(r.since)}`), text);
			assert.doesNotMatch(text, /agent silent/);
			/* the cell's since is the row's since */
			assert.equal(await c.locator('.since time').getAttribute('datetime'), new Date(r.since).toISOString());
			assert.ok(redish(await c.evaluate((e) => getComputedStyle(e).borderTopColor)), 'a red border');
			assert.ok(Date.now() - Date.parse(r.since) > 90000);
			await page.waitForTimeout(4000); /* a few more rounds and redraws */
		}
		assert.ok(Number((await page.locator('.pill.outage').innerText()).match(/\d+/)[0]) >= 2, 'br5 counts in the outage pill');
		await page.close();
	} finally {
		stop = true;
		await keepOn;
	}
});

test('a branch away from its home instance is marked on the matrix, the graph and its page', async () => {
	/* the collector's rows, or the mock's while the collector has no home/away */
	let base = BASE;
	const probe = row(await api('catchments'), 'br4', 'dns');
	if (!probe || !('home' in probe)) {
		base = MOCK_URL;
		console.log(`# ${BASE} has no home/away in /api/v1/catchments yet: the away mark is checked against the mock`);
	}
	const away = await until(async () => {
		const x = row(await api('catchments', base), 'br4', 'dns');
		return x && x.instance === 'site-c' && x;
	}, 10000, 'br4 dns on site-c');
	assert.equal(away.away, true);
	assert.equal(away.home, 'site-a');
	const mark = 'away: site-c (home site-a)';
	const page = await newPage();
	await page.goto(`${base}/#/matrix`);
	await cell(page, 'br4', 'dns').locator('.away', { hasText: mark }).waitFor({ timeout: 10000 });
	assert.equal(await cell(page, 'br1', 'dns').locator('.away').count(), 0, 'br1 is at home');
	await page.goto(`${base}/#/graph`);
	await page.locator('.graph-card[data-service="dns IPv4"] .graph-col[data-instance="site-c"] li[data-agent="br4"] .away', { hasText: mark }).waitFor({ timeout: 10000 });
	await page.goto(`${base}/#/agent/br4`);
	await page.locator('#agent-catchments tr[data-service="dns"][data-family="4"] .away', { hasText: mark }).waitFor({ timeout: 10000 });
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

test('a split cell lists every instance with its share (mock API)', { skip: !MOCK_URL && 'no mock in this run' }, async () => {
	/* no recorded phase splits: the mock takes the row as given */
	const res = await fetch(`${MOCK_URL}/mock/row`, { method: 'POST', body: JSON.stringify({
		agent: 'br3', service: 'dns', family: 6, status: 'split', instance: 'site-c', home: 'site-c', away: false,
		split_instances: [{ instance: 'site-b', share: 0.4 }, { instance: 'site-c', share: 0.6 }] }) });
	assert.equal(res.status, 200);
	const page = await newPage();
	await page.goto(`${MOCK_URL}/#/matrix`);
	const c = cell(page, 'br3', 'dns', 6);
	await c.and(page.locator('[data-status="split"]')).waitFor({ timeout: 10000 });
	assert.deepEqual(await c.locator('.split-part').allInnerTexts(), ['site-c 60 %', 'site-b 40 %']);
	await c.click();
	assert.match(await page.locator('#cell-detail').innerText(), /split\s+site-c 60 %\s+site-b 40 %/);
	await page.close();
});

test('an agent that stopped reporting turns grey "agent silent", and only then', async () => {
	const page = await newPage();
	await page.goto(`${BASE}/#/matrix`);
	const c = cell(page, 'br6', 'dns');
	await c.waitFor({ timeout: 10000 });
	/* br6 sent its last round at the start of the run */
	await c.and(page.locator('[data-agent-state="silent"]')).waitFor({ timeout: 60000 });
	assert.match(await c.getAttribute('class'), /is-silent/);
	assert.match(await c.innerText(), /agent silent/i);
	const bg = await c.evaluate((e) => getComputedStyle(e).backgroundColor);
	assert.ok(!redish(bg), `grey, not red: ${bg}`);
	assert.match(await page.locator('#matrix tr[data-agent="br6"] th').innerText(), /silent/);
	/* every other cell is grey exactly when its agent is silent: its row's
	 * agent_state, or (a collector without it) the agent list's state */
	const [cs, ags] = await Promise.all([api('catchments'), api('agents')]);
	const stale = new Set(ags.agents.filter((x) => x.state === 'stale').map((x) => x.name));
	for (const r of cs.catchments) {
		const want = r.agent_state ? r.agent_state : stale.has(r.agent) ? 'silent' : 'reporting';
		const got = await cell(page, r.agent, r.service, r.family).getAttribute('data-agent-state');
		assert.equal(got, want, `${r.agent} ${r.service} IPv${r.family}`);
	}
	await page.close();
});

test('the strip follows incidents live: br6 reports again and its agent_silent incident is resolved without a reload', async () => {
	const base = await incidentBase();
	const find = async (state) => (await api(`incidents?state=${state}&limit=100`, base)).incidents
		.find((i) => i.kind === 'agent_silent' && i.agents.some((a) => a.agent === 'br6'));
	const inc = await until(() => find('open'), 30000, 'the open agent_silent incident of br6');
	const page = await newPage();
	await page.goto(`${base}/#/matrix`);
	const item = page.locator(`#incidents a.inc[data-id="${inc.id}"]`);
	await item.and(page.locator('[data-state="open"]')).waitFor({ timeout: 10000 });
	assert.match(await item.innerText(), /agent silent/);
	await until(async () => (await page.getAttribute('#live', 'data-state')) === 'live', 10000, 'the live pill');
	await page.evaluate(() => { window.__sameDocument = true; });
	const t0 = Date.now();
	await feedMadeUp('br6', Date.now() - 4000, 3, 2000, () => false, [base]);
	await item.and(page.locator('[data-state="resolved"]')).waitFor({ timeout: 30000 });
	assert.match(await item.innerText(), /resolved after/);
	assert.equal(await page.evaluate(() => window.__sameDocument), true);
	console.log(`# br6's agent_silent incident shown resolved ${Date.now() - t0} ms after its rounds were sent`);
	await page.close();
	for (const b of TARGETS) if (b !== base) await feedMadeUp('br6', Date.now() - 4000, 3, 2000, () => false, [b]);
});

test('incident strip: open incidents first, then the last resolved ones; one click opens the incident', async () => {
	const base = await incidentBase();
	const open = (await api('incidents?state=open&limit=50', base)).incidents;
	const resolved = (await api('incidents?state=resolved&limit=10', base)).incidents;
	assert.ok(open.length > 0, 'the recording leaves incidents open (br2 ntp outage, br5 dns outage, hijack)');
	assert.ok(resolved.length > 0, 'and some resolved (br6 reported again)');

	const page = await newPage();
	await page.goto(`${base}/#/events`);
	const strip = page.locator('#incidents');
	await strip.locator('a.inc.is-open').first().waitFor({ timeout: 10000 });
	for (const w of ['/#/matrix', '/#/graph', '/#/agents'])
		await page.goto(base + w).then(() => strip.locator('a.inc.is-open').first().waitFor({ timeout: 10000 }));
	const items = strip.locator('a.inc');
	const states = await items.evaluateAll((as) => as.map((a) => a.dataset.state));
	assert.equal(states.filter((x) => x === 'open').length, open.length);
	assert.ok(states.includes('resolved'));
	assert.equal(states.lastIndexOf('open') < states.indexOf('resolved'), true, 'open ones first');
	assert.ok(states.filter((x) => x === 'resolved').length <= 3);

	const inc = open.find((i) => i.severity === 'critical') || open[0];
	const item = strip.locator(`a.inc[data-id="${inc.id}"]`);
	assert.match(await item.getAttribute('class'), new RegExp(`sev-${inc.severity}`));
	const text = await item.innerText();
	assert.ok(text.includes(inc.summary), text);
	assert.match(text, new RegExp(`since ${clock(inc.started)}`));
	const n = new Set(inc.agents.map((a) => a.agent)).size;
	assert.match(text, new RegExp(`${n} agents?`));
	const done = resolved[0];
	const rtext = await strip.locator(`a.inc[data-id="${done.id}"]`).innerText();
	assert.match(rtext, /resolved after (\d+ s|\d+ m \d+ s|\d+ h \d+ m)/);

	await item.click();
	await page.waitForURL(new RegExp(`#/incident/${inc.id}$`));
	const head = page.locator('#incident-head');
	await head.waitFor({ timeout: 10000 });
	const htext = await head.innerText();
	assert.ok(htext.includes(inc.summary));
	assert.match(htext, /state\s+open/i);
	assert.match(htext, new RegExp(`service\\s+${inc.service}`, 'i'));
	assert.match(htext, /started\s+\S/i);
	assert.match(htext, /ended\s+still open/i);
	const full = (await api(`incidents/${inc.id}`, base)).incident;
	const rows = page.locator('#incident-agents tbody tr');
	assert.equal(await rows.count(), full.agents.length);
	const a0 = full.agents[0];
	const r0 = await page.locator(`#incident-agents tbody tr[data-agent="${a0.agent}"]`).first().innerText();
	assert.match(r0, new RegExp(`${a0.agent}[\\s\\S]*IPv${a0.family || 4}`));
	/* the timeline: one group per agent, oldest first, every event of the incident */
	assert.ok(full.timeline.length > 0, 'the incident has its events');
	assert.ok(full.timeline.every((e) => e.incident === inc.id), 'each event names its incident');
	const groups = page.locator('#incident-timeline .inc-group');
	const byAgent = new Set(full.timeline.map((e) => e.agent || ''));
	assert.equal(await groups.count(), byAgent.size);
	assert.equal(await page.locator('#incident-timeline li.ev').count(), full.timeline.length);
	for (const g of await groups.all()) {
		const times = await g.locator('time').evaluateAll((ts) => ts.map((x) => Date.parse(x.getAttribute('datetime'))));
		assert.deepEqual(times, [...times].sort((x, y) => x - y));
	}
	await page.screenshot({ path: path.join(ARTIFACTS, 'incident-1440.png'), fullPage: true });
	await page.close();
});

test('every page fits 390, 768 and 1440 px without sideways scrolling; screenshots', async () => {
	const incBase = await incidentBase();
	const inc = (await api('incidents?limit=1', incBase)).incidents[0];
	const pages = [
		['matrix', BASE, '#/matrix', '#matrix'],
		['graph', BASE, '#/graph', '.graph-card'],
		['events', BASE, '#/events', '#timeline li'],
		['instances', BASE, '#/instances', '#instances'],
		['instance', BASE, '#/instance/site-a', '#rtt-chart canvas'],
		['agents', BASE, '#/agents', '#agents'],
		['agent', BASE, '#/agent/br4', '#agent-catchments'],
		['incident', incBase, `#/incident/${inc.id}`, '#incident-head'],
	];
	for (const width of WIDTHS) {
		const page = await newPage({ viewport: { width, height: 900 } });
		for (const [name, base, hash, ready] of pages) {
			await page.goto(`${base}/${hash}`);
			await page.locator(ready).first().waitFor({ timeout: 15000 });
			if (base === incBase) await page.locator('#incidents a.inc').first().waitFor({ timeout: 10000 });
			if (name === 'matrix') {
				/* with the detail panel open: it is the widest thing on the page */
				await cell(page, 'br2', 'dns').click();
				await page.locator('#cell-detail table.mini').waitFor({ timeout: 10000 });
				const right = await page.locator('#cell-detail').evaluate((e) => e.getBoundingClientRect().right);
				assert.ok(right <= width, `${width}px: the detail panel ends at ${right}px`);
			}
			if (name === 'agent') {
				/* every column is on screen, SINCE included */
				const boxes = await page.locator('#agent-catchments tbody tr').first().evaluate((tr) =>
					[...tr.querySelectorAll('td')].map((td) => { const r = td.getBoundingClientRect(); return [td.dataset.label, r.left, r.right, r.width]; }));
				assert.ok(boxes.some((x) => /since/.test(x[0])), 'a since column');
				for (const [label, left, right, w] of boxes)
					assert.ok(w > 0 && left >= 0 && right <= width + 0.5, `${width}px: agent page column ${label} at ${left}..${right}`);
				assert.match(await page.locator('#agent-catchments tbody tr').first().innerText(), /since|\d\d:\d\d:\d\d/i);
			}
			await page.waitForTimeout(200);
			const [sw, iw] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
			assert.ok(sw <= iw, `${name} at ${width}px: ${sw}px wide in a ${iw}px window`);
			await page.screenshot({ path: path.join(ARTIFACTS, `${name}-${width}.png`), fullPage: true });
		}
		await page.close();
	}
});

test('the page finishes loading: the load event fires and a virtual-time screenshot ends', async () => {
	const page = await newPage();
	await page.goto(`${BASE}/#/matrix`, { waitUntil: 'load', timeout: 15000 });
	const loaded = await page.evaluate(() => performance.getEntriesByType('navigation')[0].loadEventEnd);
	assert.ok(loaded > 0, 'load event done');
	/* the stream comes after it */
	await until(async () => (await page.getAttribute('#live', 'data-state')) === 'live', 10000, 'the live pill');
	await page.close();

	/* headless chromium's own screenshot waits for the network to go quiet:
	 * a stream held by the page would stop its virtual clock for good */
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anycast-vt-'));
	const shot = path.join(ARTIFACTS, 'virtual-time-matrix.png');
	fs.rmSync(shot, { force: true });
	const t0 = Date.now();
	const r = await new Promise((resolve) => execFile('/usr/bin/chromium', [...CHROMIUM_ARGS, `--user-data-dir=${dir}`,
		'--window-size=1440,900', '--virtual-time-budget=8000', `--screenshot=${shot}`, `${BASE}/#/matrix`],
	{ timeout: 60000 }, (err) => resolve(err)));
	fs.rmSync(dir, { recursive: true, force: true });
	assert.equal(r, null, `chromium --virtual-time-budget: ${r && (r.killed ? 'still running after 60 s' : r.message)}`);
	assert.ok(fs.statSync(shot).size > 10000, 'a screenshot with something on it');
	console.log(`# virtual-time screenshot in ${Date.now() - t0} ms`);
});

test('terminal view: anycast-collector status', { skip: MOCK && 'mock API run' }, async () => {
	const bin = path.join(process.env.ANYCAST_BIN, 'anycast-collector');
	const run = (args, env) => new Promise((resolve) => execFile(bin, args, { timeout: 20000, env: Object.assign({}, process.env, env) },
		(err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr })));
	const narrow = await run(['status', '--url', BASE, '--no-color', '--events', '100'], { COLUMNS: '' });
	assert.equal(narrow.code, 0, narrow.stderr);
	const widest = Math.max(...narrow.stdout.split('\n').map((l) => [...l].length));
	assert.ok(widest <= 100, `at most 100 columns, got ${widest}`);
	/* the incidents (open first) come before the matrix */
	assert.match(narrow.stdout, /^Incidents \(\d+ open\)\n/);
	assert.ok(narrow.stdout.indexOf('Incidents') < narrow.stdout.indexOf('Catchments'));
	const r = await run(['status', '--url', BASE, '--no-color', '--events', '100'], { COLUMNS: '220' });
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
	/* markup, then U+202E (right-to-left override) and U+200B: "a-etis" must
	 * not read as "site-a" */
	const evil = '<img src=x onerror="window.__pwned=1">\u202ea-etis\u200b';
	const shownEvil = '<img src=x onerror="window.__pwned=1">?a-etis?';
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
	await until(async () => (await evidence.innerText()).includes(shownEvil), 10000, 'the identity, literally, bidi neutralised');
	assert.ok(!(await page.locator('body').innerText()).includes('\u202e'), 'U+202E reached the page');
	assert.equal(await page.locator('#cell-detail img, #matrix img').count(), 0);
	assert.equal(await page.evaluate(() => window.__pwned), undefined);
	assert.equal(dialogs, 0);
	await page.close();
});

test('the instances list shows an instance its guard withdrew, and why', { skip: MOCK && 'mock API run' }, async () => {
	const report = async (seq, action) => {
		const res = await fetch(`${BASE}/api/v1/guard`, {
			method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${tokenOf('guard-b')}` },
			body: JSON.stringify({ actions: [{ seq, time: new Date().toISOString(), service: 'dns', instance: 'site-b',
				action, reason: action === 'withdraw' ? '3 failed probes: timeout on 198.18.255.53' : undefined }] }),
		});
		assert.equal(res.status, 200, `guard report: ${res.status} ${await res.text()}`);
	};
	await report(1, 'withdraw');
	const page = await newPage();
	await page.goto(`${BASE}/#/instances`);
	const cell = page.locator('#instances tr[data-instance="site-b"] td.withdrawn').first();
	await cell.waitFor({ timeout: 10000 });
	assert.match(await cell.innerText(), /withdrawn by its guard .*: 3 failed probes: timeout on 198\.18\.255\.53/);
	assert.equal(await page.locator('#instances tr[data-instance="site-a"] td.withdrawn').count(), 0);
	await report(2, 'restore');
	await page.reload();
	await page.locator('#instances tr[data-instance="site-b"]').first().waitFor({ timeout: 10000 });
	assert.equal(await page.locator('#instances td.withdrawn').count(), 0, 'still shown withdrawn after the restore');
	await page.close();
});

test('no page made a request outside the collector or raised a script error', () => {
	assert.deepEqual(foreignRequests, []);
	assert.deepEqual(pageErrors, []);
});
