-- 003_answer_checks.sql - answer-integrity check results (as SQLite's
-- 008_answer_checks.sql): the check's name, the SOA serial and canonical
-- digest of the answer section, the answer RRs as text (truncated) and why a
-- reply was malformed. NULL for other probes. Added to the partitioned
-- parent, so every partition has them.
ALTER TABLE results ADD COLUMN check_name text;
ALTER TABLE results ADD COLUMN serial bigint;
ALTER TABLE results ADD COLUMN digest text;
ALTER TABLE results ADD COLUMN rrs text;
ALTER TABLE results ADD COLUMN reason text;
