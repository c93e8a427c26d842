#!/bin/bash
# Cached Debian root filesystem for the T3a system-test HOST (the machine that runs systemd as
# PID 1 and our package; the guests come from tests/lib/guest-rootfs.sh).
#
# As a script:  tests/system/host-rootfs.sh      -> prints the tarball path (builds it if missing)
# As a library: source it, then  tar=$(host_rootfs_tar)
#
# A plain `debootstrap --variant=minbase` tree with systemd (PID 1), systemd-container (nspawn,
# machined, machinectl), dbus (machined and machinectl need the system bus), ostree (the admin runs
# `ostree admin deploy` on the host), iproute2, udev + kmod (modprobe@ units of the stock
# systemd-nspawn@.service) and e2fsprogs (chattr, to remove an immutable deployment like
# `ostree admin cleanup` does). Cached at $OSTREE_GUESTS_CACHE/host-<KEY>.tar, KEY = hash of suite,
# variant, packages, architecture and HOST_ROOTFS_VERSION (bump it when the recipe changes).
#
# Env: OSTREE_GUESTS_CACHE (default /var/tmp/ostree-guests/cache), MIRROR, HOST_SUITE (bookworm),
#      HOST_PACKAGES (comma list), OSTREE_GUESTS_SCRATCH (default /dev/shm)

_HOST_ROOTFS_DIR=$(dirname "$(realpath "${BASH_SOURCE[0]}")")
# shellcheck source=tests/lib/common.sh
. "$_HOST_ROOTFS_DIR/../lib/common.sh"

HOST_ROOTFS_VERSION=ostree-guests-t3a-host-rootfs-1
: "${OSTREE_GUESTS_CACHE:=/var/tmp/ostree-guests/cache}"
: "${HOST_SUITE:=bookworm}"
: "${HOST_VARIANT:=minbase}"
: "${HOST_PACKAGES:=systemd,systemd-sysv,systemd-container,dbus,ostree,iproute2,udev,kmod,e2fsprogs}"
: "${OSTREE_GUESTS_SCRATCH:=/dev/shm}"

host_rootfs_key() {
	printf '%s\n' "$HOST_SUITE" "$HOST_VARIANT" "$HOST_PACKAGES" "$(dpkg --print-architecture)" \
		"$HOST_ROOTFS_VERSION" | sha256sum | cut -c1-12
}

host_rootfs_path() { printf '%s/host-%s.tar\n' "$OSTREE_GUESTS_CACHE" "$(host_rootfs_key)"; }

# Print the tarball path; debootstrap it first when it is not cached (lock: concurrent runs build once).
host_rootfs_tar() {
	local tar scratch mirror t0 rc=0
	tar=$(host_rootfs_path)
	if [ -s "$tar" ]; then
		printf '%s\n' "$tar"
		return 0
	fi
	need_root
	ensure_packages debootstrap
	mkdir -p "$OSTREE_GUESTS_CACHE"
	exec 7>"$tar.lock"
	flock 7
	if [ -s "$tar" ]; then
		exec 7>&-
		printf '%s\n' "$tar"
		return 0
	fi
	mirror=$(debian_mirror) || return 1
	scratch=$(mktemp -d "$OSTREE_GUESTS_SCRATCH/ostree-guests-host-debootstrap.XXXXXX")
	t0=$EPOCHREALTIME
	log "debootstrap host rootfs: --variant=$HOST_VARIANT --include=$HOST_PACKAGES $HOST_SUITE (about a minute)"
	debootstrap --variant="$HOST_VARIANT" --include="$HOST_PACKAGES" \
		"$HOST_SUITE" "$scratch/root" "$mirror" >"$scratch/debootstrap.log" 2>&1 || rc=$?
	if [ $rc -ne 0 ]; then
		log "host debootstrap failed (rc=$rc); last lines of its log:"
		tail -n 25 "$scratch/debootstrap.log" >&2
		rm -rf --one-file-system "$scratch"
		exec 7>&-
		return 1
	fi
	rm -rf "$scratch/root/var/cache/apt/archives/"*.deb "$scratch/root/var/lib/apt/lists/"* 2>/dev/null
	tar -C "$scratch/root" --numeric-owner --xattrs -cf "$tar.tmp" . && mv -f "$tar.tmp" "$tar" || rc=$?
	rm -rf --one-file-system "$scratch"
	rm -f "$tar.tmp"
	exec 7>&-
	[ $rc -eq 0 ] || { log "writing $tar failed"; return 1; }
	log "cached host rootfs $tar ($(du -h "$tar" | cut -f1), $(elapsed_since "$t0")s)"
	printf '%s\n' "$tar"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	host_rootfs_tar
fi
