# tests/lab/lib.sh - helpers for lab tests: assertions, waiting, daemons in namespaces
#
# Source it at the top of a tests/lab/test_*.sh:
#     . "$(dirname "$0")/lib.sh"
# It expects the variables of $LAB_DIR/lab.env in the environment (run.sh
# exports them) and provides:
#   lab ARGS...                    scripts/lab/lab.sh with this lab's prefix
#   in_ns NODE CMD...              run CMD inside the namespace of NODE (br1, noc, site-a, ...)
#   assert_eq WANT GOT MSG         record a failure unless WANT == GOT
#   assert_ne NOT GOT MSG          record a failure if GOT == NOT
#   assert_match REGEX GOT MSG     record a failure unless GOT matches the extended regex
#   assert_true MSG CMD...         record a failure unless CMD succeeds
#   wait_for SECONDS MSG CMD...    poll CMD every 0.5 s; failure (returns 1) after SECONDS
#   start_in_ns NODE NAME CMD...   start CMD in NODE's namespace in its own working dir
#                                  $TEST_TMP/NAME (stdout+stderr to NAME/log, pid in NAME/pid);
#                                  every daemon started this way is stopped when the test exits
#   stop_daemon NAME               SIGTERM by pid, SIGKILL after 5 s
#   dns_identity NODE ADDR         the id.server TXT answered to NODE via ADDR ("" if none)
#   ntp_stratum NODE ADDR          the stratum answered to NODE via ADDR ("" if none)
#   test_done                      print the result and exit 1 if any assertion failed
# Failures are counted, not fatal: a test reports everything that is wrong.
# Use "fatal MSG" to stop at once. TEST_TMP is a fresh temp dir, removed at exit.

set -u

TEST_NAME=$(basename "$0" .sh)
TEST_FAILURES=0
TEST_CHECKS=0
TEST_TMP=$(mktemp -d "/tmp/$TEST_NAME.XXXXXX")
TEST_DAEMONS=""
LAB_HOME=${LAB_HOME:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lab" && pwd)}

: "${LAB_PREFIX:?LAB_PREFIX not set: run through tests/lab/run.sh or source \$LAB_DIR/lab.env}"

say() { echo "[$TEST_NAME +${SECONDS}s] $*"; }
fail() {
	TEST_FAILURES=$((TEST_FAILURES + 1))
	echo "[$TEST_NAME +${SECONDS}s] FAIL: $*"
}
fatal() {
	fail "$*"
	exit 1
}

lab() { "$LAB_HOME/lab.sh" "$@"; }
. "$LAB_HOME/../lib/stop.sh" # stop_pids
in_ns() {
	local node=$1
	shift
	ip netns exec "$LAB_PREFIX-$node" "$@"
}

assert_eq() {
	TEST_CHECKS=$((TEST_CHECKS + 1))
	[ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"
}
assert_ne() {
	TEST_CHECKS=$((TEST_CHECKS + 1))
	[ "$1" != "$2" ] || fail "$3: got '$2', which it must not be"
}
assert_match() {
	TEST_CHECKS=$((TEST_CHECKS + 1))
	[[ $2 =~ $1 ]] || fail "$3: '$2' does not match /$1/"
}
assert_true() {
	local m=$1
	shift
	TEST_CHECKS=$((TEST_CHECKS + 1))
	"$@" >/dev/null 2>&1 || fail "$m (command failed: $*)"
}

wait_for() {
	local secs=$1 m=$2 deadline
	shift 2
	deadline=$(($(date +%s) + secs))
	while ! "$@" >/dev/null 2>&1; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			fail "timed out after ${secs}s waiting for: $m"
			return 1
		fi
		sleep 0.5
	done
	return 0
}

start_in_ns() {
	local node=$1 name=$2 dir
	shift 2
	dir=$TEST_TMP/$name
	mkdir -p "$dir"
	(cd "$dir" && exec ip netns exec "$LAB_PREFIX-$node" setsid "$@" </dev/null >"$dir/log" 2>&1) &
	echo $! >"$dir/pid"
	TEST_DAEMONS="$TEST_DAEMONS $name"
}

stop_daemon() {
	local f=$TEST_TMP/$1/pid
	[ -f "$f" ] || return 0
	STOP_TENTHS=50 stop_pids "$(cat "$f")"
	rm -f "$f"
}

dns_identity() {
	in_ns "$1" dig +time=1 +tries=1 +short @"$2" id.server CH TXT 2>/dev/null |
		grep '^"' | head -n1 | tr -d '"' || true
}

ntp_stratum() {
	in_ns "$1" perl "$LAB_HOME/ntpq.pl" "$2" 1 2>/dev/null | cut -d' ' -f1 || true
}

lib_cleanup() {
	local d
	for d in $TEST_DAEMONS; do stop_daemon "$d"; done
	rm -rf "$TEST_TMP"
}
trap lib_cleanup EXIT

test_done() {
	if [ "$TEST_FAILURES" -gt 0 ]; then
		say "FAILED: $TEST_FAILURES of $TEST_CHECKS checks"
		exit 1
	fi
	say "ok: $TEST_CHECKS checks"
	exit 0
}
