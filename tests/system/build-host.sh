#!/bin/bash
# T3a: build the OSTree sysroot the system test boots: one physical root holding
#   * the "host" stateroot, deployed as the default (index 0): a cached Debian host tree
#     (host-rootfs.sh) with OUR PACKAGE INSTALLED by `make install DESTDIR=… PREFIX=/usr` after
#     `make build` (= cargo build --release --locked), plus the test's own units and guest configs,
#     put in OSTree shape and committed, as a layered package would be;
#   * guest stateroots (tests/lib/mk-sysroot.sh), each deployed --not-as-default.
#
# As a script:  tests/system/build-host.sh WORKDIR       (builds WORKDIR/sysroot)
# As a library: source it, then  build_host_sysroot WORKDIR
# Results: WORKDIR/sysroot, WORKDIR/host-deployment (the host's "<csum>.<serial>"),
#          WORKDIR/status-outside.txt (`ostree admin status` seen from outside), logs in WORKDIR.
#
# What the image carries for the test (all under /usr or /etc: /usr/local and /mnt point into /var):
#   /etc/ostree-guests.d/{auto1,off1,upg,gone}.toml   guest configs present at boot (T3A_GUEST_CONFIGS)
#   /etc/fstab                  /sysroot/boot bound on /boot by boot.mount (Fedora: a partition),
#                               i.e. AFTER the generators ran, as on Fedora Atomic
#   t3a-sysroot-ro.service      stand-in for ostree-remount.service: /sysroot read-only (Fedora ≥ 37)
#   t3a-scenarios.service       oneshot: runs /var/mnt/share/scenarios.sh, leaves log + rc on the share
#
# Env: OSTREE_GUESTS_CACHE, OSTREE_GUESTS_SCRATCH, MIRROR (see tests/lib)
#      T3A_SKIP_BUILD=1  debugging only: skip `make build`, install what target/release holds
#      HOST_KIND=vm      the T3 VM host (tests/system/t3.sh): the host tree of vm-rootfs.sh with
#                        its kernel and ostree-aware initramfs, deployed with the kernel arguments
#                        of its boot entry, and the share mounted over 9p (default: container)

_T3A_DIR=$(dirname "$(realpath "${BASH_SOURCE[0]}")")
T3A_REPO=$(realpath "$_T3A_DIR/../..")
# shellcheck source=tests/lib/common.sh
. "$T3A_REPO/tests/lib/common.sh"
# shellcheck source=tests/lib/mk-sysroot.sh
. "$T3A_REPO/tests/lib/mk-sysroot.sh"
# shellcheck source=tests/system/host-rootfs.sh
. "$_T3A_DIR/host-rootfs.sh"
# shellcheck source=tests/system/vm-rootfs.sh
. "$_T3A_DIR/vm-rootfs.sh"
: "${HOST_KIND:=container}"
# The VM boots its deployment's boot entry, as a boot loader would: these are the entry's options.
T3_VM_KARGS=(root=/dev/vda rw console=ttyS0 panic=-1)

# Guest stateroots in the sysroot. fresh and pinned get their config only at test time.
T3A_GUESTS=(auto1 off1 fresh upg pinned gone netb netz neth netn netv)
T3A_HOST_REF=host/$GUEST_SUITE/$(uname -m)

# The test payload of the host image, written into the unpacked host tree (still with /etc).
_t3a_host_payload() {
	local t=$1
	echo t3a-host >"$t/etc/hostname"
	printf '127.0.0.1 localhost\n127.0.1.1 t3a-host\n::1 localhost\n' >"$t/etc/hosts"
	printf '/sysroot/boot  /boot  none  bind  0 0\n' >>"$t/etc/fstab"

	mkdir -p "$t/etc/ostree-guests.d"
	cat >"$t/etc/ostree-guests.d/auto1.toml" <<-'TOML'
		# started at boot through machines.target.wants; default network (veth)
		description = "T3a autostart guest"
		autostart = true
	TOML
	cat >"$t/etc/ostree-guests.d/off1.toml" <<-'TOML'
		autostart = false
		[network]
		mode = "none"
	TOML
	cat >"$t/etc/ostree-guests.d/upg.toml" <<-'TOML'
		autostart = false
		[network]
		mode = "none"
	TOML
	cat >"$t/etc/ostree-guests.d/gone.toml" <<-'TOML'
		autostart = false
		[network]
		mode = "none"
	TOML

	cat >"$t/usr/lib/systemd/system/t3a-sysroot-ro.service" <<-'UNIT'
		# Stand-in for ostree-remount.service (ostree-prepare-root leaves the stamp): Fedora >= 37
		# mounts /sysroot read-only. After boot.mount: the /boot bind must be taken while
		# /sysroot is still writable, or /boot would inherit the read-only flag.
		[Unit]
		Description=T3a stand-in for ostree-remount.service: read-only /sysroot
		DefaultDependencies=no
		ConditionPathExists=/run/ostree-sysroot-ro.stamp
		RequiresMountsFor=/sysroot
		After=boot.mount
		Before=local-fs.target
		[Service]
		Type=oneshot
		RemainAfterExit=yes
		ExecStart=/bin/mount -o remount,bind,ro /sysroot
		[Install]
		WantedBy=local-fs.target
	UNIT
	cat >"$t/usr/lib/systemd/system/t3a-scenarios.service" <<-'UNIT'
		[Unit]
		Description=T3a in-host scenarios (script and results on /var/mnt/share)
		RequiresMountsFor=/var/mnt/share
		After=multi-user.target
		[Service]
		Type=oneshot
		ExecStart=/usr/libexec/ostree-guests-t3a/run-scenarios
		StandardOutput=journal+console
		StandardError=inherit
		[Install]
		WantedBy=multi-user.target
	UNIT
	mkdir -p "$t/usr/libexec/ostree-guests-t3a"
	cat >"$t/usr/libexec/ostree-guests-t3a/run-scenarios" <<-'SH'
		#!/bin/bash
		# Runs the scenarios from the share, leaves log, rc and the journal there, powers the host off.
		share=/var/mnt/share
		bash "$share/scenarios.sh" 2>&1 | tee "$share/scenarios.log"
		rc=${PIPESTATUS[0]}
		echo "T3A-RC=$rc"
		journalctl -b --no-pager -o short-monotonic >"$share/host-journal.txt" 2>&1
		echo "$rc" >"$share/rc.tmp" && mv "$share/rc.tmp" "$share/rc"
		sync
		systemctl poweroff --no-block
	SH
	chmod 0755 "$t/usr/libexec/ostree-guests-t3a/run-scenarios"
	systemctl --root="$t" enable t3a-sysroot-ro.service t3a-scenarios.service >/dev/null 2>&1
	[ "$HOST_KIND" = vm ] && _t3_vm_payload "$t"
	# `ostree container` as on Fedora Atomic, where rpm-ostree provides it (scenario 17): the
	# test-only build installed here by tests/lib/ostree-container.sh, when there is one
	local ext=/usr/libexec/libostree/ext/ostree-container
	if [ "$HOST_KIND" = container ] && [ -x "$ext" ]; then
		install -D -m 0755 "$ext" "$t$ext"
	fi
	return 0
}

# What only the VM host needs: the share comes over virtio-9p (the container gets a bind).
# NetworkManager and systemd-networkd are both enabled; t3.sh masks one on the command line.
_t3_vm_payload() {
	local t=$1
	printf 'share  /var/mnt/share  9p  trans=virtio,version=9p2000.L,msize=262144,x-systemd.requires=systemd-modules-load.service  0 0\n' >>"$t/etc/fstab"
	printf '9p\n9pnet_virtio\n' >"$t/etc/modules-load.d/t3-9p.conf"
	systemctl --root="$t" enable NetworkManager.service >/dev/null 2>&1
	# a serial-console login for debugging a VM that hangs (root, no password)
	chroot "$t" passwd -d root >/dev/null
}

# die, but first stop the background mk_sysroot (it would go on writing the sysroot)
_t3a_abort() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	die "$2"
}

# host_work_start: the caller's cleanup on exit, status 130 on a signal; WORK made and absolute.
host_work_start() {
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	mkdir -p "$WORK"
	WORK=$(realpath "$WORK")
}

# host_work_remove KEEP [FILE...]: unless KEEP is 1 (T3A_KEEP, T3_KEEP), the sysroot and the
# staged host tree below WORK go, and FILE... with them.
host_work_remove() {
	local keep=$1
	shift
	[ "$keep" = 1 ] && return 0
	remove_tree "$WORK/sysroot"
	rm -rf --one-file-system "$WORK/host-stage"
	rm -f "$@"
}

build_host_sysroot() {
	local work=$1 t0 host_tar sysroot stage repo hostdep mkpid rc=0
	[ -n "$work" ] || die "usage: build_host_sysroot WORKDIR"
	need_root
	ensure_packages ostree systemd-container debootstrap e2fsprogs util-linux make
	t0=$EPOCHREALTIME
	mkdir -p "$work"
	work=$(realpath "$work")
	sysroot=$work/sysroot
	stage=$work/host-stage
	repo=$sysroot/ostree/repo

	# 1. our binaries (cargo build --release --locked via the Makefile)
	if [ "${T3A_SKIP_BUILD:-0}" = 1 ]; then # debugging only: install the binaries already in target/release
		log "build-host: T3A_SKIP_BUILD=1: not running make build"
	else
		log "build-host: make build (cargo build --release)"
		make -s -C "$T3A_REPO" build >"$work/cargo-build.log" 2>&1 ||
			{ tail -n 30 "$work/cargo-build.log" >&2; die "make build failed (log: $work/cargo-build.log)"; }
	fi
	log "build-host: release binaries built ($(elapsed_since "$t0")s)"

	# 2. both rootfs tarballs; on a cold cache the two debootstraps run in parallel
	local host_pid='' host_path=host_rootfs_path host_tar_of=host_rootfs_tar excludes=()
	if [ "$HOST_KIND" = vm ]; then
		host_path=vm_rootfs_path host_tar_of=vm_rootfs_tar
	else
		excludes=(--exclude='./usr/lib/modules/*' --exclude='./boot/*' --exclude='./usr/lib/firmware/*')
	fi
	if [ ! -s "$($host_path)" ]; then
		$host_tar_of >/dev/null &
		host_pid=$!
	fi
	guest_rootfs_tar >/dev/null || die "guest rootfs"
	if [ -n "$host_pid" ]; then wait "$host_pid" || die "host rootfs"; fi
	host_tar=$($host_tar_of) || die "host rootfs"

	# 3. the guest stateroots (mk-sysroot.sh) in the background, the host tree meanwhile
	mk_sysroot --dir "$sysroot" "${T3A_GUESTS[@]}" >"$work/mk-sysroot.log" 2>&1 &
	mkpid=$!
	remove_tree "$stage" || _t3a_abort "$mkpid" "cannot remove $stage"
	mkdir -p "$stage"
	tar -C "$stage" --numeric-owner -xf "$host_tar" "${excludes[@]}" ||
		_t3a_abort "$mkpid" "unpacking $host_tar"
	# the package, installed the way a package installs it
	make -s -C "$T3A_REPO" install DESTDIR="$stage" PREFIX=/usr >"$work/make-install.log" 2>&1 ||
		{ cat "$work/make-install.log" >&2; _t3a_abort "$mkpid" "make install failed"; }
	_t3a_host_payload "$stage"
	ostree_shape_tree "$stage" || _t3a_abort "$mkpid" "shaping the host tree"
	# the placeholder kernel of the shaped tree would shadow the VM host's real one
	[ "$HOST_KIND" = vm ] && rm -rf "$stage/usr/lib/modules/$MK_SYSROOT_KVER"
	log "build-host: host tree staged with our package ($(elapsed_since "$t0")s)"
	wait "$mkpid" || rc=$?
	if [ $rc -ne 0 ]; then cat "$work/mk-sysroot.log" >&2; die "mk_sysroot failed (rc=$rc)"; fi
	log "build-host: guest stateroots deployed: ${T3A_GUESTS[*]} ($(elapsed_since "$t0")s)"

	# 4. commit + deploy the host as the default deployment of the same sysroot
	ostree admin os-init host --sysroot="$sysroot" >/dev/null || die "os-init host"
	ostree --repo="$repo" commit --consume --branch="$T3A_HOST_REF" --tree=dir="$stage" \
		--subject="T3a host with ostree-guests installed" --add-metadata-string=version=host-1 \
		>"$work/host-commit" || die "committing the host tree"
	rm -rf --one-file-system "$stage"
	local kargs=(--karg-none)
	[ "$HOST_KIND" = vm ] && kargs+=("${T3_VM_KARGS[@]/#/--karg=}")
	ostree admin deploy --sysroot="$sysroot" --os=host "${kargs[@]}" "$T3A_HOST_REF" >/dev/null ||
		die "deploying the host"
	ostree admin status --sysroot="$sysroot" >"$work/status-outside.txt"
	hostdep=$(ostree_status_deployment "$sysroot" host)
	if [ -z "$hostdep" ] || [ ! -d "$sysroot/ostree/deploy/host/deploy/$hostdep" ]; then die "no host deployment"; fi
	# first boot of an installed host: a machine-id in the deployment's (merged) /etc
	od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$sysroot/ostree/deploy/host/deploy/$hostdep/etc/machine-id"
	# Fedora >= 37: the repo says so, ostree-remount (our stand-in) makes /sysroot read-only
	ostree --repo="$repo" config set sysroot.readonly true
	printf '%s\n' "$hostdep" >"$work/host-deployment"
	log "build-host: host $(cat "$work/host-commit") deployed as $hostdep, sysroot $(du -sh "$sysroot" | cut -f1) ($(elapsed_since "$t0")s)"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	build_host_sysroot "${1:?usage: $0 WORKDIR}"
	cat "$1/status-outside.txt"
fi
