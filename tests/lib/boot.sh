# shellcheck shell=bash
# Guest lifecycle for the boot tests (sourced): start guests through the start helper without
# systemd, wait for multi-user.target, run commands inside, stop them, clean up. It sources
# common.sh and mk-sysroot.sh and sets REPO (the repository's root), so a T2 script starts with
#
#   . "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/../lib/boot.sh"
#   t2_init /dev/shm/ostree-guests-t2-NAME [PACKAGE...]   # root, packages, variables, boot_setup
#   t2_fresh_work                                         # empty WORK, LOGS, config directory
#   t2_need_helper                                        # the helper, built when missing
#
# t2_init sets WORK LOGS SYSROOT CFGROOT HELPER BOOT_TIMEOUT STOP_TIMEOUT (a caller without it
# sets them itself before boot_setup: traps, helper environment). Guests are started with the
# helper's --no-register: there is no machined where PID 1 is not systemd.

_BOOT_LIB=$(dirname "$(realpath "${BASH_SOURCE[0]}")")
REPO=$(realpath "$_BOOT_LIB/../..")
# shellcheck source=tests/lib/common.sh
. "$_BOOT_LIB/common.sh"
# shellcheck source=tests/lib/mk-sysroot.sh
. "$_BOOT_LIB/mk-sysroot.sh"

# ---- bookkeeping for cleanup ---------------------------------------------------
declare -A GUEST_PID=() # name -> helper pid (= nspawn pid after exec)
EXTRA_PIDS=()           # other processes we started (namespace holders)

stop_pid() { # stop_pid PID TIMEOUT: SIGTERM, wait bounded, then SIGKILL; returns 0 if it exited on TERM
	local pid=$1 timeout=${2:-$STOP_TIMEOUT} i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < timeout * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	return 1
}

cleanup() {
	local rc=$? n p
	trap - EXIT INT TERM
	for n in "${!GUEST_PID[@]}"; do
		p=${GUEST_PID[$n]}
		kill -0 "$p" 2>/dev/null && { log "cleanup: stopping leftover guest $n (pid $p)"; stop_pid "$p" 10; }
	done
	for p in "${EXTRA_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	guest_cgroup_remove
	if findmnt -rn -o TARGET | grep -qF "$WORK"; then
		log "cleanup: mounts left below $WORK:"
		findmnt -rn -o TARGET | grep -F "$WORK" >&2
	elif [ "${T2_KEEP:-0}" != 1 ]; then
		clear_immutable "$SYSROOT"
		rm -rf --one-file-system "$SYSROOT" "$CFGROOT"
		log "cleanup: removed $SYSROOT (console logs kept in $LOGS)"
	else
		log "cleanup: T2_KEEP=1, kept $WORK"
	fi
	exit $rc
}

boot_setup() {
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	# Nothing of the unit's environment is added here: the helper sets what nspawn needs
	# (SYSTEMD_NSPAWN_LOCK=0 and the profile's variables) itself, and the tests rely on that.
	helper_env=(env OSTREE_GUESTS_ROOT="$CFGROOT" OSTREE_GUESTS_SYSROOT="$SYSROOT" OSTREE_GUESTS_BOOT="$SYSROOT/boot")
}

timing() { printf 'TIMING: %s %ss\n' "$1" "$2"; }

# ---- the T2 scripts' common start -----------------------------------------------------
# t2_init WORKDIR [PACKAGE...]: root, the boot tests' packages and PACKAGE..., the variables
# (WORK is T2_WORKDIR or WORKDIR; HELPER is OSTREE_GUEST_START or the debug build under
# CARGO_TARGET_DIR, default <repo>/target), then boot_setup.
t2_init() {
	local workdir=$1
	shift
	need_root
	ensure_packages ostree systemd-container debootstrap e2fsprogs util-linux mount "$@"
	WORK=${T2_WORKDIR:-$workdir}
	SYSROOT=$WORK/sysroot
	CFGROOT=$WORK/root
	LOGS=$WORK/logs
	BOOT_TIMEOUT=${T2_BOOT_TIMEOUT:-120}
	STOP_TIMEOUT=30
	T2_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
	case $T2_TARGET_DIR in /*) ;; *) T2_TARGET_DIR=$REPO/$T2_TARGET_DIR ;; esac
	HELPER=${OSTREE_GUEST_START:-$T2_TARGET_DIR/debug/ostree-guest-start}
	boot_setup
}

# t2_fresh_work: WORK removed and made again with LOGS and the configuration directory (mode
# 0755 whatever the umask: the loader ignores group-writable ones)
t2_fresh_work() {
	if [ -e "$WORK" ]; then remove_tree "$WORK" || die "cannot remove the old $WORK"; fi
	mkdir -p "$LOGS" "$CFGROOT/etc/ostree-guests.d"
	chmod 0755 "$CFGROOT" "$CFGROOT/etc" "$CFGROOT/etc/ostree-guests.d"
}

# t2_need_helper: HELPER must be executable; the default one is built first if it is missing
# and cargo is there.
t2_need_helper() {
	if [ ! -x "$HELPER" ] && [ -z "${OSTREE_GUEST_START:-}" ] && command -v cargo >/dev/null; then
		log "building the helper: cargo build -p ostree-guests-helpers"
		(cd "$REPO" && CARGO_TARGET_DIR=$T2_TARGET_DIR cargo build -q -p ostree-guests-helpers) ||
			die "cargo build failed"
	fi
	[ -x "$HELPER" ] || die "helper $HELPER missing: run 'cargo build -p ostree-guests-helpers', or set OSTREE_GUEST_START"
	log "helper: $HELPER"
}

# conf NAME TEXT: guest NAME's configuration file, TEXT then [network] mode = "none" (the boot
# tests give guests no network), mode 0644.
conf() {
	printf '%s\n[network]\nmode = "none"\n' "$2" >"$CFGROOT/etc/ostree-guests.d/$1.toml"
	chmod 0644 "$CFGROOT/etc/ostree-guests.d/$1.toml"
}

guest_dry_run() { "${helper_env[@]}" "$HELPER" --dry-run --no-register "$1"; }

# ---- guest lifecycle ------------------------------------------------------------------
declare -A BOOT_T0=() BOOT_SECS=() LEADER=()
MU_RE='Reached target.*(multi-user\.target|Multi-User System)'
BOOT_WRAP=() # optional command prefix for the next boot; it must exec its arguments

# boot_guest NAME LOGFILE: start the guest in the background (console -> LOGFILE); GUEST_PID[NAME]
# Each guest gets a cgroup of its own, as its unit would under systemd. nspawn needs one it can
# hand to the guest: a user-namespaced guest (private-users = "idmap") cannot even start its
# init in the root cgroup ("Failed to create /init.scope control group: Permission denied").
GUEST_CGROUP_BASE=
if [ -e /sys/fs/cgroup/unified/cgroup.procs ]; then
	GUEST_CGROUP_BASE=/sys/fs/cgroup/unified/ostree-guests-tests.$$ # hybrid hierarchy
elif [ -e /sys/fs/cgroup/cgroup.controllers ]; then
	GUEST_CGROUP_BASE=/sys/fs/cgroup/ostree-guests-tests.$$ # unified hierarchy
fi

guest_cgroup_remove() { # remove the cgroup tree of the test run, deepest first
	[ -n "$GUEST_CGROUP_BASE" ] && [ -d "$GUEST_CGROUP_BASE" ] || return 0
	find "$GUEST_CGROUP_BASE" -depth -type d -exec rmdir {} + 2>/dev/null
	return 0
}

boot_guest() {
	local cg=
	if [ -n "$GUEST_CGROUP_BASE" ]; then
		cg=$GUEST_CGROUP_BASE/$1.$RANDOM
		mkdir -p "$cg"
	fi
	# shellcheck disable=SC2016
	"${helper_env[@]}" "${BOOT_WRAP[@]}" sh -c '[ -z "$0" ] || echo $$ >"$0/cgroup.procs" || exit 1; exec "$@"' \
		"$cg" "$HELPER" --no-register "$1" </dev/null >"$2" 2>&1 &
	GUEST_PID[$1]=$!
	BOOT_T0[$1]=$EPOCHREALTIME
}

# wait_multi_user NAME LOGFILE: 0 once the console shows multi-user.target; sets LEADER[NAME]
wait_multi_user() {
	local name=$1 logf=$2 pid=${GUEST_PID[$1]} i
	for ((i = 0; i < BOOT_TIMEOUT * 20; i++)); do
		grep -qE "$MU_RE" "$logf" 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || { echo "pid $pid exited before multi-user.target: $(tail -n 5 "$logf" | tr '\n' '|')"; return 1; }
		sleep 0.05
	done
	grep -qE "$MU_RE" "$logf" || { echo "no multi-user.target after ${BOOT_TIMEOUT}s"; return 1; }
	BOOT_SECS[$name]=$(elapsed_since "${BOOT_T0[$name]}")
	# once the container runs, its PID 1 is nspawn's only child
	LEADER[$name]=$(cat /proc/"$pid"/task/*/children 2>/dev/null | awk '{print $1; exit}')
	[ -n "${LEADER[$name]}" ] || { echo "pid $pid has no child"; return 1; }
	echo "after ${BOOT_SECS[$name]}s, guest PID 1 = host pid ${LEADER[$name]}"
}

# boot_and_wait WHAT NAME LOGFILE: boot + PASS/FAIL "reaches multi-user.target"
boot_and_wait() {
	local what=$1 name=$2 logf=$3
	boot_guest "$name" "$logf"
	# not through check(): wait_multi_user sets variables, so it must run in this shell
	if wait_multi_user "$name" "$logf" >"$WORK/wait.out"; then
		pass "$what reaches multi-user.target" "$(cat "$WORK/wait.out")"
		timing "boot $what to multi-user.target" "${BOOT_SECS[$name]}"
		return 0
	fi
	fail "$what reaches multi-user.target" "$(cat "$WORK/wait.out")"
	log "console log $logf:"
	tail -n 30 "$logf" >&2
	return 1
}

in_guest() { # NAME CMD...
	local name=$1
	shift
	nsenter -t "${LEADER[$name]}" -a -- "$@"
}

# stop_guest NAME [LABEL]: SIGTERM to the helper (= nspawn) pid, bounded wait; PASS when it exits 0
stop_guest() {
	local name=$1 pid=${GUEST_PID[$1]} t0=$EPOCHREALTIME rc=0 what
	what="$name stops on SIGTERM to pid $pid${2:+ ($2)}"
	if stop_pid "$pid" "$STOP_TIMEOUT"; then
		wait "$pid" 2>/dev/null || rc=$?
		if [ $rc = 0 ]; then pass "$what" "exit status 0 after $(elapsed_since "$t0")s"; else fail "$what" "exit status $rc"; fi
	else
		wait "$pid" 2>/dev/null
		fail "$what" "still running after ${STOP_TIMEOUT}s, sent SIGKILL"
	fi
	unset "GUEST_PID[$name]"
}

# kill_guest NAME: after a failed boot, stop whatever is left without another assertion
kill_guest() {
	local rc=0
	stop_pid "${GUEST_PID[$1]}" 10
	wait "${GUEST_PID[$1]}" 2>/dev/null || rc=$?
	log "$1: helper exit status $rc"
	unset "GUEST_PID[$1]"
}

# checks used after each boot
guest_running_checks() { # NAME WHAT
	local name=$1 what=$2
	check "$what: systemctl is-system-running --wait is running" \
		in_guest "$name" timeout 60 systemctl is-system-running --wait
	# shellcheck disable=SC2016 # expanded by the guest's shell
	check "$what: 0 failed units" in_guest "$name" sh -c \
		'u=$(systemctl list-units --failed --plain --no-legend); n=$(printf "%s" "$u" | grep -c .); echo "$n failed ${u:+: $u}"; [ "$n" = 0 ]' ||
		dump_failed_units "$name" "$what"
}

dump_failed_units() { # NAME WHAT: keep status + journal of the failed units for the report
	local f u
	f=$LOGS/failed-units-$(printf '%s' "$2" | tr -c 'A-Za-z0-9-' _).txt
	for u in $(in_guest "$1" systemctl list-units --failed --plain --no-legend | awk '{print $1}'); do
		in_guest "$1" systemctl status --no-pager -l "$u"
		in_guest "$1" journalctl -b --no-pager -o short-monotonic -u "$u"
	done >"$f" 2>&1
	log "failed units of $2 (saved in $f):"
	grep -vE '^\s*$' "$f" | tail -n 15 >&2
}

fingerprint() { # PATH...: "sha256 mtime path" per file (the loader symlink by its target)
	local f
	for f in "$@"; do
		if [ -L "$f" ]; then
			printf 'link %s %s\n' "$(readlink "$f")" "$f"
		else
			printf '%s %s %s\n' "$(sha256sum <"$f" | cut -d' ' -f1)" "$(stat -c %y "$f")" "$f"
		fi
	done
}
