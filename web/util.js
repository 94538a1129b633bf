/* web/util.js - dashboard helpers: API access, DOM building, times, instance colours */
'use strict';

window.AM = window.AM || {};

(function (AM) {
	/* ---- DOM ---- */

	/* Characters a person is never shown raw, as in the collector's
	 * common/text.c: controls (but tab and newline, which text nodes show as
	 * space), C1, zero-width and bidi controls, BOM. A made-up identity with
	 * U+202E cannot read as another site's name. */
	const HIDDEN = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g;
	function shown(s) {
		return String(s).replace(HIDDEN, '?');
	}

	/* h('div', {class: 'x', onclick: fn}, child, 'text', [more]) -> element.
	 * Children that are null/undefined/false are skipped; strings become text. */
	function h(tag, attrs, ...children) {
		const el = document.createElement(tag);
		for (const [k, v] of Object.entries(attrs || {})) {
			if (v === null || v === undefined || v === false) continue;
			if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
			else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
			else if (k === 'dataset') Object.assign(el.dataset, v);
			else if (k === 'title' || k === 'aria-label') el.setAttribute(k, shown(v));
			else el.setAttribute(k, v === true ? '' : String(v));
		}
		append(el, children);
		return el;
	}
	function append(el, children) {
		for (const c of children) {
			if (c === null || c === undefined || c === false) continue;
			if (Array.isArray(c)) append(el, c);
			else el.appendChild(c instanceof Node ? c : document.createTextNode(shown(c)));
		}
	}
	/* Replace everything inside el with children. */
	function fill(el, ...children) {
		el.replaceChildren();
		append(el, children);
		return el;
	}

	/* ---- API ---- */

	const TOKEN_KEY = 'anycast.readToken';

	class ApiError extends Error {
		constructor(status, message) {
			super(message);
			this.status = status;
		}
	}

	function qs(params) {
		const p = new URLSearchParams();
		for (const [k, v] of Object.entries(params || {}))
			if (v !== undefined && v !== null && v !== '') p.set(k, v);
		const s = p.toString();
		return s ? '?' + s : '';
	}

	/* GET /api/v1/<path> as JSON. Throws ApiError (status 0 = unreachable). */
	async function api(path, params) {
		const headers = { Accept: 'application/json' };
		const tok = localStorage.getItem(TOKEN_KEY);
		if (tok) headers.Authorization = 'Bearer ' + tok;
		let res;
		try {
			res = await fetch('api/v1/' + path + qs(params), { headers, cache: 'no-store' });
		} catch (e) {
			throw new ApiError(0, 'collector unreachable');
		}
		let body = null;
		try {
			body = await res.json();
		} catch (e) {
			body = null;
		}
		if (!res.ok) {
			const msg = body && typeof body.error === 'string' ? body.error : res.statusText;
			throw new ApiError(res.status, `${path}: ${res.status} ${msg}`);
		}
		if (body === null || typeof body !== 'object') throw new ApiError(res.status, `${path}: not JSON`);
		return body;
	}
	/* The list inside a list answer ({"events": [...]}), [] when absent. */
	function list(body, key) {
		return body && Array.isArray(body[key]) ? body[key] : [];
	}

	/* ---- times ---- */

	const localFmt = new Intl.DateTimeFormat(undefined, {
		year: 'numeric', month: 'short', day: '2-digit',
		hour: '2-digit', minute: '2-digit', second: '2-digit',
	});
	const localTimeFmt = new Intl.DateTimeFormat(undefined, {
		hour: '2-digit', minute: '2-digit', second: '2-digit',
	});

	function parseTime(t) {
		if (t === null || t === undefined || t === '') return null;
		const d = typeof t === 'number' ? new Date(t) : new Date(t);
		return isNaN(d.getTime()) ? null : d;
	}
	function utcText(d) {
		return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC');
	}
	function sameDay(a, b) {
		return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() &&
			a.getDate() === b.getDate();
	}
	/* "5 s ago", "3 min ago", "2 h ago", "4 d ago" */
	function ago(d, now) {
		const s = Math.round(((now || Date.now()) - d.getTime()) / 1000);
		if (s < -60) return 'in the future';
		if (s < 5) return 'just now';
		if (s < 60) return `${Math.max(s, 0)} s ago`;
		if (s < 3600) return `${Math.floor(s / 60)} min ago`;
		if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
		return `${Math.floor(s / 86400)} d ago`;
	}
	/* <time> in the viewer's zone with the UTC time on hover. opts.rel adds "(x ago)". */
	function timeEl(t, opts) {
		const d = parseTime(t);
		if (!d) return h('span', { class: 'muted' }, '—');
		const text = sameDay(d, new Date()) && !(opts && opts.full) ? localTimeFmt.format(d) : localFmt.format(d);
		return h('time', { datetime: d.toISOString(), title: utcText(d) },
			text, opts && opts.rel ? h('span', { class: 'ago' }, h('span', { class: 'sep' }, ' · '), ago(d)) : null);
	}
	/* "16:00:01" in the viewer's zone (a <time> with UTC on hover). */
	function clockEl(t) {
		const d = parseTime(t);
		if (!d) return h('span', { class: 'muted' }, '—');
		return h('time', { datetime: d.toISOString(), title: utcText(d) }, localTimeFmt.format(d));
	}
	/* A duration in seconds as "45 s", "2 m 14 s", "3 h 5 m", "2 d 4 h". */
	function durationText(s) {
		if (typeof s !== 'number' || !isFinite(s) || s < 0) return '';
		s = Math.round(s);
		if (s < 60) return `${s} s`;
		if (s < 3600) return `${Math.floor(s / 60)} m ${s % 60} s`;
		if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} m`;
		return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
	}
	/* Duration since t as "3 min", for "since" columns. */
	function sinceText(t) {
		const d = parseTime(t);
		return d ? ago(d).replace(' ago', '') : '';
	}

	function fmtMs(v) {
		if (typeof v !== 'number' || !isFinite(v) || v < 0) return '—';
		return v < 10 ? v.toFixed(2) + ' ms' : v < 100 ? v.toFixed(1) + ' ms' : Math.round(v) + ' ms';
	}
	function family(f) {
		return f === 6 || f === '6' ? 'IPv6' : f === 4 || f === '4' ? 'IPv4' : '';
	}

	/* ---- instance colours ----
	 * Each configured instance keeps one colour everywhere: its index in the
	 * sorted list of every instance name the collector knows. Red is kept out
	 * of the palette: it means "unknown instance" (possible hijack). */
	const PALETTE = ['#2f6fdf', '#1f9d55', '#8a4fd8', '#0f9fa8', '#e08a00', '#a0682f',
		'#d14fa6', '#6b8e23', '#3b4cc0', '#b8a000', '#4f7f9f', '#5e5e5e'];
	let colourIndex = new Map();

	function setInstanceNames(names) {
		const sorted = [...new Set(names.filter(Boolean))].sort();
		/* keep existing assignments stable when new names appear */
		const next = new Map();
		for (const n of sorted) if (colourIndex.has(n)) next.set(n, colourIndex.get(n));
		let i = 0;
		for (const n of sorted) {
			if (next.has(n)) continue;
			const used = new Set(next.values());
			while (used.has(i % PALETTE.length) && used.size < PALETTE.length) i++;
			next.set(n, i % PALETTE.length);
			i++;
		}
		colourIndex = next;
	}
	function hashName(s) {
		let x = 2166136261;
		for (let i = 0; i < s.length; i++) x = Math.imul(x ^ s.charCodeAt(i), 16777619);
		return x >>> 0;
	}
	function instanceColour(name) {
		if (!name) return null;
		if (!colourIndex.has(name)) return PALETTE[hashName(name) % PALETTE.length];
		return PALETTE[colourIndex.get(name)];
	}
	/* Black or white text, whichever reads better on the background hex. */
	function inkFor(hex) {
		const n = parseInt(hex.slice(1), 16);
		const [r, g, b] = [(n >> 16) & 255, (n >> 8) & 255, n & 255].map((c) => {
			c /= 255;
			return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
		});
		const L = 0.2126 * r + 0.7152 * g + 0.0722 * b;
		return (1.05) / (L + 0.05) > (L + 0.05) / 0.05 ? '#fff' : '#111';
	}
	/* A coloured chip naming an instance (links to its page). */
	function instanceChip(name, opts) {
		if (!name) return h('span', { class: 'muted' }, '—');
		const bg = instanceColour(name);
		const attrs = { class: 'chip', style: { background: bg, color: inkFor(bg) }, title: `instance ${name}` };
		if (opts && opts.link === false) return h('span', attrs, name);
		return h('a', Object.assign(attrs, { href: '#/instance/' + encodeURIComponent(name) }), name);
	}

	const EVENT_TYPES = ['catchment_change', 'outage', 'recovery', 'instance_down', 'instance_up',
		'unknown_instance', 'flapping', 'split', 'suboptimal', 'guard_withdraw', 'guard_restore',
		'serial_lag', 'inconsistent_answer', 'answer_mismatch'];
	const EVENT_LABEL = {
		catchment_change: 'catchment change', outage: 'outage', recovery: 'recovery',
		instance_down: 'instance down', instance_up: 'instance up',
		unknown_instance: 'unknown instance', flapping: 'flapping', split: 'split',
		suboptimal: 'sub-optimal', guard_withdraw: 'withdrawn by guard', guard_restore: 'restored by guard',
		serial_lag: 'serial lag', inconsistent_answer: 'inconsistent answer', answer_mismatch: 'answer mismatch',
	};

	const INCIDENT_KIND = {
		instance_down: 'instance down', route_change: 'route change', outage: 'outage', hijack: 'hijack',
		split: 'split', flapping: 'flapping', suboptimal: 'sub-optimal', branch_isolated: 'branch isolated',
		agent_silent: 'agent silent', withdrawn: 'withdrawn by guard',
		serial_lag: 'serial lag', inconsistent_answer: 'inconsistent answer', answer_mismatch: 'answer mismatch',
	};
	const SEVERITIES = ['critical', 'warning', 'info'];

	Object.assign(AM, {
		h, fill, shown, api, list, qs, ApiError, TOKEN_KEY, parseTime, utcText, ago, timeEl, clockEl, durationText, sinceText,
		INCIDENT_KIND, SEVERITIES,
		fmtMs, family, setInstanceNames, instanceColour, inkFor, instanceChip,
		EVENT_TYPES, EVENT_LABEL,
	});
})(window.AM);
