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
# `ostree admin cleanup` does), busybox (its httpd serves the signed remote of scenario 15), and
# skopeo (the image proxy of `ostree container`, scenario 17) with netavark, which provides the
# virtual container-network-stack its containers-common depends on (debootstrap resolves no
# virtual packages).
# Cached at $OSTREE_GUESTS_CACHE/host-<KEY>.tar, KEY = hash of suite,
# variant, packages, architecture and HOST_ROOTFS_VERSION (bump it when the recipe changes).
#
# Env: OSTREE_GUESTS_CACHE (default /var/tmp/ostree-guests/cache), MIRROR, HOST_SUITE (bookworm),
#      HOST_PACKAGES (comma list), OSTREE_GUESTS_SCRATCH (default /dev/shm)

_HOST_ROOTFS_DIR=$(dirname "$(realpath "${BASH_SOURCE[0]}")")
# shellcheck source=tests/lib/guest-rootfs.sh
. "$_HOST_ROOTFS_DIR/../lib/guest-rootfs.sh"

HOST_ROOTFS_VERSION=ostree-guests-t3a-host-rootfs-1
: "${OSTREE_GUESTS_CACHE:=/var/tmp/ostree-guests/cache}"
: "${HOST_SUITE:=bookworm}"
: "${HOST_VARIANT:=minbase}"
: "${HOST_PACKAGES:=systemd,systemd-sysv,systemd-container,dbus,ostree,iproute2,udev,kmod,e2fsprogs,busybox,skopeo,netavark}"
: "${OSTREE_GUESTS_SCRATCH:=/dev/shm}"

host_rootfs_args() { printf '%s\n' host "$HOST_SUITE" "$HOST_VARIANT" "$HOST_PACKAGES" "$HOST_ROOTFS_VERSION"; }
host_rootfs_path() { local a; mapfile -t a < <(host_rootfs_args); debootstrap_tar_path "${a[@]}"; }
# Print the tarball path; debootstrap it first when it is not cached.
host_rootfs_tar() { local a; mapfile -t a < <(host_rootfs_args); cached_debootstrap "${a[@]}"; }

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	host_rootfs_tar
fi
