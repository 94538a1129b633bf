-- schema/002_rollups_alerts.sql - per-minute rollups kept longer than raw
-- results, the alert delivery log, and an index for event type filters.
-- Released: never edit; add a new numbered file instead.

CREATE TABLE rollups (
	minute_ms INTEGER NOT NULL,    -- start of the minute, Unix ms
	agent_id INTEGER NOT NULL,
	service_id INTEGER NOT NULL,
	target INTEGER NOT NULL,
	address TEXT NOT NULL,
	count INTEGER NOT NULL,
	ok_count INTEGER NOT NULL,
	rtt_n INTEGER NOT NULL,        -- results with an RTT
	rtt_min REAL,
	rtt_sum REAL,
	rtt_max REAL,
	PRIMARY KEY (minute_ms, agent_id, service_id, target, address)
) WITHOUT ROWID;

CREATE TABLE alert_deliveries (
	id INTEGER PRIMARY KEY,
	time_ms INTEGER NOT NULL,
	route TEXT NOT NULL,
	event_id INTEGER,
	incident TEXT,
	attempt INTEGER NOT NULL,
	ok INTEGER NOT NULL,
	error TEXT
);
CREATE INDEX alert_deliveries_event ON alert_deliveries (event_id);

CREATE INDEX events_type_id ON events (type, id);
