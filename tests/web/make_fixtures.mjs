// tests/web/make_fixtures.mjs - writes the recorded scenario the browser test feeds to the collector
//
// Four branches probe two anycast services (dns, ntp) served by three
// instances, every 5 s, the way anycast-agent does in the lab: for DNS an
// NSID and an id.server query to the anycast address plus one id.server
// query to each instance's management address; for NTP one anycast query
// plus one per management address. Phases (one JSON-lines file each):
//   initial  rounds 1-10: branch-2 dns moves site-a -> site-b at round 5
//            (route change: site-a still answers on its management address);
//            branch-4 ntp stops answering from round 6 (outage)
//   move     rounds 11-14: branch-1 dns moves site-a -> site-c (failover:
//            site-a's management address times out too)
//   hijack   rounds 15-18: branch-3 dns answered by an identity no instance
//            has (unknown instance)
// Times are from a fixed recording day; the test shifts them to "now".
// Usage: node tests/web/make_fixtures.mjs   (rewrites tests/web/fixtures/*.jsonl)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, 'fixtures');

const T0 = Date.parse('2026-11-20T09:00:00.000Z');
const AGENTS = ['branch-1', 'branch-2', 'branch-3', 'branch-4'];
const INST = {
	'site-a': { mgmt: '198.18.1.2', dns: 'ns1.site-a.lab', ntp: { stratum: 2, refid: '198.18.9.1' } },
	'site-b': { mgmt: '198.18.2.2', dns: 'ns1.site-b.lab', ntp: { stratum: 2, refid: '198.18.9.1' } },
	'site-c': { mgmt: '198.18.3.2', dns: 'ns1.site-c.lab', ntp: { stratum: 3, refid: '198.18.9.2' } },
};
/* base RTT in ms from each branch to each instance's site */
const RTT = {
	'branch-1': { 'site-a': 1.9, 'site-b': 7.8, 'site-c': 12.4 },
	'branch-2': { 'site-a': 5.1, 'site-b': 4.6, 'site-c': 11.0 },
	'branch-3': { 'site-a': 8.3, 'site-b': 2.2, 'site-c': 9.7 },
	'branch-4': { 'site-a': 13.5, 'site-b': 9.9, 'site-c': 3.1 },
};

let rng = 0x2545f491;
function rand() {
	rng ^= rng << 13; rng ^= rng >>> 17; rng ^= rng << 5;
	return ((rng >>> 0) % 100000) / 100000;
}
const jitter = (ms) => Math.round(ms * (0.9 + 0.35 * rand()) * 1000) / 1000;
const iso = (ms) => new Date(ms).toISOString();

/* who answers the anycast address for (agent, service) in a round; null = nobody */
function catchment(agent, svc, round) {
	if (agent === 'branch-1' && svc === 'dns') return round >= 11 ? 'site-c' : 'site-a';
	if (agent === 'branch-2' && svc === 'dns') return round >= 5 ? 'site-b' : 'site-a';
	if (agent === 'branch-3' && svc === 'dns' && round >= 15) return 'rogue';
	if (agent === 'branch-4' && svc === 'ntp' && round >= 6) return null;
	return { 'branch-1': 'site-a', 'branch-2': 'site-a', 'branch-3': 'site-b', 'branch-4': 'site-c' }[agent];
}
function mgmtUp(inst, round) {
	return !(inst === 'site-a' && round >= 11);
}
function ntpFields(inst, t) {
	const f = INST[inst].ntp;
	/* each server updates its clock every 64 s: the reference time shows it */
	const ref = Math.floor((t - 1000 * (inst.charCodeAt(5) - 97)) / 64000) * 64000 + 1000 * (inst.charCodeAt(5) - 97);
	return { stratum: f.stratum, leap: 0, refid: f.refid, reference_time: iso(ref),
		offset_ms: Math.round((rand() - 0.5) * 400) / 1000, root_delay_ms: 12.5, root_dispersion_ms: 3.2, kod: null };
}

function round(agent, n, seq) {
	const t = T0 + (n - 1) * 5000 + 37 * AGENTS.indexOf(agent);
	const recs = [];
	const base = (svc, address, target, off) => ({
		seq: seq.next++, round: n, time: iso(t + off), service: svc, address, family: 4, target,
	});
	/* dns */
	const who = catchment(agent, 'dns', n);
	for (const [i, q] of ['nsid', 'id.server'].entries()) {
		const r = base('dns', '198.18.255.53', 'anycast', i * 3);
		if (who === 'rogue') {
			Object.assign(r, { instance: null, identity: 'cache7.evil.example', identity_source: q, query: q, transport: 'udp',
				outcome: 'ok', rcode: 'NOERROR', rtt_ms: jitter(6.2) });
		} else {
			Object.assign(r, { instance: who, identity: INST[who].dns, identity_source: q, query: q, transport: 'udp',
				outcome: 'ok', rcode: 'NOERROR', rtt_ms: jitter(RTT[agent][who]) });
		}
		recs.push(r);
	}
	for (const [k, inst] of Object.keys(INST).entries()) {
		const r = base('dns', INST[inst].mgmt, 'management', 10 + k);
		if (mgmtUp(inst, n))
			Object.assign(r, { instance: inst, identity: INST[inst].dns, identity_source: 'id.server', query: 'id.server',
				transport: 'udp', outcome: 'ok', rcode: 'NOERROR', rtt_ms: jitter(RTT[agent][inst]) });
		else
			Object.assign(r, { instance: inst, identity: null, identity_source: null, query: 'id.server', transport: 'udp',
				outcome: 'timeout', rcode: null, rtt_ms: null });
		recs.push(r);
	}
	/* ntp: management first (the fingerprints), then the anycast query */
	for (const [k, inst] of Object.keys(INST).entries()) {
		const r = base('ntp', INST[inst].mgmt, 'management', 20 + k);
		if (mgmtUp(inst, n))
			Object.assign(r, { instance: inst, identity: null, identity_source: null, query: 'ntp', transport: 'udp',
				outcome: 'ok', rcode: null, rtt_ms: jitter(RTT[agent][inst]) }, ntpFields(inst, t));
		else
			Object.assign(r, { instance: inst, identity: null, identity_source: null, query: 'ntp', transport: 'udp',
				outcome: 'timeout', rcode: null, rtt_ms: null });
		recs.push(r);
	}
	const nw = catchment(agent, 'ntp', n);
	const r = base('ntp', '198.18.255.123', 'anycast', 30);
	if (nw) {
		const f = ntpFields(nw, t);
		Object.assign(r, { instance: nw, identity: `stratum ${f.stratum} refid ${f.refid} ref ${f.reference_time}`,
			identity_source: 'ntp-fingerprint', query: 'ntp', transport: 'udp', outcome: 'ok', rcode: null,
			rtt_ms: jitter(RTT[agent][nw]) }, f);
	} else {
		Object.assign(r, { instance: null, identity: null, identity_source: null, query: 'ntp', transport: 'udp',
			outcome: 'timeout', rcode: null, rtt_ms: null });
	}
	recs.push(r);
	return recs;
}

const seqs = Object.fromEntries(AGENTS.map((a) => [a, { next: 1 }]));
const phases = [['initial', 1, 10], ['move', 11, 14], ['hijack', 15, 18]];
fs.mkdirSync(out, { recursive: true });
for (const [name, from, to] of phases) {
	const lines = [];
	for (let n = from; n <= to; n++)
		for (const a of AGENTS)
			for (const r of round(a, n, seqs[a])) lines.push(JSON.stringify(Object.assign({ agent: a }, r)));
	fs.writeFileSync(path.join(out, `${name}.jsonl`), lines.join('\n') + '\n');
	console.log(`${name}.jsonl: ${lines.length} records, rounds ${from}-${to}`);
}
