-- schema/006_incidents.sql - incidents (the events of one cause, open to
-- resolved), the incident each event belongs to, and the catchment state a
-- restart needs to keep an open incident open (home, last round).
-- Released: never edit; add a new numbered file instead.

CREATE TABLE incidents (
	id INTEGER PRIMARY KEY,
	kind TEXT NOT NULL,
	state TEXT NOT NULL,             -- open | resolved
	started_ms INTEGER NOT NULL,
	updated_ms INTEGER NOT NULL,
	ended_ms INTEGER,
	doc TEXT NOT NULL,               -- JSON object as GET /api/v1/incidents/ID shows it
	private TEXT                     -- JSON: what the collector needs to resume it
);
CREATE INDEX incidents_open ON incidents (state, id);
CREATE INDEX incidents_started ON incidents (started_ms);

ALTER TABLE events ADD COLUMN incident_id INTEGER;
CREATE INDEX events_incident ON events (incident_id, id) WHERE incident_id IS NOT NULL;

ALTER TABLE catchments ADD COLUMN home TEXT;
ALTER TABLE catchments ADD COLUMN last_round_ms INTEGER;
