/* web/app.js - dashboard router (#/matrix, #/events, #/incident/ID, ...) and live updates (SSE, else polling) */
'use strict';

(function (AM) {
	const { h, fill, api, list } = AM;

	const POLL_MS = 2500;        /* without the event stream */
	const POLL_SSE_MS = 10000;   /* with it: for what the stream does not carry (agents, health) */

	const app = {
		view: null,
		viewName: '',
		ctx: { agents: [], services: [], agentState: {} },
		busy: false,
		again: false,
		timer: null,
		stream: null,
		streaming: false,
		lastOk: 0,
	};

	function parseRoute() {
		const raw = location.hash.replace(/^#\/?/, '');
		const [path, q] = raw.split('?');
		const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
		return { name: parts[0] || 'matrix', arg: parts[1] || '', query: new URLSearchParams(q || '') };
	}

	function makeView(route) {
		switch (route.name) {
		case 'matrix': return ['matrix', AM.views.matrix()];
		case 'graph': return ['graph', AM.views.graph()];
		case 'events': return ['events', AM.views.events()];
		case 'instances': return ['instance', AM.pages.instances()];
		case 'instance': return route.arg ? ['instance', AM.pages.instance(route.arg)] : ['instance', AM.pages.instances()];
		case 'agents': return ['agent', AM.pages.agents()];
		case 'agent': return route.arg ? ['agent', AM.pages.agent(route.arg)] : ['agent', AM.pages.agents()];
		case 'incident': return route.arg ? ['incident', AM.incidents.view(route.arg)] : ['matrix', AM.views.matrix()];
		default: return [null, null];
		}
	}

	function route() {
		const r = parseRoute();
		if (app.view && app.view.unmount) app.view.unmount();
		const [nav, view] = makeView(r);
		const main = document.getElementById('view');
		if (!view) {
			app.view = null;
			fill(main, h('p', { class: 'empty' }, 'No such page. ', h('a', { href: '#/matrix' }, 'Back to the matrix.')));
			return;
		}
		app.view = view;
		app.viewName = nav;
		for (const a of document.querySelectorAll('#nav a'))
			a.classList.toggle('active', a.dataset.view === nav);
		document.title = view.title + ' · Anycast monitor';
		view.mount(main, r);
		refreshNow();
	}

	/* Agent and service names (filters, rows) and instance colours. */
	async function loadContext() {
		const [ab, ib] = await Promise.all([api('agents'), api('instances', { agents: 0 })]);
		const agents = list(ab, 'agents').map((a) => a.name).filter(Boolean).sort();
		const agentState = Object.fromEntries(list(ab, 'agents').map((a) => [a.name, a.state || '']));
		const inst = AM.normInstances(ib);
		AM.setInstanceNames(inst.map((i) => i.name));
		const services = [...new Set(inst.map((i) => i.service).filter(Boolean))].sort();
		app.ctx = { agents, services, agentState };
	}

	function setLive(state, title) {
		const el = document.getElementById('live');
		el.dataset.state = state;
		el.textContent = state;
		el.title = title;
	}

	function showBanner(content) {
		const b = document.getElementById('banner');
		if (!content) { b.hidden = true; b.replaceChildren(); return; }
		fill(b, content);
		b.hidden = false;
	}

	function tokenForm(msg) {
		const input = h('input', { type: 'password', id: 'token-input', placeholder: 'read token', autocomplete: 'off', 'aria-label': 'read token' });
		return h('form', { class: 'token', onsubmit: (e) => {
			e.preventDefault();
			localStorage.setItem(AM.TOKEN_KEY, input.value.trim());
			showBanner(null);
			openStream();
			refreshNow();
		} }, h('span', {}, msg), input, h('button', { type: 'submit', id: 'token-submit' }, 'Use token'));
	}

	async function refresh() {
		if (app.busy) { app.again = true; return; }
		app.busy = true;
		try {
			await loadContext();
			await Promise.all([AM.incidents.refreshStrip(), app.view ? app.view.refresh(app.ctx) : null]);
			app.lastOk = Date.now();
			showBanner(null);
			setLive(app.streaming ? 'live' : 'polling', app.streaming ? 'Updates pushed by the collector' : `Polling every ${POLL_MS / 1000} s`);
			const u = document.getElementById('updated');
			fill(u, 'Updated ', AM.timeEl(new Date(app.lastOk)));
		} catch (e) {
			if (e instanceof AM.ApiError && e.status === 401) {
				/* keep the form (and what is being typed) across polls */
				if (!document.querySelector('#banner form.token'))
					showBanner(tokenForm(localStorage.getItem(AM.TOKEN_KEY) ? 'That read token was refused; try another.' : 'This collector needs a read token.'));
				setLive('offline', 'The collector wants a read token');
			} else if (e instanceof AM.ApiError && e.status === 0) {
				setLive('offline', 'The collector does not answer; retrying');
				showBanner(h('span', {}, 'The collector does not answer; retrying every few seconds. Data shown may be stale.'));
			} else {
				showBanner(h('span', {}, 'Error: ' + e.message));
				console.error(e);
			}
		} finally {
			app.busy = false;
			schedule(app.again ? 50 : null);
			app.again = false;
		}
	}

	function schedule(ms) {
		clearTimeout(app.timer);
		app.timer = setTimeout(refresh, ms !== null ? ms : app.streaming ? POLL_SSE_MS : POLL_MS);
	}
	function refreshNow() {
		schedule(0);
	}

	/* The collector's event stream, when it has one: every message means
	 * "something changed", so redraw soon (coalescing bursts; "reset" says
	 * messages were missed, which a refetch covers too); an "incident"
	 * message carries the incident and patches the strip at once. The stream
	 * runs in a worker (stream.js: a page that holds a never-ending request
	 * never looks finished to headless browsers), or in the page where there
	 * are no workers. EventSource cannot send headers: a read token travels
	 * as ?token=. */
	function closeStream() {
		if (app.stream) app.stream.close();
		app.stream = null;
		app.streaming = false;
	}

	function openStream() {
		closeStream();
		if (!window.EventSource) return;
		const tok = localStorage.getItem(AM.TOKEN_KEY);
		const url = new URL('api/v1/stream' + (tok ? '?token=' + encodeURIComponent(tok) : ''), document.baseURI).href;
		let pending = null, dropped = false, handle = null;
		const poke = () => {
			if (pending) return;
			pending = setTimeout(() => { pending = null; refreshNow(); }, 300);
		};
		const onOpen = () => {
			app.streaming = true;
			setLive('live', 'Updates pushed by the collector');
			/* what happened while the stream was down was not pushed: fetch it */
			if (dropped) refreshNow();
			dropped = false;
		};
		const onError = (closed) => {
			/* poll while the browser reconnects, or for good when the stream
			 * is refused (404, 401) */
			app.streaming = false;
			dropped = true;
			if (closed && app.stream === handle) closeStream();
			if (!app.busy) schedule(null);
		};
		const onMessage = (type, data) => {
			if (type === 'incident') {
				let inc = null;
				try {
					inc = JSON.parse(data);
				} catch (e) {
					inc = null;
				}
				if (inc && typeof inc === 'object') AM.incidents.applyIncident(inc.incident || inc);
			}
			if (type !== 'hello') poke();
		};
		try {
			if (window.Worker) {
				const w = new Worker('stream.js?url=' + encodeURIComponent(url));
				w.onmessage = (m) => {
					const d = m.data || {};
					if (d.kind === 'open') onOpen();
					else if (d.kind === 'error') onError(d.closed);
					else if (d.kind === 'message') onMessage(d.type, d.data);
				};
				w.onerror = () => onError(true);
				handle = { close: () => w.terminate() };
			} else {
				const es = new EventSource(url);
				es.onopen = onOpen;
				es.onerror = () => onError(es.readyState === EventSource.CLOSED);
				es.onmessage = (m) => onMessage('message', m.data);
				for (const t of ['event', 'catchments', 'results', 'agent', 'incident', 'reset'])
					es.addEventListener(t, (m) => onMessage(t, m.data));
				handle = { close: () => es.close() };
			}
		} catch (e) {
			return;
		}
		app.stream = handle;
	}

	/* Started once the page has loaded, so that nothing the page asks for
	 * while loading is still pending when the load event is due. */
	function openStreamAfterLoad() {
		if (document.readyState === 'complete') setTimeout(openStream, 0);
		else window.addEventListener('load', () => setTimeout(openStream, 0), { once: true });
	}

	document.addEventListener('DOMContentLoaded', () => {
		document.getElementById('tz').textContent = Intl.DateTimeFormat().resolvedOptions().timeZone || 'local';
		window.addEventListener('hashchange', route);
		document.addEventListener('visibilitychange', () => { if (!document.hidden) refreshNow(); });
		if (!location.hash) history.replaceState(null, '', '#/matrix');
		AM.incidents.mountStrip(document.getElementById('incidents'));
		openStreamAfterLoad();
		route();
	});

	app.refreshNow = refreshNow;
	AM.app = app;
})(window.AM);
