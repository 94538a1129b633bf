-- 008_answer_checks.sql - answer-integrity check results: the check's name,
-- the SOA serial and canonical digest of the answer section, the answer RRs
-- as text (truncated) and why a reply was malformed. NULL for other probes.
ALTER TABLE results ADD COLUMN check_name TEXT;
ALTER TABLE results ADD COLUMN serial INTEGER;
ALTER TABLE results ADD COLUMN digest TEXT;
ALTER TABLE results ADD COLUMN rrs TEXT;
ALTER TABLE results ADD COLUMN reason TEXT;
