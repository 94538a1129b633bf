-- schema/003_results_agent_time.sql - index raw results by (agent, time)
-- instead of (service, time): an ingest batch is one agent's, so its rows land
-- in one index leaf (ingest measured 42k -> 54k results/s, see
-- bench/collector/RESULTS.md), and the dashboard asks for one agent's recent
-- results. Retention walks it per agent. Released: never edit.

DROP INDEX IF EXISTS results_service_time;
CREATE INDEX results_agent_time ON results (agent_id, time_ms);
