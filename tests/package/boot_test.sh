#!/bin/bash
# tests/package/boot_test.sh - run by tests/package/run.sh under `unshare -m`:
# installs the packages into a root built on the host's /usr (an overlay),
# enrolls the agent, then boots that root with systemd-nspawn (private
# network: loopback only) so the packaged units run for real, sandbox and all.
# A probe unit inside checks both daemons and a reload, writes DIR/report and
# powers the container off. Usage: boot_test.sh DIR AGENT_DEB COLLECTOR_DEB
set -euo pipefail
dir=$1 agent_deb=$2 collector_deb=$3
c=$dir/root
[ -n "$dir" ] && [ -d "$dir" ] || { echo "boot_test: no directory" >&2; exit 2; }

mount --make-rprivate /
mkdir -p "$c/usr" "$dir/upper" "$dir/work"
mount -t overlay overlay -o "lowerdir=/usr,upperdir=$dir/upper,workdir=$dir/work" "$c/usr"
for l in bin sbin lib lib32 lib64 libx32; do
	if [ -L "/$l" ]; then ln -s "usr/$l" "$c/$l"; fi
done
mkdir -p "$c/etc/default" "$c/etc/systemd/system" "$c/var/lib/dpkg/info" \
	"$c/var/lib/dpkg/updates" "$c/var/lib/dpkg/triggers" "$c/var/tmp" "$c/var/log" \
	"$c/tmp" "$c/run" "$c/dev" "$c/proc" "$c/sys" "$c/root"
chmod 1777 "$c/tmp" "$c/var/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' \
	> "$c/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$c/etc/group"
: > "$c/etc/shadow"
: > "$c/etc/gshadow"
chmod 0640 "$c/etc/shadow" "$c/etc/gshadow"
for f in login.defs nsswitch.conf ld.so.cache default/useradd; do
	if [ -e "/etc/$f" ]; then cp -a "/etc/$f" "$c/etc/$f"; fi
done
cp -a /etc/alternatives "$c/etc/"
: > "$c/etc/machine-id"
touch "$c/var/lib/dpkg/status" "$c/var/lib/dpkg/available"
dpkg --root="$c" --force-depends -i "$agent_deb" "$collector_deb" > "$dir/install.log" 2>&1
echo test | chroot "$c" anycast-agent-enroll --no-start http://127.0.0.1:8053 branch-1 \
	> "$dir/enroll.log" 2>&1

# The probe: runs once both daemons are up, reports, powers off.
cat > "$c/usr/local/sbin/anycast-probe" <<'EOF'
#!/bin/sh
out=/var/tmp/report
say() { echo "$*" >> $out; }
: > $out
for i in $(seq 100); do
	curl -sf http://127.0.0.1:8053/healthz >/dev/null && break
	sleep 0.2
done
for i in $(seq 100); do
	curl -sf 'http://127.0.0.1:8053/api/v1/results?agent=branch-1&limit=5' | grep -q '"seq"' && break
	sleep 0.3
done
for u in anycast-collector anycast-agent; do
	say "$u active=$(systemctl is-active $u) user=$(ps -o user= -p "$(systemctl show -p MainPID --value $u)" 2>/dev/null)"
done
curl -sf http://127.0.0.1:8053/ | grep -qi '<html' && say "dashboard served"
curl -sf 'http://127.0.0.1:8053/api/v1/results?agent=branch-1&limit=5' | grep -q '"seq"' && say "agent results stored"
test -f /var/lib/anycast/anycast.db && say "database in /var/lib/anycast"
pid=$(systemctl show -p MainPID --value anycast-collector)
systemctl reload anycast-collector
sleep 1
[ "$(systemctl show -p MainPID --value anycast-collector)" = "$pid" ] &&
	[ "$(systemctl is-active anycast-collector)" = active ] && say "reload kept the collector"
journalctl -u anycast-collector --no-pager -o cat 2>/dev/null | grep -q 'reloaded' && say "reload logged to the journal"
journalctl -u anycast-collector -u anycast-agent --no-pager -o cat > /var/tmp/journal 2>&1 || true
systemctl stop anycast-agent anycast-collector
for u in anycast-collector anycast-agent; do
	say "$u stopped result=$(systemctl show -p Result --value $u)"
done
say done
systemctl poweroff
EOF
chmod 755 "$c/usr/local/sbin/anycast-probe"
cat > "$c/etc/systemd/system/anycast-probe.service" <<'EOF'
[Unit]
Description=package test probe
After=anycast-collector.service anycast-agent.service
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/anycast-probe
[Install]
WantedBy=multi-user.target
EOF
ln -s /etc/systemd/system/anycast-probe.service \
	"$c/etc/systemd/system/multi-user.target.wants/anycast-probe.service"

timeout 90 systemd-nspawn --quiet --directory="$c" --private-network --register=no --keep-unit \
	--machine="anycast-pkg-$$" \
	--boot --console=pipe > "$dir/boot.log" 2>&1 </dev/null || true
cp "$c/var/tmp/report" "$dir/report" 2>/dev/null || true
cp "$c/var/tmp/journal" "$dir/journal" 2>/dev/null || true
exit 0
