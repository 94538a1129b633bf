-- schema/postgres/001_initial.sql - the PostgreSQL store, equivalent to the
-- SQLite schema 001-006: names, results (range-partitioned by time_ms, one
-- partition per UTC day), latest state, rollups, catchments, events, alert
-- deliveries, health and incidents. Times are Unix milliseconds (bigint).

CREATE TABLE agents (
	id bigserial PRIMARY KEY,
	name text NOT NULL UNIQUE,
	token_sha256 text NOT NULL DEFAULT '',
	first_seen_ms bigint,
	last_seen_ms bigint,
	last_seq bigint NOT NULL DEFAULT 0,
	version text,
	status text                    -- JSON object: the agent's own report
);

CREATE TABLE services (
	id bigserial PRIMARY KEY,
	name text NOT NULL UNIQUE,
	protocol text NOT NULL DEFAULT '',
	config text                    -- JSON: the service as the inventory has it
);

CREATE TABLE instances (
	id bigserial PRIMARY KEY,
	service_id bigint NOT NULL REFERENCES services(id),
	name text NOT NULL,
	management text,               -- JSON array of addresses
	identity text,
	UNIQUE (service_id, name)
);

-- Raw results. A unique constraint on a partitioned table must contain the
-- partition key, so uniqueness is (agent_id, seq, time_ms): an agent's
-- result keeps its time when it is replayed from the spool, so a replayed
-- batch lands on the same rows and stores nothing twice. The same index
-- serves the per-agent seq walk of GET /api/v1/results.
CREATE TABLE results (
	agent_id bigint NOT NULL,
	seq bigint NOT NULL,
	round bigint NOT NULL DEFAULT 0,
	time_ms bigint NOT NULL,
	service_id bigint NOT NULL,
	address text NOT NULL,
	family smallint NOT NULL,
	target smallint NOT NULL,      -- 0 anycast, 1 management
	instance text,
	identity text,
	identity_source text,
	query text,
	transport text,
	outcome text NOT NULL,
	rcode text,
	rtt_ms double precision,
	stratum smallint,              -- NTP fields: NULL for DNS
	leap smallint,
	refid text,
	reference_time_ms bigint,
	offset_ms double precision,
	root_delay_ms double precision,
	root_dispersion_ms double precision,
	kod text,
	PRIMARY KEY (agent_id, seq, time_ms)
) PARTITION BY RANGE (time_ms);
CREATE INDEX results_agent_time ON results (agent_id, time_ms);

-- Create the daily partitions of results covering [from_ms, from_ms + days).
-- The collector calls it at start and every hour for the days ahead.
CREATE FUNCTION anycast_results_partitions(from_ms bigint, days int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	day_ms constant bigint := 86400000;
	d bigint;
	made int := 0;
	name text;
BEGIN
	FOR i IN 0 .. days - 1 LOOP
		d := (from_ms / day_ms + i) * day_ms;
		name := 'results_' || to_char(to_timestamp(d / 1000) AT TIME ZONE 'UTC', 'YYYYMMDD');
		IF to_regclass(name) IS NULL THEN
			EXECUTE format('CREATE TABLE %I PARTITION OF results FOR VALUES FROM (%s) TO (%s)',
				       name, d, d + day_ms);
			made := made + 1;
		END IF;
	END LOOP;
	RETURN made;
END $$;

-- Drop the daily partitions that end at or before before_ms (retention).
CREATE FUNCTION anycast_results_drop_before(before_ms bigint) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	p record;
	dropped int := 0;
BEGIN
	FOR p IN SELECT c.relname,
			(regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''?(-?\d+)''?\)'))[1]::bigint AS upper
		 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		 WHERE i.inhparent = 'results'::regclass LOOP
		IF p.upper IS NOT NULL AND p.upper <= before_ms THEN
			EXECUTE format('DROP TABLE %I', p.relname);
			dropped := dropped + 1;
		END IF;
	END LOOP;
	RETURN dropped;
END $$;

CREATE TABLE latest (
	agent_id bigint NOT NULL,
	service_id bigint NOT NULL,
	target smallint NOT NULL,
	address text NOT NULL,
	seq bigint NOT NULL,
	time_ms bigint NOT NULL,
	instance text,
	identity text,
	outcome text NOT NULL,
	rcode text,
	rtt_ms double precision,
	PRIMARY KEY (agent_id, service_id, target, address)
);

CREATE TABLE catchments (
	agent text NOT NULL,
	service text NOT NULL,
	family smallint NOT NULL,
	instance text,
	identity text,
	status text NOT NULL,
	since_ms bigint NOT NULL,
	last_seen_ms bigint NOT NULL,
	rtt_ms double precision,
	suboptimal smallint NOT NULL DEFAULT 0,
	flapping smallint NOT NULL DEFAULT 0,
	home text,
	last_round_ms bigint,
	PRIMARY KEY (agent, service, family)
);

CREATE TABLE events (
	id bigint PRIMARY KEY,
	time_ms bigint NOT NULL,
	type text NOT NULL,
	agent text,
	service text,
	family smallint NOT NULL DEFAULT 0,
	from_instance text,
	to_instance text,
	incident text,
	resolves smallint NOT NULL DEFAULT 0,
	detail text,                   -- JSON object
	incident_id bigint
);
CREATE INDEX events_time ON events (time_ms);
CREATE INDEX events_type_id ON events (type, id);
CREATE INDEX events_incident ON events (incident_id, id) WHERE incident_id IS NOT NULL;

CREATE TABLE rollups (
	minute_ms bigint NOT NULL,     -- start of the minute, Unix ms
	agent_id bigint NOT NULL,
	service_id bigint NOT NULL,
	target smallint NOT NULL,
	address text NOT NULL,
	count bigint NOT NULL,
	ok_count bigint NOT NULL,
	rtt_n bigint NOT NULL,         -- results with an RTT
	rtt_min double precision,
	rtt_sum double precision,
	rtt_max double precision,
	PRIMARY KEY (minute_ms, agent_id, service_id, target, address)
);

CREATE TABLE alert_deliveries (
	id bigserial PRIMARY KEY,
	time_ms bigint NOT NULL,
	route text NOT NULL,
	event_id bigint,
	incident text,
	attempt int NOT NULL,
	ok smallint NOT NULL,
	error text
);
CREATE INDEX alert_deliveries_event ON alert_deliveries (event_id);

CREATE TABLE health (
	id int PRIMARY KEY CHECK (id = 1),
	checked_ms bigint NOT NULL,
	probe bytea
);

CREATE TABLE incidents (
	id bigint PRIMARY KEY,
	kind text NOT NULL,
	state text NOT NULL,             -- open | resolved
	started_ms bigint NOT NULL,
	updated_ms bigint NOT NULL,
	ended_ms bigint,
	doc text NOT NULL,               -- JSON object as GET /api/v1/incidents/ID shows it
	private text                     -- JSON: what the collector needs to resume it
);
CREATE INDEX incidents_open ON incidents (state, id);
CREATE INDEX incidents_started ON incidents (started_ms);
