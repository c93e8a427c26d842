#!/bin/bash
# Benchmark: the start helper's whole-process deployment resolution (`ostree-guest-start
# --dry-run`) against what the hand-made recipe runs on every start
# (`ostree admin status | sed …`), on the same real sysroots with 2 and 8 deployments, with
# /bin/true as the floor. hyperfine -N (no intermediate shell for our binary and /bin/true).
#
# Usage (root): benches/resolve.sh [RESULTS.md]      (default: target/bench/resolve.md)
# Not part of CI: timings on shared machines are noisy; compare medians and ratios of one run.
set -euo pipefail
repo=$(dirname "$(realpath "$0")")/..
cd "$repo"
# shellcheck source=tests/lib/common.sh
source tests/lib/common.sh
# shellcheck source=tests/lib/mk-sysroot.sh
source tests/lib/mk-sysroot.sh
need_root
ensure_packages ostree hyperfine debootstrap e2fsprogs
out=${1:-target/bench/resolve.md}
mkdir -p "$(dirname "$out")"
cargo build --release --locked -q -p ostree-guests-helpers
helper=$PWD/target/release/ostree-guest-start
work=$(mktemp -d /dev/shm/ostree-guests-bench.XXXXXX)
trap 'for s in "$work"/s*; do remove_tree "$s"; done; remove_tree "$work"' EXIT

{
	echo "# Deployment resolution: ostree-guest-start --dry-run vs ostree admin status | sed"
	echo
	echo "$(date -u +%F), $(nproc) cores, $(ostree --version | sed -n 's/^ Version: //p' | head -1 | sed 's/^/ostree /'), tmpfs sysroot"
} >"$out"

for n in 2 8; do
	# n deployments: the default "host" plus n-1 guest stateroots; the benchmark resolves g1.
	guests=()
	for ((i = 1; i < n; i++)); do guests+=("g$i"); done
	mk_sysroot --with-host --dir "$work/s$n" "${guests[@]}" >/dev/null 2>&1
	mkdir -p "$work/root$n/etc/ostree-guests.d"
	echo 'stateroot = "g1"' >"$work/root$n/etc/ostree-guests.d/g1.toml"
	export OSTREE_GUESTS_ROOT=$work/root$n OSTREE_GUESTS_SYSROOT=$work/s$n OSTREE_GUESTS_BOOT=$work/s$n/boot
	ours=$("$helper" --dry-run g1 | sed -n 's/^deployment: //p')
	# The recipe's pipeline, as its ExecStart ran it (first "  g1 <csum>.<serial>" line).
	recipe="ostree admin status --sysroot=$work/s$n | sed -ne 's/. g1 \(\S*\)\( .*\)*\$/\1/; T; p; q'"
	theirs=$(sh -c "$recipe")
	[ "$ours" = "$theirs" ] || die "n=$n: helper resolved $ours, the recipe $theirs"
	log "n=$n deployments: both resolve g1 to $ours"
	{
		echo
		echo "## $n deployments"
		echo
	} >>"$out"
	hyperfine -N --warmup 20 --runs 300 --style basic --export-json "$work/t$n.json" \
		-n "ostree-guest-start --dry-run" "$helper --dry-run g1" \
		-n "ostree admin status | sed" "sh -c \"$recipe\"" \
		-n "/bin/true" "/bin/true" >"$work/h$n.txt"
	benches/medians.py "$work/t$n.json" "ostree admin status | sed" >>"$out"
done
cat "$out"
