#!/bin/bash
# T2 host-integrity test: what a guest's root can do to the host's files (issue "Host integrity by
# default"). Without a user namespace the guest's root holds CAP_SYS_ADMIN over its own mounts and
# can make /usr or /boot writable again, or bind / non-recursively to see the deployment's usr
# below the read-only /usr: those are the host deployment's inodes and the repository's objects.
#
#   attacks    the guest's own systemd runs /etc/t2-attack.sh (tests/lib/integrity.sh) at boot, as
#              root in the guest; every attempt's status and message lands in its /var. Guests:
#                atk    [security] private-users = "idmap"                 every attack refused
#                tools  idmap + ostree-tools = true, also /sysroot          every attack refused
#                dflt   no [security] table (the default), see DEFAULT_EXPECT
#                priv   private-users = "no": the attacks get through, which proves the harness
#                       sees a write (it corrupts the sysroot, so it runs last on it)
#              After each guest stops: fingerprints of every deployment's os-release, the
#              repository object and the boot directory, and `ostree fsck`.
#   migration  "mig" booted privileged writes /var files (root, uid 1000, ACL, file capability,
#              persistent journal, uid 70000), then boots with idmap: what it sees of them, and
#              that no file on disk changed owner.
#   fs         the same attacks on idmap guests of sysroots on xfs and btrfs loop devices; a file
#              system the kernel or the tools lack is a SKIP: line, not a pass.
#
# Seen on kernel 6.18 / systemd 252: in a user-namespaced guest, remounting /usr, /boot rw is EPERM
# (flags of mounts inherited from a more privileged namespace are locked), umount /usr and a
# non-recursive bind of / are EINVAL (locked mounts), so every write meets a read-only /usr. In a
# privileged guest all get through except a plain `umount /usr` (EBUSY: in use); `umount -l` does.
#
# Usage (root, serialised with the other boot tests):
#   flock /var/tmp/ostree-guests-systest.lock tests/boot/t2-host-integrity.sh
# Env: OSTREE_GUEST_START (default $CARGO_TARGET_DIR or <repo>/target, then debug/ostree-guest-start),
#      T2_WORKDIR (default /dev/shm/ostree-guests-t2-integrity), T2_BOOT_TIMEOUT (120), T2_KEEP=1,
#      T2_INTEGRITY_PARTS (default "attacks migration fs": a subset while developing)
# Output: PASS:/FAIL:/SKIP: lines, then "N passed, N failed, N skipped". Exit 0 only if nothing failed.
# The checks pass values to `sh -c` scripts as positional parameters: single quotes are meant.
# shellcheck disable=SC2016
set -uo pipefail

# shellcheck source=tests/lib/boot.sh
. "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/../lib/boot.sh"
# shellcheck source=tests/lib/integrity.sh
. "$REPO/tests/lib/integrity.sh"

# What a guest without a [security] table gets: the dflt guest's checks expect every attack
# refused under "idmap" and every one to get through under "no".
DEFAULT_EXPECT=idmap

t2_init /dev/shm/ostree-guests-t2-integrity acl libcap2-bin
ATTACK_TIMEOUT=30
PARTS=" ${T2_INTEGRITY_PARTS:-attacks migration fs} "

# Guests first (their mounts pin the loop file systems), then the loop devices, then boot.sh's
# cleanup with the exit status we had.
integrity_cleanup() {
	local rc=$? n
	trap - EXIT
	for n in "${!GUEST_PID[@]}"; do
		kill -0 "${GUEST_PID[$n]}" 2>/dev/null && { log "cleanup: stopping leftover guest $n"; stop_pid "${GUEST_PID[$n]}" 10; }
		wait "${GUEST_PID[$n]}" 2>/dev/null
	done
	loopfs_teardown
	(exit "$rc")
	cleanup
}
trap integrity_cleanup EXIT

t2_fresh_work
t2_need_helper

IDMAP='[security]
private-users = "idmap"'
PRIV='[security]
private-users = "no"'

use_sysroot() { # DIR: the sysroot the next guests boot from
	SYSROOT_NOW=$1
	helper_env=(env OSTREE_GUESTS_ROOT="$CFGROOT" OSTREE_GUESTS_SYSROOT="$1" OSTREE_GUESTS_BOOT="$1/boot")
}
deploy_dir() { # each stateroot here has one deployment
	local d=("$SYSROOT_NOW/ostree/deploy/$1/deploy/"*/)
	echo "${d[0]}"
}
var_dir() { echo "$SYSROOT_NOW/ostree/deploy/$1/var"; }
one_line() { tr '\n' ' ' | sed 's/ *$//' | cut -c1-"${1:-400}"; }

# argv_mode NAME: "idmap" or "no", as the helper's dry run renders the guest
argv_mode() {
	local a
	a=$(guest_dry_run "$1") || { echo "dry run failed"; return 1; }
	if grep -qx -- '  --private-users=pick' <<<"$a" && grep -qx -- '  --private-users-ownership=map' <<<"$a"; then
		echo idmap
	elif grep -qx -- '  --private-users=no' <<<"$a"; then
		echo no
	else
		echo "unknown: $(grep -- --private-users <<<"$a" | one_line)"
	fi
}

# attack_guest NAME WHAT: install the attack, boot, wait for its record, stop. 0 when it ran.
attack_guest() {
	local name=$1 what=$2 out rc=0
	attack_install "$(deploy_dir "$name")"
	if ! boot_and_wait "$what" "$name" "$LOGS/$name.log"; then
		kill_guest "$name"
		return 1
	fi
	out=$(attack_wait "$(var_dir "$name")" "$ATTACK_TIMEOUT") || rc=$?
	if [ $rc = 0 ]; then pass "$name: the attack unit ran to its end" "$out"; else fail "$name: the attack unit ran to its end" "$out"; fi
	stop_guest "$name"
	cp "$(var_dir "$name")/$ATTACK_REL/result" "$LOGS/attack-$name.result" 2>/dev/null
	log "$name: attack record:"
	sed 's/^/    /' "$LOGS/attack-$name.result" >&2
	return $rc
}

# Expected reasons. A user-namespaced guest's mounts were made by nspawn outside its namespace:
# the kernel locks their flags (remount rw: EPERM) and their place (umount of a locked mount,
# bind without the locked mounts below it: EINVAL, which mount(8) and umount(8) word as below).
RE_EPERM='permission denied|operation not permitted'
RE_EROFS='read-only file system'
RE_EINVAL_MOUNT='wrong fs type, bad option|invalid argument'
RE_EINVAL_UMOUNT='not mounted|invalid argument'

# refused NAME ATTACK STEP=REGEX...: PASS when each step failed with a matching message and the
# attack left nothing on the host.
refused() {
	local name=$1 attack=$2 spec step re line ok=1 saw=() traces
	shift 2
	for spec; do
		step=${spec%%=*} re=${spec#*=}
		line=$(attack_step "$(var_dir "$name")" "$step") || ok=0
		saw+=("$step $line;")
		[[ $line == rc=0\ * ]] && ok=0
		grep -qiE "$re" <<<"$line" || ok=0
	done
	traces=$(attack_traces "$SYSROOT_NOW" "$name" "$attack" | one_line)
	[ -z "$traces" ] || { ok=0; saw+=("HOST CHANGED: $traces"); }
	[ -n "$traces" ] || saw+=("host: no trace")
	if [ $ok = 1 ]; then pass "$name: attack $attack refused, host unchanged" "${saw[*]}"; else fail "$name: attack $attack refused, host unchanged" "${saw[*]}"; fi
}

# got_through NAME ATTACK STEP...: the documented danger: PASS when each step succeeded and the
# host shows the attack's trace (the same trace `refused` looks for).
got_through() {
	local name=$1 attack=$2 step line ok=1 saw=() traces
	shift 2
	for step; do
		line=$(attack_step "$(var_dir "$name")" "$step") || ok=0
		saw+=("$step $line;")
		[[ $line == rc=0\ * ]] || ok=0
	done
	traces=$(attack_traces "$SYSROOT_NOW" "$name" "$attack" | one_line)
	[ -n "$traces" ] || { ok=0; saw+=("no trace on the host"); }
	[ -z "$traces" ] || saw+=("host: $traces")
	if [ $ok = 1 ]; then pass "$name: attack $attack gets through, the host shows it" "${saw[*]}"; else fail "$name: attack $attack gets through, the host shows it" "${saw[*]}"; fi
}

# all attacks on the common mounts, refused
refused_all() { # NAME
	# a refusal proves something only if the attacker held root and CAP_SYS_ADMIN in its namespace
	check "$1: the attacker was uid 0 with CAP_SYS_ADMIN, in a user namespace" bash -c '
		r=$1/lib/t2-attack/result
		u=$(sed -n "s/^info.uid //p" "$r"); m=$(sed -n "s/^info.uid_map //p" "$r")
		e=$(sed -n "s/^info.caps CapEff: \([0-9a-f]*\) .*/\1/p" "$r")
		echo "uid $u, uid_map $m, CapEff $e"
		[ "$u" = 0 ] && [ -n "$e" ] && [ $((0x$e >> 21 & 1)) = 1 ] && [ -n "$m" ] && [ "$(echo $m)" != "0 0 4294967295" ]' sh "$(var_dir "$1")"
	refused "$1" usr "usr.remount=$RE_EPERM" "usr.write=$RE_EROFS"
	refused "$1" boot "boot.remount=$RE_EPERM" "boot.write=$RE_EROFS"
	refused "$1" bind "bind.mount=$RE_EINVAL_MOUNT" "bind.write=no such file"
	refused "$1" umount "umount.umount=$RE_EINVAL_UMOUNT" "umount.write=$RE_EROFS"
	refused "$1" umountl "umountl.umount=$RE_EINVAL_UMOUNT" "umountl.write=$RE_EROFS"
}
got_through_all() { # NAME
	got_through "$1" usr usr.remount usr.write
	got_through "$1" boot boot.remount boot.write
	got_through "$1" bind bind.mount bind.write
	# a plain umount of /usr is refused with EBUSY (the guest's processes use it), a lazy one is not
	got_through "$1" umountl umountl.umount umountl.write
	log "$1: plain umount /usr: $(attack_step "$(var_dir "$1")" umount.umount)"
}

# state_diff BEFORE NOW: "path: old -> new" per changed file (sha256 cut to 12, mtime), one line
state_diff() {
	awk -v s="$SYSROOT_NOW/" '
		function fp(l, a) { split(l, a, " "); return a[1] == "link" ? "link " a[2] : substr(a[1], 1, 12) " " a[3] }
		function key(l, a, n) { n = split(l, a, " "); return a[n] }
		FNR == NR { old[key($0)] = fp($0); next }
		{ k = key($0); new[k] = 1
		  if (!(k in old)) print k ": new " fp($0); else if (old[k] != fp($0)) print k ": " old[k] " -> " fp($0) }
		END { for (k in old) if (!(k in new)) print k ": gone" }' <(echo "$1") <(echo "$2") |
		sed "s|$SYSROOT_NOW/||; s|/deploy/\([0-9a-f]\{8\}\)[0-9a-f]*\.|/deploy/\1….|" | one_line 900
}

# state_same WHAT BEFORE: PASS when host_state is BEFORE again
state_same() {
	local now
	now=$(host_state "$SYSROOT_NOW")
	if [ "$now" = "$2" ]; then
		pass "$1" "$(grep -c . <<<"$now") fingerprints unchanged (os-release of every deployment, its object, the boot directory)"
	else
		fail "$1" "changed: $(state_diff "$2" "$now")"
	fi
}
state_changed() {
	local now
	now=$(host_state "$SYSROOT_NOW")
	if [ "$now" != "$2" ]; then
		pass "$1" "changed: $(state_diff "$2" "$now")"
	else
		fail "$1" "$(grep -c . <<<"$now") fingerprints all unchanged"
	fi
}
fsck_clean() {
	local out rc=0
	out=$(repo_fsck "$SYSROOT_NOW") || rc=$?
	if [ $rc = 0 ]; then pass "$1" "$out"; else fail "$1" "$out"; fi
}
fsck_corrupt() {
	local out rc=0
	out=$(repo_fsck "$SYSROOT_NOW") || rc=$?
	if [ $rc != 0 ] && grep -qi corrupt <<<"$out"; then pass "$1" "$out"; else fail "$1" "$out"; fi
}

build_sysroot() { # DIR STATEROOT...
	local dir=$1 t0=$EPOCHREALTIME
	shift
	log "== building the sysroot $dir (host + $*)"
	mk_sysroot --with-host --dir "$dir" "$@" >"$LOGS/mk-sysroot-$(basename "$(dirname "$dir")").log" 2>&1 || {
		tail -n 20 "$LOGS/mk-sysroot-$(basename "$(dirname "$dir")").log" >&2
		return 1
	}
	timing "sysroot build on $(stat -f -c %T "$dir")" "$(elapsed_since "$t0")"
}

conf atk "$IDMAP"
conf tools "ostree-tools = true
$IDMAP"
conf dflt '# defaults only: no [security] table'
conf priv "$PRIV"
conf mig "$PRIV"
conf xfs "$IDMAP"
conf btrfs "$IDMAP"

if [[ $PARTS == *" attacks "* || $PARTS == *" migration "* ]]; then
	build_sysroot "$SYSROOT" atk tools dflt priv mig || die "sysroot build failed"
fi
use_sysroot "$SYSROOT"

# ---- 1. attacks from user-namespaced guests ---------------------------------------------------
if [[ $PARTS == *" attacks "* ]]; then
	state0=$(host_state "$SYSROOT")
	printf '%s\n' "$state0" >"$LOGS/host-state-0.txt"
	# why an append in a guest is the host's problem: one inode for all of them
	check "the guest's usr/lib/os-release is the host deployment's and the repository object's inode" bash -c '
		c=$(ostree --repo="$1/ostree/repo" ls -C ostree-guests-test/base /usr/lib/os-release | awk "{print \$5}")
		i=$(stat -c %i "$1"/ostree/deploy/{host,atk}/deploy/*/usr/lib/os-release "$1/ostree/repo/objects/${c:0:2}/${c:2}.file")
		echo "inodes host, atk, object:" $i; [ "$(echo "$i" | sort -u | wc -l)" = 1 ]' sh "$SYSROOT"
	log "== attacks: atk (idmap)"
	if attack_guest atk "atk (private-users = idmap)"; then
		refused_all atk
	fi
	log "== attacks: tools (idmap + ostree-tools)"
	if attack_guest tools "tools (private-users = idmap, ostree-tools = true)"; then
		refused_all tools
		refused tools sysroot "sysroot.remount=$RE_EPERM" "sysroot.touch=$RE_EROFS" "sysroot.write=$RE_EROFS"
	else
		log "tools: nspawn said: $(grep -v '^$' "$LOGS/tools.log" | tail -n 5 | one_line 600)"
	fi
	state_same "after the idmap guests: host deployment, guest deployments, repository object, boot directory unchanged" "$state0"
	fsck_clean "after the idmap guests: ostree fsck is clean"
fi

# ---- 2. migration: a privileged guest's /var booted with idmap ---------------------------
if [[ $PARTS == *" migration "* ]]; then
	log "== migration: mig booted privileged, then with idmap"
	mv_=$(var_dir mig)/t2-mig # the files, seen from the host
	# what the host sees: owner, mode, ACL and capability of each file (never through the guest)
	host_view() {
		local f
		for f in "$mv_"/*; do
			printf '%s %s acl=%s cap=%s\n' "$(stat -c '%u:%g %a' "$f")" "${f##*/}" \
				"$(getfacl -cp "$f" 2>/dev/null | grep -E '^user:[0-9]' | one_line)" "$(getcap "$f" | awk '{print $2}')"
		done
	}
	owners_all() { find "$(var_dir mig)" "$(deploy_dir mig)" -printf '%U:%G %p\n' 2>/dev/null | LC_ALL=C sort -k2; }
	if boot_and_wait "mig (private-users = no, first boot)" mig "$LOGS/mig-1.log"; then
		check "mig 1st boot: create /var files (root, uid 1000, uid 70000, file capability) and a persistent journal" in_guest mig sh -ec '
			mkdir -p /var/t2-mig
			echo root >/var/t2-mig/root-owned
			echo u1000 >/var/t2-mig/uid1000 && chown 1000:1000 /var/t2-mig/uid1000
			echo u70000 >/var/t2-mig/uid70000 && chown 70000:70000 /var/t2-mig/uid70000
			echo acl >/var/t2-mig/acl && chmod 0600 /var/t2-mig/acl
			cp /usr/bin/cat /var/t2-mig/capcat && setcap cap_net_raw+ep /var/t2-mig/capcat
			mkdir -p /var/log/journal && systemd-tmpfiles --create --prefix /var/log/journal && journalctl --flush
			ls -ln /var/t2-mig | tail -n +2 | awk "{print \$3\":\"\$4, \$9}"'
		# the guest image has no setfacl: the ACL comes from the host's, on the same inode
		check "mig 1st boot: ACL user:1001:rw on /var/t2-mig/acl (host setfacl)" sh -c 'setfacl -m u:1001:rw "$1" && getfacl -cp "$1" | grep "^user:1001"' sh "$mv_/acl"
		check "mig 1st boot (privileged): uid 1001 may append to the ACL file, uid 1002 may not" in_guest mig sh -c '
			setpriv --reuid=1001 --regid=1001 --clear-groups sh -c "echo 1001 >>/var/t2-mig/acl" || exit 1
			e=$(setpriv --reuid=1002 --regid=1002 --clear-groups sh -c "echo 1002 >>/var/t2-mig/acl" 2>&1) && { echo "1002 wrote"; exit 1; }
			echo "1001 wrote; 1002: $e"'
		check "mig 1st boot (privileged): the file capability gives uid 1000 cap_net_raw" in_guest mig sh -c '
			e=$(setpriv --reuid=1000 --regid=1000 --clear-groups /var/t2-mig/capcat /proc/self/status | sed -n "s/^CapEff:\t//p")
			echo "CapEff $e"; [ $(( 0x$e >> 13 & 1 )) = 1 ]'
		boot1=$(in_guest mig journalctl --list-boots --no-pager 2>&1 | tail -n 1 | awk '{print $2}')
		check "mig 1st boot: the journal is persistent" sh -c '
			n=$(find "$1" -name "*.journal" | grep -c .); echo "$n journal files in /var/log/journal, boot $2"; [ "$n" -gt 0 ]' sh "$(var_dir mig)/log/journal" "$boot1"
		stop_guest mig "first boot"
	else
		kill_guest mig
	fi
	host_before=$(host_view)
	owners_all >"$LOGS/mig-owners-before.txt"
	printf '%s\n' "$host_before" >"$LOGS/mig-host-view-before.txt"
	log "mig: the host's view before the idmap boot:"
	while IFS= read -r l; do printf '    %s\n' "$l"; done <<<"$host_before" >&2

	conf mig "$IDMAP"
	check "mig: renders private-users = idmap for its second boot" sh -c 'echo "rendered: $1"; [ "$1" = idmap ]' sh "$(argv_mode mig)"
	if boot_and_wait "mig (private-users = idmap, second boot)" mig "$LOGS/mig-2.log"; then
		in_guest mig sh -c 'cat /proc/1/uid_map; ls -ln /var/t2-mig' >"$LOGS/mig-2-inside.txt" 2>&1
		log "mig: what the idmap guest sees:"
		sed 's/^/    /' "$LOGS/mig-2-inside.txt" >&2
		check "mig idmap: the guest runs in a user namespace (its root is not host root)" sh -c '
			h=$(stat -c %u /proc/$1); echo "guest PID 1 is host uid $h"; [ "$h" != 0 ]' sh "${LEADER[mig]}"
		check "mig idmap: root's file stays root's (0:0)" in_guest mig sh -c 'o=$(stat -c "%u:%g" /var/t2-mig/root-owned); echo "$o"; [ "$o" = 0:0 ]'
		check "mig idmap: uid 1000's file stays 1000:1000, and uid 1000 may write it" in_guest mig sh -c '
			o=$(stat -c "%u:%g" /var/t2-mig/uid1000); echo "$o"; [ "$o" = 1000:1000 ] || exit 1
			setpriv --reuid=1000 --regid=1000 --clear-groups sh -c "echo again >>/var/t2-mig/uid1000" && echo "1000 wrote"'
		# getfacl is not in the guest image: the host's binary, run in the guest's namespaces
		# (through its open file, since the guest's mount namespace has no /usr/bin/getfacl)
		check "mig idmap: the ACL is visible (user:1001:rw-)" sh -c '
			exec 9</usr/bin/getfacl
			out=$(nsenter -t "$1" -a -- /proc/self/fd/9 -cp /var/t2-mig/acl 2>&1); echo "$out" | grep -E "^(user|mask)" | tr "\n" " "
			echo "$out" | grep -qx "user:1001:rw-"' sh "${LEADER[mig]}"
		check "mig idmap: the ACL works: uid 1001 may append, uid 1002 may not (permission denied)" in_guest mig sh -c '
			setpriv --reuid=1001 --regid=1001 --clear-groups sh -c "echo 1001 >>/var/t2-mig/acl" || exit 1
			e=$(setpriv --reuid=1002 --regid=1002 --clear-groups sh -c "echo 1002 >>/var/t2-mig/acl" 2>&1) && { echo "1002 wrote"; exit 1; }
			echo "1001 wrote; 1002: $e"; echo "$e" | grep -qi "permission denied"'
		check "mig idmap: the file capability is visible (getcap)" in_guest mig sh -c '
			c=$(getcap /var/t2-mig/capcat); echo "$c"; echo "$c" | grep -q "cap_net_raw=ep"'
		check "mig idmap: the file capability works: uid 1000 running it gets cap_net_raw" in_guest mig sh -c '
			e=$(setpriv --reuid=1000 --regid=1000 --clear-groups /var/t2-mig/capcat /proc/self/status | sed -n "s/^CapEff:\t//p")
			echo "CapEff $e"; [ $(( 0x$e >> 13 & 1 )) = 1 ]'
		check "mig idmap: journalctl --list-boots shows both boots" in_guest mig sh -c '
			l=$(journalctl --list-boots --no-pager 2>&1); echo "$l" | tr "\n" "|"
			[ "$(echo "$l" | grep -cE "^ *-?[0-9]+ [0-9a-f]{32} ")" -ge 2 ] && echo "$l" | grep -q "$1"' sh "$boot1"
		check "mig idmap: the first boot's journal is readable" in_guest mig sh -c '
			n=$(journalctl -b "$1" --no-pager -q | grep -c .); echo "$n lines of boot $1"; [ "$n" -gt 0 ]' sh "$boot1"
		check "mig idmap: uid 70000's file shows as nobody (65534:65534)" in_guest mig sh -c '
			o=$(stat -c "%u:%g %U" /var/t2-mig/uid70000); echo "$o"; [ "$o" = "65534:65534 nobody" ]'
		# root's capabilities do not cover an inode whose owner is not mapped into its namespace
		check "mig idmap: guest root cannot write or chown uid 70000's file (unmapped owner)" in_guest mig sh -c '
			w=$(sh -c "echo x >>/var/t2-mig/uid70000" 2>&1) && { echo "root wrote it"; exit 1; }
			c=$(chown 0:0 /var/t2-mig/uid70000 2>&1) && { echo "root chowned it"; exit 1; }
			echo "write: $w; chown: $c"; echo "$w" | grep -qi "permission denied" && echo "$c" | grep -qiE "not permitted|invalid argument"'
		check "mig idmap: journald writes on in the persistent journal" sh -c '
			n=$(find "$1" -name "*.journal" -newer "$2" | grep -c .); echo "$n journal files in /var/log/journal written during this boot"; [ "$n" -gt 0 ]' \
			sh "$(var_dir mig)/log/journal" "$LOGS/mig-owners-before.txt"
		stop_guest mig "idmap boot"
	else
		kill_guest mig
	fi
	host_after=$(host_view)
	printf '%s\n' "$host_after" >"$LOGS/mig-host-view-after.txt"
	check "mig: on the host, the /var files' owners, ACL and capability are unchanged" bash -c '
		[ "$1" = "$2" ] && echo "$1" | tr "\n" ";" || { diff <(echo "$1") <(echo "$2") | grep "^[<>]" | tr "\n" ";"; exit 1; }' sh "$host_before" "$host_after"
	owners_all >"$LOGS/mig-owners-after.txt"
	check "mig: on the host, no file of its var or deployment changed owner" bash -c '
		j=$(LC_ALL=C join -j 2 -o 1.1,2.1,0 "$1" "$2")
		d=$(echo "$j" | awk "\$1 != \$2"); n=$(echo "$j" | grep -c .)
		[ -z "$d" ] && echo "$n files present before and after, same owners" || { echo "$d" | head -n 5 | tr "\n" ";"; exit 1; }' \
		sh "$LOGS/mig-owners-before.txt" "$LOGS/mig-owners-after.txt"
fi

# ---- 1b. the default, then the privileged guest (both may corrupt the sysroot) ---------------
if [[ $PARTS == *" attacks "* ]]; then
	log "== attacks: dflt (no [security] table; expected today: private-users = $DEFAULT_EXPECT)"
	mode=$(argv_mode dflt)
	check "dflt: DEFAULT (no [security] table) renders private-users = $DEFAULT_EXPECT (flip DEFAULT_EXPECT with the default)" \
		sh -c 'echo "rendered: $1"; [ "$1" = "$2" ]' sh "$mode" "$DEFAULT_EXPECT"
	state1=$(host_state "$SYSROOT")
	if attack_guest dflt "dflt (DEFAULT: no [security] table)"; then
		if [ "$DEFAULT_EXPECT" = idmap ]; then
			refused_all dflt
			state_same "after the DEFAULT guest: host unchanged" "$state1"
			fsck_clean "after the DEFAULT guest: ostree fsck is clean"
		else
			got_through_all dflt
			state_changed "after the DEFAULT guest (today privileged): the host's files changed" "$state1"
			fsck_corrupt "after the DEFAULT guest (today privileged): ostree fsck reports the corruption"
		fi
	fi

	log "== attacks: priv (private-users = no): the harness must see the writes"
	check "priv: renders private-users = no" sh -c 'echo "rendered: $1"; [ "$1" = no ]' sh "$(argv_mode priv)"
	state2=$(host_state "$SYSROOT")
	if attack_guest priv "priv (private-users = no)"; then
		got_through_all priv
		state_changed "after the privileged guest: the fingerprints show its writes" "$state2"
		fsck_corrupt "after the privileged guest: ostree fsck reports the corruption"
	fi
fi

# ---- 3. sysroots on xfs and btrfs -----------------------------------------------------------
if [[ $PARTS == *" fs "* ]]; then
	ensure_packages xfsprogs btrfs-progs
	for kind in xfs btrfs; do
		log "== $kind: sysroot on a $kind loop device"
		if ! loopfs_make "$kind" "$WORK/$kind.img" "$WORK/mnt-$kind"; then
			skip "$kind: sysroot on $kind" "$LOOPFS_MSG"
			loopfs_teardown
			continue
		fi
		log "$LOOPFS_MSG"
		fsroot=$WORK/mnt-$kind/sysroot
		if ! build_sysroot "$fsroot" "$kind"; then
			fail "$kind: sysroot built on $kind" "see $LOGS/mk-sysroot-mnt-$kind.log"
			loopfs_teardown
			continue
		fi
		check "$kind: the sysroot and its repository are on $kind" \
			sh -c 't=$(stat -f -c %T "$1/ostree/repo/objects"); echo "$t"; [ "$t" = "$2" ]' sh "$fsroot" "$kind"
		use_sysroot "$fsroot"
		fstate=$(host_state "$fsroot")
		if attack_guest "$kind" "$kind (idmap, sysroot on $kind)"; then
			refused_all "$kind"
		fi
		state_same "$kind: host unchanged after the idmap guest" "$fstate"
		fsck_clean "$kind: ostree fsck is clean"
		use_sysroot "$SYSROOT"
		loopfs_teardown
	done
fi

log "== summary"
check_summary
