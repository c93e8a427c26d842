#!/bin/bash
# T3 system test (opt-in, for release checks): the T3a host and its in-host scenarios in a QEMU VM
# with its own kernel, booted FROM ITS OSTREE DEPLOYMENT through the deployment's boot entry:
#
#   outer machine
#   └─ qemu-system-x86_64 (TCG), disk = the physical root (an ext4 image of the OSTree sysroot)
#      kernel, initramfs, options = the host's BLS entry (/boot/loader/entries/ostree-*-host.conf)
#      └─ dracut initramfs: ostree-prepare-root.service turns ostree= into / (as on Fedora Atomic)
#         └─ systemd as PID 1 (252 on Debian 12, 257 on 13), cgroup v2 with controllers, udev, our
#            package (make install)
#            ├─ ostree-guests-generator → systemd-nspawn@NAME.service → ostree-guest-start → nspawn
#            └─ t3a-scenarios.service: tests/system/scenarios.sh from the 9p share
#
# It boots the same image twice, picking the network stack on the kernel command line:
#   networkd        NetworkManager masked; scenarios 0-13 (13: cgroup controllers, MemoryMax) and 18
#   networkmanager  systemd-networkd masked; scenarios 0, 1, 14 (bridge from our keyfile on an
#                   uplink matched by MAC, a bridged guest's lease, a veth guest reaching the host)
#                   and 18
# Scenario 18 reads the /run/ostree-booted that the real ostree-prepare-root wrote (a GVariant on
# Debian 13) with GLib and checks our booted-stateroot detection against libostree's.
# The VM has one virtio NIC on QEMU's user network (it serves DHCP to the bridge and the guest).
#
# Usage (root, from a fresh clone):  tests/system/t3.sh        or   T3=1 tests/run
#        Debian 13 host and guests:   HOST_SUITE=trixie GUEST_SUITE=trixie tests/system/t3.sh
# Env:  HOST_SUITE   Debian suite of the VM host (default bookworm; trixie: systemd 257, ostree
#                    2025.2, NetworkManager 1.52); GUEST_SUITE defaults to HOST_SUITE
#       T3_WORKDIR   scratch (default /dev/shm/ostree-guests-t3; image and logs, removed unless
#                    T3_KEEP=1)
#       T3_BOOTS     which boots, in order (default "networkd networkmanager")
#       T3_SCENARIOS which scenarios every boot runs (default: 0-13 18, and 0 1 14 18);
#       T3_SCENARIOS_NETWORKD, T3_SCENARIOS_NETWORKMANAGER  the same for one boot (they win)
#       T3_LOCK      a lock file (e.g. /var/tmp/ostree-guests-systest.lock) held with flock only
#                    while the sysroot and disk image are built, not while QEMU runs: the VMs
#                    share nothing mutable with T2/T3a but the caches (own workdir, user-mode
#                    network, no machined registration on this machine)
#       T3_NICE      niceness of QEMU (default 10: other tiers may run meanwhile)
#       T3_TIMEOUT   seconds per boot (default 4500: TCG emulates every instruction; the
#                    networkd boot took about 40 min on 2 busy cores on Debian 12, 23 min on 13)
#       T3_MEM, T3_CPUS  VM size (default 3072 MiB, 2)
#       T3_TIME_SCALE    multiplies the scenarios' timeouts (default 6: TCG is that much slower)
#       OSTREE_GUESTS_CACHE, MIRROR: see tests/lib
# KVM: /dev/kvm on this machine type cannot boot a stock kernel (see README), so it is TCG always
# unless T3_ACCEL=kvm.
# Output: PASS:/FAIL: lines from inside the VM, TIMING: lines, and last "N passed, N failed".
set -uo pipefail

T3_DIR=$(dirname "$(realpath "${BASH_SOURCE[0]}")")
export HOST_KIND=vm
: "${HOST_SUITE:=bookworm}"
: "${GUEST_SUITE:=$HOST_SUITE}"
export HOST_SUITE GUEST_SUITE
# shellcheck source=tests/system/build-host.sh
. "$T3_DIR/build-host.sh"

need_root
# qemu-system-x86 from Debian 12 (it replaces a newer qemu-utils backport, if one is installed)
ensure_packages qemu-system-x86 ostree systemd-container debootstrap e2fsprogs util-linux make dracut-core

WORK=${T3_WORKDIR:-/dev/shm/ostree-guests-t3}
TIMEOUT=${T3_TIMEOUT:-4500}
BOOTS=${T3_BOOTS:-networkd networkmanager}
QEMU_PID=

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "$QEMU_PID" ] && kill -0 "$QEMU_PID" 2>/dev/null; then
		log "cleanup: stopping the VM (pid $QEMU_PID)"
		kill -KILL "$QEMU_PID" 2>/dev/null
		wait "$QEMU_PID" 2>/dev/null
	fi
	host_work_remove "${T3_KEEP:-0}" "$WORK/disk.img"
	exit $rc
}

t_start=$EPOCHREALTIME
host_work_start
if [ -n "${T3_LOCK:-}" ]; then
	exec {lock_fd}>"$T3_LOCK" || die "cannot open T3_LOCK=$T3_LOCK"
	log "t3: waiting for $T3_LOCK (held while building only)"
	flock "$lock_fd"
fi
log "t3: $HOST_SUITE host, $GUEST_SUITE guests"
build_host_sysroot "$WORK" || die "building the sysroot failed"
SYSROOT=$WORK/sysroot

# The boot loader's part: the host's entry names kernel, initramfs and options.
entry=$(grep -l '^options .*ostree=/ostree/boot\.[01]/host/' "$SYSROOT"/boot/loader/entries/*.conf | head -n 1)
[ -n "$entry" ] || die "no boot entry for the host deployment in $SYSROOT/boot/loader/entries"
kernel=$SYSROOT/boot$(awk '$1 == "linux" {print $2}' "$entry")
initrd=$SYSROOT/boot$(awk '$1 == "initrd" {print $2}' "$entry")
options=$(sed -n 's/^options //p' "$entry")
if [ ! -s "$kernel" ] || [ ! -s "$initrd" ]; then die "the entry $entry names no kernel/initramfs that exists"; fi
log "t3: boot entry $(basename "$entry"): options $options"
{ cp "$kernel" "$WORK/vmlinuz" && cp "$initrd" "$WORK/initramfs.img"; } || die "copying the kernel"

# The physical root as the VM's disk; mke2fs -d keeps hard links, so the shared repo objects stay
# shared. The image is sparse; QEMU writes to a snapshot, so each boot starts from this state.
rm -f "$WORK/disk.img"
mkfs.ext4 -q -F -L ostree-sysroot -d "$SYSROOT" "$WORK/disk.img" 10G >"$WORK/mkfs.log" 2>&1 ||
	{ cat "$WORK/mkfs.log" >&2; die "mkfs.ext4 -d $SYSROOT failed"; }
remove_tree "$SYSROOT"
t_built=$EPOCHREALTIME
# the image is built: T2/T3a may run while the VMs boot
[ -n "${T3_LOCK:-}" ] && exec {lock_fd}>&-
log "t3: disk image $(du -h "$WORK/disk.img" | cut -f1) used ($(elapsed_since "$t_start" "$t_built")s since start)"

accel=${T3_ACCEL:-tcg}
# "tcg,thread=multi" is one argument of -accel
# shellcheck disable=SC2054
if [ "$accel" = kvm ]; then accel_args=(-accel kvm -cpu host); else accel_args=(-accel tcg,thread=multi -cpu max); fi

# boot NAME EXTRA_KARGS SCENARIOS: one VM boot; its results land in $WORK/share-NAME
boot() {
	local name=$1 extra=$2 selection=$3 share=$WORK/share-$1 t0=$EPOCHREALTIME rc=0
	rm -rf "$share"
	mkdir -p "$share"
	install -m 0644 "$T3_DIR/scenarios.sh" "$T3_DIR/scenario-nm.sh" "$T3_DIR/scenario-marker.sh" \
		"$T3_DIR/../lib/common.sh" "$share/"
	printf 'TIER=vm\nSCENARIOS="%s"\nTIME_SCALE=%s\n' "$selection" "${T3_TIME_SCALE:-6}" >"$share/tier.env"
	log "t3: boot '$name' (${accel}, timeout ${TIMEOUT}s): scenarios $selection; console $WORK/console-$name.log"
	timeout "$TIMEOUT" nice -n "${T3_NICE:-10}" qemu-system-x86_64 -machine q35 "${accel_args[@]}" \
		-smp "${T3_CPUS:-2}" -m "${T3_MEM:-3072}" \
		-nodefaults -no-reboot -display none -monitor none -serial "file:$WORK/console-$name.log" \
		-kernel "$WORK/vmlinuz" -initrd "$WORK/initramfs.img" -append "$options $extra" \
		-drive "file=$WORK/disk.img,if=virtio,format=raw,snapshot=on" \
		-virtfs "local,path=$share,mount_tag=share,security_model=none,id=share" \
		-nic "user,model=virtio-net-pci,mac=52:54:00:12:34:56" \
		-device virtio-rng-pci </dev/null &
	QEMU_PID=$!
	wait "$QEMU_PID" || rc=$?
	QEMU_PID=
	log "t3: boot '$name' ended rc=$rc after $(elapsed_since "$t0")s"
	if [ -s "$share/scenarios.log" ]; then
		grep -v '^[0-9]* passed, [0-9]* failed$' "$share/scenarios.log" | sed "s/^/[$name] /"
		N_PASS=$((N_PASS + $(grep -c '^PASS: ' "$share/scenarios.log")))
		N_FAIL=$((N_FAIL + $(grep -c '^FAIL: ' "$share/scenarios.log")))
	else
		echo "[$name] no scenario log; tail of the console:"
		tail -n 40 "$WORK/console-$name.log"
	fi
	if [ ! -s "$share/rc" ]; then
		fail "[$name] the in-host scenarios finished" "no rc file; qemu rc=$rc; console $WORK/console-$name.log"
	elif [ "$(cat "$share/rc")" != 0 ] && ! grep -q '^FAIL: ' "$share/scenarios.log"; then
		fail "[$name] the in-host scenario script exited 0" "rc=$(cat "$share/rc")"
	fi
	echo "TIMING: boot $name $(elapsed_since "$t0")s"
}

for b in $BOOTS; do
	case $b in
	networkd)
		boot networkd "systemd.mask=NetworkManager.service" \
			"${T3_SCENARIOS_NETWORKD:-${T3_SCENARIOS:-0 1 2 3 4 5 6 7 8 9 10 11 12 13 18}}"
		;;
	networkmanager)
		boot networkmanager "systemd.mask=systemd-networkd.service systemd.mask=systemd-networkd.socket" \
			"${T3_SCENARIOS_NETWORKMANAGER:-${T3_SCENARIOS:-0 1 14 18}}"
		;;
	*) die "T3_BOOTS: unknown boot '$b' (networkd, networkmanager)" ;;
	esac
done
echo "TIMING: build $(elapsed_since "$t_start" "$t_built")s, total $(elapsed_since "$t_start")s"
log "t3: logs in $WORK/share-* and $WORK/console-*.log"
check_summary
