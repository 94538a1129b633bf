/* web/views.js - catchment matrix, catchment graph and event timeline views */
'use strict';

(function (AM) {
	const { h, fill, api, list, timeEl, sinceText, fmtMs, family, instanceChip, instanceColour,
		inkFor, EVENT_TYPES, EVENT_LABEL } = AM;

	/* A view is {title, mount(el, route), refresh()}: mount draws the frame
	 * once, refresh (called on live updates) fetches and redraws the data. */

	function columnsOf(rows) {
		const seen = new Map();
		for (const r of rows) {
			const key = r.service + '/' + (r.family || 4);
			if (!seen.has(key)) seen.set(key, { key, service: r.service, family: r.family || 4 });
		}
		const cols = [...seen.values()].sort((a, b) =>
			a.service.localeCompare(b.service) || a.family - b.family);
		/* show the family only for services measured on both */
		const fams = new Map();
		for (const c of cols) fams.set(c.service, (fams.get(c.service) || 0) + 1);
		for (const c of cols) c.label = fams.get(c.service) > 1 ? `${c.service} ${family(c.family)}` : c.service;
		return cols;
	}
	function rowKey(r) {
		return `${r.agent}|${r.service}|${r.family || 4}`;
	}

	const STATUS_TEXT = {
		ok: 'answering', outage: 'no answer (outage)', unknown_instance: 'UNKNOWN instance: possible hijack',
		split: 'split: answers from several instances',
	};

	/* Is the agent behind this row silent (stopped reporting)? The row's own
	 * agent_state says so; a collector without it is asked through the agent
	 * list (states: agent name -> "ok" | "stale" | "never"). The age of the
	 * last answer says nothing: an outage answers nothing for as long as it lasts. */
	function isSilent(r, states) {
		if (typeof r.agent_state === 'string') return r.agent_state === 'silent';
		return !!states && states[r.agent] === 'stale';
	}
	/* "away: site-b (home site-a)" when the row answers from another instance than its usual one */
	function awayText(r) {
		if (!r.away || !r.instance) return null;
		return `away: ${r.instance}` + (r.home ? ` (home ${r.home})` : '');
	}
	function awayMark(r) {
		const t = awayText(r);
		return t ? h('span', { class: 'away', title: `${r.agent} usually reaches ${r.home || '?'}; now ${r.instance}` }, t) : null;
	}
	/* split rows: [{instance, share}] with a share in 0..1, largest first */
	function splitParts(r) {
		if (!Array.isArray(r.split_instances)) return [];
		return r.split_instances.filter((p) => p && p.instance)
			.slice().sort((a, b) => (b.share || 0) - (a.share || 0));
	}
	function shareText(p) {
		return typeof p.share === 'number' ? `${Math.round(p.share * 100)} %` : '';
	}

	function cellTitle(r, states) {
		const lines = [`${r.agent} → ${r.service} ${family(r.family)}`];
		if (r.status === 'unknown_instance') lines.push(`UNKNOWN instance, identity "${r.identity || '?'}"`);
		else if (r.status === 'outage') lines.push('no answer (outage)');
		else lines.push(`instance ${r.instance || '?'}` + (r.identity ? ` (${r.identity})` : ''));
		if (r.status === 'split') {
			const parts = splitParts(r);
			lines.push('split: answers from ' + (parts.length ? parts.map((p) => `${p.instance} ${shareText(p)}`.trim()).join(', ') : 'several instances'));
		}
		if (awayText(r)) lines.push(awayText(r));
		lines.push('RTT ' + fmtMs(r.rtt_ms));
		const d = AM.parseTime(r.since);
		if (d) lines.push(`since ${d.toLocaleString()} (${sinceText(r.since)}) · ${AM.utcText(d)}`);
		if (isSilent(r, states)) lines.push('agent silent: no report' + (r.last_report ? ' since ' + AM.utcText(AM.parseTime(r.last_report)) : '') + '; the cell shows the last known state');
		if (r.suboptimal) lines.push('sub-optimal: a faster instance is reachable');
		if (r.flapping) lines.push('flapping');
		return lines.join('\n');
	}

	function cellContent(r, states) {
		const marks = [];
		if (r.suboptimal) marks.push(h('span', { class: 'mark mark-slow', title: 'sub-optimal: a faster instance is reachable' }, '▼', h('span', { class: 'mark-word' }, ' slow')));
		if (r.flapping) marks.push(h('span', { class: 'mark mark-flap', title: 'flapping' }, '↯', h('span', { class: 'mark-word' }, ' flapping')));
		let main, sub = h('span', { class: 'rtt' }, fmtMs(r.rtt_ms)), extra = null;
		switch (r.status) {
		case 'outage':
			main = h('span', { class: 'cell-main' }, h('span', { class: 'sym' }, '✕'), ' no answer');
			sub = h('span', { class: 'rtt since' }, 'outage since ', AM.clockEl(r.since));
			break;
		case 'unknown_instance':
			main = h('span', { class: 'cell-main' }, h('span', { class: 'sym' }, '⚠'), ' UNKNOWN',
				h('span', { class: 'ident' }, r.identity || '?'));
			break;
		case 'split': {
			const parts = splitParts(r);
			main = h('span', { class: 'cell-main' }, h('span', { class: 'sym' }, '⇄'), ' split');
			extra = parts.length ? h('span', { class: 'split-parts' }, parts.map((p) =>
				h('span', { class: 'split-part', dataset: { instance: p.instance } },
					h('span', { class: 'split-dot', style: { background: instanceColour(p.instance) } }), p.instance, ' ', shareText(p))))
				: r.instance ? h('span', { class: 'ident' }, r.instance) : null;
			break;
		}
		default:
			main = h('span', { class: 'cell-main' }, r.instance || '?');
		}
		const silent = isSilent(r, states) ? h('span', { class: 'silent-note' }, 'agent silent',
			r.last_report ? [' · last report ', AM.clockEl(r.last_report)] : null) : null;
		return [main, extra, sub, awayMark(r), silent, marks.length ? h('span', { class: 'marks' }, marks) : null];
	}

	function cellStyle(r, states) {
		if (isSilent(r, states)) return null;
		if (r.status === 'ok' && r.instance) {
			const bg = instanceColour(r.instance);
			return { background: bg, color: inkFor(bg) };
		}
		if (r.status === 'split' && r.instance) {
			const c = instanceColour(r.instance);
			return { borderColor: c };
		}
		return null;
	}

	/* Results of the last few minutes of one agent and service, oldest
	 * first. The API pages forwards from a time; follow it to the end. */
	async function latestResults(agent, service) {
		const out = [];
		let p = { agent, service, limit: 1000, from: new Date(Date.now() - 10 * 60e3).toISOString() };
		for (let page = 0; page < 10; page++) {
			const recs = list(await api('results', p), 'results');
			out.push(...recs);
			if (recs.length < 1000 || typeof recs[recs.length - 1].seq !== 'number') break;
			p = { agent, service, limit: 1000, after_seq: recs[recs.length - 1].seq };
		}
		return out;
	}

	/* ---------- matrix ---------- */

	function matrixView() {
		let el, tableBox, summary, detail, selected = null, rows = [], detailStates = {};

		function drawDetail() {
			const r = rows.find((x) => rowKey(x) === selected);
			if (!r) {
				fill(detail, h('p', { class: 'muted hint' }, 'Click a cell for its RTT, since-when and evidence.'));
				return;
			}
			const evidence = h('div', { class: 'evidence' }, h('p', { class: 'muted' }, 'loading evidence…'));
			fill(detail,
				h('div', { class: 'detail-head' },
					h('h3', {}, `${r.agent} → ${r.service} ${family(r.family)}`),
					h('button', { class: 'close', title: 'close', onclick: () => { selected = null; drawDetail(); markSelected(); } }, '×')),
				h('dl', { class: 'kv' },
					h('dt', {}, 'status'), h('dd', { class: 'st-' + r.status }, STATUS_TEXT[r.status] || r.status),
					h('dt', {}, 'instance'), h('dd', {}, r.instance ? instanceChip(r.instance) : h('span', { class: 'muted' }, 'none'), awayMark(r)),
					splitParts(r).length ? [h('dt', {}, 'split'), h('dd', { class: 'split-parts' }, splitParts(r).map((p) =>
						h('span', { class: 'split-part' }, instanceChip(p.instance), ' ', shareText(p))))] : null,
					r.home !== undefined ? [h('dt', {}, 'home'), h('dd', {}, r.home ? instanceChip(r.home) : h('span', { class: 'muted' }, 'not learnt yet'))] : null,
					h('dt', {}, 'identity'), h('dd', {}, r.identity ? h('code', {}, r.identity) : '—'),
					h('dt', {}, 'RTT'), h('dd', {}, fmtMs(r.rtt_ms)),
					h('dt', {}, r.status === 'outage' ? 'outage since' : 'since'), h('dd', {}, timeEl(r.since, { rel: true, full: true })),
					h('dt', {}, 'agent'), h('dd', { class: isSilent(r, detailStates) ? 'bad' : 'good' }, isSilent(r, detailStates) ? 'silent (stopped reporting)' : 'reporting'),
					r.last_report ? [h('dt', {}, 'last report'), h('dd', {}, timeEl(r.last_report, { rel: true, full: true }))] : null,
					r.last_seen ? [h('dt', {}, 'last answer'), h('dd', {}, timeEl(r.last_seen, { rel: true, full: true }))] : null,
					h('dt', {}, 'flags'), h('dd', {}, [r.suboptimal ? 'sub-optimal' : null, r.flapping ? 'flapping' : null].filter(Boolean).join(', ') || 'none'),
					h('dt', {}, 'agent page'), h('dd', {}, h('a', { href: '#/agent/' + encodeURIComponent(r.agent) }, r.agent))),
				evidence);
			loadEvidence(r, evidence);
		}

		async function loadEvidence(r, box) {
			try {
				const [all, ev] = await Promise.all([
					latestResults(r.agent, r.service),
					api('events', { agent: r.agent, service: r.service, limit: 20 }),
				]);
				/* this family's events (and those of no family), newest five */
				const evs = newestFirst(list(ev, 'events').filter((e) => !e.family || e.family === (r.family || 4))).slice(0, 5);
				const recs = all.filter((x) => x.target !== 'management' &&
					(x.family || 4) === (r.family || 4)).slice(-8).reverse();
				fill(box,
					h('h4', {}, 'Latest answers'),
					recs.length ? h('div', { class: 'scroll' }, h('table', { class: 'mini' },
						h('thead', {}, h('tr', {}, ['time', 'identity from', 'identity', 'instance', 'outcome', 'RTT'].map((t) => h('th', {}, t)))),
						h('tbody', {}, recs.map((x) => h('tr', {},
							h('td', {}, timeEl(x.time)), h('td', {}, x.identity_source || x.query || ''),
							h('td', {}, x.identity ? h('code', {}, x.identity) : '—'),
							h('td', {}, x.instance ? instanceChip(x.instance) : h('span', { class: 'bad' }, x.identity ? 'unknown' : '—')),
							h('td', { class: x.outcome === 'ok' ? '' : 'bad' }, x.outcome + (x.rcode && x.rcode !== 'NOERROR' ? ' ' + x.rcode : '')),
							h('td', { class: 'num' }, fmtMs(x.rtt_ms)))))))
						: h('p', { class: 'muted' }, 'no results in the last hour'),
					h('h4', {}, 'Recent events'),
					evs.length ? h('ul', { class: 'mini-events' }, evs.map(eventLine))
						: h('p', { class: 'muted' }, 'none in the latest events of this agent and service'));
			} catch (e) {
				fill(box, h('p', { class: 'muted' }, 'evidence unavailable: ' + e.message));
			}
		}

		function markSelected() {
			for (const td of tableBox.querySelectorAll('td.cell'))
				td.classList.toggle('selected', td.dataset.key === selected);
		}

		function agentSilent(a, states) {
			const rs = rows.filter((r) => r.agent === a);
			return rs.length ? rs.every((r) => isSilent(r, states)) : states[a] === 'stale';
		}

		function draw(agents, states) {
			const cols = columnsOf(rows);
			const byKey = new Map(rows.map((r) => [rowKey(r), r]));
			const names = [...new Set([...rows.map((r) => r.agent), ...agents])].sort();
			const counts = { ok: 0, outage: 0, unknown_instance: 0, split: 0, suboptimal: 0, away: 0 };
			for (const r of rows) {
				counts[r.status] = (counts[r.status] || 0) + 1;
				if (r.suboptimal) counts.suboptimal++;
				if (awayText(r)) counts.away++;
			}
			fill(summary,
				h('span', { class: 'pill ok' }, `${counts.ok} answering`),
				h('span', { class: 'pill ' + (counts.outage ? 'outage' : 'zero') }, `${counts.outage} outage`),
				h('span', { class: 'pill ' + (counts.unknown_instance ? 'unknown' : 'zero') }, `${counts.unknown_instance} unknown instance`),
				h('span', { class: 'pill ' + (counts.split ? 'split' : 'zero') }, `${counts.split} split`),
				h('span', { class: 'pill ' + (counts.suboptimal ? 'slow' : 'zero') }, `${counts.suboptimal} sub-optimal`),
				h('span', { class: 'pill ' + (counts.away ? 'is-away' : 'zero') }, `${counts.away} away`));
			if (!rows.length) {
				fill(tableBox, h('p', { class: 'empty' }, 'No catchment data yet: no agent has reported.'));
				return;
			}
			/* on a phone, up to four services share the width instead of scrolling */
			const table = h('table', { class: 'matrix' + (cols.length <= 4 ? ' few-cols' : ''), id: 'matrix' },
				h('thead', {}, h('tr', {}, h('th', { class: 'corner' }, 'agent \\ service'),
					cols.map((c) => h('th', { scope: 'col', dataset: { service: c.service, family: c.family } }, c.label)))),
				h('tbody', {}, names.map((a) => h('tr', { dataset: { agent: a } },
					h('th', { scope: 'row' }, h('a', { href: '#/agent/' + encodeURIComponent(a) }, a),
						agentSilent(a, states) ? h('span', { class: 'silent', title: 'this agent stopped reporting: its cells show the last known state' }, 'silent') :
						states[a] === 'never' ? h('span', { class: 'silent', title: 'this agent never reported' }, 'never reported') : null),
					cols.map((c) => {
						const r = byKey.get(`${a}|${c.service}|${c.family}`);
						if (!r) return h('td', { class: 'cell cell-none', title: 'not measured' }, '·');
						const key = rowKey(r);
						return h('td', {
							class: `cell st-${r.status}` + (r.suboptimal ? ' is-slow' : '') + (r.flapping ? ' is-flap' : '') + (r.suboptimal || r.flapping ? ' has-marks' : '') +
								(isSilent(r, states) ? ' is-silent' : '') + (awayText(r) ? ' is-away' : ''),
							style: cellStyle(r, states), title: cellTitle(r, states), tabindex: 0,
							dataset: { key, agent: r.agent, service: r.service, family: r.family || 4, instance: r.instance || '', status: r.status,
								since: r.since || '', agentState: isSilent(r, states) ? 'silent' : 'reporting' },
							onclick: () => { selected = key; markSelected(); drawDetail(); },
							onkeydown: (e) => { if (e.key === 'Enter') { selected = key; markSelected(); drawDetail(); } },
						}, cellContent(r, states));
					})))));
			fill(tableBox, h('div', { class: 'scroll' }, table));
			markSelected();
		}

		function legend() {
			return h('div', { class: 'legend' },
				h('span', {}, h('span', { class: 'swatch sw-inst' }), 'instance colour = who answers'),
				h('span', {}, h('span', { class: 'swatch sw-outage' }, '✕'), 'no answer (outage)'),
				h('span', {}, h('span', { class: 'swatch sw-silent' }), 'agent silent: last known state'),
				h('span', {}, h('span', { class: 'away' }, 'away'), 'not at its home instance'),
				h('span', {}, h('span', { class: 'swatch sw-unknown' }, '⚠'), 'unknown instance (possible hijack)'),
				h('span', {}, h('span', { class: 'swatch sw-split' }, '⇄'), 'split (answers alternate)'),
				h('span', {}, h('span', { class: 'mark mark-slow' }, '▼ slow'), 'sub-optimal'),
				h('span', {}, h('span', { class: 'mark mark-flap' }, '↯'), 'flapping'));
		}

		return {
			title: 'Catchment matrix',
			mount(root) {
				el = root;
				summary = h('div', { class: 'summary' });
				tableBox = h('div', { class: 'matrix-box' }, h('p', { class: 'muted' }, 'loading…'));
				detail = h('aside', { class: 'detail', id: 'cell-detail' });
				fill(el, h('div', { class: 'view-head' }, h('h2', {}, 'Catchment matrix'), summary),
					h('p', { class: 'lede' }, 'Which instance answers each agent’s queries to each anycast service.'),
					h('div', { class: 'matrix-layout' }, h('div', {}, tableBox, legend()), detail));
				drawDetail();
			},
			async refresh(ctx) {
				const body = await api('catchments');
				rows = list(body, 'catchments');
				detailStates = ctx.agentState || {};
				/* redraw only on change: keeps hover and keyboard focus in place */
				const sig = JSON.stringify([rows, ctx.agents, ctx.agentState, Math.floor(Date.now() / 30000)]);
				if (sig !== tableBox.dataset.sig) {
					tableBox.dataset.sig = sig;
					draw(ctx.agents || [], ctx.agentState || {});
				}
				if (selected) {
					/* keep the detail panel, but only redraw it when its row changed */
					const r = rows.find((x) => rowKey(x) === selected);
					const sig = r ? JSON.stringify(r) : '';
					if (sig !== detail.dataset.sig) { detail.dataset.sig = sig; drawDetail(); }
				}
			},
		};
	}

	/* ---------- catchment graph (grouped columns) ---------- */

	function graphView() {
		let box;
		function group(rows) {
			const bySvc = new Map();
			for (const r of rows) {
				const k = `${r.service} ${family(r.family)}`;
				if (!bySvc.has(k)) bySvc.set(k, new Map());
				const g = bySvc.get(k);
				const dest = r.status === 'outage' ? '✕ no answer' :
					r.status === 'unknown_instance' ? '⚠ unknown' : r.instance || '?';
				if (!g.has(dest)) g.set(dest, []);
				g.get(dest).push(r);
			}
			return [...bySvc.entries()].sort((a, b) => a[0].localeCompare(b[0]));
		}
		function draw(rows, states) {
			if (!rows.length) return fill(box, h('p', { class: 'empty' }, 'No catchment data yet.'));
			fill(box, group(rows).map(([svc, g]) => {
				const total = [...g.values()].reduce((n, a) => n + a.length, 0);
				return h('section', { class: 'card graph-card', dataset: { service: svc } },
					h('h3', {}, svc, h('span', { class: 'muted small' }, ` · ${total} agents`)),
					h('div', { class: 'graph-cols' }, [...g.entries()].sort((a, b) => a[0].localeCompare(b[0])).map(([dest, rs]) => {
						const special = dest.startsWith('✕') ? 'outage' : dest.startsWith('⚠') ? 'unknown' : '';
						const bg = special ? null : instanceColour(dest);
						return h('div', { class: 'graph-col ' + special, dataset: { instance: special ? '' : dest } },
							h('div', { class: 'graph-head', style: bg ? { background: bg, color: inkFor(bg) } : null },
								special ? dest : h('a', { href: '#/instance/' + encodeURIComponent(dest), style: { color: 'inherit' } }, dest),
								h('span', { class: 'count' }, String(rs.length))),
							h('div', { class: 'bar' }, h('div', { style: { width: `${(100 * rs.length) / total}%`, background: bg || '' } })),
							h('ul', {}, rs.sort((a, b) => a.agent.localeCompare(b.agent)).map((r) =>
								h('li', { title: cellTitle(r, states), dataset: { agent: r.agent, family: r.family || 4 }, class: isSilent(r, states) ? 'is-silent' : null },
									h('a', { href: '#/agent/' + encodeURIComponent(r.agent) }, r.agent),
									r.family === 6 ? h('span', { class: 'muted small' }, 'v6') : null,
									r.status === 'split' ? h('span', { class: 'mark mark-split', title: splitParts(r).map((p) => `${p.instance} ${shareText(p)}`).join(', ') }, '⇄') : null,
									r.suboptimal ? h('span', { class: 'mark mark-slow' }, '▼') : null,
									isSilent(r, states) ? h('span', { class: 'silent-note' }, 'agent silent') : null,
									h('span', { class: 'rtt' }, r.status === 'outage' ? ['since ', AM.clockEl(r.since)] : fmtMs(r.rtt_ms)),
									awayMark(r)))));
					})));
			}));
		}
		return {
			title: 'Catchment graph',
			mount(root) {
				box = h('div', { class: 'graph' }, h('p', { class: 'muted' }, 'loading…'));
				fill(root, h('div', { class: 'view-head' }, h('h2', {}, 'Catchment graph')),
					h('p', { class: 'lede' }, 'For each service, which agents reach which instance.'), box);
			},
			async refresh(ctx) {
				draw(list(await api('catchments'), 'catchments'), ctx.agentState || {});
			},
		};
	}

	/* ---------- event timeline ---------- */

	/* detail members worth showing a person; incident keys are for alerting */
	const DETAIL_HIDDEN = new Set(['incident', 'resolves']);
	function detailText(ev) {
		const d = ev.detail && typeof ev.detail === 'object' ? ev.detail : {};
		const parts = [];
		const val = (v) => String(v).replace(/_/g, ' ');
		if (d.cause) parts.push(`cause: ${val(d.cause)}`);
		for (const [k, v] of Object.entries(d)) {
			if (k === 'cause' || DETAIL_HIDDEN.has(k) || v === null) continue;
			if (Array.isArray(v)) {
				if (v.length && v.every((x) => typeof x !== 'object')) parts.push(`${k.replace(/_/g, ' ')}: ${v.join(', ')}`);
				continue;
			}
			if (typeof v === 'object') continue;
			parts.push(`${k.replace(/_/g, ' ')}: ${k === 'identity' ? v : val(v)}`);
		}
		return parts.join(' · ');
	}
	function movement(ev) {
		if (ev.type === 'instance_down' || ev.type === 'instance_up') {
			const name = ev.from_instance || ev.to_instance;
			return h('span', { class: 'ev-move' }, name ? [instanceChip(name), ev.type === 'instance_down' ? ' management down' : ' management up'] : null);
		}
		if (!ev.from_instance && !ev.to_instance) return h('span', { class: 'ev-move' });
		return h('span', { class: 'ev-move' },
			ev.from_instance ? instanceChip(ev.from_instance) : h('span', { class: 'muted' }, 'none'), ' → ',
			ev.to_instance ? instanceChip(ev.to_instance) : h('span', { class: 'muted' }, ev.type === 'unknown_instance' ? 'unknown' : 'none'));
	}
	/* by event time, then id: the collector numbers events as it raises them,
	 * which is not always the order in which they happened */
	function newestFirst(evs) {
		const t = (e) => Date.parse(e.time) || 0;
		return evs.slice().sort((a, b) => t(b) - t(a) || (Number(b.id) || 0) - (Number(a.id) || 0));
	}
	function eventLine(ev) {
		return h('li', { class: 'ev ev-' + ev.type, dataset: { id: ev.id, type: ev.type } },
			h('span', { class: 'ev-time' }, timeEl(ev.time)),
			h('span', { class: 'badge t-' + ev.type }, EVENT_LABEL[ev.type] || ev.type),
			h('span', { class: 'ev-what' }, ev.agent ? h('a', { href: '#/agent/' + encodeURIComponent(ev.agent) }, ev.agent) : null,
				ev.agent && ev.service ? ' · ' : '', ev.service || '', ev.family ? ' ' + family(ev.family) : ''),
			movement(ev),
			h('span', { class: 'ev-detail' }, detailText(ev),
				typeof ev.incident === 'number' ? [detailText(ev) ? ' · ' : '', h('a', { class: 'ev-inc', href: '#/incident/' + ev.incident }, 'incident #' + ev.incident)] : null));
	}

	const PERIODS = [['', 'any time'], ['15m', 'last 15 min'], ['1h', 'last hour'], ['6h', 'last 6 h'],
		['24h', 'last 24 h'], ['7d', 'last 7 days']];
	const PERIOD_MS = { '15m': 900e3, '1h': 3600e3, '6h': 6 * 3600e3, '24h': 86400e3, '7d': 7 * 86400e3 };

	function eventsView() {
		let listBox, form, filters = {}, maxSeen = null;
		function select(name, label, options) {
			return h('label', {}, label, h('select', { name, id: 'f-' + name, onchange: onChange },
				options.map(([v, t]) => h('option', { value: v, selected: (filters[name] || '') === v }, t))));
		}
		function onChange() {
			const f = {};
			for (const s of form.querySelectorAll('select')) if (s.value) f[s.name] = s.value;
			const q = new URLSearchParams(f).toString();
			/* the router re-mounts on hash change; keep the filters in the URL */
			history.replaceState(null, '', '#/events' + (q ? '?' + q : ''));
			filters = f;
			maxSeen = null;
			AM.app.refreshNow();
		}
		function drawForm(ctx) {
			const svcs = ctx.services.length ? ctx.services : [];
			fill(form,
				select('type', 'type', [['', 'all types'], ...EVENT_TYPES.map((t) => [t, EVENT_LABEL[t]])]),
				select('service', 'service', [['', 'all services'], ...svcs.map((s) => [s, s])]),
				select('agent', 'agent', [['', 'all agents'], ...ctx.agents.map((a) => [a, a])]),
				select('period', 'time', PERIODS),
				h('button', { type: 'button', class: 'link', onclick: () => { filters = {}; history.replaceState(null, '', '#/events'); drawForm(ctx); maxSeen = null; AM.app.refreshNow(); } }, 'clear'));
			form.dataset.sig = JSON.stringify([svcs, ctx.agents]);
		}
		return {
			title: 'Events',
			mount(root, route) {
				filters = Object.fromEntries(route.query.entries());
				form = h('form', { class: 'filters', id: 'event-filters', onsubmit: (e) => e.preventDefault() });
				listBox = h('div', {}, h('p', { class: 'muted' }, 'loading…'));
				fill(root, h('div', { class: 'view-head' }, h('h2', {}, 'Events'), form),
					h('p', { class: 'lede' }, 'Newest first. Catchment changes, outages, instance health, unknown instances.'), listBox);
			},
			async refresh(ctx) {
				if (form.dataset.sig !== JSON.stringify([ctx.services, ctx.agents])) drawForm(ctx);
				const p = { type: filters.type, service: filters.service, agent: filters.agent, limit: 200 };
				if (filters.period && PERIOD_MS[filters.period])
					p.since = new Date(Date.now() - PERIOD_MS[filters.period]).toISOString();
				const evs = newestFirst(list(await api('events', p), 'events'));
				const prev = maxSeen;
				maxSeen = evs.reduce((m, e) => Math.max(m, Number(e.id) || 0), maxSeen || 0);
				if (!evs.length) return fill(listBox, h('p', { class: 'empty', id: 'no-events' }, 'No events match.'));
				fill(listBox, h('ul', { class: 'timeline', id: 'timeline' }, evs.map((ev) => {
					const li = eventLine(ev);
					if (prev !== null && Number(ev.id) > prev) li.classList.add('fresh');
					return li;
				})), evs.length >= 200 ? h('p', { class: 'muted' }, 'Showing the newest 200; narrow the filters to see older ones.') : null);
			},
		};
	}

	AM.views = { matrix: matrixView, graph: graphView, events: eventsView };
	AM.isSilent = isSilent;
	AM.awayMark = awayMark;
	AM.splitParts = splitParts;
	AM.shareText = shareText;
	AM.eventLine = eventLine;
	AM.newestFirst = newestFirst;
	AM.columnsOf = columnsOf;
})(window.AM);
