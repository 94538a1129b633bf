#!/bin/bash
# tests/package/run.sh - the package stage: builds the two .debs with CPack in a
# Release build, installs them into a throwaway root (dpkg --root, maintainer
# scripts run chrootless), checks the layout, the maintainer scripts' work,
# the units (systemd-analyze verify), the man pages (groff -ww) against --help,
# lintian (no error; warnings printed), the copyright and changelog, hardening,
# the installed binaries (--version, --check-config), a branch install end to
# end (enroll, collector and agent in a private network namespace with only
# loopback), remove and purge, the maintainer scripts in a chroot, and the
# units booted under systemd-nspawn.
# Env: PKG_BUILD (Release build dir, default build-package).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

# ---- end to end, run inside `unshare -n` (only lo; removed when we exit) ----
if [ "${1:-}" = --inner-e2e ]; then
	r=$2 work=$3
	ip link set lo up
	# What anycast-agent.service would pass, from the files enroll wrote.
	# shellcheck disable=SC1091
	. "$r/etc/default/anycast-agent"
	cd "$work"
	"$r/usr/bin/anycast-collector" --config "$r/etc/anycast/inventory.yaml" \
		--db "$work/anycast.db" 2>"$work/collector.log" &
	cpid=$!
	echo "$cpid" > "$work/collector.pid"
	for _ in $(seq 50); do
		curl -sf http://127.0.0.1:8053/healthz >/dev/null 2>&1 && break
		sleep 0.1
	done
	curl -sf http://127.0.0.1:8053/ > "$work/index.html" || true
	"$r/usr/bin/anycast-agent" --collector "$COLLECTOR_URL" --name "$AGENT_NAME" \
		--token-file "$r/etc/anycast/agent.token" --spool "$work/spool" \
		2>"$work/agent.log" &
	apid=$!
	echo "$apid" > "$work/agent.pid"
	for _ in $(seq 100); do
		if curl -sf "http://127.0.0.1:8053/api/v1/results?agent=$AGENT_NAME&limit=1000" \
			> "$work/results.json" 2>/dev/null &&
			grep -q '"seq"' "$work/results.json"; then
			break
		fi
		sleep 0.2
	done
	curl -sf http://127.0.0.1:8053/api/v1/agents > "$work/agents.json" || true
	# systemctl reload sends SIGHUP: the collector must survive it.
	kill -HUP "$cpid"
	sleep 0.5
	if kill -0 "$cpid" 2>/dev/null; then echo alive > "$work/after-hup"; fi
	kill -TERM "$apid" "$cpid" 2>/dev/null || true
	wait "$apid" || echo "$?" > "$work/agent.rc"
	wait "$cpid" || echo "$?" > "$work/collector.rc"
	rm -f "$work/agent.pid" "$work/collector.pid"
	exit 0
fi

PKG_BUILD=${PKG_BUILD:-$ROOT/build-package}
tmp=$(mktemp -d /tmp/anycast-package.XXXXXX)
cleanup() {
	local f
	for f in "$tmp"/e2e/*.pid; do
		[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
start=$SECONDS
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
check() {	# check "what" command...: passes when the command succeeds
	local what=$1
	shift
	if "$@" >"$tmp/check.out" 2>&1; then ok "$what"; else bad "$what"; sed 's/^/     /' "$tmp/check.out" | head -20; fi
}
silent() {	# silent command...: succeeds when it exits 0 and prints nothing on stderr
	"$@" 2>"$tmp/silent.err" >/dev/null && [ ! -s "$tmp/silent.err" ] || { cat "$tmp/silent.err"; return 1; }
}

# ---- build the packages ----
web/build.sh
cmake -S . -B "$PKG_BUILD" -DCMAKE_BUILD_TYPE=Release -DANYCAST_TESTS=OFF >/dev/null
cmake --build "$PKG_BUILD" -j"$(nproc)" --target anycast-agent anycast-collector \
	>"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; echo "FAIL Release build"; exit 1; }
(cd "$PKG_BUILD" && cpack -G DEB -B "$tmp/debs" >"$tmp/cpack.log" 2>&1) ||
	{ cat "$tmp/cpack.log"; echo "FAIL cpack"; exit 1; }
version=$(sed -n 's/^project(anycast-monitor VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
arch=$(dpkg --print-architecture)
agent_deb=$tmp/debs/anycast-agent_${version}_$arch.deb
collector_deb=$tmp/debs/anycast-collector_${version}_$arch.deb
check "cpack made anycast-agent_${version}_$arch.deb" test -s "$agent_deb"
check "cpack made anycast-collector_${version}_$arch.deb" test -s "$collector_deb"
[ -s "$agent_deb" ] && [ -s "$collector_deb" ] || exit 1

# ---- lintian: no error (E:) on either package; warnings are printed ----
if command -v lintian >/dev/null 2>&1; then
	lintian_clean() {	# lintian_clean DEB: no E: tag; prints the W: tags
		lintian --tag-display-limit 0 "$1" >"$tmp/lintian.out" 2>&1 || true
		grep '^W: ' "$tmp/lintian.out" >&2 || true
		! grep '^E: ' "$tmp/lintian.out"
	}
	for d in "$agent_deb" "$collector_deb"; do
		n=$(basename "$d" | cut -d_ -f1)
		if lintian_clean "$d" 2>"$tmp/lintian.warn"; then ok "$n: lintian reports no error"; else
			bad "$n: lintian reports no error"; grep '^E: ' "$tmp/lintian.out" | sed 's/^/     /'; fi
		sed 's/^/     lintian /' "$tmp/lintian.warn"
	done
else
	echo "skip lintian (not installed: apt-get install lintian)"
fi

# ---- control data ----
field() { dpkg-deb -f "$1" "$2"; }
depends_on() {	# depends_on DEB PKG...: each PKG is in Depends
	local d p
	d=$(field "$1" Depends)
	shift
	for p in "$@"; do
		echo "$d" | tr ',' '\n' | sed 's/^ *//; s/ .*//' | grep -qx "$p" || { echo "no $p in: $d"; return 1; }
	done
}
check "agent Depends names its libraries" depends_on "$agent_deb" \
	libuv1 libcurl4 libldns3 libjansson4 libyaml-0-2 libssl3 passwd
check "collector Depends names its libraries" depends_on "$collector_deb" \
	libuv1 libcurl4 libsqlite3-0 libhttp-parser2.9 libjansson4 libyaml-0-2 libssl3 passwd
check "Maintainer is a real address" sh -c \
	"dpkg-deb -f '$agent_deb' Maintainer | grep -qx 'anycast-monitor maintainers <[^@ ]*@[^@ ]*\.[a-z]*>' &&
	! dpkg-deb -f '$agent_deb' Maintainer | grep -q localhost"
check "agent does not depend on SQLite" sh -c "! dpkg-deb -f '$agent_deb' Depends | grep -q sqlite"
for d in "$agent_deb" "$collector_deb"; do
	n=$(basename "$d" | cut -d_ -f1)
	mkdir -p "$tmp/ctl/$n"
	dpkg-deb -e "$d" "$tmp/ctl/$n"
	check "$n: Version $version" test "$(field "$d" Version)" = "$version"
	for s in postinst prerm postrm; do
		check "$n: $s is an executable sh script that parses" \
			sh -c "test -x '$tmp/ctl/$n/$s' && sh -n '$tmp/ctl/$n/$s'"
	done
done
check "agent conffiles" diff <(printf '/etc/default/anycast-agent\n') "$tmp/ctl/anycast-agent/conffiles"
check "collector conffiles" diff <(printf '/etc/anycast/inventory.yaml\n/etc/default/anycast-collector\n') \
	"$tmp/ctl/anycast-collector/conffiles"

# ---- install into a throwaway root ----
r=$tmp/root
mkdir -p "$r/var/lib/dpkg/info" "$r/var/lib/dpkg/updates" "$r/var/lib/dpkg/triggers" "$r/etc"
touch "$r/var/lib/dpkg/status" "$r/var/lib/dpkg/available" \
	"$r/etc/passwd" "$r/etc/group" "$r/etc/shadow" "$r/etc/gshadow"
# The root has no libraries: dependencies are the host's.
check "dpkg --root installs both packages" dpkg --root="$r" --force-script-chrootless \
	--force-depends -i "$agent_deb" "$collector_deb"
check "both packages are installed" sh -c "dpkg --root='$r' -s anycast-agent anycast-collector |
	grep -c '^Status: install ok installed' | grep -qx 2"
for f in usr/bin/anycast-agent usr/bin/anycast-collector usr/sbin/anycast-agent-enroll; do
	check "/$f is executable" test -x "$r/$f"
done
check "installed binaries are stripped" sh -c "file -L '$r/usr/bin/anycast-agent' '$r/usr/bin/anycast-collector' |
	grep -c ', stripped' | grep -qx 2"
for f in etc/anycast/inventory.yaml etc/default/anycast-agent etc/default/anycast-collector \
	lib/systemd/system/anycast-agent.service lib/systemd/system/anycast-collector.service \
	usr/share/man/man8/anycast-agent.8.gz usr/share/man/man8/anycast-collector.8.gz \
	usr/share/man/man8/anycast-agent-enroll.8.gz \
	usr/share/doc/anycast-agent/copyright usr/share/doc/anycast-collector/copyright \
	usr/share/doc/anycast-agent/changelog.gz usr/share/doc/anycast-collector/changelog.gz \
	usr/share/man/man5/anycast-inventory.5.gz usr/share/anycast/web/index.html \
	usr/share/anycast/web/app.js usr/share/anycast/web/style.css \
	usr/share/anycast/web/vendor/uPlot.iife.min.js usr/share/anycast/schema/001_initial.sql \
	usr/share/doc/anycast-agent/examples/agent.yaml \
	usr/share/doc/anycast-collector/examples/prometheus-rules.yml; do
	check "/$f installed" test -s "$r/$f"
done
check "every web/*.html|js|css is installed" sh -c "cd web && for f in *.html *.js *.css; do
	test -s '$r/usr/share/anycast/web/'\"\$f\" || { echo \"missing \$f\"; exit 1; }; done"
check "no build files in the web dir" sh -c "! ls '$r/usr/share/anycast/web' | grep -E 'build.sh|package|node_modules|README'"
check "collector copyright is DEP-5 and covers uPlot (MIT)" sh -c \
	"head -1 '$r/usr/share/doc/anycast-collector/copyright' | grep -q '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' &&
	grep -q '^Files: usr/share/anycast/web/vendor/\*' '$r/usr/share/doc/anycast-collector/copyright' &&
	grep -q '^License: MIT' '$r/usr/share/doc/anycast-collector/copyright'"
check "changelog.gz names version $version" sh -c \
	"zcat '$r/usr/share/doc/anycast-agent/changelog.gz' | head -1 | grep -q '($version)'"
check "conffiles registered by dpkg" sh -c "dpkg --root='$r' -s anycast-collector |
	grep -q '/etc/anycast/inventory.yaml [0-9a-f]\{32\}'"

# What postinst did.
uid=$(awk -F: '$1 == "anycast" { print $3 }' "$r/etc/passwd")
check "postinst created the system user anycast" sh -c "[ -n '$uid' ] && [ '$uid' -lt 1000 ] &&
	grep -q '^anycast:x:$uid:[0-9]*:.*:/var/lib/anycast:/usr/sbin/nologin$' '$r/etc/passwd'"
check "postinst created the group anycast" grep -q '^anycast:' "$r/etc/group"
check "/var/lib/anycast belongs to anycast, mode 750" \
	test "$(stat -c '%u %a' "$r/var/lib/anycast")" = "$uid 750"
for u in anycast-agent anycast-collector; do
	check "$u.service enabled (multi-user.target.wants)" test "$(readlink \
		"$r/etc/systemd/system/multi-user.target.wants/$u.service")" = "/lib/systemd/system/$u.service"
done
echo "# edited" >> "$r/etc/anycast/inventory.yaml"
check "reinstall keeps an edited conffile" sh -c "dpkg --root='$r' --force-script-chrootless \
	--force-depends -i '$collector_deb' >/dev/null && tail -n1 '$r/etc/anycast/inventory.yaml' | grep -qx '# edited'"
check "reinstall keeps one anycast user" sh -c "dpkg --root='$r' --force-script-chrootless \
	--force-depends -i '$agent_deb' >/dev/null && test \$(grep -c '^anycast:' '$r/etc/passwd') = 1"

# ---- units ----
for u in anycast-agent anycast-collector; do
	f=$r/lib/systemd/system/$u.service
	check "$u.service runs /usr/bin/$u as anycast" sh -c "grep -q '^ExecStart=/usr/bin/$u ' '$f' &&
		grep -qx 'User=anycast' '$f' && grep -qx 'Type=simple' '$f' && grep -qx 'ProtectSystem=strict' '$f'"
done
check "collector reloads with SIGHUP" grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' \
	"$r/lib/systemd/system/anycast-collector.service"
check "agent reloads with SIGHUP" grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' \
	"$r/lib/systemd/system/anycast-agent.service"
if command -v systemd-analyze >/dev/null 2>&1; then
	# Verify against the host's targets, with ExecStart pointing into the root
	# and man: links resolved in the root's man pages.
	mkdir -p "$tmp/units"
	for u in anycast-agent anycast-collector; do
		sed "s|/usr/bin/|$r/usr/bin/|g" "$r/lib/systemd/system/$u.service" > "$tmp/units/$u.service"
	done
	check "systemd-analyze verify: no complaints" silent env MANPATH="$r/usr/share/man" \
		systemd-analyze verify "$tmp/units/anycast-agent.service" "$tmp/units/anycast-collector.service"
	for u in anycast-agent anycast-collector; do
		check "$u.service is sandboxed (systemd-analyze security: exposure < 2.5)" sh -c \
			"systemd-analyze security --offline=yes --root='$r' /lib/systemd/system/$u.service 2>&1 |
			sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p' | awk '{ v = \$1; n = 1 } END { exit !(n && v < 2.5) }'"
	done
else
	echo "skip systemd-analyze verify (no systemd-analyze)"
fi

# ---- installed binaries ----
check "anycast-agent --version" test "$("$r/usr/bin/anycast-agent" --version)" = "anycast-agent $version"
check "anycast-collector --version" \
	test "$("$r/usr/bin/anycast-collector" --version)" = "anycast-collector $version"
check "example inventory passes --check-config" \
	"$r/usr/bin/anycast-collector" --config "$r/etc/anycast/inventory.yaml" --check-config
check "example standalone agent config passes the agent's --check-config" \
	"$r/usr/bin/anycast-agent" --config "$r/usr/share/doc/anycast-agent/examples/agent.yaml" --check-config
zcat "$r/usr/share/man/man5/anycast-inventory.5.gz" | sed -n '/^\.EX/,/^\.EE/p' | sed '1d;$d; s/\\-/-/g' \
	> "$tmp/man-example.yaml"
check "anycast-inventory(5) example passes --check-config" \
	"$r/usr/bin/anycast-collector" --config "$tmp/man-example.yaml" --check-config
sed 's/protocol: ntp/protocol: ftp/' "$r/etc/anycast/inventory.yaml" > "$tmp/broken.yaml"
check "a broken inventory fails --check-config with file and line" sh -c \
	"! '$r/usr/bin/anycast-collector' --config '$tmp/broken.yaml' --check-config 2>'$tmp/broken.err';
	grep -q 'broken.yaml:[0-9]' '$tmp/broken.err'"
# The agent has no --check-config: one standalone round in a namespace with
# no route must parse the example and report the silent anycast address (exit 1).
check "agent --once on the example config: parses, probes, exit 1 (no route)" sh -c \
	"unshare -n timeout 20 '$r/usr/bin/anycast-agent' --config \
	'$r/usr/share/doc/anycast-agent/examples/agent.yaml' --once --json --spool '$tmp/once' \
	>'$tmp/once.json' 2>'$tmp/once.err'; rc=\$?; cat '$tmp/once.err'; [ \$rc = 1 ] &&
	grep -q '\"service\": *\"dns\"' '$tmp/once.json'"

# ---- man pages ----
for m in man8/anycast-agent.8 man8/anycast-collector.8 man8/anycast-agent-enroll.8 man5/anycast-inventory.5; do
	# mandoc takes the section from the last '.' of the whole path (the temp
	# dir's random suffix included): give the page its own name and section
	page="$tmp/man/${m##*/}"
	mkdir -p "$tmp/man"
	zcat "$r/usr/share/man/$m.gz" > "$page"
	if command -v mandoc >/dev/null 2>&1; then
		# Every page: no mandoc warning; the enroll page: not even a style note.
		lvl=warning
		[ "$m" != man8/anycast-agent-enroll.8 ] || lvl=style
		# mandoc reports on stdout: show it and the exit code when it fails
		check "$m: mandoc -Tlint -W $lvl clean" sh -c \
			'out=$(mandoc -Tlint -W "$1" "$2" 2>&1); rc=$?; [ "$rc" = 0 ] && [ -z "$out" ] ||
			{ echo "mandoc exit $rc: $out"; exit 1; }' mandoc-lint "$lvl" "$page"
	fi
	check "$m: groff -ww -man -z without warnings" silent groff -ww -man -z "$page"
	check "$m: man -l renders without warnings" silent env MANWIDTH=80 man -l "$r/usr/share/man/$m.gz"
done
help_in_man() {	# help_in_man PROGRAM PAGE: every --option of --help is in the page
	local o missing=""
	for o in $("$1" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
		zgrep -q -- "$(echo "$o" | sed 's/-/\\\\-/g')" "$2" || missing="$missing $o"
	done
	[ -z "$missing" ] || { echo "not in $2:$missing"; return 1; }
}
check "anycast-agent(8) documents every --help option" \
	help_in_man "$r/usr/bin/anycast-agent" "$r/usr/share/man/man8/anycast-agent.8.gz"
check "anycast-collector(8) documents every --help option" \
	help_in_man "$r/usr/bin/anycast-collector" "$r/usr/share/man/man8/anycast-collector.8.gz"
check "anycast-agent-enroll(8) documents every --help option" \
	help_in_man "$r/usr/sbin/anycast-agent-enroll" "$r/usr/share/man/man8/anycast-agent-enroll.8.gz"
check "release binaries are hardened (relro, bind now, stack protector, fortify)" sh -c \
	"for b in '$r/usr/bin/anycast-agent' '$r/usr/bin/anycast-collector'; do
	readelf -lW \$b | grep -q GNU_RELRO && readelf -dW \$b | grep -q BIND_NOW &&
	readelf --dyn-syms -W \$b | grep -q __stack_chk_fail && readelf --dyn-syms -W \$b | grep -q '__[a-z]*printf_chk' ||
	{ echo \"not hardened: \$b\"; exit 1; }; done"

# ---- branch install: enroll, then collector and agent as the units run them ----
check "enroll rejects a non-http URL" sh -c \
	"! '$r/usr/sbin/anycast-agent-enroll' --root '$tmp/x' ftp://a b 2>/dev/null"
echo test | "$r/usr/sbin/anycast-agent-enroll" --root "$r" http://127.0.0.1:8053 branch-1 \
	> "$tmp/enroll.out"
check "enroll prints the token hash for the inventory" grep -q \
	'token_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08' "$tmp/enroll.out"
gid=$(awk -F: '$1 == "anycast" { print $3 }' "$r/etc/group")
check "token is 0600 anycast:anycast" test "$(stat -c '%a %u %g' "$r/etc/anycast/agent.token")" = "600 $uid $gid"
check "enroll set URL and name in /etc/default/anycast-agent" sh -c \
	"grep -qx 'COLLECTOR_URL=http://127.0.0.1:8053' '$r/etc/default/anycast-agent' &&
	grep -qx 'AGENT_NAME=branch-1' '$r/etc/default/anycast-agent' && grep -q '^AGENT_OPTS=' '$r/etc/default/anycast-agent'"
mkdir -p "$tmp/e2e"
unshare -n "$ROOT/tests/package/run.sh" --inner-e2e "$r" "$tmp/e2e" || true
check "installed collector serves the installed dashboard at /" \
	cmp "$tmp/e2e/index.html" "$r/usr/share/anycast/web/index.html"
check "enrolled agent's results reach the collector" grep -q '"agent": *"branch-1"' "$tmp/e2e/results.json"
check "collector shows the agent's version and last report" sh -c \
	"grep -q '\"name\": *\"branch-1\", *\"first_seen\": *\"20' '$tmp/e2e/agents.json' &&
	grep -q '\"version\": *\"$version\"' '$tmp/e2e/agents.json'"
check "collector survives SIGHUP (reload)" test -f "$tmp/e2e/after-hup"
check "both stop cleanly on SIGTERM" sh -c "! ls '$tmp/e2e/'*.rc 2>/dev/null | grep -q ."
if [ "$fail" -gt 0 ]; then
	for l in collector agent; do echo "--- $l.log"; tail -5 "$tmp/e2e/$l.log" 2>/dev/null || true; done
fi

# ---- remove, then purge ----
check "dpkg --root removes the agent" dpkg --root="$r" --force-script-chrootless -r anycast-agent
check "remove keeps the agent's settings and token" sh -c "test ! -e '$r/usr/bin/anycast-agent' &&
	grep -qx 'AGENT_NAME=branch-1' '$r/etc/default/anycast-agent' && test -s '$r/etc/anycast/agent.token'"
check "dpkg --root purges both packages" dpkg --root="$r" --force-script-chrootless \
	-P anycast-agent anycast-collector
for f in usr/bin/anycast-agent usr/bin/anycast-collector etc/anycast/inventory.yaml \
	etc/default/anycast-agent etc/anycast/agent.token usr/share/anycast \
	etc/systemd/system/multi-user.target.wants/anycast-agent.service; do
	check "purge removed /$f" test ! -e "$r/$f"
done

# ---- the maintainer scripts as on a real system: a chroot of the host's /usr ----
if unshare -m true 2>/dev/null; then
	c=$tmp/chroot
	mkdir -p "$c"
	unshare -m "$ROOT/tests/package/chroot_install.sh" "$c" "$agent_deb" "$collector_deb" || true
	check "chroot: install, reinstall, remove, purge all succeed" \
		test "$(tr '\n' ' ' < "$c/steps" 2>/dev/null)" = "installed reinstalled removed purged "
	check "chroot: postinst made the system user with useradd" \
		grep -q '^anycast:x:[1-9][0-9]\{0,2\}:[0-9]*:.*:/var/lib/anycast:/usr/sbin/nologin$' "$c/root/etc/passwd"
	for u in anycast-agent anycast-collector; do
		check "chroot: deb-systemd-helper enabled $u.service" sh -c \
			"grep -q 'Created symlink /etc/systemd/system/multi-user.target.wants/$u.service' '$c/install.log' &&
			test -L '$c/wants-after-install/$u.service'"
		check "chroot: purge leaves no $u.service enablement" sh -c \
			"test ! -e '$c/root/etc/systemd/system/multi-user.target.wants/$u.service' &&
			! ls '$c/root/var/lib/systemd/deb-systemd-helper-enabled' 2>/dev/null | grep -q '$u'"
	done
	check "chroot: maintainer scripts print no errors" sh -c \
		"! grep -ih 'error\|not found\|cannot\|usage:' '$c/install.log' '$c/reinstall.log' '$c/remove.log' '$c/purge.log'"
else
	echo "skip chroot install (no mount namespaces)"
fi

# ---- boot: the packaged units under a real systemd (nspawn, loopback only) ----
if command -v systemd-nspawn >/dev/null 2>&1 && unshare -m true 2>/dev/null; then
	b=$tmp/boot
	mkdir -p "$b"
	unshare -m "$ROOT/tests/package/boot_test.sh" "$b" "$agent_deb" "$collector_deb" || true
	for line in "anycast-collector active=active user=anycast" \
		"anycast-agent active=active user=anycast" "dashboard served" "agent results stored" \
		"database in /var/lib/anycast" "reload kept the collector" "reload logged to the journal" \
		"anycast-collector stopped result=success" "anycast-agent stopped result=success"; do
		check "boot: $line" grep -qx "$line" "$b/report"
	done
	if ! grep -qx done "$b/report" 2>/dev/null; then
		echo "--- boot.log"; tail -20 "$b/boot.log" 2>/dev/null || true
		echo "--- journal"; tail -20 "$b/journal" 2>/dev/null || true
	fi
else
	echo "skip boot test (no systemd-nspawn: apt-get install systemd-container)"
fi

echo "package stage: $pass passed, $fail failed in $((SECONDS - start)) s"
[ "$fail" -eq 0 ]
