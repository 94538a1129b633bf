/* web/incidents.js - the incident strip on top of every page and the incident page (#/incident/ID) */
'use strict';

(function (AM) {
	const { h, fill, api, list, timeEl, clockEl, durationText, family, instanceChip, INCIDENT_KIND } = AM;

	const OPEN_MAX = 50;        /* open incidents fetched for the strip */
	const RESOLVED_SHOWN = 3;   /* recently resolved ones shown after them */
	const RETRY_MISSING_MS = 60e3; /* a collector without incidents is asked again this often */

	function kindText(k) {
		return INCIDENT_KIND[k] || String(k || 'incident').replace(/_/g, ' ');
	}
	function severity(inc) {
		return AM.SEVERITIES.includes(inc.severity) ? inc.severity : 'warning';
	}
	function agentsOf(inc) {
		return Array.isArray(inc.agents) ? inc.agents : [];
	}
	/* distinct agents: one agent measured over IPv4 and IPv6 counts once */
	function agentCount(inc) {
		return new Set(agentsOf(inc).map((a) => a.agent).filter(Boolean)).size;
	}
	function durationOf(inc) {
		if (typeof inc.duration_s === 'number') return inc.duration_s;
		const a = AM.parseTime(inc.started), b = AM.parseTime(inc.ended);
		return a && b ? (b - a) / 1000 : null;
	}
	function byStartDesc(a, b) {
		return (Date.parse(b.started) || 0) - (Date.parse(a.started) || 0) || (Number(b.id) || 0) - (Number(a.id) || 0);
	}
	function byEndDesc(a, b) {
		return (Date.parse(b.ended) || 0) - (Date.parse(a.ended) || 0) || (Number(b.id) || 0) - (Number(a.id) || 0);
	}
	const SEV_RANK = { critical: 0, warning: 1, info: 2 };

	/* ---------- the strip ---------- */

	/* Holds the open and the recently resolved incidents, refetched on each
	 * refresh of the page and patched in between by the stream's "incident"
	 * messages. A collector that answers 404 has no incidents: the strip hides. */
	const strip = {
		el: null,
		open: new Map(),     /* id -> INC */
		resolved: new Map(),
		supported: null,     /* null: not asked yet */
		askedAt: 0,
		listeners: new Set(),
		expanded: false,     /* phones show the first few open ones unless asked */
	};
	const OPEN_FOLDED = 3;

	function stripItem(inc) {
		const open = inc.state !== 'resolved';
		const n = agentCount(inc);
		return h('a', {
			class: `inc sev-${severity(inc)} ${open ? 'is-open' : 'is-resolved'}`, href: '#/incident/' + encodeURIComponent(inc.id),
			dataset: { id: inc.id, state: open ? 'open' : 'resolved', kind: inc.kind || '', severity: severity(inc) },
			title: `${kindText(inc.kind)} · ${inc.severity || ''} · ${inc.summary || ''}`,
		},
		h('span', { class: 'inc-sev' }, open ? severity(inc) : 'resolved'),
		h('span', { class: 'inc-kind' }, kindText(inc.kind)),
		h('span', { class: 'inc-summary' }, inc.summary || `${inc.service || ''} ${inc.instance || ''}`.trim()),
		h('span', { class: 'inc-when' }, open
			? ['since ', clockEl(inc.started)]
			: ['resolved after ', durationText(durationOf(inc)) || '?']),
		h('span', { class: 'inc-agents' }, `${n} agent${n === 1 ? '' : 's'}`));
	}

	function drawStrip() {
		if (!strip.el) return;
		if (strip.supported === false) {
			strip.el.hidden = true;
			strip.el.replaceChildren();
			return;
		}
		const open = [...strip.open.values()].sort((a, b) =>
			(SEV_RANK[severity(a)] - SEV_RANK[severity(b)]) || byStartDesc(a, b));
		const resolved = [...strip.resolved.values()].sort(byEndDesc).slice(0, RESOLVED_SHOWN);
		strip.el.hidden = false;
		strip.el.classList.toggle('expanded', strip.expanded);
		fill(strip.el,
			h('div', { class: 'inc-list inc-open', id: 'incidents-open' },
				h('span', { class: 'inc-head' }, open.length ? `${open.length} open incident${open.length === 1 ? '' : 's'}` : 'No open incidents'),
				h('div', { class: 'inc-items' }, open.map(stripItem),
					open.length > OPEN_FOLDED ? h('button', { type: 'button', class: 'link inc-more', onclick: () => { strip.expanded = !strip.expanded; drawStrip(); } },
						strip.expanded ? 'show fewer' : `show all ${open.length}`) : null)),
			resolved.length ? h('div', { class: 'inc-list inc-resolved', id: 'incidents-resolved' },
				h('span', { class: 'inc-head' }, 'Recently resolved'), h('div', { class: 'inc-items' }, resolved.map(stripItem))) : null);
		strip.el.dataset.open = String(open.length);
	}

	/* Fetch both lists. Errors other than 404 propagate (the page shows them). */
	async function refreshStrip() {
		if (strip.supported === false && Date.now() - strip.askedAt < RETRY_MISSING_MS) return;
		strip.askedAt = Date.now();
		let ob, rb;
		try {
			[ob, rb] = await Promise.all([
				api('incidents', { state: 'open', limit: OPEN_MAX }),
				api('incidents', { state: 'resolved', limit: RESOLVED_SHOWN * 2 }),
			]);
		} catch (e) {
			if (e instanceof AM.ApiError && e.status === 404) {
				strip.supported = false;
				drawStrip();
				return;
			}
			throw e;
		}
		strip.supported = true;
		strip.open = new Map(list(ob, 'incidents').filter((i) => i.state !== 'resolved').map((i) => [String(i.id), i]));
		strip.resolved = new Map(list(rb, 'incidents').filter((i) => i.state === 'resolved').map((i) => [String(i.id), i]));
		drawStrip();
	}

	/* One incident from the stream (opened, updated or resolved). */
	function applyIncident(inc) {
		if (!inc || inc.id === undefined || inc.id === null) return;
		const id = String(inc.id);
		strip.supported = true;
		if (inc.state === 'resolved') {
			strip.open.delete(id);
			strip.resolved.set(id, inc);
		} else {
			strip.resolved.delete(id);
			strip.open.set(id, inc);
		}
		drawStrip();
		for (const fn of strip.listeners) fn(inc);
	}

	function mountStrip(el) {
		strip.el = el;
		drawStrip();
	}

	/* ---------- one incident ---------- */

	function incidentView(id) {
		let headBox, agentsBox, timelineBox, lastSig = '';

		function drawHead(inc) {
			const open = inc.state !== 'resolved';
			const item = (k, v, cls) => h('div', { class: 'kv-item' }, h('dt', {}, k), h('dd', { class: cls || '' }, v));
			fill(headBox, h('section', { class: `card inc-card sev-${severity(inc)}`, id: 'incident-head', dataset: { state: open ? 'open' : 'resolved', kind: inc.kind || '' } },
				h('div', { class: 'inc-title' },
					h('span', { class: `inc-sev sev-${severity(inc)}` }, severity(inc)),
					h('h3', {}, kindText(inc.kind), ' ', h('span', { class: 'muted small' }, '#' + inc.id)),
					h('span', { class: 'badge inc-state ' + (open ? 'is-open' : 'is-resolved') }, open ? 'open' : 'resolved')),
				h('p', { class: 'inc-summary-line' }, inc.summary || ''),
				h('dl', { class: 'kv-grid' },
					item('state', open ? 'open' : 'resolved', open ? 'bad' : 'good'),
					item('service', inc.service || '—'),
					item('instance', inc.instance ? instanceChip(inc.instance) : '—'),
					item('started', timeEl(inc.started, { rel: true, full: true })),
					item('ended', inc.ended ? timeEl(inc.ended, { rel: true, full: true }) : h('span', { class: 'muted' }, 'still open')),
					item('duration', open ? ['open for ', AM.sinceText(inc.started) || '—'] : durationText(durationOf(inc)) || '—'),
					item('updated', timeEl(inc.updated, { rel: true })),
					item('agents', String(agentCount(inc))))));
		}

		function drawAgents(inc) {
			const rows = agentsOf(inc).slice().sort((a, b) => String(a.agent).localeCompare(String(b.agent)) || (a.family || 4) - (b.family || 4));
			const td = (label, content, cls) => h('td', { class: cls || null, dataset: { label } }, content);
			fill(agentsBox, rows.length ? h('table', { class: 'data stack', id: 'incident-agents' },
				h('thead', {}, h('tr', {}, ['agent', 'family', 'from → to', 'started', 'ended'].map((t) => h('th', {}, t)))),
				h('tbody', {}, rows.map((a) => h('tr', { dataset: { agent: a.agent || '' } },
					td('agent', a.agent ? h('a', { href: '#/agent/' + encodeURIComponent(a.agent) }, a.agent) : '—'),
					td('family', family(a.family) || '—'),
					td('from → to', h('span', { class: 'ev-move' },
						a.from_instance ? instanceChip(a.from_instance) : h('span', { class: 'muted' }, 'none'), ' → ',
						a.to_instance ? instanceChip(a.to_instance) : h('span', { class: 'muted' }, 'none'))),
					td('started', timeEl(a.started)),
					td('ended', a.ended ? timeEl(a.ended) : h('span', { class: 'muted' }, 'ongoing'))))))
				: h('p', { class: 'muted' }, 'No agent is named in this incident.'));
		}

		/* events oldest first, one group per agent (events of no agent, such
		 * as an instance's management address going down, in their own group) */
		function drawTimeline(events) {
			const groups = new Map();
			const t = (e) => Date.parse(e.time) || 0;
			for (const ev of events.slice().sort((a, b) => t(a) - t(b) || (Number(a.id) || 0) - (Number(b.id) || 0))) {
				const k = ev.agent || '';
				if (!groups.has(k)) groups.set(k, []);
				groups.get(k).push(ev);
			}
			const names = [...groups.keys()].sort((a, b) => (a === '') - (b === '') || a.localeCompare(b));
			fill(timelineBox, names.length ? names.map((k) => h('section', { class: 'inc-group', dataset: { agent: k } },
				h('h4', {}, k ? ['agent ', h('a', { href: '#/agent/' + encodeURIComponent(k) }, k)] : 'service-wide'),
				h('ul', { class: 'timeline inc-timeline' }, groups.get(k).map(AM.eventLine))))
				: h('p', { class: 'muted' }, 'No events recorded for this incident.'));
		}

		function draw(inc) {
			const sig = JSON.stringify(inc);
			if (sig === lastSig) return;
			lastSig = sig;
			document.title = `Incident #${inc.id} ${kindText(inc.kind)} · Anycast monitor`;
			drawHead(inc);
			drawAgents(inc);
			drawTimeline(Array.isArray(inc.timeline) ? inc.timeline : []);
		}

		const onIncident = (inc) => { if (String(inc.id) === String(id)) AM.app.refreshNow(); };

		return {
			title: 'Incident #' + id,
			mount(root) {
				headBox = h('div', {}, h('p', { class: 'muted' }, 'loading…'));
				agentsBox = h('div', {});
				timelineBox = h('div', { id: 'incident-timeline' });
				fill(root, h('div', { class: 'view-head' }, h('h2', {}, 'Incident #', id),
					h('a', { href: '#/matrix', class: 'back' }, '← matrix')),
				headBox,
				h('section', { class: 'card' }, h('h3', {}, 'Affected agents'), agentsBox),
				h('section', { class: 'card' }, h('h3', {}, 'Timeline, per agent, oldest first'), timelineBox));
				strip.listeners.add(onIncident);
			},
			async refresh() {
				let body;
				try {
					body = await api('incidents/' + encodeURIComponent(id));
				} catch (e) {
					if (e instanceof AM.ApiError && e.status === 404) {
						lastSig = '';
						fill(headBox, h('p', { class: 'empty', id: 'incident-missing' },
							strip.supported === false ? 'This collector keeps no incidents.' : `No incident #${id}.`));
						agentsBox.replaceChildren();
						timelineBox.replaceChildren();
						return;
					}
					throw e;
				}
				if (body && body.incident) draw(body.incident);
			},
			unmount() {
				strip.listeners.delete(onIncident);
			},
		};
	}

	AM.incidents = { mountStrip, refreshStrip, applyIncident, view: incidentView, kindText, state: strip };
})(window.AM);
