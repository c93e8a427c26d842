#!/bin/bash
# T3a/T3 in-host scenarios: run INSIDE the OSTree-booted test host (the T3a container or the T3
# VM) by t3a-scenarios.service (the script is read from the share, /var/mnt/share). Prints
# PASS:/FAIL:/TIMING: lines and a final "N passed, N failed"; exits 0 only when everything passed.
#
# The share may hold tier.env (written by tests/system/t3.sh) with
#   TIER=vm|container   (default container)
#   SCENARIOS="0 1 14"  which scenarios run (default: all that apply to the tier)
#   TIME_SCALE=N        multiplies every timeout (the VM emulates its CPU: guests stop in ~10 s)
# 0-12 run on every tier; 13 (cgroup v2 controllers, MemoryMax) needs the VM's own kernel and
# unified hierarchy; 14 (NetworkManager) needs udev, i.e. the VM, booted with networkd masked;
# 15 and 16 (tests/system/scenario-remote.sh) run in the container, whose share has the remote;
# 18 (tests/system/scenario-marker.sh: the real GVariant /run/ostree-booted against libostree and
# our detection) needs the VM, the only tier booted through ostree-prepare-root.
#
# Guest stateroots in the sysroot (tests/system/build-host.sh): auto1 (autostart, veth), off1
# (autostart = false), upg, gone (configs in the image), fresh and pinned (configs written here).
# shellcheck disable=SC2016,SC2012
set -uo pipefail
export LC_ALL=C SYSTEMD_PAGER='' SYSTEMD_COLORS=0
START=/usr/libexec/ostree-guests/ostree-guest-start
CONF=/etc/ostree-guests.d
T0=$EPOCHREALTIME
# The harness's helpers (elapsed_since, pass, fail), copied onto the share by t3a.sh and t3.sh.
# shellcheck source=tests/lib/common.sh
. /var/mnt/share/common.sh
N_PASS=0 N_FAIL=0
TIER=container SCENARIOS='' TIME_SCALE=1
# shellcheck disable=SC1091
[ -r /var/mnt/share/tier.env ] && . /var/mnt/share/tier.env
# want N: does scenario N run in this boot?
want() {
	if [ -n "$SCENARIOS" ]; then
		case " $SCENARIOS " in *" $1 "*) return 0 ;; *) return 1 ;; esac
	fi
	case $1 in
	13 | 14 | 18) [ "$TIER" = vm ] ;;
	# the signed remote is made by t3a.sh before the host boots (tests/system/remote-repo.sh)
	15 | 16) [ "$TIER" = container ] ;;
	# the images, ostree container and skopeo are in the container host only (t3a.sh)
	17) [ "$TIER" = container ] ;;
	*) return 0 ;;
	esac
}

now_us() { echo "${EPOCHREALTIME/./}"; }
info() { printf '[%6ss] %s\n' "$(elapsed_since "$T0")" "$*"; }
oneline() { tr '\n' ' ' | sed 's/  */ /g; s/ *$//' | cut -c1-400; }
# verdict WHAT SAW CMD...: PASS when CMD succeeds
verdict() { local what=$1 saw=$2; shift 2; if "$@"; then pass "$what" "$saw"; else fail "$what" "$saw"; fi; }
# tmo SECONDS: a timeout, scaled for the tier
tmo() { echo $(($1 * TIME_SCALE)); }
# wait_for SECONDS CMD...: poll CMD every 0.2 s (SECONDS scaled by TIME_SCALE); 1 on timeout.
# CMD runs in this shell, so it may be one of the functions here (a child `sh -c` has none).
wait_for() {
	local end=$(($(now_us) + $1 * TIME_SCALE * 1000000))
	shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$(now_us)" -ge "$end" ] && { info "wait_for: timed out on: $*"; return 1; }
		sleep 0.2
	done
}
# await SECONDS WHAT CMD...: wait_for, and a timeout is a FAIL of WHAT (for waits whose condition
# no later verdict checks as such)
await() {
	local s=$1 what=$2
	shift 2
	wait_for "$s" "$@" || { fail "$what" "not within $(tmo "$s")s"; return 1; }
}
unit() { printf 'systemd-nspawn@%s.service' "$1"; }
prop() { systemctl show -p "$2" --value "$(unit "$1")"; }
is_active() { [ "$(systemctl is-active "$(unit "$1")")" = active ]; }
registered() { machinectl list --no-legend 2>/dev/null | awk '{print $1}' | grep -qx "$1"; }
not_registered() { ! registered "$1"; }
leader() { machinectl show -p Leader --value "$1" 2>/dev/null; }
in_guest() { local n=$1 l; shift; l=$(leader "$n") && [ -n "$l" ] && nsenter -t "$l" -a -- "$@"; }
shell_ok() { timeout "$(tmo 5)" machinectl -q shell "$1" /bin/true </dev/null >/dev/null 2>&1; }
# the guest is up: unit active, machine registered, its D-Bus answers (machinectl shell)
guest_up() { is_active "$1" && registered "$1" && shell_ok "$1"; }
dry_dep() { "$START" --dry-run "$1" 2>&1 | awk '$1 == "deployment:" {print $2}'; }
# first "<csum>.<serial>" of a stateroot in `ostree admin status` order (libostree's own)
status_dep() { ostree admin status | awk -v os="$1" '($1 == os || ($1 == "*" && $2 == os)) {print ($1 == "*" ? $3 : $2); exit}'; }
# index of a deployment in `ostree admin status` (what `ostree admin pin` takes)
status_index() { ostree admin status | awk -v d="$1" '{c = ($1 == "*") ? $3 : $2} c ~ /^[0-9a-f]+\.[0-9]+$/ {if (c == d) print i + 0; i++}'; }
guest_root_dep() { in_guest "$1" findmnt -no FSROOT / | sed 's#.*/deploy/##'; }
# guest_v4 NAME [DEV]: the guest's global IPv4 address on DEV (host0)
guest_v4() { in_guest "$1" ip -4 -o addr show dev "${2:-host0}" scope global 2>/dev/null | awk '{sub("/.*", "", $4); print $4; exit}'; }
has_v4() { [ -n "$(guest_v4 "$@")" ]; }
# journal_since T [FORMAT]: the journal since $EPOCHREALTIME T; FORMAT cat (default) drops the
# identifier, short keeps it (to find a program's own lines)
journal_since() { journalctl --no-pager -o "${2:-cat}" --since "@${1%.*}" 2>/dev/null; }
# The one-shot TCP listeners of the network scenarios ignore SIGTERM: a guest's shutdown would wait
# 90 s for one before killing it. Those inside guests are visible here through the nested PID
# namespaces. A process may exit between the glob and the read: the redirection's error is muted.
kill_listeners() {
	local p
	for p in /proc/[0-9]*; do
		case "$( { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null)" in
		"systemd-socket-activate -l "*) kill -KILL "${p#/proc/}" 2>/dev/null ;;
		esac
	done
}
scenario() { [ -n "${SC_T:-}" ] && echo "TIMING: scenario $SC_N ${SC_WHAT} $(elapsed_since "$SC_T")s"; SC_N=$1 SC_WHAT=$2 SC_T=$EPOCHREALTIME; info "== scenario $1: $2"; }

info "t3a scenarios on $(hostname), systemd $(systemctl --version | awk 'NR==1{print $2}'), uptime $(cut -d' ' -f1 /proc/uptime)s"

# ---- 0. the host is an OSTree-booted host like Fedora Atomic ---------------------------------
if want 0; then
scenario 0 "booted host"
st=$(ostree admin status 2>&1)
verdict "ostree admin status marks the host deployment booted" "$(head -1 <<<"$st")" \
	grep -q '^\* host ' <<<"$st"
verdict "/run/ostree-booted exists" "$(ls -l /run/ostree-booted 2>&1)" test -e /run/ostree-booted
o=$(findmnt -no OPTIONS /sysroot)
verdict "/sysroot is read-only" "$o" grep -qE '(^|,)ro(,|$)' <<<"$o"
verdict "/ is the host deployment" "$(stat -c %d:%i /) vs $(stat -c %d:%i "/sysroot/ostree/deploy/host/deploy/$(status_dep host)")" \
	test "$(stat -c %d:%i /)" = "$(stat -c %d:%i "/sysroot/ostree/deploy/host/deploy/$(status_dep host)")"
verdict "our package is in the host image" "$(ls /usr/lib/systemd/system-generators/ostree-guests-generator $START 2>&1 | oneline)" \
	test -x /usr/lib/systemd/system-generators/ostree-guests-generator -a -x $START

fi
# ---- 1. boot: generator, autostart -------------------------------------------------------------
if want 1; then
scenario 1 "boot"
# The boot journal cannot tell: the container has no /dev/kmsg and no journald socket yet when
# the generators run, so the generator's messages go nowhere. Information only.
genlines=$(journalctl -b --no-pager -o short-monotonic | grep -c 'ostree-guests-generator')
info "generator lines in the journal at boot: $genlines (kmsg in this container: $(ls -l /dev/kmsg 2>&1))"
G=/run/systemd/generator
# So the installed generator runs again on the same configuration: it must succeed, configure
# every guest and complain about nothing, and write exactly what the boot run left in $G.
GEN=/usr/lib/systemd/system-generators/ostree-guests-generator
gd=$(mktemp -d /tmp/t3a-gen.XXXXXX)
mkdir -p "$gd/normal" "$gd/early" "$gd/late"
"$GEN" "$gd/normal" "$gd/early" "$gd/late" 2>"$gd/stderr"; rc=$?
nconf=$(find "$CONF" -maxdepth 1 -name '*.toml' ! -name '*.bridge.toml' | wc -l)
verdict "the installed generator, run again on the boot configuration, exits 0 and configures all $nconf guests" \
	"rc=$rc, stderr: $(oneline <"$gd/stderr")" \
	test "$rc" = 0 -a "$(cat "$gd/stderr")" = "ostree-guests-generator: $nconf of $nconf guests configured"
# our files: the drop-ins and the links of the generator's output
ours() { (cd "$1" && find . \( -path './systemd-nspawn@*.service.d/50-ostree-guests.conf' -o -path './*.target.wants/systemd-nspawn@*' \
	-o -path './multi-user.target.wants/machines.target' -o -name 'ostree-guests-network.service' \) | sort); }
same_output() {
	local f
	[ "$(ours "$gd/normal")" = "$(ours "$G")" ] && [ -n "$(ours "$G")" ] || return 1
	for f in $(ours "$G"); do
		if [ -L "$G/$f" ]; then [ "$(readlink "$G/$f")" = "$(readlink "$gd/normal/$f")" ] || return 1
		else cmp -s "$G/$f" "$gd/normal/$f" || return 1; fi
	done
}
verdict "...and writes what the boot run left in $G" "boot: $(ours "$G" | oneline); now: $(ours "$gd/normal" | oneline)" same_output
rm -rf "$gd"
verdict "generator wrote the drop-ins and the autostart links" \
	"$(cd $G && ls -d systemd-nspawn@*.service.d machines.target.wants/* multi-user.target.wants/machines.target 2>&1 | oneline)" \
	test -f "$G/systemd-nspawn@auto1.service.d/50-ostree-guests.conf" -a -L "$G/machines.target.wants/systemd-nspawn@auto1.service" \
	-a ! -e "$G/machines.target.wants/systemd-nspawn@off1.service" -a -L "$G/multi-user.target.wants/machines.target"
t=$EPOCHREALTIME
wait_for 60 guest_up auto1
verdict "autostart guest auto1 running" "$(systemctl is-active "$(unit auto1)"), machine: $(machinectl list --no-legend | awk '$1 == "auto1"' | oneline), up after $(elapsed_since "$t")s more" guest_up auto1
verdict "autostart = false guest off1 not running" "$(systemctl is-active "$(unit off1)")" \
	sh -c "! systemctl -q is-active $(unit off1) && ! machinectl list --no-legend | grep -q '^off1 '"

fi
# ---- 2. new config + daemon-reload + start ----------------------------------------------------
if want 2; then
scenario 2 "new guest"
printf 'description = "T3a guest added at run time"\n[network]\nmode = "none"\n' >"$CONF/fresh.toml"
systemctl daemon-reload
verdict "daemon-reload generated the new guest's drop-in" "$(systemctl show -p DropInPaths --value "$(unit fresh)")" \
	test -f "$G/systemd-nspawn@fresh.service.d/50-ostree-guests.conf"
t=$EPOCHREALTIME
out=$(timeout "$(tmo 60)" systemctl start "$(unit fresh)" 2>&1); rc=$?
verdict "systemctl start $(unit fresh)" "rc=$rc $out, $(elapsed_since "$t")s" test $rc = 0
wait_for 30 shell_ok fresh
verdict "machinectl list shows fresh" "$(machinectl list --no-legend | awk '$1 == "fresh"' | oneline)" registered fresh
out=$(timeout "$(tmo 20)" machinectl -q shell fresh /bin/true </dev/null 2>&1); rc=$?
verdict "machinectl shell fresh /bin/true" "rc=$rc $out, guest up $(elapsed_since "$t")s after start" test $rc = 0

fi
# ---- 3. the guest's / is its deployment, /var persists ------------------------------------------
if want 3; then
scenario 3 "guest root and /var"
d=$(dry_dep fresh)
verdict "--dry-run names libostree's first deployment of the stateroot" "dry-run $d, ostree admin status $(status_dep fresh)" \
	test -n "$d" -a "$d" = "$(status_dep fresh)"
gr=$(guest_root_dep fresh)
sr=$(in_guest fresh cat /usr/share/ostree-guests-test/stateroot 2>&1)
l=$(leader fresh)
verdict "guest / is that deployment" "findmnt FSROOT …/$gr, stateroot file '$sr', stat $(stat -Lc %d:%i "/proc/$l/root/" 2>&1) vs $(stat -c %d:%i "/sysroot/ostree/deploy/fresh/deploy/$d" 2>&1)" \
	test "$gr" = "$d" -a "$sr" = fresh -a "$(stat -Lc %d:%i "/proc/$l/root/" 2>&1)" = "$(stat -c %d:%i "/sysroot/ostree/deploy/fresh/deploy/$d" 2>&1)"
tok=t3a-$RANDOM$RANDOM
in_guest fresh sh -c "echo $tok > /var/t3a-persist && sync"
t=$EPOCHREALTIME
timeout "$(tmo 60)" systemctl restart "$(unit fresh)"; rc=$?
wait_for 30 guest_up fresh
got=$(in_guest fresh cat /var/t3a-persist 2>&1)
verdict "a file in the guest's /var survives systemctl restart" "restart rc=$rc, up in $(elapsed_since "$t")s, read '$got', stateroot var has '$(cat /sysroot/ostree/deploy/fresh/var/t3a-persist 2>&1)'" \
	test "$got" = "$tok" -a "$(cat /sysroot/ostree/deploy/fresh/var/t3a-persist 2>&1)" = "$tok"
o=$(in_guest fresh sh -c 'touch /etc/t3a-w && rm /etc/t3a-w && echo etc-rw; touch /usr/t3a-w 2>/dev/null && echo usr-rw || echo usr-ro' 2>&1 | oneline)
verdict "guest /etc writable, /usr read-only; host /sysroot still $(findmnt -no OPTIONS /sysroot | cut -d, -f1)" "$o" test "$o" = "etc-rw usr-ro"

fi
# ---- 4. upgrade on the booted host; a pinned guest stays -------------------------------------------
if want 4; then
scenario 4 "upgrade and pin"
commit_v2() { # commit_v2 STATEROOT -> prints the new commit; adds /usr/share/ostree-guests-test/version
	local os=$1 ref dir
	ref=$(ostree refs | grep "^$os/" | head -1)
	dir=$(mktemp -d /tmp/t3a-v2.XXXXXX)
	chmod 0755 "$dir" # the commit's / takes this directory's mode: mktemp's 0700 locks out dbus
	mkdir -p "$dir/usr/share/ostree-guests-test"
	echo "$os-v2" >"$dir/usr/share/ostree-guests-test/version"
	ostree commit --repo=/ostree/repo -b "$ref" --tree=ref="$ref" --tree=dir="$dir" \
		--add-metadata-string=version="$os-2" -s "$os v2 (T3a, inside the booted host)" &&
		ostree admin deploy --not-as-default --os="$os" "$ref" >&2
	rm -rf "$dir"
}
t=$EPOCHREALTIME
timeout "$(tmo 60)" systemctl start "$(unit upg)"; wait_for 30 guest_up upg
old=$(dry_dep upg)
new=$(commit_v2 upg 2>"/tmp/t3a-deploy-upg.log")
verdict "ostree commit + admin deploy --not-as-default --os=upg inside the host" "new commit ${new:-none}: $(tail -2 /tmp/t3a-deploy-upg.log | oneline)" test -n "$new"
first=$(status_dep upg)
verdict "booted host: the new deployment is the first of its stateroot, the host stays booted" \
	"$(ostree admin status | grep -E '^\*? *(host|upg) ' | oneline)" \
	sh -c "test '${first%.*}' = '$new' && ostree admin status | head -1 | grep -q '^\* host '"
timeout "$(tmo 60)" systemctl restart "$(unit upg)"; wait_for 30 guest_up upg
gr=$(guest_root_dep upg)
v=$(in_guest upg cat /usr/share/ostree-guests-test/version 2>&1)
verdict "after restart the guest runs the new deployment" "was $old, dry-run $(dry_dep upg), guest / …/$gr, version '$v'" \
	test "$gr" = "$first" -a "$v" = upg-v2 -a "$(dry_dep upg)" = "$first"
pold=$(status_dep pinned)
idx=$(status_index "$pold")
ostree admin pin "$idx" >/tmp/t3a-pin.log 2>&1; rc=$?
verdict "ostree admin pin of pinned's deployment" "index $idx, rc=$rc $(oneline </tmp/t3a-pin.log)" test $rc = 0
printf 'autostart = false\ndeployment = "%s"\n[network]\nmode = "none"\n' "${pold:0:12}" >"$CONF/pinned.toml"
pnew=$(commit_v2 pinned 2>"/tmp/t3a-deploy-pinned.log")
systemctl daemon-reload
timeout "$(tmo 60)" systemctl start "$(unit pinned)"; rc=$?
wait_for 30 guest_up pinned
gr=$(guest_root_dep pinned)
v=$(in_guest pinned cat /usr/share/ostree-guests-test/version 2>&1)
verdict "a guest pinned with deployment = \"${pold:0:12}\" stays on its pin" \
	"first of stateroot now $(status_dep pinned) (new ${pnew:0:12}), start rc=$rc, dry-run $(dry_dep pinned), guest / …/$gr, version file: '$v'" \
	test "$gr" = "$pold" -a "${pold%.*}" != "$pnew" -a -n "$pnew" -a "$(status_dep pinned)" != "$pold"
timeout "$(tmo 60)" systemctl stop "$(unit upg)" "$(unit pinned)"

fi
# ---- 5. invalid config: fail-closed, no restart loop --------------------------------------------
if want 5; then
scenario 5 "invalid config"
printf 'autostart = false\ncolour = "red"\n' >"$CONF/broken.toml"
tr=$EPOCHREALTIME
systemctl daemon-reload
genmsg=$(journal_since "$tr" short | grep -i 'ostree-guests-generator' | oneline)
info "generator messages on this daemon-reload: ${genmsg:-none in the journal}"
timeout "$(tmo 60)" systemctl start "$(unit broken)" 2>/dev/null; rc=$?
sleep 4 # > RestartSec=3s: a restart loop would show by now
stt=$(systemctl status --no-pager -n 20 "$(unit broken)" 2>&1)
msg=$(grep -o '/etc/ostree-guests.d/broken.toml:[0-9]*:.*' <<<"$stt" | head -1)
verdict "systemctl status shows the config error with file:line" "${msg:-$(tail -3 <<<"$stt" | oneline)}" test -n "$msg"
r="start rc=$rc, NRestarts=$(prop broken NRestarts), Result=$(prop broken Result), status=$(prop broken ExecMainStatus), state=$(prop broken ActiveState)"
verdict "invalid guest fails with exit 78 and does not restart" "$r" \
	test "$(prop broken NRestarts)" = 0 -a "$(prop broken Result)" = exit-code -a "$(prop broken ExecMainStatus)" = 78
verdict "the other guests keep running" "auto1 $(systemctl is-active "$(unit auto1)"), fresh $(systemctl is-active "$(unit fresh)")" \
	sh -c "systemctl -q is-active $(unit auto1) && systemctl -q is-active $(unit fresh)"
rm -f "$CONF/broken.toml"; systemctl daemon-reload; systemctl reset-failed "$(unit broken)" 2>/dev/null

# A guest of the booted host's own stateroot would share its /var: the start path refuses it, by
# the running root's inode (this container's kernel command line names no ostree= deployment).
printf 'autostart = false\nstateroot = "host"\n[network]\nmode = "none"\n' >"$CONF/selfish.toml"
systemctl daemon-reload
timeout "$(tmo 60)" systemctl start "$(unit selfish)" 2>/dev/null; rc=$?
sleep 4 # > RestartSec
stt=$(systemctl status --no-pager -n 20 "$(unit selfish)" 2>&1)
msg=$(grep -o 'selfish: stateroot "host" is the one the host is booted from.*' <<<"$stt" | head -1 | cut -c1-160)
verdict "a guest of the host's own stateroot is refused with the reason" "${msg:-$(tail -3 <<<"$stt" | oneline)}" test -n "$msg"
r="start rc=$rc, status=$(prop selfish ExecMainStatus), NRestarts=$(prop selfish NRestarts), Result=$(prop selfish Result)"
refused_for_good() { test "$(prop "$1" ExecMainStatus)" = "$2" -a "$(prop "$1" NRestarts)" = 0 && not_registered "$1"; }
verdict "exit 82, no restart, never registered" "$r, registered: $(registered selfish && echo yes || echo no)" \
	refused_for_good selfish 82
rm -f "$CONF/selfish.toml"; systemctl daemon-reload; systemctl reset-failed "$(unit selfish)" 2>/dev/null

fi
# ---- 6. kill -9, restart cycles, no stale registration --------------------------------------------
if want 6; then
scenario 6 "kill -9 and stop/start cycles"
t6=$EPOCHREALTIME
n0=$(prop auto1 NRestarts); m0=$(prop auto1 MainPID)
kill -9 "$m0"
t=$EPOCHREALTIME
wait_for 120 sh -c "[ \"\$(systemctl show -p NRestarts --value $(unit auto1))\" -gt $n0 ]"
wait_for 60 guest_up auto1
restarted_and_answers() { [ "$(prop auto1 NRestarts)" -gt "$n0" ] && [ "$(prop auto1 MainPID)" != "$m0" ] && [ "$(prop auto1 MainPID)" != 0 ] && guest_up auto1; }
verdict "kill -9 of auto1's nspawn (MainPID $m0): the service restarts and the guest is back (it answers)" \
	"NRestarts $n0 -> $(prop auto1 NRestarts), MainPID now $(prop auto1 MainPID), back after $(elapsed_since "$t")s" \
	restarted_and_answers
guest_up auto1 || info "auto1 after kill: $(systemctl status --no-pager -n 15 "$(unit auto1)" | oneline)"
# 20 immediate start/stop pairs, as a script or an impatient admin does them. `systemctl start`
# returns when nspawn says READY=1; with nspawn's default --notify-ready=no that is as soon as the
# guest's init is exec'd, before it handles SIGRTMIN+3 (halt), so a stop right then can be lost and
# sit in stop-sigterm until TimeoutStopSec (90 s). Each stop gets 5 s; a hung one is recorded,
# SIGKILLed, and the cycles go on.
hung=() startf=0 t=$EPOCHREALTIME
for i in $(seq 1 20); do
	timeout "$(tmo 60)" systemctl start "$(unit off1)" || startf=$((startf + 1))
	ts=$EPOCHREALTIME
	if ! timeout "$(tmo 5)" systemctl stop "$(unit off1)"; then
		hung+=("cycle $i: stop not done after $(elapsed_since "$ts")s, unit $(prop off1 SubState), guest $(in_guest off1 systemctl is-system-running 2>&1)")
		systemctl kill -s KILL "$(unit off1)"
		wait_for 30 sh -c "! systemctl -q is-active $(unit off1)"
		systemctl reset-failed "$(unit off1)" 2>/dev/null
	fi
done
verdict "20 consecutive systemctl start/stop cycles of off1" "$startf failed starts, ${#hung[@]} hung stops${hung:+: ${hung[*]}}; $(elapsed_since "$t")s" \
	test $startf = 0 -a ${#hung[@]} = 0
ae=$(journal_since "$t6" | grep -iE 'machine.*already exists' | oneline)
verdict "no \"Machine already exists\" in the journal (kill -9 and cycles)" "${ae:-none}; helper: $(journal_since "$t6" | grep -c 'cleared a stale machine registration') stale registrations cleared" test -z "$ae"
verdict "after systemctl stop no machine stays registered" "machines: $(machinectl list --no-legend | awk '{print $1}' | oneline)" not_registered off1

fi
# ---- 7. deployment directory garbage-collected under a stopped guest -----------------------------
if want 7; then
scenario 7 "deployment gone"
gd=$(status_dep gone)
# Moved aside and put back afterwards: while a boot entry names a missing directory, every
# `ostree admin` command refuses to load the sysroot, and later scenarios need it.
out=$(unshare -m sh -c 'mount -o remount,bind,rw /sysroot && chattr -i "$1" && mv "$1" "$1.t3a-aside" && echo moved aside' sh \
	"/sysroot/ostree/deploy/gone/deploy/$gd" 2>&1)
verdict "gone's deployment $gd vanished (moved aside, as if garbage-collected)" "$out" test ! -e "/sysroot/ostree/deploy/gone/deploy/$gd"
timeout "$(tmo 60)" systemctl start "$(unit gone)" 2>/dev/null; rc=$?
sleep 4
stt=$(systemctl status --no-pager -n 20 "$(unit gone)" 2>&1)
msg=$(grep -i 'gone:.*\(missing\|gone\|not exist\|no such\)' <<<"$stt" | grep -v 'systemd\[1\]' | head -1 | sed 's/^.*\]: //')
verdict "starting it fails with our deployment-missing message" "${msg:-$(tail -4 <<<"$stt" | oneline)}" test -n "$msg"
verdict "exit 81, no restart, no crash" "start rc=$rc, ExecMainStatus=$(prop gone ExecMainStatus), Result=$(prop gone Result), NRestarts=$(prop gone NRestarts)" \
	test "$(prop gone ExecMainStatus)" = 81 -a "$(prop gone NRestarts)" = 0 -a "$(prop gone Result)" = exit-code
systemctl reset-failed "$(unit gone)" 2>/dev/null
unshare -m sh -c 'mount -o remount,bind,rw /sysroot && mv "$1.t3a-aside" "$1" && chattr +i "$1"' sh "/sysroot/ostree/deploy/gone/deploy/$gd"
verdict "ostree admin status works again once it is back" "$(ostree admin status 2>&1 | head -1)" ostree admin status

fi
# ---- 8. the guest's journal from the host; machinectl poweroff --------------------------------------
if want 8; then
scenario 8 "journal and poweroff"
jl=$(journalctl -M fresh --no-pager -b -n 200 2>&1)
verdict "journalctl -M fresh shows the guest's journal" "$(wc -l <<<"$jl") lines, e.g. '$(grep -m1 -E 'Reached target|Startup finished' <<<"$jl" | cut -c1-120)'" \
	grep -qE 'Reached target|Startup finished' <<<"$jl"
n0=$(prop fresh NRestarts)
t=$EPOCHREALTIME
machinectl poweroff fresh; rc=$?
wait_for 60 sh -c "! systemctl -q is-active $(unit fresh)"
sleep 4 # > RestartSec: Restart=on-failure must not bring it back
verdict "machinectl poweroff stops the guest cleanly, no restart" \
	"rc=$rc, $(elapsed_since "$t")s, ActiveState=$(prop fresh ActiveState), Result=$(prop fresh Result), ExecMainStatus=$(prop fresh ExecMainStatus), NRestarts $n0 -> $(prop fresh NRestarts), registered: $(registered fresh && echo yes || echo no)" \
	test "$(prop fresh ActiveState)" = inactive -a "$(prop fresh Result)" = success -a "$(prop fresh NRestarts)" = "$n0" -a "$(registered fresh && echo y)" = ""

fi
# ---- 9. admin overrides win -------------------------------------------------------------------------
if want 9; then
scenario 9 "admin overrides"
ours=$(prop off1 RestartUSec)
mkdir -p /etc/systemd/system/systemd-nspawn@off1.service.d
printf '[Service]\nRestartSec=7s\n' >/etc/systemd/system/systemd-nspawn@off1.service.d/override.conf
systemctl daemon-reload
verdict "override.conf RestartSec=7s wins over our drop-in" "RestartUSec $ours -> $(prop off1 RestartUSec); DropInPaths $(prop off1 DropInPaths)" \
	test "$(prop off1 RestartUSec)" = 7s
# the guest's own /etc/hostname would win over nspawn's hostname (systemd sets the static hostname
# at boot), so the guest drops it first: then the kernel hostname nspawn sets is what the guest keeps
timeout "$(tmo 60)" systemctl start "$(unit off1)"; wait_for 30 guest_up off1
h0=$(in_guest off1 hostname)
in_guest off1 rm -f /etc/hostname
mkdir -p /etc/systemd/nspawn
printf '[Exec]\nHostname=othername\n' >/etc/systemd/nspawn/off1.nspawn
systemctl daemon-reload
timeout "$(tmo 60)" systemctl restart "$(unit off1)"; wait_for 30 guest_up off1
h1=$(in_guest off1 hostname)
verdict "/etc/systemd/nspawn/off1.nspawn Hostname=othername takes effect" "hostname before '$h0', after '$h1'" test "$h1" = othername
timeout "$(tmo 60)" systemctl stop "$(unit off1)"

fi
# ---- 10. networking: bridge (declared after boot), veth + port, zone, host, none -------------------
if want 10; then
scenario 10 "networking"
# Connectivity is proven with TCP (the images carry no ping): a one-shot listener on one side
# (systemd-socket-activate, in every systemd) and bash's /dev/tcp on the other.
LISTENERS=()
listen() { setsid systemd-socket-activate -l "$1" --inetd -a /bin/echo pong </dev/null >/dev/null 2>&1 & LISTENERS+=($!); }
# systemctl VERB on several guests at once; waits for those jobs only (listeners run on).
units_parallel() {
	local verb=$1 g pids=()
	shift
	for g in "$@"; do systemctl "$verb" "$(unit "$g")" & pids+=($!); done
	wait "${pids[@]}"
}
connect() { timeout "$(tmo 5)" bash -c 'exec 3<>"/dev/tcp/$0/$1" && head -n1 <&3' "$1" "$2" 2>/dev/null; }
systemctl start systemd-networkd.service
wait_for 10 systemctl is-active --quiet systemd-networkd.service
cat >"$CONF/brt.bridge.toml" <<'EOF2'
# guests only: no uplink, a static address on the host side
addresses = ["10.77.0.1/24"]
EOF2
# The DHCP server for the bridged guest is the admin's own drop-in on our runtime file.
mkdir -p /etc/systemd/network/50-ostree-guests-brt.network.d
printf '[Network]\nDHCPServer=yes\n[DHCPServer]\nPoolOffset=100\nPoolSize=20\n' >/etc/systemd/network/50-ostree-guests-brt.network.d/dhcp.conf
printf '[network]\nmode = "bridge"\nbridge = "brt"\n' >"$CONF/netb.toml"
printf '[network]\nmode = "veth"\nports = ["tcp:8080:7000"]\n' >"$CONF/netv.toml"
printf '[network]\nmode = "zone"\nzone = "tz"\n' >"$CONF/netz.toml"
printf '[network]\nmode = "host"\n' >"$CONF/neth.toml"
printf '[network]\nmode = "none"\n' >"$CONF/netn.toml"
chmod 0644 "$CONF"/*.toml
systemctl daemon-reload
verdict "a bridged guest pulls in ostree-guests-network.service" \
	"$(ls /run/systemd/generator/sysinit.target.wants/ 2>&1 | oneline)" \
	test -L /run/systemd/generator/sysinit.target.wants/ostree-guests-network.service
systemctl restart ostree-guests-network.service
verdict "the network unit wrote the bridge for systemd-networkd into /run" \
	"$(ls /run/systemd/network/ 2>&1 | oneline); $(systemctl show -p Result --value ostree-guests-network.service)" \
	test -e /run/systemd/network/50-ostree-guests-brt.netdev
verdict "nothing was written to /etc/systemd/network but the admin's drop-in" \
	"$(find /etc/systemd/network -type f | oneline)" \
	test "$(find /etc/systemd/network -type f | wc -l)" = 1
wait_for 15 ip link show brt
verdict "networkd created the bridge with its address" "$(ip -4 -o addr show brt 2>&1 | oneline)" \
	sh -c 'ip -4 -o addr show brt | grep -q "10.77.0.1/24"'
units_parallel start netb netv netz neth netn
for g in netb netv netz neth netn; do wait_for 60 guest_up "$g"; done
await 30 "the bridged guest netb has an IPv4 address" has_v4 netb
ipb=$(guest_v4 netb)
verdict "the bridged guest got a DHCP lease from the bridge" "host0 ${ipb:-none}" \
	sh -c 'case "$1" in 10.77.0.1[0-9][0-9]) ;; *) exit 1 ;; esac' sh "$ipb"
in_guest netb setsid systemd-socket-activate -l 7001 --inetd -a /bin/echo pong </dev/null >/dev/null 2>&1 &
LISTENERS+=($!)
sleep 0.5
out=$(connect "$ipb" 7001)
verdict "the host reaches the bridged guest" "tcp $ipb:7001 answered '${out:-nothing}'" test "$out" = pong
await 30 "the veth guest netv has an IPv4 address" has_v4 netv
ipv=$(guest_v4 netv)
gw=$(in_guest netv ip -4 route show default 2>/dev/null | awk '{print $3; exit}')
listen "0.0.0.0:7002"
sleep 0.5
out=$(in_guest netv timeout "$(tmo 5)" bash -c 'exec 3<>"/dev/tcp/$0/7002" && head -n1 <&3' "$gw" 2>&1)
verdict "a veth guest reaches the host" "guest ${ipv:-none} -> gateway ${gw:-none}:7002 answered '${out:-nothing}'" test "$out" = pong
in_guest netv setsid systemd-socket-activate -l 7000 --inetd -a /bin/echo pong </dev/null >/dev/null 2>&1 &
LISTENERS+=($!)
sleep 0.5
hostip=$(ip -4 -o addr show dev ve-netv 2>/dev/null | awk '{sub("/.*", "", $4); print $4; exit}')
out=$(connect "$hostip" 8080)
verdict "the port forward tcp:8080:7000 reaches the veth guest" "tcp $hostip:8080 answered '${out:-nothing}'" test "$out" = pong
await 30 "the zone guest netz has an IPv4 address" has_v4 netz
verdict "a zone guest works under networkd (vz-tz, DHCP lease)" \
	"$(ip -o link show vz-tz 2>&1 | awk '{print $2}' | oneline) guest $(guest_v4 netz)" \
	sh -c 'ip link show vz-tz >/dev/null && [ -n "$1" ]' sh "$(guest_v4 netz)"
verdict "a host-network guest sees the host's interfaces" "$(in_guest neth ip -o link 2>&1 | awk '{print $2}' | oneline)" \
	sh -c 'in_guest() { nsenter -t "$(machinectl show -p Leader --value neth)" -a -- "$@"; }; in_guest ip -o link | grep -q " brt:"'
verdict "a none guest has only lo" "$(in_guest netn ip -o link 2>&1 | awk '{print $2}' | oneline)" \
	sh -c '[ "$(nsenter -t "$(machinectl show -p Leader --value netn)" -a -- ip -o link | wc -l)" = 1 ]'
kill "${LISTENERS[@]}" 2>/dev/null
kill_listeners
units_parallel stop netb netv netz neth netn
rm -f "$CONF/brt.bridge.toml" "$CONF/netb.toml"
systemctl daemon-reload
systemctl restart ostree-guests-network.service
verdict "a bridge no longer declared loses its runtime files" "$(ls /run/systemd/network/ 2>&1 | oneline)" \
	test ! -e /run/systemd/network/50-ostree-guests-brt.netdev

fi
# ---- 11. the admin CLI on the booted host ------------------------------------------------------------
if want 11; then
scenario 11 "ostree-guests CLI"
CLI=/usr/bin/ostree-guests
src_ref=$(ostree refs | grep '^netn/' | head -1)
out=$("$CLI" create cliguest --ref "$src_ref" --network none 2>&1)
rc=$?
verdict "ostree-guests create cliguest --ref $src_ref" "rc=$rc: $(echo "$out" | tail -3 | oneline)" test "$rc" = 0
verdict "the host stays the default and booted after create" "$(ostree admin status | head -1)" \
	sh -c 'ostree admin status | head -1 | grep -q "^\* host "'
systemctl daemon-reload
timeout "$(tmo 60)" systemctl start "$(unit cliguest)"
wait_for 30 guest_up cliguest
verdict "daemon-reload + start boots the created guest" "$(systemctl is-active "$(unit cliguest)")" guest_up cliguest
list=$("$CLI" list --json 2>&1)
verdict "list --json reports it running" "$(echo "$list" | oneline | cut -c1-200)" \
	sh -c 'echo "$1" | tr -d "\n" | grep -q "\"name\": *\"cliguest\"[^}]*\"activeState\": *\"active\""' sh "$list"
st=$("$CLI" status cliguest --json 2>&1)
dd=$(dry_dep cliguest)
# an empty deployment (the dry run printed none) would match anything
verdict "status --json reports the unit and the deployment" "dry-run deployment '${dd:-none}'; $(echo "$st" | oneline | cut -c1-200)" \
	sh -c '[ -n "$2" ] && echo "$1" | grep -q "\"activeState\": *\"active\"" && echo "$1" | grep -qF "$2"' sh "$st" "$dd"
cli_commit() { # cli_commit N: a new commit on the guest's ref whose marker says cliguest-vN
	local dir
	dir=$(mktemp -d /tmp/t3a-cli.XXXXXX)
	chmod 0755 "$dir"
	mkdir -p "$dir/usr/share/ostree-guests-test" && echo "cliguest-v$1" >"$dir/usr/share/ostree-guests-test/version"
	ostree commit --repo=/ostree/repo -b "$src_ref" --tree=ref="$src_ref" --tree=dir="$dir" --add-metadata-string=version="cli-$1" >/dev/null
	rm -rf "$dir"
}
guest_version() { in_guest cliguest cat /usr/share/ostree-guests-test/version 2>/dev/null; }
before=$(dry_dep cliguest)
cli_commit 2
out=$("$CLI" upgrade cliguest 2>&1)
rc=$?
wait_for 30 guest_up cliguest
after=$(dry_dep cliguest)
verdict "upgrade deploys the new commit and restarts the guest on it" \
	"rc=$rc $before -> $after, guest sees '$(in_guest cliguest cat /usr/share/ostree-guests-test/version 2>&1)'; $(echo "$out" | tail -2 | oneline)" \
	sh -c '[ "$1" = 0 ] && [ "$2" != "$3" ] && [ "$(nsenter -t "$(machinectl show -p Leader --value cliguest)" -a -- cat /usr/share/ostree-guests-test/version)" = cliguest-v2 ]' sh "$rc" "$before" "$after"
verdict "the host stays the default and booted after upgrade" "$(ostree admin status | head -1)" \
	sh -c 'ostree admin status | head -1 | grep -q "^\* host "'
for v in 3 4; do
	cli_commit "$v"
	"$CLI" upgrade cliguest >/dev/null 2>&1
	wait_for 30 sh -c '[ "$(nsenter -t "$(machinectl show -p Leader --value cliguest)" -a -- cat /usr/share/ostree-guests-test/version 2>/dev/null)" = "$0" ]' "cliguest-v$v"
done
n=$(ostree admin status | grep -c " cliguest ")
verdict "after three upgrades the guest runs the newest, with at most 2 deployments kept" \
	"guest sees '$(guest_version)', $n deployments; first entry $(ostree admin status | head -1 | cut -c1-20)" \
	sh -c '[ "$1" = cliguest-v4 ] && [ "$2" -le 2 ] && ostree admin status | head -1 | grep -q "^\* host "' sh "$(guest_version)" "$n"
out=$("$CLI" rollback cliguest 2>&1)
rc=$?
wait_for 30 sh -c '[ "$(nsenter -t "$(machinectl show -p Leader --value cliguest)" -a -- cat /usr/share/ostree-guests-test/version 2>/dev/null)" = cliguest-v3 ]'
verdict "rollback returns the running guest to the previous deployment" \
	"rc=$rc, guest sees '$(guest_version)'; $(echo "$out" | tail -2 | oneline)" \
	sh -c '[ "$1" = 0 ] && [ "$2" = cliguest-v3 ] && ostree admin status | head -1 | grep -q "^\* host "' sh "$rc" "$(guest_version)"
out=$("$CLI" remove cliguest --purge --yes 2>&1)
rc=$?
verdict "remove --purge leaves no unit, no deployment, no config" \
	"rc=$rc; drop-in $(ls /run/systemd/generator/systemd-nspawn@cliguest.service.d 2>&1 | oneline); status $(ostree admin status | grep -c ' cliguest ') deployments; $(ls $CONF/cliguest.toml /ostree/deploy/cliguest 2>&1 | oneline)" \
	sh -c '[ "$1" = 0 ] && [ ! -e /run/systemd/generator/systemd-nspawn@cliguest.service.d ] && ! ostree admin status | grep -q " cliguest " && [ ! -e '"$CONF"'/cliguest.toml ] && [ ! -e /ostree/deploy/cliguest ] && ! systemctl is-active --quiet "systemd-nspawn@cliguest.service"' sh "$rc"

fi
# ---- 12. limits and faults: resources, reloads, cleanup, host upgrade, /var kept ------------------------
if want 12; then
scenario 12 "limits and faults"
printf '[network]\nmode = "none"\n[resources]\nmemory-max = "512M"\ntasks-max = 200\ncpu-quota = "50%%"\nio-weight = 50\n' >"$CONF/netn.toml"
chmod 0644 "$CONF/netn.toml"
systemctl daemon-reload
props=$(systemctl show -p MemoryMax -p TasksMax -p CPUQuotaPerSecUSec -p IOWeight "$(unit netn)" | oneline)
verdict "resource limits appear in systemctl show" "$props" \
	sh -c 'for want in MemoryMax=536870912 TasksMax=200 CPUQuotaPerSecUSec=500ms IOWeight=50; do echo "$1" | grep -q "$want" || exit 1; done' sh "$props"
is_active auto1 || { timeout "$(tmo 60)" systemctl start "$(unit auto1)"; wait_for 30 guest_up auto1; }
pid=$(prop auto1 MainPID) nr=$(prop auto1 NRestarts)
for _ in $(seq 50); do systemctl daemon-reload; done
verdict "50 daemon-reloads leave a running guest undisturbed" "MainPID $pid -> $(prop auto1 MainPID), NRestarts $nr -> $(prop auto1 NRestarts)" \
	sh -c '[ "$1" = "$(systemctl show -p MainPID --value systemd-nspawn@auto1.service)" ] && [ "$2" = "$(systemctl show -p NRestarts --value systemd-nspawn@auto1.service)" ]' sh "$pid" "$nr"
verdict "...and it still answers" "$(systemctl is-active "$(unit auto1)")" guest_up auto1
a1=$(dry_dep auto1)
out=$(ostree admin cleanup 2>&1)
verdict "ostree admin cleanup while a guest runs keeps its deployment" "$(echo "$out" | oneline); $a1 still there: $(ls -d /ostree/deploy/auto1/deploy/"$a1" 2>&1)" \
	sh -c 'test -d "/ostree/deploy/auto1/deploy/$1"' sh "$a1"
verdict "...and the guest runs on" "$(systemctl is-active "$(unit auto1)")" guest_up auto1
host_ref=$(ostree refs | grep '^host/' | head -1)
out=$(ostree admin deploy --os=host "$host_ref" 2>&1)
rc=$?
verdict "a host deploy (upgrade) with guests installed makes only the host's new deployment the default" \
	"rc=$rc; first entry $(ostree admin status | sed -n 1p | oneline); $(echo "$out" | tail -1)" \
	sh -c '[ "$1" = 0 ] && ostree admin status | sed -n 1p | grep -q "^  host "' sh "$rc"
verdict "...guest deployments are kept" "$(ostree admin status | awk '$1 !~ /^(Version|origin|Pinned)/ {print $1 == "*" ? $2 : $1}' | sort | uniq -c | oneline)" \
	sh -c 'for g in auto1 fresh upg pinned; do ostree admin status | grep -q " $g " || exit 1; done'
timeout "$(tmo 60)" systemctl restart "$(unit fresh)"
wait_for 30 guest_up fresh
verdict "...and guests still boot after it" "$(systemctl is-active "$(unit fresh)")" guest_up fresh
verdict "a guest's /var keeps its data through all of it" "$(in_guest fresh sh -c 'ls /var/t3a-* 2>&1' | oneline)" \
	sh -c 'nsenter -t "$(machinectl show -p Leader --value fresh)" -a -- sh -c "ls /var/t3a-*" >/dev/null'

fi
# ---- 13. cgroup v2 in the guest: delegated controllers, MemoryMax enforced (VM tier) ----------------
if want 13; then
scenario 13 "cgroup controllers and MemoryMax"
# the [resources] of scenario 12, written again so that this scenario also runs on its own
printf '[network]\nmode = "none"\n[resources]\nmemory-max = "512M"\ntasks-max = 200\ncpu-quota = "50%%"\nio-weight = 50\n' >"$CONF/netn.toml"
chmod 0644 "$CONF/netn.toml"
systemctl daemon-reload
verdict "the drop-in keeps a guest running when the kernel OOM-kills one of its processes" \
	"$(systemctl show -p OOMPolicy "$(unit netn)")" test "$(prop netn OOMPolicy)" = continue
timeout "$(tmo 60)" systemctl start "$(unit netn)"
wait_for 60 guest_up netn
cg=$(prop netn ControlGroup)
verdict "the host runs the unified cgroup hierarchy with the memory controller" "$(cat /sys/fs/cgroup/cgroup.controllers 2>&1)" \
	grep -qw memory /sys/fs/cgroup/cgroup.controllers
verdict "memory.max of the guest's unit cgroup is MemoryMax" "$cg: $(cat "/sys/fs/cgroup$cg/memory.max" 2>&1)" \
	test "$(cat "/sys/fs/cgroup$cg/memory.max" 2>/dev/null)" = 536870912
verdict "pids.max and cpu.max follow TasksMax and CPUQuota" "$(cat "/sys/fs/cgroup$cg/pids.max" "/sys/fs/cgroup$cg/cpu.max" 2>&1 | oneline)" \
	sh -c '[ "$(cat "$1/pids.max")" = 200 ] && [ "$(cat "$1/cpu.max")" = "50000 100000" ]' sh "/sys/fs/cgroup$cg"
inner=$(timeout "$(tmo 20)" machinectl -q shell netn /bin/cat /sys/fs/cgroup/cgroup.controllers </dev/null 2>&1 | tr -d '\r')
verdict "the guest's systemd gets the controllers delegated" "guest sees: $inner" \
	sh -c 'for c in memory pids; do echo "$1" | grep -qw $c || exit 1; done' sh "$inner"
sub=$(timeout "$(tmo 20)" machinectl -q shell netn /bin/sh -c 'cat /sys/fs/cgroup/system.slice/cgroup.controllers' </dev/null 2>&1 | tr -d '\r')
verdict "...and passes them on to its own child cgroups" "guest system.slice: $sub" \
	sh -c 'echo "$1" | grep -qw memory' sh "$sub"
ooms=$(awk '$1 == "oom_kill" {print $2}' "/sys/fs/cgroup$cg/memory.events")
pid=$(prop netn MainPID) nr=$(prop netn NRestarts)
small=$(timeout "$(tmo 60)" machinectl -q shell netn /bin/sh -c 'dd if=/dev/zero of=/dev/null bs=100M count=1 2>/dev/null; echo rc=$?' </dev/null 2>&1 | tr -d '\r')
verdict "a 100 MiB buffer fits under MemoryMax=512M" "$small" grep -q 'rc=0' <<<"$small"
# dd's one buffer, filled from /dev/zero, is resident at once: 800 MiB > 512 MiB, no swap in the VM
big=$(timeout "$(tmo 120)" machinectl -q shell netn /bin/sh -c 'dd if=/dev/zero of=/dev/null bs=800M count=1 2>/dev/null; echo rc=$?' </dev/null 2>&1 | tr -d '\r')
# The shell may report dd's rc=137, or print nothing: the guest's own systemd can stop the whole
# transient shell unit on the OOM kill before the shell echoes. Either way the kernel counted an
# OOM kill in the guest's cgroup and dd did not complete.
verdict "an 800 MiB buffer is OOM-killed inside the guest's cgroup" \
	"${big:-no output, the shell unit stopped}; oom_kill $ooms -> $(awk '$1 == "oom_kill" {print $2}' "/sys/fs/cgroup$cg/memory.events")" \
	sh -c '! echo "$1" | grep -q "rc=0" && [ "$(awk '"'"'$1 == "oom_kill" {print $2}'"'"' "$2/memory.events")" -gt "$3" ]' sh "$big" "/sys/fs/cgroup$cg" "$ooms"
# The guest's own systemd keeps the OOM-killed shell's transient unit (container-shell@N) as
# failed, and machined's next `machinectl shell` may pick the same name ("already loaded"):
# the admin's remedy is the guest's reset-failed.
systemctl -M netn reset-failed 2>/dev/null
wait_for 30 guest_up netn ||
	info "after the OOM kill: machinectl shell says '$(timeout 20 machinectl -q shell netn /bin/true </dev/null 2>&1 | oneline)'; guest journal: $(journalctl -M netn -n 15 --no-pager -o cat 2>&1 | oneline)"
verdict "...and the guest lives on: same nspawn, no restart, it answers" \
	"$(systemctl is-active "$(unit netn)"), MainPID $pid -> $(prop netn MainPID), NRestarts $nr -> $(prop netn NRestarts)" \
	sh -c '[ "$1" = "$(systemctl show -p MainPID --value systemd-nspawn@netn.service)" ] && [ "$2" = "$(systemctl show -p NRestarts --value systemd-nspawn@netn.service)" ] && timeout 30 machinectl -q shell netn /bin/true </dev/null >/dev/null 2>&1' sh "$pid" "$nr"
timeout "$(tmo 60)" systemctl stop "$(unit netn)"
fi
# ---- 14. NetworkManager host: bridge from our keyfile, bridged lease, veth to host (VM tier) -----------
if want 14; then
scenario 14 "NetworkManager"
# shellcheck source=tests/system/scenario-nm.sh
. /var/mnt/share/scenario-nm.sh
fi
# ---- 18. the real /run/ostree-booted against libostree and our detection (VM tier) ---------------
if want 18; then
scenario 18 "booted marker"
# shellcheck source=tests/system/scenario-marker.sh
. /var/mnt/share/scenario-marker.sh
fi
# ---- 15. the README's first guest from a signed HTTP remote; 16. restart to apply ------------------
# shellcheck source=tests/system/scenario-remote.sh
[ -r /var/mnt/share/scenario-remote.sh ] && . /var/mnt/share/scenario-remote.sh
# ---- 17. a guest from a container image ---------------------------------------------------------
# shellcheck source=tests/system/scenario-image.sh
[ -r /var/mnt/share/scenario-image.sh ] && . /var/mnt/share/scenario-image.sh
scenario end ""
info "done"
printf '%d passed, %d failed\n' "$N_PASS" "$N_FAIL"
[ "$N_FAIL" = 0 ]
