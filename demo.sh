#!/bin/bash
# The ostree-guests demo, for a fresh Debian 12 machine (root):
#   1. builds the project and installs it into a staging tree with `make install`,
#   2. makes a throwaway OSTree sysroot with a "host" stateroot and a Debian guest stateroot "demo",
#   3. writes /etc/ostree-guests.d/demo.toml (in a scratch config root) and runs the installed
#      generator, which writes the drop-in for systemd-nspawn@demo.service,
#   4. runs that drop-in's ExecStart= line (our helper, which execs systemd-nspawn), waits for the
#      guest to reach multi-user.target, runs a few commands inside and powers it off.
# This machine has no systemd as PID 1, so step 4 plays the part of `systemctl start`.
#
# Env: KEEP=1 keeps the scratch directory; OSTREE_GUESTS_CACHE (debootstrap cache).
set -euo pipefail
repo=$(dirname "$(realpath "$0")")
cd "$repo"
# shellcheck source=tests/lib/common.sh
source tests/lib/common.sh
need_root
ensure_packages ostree systemd-container debootstrap e2fsprogs util-linux make

work=$(mktemp -d /dev/shm/ostree-guests-demo.XXXXXX)
helper_pid=
# The unit would run the guest in a cgroup of its own (Delegate=yes); without systemd as PID 1
# the demo makes one, or a user-namespaced guest's init could not create its init.scope.
cgroup=
if [ -e /sys/fs/cgroup/unified/cgroup.procs ]; then
	cgroup=/sys/fs/cgroup/unified/ostree-guests-demo.$$
elif [ -e /sys/fs/cgroup/cgroup.controllers ]; then
	cgroup=/sys/fs/cgroup/ostree-guests-demo.$$
fi
cleanup() {
	if [ -n "$helper_pid" ] && kill -0 "$helper_pid" 2>/dev/null; then
		kill -KILL "$helper_pid" 2>/dev/null || true
		wait "$helper_pid" 2>/dev/null || true
	fi
	[ -n "$cgroup" ] && [ -d "$cgroup" ] && find "$cgroup" -depth -type d -exec rmdir {} + 2>/dev/null
	if [ "${KEEP:-0}" = 1 ]; then log "kept $work"; else remove_tree "$work"; fi
}
trap cleanup EXIT

log "1. build and install into a staging tree"
make --no-print-directory build >/dev/null
make --no-print-directory install DESTDIR="$work/install" PREFIX=/usr >/dev/null
(cd "$work/install" && find . -type f | sort | sed 's|^\.|    |')

log "2. a throwaway OSTree sysroot (host + guest stateroot 'demo')"
# shellcheck source=tests/lib/mk-sysroot.sh
source tests/lib/mk-sysroot.sh
mk_sysroot --with-host --dir "$work/sysroot" demo >/dev/null 2>"$work/mk-sysroot.log" ||
	{ cat "$work/mk-sysroot.log"; die "building the sysroot failed"; }
ostree admin status --sysroot="$work/sysroot" | sed 's/^/    /'

log "3. the guest's configuration and the generator's output"
conf=$work/root/etc/ostree-guests.d
mkdir -p "$conf"
cat >"$conf/demo.toml" <<'EOF'
description = "ostree-guests demo guest"
[network]
mode = "none"
EOF
sed 's/^/    /' "$conf/demo.toml"
OSTREE_GUESTS_ROOT=$work/root \
	"$work/install/usr/lib/systemd/system-generators/ostree-guests-generator" "$work/generator"
(cd "$work/generator" && find . \( -type f -o -type l \) | sort | while read -r f; do
	if [ -L "$f" ]; then echo "    $f -> $(readlink "$f")"; else echo "    $f"; fi
done)
dropin=$work/generator/systemd-nspawn@demo.service.d/50-ostree-guests.conf
sed 's/^/    | /' "$dropin"

log "4. start the guest the way the unit would: its ExecStart="
exec_line=$(sed -n 's/^ExecStart=\(..*\)$/\1/p' "$dropin" | tail -1)
[ -n "$exec_line" ] || die "no ExecStart in $dropin"
read -r -a cmd <<<"$exec_line"
# The drop-in names the installed path; this demo's installation lives in the staging tree.
cmd[0]=$work/install${cmd[0]}
log "    ${exec_line}"
export OSTREE_GUESTS_ROOT=$work/root OSTREE_GUESTS_SYSROOT=$work/sysroot OSTREE_GUESTS_BOOT=$work/sysroot/boot
# Options go before the drop-in's "--", which ends them.
"${cmd[0]}" --dry-run "${cmd[@]:1}" | sed -n 's/^\(deployment\|directory\|version\): /    \1: /p'
console=$work/console.log
[ -z "$cgroup" ] || mkdir -p "$cgroup"
# shellcheck disable=SC2016
sh -c '[ -z "$0" ] || echo $$ >"$0/cgroup.procs" || exit 1; exec "$@"' "$cgroup" "${cmd[@]}" \
	</dev/null >"$console" 2>&1 &
helper_pid=$!
t0=$EPOCHREALTIME
for _ in $(seq 600); do
	grep -q 'Reached target.*Multi-User' "$console" && break
	kill -0 "$helper_pid" 2>/dev/null || { cat "$console"; die "the guest exited early"; }
	sleep 0.1
done
grep -q 'Reached target.*Multi-User' "$console" || { tail -30 "$console"; die "no multi-user.target in 60 s"; }
log "    guest reached multi-user.target in $(elapsed_since "$t0") s (pid $helper_pid is systemd-nspawn: $(cat /proc/$helper_pid/comm))"

leader=$(cat /proc/"$helper_pid"/task/*/children | awk '{print $1; exit}')
in_guest() { nsenter -t "$leader" -a -- "$@"; }
log "    inside the guest:"
# expanded by the guest's shell, not here
# shellcheck disable=SC2016
in_guest sh -c '
	echo "    hostname:   $(cat /etc/hostname)"
	echo "    os:         $(. /etc/os-release && echo "$PRETTY_NAME")"
	echo "    stateroot:  $(cat /usr/share/ostree-guests-test/stateroot)"
	echo "    state:      $(systemctl is-system-running --wait)"
	echo "    / is        $(findmnt -no SOURCE /)"
	echo "    /var is     $(findmnt -no SOURCE /var)"
	echo "    /usr write: $(touch /usr/probe 2>&1 || true)"
	echo "    /sysroot:   $(ls -A /sysroot | wc -l) entries (the host'"'"'s physical root is not visible)"'

log "    powering off (SIGTERM to systemd-nspawn)"
kill -TERM "$helper_pid"
rc=0
wait "$helper_pid" || rc=$?
helper_pid=
log "    systemd-nspawn exited with status $rc"
[ "$rc" = 0 ] || die "the guest did not power off cleanly"
log "demo finished"
