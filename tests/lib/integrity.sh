# shellcheck shell=bash
# Host-integrity helpers for the boot tests (sourced, after common.sh).
#
#   attack_install DEPLOYDIR     put the attack unit into a guest deployment's writable /etc, so
#                                the guest's own systemd runs it at boot (never nsenter: that
#                                would skip nspawn's seccomp filter and capability bounding set)
#   attack_wait VARDIR SECS      wait, bounded, for the attack's "done" marker in the stateroot var
#   attack_step VARDIR STEP      the recorded line of one step: "rc=N msg=..."
#   host_state SYSROOT           fingerprints of what no guest may change: every deployment's
#                                usr/lib/os-release, its repository object, the boot directory
#   repo_fsck SYSROOT            ostree fsck of the sysroot's repository; prints its verdict
#   loopfs_make KIND IMG MNT     mkfs KIND on a loop device over IMG, mounted on MNT (LOOPFS_MSG)
#   loopfs_teardown              unmount and detach everything loopfs_make made
#
# The attack records every attempt in /var/lib/t2-attack/result inside the guest (the stateroot's
# var on the host), one line each:  STEP rc=N msg=<stderr, one line>

[ -n "${_OSTREE_GUESTS_INTEGRITY_SH:-}" ] && return 0
_OSTREE_GUESTS_INTEGRITY_SH=1

ATTACK_REL=lib/t2-attack # below the stateroot var ostree/deploy/NAME/var

# The script the guest's systemd runs. Each attack that could get through is followed by a
# "restore" step, so that in a privileged guest the next attack is judged on its own and not on
# the previous one's leftovers. Written lines name the guest and the attack: the host finds them.
attack_script() {
	cat <<-'ATTACK'
		#!/bin/bash
		out=/var/lib/t2-attack
		mkdir -p "$out"
		rm -f "$out/done"
		: >"$out/result"
		me=$(cat /usr/share/ostree-guests-test/stateroot)
		try() { # STEP CMD...
			local step=$1 rc=0 err
			shift
			err=$("$@" 2>&1 >/dev/null) || rc=$?
			printf '%s rc=%d msg=%s\n' "$step" "$rc" "$(printf '%s' "$err" | tr '\n' ' ')" >>"$out/result"
		}
		{
			echo "info.uid $(id -u)"
			echo "info.uid_map $(tr -s ' \n' ' ' </proc/self/uid_map)"
			echo "info.caps $(grep -E '^Cap(Eff|Bnd)' /proc/self/status | tr -s '\t\n' '  ')"
			echo "info.usr $(findmnt -no OPTIONS /usr)"
			echo "info.boot $(findmnt -no OPTIONS /boot)"
		} >>"$out/result"
		append() { echo "T2_ATTACK=$me:$1" >>"$2"; }

		try usr.remount mount -o remount,bind,rw /usr
		try usr.write append usr /usr/lib/os-release
		try usr.restore mount -o remount,bind,ro /usr

		try boot.remount mount -o remount,bind,rw /boot
		try boot.write touch "/boot/t2-attack-$me"
		try boot.restore mount -o remount,bind,ro /boot

		try bind.mkdir mkdir -p /mnt/x
		try bind.mount mount --bind / /mnt/x
		try bind.write append bind /mnt/x/usr/lib/os-release
		try bind.restore umount /mnt/x

		try umount.umount umount /usr
		try umount.write append umount /usr/lib/os-release
		mountpoint -q /usr || try umount.restore sh -c 'mount --bind /usr /usr && mount -o remount,bind,ro /usr'

		try umountl.umount umount -l /usr
		try umountl.write append umountl /usr/lib/os-release
		mountpoint -q /usr || try umountl.restore sh -c 'mount --bind /usr /usr && mount -o remount,bind,ro /usr'

		if mountpoint -q /sysroot; then
			echo "info.sysroot $(findmnt -no OPTIONS /sysroot)" >>"$out/result"
			try sysroot.remount mount -o remount,bind,rw /sysroot
			try sysroot.touch touch "/sysroot/t2-attack-$me"
			# the host deployment's file: the same inode as the repository object
			try sysroot.write sh -c 'for f in /sysroot/ostree/deploy/host/deploy/*/usr/lib/os-release; do echo "T2_ATTACK=$0:sysroot" >>"$f" || exit; done' "$me"
		else
			echo "info.sysroot none" >>"$out/result"
		fi
		date +%s >"$out/done"
	ATTACK
}

attack_install() {
	local etc=$1/etc
	attack_script >"$etc/t2-attack.sh"
	chmod 0755 "$etc/t2-attack.sh"
	# Before=multi-user.target: the target is reached once the attempts are recorded
	cat >"$etc/systemd/system/t2-attack.service" <<-'UNIT'
		[Unit]
		Description=T2 host-integrity attacks (ostree-guests tests)
		Before=multi-user.target

		[Service]
		Type=oneshot
		RemainAfterExit=yes
		ExecStart=/etc/t2-attack.sh

		[Install]
		WantedBy=multi-user.target
	UNIT
	mkdir -p "$etc/systemd/system/multi-user.target.wants"
	ln -sfn ../t2-attack.service "$etc/systemd/system/multi-user.target.wants/t2-attack.service"
}

attack_wait() { # VARDIR SECS: 0 once done is there; prints what it saw either way
	local d=$1/$ATTACK_REL i
	for ((i = 0; i < $2 * 10; i++)); do
		[ -s "$d/done" ] && { echo "done after $((i / 10)).$((i % 10))s, $(grep -c . "$d/result") lines"; return 0; }
		sleep 0.1
	done
	echo "no $d/done after ${2}s"
	return 1
}

attack_step() { # VARDIR STEP
	local line
	line=$(grep -m1 "^$2 " "$1/$ATTACK_REL/result" 2>/dev/null) || { echo "step $2 not recorded"; return 1; }
	printf '%s\n' "${line#"$2" }"
}

# Every deployment's os-release, the repository object behind it, and every file of the boot
# directory (names included: a new file shows as a new line).
host_state() {
	local s=$1 f csum
	for f in "$s"/ostree/deploy/*/deploy/*/usr/lib/os-release; do
		fingerprint "$f"
	done
	csum=$(ostree --repo="$s/ostree/repo" ls -C ostree-guests-test/base /usr/lib/os-release | awk '{print $5}')
	fingerprint "$s/ostree/repo/objects/${csum:0:2}/${csum:2}.file"
	while IFS= read -r f; do
		fingerprint "$f"
	done < <(find "$s/boot" \( -type f -o -type l \) | sort)
}

repo_fsck() { # SYSROOT: rc of ostree fsck; its last lines (the errors, or the success line)
	local out rc=0
	out=$(ostree fsck --repo="$1/ostree/repo" 2>&1) || rc=$?
	printf '%s' "$out" | grep -iE 'corrupt|error|success' | tail -n 4 | tr '\n' ' '
	echo "(rc=$rc)"
	return $rc
}

# ---- loop file systems -------------------------------------------------------------------
LOOPFS_MOUNTS=()
LOOPFS_DEVS=()
LOOPFS_IMGS=()
# shellcheck disable=SC2034 # read by the sourcing script
LOOPFS_MSG=

# Not in a command substitution: the arrays above must survive for loopfs_teardown. What it did
# or why it could not goes to LOOPFS_MSG.
loopfs_make() { # KIND IMG MNT: 0 when MNT holds a fresh KIND file system
	local kind=$1 img=$2 mnt=$3 dev out
	LOOPFS_MSG=
	grep -qw "$kind" /proc/filesystems || modprobe "$kind" 2>/dev/null
	grep -qw "$kind" /proc/filesystems || { LOOPFS_MSG="the kernel has no $kind (not in /proc/filesystems, modprobe failed)"; return 1; }
	command -v "mkfs.$kind" >/dev/null || { LOOPFS_MSG="no mkfs.$kind"; return 1; }
	rm -f "$img"
	truncate -s 3G "$img" || { LOOPFS_MSG="truncate $img failed"; return 1; }
	LOOPFS_IMGS+=("$img")
	out=$("mkfs.$kind" -q -f "$img" 2>&1) || { LOOPFS_MSG="mkfs.$kind failed: $out"; return 1; }
	dev=$(losetup -f --show "$img" 2>&1) || { LOOPFS_MSG="losetup failed: $dev"; return 1; }
	LOOPFS_DEVS+=("$dev")
	mkdir -p "$mnt"
	out=$(mount -t "$kind" "$dev" "$mnt" 2>&1) || { LOOPFS_MSG="mount $dev ($kind) failed: $out"; return 1; }
	LOOPFS_MOUNTS+=("$mnt")
	# shellcheck disable=SC2034
	LOOPFS_MSG="$kind on $dev at $mnt"
}

loopfs_teardown() {
	local m d
	for m in "${LOOPFS_MOUNTS[@]}"; do
		if mountpoint -q "$m"; then
			umount "$m" || umount -l "$m" || log "loopfs: cannot unmount $m"
		fi
	done
	for d in "${LOOPFS_DEVS[@]}"; do
		losetup -d "$d" || log "loopfs: cannot detach $d"
	done
	rm -f "${LOOPFS_IMGS[@]}"
	LOOPFS_MOUNTS=() LOOPFS_DEVS=() LOOPFS_IMGS=()
}

# attack_traces SYSROOT NAME ATTACK: what the attack left on the host, one line each; nothing
# when it left nothing. Appends are looked for in every deployment's os-release and in the
# repository object, files in the boot directory and the sysroot's top.
attack_traces() {
	local s=$1 name=$2 attack=$3 csum
	csum=$(ostree --repo="$s/ostree/repo" ls -C ostree-guests-test/base /usr/lib/os-release | awk '{print $5}')
	# whole lines: "umount" must not match the line of "umountl"
	grep -lxF "T2_ATTACK=$name:$attack" "$s"/ostree/deploy/*/deploy/*/usr/lib/os-release \
		"$s/ostree/repo/objects/${csum:0:2}/${csum:2}.file" 2>/dev/null | sed "s|^$s/|appended to |"
	case $attack in
	boot) [ -e "$s/boot/t2-attack-$name" ] && echo "created boot/t2-attack-$name" ;;
	sysroot) [ -e "$s/t2-attack-$name" ] && echo "created t2-attack-$name" ;;
	esac
	return 0
}
