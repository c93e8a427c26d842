#!/bin/bash
# How the start helper's cost grows with the number of configured guests (issue 18): it reads
# every guest's configuration to start one (the cross-guest checks need other guests' stateroot
# claims and bridge declarations). Times `ostree-guest-start --dry-run web` with N = 1, 20, 200
# guest files on the tests' one-deployment sysroot (helpers/tests/common/mod.rs), on tmpfs.
#
# Usage: benches/start-scale.sh [HELPER]   (default: builds and uses target/release's)
# Environment: RUNS (default 200). Prints hyperfine's medians and the ratio to N = 1.
# Not part of CI: timings on shared machines are noisy; compare ratios from one run.
set -euo pipefail
repo=$(dirname "$(realpath "$0")")/..
cd "$repo"
runs=${RUNS:-200}
command -v hyperfine >/dev/null || { echo "hyperfine is needed (apt-get install hyperfine)" >&2; exit 1; }
if [ $# -ge 1 ]; then
	helper=$(realpath "$1")
else
	cargo build --release --locked -q -p ostree-guests-helpers
	helper=${CARGO_TARGET_DIR:-$repo/target}/release/ostree-guest-start
fi
scratch=$(mktemp -d /dev/shm/ostree-guests-bench.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

# The layout libostree writes for one deployment of stateroot "web", as the golden tests build it.
csum=3a5c1f0e9b7d2c4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6
sysroot=$scratch/sysroot
mkdir -p "$sysroot/ostree/deploy/web/deploy/$csum.0" "$sysroot/ostree/deploy/web/var" \
	"$sysroot/ostree/repo/objects" "$sysroot/ostree/boot.1.1/web/b0075e" "$sysroot/boot/loader.1/entries"
ln -s "../../../deploy/web/deploy/$csum.0" "$sysroot/ostree/boot.1.1/web/b0075e/0"
ln -s boot.1.1 "$sysroot/ostree/boot.1"
printf 'title Web 1 (ostree:0)\nversion 1\noptions ostree=/ostree/boot.1/web/b0075e/0\n' \
	>"$sysroot/boot/loader.1/entries/ostree-1-web.conf"
ln -s loader.1 "$sysroot/boot/loader"

# N guest files: "web" and N-1 others, each on a stateroot of its own (two guests on one
# stateroot would be refused), with a description and a memory limit like the generator bench.
export OSTREE_GUESTS_SYSROOT=$sysroot OSTREE_GUESTS_BOOT=$sysroot/boot
for n in 1 20 200; do
	root=$scratch/root-$n
	mkdir -p "$root/etc/ostree-guests.d"
	chmod 755 "$root" "$root/etc" "$root/etc/ostree-guests.d"
	printf 'description = "web"\nresources.memory-max = "1G"\n' >"$root/etc/ostree-guests.d/web.toml"
	for ((i = 1; i < n; i++)); do
		printf 'description = "guest %d"\nstateroot = "s%d"\nresources.memory-max = "1G"\n' "$i" "$i" \
			>"$root/etc/ostree-guests.d/g$i.toml"
	done
	chmod 644 "$root"/etc/ostree-guests.d/*.toml
	# Every configuration must be valid, or the run would time an error path.
	OSTREE_GUESTS_ROOT=$root "$helper" --dry-run --no-register web >/dev/null
done
# One hyperfine per N, the root exported rather than set through env(1), whose own exec would
# add the same constant to every N and hide the growth.
for n in 1 20 200; do
	OSTREE_GUESTS_ROOT=$scratch/root-$n hyperfine -N --warmup 20 --runs "$runs" \
		--export-json "$scratch/n$n.json" -n "N=$n" "$helper --dry-run --no-register web" >&2
done
python3 - "$scratch"/n1.json "$scratch"/n20.json "$scratch"/n200.json <<'PY'
import json, statistics, sys
results = [json.load(open(f))["results"][0] for f in sys.argv[1:]]
base = statistics.median(results[0]["times"])
print("| guests | median | ÷ N=1 |")
print("|---|---|---|")
for r in results:
    m = statistics.median(r["times"])
    print(f"| {r['command'][2:]} | {m * 1000:.2f} ms | {m / base:.2f} |")
PY
