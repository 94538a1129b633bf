-- schema/007_guard_actions.sql - what guards (anycast-agent --guard on an
-- anycast server) reported: each withdrawal and restoration of an instance,
-- once per (agent, seq), with the guard's reason.
-- Released: never edit; add a new numbered file instead.

CREATE TABLE guard_actions (
	agent TEXT NOT NULL,
	seq INTEGER NOT NULL,
	time_ms INTEGER NOT NULL,        -- when the guard decided (its clock)
	received_ms INTEGER NOT NULL,    -- when the collector stored it
	service TEXT NOT NULL,
	instance TEXT NOT NULL,
	action TEXT NOT NULL,            -- withdraw | restore
	applied INTEGER NOT NULL,        -- 0: the routing action failed, the guard retries
	method TEXT,                     -- bird | address | command
	address TEXT,
	reason TEXT,
	PRIMARY KEY (agent, seq)
);
CREATE INDEX guard_actions_instance ON guard_actions (service, instance, time_ms);
