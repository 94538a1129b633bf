-- schema/004_health.sql - one row the health check rewrites: GET /healthz
-- commits a real write, so a full disk, a read-only remount or an I/O error
-- shows as 503 instead of passing unnoticed. Released: never edit.

CREATE TABLE health (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	checked_ms INTEGER NOT NULL
);
