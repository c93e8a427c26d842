#!/bin/bash
# The guest boot benchmark's in-host part (issue 15): run INSIDE the T3a host (systemd as PID 1,
# booted from its OSTree deployment, our package installed) in place of tests/system/scenarios.sh,
# by benches/boot.sh through `T3A_SCENARIOS=… tests/system/t3a.sh`. Not meant to run elsewhere.
#
# One guest deployment (the stateroot off1 of tests/system/build-host.sh, network "none"), booted
# by `systemctl start` in these variants, interleaved round by round (A B C D, A B C D, …) after
# one unmeasured warm-up round, so drifting load and a warming page cache hit all alike:
#
#   idmap        systemd-nspawn@off1.service, our drop-in, the default (security.private-users
#                unset): the helper, --private-users=pick --private-users-ownership=map, :idmap binds
#   privileged   the same unit with a drop-in [security] private-users = "no" in /run
#   plain        systemd-nspawn@plain.service: the stock template, ExecStart replaced by plain
#                systemd-nspawn on the same deployment directory and stateroot /var, no helper
#   plain-idmap  the same as plain with nspawn's own -U --private-users-ownership=map and :idmap
#                binds: what a user namespace costs without our helper
#
# Per run it records (µs, CLOCK_REALTIME: the host's and the guests' clock is the same kernel's)
#   t0        just before `systemctl start`
#   u_exit    the unit leaves "inactive" (systemd begins the start job)
#   g_pid1    the guest's systemd starts (its manager's UserspaceTimestamp)
#   g_mu      the guest's multi-user.target becomes active (its ActiveEnterTimestamp)
#   u_active  the unit becomes active: nspawn passed on the guest's READY=1 (--notify-ready=yes)
#   t1        `systemctl start` has returned
# into $SHARE/boot-raw.tsv, and PASS/FAIL lines: every variant booted in every round, in the
# right mode, and start returned only after multi-user.target (t0 ≤ … ≤ g_mu ≤ u_active ≤ t1,
# the guest "running" or "degraded", never "starting").
#
# Settings (benches/boot.sh writes them above this text): ROUNDS, VARIANTS.
set -uo pipefail
export LC_ALL=C SYSTEMD_PAGER='' SYSTEMD_COLORS=0
: "${ROUNDS:=15}"
: "${VARIANTS:=idmap privileged plain plain-idmap}"
SHARE=/var/mnt/share
START=/usr/libexec/ostree-guests/ostree-guest-start
GUEST=off1 # autostart = false, network "none": nspawn's --private-network, no network helper
RAW=$SHARE/boot-raw.tsv
MODE_DROPIN=/run/ostree-guests.d/$GUEST.toml.d/90-bench.toml
PLAIN_DIR=/run/ostree-guests-bench
N_PASS=0 N_FAIL=0

pass() { N_PASS=$((N_PASS + 1)); printf 'PASS: %s (%s)\n' "$1" "${2:-}"; }
fail() { N_FAIL=$((N_FAIL + 1)); printf 'FAIL: %s (%s)\n' "$1" "${2:-}"; }
info() { printf '[bench] %s\n' "$*"; }
now_us() { echo "${EPOCHREALTIME/./}"; }

unit_of() {
	case $1 in
	idmap | privileged) echo "systemd-nspawn@$GUEST.service" ;;
	*) echo "systemd-nspawn@$1.service" ;;
	esac
}
machine_of() { case $1 in idmap | privileged) echo "$GUEST" ;; *) echo "$1" ;; esac; }

# A timestamp property as µs since the epoch: systemctl prints "Thu 2026-12-03 07:10:00.123456 UTC"
# with --timestamp=us+utc, which GNU date reads back; empty when the property is unset.
stamp() { # stamp SYSTEMCTL-PREFIX... -- PROPERTY [UNIT]
	local pre=() v
	while [ "$1" != -- ]; do pre+=("$1"); shift; done
	shift
	v=$("${pre[@]}" systemctl show --timestamp=us+utc -P "$@" 2>/dev/null) || v=
	[ -n "$v" ] && [ "$v" != n/a ] || return 0
	date -u -d "${v#* }" +%s%6N
}

# ---- the variants' configuration -----------------------------------------------------------------
DEP=$("$START" --dry-run "$GUEST" 2>&1 | awk '$1 == "deployment:" {print $2}')
DEPDIR=/sysroot/ostree/deploy/$GUEST/deploy/$DEP
VARDIR=/sysroot/ostree/deploy/$GUEST/var
if [ -z "$DEP" ] || [ ! -d "$DEPDIR" ]; then
	fail "the helper resolves $GUEST's deployment" "$("$START" --dry-run "$GUEST" 2>&1 | tr '\n' ' ')"
	echo "$N_PASS passed, $N_FAIL failed"
	exit 1
fi
info "deployment $DEPDIR, stateroot /var $VARDIR"
info "our command line (idmap): $("$START" --dry-run "$GUEST" 2>&1 | tr '\n' ' ')"

# The plain peer: the stock systemd-nspawn@.service (same Type=notify, Delegate=, Slice=,
# KillMode=, device policy as our guests' units), ExecStart replaced by the shortest command line
# that boots the same deployment with the same mounts and network as ours. Two steps our helper
# also takes cannot be left out: a private mount namespace with /sysroot writable (the host
# mounts it read-only, as Fedora >= 37 does, and the guest's /etc lives there), and
# SYSTEMD_NSPAWN_LOCK=0 (else nspawn drops a lock file into the sysroot's deploy directory).
mkdir -p "$PLAIN_DIR"
cat >"$PLAIN_DIR/plain-nspawn" <<-SH
	#!/bin/sh
	# \$1: the machine name, \$2: "no" or "idmap"
	mount -o remount,bind,rw /sysroot || exit 1
	if [ "\$2" = idmap ]; then pu="--private-users=pick --private-users-ownership=map" o=:idmap
	else pu=--private-users=no o=; fi
	# shellcheck disable=SC2086
	exec systemd-nspawn --quiet --keep-unit --boot --notify-ready=yes --machine="\$1" \\
		--directory=$DEPDIR --settings=yes \$pu --link-journal=no \\
		--bind=$VARDIR:/var\$o --bind-ro=/boot:/boot\$o --bind-ro=+/usr:/usr --private-network
SH
chmod 0755 "$PLAIN_DIR/plain-nspawn"
for v in plain plain-idmap; do
	mkdir -p "/run/systemd/system/$(unit_of $v).d"
	pu=no
	[ $v = plain-idmap ] && pu=idmap
	printf '[Service]\nEnvironment=SYSTEMD_NSPAWN_LOCK=0\nExecStart=\nExecStart=/usr/bin/unshare --mount --propagation slave %s %s %s\n' \
		"$PLAIN_DIR/plain-nspawn" "$v" "$pu" >"/run/systemd/system/$(unit_of $v).d/50-bench.conf"
done
info "plain peer (systemd-nspawn@plain.service ExecStart): $(sed -n 's/^ExecStart=\(.\)/\1/p' "/run/systemd/system/$(unit_of plain).d/50-bench.conf")"
info "$PLAIN_DIR/plain-nspawn: $(tr '\n' ' ' <"$PLAIN_DIR/plain-nspawn" | sed 's/  */ /g')"

set_mode() { # our guest's mode through a runtime drop-in; the generator reads it on daemon-reload
	mkdir -p "${MODE_DROPIN%/*}"
	if [ "$1" = privileged ]; then
		printf '[security]\nprivate-users = "no"\n' >"$MODE_DROPIN"
	else
		rm -f "$MODE_DROPIN"
	fi
}

# The unit this script runs in: its own start job stays queued until the script ends.
SELF_UNIT=$(sed -n 's#^0::.*/\([^/]*\.service\)$#\1#p' /proc/self/cgroup)

# The same steps before every run of every variant: the mode drop-in, daemon-reload, no other
# job queued, a short pause so the previous guest's teardown is not measured.
prepare() {
	case $1 in idmap | privileged) set_mode "$1" ;; esac
	systemctl daemon-reload
	local i
	for ((i = 0; i < 100; i++)); do
		[ -z "$(systemctl list-jobs --no-legend | awk -v self="$SELF_UNIT" '$2 != self')" ] && break
		sleep 0.1
	done
	sleep 0.5
}

# one_run VARIANT ROUND: start, record, check, stop
one_run() {
	local v=$1 r=$2 u m t0 t1 rc out leader st uid u_exit g_pid1 g_mu u_active
	u=$(unit_of "$v")
	m=$(machine_of "$v")
	prepare "$v"
	t0=$(now_us)
	out=$(timeout 120 systemctl start "$u" 2>&1)
	rc=$?
	t1=$(now_us)
	if [ $rc != 0 ]; then
		fail "$v round $r: systemctl start $u" "rc=$rc $out; $(journalctl -u "$u" -n 8 --no-pager -o cat | tr '\n' '|')"
		systemctl stop "$u" 2>/dev/null
		systemctl reset-failed "$u" 2>/dev/null
		return 1
	fi
	leader=$(machinectl show -p Leader --value "$m" 2>/dev/null)
	# right after start returned: the guest must be up, not still starting
	st=$(nsenter -t "$leader" -a systemctl is-system-running 2>/dev/null)
	uid=$(awk '{print $1 ":" $2 ":" $3; exit}' "/proc/$leader/uid_map" 2>/dev/null)
	u_exit=$(stamp -- InactiveExitTimestamp "$u")
	u_active=$(stamp -- ActiveEnterTimestamp "$u")
	g_pid1=$(stamp nsenter -t "$leader" -a -- UserspaceTimestamp)
	g_mu=$(stamp nsenter -t "$leader" -a -- ActiveEnterTimestamp multi-user.target)
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$v" "$r" "$t0" "$u_exit" "$g_pid1" "$g_mu" \
		"$u_active" "$t1" "$st" "$uid" >>"$RAW"
	info "$v round $r: start returned after $(((t1 - t0) / 1000)) ms, multi-user.target after $(((${g_mu:-0} - t0) / 1000)) ms, state $st, uid_map $uid"
	if ! timeout 60 systemctl stop "$u"; then
		fail "$v round $r: systemctl stop $u" "$(systemctl is-active "$u")"
	fi
	systemctl reset-failed "$u" 2>/dev/null
	return 0
}

info "host: systemd $(systemctl --version | awk 'NR==1{print $2}'), kernel $(uname -r), $(nproc) cores"
printf 'variant\tround\tt0\tu_exit\tg_pid1\tg_mu\tu_active\tt1\tstate\tuid_map\n' >"$RAW"
echo "load_start=$(cut -d' ' -f1-3 /proc/loadavg)" >"$SHARE/boot-machine.txt"
read -ra variants <<<"$VARIANTS"
info "warm-up round (not measured): ${variants[*]}"
for v in "${variants[@]}"; do
	one_run "$v" 0 || true
done
info "load average before the measured rounds: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "load_measure=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$SHARE/boot-machine.txt"
for ((r = 1; r <= ROUNDS; r++)); do
	for v in "${variants[@]}"; do
		one_run "$v" "$r" || true
	done
done
echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$SHARE/boot-machine.txt"
set_mode idmap # the default again: the command line below is the idmap guest's
{
	echo "rounds=$ROUNDS"
	echo "variants=$VARIANTS"
	echo "systemd=$(systemctl --version | awk 'NR==1{print $2}')"
	echo "deployment=$DEPDIR"
	echo "ours=$("$START" --dry-run "$GUEST" 2>&1 | sed -n '/^argv:/,$ { /^argv:/d; s/^ *//; p; }' | tr '\n' ' ')"
	echo "plain=$(sed -n '/^exec /,$p' "$PLAIN_DIR/plain-nspawn" | tr -d '\\\t\n' | sed 's/  */ /g')"
} >>"$SHARE/boot-machine.txt"
info "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- checks over the whole run (round 0, the warm-up, included) --------------------------------------
for v in "${variants[@]}"; do
	n=$(awk -F'\t' -v v="$v" '$1 == v && $2 > 0' "$RAW" | wc -l)
	if [ "$n" = "$ROUNDS" ]; then pass "$v booted in all $ROUNDS rounds" ""; else fail "$v booted in all $ROUNDS rounds" "$n"; fi
	# privileged guests map 0 to 0 for the whole range; user-namespaced ones a picked range
	bad=$(awk -F'\t' -v v="$v" '$1 == v {
		priv = ($10 == "0:0:4294967295"); want = (v == "privileged" || v == "plain")
		if (priv != want) print $2 ":" $10 }' "$RAW" | tr '\n' ' ')
	if [ -z "$bad" ]; then pass "$v ran in its mode in every round" "uid_map $(awk -F'\t' -v v="$v" '$1 == v {print $10; exit}' "$RAW")"; else fail "$v ran in its mode in every round" "$bad"; fi
	bad=$(awk -F'\t' -v v="$v" '$1 == v && !($4 != "" && $5 != "" && $6 != "" && $7 != "" && $3 <= $4 && $4 <= $5 && $5 <= $6 && $6 <= $7 && $7 <= $8 && ($9 == "running" || $9 == "degraded")) {print $2}' "$RAW" | tr '\n' ' ')
	if [ -z "$bad" ]; then
		pass "$v: systemctl start returned only after the guest's multi-user.target and READY=1, guest running" "t0 ≤ unit activating ≤ guest PID 1 ≤ multi-user.target ≤ unit active ≤ return, every round"
	else
		fail "$v: systemctl start returned only after the guest's multi-user.target" "rounds $bad"
	fi
done
echo "$N_PASS passed, $N_FAIL failed"
[ "$N_FAIL" = 0 ]
