#!/bin/bash
# tests/package/chroot_install.sh - run by tests/package/run.sh under
# `unshare -m`: builds a chroot from the host's /usr (an overlay, so nothing
# reaches the host) with private /etc and /var, and installs, reinstalls,
# removes and purges the packages there with dpkg --root, so the maintainer
# scripts run as on a real system (getent, useradd, deb-systemd-helper).
# The mounts vanish with the namespace. Usage: chroot_install.sh DIR DEB...
# Writes DIR/root (the chroot) and DIR/steps (one line per finished step).
set -euo pipefail
dir=$1
shift
c=$dir/root
[ -n "$dir" ] && [ -d "$dir" ] || { echo "chroot_install: no directory" >&2; exit 2; }

mount --make-rprivate /
mkdir -p "$c/usr" "$dir/upper" "$dir/work"
mount -t overlay overlay -o "lowerdir=/usr,upperdir=$dir/upper,workdir=$dir/work" "$c/usr"
for l in bin sbin lib lib32 lib64 libx32; do
	if [ -L "/$l" ]; then ln -s "usr/$l" "$c/$l"; fi
done
mkdir -p "$c/etc/default" "$c/var/lib/dpkg/info" "$c/var/lib/dpkg/updates" \
	"$c/var/lib/dpkg/triggers" "$c/var/lib/systemd" "$c/var/log" "$c/tmp" "$c/run" \
	"$c/dev" "$c/proc"
chmod 1777 "$c/tmp"
# A fresh account database; the rest of /etc only as far as the tools need it.
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' \
	> "$c/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$c/etc/group"
: > "$c/etc/shadow"
: > "$c/etc/gshadow"
chmod 0640 "$c/etc/shadow" "$c/etc/gshadow"
for f in login.defs nsswitch.conf adduser.conf ld.so.cache default/useradd; do
	if [ -e "/etc/$f" ]; then cp -a "/etc/$f" "$c/etc/$f"; fi
done
cp -a /etc/alternatives "$c/etc/"
touch "$c/var/lib/dpkg/status" "$c/var/lib/dpkg/available"
mount --bind /dev "$c/dev"
mount -t proc proc "$c/proc"

names=()
for d in "$@"; do names+=("$(dpkg-deb -f "$d" Package)"); done
step() { echo "$1" >> "$dir/steps"; }
# Dependencies are the host's (the chroot runs the host's /usr).
dpkg --root="$c" --force-depends -i "$@" > "$dir/install.log" 2>&1 && step installed
cp -a "$c/etc/systemd/system/multi-user.target.wants" "$dir/wants-after-install" 2>/dev/null || true
dpkg --root="$c" --force-depends -i "$@" > "$dir/reinstall.log" 2>&1 && step reinstalled
dpkg --root="$c" -r "${names[@]}" > "$dir/remove.log" 2>&1 && step removed
dpkg --root="$c" -P "${names[@]}" > "$dir/purge.log" 2>&1 && step purged
exit 0
