-- schema/001_initial.sql - first schema: inventory mirror, raw results, latest
-- state per target, catchment snapshots and events. Released: never edit; add
-- a new numbered file instead.

-- One row per agent named in the inventory (or seen in results).
CREATE TABLE agents (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	token_sha256 TEXT NOT NULL DEFAULT '',
	first_seen_ms INTEGER,
	last_seen_ms INTEGER,
	last_seq INTEGER NOT NULL DEFAULT 0,
	version TEXT,
	status TEXT                    -- JSON object: the agent's own report
);

CREATE TABLE services (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	protocol TEXT NOT NULL DEFAULT '',
	config TEXT                    -- JSON: the service as the inventory has it
);

CREATE TABLE instances (
	id INTEGER PRIMARY KEY,
	service_id INTEGER NOT NULL REFERENCES services(id),
	name TEXT NOT NULL,
	management TEXT,               -- JSON array of addresses
	identity TEXT,
	UNIQUE (service_id, name)
);

-- Raw results, one row per query sent. (agent_id, seq) makes ingest idempotent.
CREATE TABLE results (
	id INTEGER PRIMARY KEY,
	agent_id INTEGER NOT NULL,
	seq INTEGER NOT NULL,
	round INTEGER NOT NULL DEFAULT 0,
	time_ms INTEGER NOT NULL,
	service_id INTEGER NOT NULL,
	address TEXT NOT NULL,
	family INTEGER NOT NULL,
	target INTEGER NOT NULL,       -- 0 anycast, 1 management
	instance TEXT,
	identity TEXT,
	identity_source TEXT,
	query TEXT,
	transport TEXT,
	outcome TEXT NOT NULL,
	rcode TEXT,
	rtt_ms REAL,
	stratum INTEGER,               -- NTP fields: NULL for DNS
	leap INTEGER,
	refid TEXT,
	reference_time_ms INTEGER,
	offset_ms REAL,
	root_delay_ms REAL,
	root_dispersion_ms REAL,
	kod TEXT,
	UNIQUE (agent_id, seq)
);
CREATE INDEX results_service_time ON results (service_id, time_ms);

-- The newest result per (agent, service, target, address).
CREATE TABLE latest (
	agent_id INTEGER NOT NULL,
	service_id INTEGER NOT NULL,
	target INTEGER NOT NULL,
	address TEXT NOT NULL,
	seq INTEGER NOT NULL,
	time_ms INTEGER NOT NULL,
	instance TEXT,
	identity TEXT,
	outcome TEXT NOT NULL,
	rcode TEXT,
	rtt_ms REAL,
	PRIMARY KEY (agent_id, service_id, target, address)
) WITHOUT ROWID;

-- The catchment tracker's state, so a restart keeps it.
CREATE TABLE catchments (
	agent TEXT NOT NULL,
	service TEXT NOT NULL,
	family INTEGER NOT NULL,
	instance TEXT,
	identity TEXT,
	status TEXT NOT NULL,
	since_ms INTEGER NOT NULL,
	last_seen_ms INTEGER NOT NULL,
	rtt_ms REAL,
	suboptimal INTEGER NOT NULL DEFAULT 0,
	flapping INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (agent, service, family)
) WITHOUT ROWID;

CREATE TABLE events (
	id INTEGER PRIMARY KEY,
	time_ms INTEGER NOT NULL,
	type TEXT NOT NULL,
	agent TEXT,
	service TEXT,
	family INTEGER NOT NULL DEFAULT 0,
	from_instance TEXT,
	to_instance TEXT,
	incident TEXT,
	resolves INTEGER NOT NULL DEFAULT 0,
	detail TEXT                    -- JSON object
);
CREATE INDEX events_time ON events (time_ms);
