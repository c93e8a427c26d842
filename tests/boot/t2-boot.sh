#!/bin/bash
# T2 boot test: our start helper boots OSTree guest stateroots with real systemd-nspawn.
#
# Builds a real OSTree sysroot (tests/lib/mk-sysroot.sh: default-deployed "host" stateroot, then
# guests "alpha" and "beta" deployed --not-as-default, from a cached Debian bookworm debootstrap),
# boots the guests through `ostree-guest-start` and checks what the guest sees. Runs on a host whose
# PID 1 is not systemd (no machined): the helper runs with --no-register.
#
# Usage (root):  tests/boot/t2-boot.sh
# Env:  OSTREE_GUEST_START   helper binary (default $CARGO_TARGET_DIR/debug/ostree-guest-start,
#                            CARGO_TARGET_DIR defaulting to <repo>/target; built with
#                            `cargo build -p ostree-guests-helpers` when missing and cargo exists)
#       T2_WORKDIR           scratch dir (default /dev/shm/ostree-guests-t2; removed on exit,
#                            except logs/, unless T2_KEEP=1 which keeps everything)
#       T2_BOOT_TIMEOUT      seconds to reach multi-user.target (default 120)
#       T2_REFERENCE=1       boot with the shell reference of the helper contract instead of the
#                            helper (harness self-test: a shell rendition of the contract, written
#                            to $T2_WORKDIR/reference-guest-start)
#       OSTREE_GUESTS_CACHE  debootstrap tarball cache (default /var/tmp/ostree-guests/cache)
# Output: PASS:/FAIL: lines, TIMING: lines, and last "N passed, N failed". Exit 0 only if all passed.
# The checks pass values to `sh -c` scripts as positional parameters: single quotes are meant.
# shellcheck disable=SC2016
set -uo pipefail

# shellcheck source=tests/lib/boot.sh
. "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/../lib/boot.sh"
t2_init /dev/shm/ostree-guests-t2
REFERENCE=${T2_REFERENCE:-0}

# ---- fresh work dir --------------------------------------------------------------
t2_fresh_work
for n in alpha beta; do
	conf "$n" "stateroot = \"$n\""
done

# ---- the helper, or the shell reference of its contract ---------------------------
if [ "$REFERENCE" = 1 ]; then
	# Harness self-test only: the contract in shell (private mount namespace; sysroot bound onto
	# itself and made rw there; guest /usr and /boot read-only; stateroot var staged under /run;
	# pivot into the deployment without keeping the old root). Not the product. A read-only bind of
	# the deployment's usr made before the exec does not survive nspawn's pivot (/usr was writable
	# in the guest); nspawn's own --bind-ro=+/usr:/usr holds.
	HELPER=$WORK/reference-guest-start
	cat >"$HELPER" <<-'REF'
		#!/bin/bash
		set -eu
		dry=0; name=
		for a; do case $a in --dry-run) dry=1 ;; --no-register) ;; *) name=$a ;; esac; done
		S=$OSTREE_GUESTS_SYSROOT B=$OSTREE_GUESTS_BOOT
		dep=$(ostree admin status --sysroot="$S" | awk -v os="$name" '($1==os || ($1=="*" && $2==os)) {print ($1=="*" ? $3 : $2); exit}')
		[ -n "$dep" ] || { echo "no deployment of $name" >&2; exit 3; }
		argv=(systemd-nspawn --quiet --keep-unit --register=no --boot --machine="$name" --link-journal=no
			--private-network --directory="$S" --pivot-root="/ostree/deploy/$name/deploy/$dep"
			--bind="/run/ostree-guests-t2-ref/$name/var:/var" --bind-ro="/run/ostree-guests-t2-ref/$name/boot:/boot" --bind-ro=+/usr:/usr)
		if [ $dry = 1 ]; then
			printf 'machine: %s\ndeployment: %s\ndirectory: %s\nargv:\n' "$name" "$dep" "$S/ostree/deploy/$name/deploy/$dep"
			printf '  %s\n' "${argv[@]}"
			exit 0
		fi
		exec unshare -m --propagation private sh -ec '
			S=$1 B=$2 N=$3 dd=$1/ostree/deploy/$3/deploy/$4 st=/run/ostree-guests-t2-ref/$3
			shift 4
			mountpoint -q "$S" || mount --bind "$S" "$S"
			if findmnt -rn -o OPTIONS --mountpoint "$S" | grep -qE "(^|,)ro(,|$)"; then mount -o remount,bind,rw "$S"; fi
			mkdir -p "$st/var" "$st/boot"
			mount --bind "$S/ostree/deploy/$N/var" "$st/var"
			mount --bind "$B" "$st/boot" && mount -o remount,bind,ro "$st/boot"
			exec "$@"' sh "$S" "$B" "$name" "$dep" "${argv[@]}"
	REF
	chmod +x "$HELPER"
	log "T2_REFERENCE=1: booting with the shell reference $HELPER, not the helper"
	log "helper: $HELPER"
else
	t2_need_helper
fi

# ================================================================================
log "== building the sysroot (host + alpha + beta)"
t0=$EPOCHREALTIME
mk_sysroot --with-host --dir "$SYSROOT" alpha beta >"$LOGS/mk-sysroot.log" 2>&1 || {
	cat "$LOGS/mk-sysroot.log" >&2
	die "sysroot build failed"
}
timing "sysroot build" "$(elapsed_since "$t0")"
sed 's/^/    /' "$LOGS/mk-sysroot.log" | grep -v '\] mk_sysroot' >&2

HOST_DEP=$(ostree_status_deployment "$SYSROOT" host)
ALPHA_DEP=$(ostree_status_deployment "$SYSROOT" alpha)
BETA_DEP=$(ostree_status_deployment "$SYSROOT" beta)
ALPHA_DIR=$SYSROOT/ostree/deploy/alpha/deploy/$ALPHA_DEP
HOST_DIR=$SYSROOT/ostree/deploy/host/deploy/$HOST_DEP
if [ -z "$HOST_DEP" ] || [ -z "$ALPHA_DEP" ] || [ -z "$BETA_DEP" ]; then die "deployments missing from ostree admin status"; fi

# host files a guest must not change (8): a /usr file of the host deployment (same inode as the
# guests' copies: hard links into the repo), the host's marker, the boot entries and loader link
PROTECTED=("$HOST_DIR/usr/lib/os-release" "$HOST_DIR/usr/bin/bash"
	"$HOST_DIR/usr/share/ostree-guests-test/stateroot" "$SYSROOT/boot/loader"
	"$SYSROOT"/boot/loader/entries/*.conf)
FP_BEFORE=$(fingerprint "${PROTECTED[@]}")
# markers that a guest must not be able to see (5)
echo host-var >"$SYSROOT/ostree/deploy/host/var/.t2-marker-host-var"
echo beta-var >"$SYSROOT/ostree/deploy/beta/var/.t2-marker-beta-var"

# ---- dry run --------------------------------------------------------------------
log "== --dry-run"
DRY=$(guest_dry_run alpha 2>"$LOGS/dry-run.err") || true
printf '%s\n' "$DRY" >"$LOGS/dry-run.out"
DRY_DEP=$(printf '%s\n' "$DRY" | sed -n 's/^deployment: *//p' | head -n1)
DRY_DIR=$(printf '%s\n' "$DRY" | sed -n 's/^directory: *//p' | head -n1)
check "dry-run resolves alpha to ostree's first alpha deployment" \
	sh -c 'echo "deployment: $1, ostree admin status: $2"; [ "$1" = "$2" ]' sh "$DRY_DEP" "$ALPHA_DEP"
check "dry-run directory is that deployment's directory" \
	sh -c 'echo "$1"; [ -n "$1" ] && [ "$(realpath -e "$1")" = "$(realpath -e "$2")" ]' sh "$DRY_DIR" "$ALPHA_DIR"
check "dry-run argv runs systemd-nspawn --boot with --pivot-root to that deployment" sh -c '
	a=$(printf "%s\n" "$1" | sed -n "/^argv:/,\$p" | sed -n "s/^  //p")
	printf "%s\n" "$a" | grep -E "^--pivot-root" | tr "\n" " "
	printf "%s\n" "$a" | head -n1 | grep -q "systemd-nspawn\$" &&
	printf "%s\n" "$a" | grep -qx -- "--boot" &&
	printf "%s\n" "$a" | grep -E "^--pivot-root" | grep -qF "$2"' sh "$DRY" "$ALPHA_DEP"

check "dry-run argv has --keep-unit and --register=no (--no-register)" sh -c '
	a=$(printf "%s\n" "$1" | sed -n "/^argv:/,\$p" | sed -n "s/^  //p")
	printf "%s\n" "$a" | grep -xE -- "--keep-unit|--register=no|--register=false" | tr "\n" " "
	printf "%s\n" "$a" | grep -qx -- "--keep-unit" && printf "%s\n" "$a" | grep -qxE -- "--register=(no|false)"' sh "$DRY"

# ---- 1-5: alpha ------------------------------------------------------------------
log "== alpha, first boot"
if boot_and_wait "alpha (boot 1)" alpha "$LOGS/alpha-1.log"; then
	check "alpha: the helper pid became systemd-nspawn (exec, not fork)" \
		sh -c 'c=$(cat /proc/$1/comm); echo "comm=$c"; [ "$c" = systemd-nspawn ]' sh "${GUEST_PID[alpha]}"
	guest_running_checks alpha "alpha (boot 1)"

	# 2: / is the resolved deployment
	check "alpha: / is the dry-run deployment (dev:ino)" sh -c '
		g=$(nsenter -t "$1" -a -- stat -c %d:%i /); h=$(stat -c %d:%i "$2")
		echo "guest / $g, $3 $h"; [ "$g" = "$h" ]' sh "${LEADER[alpha]}" "$ALPHA_DIR" "$ALPHA_DEP"
	check "alpha: /usr/share/ostree-guests-test/stateroot says alpha" sh -c '
		m=$(nsenter -t "$1" -a -- cat /usr/share/ostree-guests-test/stateroot); echo "$m"; [ "$m" = alpha ]' sh "${LEADER[alpha]}"

	# 3: /var is alpha's stateroot var
	PROBE=t2-probe-$$-$RANDOM
	check "alpha: a file written to /var appears in ostree/deploy/alpha/var on the host" sh -c '
		nsenter -t "$1" -a -- sh -c "echo $3 > /var/$3" || exit 1
		f=$2/ostree/deploy/alpha/var/$3; ls "$f" && [ "$(cat "$f")" = "$3" ]' sh "${LEADER[alpha]}" "$SYSROOT" "$PROBE"

	# 4: read-only /usr and /boot, writable /etc
	check "alpha: /usr is read-only" sh -c '
		out=$(nsenter -t "$1" -a -- touch /usr/t2-probe 2>&1) && { echo "touch /usr/t2-probe succeeded"; exit 1; }
		echo "$out"; echo "$out" | grep -q "Read-only file system"' sh "${LEADER[alpha]}"
	check "alpha: /usr/lib/os-release cannot be rewritten" sh -c '
		out=$(nsenter -t "$1" -a -- sh -c "echo x >> /usr/lib/os-release" 2>&1) && { echo "append succeeded"; exit 1; }
		echo "$out"; echo "$out" | grep -q "Read-only file system"' sh "${LEADER[alpha]}"
	check "alpha: /boot is the sysroot's /boot" sh -c '
		g=$(nsenter -t "$1" -a -- stat -c %d:%i /boot/loader/); h=$(stat -c %d:%i "$2/boot/loader/")
		echo "guest /boot/loader $g, host $h"; [ "$g" = "$h" ]' sh "${LEADER[alpha]}" "$SYSROOT"
	check "alpha: /boot is read-only" sh -c '
		out=$(nsenter -t "$1" -a -- touch /boot/t2-probe 2>&1) && { echo "touch /boot/t2-probe succeeded"; exit 1; }
		echo "$out"; echo "$out" | grep -q "Read-only file system"' sh "${LEADER[alpha]}"
	check "alpha: /etc is writable (and is the deployment's etc)" sh -c '
		nsenter -t "$1" -a -- sh -c "echo $3 > /etc/t2-probe" || exit 1
		cat "$2/etc/t2-probe" && [ "$(cat "$2/etc/t2-probe")" = "$3" ]' sh "${LEADER[alpha]}" "$ALPHA_DIR" "$PROBE"

	# 5: isolation
	check "alpha: /sysroot is empty or absent, no /ostree/repo" sh -c '
		nsenter -t "$1" -a -- sh -c "
			if [ -e /sysroot ]; then echo \"/sysroot: \$(ls -A /sysroot | head -n 5 | tr \"\n\" \" \")\"; else echo \"no /sysroot\"; fi
			[ ! -e /sysroot ] || [ -z \"\$(ls -A /sysroot)\" ] || exit 1
			if [ -e /ostree/repo ]; then echo \"/ostree/repo exists\"; exit 1; fi
			if [ -e /sysroot/ostree/repo ]; then echo \"/sysroot/ostree/repo exists\"; exit 1; fi"' sh "${LEADER[alpha]}"
	# An empty result proves nothing by itself (nsenter or find may have failed): the same find
	# must also meet alpha's own marker file, and exit 0.
	check "alpha: no path to beta or the host stateroot's var (find / -xdev)" sh -c '
		r=$(nsenter -t "$1" -a -- find / -xdev \( -path "*ostree/deploy/beta*" -o -path "*ostree/deploy/host*" \
			-o -name ".t2-marker-*" -o -path "*ostree/repo/objects" -o -path /usr/share/ostree-guests-test/stateroot \) -print 2>&1) ||
			{ echo "find in the guest failed: $(echo "$r" | tail -n 3)"; exit 1; }
		bad=$(echo "$r" | grep -vx /usr/share/ostree-guests-test/stateroot | head -n 5)
		if [ -n "$bad" ]; then echo "found: $bad"; exit 1; fi
		echo "$r" | grep -qx /usr/share/ostree-guests-test/stateroot || { echo "the control file was not found either: $r"; exit 1; }
		echo "nothing found (the control file was)"' sh "${LEADER[alpha]}"
	# every guest mount of the sysroot's file system (same st_dev) must be rooted in alpha's
	# deployment, alpha's var or /boot (mountinfo field 4: the path inside that file system; its
	# prefix up to the sysroot is taken from the guest's / mount, which must be the deployment)
	check "alpha: guest mounts of the sysroot fs only expose alpha's deployment, alpha's var and /boot" sh -c '
		dev=$(stat -c %Hd:%Ld "$2"); suffix=/ostree/deploy/alpha/deploy/$3
		rel=$(awk -v d="$dev" -v s="$suffix" '"'"'$3 == d && $5 == "/" { r = $4; if (substr(r, length(r) - length(s) + 1) == s) print "rel=" substr(r, 1, length(r) - length(s)); exit }'"'"' /proc/"$1"/mountinfo)
		case $rel in rel=*) rel=${rel#rel=} ;; *) echo "guest / is not a mount of $suffix"; exit 1 ;; esac
		bad=; seen=
		while read -r _ _ mm root mp _; do
			[ "$mm" = "$dev" ] || continue
			seen="$seen $mp"
			case $root in
			"$rel$suffix" | "$rel$suffix/"* | "$rel/ostree/deploy/alpha/var" | "$rel/ostree/deploy/alpha/var/"* | "$rel/boot" | "$rel/boot/"*) ;;
			*) bad="$bad $mp=$root" ;;
			esac
		done < /proc/"$1"/mountinfo
		echo "sysroot at ${rel:-?} in its fs${bad:+; exposed:$bad}; mounts:$seen"
		[ -n "$seen" ] && [ -z "$bad" ]
		' sh "${LEADER[alpha]}" "$SYSROOT" "$ALPHA_DEP"

	stop_guest alpha "boot 1"
else
	kill_guest alpha
fi

log "== alpha, second boot"
if boot_and_wait "alpha (boot 2)" alpha "$LOGS/alpha-2.log"; then
	check "alpha: the /var file survives a second boot" sh -c '
		c=$(nsenter -t "$1" -a -- cat "/var/$2"); echo "/var/$2 = $c"; [ "$c" = "$2" ]' sh "${LEADER[alpha]}" "${PROBE:-none}"

	# 6: beta alongside alpha
	log "== beta while alpha runs"
	if boot_and_wait "beta (alongside alpha)" beta "$LOGS/beta-1.log"; then
		guest_running_checks beta "beta"
		check "beta: marker says beta, / is beta's deployment" sh -c '
			m=$(nsenter -t "$1" -a -- cat /usr/share/ostree-guests-test/stateroot)
			g=$(nsenter -t "$1" -a -- stat -c %d:%i /); h=$(stat -c %d:%i "$2")
			echo "marker $m, / $g vs $h"; [ "$m" = beta ] && [ "$g" = "$h" ]' sh "${LEADER[beta]}" "$SYSROOT/ostree/deploy/beta/deploy/$BETA_DEP"
		check "alpha and beta run at the same time (both pids alive, both running)" sh -c '
			kill -0 "$1" && kill -0 "$2" || { echo "pids $1 $2 not both alive"; exit 1; }
			a=$(nsenter -t "$3" -a -- systemctl is-system-running); b=$(nsenter -t "$4" -a -- systemctl is-system-running)
			echo "alpha pid $1: $a, beta pid $2: $b"; [ "$a" = running ] && [ "$b" = running ]' \
			sh "${GUEST_PID[alpha]}" "${GUEST_PID[beta]}" "${LEADER[alpha]}" "${LEADER[beta]}"
		stop_guest beta
	else
		kill_guest beta
	fi
	stop_guest alpha "boot 2"
else
	kill_guest alpha
fi

# ---- 7: read-only sysroot ------------------------------------------------------------
log "== alpha on a read-only sysroot"
NS_HOLDER_FILE=$WORK/ro-ns-holder.pid
# The outer namespace stands for Fedora's read-only /sysroot. A detached sleeper keeps it
# inspectable after sh execs the helper (it is not a child of nspawn, so the leader lookup holds).
# shellcheck disable=SC2016
BOOT_WRAP=(unshare -m --propagation private sh -c '
	mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" || exit 1
	(sleep 3600 </dev/null >/dev/null 2>&1 & echo $! >"$1")
	shift; exec "$@"' "$SYSROOT" "$NS_HOLDER_FILE")
rm -f "$NS_HOLDER_FILE"
ro_ok=0
boot_and_wait "alpha (read-only sysroot)" alpha "$LOGS/alpha-ro.log" && ro_ok=1
HOLDER=$(cat "$NS_HOLDER_FILE" 2>/dev/null)
[ -n "$HOLDER" ] && EXTRA_PIDS+=("$HOLDER")
if [ $ro_ok = 1 ]; then
	guest_running_checks alpha "alpha (read-only sysroot)"
	check "alpha (read-only sysroot): /etc and /var are writable" sh -c '
		nsenter -t "$1" -a -- sh -c "touch /etc/t2-ro-probe /var/t2-ro-probe && rm /etc/t2-ro-probe /var/t2-ro-probe" &&
		echo "touch /etc, /var ok"' sh "${LEADER[alpha]}"
	check "alpha (read-only sysroot): /usr stays read-only" sh -c '
		out=$(nsenter -t "$1" -a -- touch /usr/t2-probe 2>&1) && { echo "touch /usr/t2-probe succeeded"; exit 1; }
		echo "$out"; echo "$out" | grep -q "Read-only file system"' sh "${LEADER[alpha]}"
	check "sysroot stays read-only outside the helper's namespace" sh -c '
		[ -n "$1" ] || { echo "no namespace holder"; exit 1; }
		o=$(nsenter -t "$1" -m -- findmnt -n -o OPTIONS --mountpoint "$2")
		out=$(nsenter -t "$1" -m -- touch "$2/t2-probe" 2>&1) && { echo "touch succeeded"; exit 1; }
		echo "options $o; $out"; echo "$o" | grep -qE "(^|,)ro(,|$)"' sh "$HOLDER" "$SYSROOT"
	stop_guest alpha "read-only sysroot"
else
	kill_guest alpha
fi
BOOT_WRAP=()
[ -n "${HOLDER:-}" ] && kill "$HOLDER" 2>/dev/null

# ---- 8: host files unchanged -------------------------------------------------------
FP_AFTER=$(fingerprint "${PROTECTED[@]}")
check "host /usr file, host marker and boot entries unchanged (sha256 + mtime)" bash -c '
	if [ "$1" = "$2" ]; then echo "$(printf "%s\n" "$1" | wc -l) files identical"; exit 0; fi
	diff <(printf "%s\n" "$1") <(printf "%s\n" "$2") | tail -n 6; exit 1' sh "$FP_BEFORE" "$FP_AFTER"
check "no boot entries added or removed" sh -c '
	n=$(ls "$1"/boot/loader/entries/ | tr "\n" " "); echo "$n"; [ "$(ls "$1"/boot/loader/entries/ | wc -l)" = 3 ]' sh "$SYSROOT"
check "no mounts left on the host below $WORK" sh -c '
	m=$(findmnt -rn -o TARGET | grep -F "$1"); [ -z "$m" ] && echo none || { echo "$m"; exit 1; }' sh "$WORK"

log "== summary"

check_summary
