/* web/stream.js - the collector's event stream (GET /api/v1/stream) in a dedicated worker.
 *
 * Started by app.js with the stream's absolute URL in the "url" query parameter.
 * Posts {kind: "open"}, {kind: "error", closed: bool} and {kind: "message",
 * type, data} (type "message" for unnamed ones) to the page. A stream is a
 * request that never ends; held by the page itself it counts as a fetch in
 * flight, and a browser that waits for the page's network to go quiet
 * (headless screenshots with a virtual time budget) waits for ever. Held by a
 * worker, it does not count. */
'use strict';

const NAMED = ['hello', 'event', 'catchments', 'results', 'agent', 'incident', 'reset'];

const url = new URL(self.location.href).searchParams.get('url');
if (url) {
	const es = new EventSource(url);
	es.onopen = () => postMessage({ kind: 'open' });
	es.onerror = () => postMessage({ kind: 'error', closed: es.readyState === EventSource.CLOSED });
	es.onmessage = (m) => postMessage({ kind: 'message', type: 'message', data: m.data });
	for (const t of NAMED) es.addEventListener(t, (m) => postMessage({ kind: 'message', type: t, data: m.data }));
}
