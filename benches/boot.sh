#!/bin/bash
# The guest boot benchmark (issue 15): what the user-namespaced default costs at start. Time from
# `systemctl start` to the guest's multi-user.target, for one guest deployment booted
#
#   idmap        by our unit and helper, the default (user namespace, idmapped mounts)
#   privileged   by our unit and helper with security.private-users = "no"
#   plain        by plain systemd-nspawn in the stock template unit, no helper, privileged
#   plain-idmap  the same with nspawn's own user namespace and idmapped mounts
#
# interleaved round by round, on the T3a host: tests/system/t3a.sh boots the OSTree host with
# systemd as PID 1 in a container and runs benches/boot-in-host.sh in it instead of the
# scenarios (see that file for what exactly runs and is recorded). Medians and ratios from the
# one run go to OUT-DIR/results.md (also printed), the raw table to OUT-DIR/boot-raw.tsv.
#
# Usage (root):  make build && benches/boot.sh [OUT-DIR]      (default target/bench-boot)
# On a machine shared with other boot tests, hold their lock for the run (after building):
#   flock /var/tmp/ostree-guests-systest.lock benches/boot.sh
# Env: ROUNDS (default 15; a boot takes about half a second here) measured rounds after one
#      warm-up round; VARIANTS (default
#      "idmap privileged plain plain-idmap"); T3A_WORKDIR (default /dev/shm/ostree-guests-bench-boot),
#      TARGETDIR (the Makefile's, for a CARGO_TARGET_DIR elsewhere) and the rest as for t3a.sh.
# Not part of CI: boot times on a shared machine are noisy; compare ratios from one run.
set -euo pipefail
repo=$(dirname "$(realpath "$0")")/..
cd "$repo"
repo=$PWD
# shellcheck source=tests/lib/common.sh
source tests/lib/common.sh
need_root
ensure_packages python3

out=$(realpath -m "${1:-target/bench-boot}")
rounds=${ROUNDS:-15}
variants=${VARIANTS:-idmap privileged plain plain-idmap}
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive number: $rounds"
export T3A_WORKDIR=${T3A_WORKDIR:-/dev/shm/ostree-guests-bench-boot}
# a few seconds a boot; the default leaves room for a loaded machine
export T3A_TIMEOUT=${T3A_TIMEOUT:-$((300 + rounds * 120))}
mkdir -p "$out"
rm -f "$out/boot-raw.tsv" "$out/machine.txt" "$out/results.md"

# t3a.sh copies one script onto the host's share: the settings go in front of it
script=$(mktemp /tmp/ostree-guests-boot-bench.XXXXXX)
trap 'rm -f "$script"' EXIT
{
	echo '#!/bin/bash'
	printf 'ROUNDS=%q\nVARIANTS=%q\n' "$rounds" "$variants"
	tail -n +2 benches/boot-in-host.sh
} >"$script"

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
log "boot benchmark: $rounds rounds of ($variants) on the T3a host in $T3A_WORKDIR; load $load_start"
rc=0
T3A_SCENARIOS=$script tests/system/t3a.sh || rc=$?
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
share=$T3A_WORKDIR/share
[ -s "$share/boot-raw.tsv" ] || die "no measurements on the share (t3a.sh exit $rc; console: $T3A_WORKDIR/console.log)"
cp "$share/boot-raw.tsv" "$out/boot-raw.tsv"
{
	cat "$share/boot-machine.txt"
	echo "date=$(date -u '+%F %H:%M UTC')"
	echo "kernel=$(uname -r)"
	echo "cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(nproc) cores"
	echo "memory=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
	echo "outer_load_start=$load_start"
	echo "outer_load_end=$load_end"
	echo "commit=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)"
	echo "checks=$(tail -n 1 "$share/scenarios.log")"
} >"$out/machine.txt"
benches/boot-report.py "$out" >"$out/results.md"
cat "$out/results.md"
log "results: $out/results.md (raw: $out/boot-raw.tsv; in-host log: $share/scenarios.log)"
[ $rc = 0 ] || die "t3a.sh exit $rc: a check in the host failed (see above); numbers reported anyway"
