#!/bin/bash
# Cached Debian guest root filesystem for the boot tests.
#
# As a script:  tests/lib/guest-rootfs.sh          -> prints the tarball path (builds it if missing)
# As a library: source it, then  tar=$(guest_rootfs_tar)
#
# The tarball is a plain `debootstrap --variant=minbase` tree (not yet in OSTree shape; mk-sysroot.sh
# does that) at  $OSTREE_GUESTS_CACHE/guest-<KEY>.tar,  KEY = short hash of everything that decides
# its content: suite, variant, package list, architecture and GUEST_ROOTFS_VERSION. Bump
# GUEST_ROOTFS_VERSION when the recipe changes. Built on /dev/shm, written as .tmp then renamed, and
# guarded by a lock so that concurrent runs build it once.
#
# Env: OSTREE_GUESTS_CACHE (default /var/tmp/ostree-guests/cache), MIRROR (default: from apt sources),
#      GUEST_SUITE (bookworm), GUEST_PACKAGES (comma list), OSTREE_GUESTS_SCRATCH (default /dev/shm)

_GUEST_ROOTFS_DIR=$(dirname "$(realpath "${BASH_SOURCE[0]}")")
# shellcheck source=tests/lib/common.sh
. "$_GUEST_ROOTFS_DIR/common.sh"

GUEST_ROOTFS_VERSION=ostree-guests-guest-rootfs-1
: "${OSTREE_GUESTS_CACHE:=/var/tmp/ostree-guests/cache}"
: "${GUEST_SUITE:=bookworm}"
: "${GUEST_VARIANT:=minbase}"
# util-linux (findmnt, mountpoint), coreutils and findutils are Essential and come with minbase
# ostree: the ostree-tools boot test runs `ostree admin status` inside a guest
: "${GUEST_PACKAGES:=systemd,systemd-sysv,dbus,iproute2,ostree}"
: "${OSTREE_GUESTS_SCRATCH:=/dev/shm}"

# debootstrap_tar_path KIND SUITE VARIANT PACKAGES VERSION: where that tarball is cached; the key
# hashes everything that decides its content.
debootstrap_tar_path() {
	local key
	key=$(printf '%s\n' "$2" "$3" "$4" "$(dpkg --print-architecture)" "$5" | sha256sum | cut -c1-12)
	printf '%s/%s-%s.tar\n' "$OSTREE_GUESTS_CACHE" "$1" "$key"
}

# cached_tree TAR KIND BUILDER ARGS...: print TAR, first running `BUILDER ROOT LOG ARGS...` when TAR
# is not cached. BUILDER fills the empty directory ROOT (on scratch space) and logs to LOG; the tree
# is then written as TAR.tmp and renamed, under a lock so that concurrent runs build it once.
cached_tree() {
	local tar=$1 kind=$2 builder=$3 scratch t0 lock rc=0
	shift 3
	if [ -s "$tar" ]; then
		printf '%s\n' "$tar"
		return 0
	fi
	need_root
	mkdir -p "$OSTREE_GUESTS_CACHE"
	exec {lock}>"$tar.lock"
	flock "$lock"
	if [ -s "$tar" ]; then # another run built it while we waited
		exec {lock}>&-
		printf '%s\n' "$tar"
		return 0
	fi
	scratch=$(mktemp -d "$OSTREE_GUESTS_SCRATCH/ostree-guests-$kind.XXXXXX")
	mkdir "$scratch/root"
	t0=$EPOCHREALTIME
	"$builder" "$scratch/root" "$scratch/build.log" "$@" || rc=$?
	if [ $rc -ne 0 ]; then
		log "building the $kind tree failed (rc=$rc); last lines of its log:"
		tail -n 25 "$scratch/build.log" >&2
	else
		rm -rf "$scratch/root/var/cache/apt/archives/"*.deb "$scratch/root/var/lib/apt/lists/"* 2>/dev/null
		if ! { tar -C "$scratch/root" --numeric-owner --xattrs -cf "$tar.tmp" . && mv -f "$tar.tmp" "$tar"; }; then
			rc=1
			log "writing $tar failed"
		fi
	fi
	rm -rf --one-file-system "$scratch"
	rm -f "$tar.tmp"
	exec {lock}>&-
	[ $rc -eq 0 ] || return 1
	log "cached $kind tree $tar ($(du -h "$tar" | cut -f1), $(elapsed_since "$t0")s)"
	printf '%s\n' "$tar"
}

# _debootstrap_into ROOT LOG SUITE VARIANT PACKAGES: the builder of cached_debootstrap
_debootstrap_into() {
	local root=$1 logf=$2 suite=$3 variant=$4 packages=$5 mirror
	ensure_packages debootstrap
	mirror=$(debian_mirror) || return 1
	log "debootstrap --variant=$variant --include=$packages $suite from $mirror (a minute or two)"
	debootstrap --variant="$variant" --include="$packages" "$suite" "$root" "$mirror" >"$logf" 2>&1
}

# cached_debootstrap KIND SUITE VARIANT PACKAGES VERSION: print the tarball path, running
# debootstrap first when it is not cached.
cached_debootstrap() {
	cached_tree "$(debootstrap_tar_path "$@")" "$1" _debootstrap_into "$2" "$3" "$4"
}

guest_rootfs_args() { printf '%s\n' guest "$GUEST_SUITE" "$GUEST_VARIANT" "$GUEST_PACKAGES" "$GUEST_ROOTFS_VERSION"; }
guest_rootfs_path() { local a; mapfile -t a < <(guest_rootfs_args); debootstrap_tar_path "${a[@]}"; }
# Print the tarball path; build it first when it is not cached.
guest_rootfs_tar() { local a; mapfile -t a < <(guest_rootfs_args); cached_debootstrap "${a[@]}"; }

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	guest_rootfs_tar
fi
