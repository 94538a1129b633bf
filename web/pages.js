/* web/pages.js - instance and agent views: lists, management health, RTT charts, agent state */
'use strict';

(function (AM) {
	const { h, fill, api, list, timeEl, fmtMs, family, instanceChip, instanceColour, eventLine } = AM;

	/* /api/v1/instances, flattened to one entry per (instance, service) with a
	 * list of what each agent sees of its management address. Accepts
	 * "agents", "health" or "seen_from" as the name of that list. */
	function normInstances(body) {
		return list(body, 'instances').map((i) => {
			const seen = i.agents || i.health || i.seen_from || i.from_agents || [];
			return {
				name: i.name || i.instance,
				service: i.service || '',
				management: Array.isArray(i.management) ? i.management : i.management ? [i.management] : [],
				identity: i.identity || '',
				status: i.status || i.state || '',
				/* null, or {since, reason}: its guard took it out of the routing */
				withdrawn: i.withdrawn && typeof i.withdrawn === 'object' ? i.withdrawn : null,
				checks: Array.isArray(i.checks) ? i.checks : [],
				agents: (Array.isArray(seen) ? seen : Object.entries(seen).map(([a, v]) => Object.assign({ agent: a }, v)))
					.map((a) => ({
						agent: a.agent || a.name, outcome: a.outcome || a.status || '',
						rtt_ms: a.rtt_ms, last_seen: a.last_seen || a.time || a.last_ok || null,
						address: a.address || '', up: a.up,
					})),
			};
		}).filter((i) => i.name);
	}
	function isUp(a) {
		if (typeof a.up === 'boolean') return a.up;
		return a.outcome === 'ok' || a.outcome === 'up';
	}

	/* ---------- instances list ---------- */

	function instancesView() {
		let box;
		return {
			title: 'Instances',
			mount(root) {
				box = h('div', {}, h('p', { class: 'muted' }, 'loading…'));
				fill(root, h('div', { class: 'view-head' }, h('h2', {}, 'Instances')),
					h('p', { class: 'lede' }, 'Health of each instance’s management (unicast) address, seen from every agent, and the agents in its catchment.'), box);
			},
			async refresh() {
				const [ib, cb] = await Promise.all([api('instances'), api('catchments')]);
				const inst = normInstances(ib), rows = list(cb, 'catchments');
				if (!inst.length) return fill(box, h('p', { class: 'empty' }, 'No instances configured.'));
				/* answer-integrity checks: the serial each instance gives, marked when behind */
				const withChecks = inst.some((i) => i.checks.length);
				const serialCell = (i) => h('td', { class: i.checks.some((c) => c.behind_since) ? 'bad' : '' },
					i.checks.length ? i.checks.map((c) => `${c.check} ${c.serial == null ? '—' : c.serial}` +
						(c.behind_since ? ' (behind)' : '')).join(', ') : h('span', { class: 'muted' }, '—'));
				const heads = ['instance', 'service', 'management', 'seen up from', 'routing', 'catchment'].concat(withChecks ? ['zone serial'] : []);
				fill(box, h('div', { class: 'scroll' }, h('table', { class: 'data', id: 'instances' },
					h('thead', {}, h('tr', {}, heads.map((t) => h('th', {}, t)))),
					h('tbody', {}, inst.sort((a, b) => a.name.localeCompare(b.name) || a.service.localeCompare(b.service)).map((i) => {
						/* an agent sees the instance up when every address it probes answers */
						const seen = [...new Set(i.agents.map((a) => a.agent))];
						const up = seen.filter((n) => i.agents.filter((a) => a.agent === n).every(isUp)).length;
						const caught = new Set(rows.filter((r) => r.instance === i.name && r.service === i.service && r.status !== 'outage')
							.map((r) => r.agent)).size;
						return h('tr', { dataset: { instance: i.name } },
							h('td', {}, instanceChip(i.name)), h('td', {}, i.service),
							h('td', {}, h('code', {}, i.management.join(', ') || '—')),
							h('td', { class: seen.length && up < seen.length ? 'bad' : '' },
								seen.length ? `${up} / ${seen.length} agents` : h('span', { class: 'muted' }, 'no reports')),
							i.withdrawn
								? h('td', { class: 'bad withdrawn', title: i.withdrawn.reason || '' },
									'withdrawn by its guard ', timeEl(i.withdrawn.since, { rel: true }),
									i.withdrawn.reason ? h('span', { class: 'muted' }, `: ${i.withdrawn.reason}`) : null)
								: h('td', { class: 'muted' }, '—'),
							h('td', {}, `${caught} agent${caught === 1 ? '' : 's'}`),
							withChecks ? serialCell(i) : null);
					})))));
			},
		};
	}

	/* ---------- one instance ---------- */

	const WINDOW_MS = 30 * 60e3;
	const PAGE = 1000;      /* results per request (the API's maximum) */
	const MAX_PAGES = 8;    /* per agent and refresh */

	function instanceView(name) {
		let healthBox, chartBox;
		const plots = new Map(); /* service -> {plot, sig} */
		/* per agent: highest seq fetched, and [t_s, rtt|null, service] samples */
		const series = new Map();

		/* Results come oldest first; a busy agent has more in the window than
		 * MAX_PAGES pages: then start later, where MAX_PAGES pages reach now. */
		async function fetchAgent(agent) {
			let s = series.get(agent);
			if (!s) { s = { after: null, pts: [] }; series.set(agent, s); }
			let recs;
			if (s.after === null) {
				const from = Date.now() - WINDOW_MS;
				recs = list(await api('results', { agent, limit: PAGE, from: new Date(from).toISOString() }), 'results');
				if (recs.length === PAGE) {
					const first = Date.parse(recs[0].time), last = Date.parse(recs[PAGE - 1].time);
					const span = Math.max(last - first, 1);
					if ((Date.now() - first) / span > MAX_PAGES)
						recs = list(await api('results', { agent, limit: PAGE,
							from: new Date(Date.now() - span * (MAX_PAGES - 1)).toISOString() }), 'results');
				}
			}
			for (let page = 0; page < MAX_PAGES; page++) {
				if (!recs) recs = list(await api('results', { agent, limit: PAGE, after_seq: s.after }), 'results');
				for (const r of recs) {
					if (typeof r.seq === 'number' && (s.after === null || r.seq > s.after)) s.after = r.seq;
					if (r.target !== 'management' || r.instance !== name) continue;
					const t = AM.parseTime(r.time);
					if (!t) continue;
					s.pts.push([t.getTime() / 1000, r.outcome === 'ok' && typeof r.rtt_ms === 'number' ? r.rtt_ms : null, r.service, r.family || 4]);
				}
				if (recs.length < PAGE || s.after === null) break;
				recs = null;
			}
			const cut = (Date.now() - WINDOW_MS) / 1000;
			s.pts = s.pts.filter((p) => p[0] >= cut);
		}

		/* one chart per service: DNS and NTP answer the same address with different delays */
		function drawChart() {
			const svcs = [...new Set([...series.values()].flatMap((s) => s.pts.map((p) => p[2])))].sort();
			if (!svcs.length) {
				for (const p of plots.values()) p.plot.destroy();
				plots.clear();
				return fill(chartBox, h('p', { class: 'empty' }, 'No management probes in the last 30 minutes.'));
			}
			if (!chartBox.querySelector('.chart-svc')) chartBox.replaceChildren();
			for (const svc of svcs) drawService(svc);
		}

		function drawService(svc) {
			const agents = [...series.keys()].filter((a) => series.get(a).pts.some((p) => p[2] === svc)).sort();
			/* one line per agent and address family (dashed for IPv6) */
			const fams = [...new Set(agents.flatMap((a) => series.get(a).pts.filter((p) => p[2] === svc).map((p) => p[3])))].sort();
			const lines = agents.flatMap((a, ai) => fams.filter((f) => series.get(a).pts.some((p) => p[2] === svc && p[3] === f))
				.map((f) => ({ agent: a, fam: f, ai })));
			const mine = (l) => series.get(l.agent).pts.filter((p) => p[2] === svc && p[3] === l.fam);
			/* uPlot wants one shared x axis: merge the sample times */
			const xs = [...new Set(lines.flatMap((l) => mine(l).map((p) => p[0])))].sort((a, b) => a - b);
			const idx = new Map(xs.map((x, i) => [x, i]));
			const ys = lines.map((l) => {
				const y = new Array(xs.length).fill(null);
				for (const p of mine(l)) y[idx.get(p[0])] = p[1];
				return y;
			});
			const sig = lines.map((l) => l.agent + '/' + l.fam).join(',');
			const cur = plots.get(svc);
			if (cur && cur.sig === sig) {
				cur.plot.setData([xs, ...ys]);
				return;
			}
			if (cur) cur.plot.destroy();
			let box = chartBox.querySelector(`.chart-svc[data-service="${CSS.escape(svc)}"]`);
			if (!box) {
				box = h('div', { class: 'chart-svc', dataset: { service: svc } });
				chartBox.appendChild(h('div', {}, h('h4', {}, svc), box));
			}
			box.replaceChildren();
			const dark = matchMedia('(prefers-color-scheme: dark)').matches;
			const axis = { stroke: dark ? '#c9d1d9' : '#333', grid: { stroke: dark ? '#30363d' : '#e5e7eb' }, ticks: { stroke: dark ? '#30363d' : '#e5e7eb' } };
			const agentPalette = ['#2f6fdf', '#e08a00', '#1f9d55', '#8a4fd8', '#0f9fa8', '#d14fa6', '#a0682f', '#6b8e23'];
			const plot = new uPlot({
				width: Math.max(280, chartBox.clientWidth || 600), height: 220,
				series: [{}, ...lines.map((l) => ({
					label: fams.length > 1 ? `${l.agent} ${family(l.fam)}` : l.agent,
					stroke: agentPalette[l.ai % agentPalette.length], width: 1.5, spanGaps: true,
					dash: l.fam === 6 ? [6, 4] : undefined,
					value: (u, v) => (v === null ? '—' : v.toFixed(2) + ' ms'),
				}))],
				axes: [Object.assign({}, axis), Object.assign({ label: 'RTT (ms)', size: 60 }, axis)],
				scales: { x: { time: true } },
			}, [xs, ...ys], box);
			plots.set(svc, { plot, sig });
		}

		function drawHealth(inst) {
			if (!inst.length) return fill(healthBox, h('p', { class: 'empty' }, `No instance named “${name}” is configured.`));
			fill(healthBox, inst.map((i) => h('section', { class: 'card' },
				h('h3', {}, i.service, ' ', h('span', { class: 'muted small' }, 'management ', h('code', {}, i.management.join(', ') || '—'),
					i.identity ? [' · identity ', h('code', {}, i.identity)] : null)),
				i.agents.length ? h('div', { class: 'scroll' }, h('table', { class: 'data health', dataset: { service: i.service } },
					h('thead', {}, h('tr', {}, ['seen from', 'address', 'state', 'RTT', 'last probe'].map((t) => h('th', {}, t)))),
					h('tbody', {}, i.agents.sort((a, b) => String(a.agent).localeCompare(b.agent) || String(a.address).localeCompare(b.address)).map((a) => h('tr', {},
						h('td', {}, h('a', { href: '#/agent/' + encodeURIComponent(a.agent) }, a.agent)),
						h('td', {}, h('code', {}, a.address || '—')),
						h('td', { class: isUp(a) ? 'good' : 'bad' }, isUp(a) ? '● up' : '✕ ' + (a.outcome || 'down')),
						h('td', { class: 'num' }, fmtMs(a.rtt_ms)),
						h('td', {}, timeEl(a.last_seen, { rel: true }))))))) :
					h('p', { class: 'muted' }, 'No agent has probed this address yet.'))));
		}

		return {
			title: 'Instance ' + name,
			mount(root) {
				healthBox = h('div', {}, h('p', { class: 'muted' }, 'loading…'));
				chartBox = h('div', { class: 'chart', id: 'rtt-chart' });
				const bg = instanceColour(name);
				fill(root, h('div', { class: 'view-head' },
					h('h2', {}, h('span', { class: 'dot', style: { background: bg } }), 'Instance ', name),
					h('a', { href: '#/instances', class: 'back' }, '← all instances')),
				healthBox,
				h('section', { class: 'card' }, h('h3', {}, 'Management address RTT per agent, up to the last 30 minutes'), chartBox));
			},
			async refresh(ctx) {
				const inst = normInstances(await api('instances')).filter((i) => i.name === name);
				drawHealth(inst);
				await Promise.all(ctx.agents.map(fetchAgent));
				drawChart();
			},
			unmount() {
				for (const p of plots.values()) p.plot.destroy();
				plots.clear();
			},
		};
	}

	/* ---------- agents ---------- */

	const STALE_MS = 60e3;
	/* a few rounds in flight are normal; a backlog this deep means reports are not getting through */
	const SPOOL_WARN = 200;

	function agentState(a) {
		if (a.state === 'ok') return ['reporting', 'good'];
		if (a.state === 'stale') return ['silent', 'bad'];
		if (a.state === 'never') return ['never reported', 'bad'];
		const d = AM.parseTime(a.last_seen);
		if (!d) return ['never', 'bad'];
		return Date.now() - d.getTime() > STALE_MS ? ['silent', 'bad'] : ['reporting', 'good'];
	}
	function st(a) {
		return a.status && typeof a.status === 'object' ? a.status : {};
	}
	function num(v, unit) {
		return typeof v === 'number' && isFinite(v) ? `${Math.round(v * 100) / 100}${unit || ''}` : '—';
	}
	function uptime(s) {
		if (typeof s !== 'number') return '—';
		if (s < 120) return `${Math.round(s)} s`;
		if (s < 7200) return `${Math.round(s / 60)} min`;
		if (s < 172800) return `${Math.round(s / 3600)} h`;
		return `${Math.round(s / 86400)} d`;
	}

	function agentsView() {
		let box;
		return {
			title: 'Agents',
			mount(root) {
				box = h('div', {}, h('p', { class: 'muted' }, 'loading…'));
				fill(root, h('div', { class: 'view-head' }, h('h2', {}, 'Agents')),
					h('p', { class: 'lede' }, 'The vantage points: when each last reported and the state it sent with it.'), box);
			},
			async refresh() {
				const agents = list(await api('agents'), 'agents');
				if (!agents.length) return fill(box, h('p', { class: 'empty' }, 'No agents configured.'));
				fill(box, h('div', { class: 'scroll' }, h('table', { class: 'data', id: 'agents' },
					h('thead', {}, h('tr', {}, ['agent', 'state', 'last seen', 'version', 'uptime', 'spool', 'dropped', 'send errors', 'clock offset'].map((t) => h('th', {}, t)))),
					h('tbody', {}, agents.sort((a, b) => a.name.localeCompare(b.name)).map((a) => {
						const [txt, cls] = agentState(a), s = st(a);
						return h('tr', { dataset: { agent: a.name } },
							h('td', {}, h('a', { href: '#/agent/' + encodeURIComponent(a.name) }, a.name)),
							h('td', { class: cls }, txt), h('td', {}, timeEl(a.last_seen, { rel: true })),
							h('td', {}, a.version || '—'), h('td', { class: 'num' }, uptime(s.uptime_s)),
							h('td', { class: 'num' + (s.spool_depth > SPOOL_WARN ? ' warn' : '') }, num(s.spool_depth)),
							h('td', { class: 'num' + (s.dropped > 0 ? ' bad' : '') }, num(s.dropped)),
							h('td', { class: 'num' + (s.send_errors > 0 ? ' warn' : '') }, num(s.send_errors)),
							h('td', { class: 'num' + (Math.abs(s.clock_offset_ms) > 100 ? ' warn' : '') }, num(s.clock_offset_ms, ' ms')));
					})))));
			},
		};
	}

	function agentView(name) {
		let infoBox, catchBox, evBox;
		return {
			title: 'Agent ' + name,
			mount(root) {
				infoBox = h('div', {}, h('p', { class: 'muted' }, 'loading…'));
				catchBox = h('div', {});
				evBox = h('div', {});
				fill(root, h('div', { class: 'view-head' }, h('h2', {}, 'Agent ', name),
					h('a', { href: '#/agents', class: 'back' }, '← all agents')),
				infoBox,
				h('section', { class: 'card' }, h('h3', {}, 'Catchments'), catchBox),
				h('section', { class: 'card' }, h('h3', {}, 'Recent events ', h('a', { class: 'small', href: '#/events?agent=' + encodeURIComponent(name) }, 'all…')), evBox));
			},
			async refresh() {
				const [ab, cb, eb] = await Promise.all([api('agents'), api('catchments'), api('events', { agent: name, limit: 10 })]);
				const a = list(ab, 'agents').find((x) => x.name === name);
				if (!a) {
					fill(infoBox, h('p', { class: 'empty' }, `No agent named “${name}” is configured.`));
				} else {
					const [txt, cls] = agentState(a), s = st(a);
					const item = (k, v, cls) => h('div', { class: 'kv-item' }, h('dt', {}, k), h('dd', { class: cls || '' }, v));
					fill(infoBox, h('section', { class: 'card' }, h('dl', { class: 'kv-grid', id: 'agent-info' },
						item('state', txt, cls),
						item('last seen', timeEl(a.last_seen, { rel: true })),
						item('version', a.version || '—'),
						item('uptime', uptime(s.uptime_s)),
						item('spool depth', num(s.spool_depth), s.spool_depth > SPOOL_WARN ? 'warn' : ''),
						item('dropped', num(s.dropped), s.dropped > 0 ? 'bad' : ''),
						item('send errors', num(s.send_errors)),
						item('clock offset', num(s.clock_offset_ms, ' ms'), Math.abs(s.clock_offset_ms) > 100 ? 'warn' : ''))));
				}
				const rows = list(cb, 'catchments').filter((r) => r.agent === name)
					.sort((x, y) => x.service.localeCompare(y.service) || (x.family || 4) - (y.family || 4));
				const states = { [name]: a ? a.state : '' };
				const cellOf = (label, content, cls) => h('td', { class: cls || null, dataset: { label } }, content);
				fill(catchBox, rows.length ? h('table', { class: 'data stack', id: 'agent-catchments' },
					h('thead', {}, h('tr', {}, ['service', 'instance', 'status', 'RTT', 'since'].map((t) => h('th', {}, t)))),
					h('tbody', {}, rows.map((r) => h('tr', { dataset: { service: r.service, family: r.family || 4, status: r.status } },
						cellOf('service', `${r.service} ${family(r.family)}`),
						cellOf('instance', [r.instance ? instanceChip(r.instance) : h('span', { class: 'muted' }, r.identity ? `unknown: ${r.identity}` : '—'),
							AM.splitParts(r).length ? h('span', { class: 'split-parts' }, AM.splitParts(r).map((p) => h('span', { class: 'split-part' }, instanceChip(p.instance), ' ', AM.shareText(p)))) : null,
							AM.awayMark(r)]),
						cellOf('status', [r.status.replace('_', ' ') + (r.suboptimal ? ', sub-optimal' : '') + (r.flapping ? ', flapping' : ''),
							AM.isSilent(r, states) ? h('span', { class: 'silent-note' }, 'agent silent') : null], r.status === 'ok' ? 'good' : 'bad'),
						cellOf('RTT', fmtMs(r.rtt_ms), 'num'),
						cellOf(r.status === 'outage' ? 'outage since' : 'since', timeEl(r.since, { rel: true }), 'since')))))
					: h('p', { class: 'muted' }, 'No catchment data for this agent yet.'));
				const evs = AM.newestFirst(list(eb, 'events'));
				fill(evBox, evs.length ? h('ul', { class: 'timeline' }, evs.map(eventLine)) : h('p', { class: 'muted' }, 'none'));
			},
		};
	}

	AM.pages = { instances: instancesView, instance: instanceView, agents: agentsView, agent: agentView };
	AM.normInstances = normInstances;
})(window.AM);
