-- schema/postgres/002_guard_actions.sql - guard reports (see
-- schema/007_guard_actions.sql, the same table for SQLite).
-- Released: never edit; add a new numbered file instead.

CREATE TABLE guard_actions (
	agent text NOT NULL,
	seq bigint NOT NULL,
	time_ms bigint NOT NULL,
	received_ms bigint NOT NULL,
	service text NOT NULL,
	instance text NOT NULL,
	action text NOT NULL,
	applied smallint NOT NULL,
	method text,
	address text,
	reason text,
	PRIMARY KEY (agent, seq)
);
CREATE INDEX guard_actions_instance ON guard_actions (service, instance, time_ms);
