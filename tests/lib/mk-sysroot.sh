#!/bin/bash
# Build a real OSTree sysroot holding Debian guest stateroots, for the boot tests.
#
# As a script:   tests/lib/mk-sysroot.sh [--with-host] [--dir DIR] [STATEROOT...]
# As a library:  source it, then  mk_sysroot [--with-host] [--dir DIR] [STATEROOT...]
#                (sets MK_SYSROOT_DIR to the absolute sysroot path)
#
#   --with-host   first commit and deploy a "host" stateroot as the default deployment, so the
#                 guests are not the default (as on a real host, where they come after it)
#   --dir DIR     sysroot directory, removed and recreated
#                 (default $OSTREE_GUESTS_SCRATCH/ostree-guests-sysroot, i.e. on /dev/shm)
#   STATEROOT...  stateroots to os-init, commit and deploy --not-as-default (default: guest)
#
# Every commit is the cached debootstrap tree (guest-rootfs.sh) in OSTree shape plus:
#   /usr/share/ostree-guests-test/stateroot   the stateroot name
#   /usr/etc/hostname                         the stateroot name
# with metadata version=<name>-1, on branch <name>/<suite>/<arch>. The shaped tree is committed once
# (branch ostree-guests-test/base) and each stateroot's commit layers its two files over that ref,
# so a warm build takes a few seconds.
#
# Other helpers: ostree_status_deployment DIR STATEROOT  -> first "<csum>.<serial>" of STATEROOT as
#                `ostree admin status` lists it (libostree's own choice for a non-booted sysroot)

_MK_SYSROOT_DIR=$(dirname "$(realpath "${BASH_SOURCE[0]}")")
# shellcheck source=tests/lib/common.sh
. "$_MK_SYSROOT_DIR/common.sh"
# shellcheck source=tests/lib/guest-rootfs.sh
. "$_MK_SYSROOT_DIR/guest-rootfs.sh"

MK_SYSROOT_KVER=6.1.0-ostree-guests-placeholder

# Turn an unpacked debootstrap tree into the shape `ostree admin deploy` expects.
ostree_shape_tree() {
	local t=$1 d
	(
		set -e
		cd "$t"
		# bookworm is usr-merged: /bin /sbin /lib must already be symlinks into /usr
		for d in bin sbin lib; do
			[ -L "$d" ] || { echo "$t/$d is not a symlink: tree is not usr-merged" >&2; exit 1; }
		done
		: >etc/machine-id # each boot gets its id from the container UUID
		# DHCP on host0 (systemd's 80-container-host0.network) for veth, bridge and zone guests;
		# wait-online (enabled along with it on Debian) would stall guests without a network.
		systemctl --root=. enable systemd-networkd.service >/dev/null 2>&1
		systemctl --root=. disable systemd-networkd-wait-online.service >/dev/null 2>&1 || true
		mv etc usr/etc
		rm -rf var && mkdir var # /var is per stateroot, filled by systemd-tmpfiles at boot
		for d in home opt srv mnt; do rm -rf "$d" && ln -s "var/$d" "$d"; done
		rm -rf root && ln -s var/roothome root
		rm -rf media && ln -s run/media media
		rm -rf usr/local && ln -s ../var/usrlocal usr/local
		rm -rf ostree && ln -s sysroot/ostree ostree
		for d in sysroot boot dev proc sys run; do rm -rf "$d" && mkdir -m 0755 "$d"; done
		rm -rf tmp && mkdir -m 1777 tmp
		cat >usr/lib/tmpfiles.d/ostree-guests-test-var.conf <<-'TMPF'
			d /var/home 0755 root root -
			d /var/roothome 0700 root root -
			d /var/opt 0755 root root -
			d /var/srv 0755 root root -
			d /var/mnt 0755 root root -
			d /var/usrlocal 0755 root root -
			d /var/lib/dbus 0755 root root -
		TMPF
		# `ostree admin deploy` refuses a tree without a kernel; containers never use it
		mkdir -p "usr/lib/modules/$MK_SYSROOT_KVER"
		echo "placeholder kernel (ostree-guests tests)" >"usr/lib/modules/$MK_SYSROOT_KVER/vmlinuz"
		echo "placeholder initramfs (ostree-guests tests)" >"usr/lib/modules/$MK_SYSROOT_KVER/initramfs.img"
	)
}

ostree_status_deployment() {
	ostree admin status --sysroot="$1" |
		awk -v os="$2" '($1 == os || ($1 == "*" && $2 == os)) { print ($1 == "*" ? $3 : $2); exit }'
}

mk_sysroot() {
	local with_host=0 dir="${OSTREE_GUESTS_SCRATCH:-/dev/shm}/ostree-guests-sysroot" names=() n
	while [ $# -gt 0 ]; do
		case $1 in
		--with-host) with_host=1 ;;
		--dir) dir=$2; shift ;;
		--dir=*) dir=${1#--dir=} ;;
		-h | --help) sed -n '2,/^$/s/^# \{0,1\}//p' "$_MK_SYSROOT_DIR/mk-sysroot.sh"; return 0 ;;
		-*) log "mk_sysroot: unknown option $1"; return 2 ;;
		*) names+=("$1") ;;
		esac
		shift
	done
	[ ${#names[@]} -gt 0 ] || names=(guest)
	for n in "${names[@]}"; do
		[[ $n =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || { log "mk_sysroot: bad stateroot name '$n'"; return 2; }
		[ "$with_host" = 1 ] && [ "$n" = host ] && { log "mk_sysroot: 'host' is reserved for --with-host"; return 2; }
	done
	need_root
	ensure_packages ostree e2fsprogs

	local t0 tar arch suite repo stage ovl ref base_ref=ostree-guests-test/base
	t0=$EPOCHREALTIME
	tar=$(guest_rootfs_tar) || return 1
	arch=$(uname -m)
	suite=$GUEST_SUITE

	remove_tree "$dir" || return 1
	mkdir -p "$dir"
	dir=$(realpath "$dir")
	repo=$dir/ostree/repo
	# staging next to the sysroot (same file system: --consume moves files into the repo)
	stage=$(mktemp -d "$(dirname "$dir")/.mk-sysroot-stage.XXXXXX")

	tar -C "$stage" --numeric-owner -xf "$tar" || { rm -rf "$stage"; return 1; }
	ostree_shape_tree "$stage" || { rm -rf "$stage"; return 1; }
	log "mk_sysroot: staged OSTree-shaped tree ($(elapsed_since "$t0")s)"

	{
		ostree admin init-fs --modern "$dir" >/dev/null &&
			ostree --repo="$repo" config set sysroot.bootloader none &&
			ostree --repo="$repo" commit --consume --branch="$base_ref" --tree=dir="$stage" \
				--subject="ostree-guests test base ($suite)" >/dev/null
	} || { rm -rf "$stage"; return 1; }
	rm -rf "$stage"
	log "mk_sysroot: committed base tree ($(elapsed_since "$t0")s)"

	local all=()
	[ "$with_host" = 1 ] && all+=(host)
	all+=("${names[@]}")
	for n in "${all[@]}"; do
		ref=$n/$suite/$arch
		ovl=$(mktemp -d "$(dirname "$dir")/.mk-sysroot-ovl.XXXXXX")
		mkdir -p "$ovl/usr/share/ostree-guests-test" "$ovl/usr/etc"
		chmod 0755 "$ovl" "$ovl/usr" "$ovl/usr/share" "$ovl/usr/share/ostree-guests-test" "$ovl/usr/etc"
		printf '%s\n' "$n" >"$ovl/usr/share/ostree-guests-test/stateroot"
		printf '%s\n' "$n" >"$ovl/usr/etc/hostname"
		# overlay files are root-owned (we run as root): --owner-uid would make ostree rewrite the
		# whole layered tree (2 s per commit instead of 0.03 s)
		{
			ostree admin os-init "$n" --sysroot="$dir" >/dev/null &&
				ostree --repo="$repo" commit --branch="$ref" --tree=ref="$base_ref" --tree=dir="$ovl" \
					--subject="$n ($suite)" \
					--add-metadata-string=version="$n-1" >/dev/null
		} || { rm -rf "$ovl"; return 1; }
		rm -rf "$ovl"
		if [ "$n" = host ] && [ "$with_host" = 1 ]; then
			ostree admin deploy --sysroot="$dir" --os=host --karg-none "$ref" >/dev/null || return 1
		else
			ostree admin deploy --sysroot="$dir" --os="$n" --not-as-default --karg-none "$ref" >/dev/null || return 1
		fi
		log "mk_sysroot: deployed $n ($(elapsed_since "$t0")s)"
	done
	# shellcheck disable=SC2034 # result for callers that source this file
	MK_SYSROOT_DIR=$dir
	ostree admin status --sysroot="$dir"
	log "mk_sysroot: sysroot ready at $dir ($(elapsed_since "$t0")s)"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	mk_sysroot "$@"
fi
