#!/bin/sh
# scripts/install-deps.sh - install the Debian packages the build, tests, lab and demo need.
# Does nothing when everything is present. Never starts the packaged daemons:
# the lab runs its own copies with private configs.
set -eu

PKGS="build-essential cmake pkg-config git ca-certificates curl
libuv1-dev libcurl4-openssl-dev libsqlite3-dev sqlite3 libpq-dev postgresql-15 libldns-dev ldnsutils libcriterion-dev
libjansson-dev libyaml-dev libhttp-parser-dev libssl-dev zlib1g-dev
bird2 nsd knot unbound bind9 pdns-server pdns-backend-bind chrony iproute2 dnsutils jq
nodejs npm chromium clang valgrind wrk dnsperf prometheus prometheus-blackbox-exporter prometheus-alertmanager faketime
dpkg-dev file groff-base man-db mandoc lintian systemd systemd-container iputils-tracepath"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed'; then
		missing="$missing $p"
	fi
done
# nodejs from other sources may ship npm itself
if command -v npm >/dev/null 2>&1; then
	missing=$(echo "$missing" | tr ' ' '\n' | grep -vx npm | tr '\n' ' ')
fi
missing=$(echo $missing)
if [ -z "$missing" ]; then
	exit 0
fi

echo "install-deps: installing: $missing" >&2
# Keep package postinst scripts from starting system-wide daemons on port 53/123.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' > "$policy"
	chmod 755 "$policy"
	made_policy=1
fi
trap '[ "$made_policy" = 1 ] && rm -f "$policy"' EXIT

export DEBIAN_FRONTEND=noninteractive
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -n1)" ]; then
	apt-get update -qq
fi
apt-get install -y -qq --no-install-recommends $missing >/dev/null
