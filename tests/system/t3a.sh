#!/bin/bash
# T3a system test: systemd as PID 1 in a `systemd-nspawn --boot` container that is BOOTED FROM AN
# OSTREE DEPLOYMENT like a Fedora Atomic host, with ostree-guests installed by `make install`, runs
# tests/system/scenarios.sh inside (a oneshot unit) against real guest stateroots.
#
#   outer machine (PID 1 is anything)
#   └─ systemd-nspawn --boot --directory=SYSROOT --pivot-root=/ostree/deploy/host/deploy/<dep>:/sysroot
#      = the host: / is its deployment, /sysroot the physical root (read-only after boot),
#        /run/ostree-booted exists before PID 1, /usr read-only, `ostree admin status` says "* host"
#      ├─ ostree-guests-generator (boot, daemon-reload) → systemd-nspawn@NAME.service drop-ins
#      └─ systemd-nspawn@NAME.service → ostree-guest-start NAME → systemd-nspawn (the guests)
#
# Usage (root, from a fresh clone):  tests/system/t3a.sh
# Env:  T3A_WORKDIR   scratch (default /dev/shm/ostree-guests-t3a; the sysroot is removed at exit)
#       T3A_KEEP=1    keep the sysroot too
#       T3A_TIMEOUT   seconds for boot + scenarios (default 300)
#       T3A_SCENARIOS the in-host script (default tests/system/scenarios.sh; for debugging)
#       OSTREE_GUESTS_CACHE, MIRROR: see tests/lib
# Output: PASS:/FAIL: lines from inside the host, TIMING: lines, and last "N passed, N failed".
# Logs (kept): $T3A_WORKDIR/share/{scenarios.log,host-journal.txt}, $T3A_WORKDIR/console.log.
# The outer `sh -c` script gets its values as positional parameters: single quotes are meant.
# shellcheck disable=SC2016
set -uo pipefail

T3A_DIR=$(dirname "$(realpath "${BASH_SOURCE[0]}")")
# shellcheck source=tests/system/build-host.sh
. "$T3A_DIR/build-host.sh"
# shellcheck source=tests/system/remote-repo.sh
. "$T3A_DIR/remote-repo.sh"
# shellcheck source=tests/lib/ostree-container.sh
. "$T3A_DIR/../lib/ostree-container.sh"

need_root
ensure_packages ostree systemd-container debootstrap e2fsprogs util-linux make

WORK=${T3A_WORKDIR:-/dev/shm/ostree-guests-t3a}
TIMEOUT=${T3A_TIMEOUT:-600}
SHARE=$WORK/share
OUTER_PID=

cleanup() {
	local rc=$? i
	trap - EXIT INT TERM
	if [ -n "$OUTER_PID" ] && kill -0 "$OUTER_PID" 2>/dev/null; then
		log "cleanup: stopping the host container (pid $OUTER_PID)"
		kill -TERM "$OUTER_PID" 2>/dev/null
		for ((i = 0; i < 100; i++)); do kill -0 "$OUTER_PID" 2>/dev/null || break; sleep 0.1; done
		# the process group: timeout, unshare, nspawn and whatever is left of the container
		kill -KILL -- "-$OUTER_PID" 2>/dev/null
		wait "$OUTER_PID" 2>/dev/null
	fi
	# every mount lived in the unshare'd namespace: gone with its last process
	if findmnt -rn -o TARGET | grep -qF "$WORK"; then
		log "cleanup: mounts left below $WORK:"
		findmnt -rn -o TARGET | grep -F "$WORK" >&2
		rc=1
	else
		host_work_remove "${T3A_KEEP:-0}" "$WORK/empty"
	fi
	exit $rc
}

t_start=$EPOCHREALTIME
host_work_start
rm -rf "$SHARE" "$WORK/console.log"
mkdir -p "$SHARE"

# `ostree container` here (the images of scenario 17) and in the host image (build-host.sh
# copies the extension when it is installed here)
ensure_ostree_container || die "ostree container is not available (tests/lib/ostree-container.sh)"
build_host_sysroot "$WORK" || die "building the sysroot failed"
t_built=$EPOCHREALTIME
SYSROOT=$WORK/sysroot
HOSTDEP=$(cat "$WORK/host-deployment")
install -m 0644 "${T3A_SCENARIOS:-$T3A_DIR/scenarios.sh}" "$SHARE/scenarios.sh"
install -m 0644 "$T3A_DIR/scenario-remote.sh" "$T3A_DIR/scenario-image.sh" "$T3A_DIR/../lib/common.sh" "$SHARE/"
mkdir -p "$SHARE/images"
{
	oci_test_image "$SYSROOT/ostree/repo" "$SHARE/images/oci:latest" 1 &&
		oci_test_image "$SYSROOT/ostree/repo" "$SHARE/images/oci-2:latest" 2
} || die "making the images of scenario 17 failed"
make_signed_remote "$SHARE/remote" "$SYSROOT" || die "making the signed remote failed"
: >"$WORK/empty" # ostree-prepare-root leaves an empty /run/ostree-booted (and the ro stamp)

# * --pivot-root needs --directory to be a mount point: bind SYSROOT onto itself in a private mount
#   namespace; inside, the old root (= SYSROOT) lands on /sysroot, as on Fedora Atomic.
# * '+' sources resolve inside the container after the pivot (+/sysroot/… = SYSROOT/…).
# * /run/ostree-booted is bound before PID 1 starts, so the generators see it (Fedora: initramfs).
# * the share goes below /var: /mnt is a symlink to var/mnt in OSTree shape.
# * --keep-unit --register=no: the outer PID 1 need not be systemd.
# * cgroup v2 inside (as on Fedora) even on this machine's hybrid hierarchy.
log "t3a: booting the host deployment $HOSTDEP"
export SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1
setsid timeout "$TIMEOUT" unshare -m --propagation private sh -c '
	dir=$1 dep=$2; shift 2
	mount --bind "$dir" "$dir" && exec systemd-nspawn --keep-unit --register=no --boot \
		--machine=t3a-host --directory="$dir" --pivot-root="/ostree/deploy/host/deploy/$dep:/sysroot" \
		"$@"' sh "$SYSROOT" "$HOSTDEP" \
	--bind=+/sysroot/ostree/deploy/host/var:/var \
	--bind-ro=+/usr:/usr \
	--bind-ro="$WORK/empty:/run/ostree-booted" \
	--bind-ro="$WORK/empty:/run/ostree-sysroot-ro.stamp" \
	--bind="$SHARE:/var/mnt/share" \
	--private-network --capability=all \
	</dev/null >"$WORK/console.log" 2>&1 &
OUTER_PID=$!
wait "$OUTER_PID"
outer_rc=$?
OUTER_PID=
t_done=$EPOCHREALTIME
log "t3a: host container exited rc=$outer_rc"

if [ -s "$SHARE/scenarios.log" ]; then
	# the in-host summary line is replaced by ours (the same counts plus missing results)
	grep -v '^[0-9]* passed, [0-9]* failed$' "$SHARE/scenarios.log"
	N_PASS=$(grep -c '^PASS: ' "$SHARE/scenarios.log")
	N_FAIL=$(grep -c '^FAIL: ' "$SHARE/scenarios.log")
else
	echo "no scenario log; tail of the console:"
	tail -n 40 "$WORK/console.log"
fi
if [ ! -s "$SHARE/rc" ]; then
	# the host did not finish: its persistent journal is still in the host stateroot's var
	if [ -d "$SYSROOT/ostree/deploy/host/var/log/journal" ]; then
		journalctl -D "$SYSROOT/ostree/deploy/host/var/log/journal" --no-pager -o short-monotonic \
			>"$SHARE/host-journal.txt" 2>&1
		log "t3a: the host's journal, read from outside: $SHARE/host-journal.txt"
	fi
	fail "the in-host scenarios finished" "no rc file on the share; host exit $outer_rc; console $WORK/console.log"
elif [ "$(cat "$SHARE/rc")" != 0 ] && [ "$N_FAIL" = 0 ]; then
	fail "the in-host scenario script exited 0" "rc=$(cat "$SHARE/rc")"
fi
echo "TIMING: build $(elapsed_since "$t_start" "$t_built")s, boot + scenarios $(elapsed_since "$t_built" "$t_done")s, total $(elapsed_since "$t_start" "$t_done")s"
log "t3a: logs in $SHARE and $WORK/console.log"
check_summary
