// tests/web/mock_api.mjs - stand-in for the collector's read API, for working on the dashboard alone
//
// Serves web/ at / and answers GET /api/v1/{catchments,events,instances,agents,results,
// incidents,incidents/ID} and the event stream from the recorded fixtures, with
// deliberately simple rules: the latest anycast answer wins; no answer = outage;
// identity of no instance = unknown_instance; an agent's first instance is its
// home; an outage opens an incident that its recovery resolves, an unknown
// identity opens a hijack incident, a catchment change a route_change incident
// resolved on the next answer. POST /mock/phase?name=move adds a recorded
// phase, POST /mock/row (a JSON catchment row) overrides a row (e.g. a split),
// so live updates can be watched. The real browser test runs against anycast-collector.
// Usage: node tests/web/mock_api.mjs [PORT] [phase ...]   (default port 8099, no data)
// POST /api/v1/results is accepted too, agents told apart by TOKENS_DIR/<agent>.token.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const webDir = path.resolve(here, '../../web');
const port = Number(process.argv[2] || 8099);
const MIME = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json' };

let results = [];
const events = [];
const incidents = []; /* INC objects, id = index + 1 */
const openInc = new Map(); /* kind|key -> INC */
const overrides = new Map(); /* agent|service|family -> row members */
const lastPost = new Map(); /* agent -> wall-clock ms of its last report */
const streams = new Set();
const SILENT_MS = 35000;
const cur = new Map(); /* agent|service|family -> row */
let shift = 0;
const statusOf = new Map(); /* agent -> last posted status */

function addPhase(name) {
	const recs = fs.readFileSync(path.join(here, 'fixtures', name + '.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
	if (!results.length) shift = Date.now() - Date.parse(recs[recs.length - 1].time) - 2000;
	else shift = Math.max(shift, Date.now() - Date.parse(recs[recs.length - 1].time));
	for (const r of recs) r.time = new Date(Date.parse(r.time) + shift).toISOString();
	addRecords(recs);
}

/* agent name by Bearer token: TOKENS_DIR holds <agent>.token files */
function agentOf(req) {
	const m = /^Bearer (.+)$/.exec(req.headers.authorization || '');
	const dir = process.env.TOKENS_DIR;
	if (!m || !dir) return null;
	for (const f of fs.readdirSync(dir))
		if (f.endsWith('.token') && fs.readFileSync(path.join(dir, f), 'utf8').trim() === m[1].trim()) return f.slice(0, -6);
	return null;
}

function broadcast(type, data) {
	const msg = `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
	for (const res of streams) res.write(msg);
}

function incidentOf(kind, key, ev, fields) {
	let inc = openInc.get(kind + '|' + key);
	if (!inc) {
		inc = Object.assign({ id: incidents.length + 1, kind, state: 'open', severity: 'warning', service: ev.service,
			instance: ev.from_instance, agents: [], started: ev.time, updated: ev.time, ended: null, duration_s: null,
			summary: '', events: [] }, fields);
		incidents.push(inc);
		openInc.set(kind + '|' + key, inc);
	}
	return inc;
}
function touch(inc, ev) {
	inc.updated = ev.time;
	inc.events.push(ev.id);
	if (ev.incident === null) ev.incident = inc.id; /* the events API names one incident */
}
function resolve(inc, time) {
	inc.state = 'resolved';
	inc.ended = time;
	inc.updated = time;
	inc.duration_s = Math.round((Date.parse(time) - Date.parse(inc.started)) / 1000);
	for (const a of inc.agents) if (!a.ended) a.ended = time;
	for (const [k, v] of openInc) if (v === inc) openInc.delete(k);
}
function agentNames(inc) {
	return [...new Set(inc.agents.map((a) => a.agent))].join(', ');
}

/* incidents for one new event; returns the incidents changed */
function classify(ev, key) {
	const fam = ev.family === 6 ? 'IPv6' : 'IPv4';
	const changed = [];
	if (ev.type === 'outage') {
		const inc = incidentOf('outage', key, ev, { severity: 'critical' });
		inc.agents.push({ agent: ev.agent, family: ev.family, from_instance: ev.from_instance, to_instance: null, started: ev.time, ended: null });
		inc.summary = `${ev.agent} ${ev.service} ${fam}: no answer (last from ${ev.from_instance || 'nowhere'})`;
		touch(inc, ev);
		changed.push(inc);
	} else if (ev.type === 'recovery') {
		const inc = openInc.get('outage|' + key);
		if (inc) { touch(inc, ev); resolve(inc, ev.time); changed.push(inc); }
	} else if (ev.type === 'unknown_instance') {
		const inc = incidentOf('hijack', ev.service + '|' + ev.detail.identity, ev, { severity: 'critical', instance: null });
		inc.agents.push({ agent: ev.agent, family: ev.family, from_instance: ev.from_instance, to_instance: null, started: ev.time, ended: null });
		inc.summary = `${ev.service}: unknown identity ${ev.detail.identity} answers ${agentNames(inc)}`;
		touch(inc, ev);
		changed.push(inc);
	} else if (ev.type === 'catchment_change') {
		const inc = incidentOf('route_change', key, ev, { severity: 'info' });
		inc.agents.push({ agent: ev.agent, family: ev.family, from_instance: ev.from_instance, to_instance: ev.to_instance, started: ev.time, ended: null });
		inc.summary = `${ev.agent} ${ev.service} ${fam} moved from ${ev.from_instance} to ${ev.to_instance} (route change)`;
		touch(inc, ev);
		changed.push(inc);
	}
	if (ev.type !== 'unknown_instance')
		for (const [k, inc] of openInc)
			if (k.startsWith('hijack|') && inc.agents.some((a) => a.agent === ev.agent && a.family === ev.family && !a.ended)) {
				for (const a of inc.agents) if (a.agent === ev.agent && a.family === ev.family) a.ended = ev.time;
				touch(inc, ev);
				if (inc.agents.every((a) => a.ended)) resolve(inc, ev.time);
				changed.push(inc);
			}
	return changed;
}

function addRecords(recs) {
	const changed = new Set();
	let rowsChanged = false;
	for (const r of recs) {
		results.push(r);
		if (r.target !== 'anycast') continue;
		const key = `${r.agent}|${r.service}|${r.family}`;
		const prev = cur.get(key);
		const status = r.outcome !== 'ok' ? 'outage' : r.instance ? 'ok' : 'unknown_instance';
		const home = prev && prev.home ? prev.home : status === 'ok' ? r.instance : null;
		const row = { agent: r.agent, service: r.service, family: r.family, instance: r.instance, identity: r.identity,
			status, since: r.time, rtt_ms: r.rtt_ms, suboptimal: false, flapping: false, home,
			away: !!(r.instance && home && r.instance !== home), last_seen: r.outcome === 'ok' ? r.time : prev ? prev.last_seen : null,
			last_report: r.time };
		if (prev && prev.status === status && prev.instance === row.instance) row.since = prev.since;
		else rowsChanged = true;
		if (status === 'ok') {
			const rc = openInc.get('route_change|' + key);
			if (rc && prev && prev.status === 'ok' && prev.instance === r.instance) { resolve(rc, r.time); changed.add(rc); }
		}
		if (prev && (prev.status !== status || prev.instance !== row.instance)) {
			const type = status === 'outage' ? 'outage' : status === 'unknown_instance' ? 'unknown_instance' :
				prev.status === 'outage' ? 'recovery' : 'catchment_change';
			const ev = { id: events.length + 1, time: r.time, type, agent: r.agent, service: r.service, family: r.family,
				from_instance: prev.instance, to_instance: row.instance, incident: null,
				detail: type === 'catchment_change' ? { cause: 'route_change' } : type === 'unknown_instance' ? { identity: r.identity } : {} };
			events.push(ev);
			for (const inc of classify(ev, key)) changed.add(inc);
			broadcast('event', ev);
		}
		cur.set(key, row);
	}
	for (const inc of changed) broadcast('incident', inc);
	if (rowsChanged) broadcast('catchments', {});
}

function send(res, code, obj) {
	const body = JSON.stringify(obj);
	res.writeHead(code, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
	res.end(body);
}

function api(name, q) {
	const limit = Math.min(Number(q.get('limit') || 100), 1000);
	switch (name) {
	case 'catchments':
		return { catchments: [...cur.values()].map((r) => {
			const seen = lastPost.get(r.agent);
			return Object.assign({}, r, { agent_state: seen && Date.now() - seen > SILENT_MS ? 'silent' : 'reporting' },
				overrides.get(`${r.agent}|${r.service}|${r.family}`) || {});
		}) };
	case 'incidents': {
		let inc = incidents.slice().reverse();
		if (q.get('state')) inc = inc.filter((i) => i.state === q.get('state'));
		if (q.get('since')) inc = inc.filter((i) => (i.ended || i.updated) >= q.get('since'));
		return { incidents: inc.slice(0, limit) };
	}
	case 'events': {
		let ev = events.slice().reverse();
		for (const k of ['type', 'agent', 'service']) if (q.get(k)) ev = ev.filter((e) => e[k] === q.get(k));
		if (q.get('since')) ev = ev.filter((e) => e.time >= q.get('since'));
		return { events: ev.slice(0, limit) };
	}
	case 'agents':
		return { agents: [...new Set(results.map((r) => r.agent))].sort().map((a, i) => ({
			name: a, last_seen: results.filter((r) => r.agent === a).pop().time, version: '0.1.0',
			state: lastPost.has(a) && Date.now() - lastPost.get(a) > SILENT_MS ? 'stale' : 'ok',
			status: statusOf.get(a) || { uptime_s: 3600 + i, spool_depth: i === 3 ? 12 : 0, dropped: 0, send_errors: i === 3 ? 2 : 0, clock_offset_ms: 0.4 * i } })) };
	case 'instances': {
		const m = new Map();
		for (const r of results) {
			if (r.target !== 'management') continue;
			const k = `${r.instance}|${r.service}`;
			if (!m.has(k)) m.set(k, { name: r.instance, service: r.service, management: [r.address], agents: new Map() });
			const a = m.get(k).agents;
			const prev = a.get(r.agent);
			a.set(r.agent, { agent: r.agent, outcome: r.outcome, rtt_ms: r.rtt_ms,
				last_seen: r.outcome === 'ok' ? r.time : prev ? prev.last_seen : null });
		}
		return { instances: [...m.values()].map((i) => Object.assign(i, { agents: [...i.agents.values()] })) };
	}
	case 'results': {
		let rs = results;
		if (q.get('agent')) rs = rs.filter((r) => r.agent === q.get('agent'));
		if (q.get('service')) rs = rs.filter((r) => r.service === q.get('service'));
		if (q.get('from')) rs = rs.filter((r) => r.time >= q.get('from'));
		if (q.get('after_seq')) rs = rs.filter((r) => r.seq > Number(q.get('after_seq')));
		return { results: rs.slice(0, limit) };
	}
	}
	return null;
}

const server = http.createServer((req, res) => {
	const u = new URL(req.url, 'http://x');
	if (req.method === 'POST' && u.pathname === '/api/v1/results') {
		const agent = agentOf(req);
		if (!agent) return send(res, 401, { error: 'no or bad token' });
		let body = '';
		req.on('data', (d) => { body += d; });
		req.on('end', () => {
			const parsed = JSON.parse(body);
			if (parsed.status) statusOf.set(agent, parsed.status);
			const recs = parsed.results.map((r) => Object.assign(r, { agent }));
			lastPost.set(agent, Date.now());
			const quiet = openInc.get('agent_silent|' + agent);
			if (quiet) {
				resolve(quiet, new Date().toISOString());
				broadcast('incident', quiet);
			}
			addRecords(recs);
			send(res, 200, { stored: recs.length, duplicates: 0, last_seq: recs.length ? recs[recs.length - 1].seq : 0 });
		});
		return;
	}
	if (req.method === 'GET' && u.pathname === '/healthz') return send(res, 200, { ok: true });
	if (req.method === 'POST' && u.pathname === '/mock/phase') {
		addPhase(u.searchParams.get('name'));
		return send(res, 200, { ok: true });
	}
	if (req.method === 'POST' && u.pathname === '/mock/row') {
		let body = '';
		req.on('data', (d) => { body += d; });
		req.on('end', () => {
			const r = JSON.parse(body);
			overrides.set(`${r.agent}|${r.service}|${r.family || 4}`, r);
			broadcast('catchments', {});
			send(res, 200, { ok: true });
		});
		return;
	}
	if (req.method === 'GET' && u.pathname === '/api/v1/stream') {
		res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store' });
		res.write('retry: 3000\n\nevent: hello\ndata: {}\n\n');
		streams.add(res);
		req.on('close', () => streams.delete(res));
		return;
	}
	const one = u.pathname.match(/^\/api\/v1\/incidents\/(\d+)$/);
	if (req.method === 'GET' && one) {
		const inc = incidents[Number(one[1]) - 1];
		if (!inc) return send(res, 404, { error: 'no such incident' });
		const timeline = events.filter((e) => inc.events.includes(e.id)).map((e) => Object.assign({}, e, { incident: inc.id }));
		return send(res, 200, { incident: Object.assign({}, inc, { timeline }) });
	}
	const m = u.pathname.match(/^\/api\/v1\/(\w+)$/);
	if (m) {
		const body = api(m[1], u.searchParams);
		return body ? send(res, 200, body) : send(res, 404, { error: 'not found' });
	}
	const file = path.join(webDir, path.normalize(u.pathname === '/' ? '/index.html' : u.pathname));
	if (!file.startsWith(webDir) || !fs.existsSync(file) || fs.statSync(file).isDirectory())
		return send(res, 404, { error: 'not found' });
	res.writeHead(200, { 'Content-Type': MIME[path.extname(file)] || 'application/octet-stream' });
	fs.createReadStream(file).pipe(res);
});

/* an agent that stops reporting opens an agent_silent incident; its next report resolves it */
setInterval(() => {
	for (const [agent, t] of lastPost) {
		if (Date.now() - t <= SILENT_MS || openInc.has('agent_silent|' + agent)) continue;
		const time = new Date().toISOString();
		const ev = { id: events.length + 1, time, type: 'agent_silent', agent, service: null, family: null,
			from_instance: null, to_instance: null, incident: null, detail: {} };
		events.push(ev);
		const inc = incidentOf('agent_silent', agent, ev, { severity: 'warning', service: null, instance: null });
		inc.agents.push({ agent, family: null, from_instance: null, to_instance: null, started: time, ended: null });
		inc.summary = `agent ${agent} silent: no reports`;
		touch(inc, ev);
		broadcast('event', ev);
		broadcast('incident', inc);
	}
}, 1000).unref();

for (const p of process.argv.slice(3)) if (p !== '--empty') addPhase(p);
server.listen(port, '127.0.0.1', () => console.log(`mock API on http://127.0.0.1:${port}/`));
