-- schema/005_health_probe.sql - room for a batch-sized write in the health
-- row: after an ingest commit failed (full disk, I/O error), GET /healthz
-- writes a blob as large as a big batch and answers 200 only when that
-- commits, so a one-row write that still fits cannot claim the disk is fine.
-- Released: never edit.

ALTER TABLE health ADD COLUMN probe BLOB;
