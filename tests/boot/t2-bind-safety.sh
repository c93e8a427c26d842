#!/bin/bash
# T2 bind safety: what the start helper refuses at start, on a real sysroot with real
# systemd-nspawn (see "Bind sources" in ostree-guest-start(8) and HOST SAFETY in
# ostree-guests.d(5)).
#
#   plus     [[bind]] source = "+/etc/appdata": boots with its own directory; then its root
#            replaces /etc/appdata by a symlink to / and the next start is refused (exit 101)
#   hostlink a host source that is a symlink to /: refused at start (exit 101)
#   ramfs    a host source on ramfs, which cannot be idmapped: refused before nspawn (exit 100)
#   priv     private-users = "no": still boots, and the helper warns that it is privileged
#   sysc     system-call-filter = ["~chroot", "@swap"]: seen by the guest's own services (nspawn's
#            seccomp filter does not apply to nsenter), chroot is denied and swapoff allowed
#
# Usage (root): tests/boot/t2-bind-safety.sh   Env: as t2-boot.sh (T2_WORKDIR defaults to
# /dev/shm/ostree-guests-t2-bind-safety). Ends with "N passed, N failed".
# shellcheck disable=SC2016
set -uo pipefail

# shellcheck source=tests/lib/boot.sh
. "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/../lib/boot.sh"
t2_init /dev/shm/ostree-guests-t2-bind-safety
trap 'mountpoint -q "$WORK/ramfs" && umount "$WORK/ramfs"; cleanup' EXIT

mountpoint -q "$WORK/ramfs" && umount "$WORK/ramfs"
t2_fresh_work
mkdir -p "$WORK/ramfs"
t2_need_helper
mount -t ramfs ramfs "$WORK/ramfs" || die "cannot mount a ramfs on $WORK/ramfs"
ln -s / "$WORK/to-host-root"

conf plus '[[bind]]
source = "+/etc/appdata"
target = "/mnt/app"'
conf hostlink "[[bind]]
source = \"$WORK/to-host-root\"
target = \"/mnt/host\"
read-only = true"
conf ramfs "[[bind]]
source = \"$WORK/ramfs\"
target = \"/mnt/ramfs\""
conf priv '[security]
private-users = "no"'
# Privileged: swapoff then reaches the kernel, which answers ENOENT, where the filter says EPERM.
conf sysc '[security]
private-users = "no"
system-call-filter = ["~chroot", "@swap"]'

log "== building the sysroot (host + plus hostlink ramfs priv sysc)"
mk_sysroot --with-host --dir "$SYSROOT" plus hostlink ramfs priv sysc >"$LOGS/mk-sysroot.log" 2>&1 || {
	cat "$LOGS/mk-sysroot.log" >&2
	die "sysroot build failed"
}
plus_dir=$(ls -d "$SYSROOT"/ostree/deploy/plus/deploy/*/)
mkdir "$plus_dir/etc/appdata"

# start_refused NAME STATUS PATTERN: the helper exits STATUS before nspawn runs, and says PATTERN
start_refused() {
	local name=$1 want=$2 pattern=$3 out rc=0
	out=$(timeout 60 "${helper_env[@]}" "$HELPER" --no-register "$name" </dev/null 2>&1) || rc=$?
	out=$(printf '%s' "$out" | tr '\n' ' ' | cut -c1-800)
	if [ "$rc" = "$want" ] && printf '%s' "$out" | grep -qE -- "$pattern"; then
		pass "$name: refused at start with status $want" "$out"
	else
		fail "$name: refused at start with status $want (message matching '$pattern')" "status $rc: $out"
	fi
}

# ---- +/path sources stay inside the guest -------------------------------------------------
if boot_and_wait "plus (+/etc/appdata bound at /mnt/app)" plus "$LOGS/plus.log"; then
	check "plus: what the guest writes to /mnt/app lands in its own /etc/appdata" sh -c '
		nsenter -t "$1" -a -- sh -c "echo guest >/mnt/app/probe" || exit 1
		[ "$(cat "$2/etc/appdata/probe")" = guest ] && echo "host sees it in the deployment"' \
		sh "${LEADER[plus]}" "$plus_dir"
	# The attack: the guest's root turns its own /etc/appdata into a link to / and waits for
	# the next start to bind the host's root (nspawn would resolve a +path on the host).
	check "plus: the guest's root replaces /etc/appdata by a symlink to /" \
		in_guest plus sh -c 'rm -rf /etc/appdata && ln -s / /etc/appdata && readlink /etc/appdata'
	stop_guest plus
else
	kill_guest plus
fi
start_refused plus 101 'bind source \+/etc/appdata leads to the guest.s / itself'
check "plus: the next start never registered a running guest" sh -c '
	! pgrep -f "^systemd-nspawn .*--machine=plus" >/dev/null && echo "no nspawn for plus"'

# ---- host sources checked where they really are ------------------------------------------
start_refused hostlink 101 "to-host-root \(it resolves to /\) is the host's root directory"
start_refused ramfs 100 'ramfs.*cannot idmap.*private-users = "no"'

# ---- a privileged guest still boots, and says what it is -----------------------------------
if boot_and_wait "priv (private-users = no)" priv "$LOGS/priv.log"; then
	check "priv: the helper warns that the guest is privileged" \
		grep -m1 'warning: security.private-users = "no": privileged guest' "$LOGS/priv.log"
	check "priv: guest root is host root" sh -c '
		u=$(stat -c %u /proc/$1); echo "host uid of its PID 1: $u"; [ "$u" = 0 ]' sh "${LEADER[priv]}"
	stop_guest priv
else
	kill_guest priv
fi

# ---- system call filter: allowed and denied names both take effect ------------------------
sysc_dir=$(ls -d "$SYSROOT"/ostree/deploy/sysc/deploy/*/)
mkdir -p "$sysc_dir/etc/systemd/system/multi-user.target.wants"
cat >"$sysc_dir/etc/systemd/system/t2-syscalls.service" <<'EOF'
[Unit]
Description=T2: which system calls the guest's services may make
[Service]
Type=oneshot
ExecStart=/bin/sh -c 'mkdir -p /var/lib/t2; { chroot / true 2>&1; echo "chroot=$?"; swapoff /t2-no-such-swap 2>&1; echo "swapoff=$?"; } >/var/lib/t2/syscalls.tmp; mv /var/lib/t2/syscalls.tmp /var/lib/t2/syscalls'
[Install]
WantedBy=multi-user.target
EOF
ln -s ../t2-syscalls.service "$sysc_dir/etc/systemd/system/multi-user.target.wants/t2-syscalls.service"
result=$SYSROOT/ostree/deploy/sysc/var/lib/t2/syscalls
if boot_and_wait "sysc (system-call-filter = [~chroot, @swap])" sysc "$LOGS/sysc.log"; then
	for ((i = 0; i < 300; i++)); do
		[ -s "$result" ] && break
		sleep 0.1
	done
	check "sysc: chroot is denied by the filter (EPERM)" sh -c '
		[ -s "$1" ] || { echo "no result after 30 s"; exit 1; }
		tr "\n" " " <"$1"; grep -q "chroot=125" "$1" && grep -q "Operation not permitted" "$1"' sh "$result"
	check "sysc: swapoff passes the filter and the kernel answers ENOENT" sh -c '
		[ -s "$1" ] || exit 1
		grep -q "No such file or directory" "$1" || { tr "\n" " " <"$1"; exit 1; }
		echo ENOENT' sh "$result"
	stop_guest sysc
else
	kill_guest sysc
fi

log "== summary"
check_summary
