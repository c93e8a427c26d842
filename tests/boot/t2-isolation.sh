#!/bin/bash
# T2 isolation test: the guest options that change what a guest can reach, proven on real boots
# through the start helper and systemd-nspawn (see ostree-guests.d(5), [security] and profiles).
#
#   idm    [security] private-users = "idmap": its root is a mapped UID on the host, files it
#          writes in /var belong to root on the host, and no shared file changes owner
#   k8s    profile = "kubernetes": writes a non-network /proc/sys entry, reads /dev/kmsg
#   def    the default guest: cannot do either, may write net.* (its network namespace is its own)
#   tools  ostree-tools = true: `ostree admin status` inside marks its own deployment booted
#   binds  a read-only bind refuses writes, a read-write bind takes them
#
# Unit-level settings (MemoryMax=, DevicePolicy=) need systemd and are checked by the system
# tests. Usage (root): tests/boot/t2-isolation.sh   Env: as t2-boot.sh (T2_WORKDIR defaults to
# /dev/shm/ostree-guests-t2-isolation). Ends with "N passed, N failed".
# shellcheck disable=SC2016
set -uo pipefail

# shellcheck source=tests/lib/boot.sh
. "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/../lib/boot.sh"
t2_init /dev/shm/ostree-guests-t2-isolation
t2_fresh_work
mkdir -p "$WORK/share-ro" "$WORK/share-rw"
t2_need_helper

conf idm '[security]
private-users = "idmap"'
conf k8s 'profile = "kubernetes"'
conf def '# defaults only'
conf tools 'ostree-tools = true'
conf binds "[[bind]]
source = \"$WORK/share-ro\"
target = \"/mnt/ro\"
read-only = true

[[bind]]
source = \"$WORK/share-rw\"
target = \"/mnt/rw\""

log "== building the sysroot (host + idm k8s def tools binds)"
t0=$EPOCHREALTIME
mk_sysroot --with-host --dir "$SYSROOT" idm k8s def tools binds >"$LOGS/mk-sysroot.log" 2>&1 || {
	cat "$LOGS/mk-sysroot.log" >&2
	die "sysroot build failed"
}
timing "sysroot build" "$(elapsed_since "$t0")"

# Owners of files every guest shares with the host: a deployment file and repository objects.
host_file=$(ls -d "$SYSROOT"/ostree/deploy/host/deploy/*/)usr/bin/bash
mapfile -t repo_objects < <(find "$SYSROOT/ostree/repo/objects" -name '*.file' | head -n 3)
owners() { stat -c '%u:%g %n' "$host_file" "${repo_objects[@]}" "$(ls -d "$SYSROOT"/ostree/deploy/idm/deploy/*/)usr/bin/bash"; }
owners_before=$(owners)

# ---- idmap -----------------------------------------------------------------------
if boot_and_wait "idm (private-users = idmap)" idm "$LOGS/idm.log"; then
	guest_running_checks idm "idm"
	check "idm: guest root is a mapped UID on the host, 0 inside" sh -c '
		host=$(stat -c %u /proc/$1); inside=$(nsenter -t "$1" -a -- id -u)
		echo "host uid $host, inside uid $inside"; [ "$host" -ge 65536 ] && [ "$inside" = 0 ]' sh "${LEADER[idm]}"
	check "idm: a file guest root writes to /var is root's on the host" sh -c '
		nsenter -t "$1" -a -- touch /var/t2-idmap-probe || exit 1
		o=$(stat -c %u:%g "$2/ostree/deploy/idm/var/t2-idmap-probe"); echo "owner $o"; [ "$o" = 0:0 ]' sh "${LEADER[idm]}" "$SYSROOT"
	check "idm: /usr is read-only" sh -c '
		out=$(nsenter -t "$1" -a -- touch /usr/t2-probe 2>&1) && { echo "touch succeeded"; exit 1; }
		echo "$out"; echo "$out" | grep -q "Read-only"' sh "${LEADER[idm]}"
	stop_guest idm
else
	kill_guest idm
fi
owners_after=$(owners)
check "owners of host deployment files and repository objects unchanged (stat)" bash -c '
	[ "$1" = "$2" ] && echo "$(echo "$1" | wc -l) files, all 0:0" || { diff <(echo "$1") <(echo "$2"); exit 1; }' sh "$owners_before" "$owners_after"

# ---- kubernetes profile vs default --------------------------------------------------
# Writes put back the value just read: the kernel is the host's, nothing may change.
rewrite_sysctl='f=/proc/sys/$0; v=$(cat "$f") && echo "$v" >"$f" && echo "wrote $v to $0"'
if boot_and_wait "k8s (profile = kubernetes)" k8s "$LOGS/k8s.log"; then
	guest_running_checks k8s "k8s"
	check "k8s: can write a non-network /proc/sys entry (kernel/panic)" \
		in_guest k8s sh -c "$rewrite_sysctl" kernel/panic
	# the status is head's (a pipe into cut would report cut's), and the record must not be empty
	check "k8s: can read /dev/kmsg" in_guest k8s sh -c 'r=$(head -n 1 /dev/kmsg) && [ -n "$r" ] && printf "%.60s\n" "$r"'
	check "k8s: has CAP_SYS_ADMIN and CAP_SYS_MODULE in its bounding set" in_guest k8s sh -c '
		b=$(sed -n "s/^CapBnd:\t//p" /proc/1/status); echo "CapBnd $b"
		[ $(( 0x$b >> 21 & 1 )) = 1 ] && [ $(( 0x$b >> 16 & 1 )) = 1 ]'
	stop_guest k8s
else
	kill_guest k8s
fi
if boot_and_wait "def (defaults)" def "$LOGS/def.log"; then
	guest_running_checks def "def"
	# Refusals count only for the right reason: a failing nsenter or a failed read is no proof.
	check "def: cannot write kernel/panic (read-only /proc/sys)" sh -c '
		out=$(nsenter -t "$1" -a -- sh -c "$2" kernel/panic 2>&1) && { echo "$out"; exit 1; }
		echo "refused: $out"; echo "$out" | grep -q "kernel/panic: Read-only file system"' sh "${LEADER[def]}" "$rewrite_sysctl"
	check "def: has no /dev/kmsg to read" sh -c '
		out=$(nsenter -t "$1" -a -- head -n 1 /dev/kmsg 2>&1) && { echo "read: $out"; exit 1; }
		echo "refused: $out"; echo "$out" | grep -q "^head: .*/dev/kmsg.*: No such file or directory"' sh "${LEADER[def]}"
	check "def: may write net.* (its own network namespace)" \
		in_guest def sh -c "$rewrite_sysctl" net/ipv4/ip_forward
	check "def: sees no host sysroot and no /run/ostree-booted" in_guest def sh -c '
		[ ! -e /sysroot/ostree ] && [ ! -e /run/ostree-booted ] && echo "none"'
	stop_guest def
else
	kill_guest def
fi

# ---- ostree-tools ----------------------------------------------------------------------
tools_dep=$(ostree_status_deployment "$SYSROOT" tools)
if boot_and_wait "tools (ostree-tools = true)" tools "$LOGS/tools.log"; then
	guest_running_checks tools "tools"
	check "tools: ostree admin status inside marks its own deployment booted" sh -c '
		out=$(nsenter -t "$1" -a -- ostree admin status 2>&1); echo "$out" | grep "^\*"
		echo "$out" | grep -qx "\* tools $2"' sh "${LEADER[tools]}" "$tools_dep"
	check "tools: the physical sysroot is read-only inside" sh -c '
		[ -d "$(nsenter -t "$1" -a -- sh -c "echo /sysroot/ostree/repo")" ] || true
		out=$(nsenter -t "$1" -a -- touch /sysroot/ostree/t2-probe 2>&1) && { echo "touch succeeded"; exit 1; }
		echo "$out"; echo "$out" | grep -q "Read-only"' sh "${LEADER[tools]}"
	check "tools: its /run/ostree-booted is its own empty marker" in_guest tools sh -c '
		[ -f /run/ostree-booted ] && [ ! -s /run/ostree-booted ] && echo "empty file"'
	stop_guest tools
else
	kill_guest tools
fi

# ---- binds -----------------------------------------------------------------------------
echo data >"$WORK/share-ro/file"
if boot_and_wait "binds" binds "$LOGS/binds.log"; then
	check "binds: the read-only bind is readable and refuses writes" sh -c '
		nsenter -t "$1" -a -- cat /mnt/ro/file >/dev/null || exit 1
		out=$(nsenter -t "$1" -a -- touch /mnt/ro/t2-probe 2>&1) && { echo "touch succeeded"; exit 1; }
		echo "$out"; echo "$out" | grep -q "Read-only"' sh "${LEADER[binds]}"
	check "binds: the read-write bind takes writes, seen on the host" sh -c '
		nsenter -t "$1" -a -- sh -c "echo hi >/mnt/rw/probe" && [ "$(cat "$2/probe")" = hi ] && echo "host sees it"' \
		sh "${LEADER[binds]}" "$WORK/share-rw"
	stop_guest binds
else
	kill_guest binds
fi

log "== summary"
check_summary
