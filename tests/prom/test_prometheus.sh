#!/bin/bash
# tests/prom/test_prometheus.sh - /metrics as a real Prometheus sees it
#
# A collector on 127.0.0.1 with a temp database is fed results over the ingest
# API (known and unknown names); `promtool check metrics` must accept its
# /metrics without a remark; the example rules must pass `promtool check
# rules`; then a real Prometheus (Debian's 2.42) loads examples/prometheus.yml
# (target, intervals and rule path rewritten for the test) and scrapes every
# second, and its query API must show the series with our labels
# (anycast_instance, no exported_instance), the build info, the rules loaded
# and the "agent silent" alert pending for the agent that never reported.
# Last, a refused SIGHUP reload and a good one show in the reload metrics.
TEST_NAME=prometheus
# shellcheck source=../fault/lib.sh
source "$(dirname "$0")/../fault/lib.sh"
PROM_DIR=$FAULT_ROOT/tests/prom
EXAMPLES=$FAULT_ROOT/examples
API="python3 $PROM_DIR/prom_api.py"

for tool in promtool prometheus; do
	command -v "$tool" >/dev/null || { fail "$tool missing (scripts/install-deps.sh installs prometheus)"; finish; }
done
VERSION=$(sed -n 's/^project(anycast-monitor VERSION \([0-9.]*\).*/\1/p' "$FAULT_ROOT/CMakeLists.txt")

CPORT=$(free_port)
PPORT=$(free_port)
C=http://127.0.0.1:$CPORT
P=http://127.0.0.1:$PPORT
write_inventory "$TMP/inv.yaml" 5353 1s 1s branch-1 branch-2
sed -i 's/address: \[127.0.0.1\]/address: [127.0.0.1, "::1"]/' "$TMP/inv.yaml"
cp "$TMP/inv.yaml" "$TMP/inv.good"
start_collector "$TMP/inv.yaml" "$CPORT" "$TMP/anycast.db"

# One round of branch-1, after three results whose names are not the inventory's:
# a service it lacks, an anycast answer from an unknown instance, and a
# management address nobody has (127.0.0.9).
if python3 "$PROM_DIR/feed.py" "$C" "$TMP/branch-1.token" 1 \
	rogue-svc/4/anycast/rogue-1/ok/3 dns/4/anycast/rogue-2/ok/3 dns/4/management/rogue-3/ok/1 \
	dns/4/anycast/site-a/ok/2.5 dns/4/management/site-a/ok/1.5 dns/4/management/site-b/timeout/- \
	dns/6/anycast/-/timeout/- > "$TMP/feed.out"; then
	ok "results stored: $(cat "$TMP/feed.out")"
else
	fail "ingest: $(cat "$TMP/feed.out")"
fi

# --- the exposition -------------------------------------------------------
curl -fsS "$C/metrics" > "$TMP/metrics.txt"
rc=0
promtool check metrics < "$TMP/metrics.txt" > "$TMP/promtool.out" 2>&1 || rc=$?
if [ "$rc" = 0 ] && [ ! -s "$TMP/promtool.out" ]; then
	ok "promtool check metrics: exit 0, no remark ($(grep -c '^# TYPE' "$TMP/metrics.txt") families)"
else
	fail "promtool check metrics: exit $rc"
	sed 's/^/       /' "$TMP/promtool.out"
fi
has() { grep -qxF "$1" "$TMP/metrics.txt"; }
check_line() { # LINE DESCRIPTION
	if has "$1"; then ok "$2"; else fail "$2: no line $1"; fi
}
check_line 'anycast_probe_success{agent="branch-1",service="dns",family="4",target="management",anycast_instance="site-b"} 0' \
	"probe_success 0 for the management address that timed out"
check_line 'anycast_probe_success{agent="branch-1",service="dns",family="4",target="anycast",anycast_instance="site-a"} 1' \
	"probe_success 1 for the anycast address, labelled with the answering instance"
check_line 'anycast_rtt_seconds_sum{agent="branch-1",service="dns",family="4",target="anycast",anycast_instance="site-a"} 0.002500' \
	"RTT histogram in seconds"
check_line 'anycast_agent_last_seen_timestamp_seconds{agent="branch-2"} 0.000' \
	"an agent that never reported is listed with 0"
check_line "anycast_build_info{version=\"$VERSION\"} 1" "build info $VERSION"
check_line 'anycast_ingest_results_total{outcome="unconfigured"} 2' \
	"the records of an unknown service and of an address not in the inventory are dropped and counted"
for name in process_cpu_seconds_total process_resident_memory_bytes process_virtual_memory_bytes \
	process_open_fds process_max_fds process_start_time_seconds \
	anycast_config_last_reload_successful anycast_config_last_reload_success_timestamp_seconds; do
	grep -q "^$name " "$TMP/metrics.txt" || fail "no $name"
done
ok "process_* and reload metrics present"
if grep -q 'rogue' "$TMP/metrics.txt"; then
	fail "a name not in the inventory became a label value: $(grep -m1 rogue "$TMP/metrics.txt")"
else
	ok "names not in the inventory are no label values"
fi
if grep -v '^#' "$TMP/metrics.txt" | grep -Eq '(^|[{,])instance="'; then
	fail "a label named instance: $(grep -v '^#' "$TMP/metrics.txt" | grep -Em1 '(^|[{,])instance="')"
else
	ok "no label named instance"
fi
if grep -Eq '^[a-z_]+_ms(_[a-z]+)?[{ ]' "$TMP/metrics.txt"; then
	fail "a metric in milliseconds: $(grep -Em1 '^[a-z_]+_ms(_[a-z]+)?[{ ]' "$TMP/metrics.txt")"
else
	ok "no metric in milliseconds"
fi

# --- the rules and the configuration --------------------------------------
if promtool check rules "$EXAMPLES/prometheus-rules.yml" > "$TMP/rules.out" 2>&1; then
	ok "promtool check rules examples/prometheus-rules.yml: $(grep -o '[0-9]* rules found' "$TMP/rules.out")"
else
	fail "promtool check rules"
	sed 's/^/       /' "$TMP/rules.out"
fi
sed -e "s/collector.example.net:8053/127.0.0.1:$CPORT/" -e 's/interval: 15s/interval: 1s/' \
	-e "s#- prometheus-rules.yml#- $EXAMPLES/prometheus-rules.yml#" \
	"$EXAMPLES/prometheus.yml" > "$TMP/prometheus.yml"
if promtool check config "$TMP/prometheus.yml" > "$TMP/config.out" 2>&1; then
	ok "promtool check config (examples/prometheus.yml)"
else
	fail "promtool check config"
	sed 's/^/       /' "$TMP/config.out"
fi

# --- a real Prometheus ----------------------------------------------------
prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/tsdb" \
	--web.listen-address="127.0.0.1:$PPORT" > "$TMP/prometheus.log" 2>&1 &
PROM_PID=$!
PIDS+=("$PROM_PID")
up=
for _ in $(seq 300); do
	kill -0 "$PROM_PID" 2>/dev/null || break
	up=$($API targets "$P" anycast-collector 2>/dev/null || true)
	case "$up" in up\ *) break ;; esac
	sleep 0.1
done
case "$up" in
up\ *) ok "Prometheus scrapes the collector: $up" ;;
*)
	fail "target not up: ${up:-no answer}"
	tail -5 "$TMP/prometheus.log"
	finish
	;;
esac

# query EXPR: the series as "labels-json value" lines in $TMP/q.out
query() {
	$API query "$P" "$1" > "$TMP/q.out" 2>&1 || { fail "query $1: $(cat "$TMP/q.out")"; : > "$TMP/q.out"; }
}
query anycast_probe_success
# An empty label is no label to Prometheus: only a failed anycast probe
# (nobody of the inventory answered) has no anycast_instance.
n=$(wc -l < "$TMP/q.out")
named=$(grep -c '"anycast_instance":"[^"]' "$TMP/q.out" || true)
unnamed_ok=$(grep -v '"anycast_instance":' "$TMP/q.out" | grep -vc '"target":"anycast"} 0$' || true)
if [ "$n" -ge 4 ] && [ "$named" -ge 3 ] && [ "$unnamed_ok" = 0 ] && ! grep -q exported_instance "$TMP/q.out" &&
	[ "$(grep -c "\"instance\":\"127.0.0.1:$CPORT\",\"job\":\"anycast-collector\"" "$TMP/q.out")" = "$n" ]; then
	ok "anycast_probe_success: $n series, $named with anycast_instance, each with Prometheus's own instance, no exported_instance"
else
	fail "anycast_probe_success series:"
	sed 's/^/       /' "$TMP/q.out"
fi
want='{"__name__":"anycast_probe_success","agent":"branch-1","anycast_instance":"site-b","family":"4","instance":"127.0.0.1:'$CPORT'","job":"anycast-collector","service":"dns","target":"management"} 0'
if grep -qxF "$want" "$TMP/q.out"; then ok "queried: site-b's management address failed (0)"; else fail "no series $want"; fi
query anycast_build_info
if [ "$(cat "$TMP/q.out")" = "{\"__name__\":\"anycast_build_info\",\"instance\":\"127.0.0.1:$CPORT\",\"job\":\"anycast-collector\",\"version\":\"$VERSION\"} 1" ]; then
	ok "queried: anycast_build_info{version=\"$VERSION\"} 1"
else
	fail "anycast_build_info: $(cat "$TMP/q.out")"
fi
query 'sum by (anycast_instance) (anycast_results_total{target="anycast",family="4"})'
if grep -qx '{"anycast_instance":"site-a"} 1' "$TMP/q.out" && grep -qx '{} 1' "$TMP/q.out"; then
	ok "queried: results by answering instance (site-a, and none for the unknown one)"
else
	fail "results by instance: $(tr '\n' ' ' < "$TMP/q.out")"
fi

# The rules run: "agent silent" goes pending for branch-2 (never reported) only.
state=
for _ in $(seq 100); do
	$API alerts "$P" > "$TMP/alerts.out" 2>/dev/null || true
	grep -q '^AnycastAgentSilent pending .*"agent":"branch-2"' "$TMP/alerts.out" && state=pending && break
	sleep 0.1
done
$API rules "$P" > "$TMP/rules-api.out" 2>&1 || true
if [ "$(grep -c ' ok$' "$TMP/rules-api.out")" = 3 ]; then
	ok "Prometheus loaded the 3 example rules, all healthy"
else
	fail "rules: $(tr '\n' ' ' < "$TMP/rules-api.out")"
fi
if [ "$state" = pending ] && ! grep -q '"agent":"branch-1"' "$TMP/alerts.out" &&
	! grep -q '^AnycastCollectorDown' "$TMP/alerts.out"; then
	ok "AnycastAgentSilent pending for branch-2 only; no AnycastCollectorDown"
else
	fail "alerts: $(tr '\n' ' ' < "$TMP/alerts.out")"
fi

# --- reloads --------------------------------------------------------------
metric() { curl -fsS "$C/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }
t0=$(metric anycast_config_last_reload_success_timestamp_seconds)
echo "services: [" > "$TMP/inv.yaml"
kill -HUP "$COLLECTOR_PID"
for _ in $(seq 50); do [ "$(metric anycast_config_last_reload_successful)" = 0 ] && break; sleep 0.1; done
if [ "$(metric anycast_config_last_reload_successful)" = 0 ] &&
	[ "$(metric anycast_config_last_reload_success_timestamp_seconds)" = "$t0" ]; then
	ok "a refused reload: successful 0, success timestamp unchanged"
else
	fail "after a bad reload: $(metric anycast_config_last_reload_successful) $(metric anycast_config_last_reload_success_timestamp_seconds) (was $t0)"
fi
seen=
for _ in $(seq 50); do
	query 'anycast_config_last_reload_successful'
	grep -q '} 0$' "$TMP/q.out" && seen=1 && break
	sleep 0.1
done
if [ -n "$seen" ]; then ok "Prometheus saw the refused reload"; else fail "Prometheus: $(cat "$TMP/q.out")"; fi
cp "$TMP/inv.good" "$TMP/inv.yaml"
kill -HUP "$COLLECTOR_PID"
for _ in $(seq 50); do [ "$(metric anycast_config_last_reload_successful)" = 1 ] && break; sleep 0.1; done
t1=$(metric anycast_config_last_reload_success_timestamp_seconds)
if [ "$(metric anycast_config_last_reload_successful)" = 1 ] && python3 -c "import sys; sys.exit(not $t1 > $t0)"; then
	ok "a good reload: successful 1, timestamp $t0 -> $t1"
else
	fail "after a good reload: $(metric anycast_config_last_reload_successful) $t1 (was $t0)"
fi

stop_pid "$PROM_PID"
stop_pid "$COLLECTOR_PID"
if [ "$STOP_RC" = 0 ]; then ok "collector stopped cleanly"; else fail "collector exit $STOP_RC"; tail -5 "$TMP/collector.log"; fi
finish
