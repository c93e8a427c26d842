#!/bin/bash
# Is a shortcut for the usual guest's configuration worth having (issue 18)? The issue's bar:
# more than 10 % of the generator's time at N = 1. (The loader's single-file shortcut saved
# 0.05 % and was removed: docs/PERFORMANCE.md.) One run measures, on tmpfs:
#   - the generator's whole process at N = 1 (hyperfine -N, a fresh output directory per run,
#     the guest file of benches/run.sh), and the same for each GENERATOR given (another build,
#     e.g. one from before a change, timed in the same hyperfine group);
#   - in-process (`cargo bench -p ostree-guests --bench config_load`): the whole configuration
#     step at N = 1 (`config::load`) and the parse of the guest file alone;
# and prints the medians and each in-process median divided by the generator's: the parse is
# what a parse shortcut could save at most, the whole step what any shortcut could.
#
# Usage: benches/config-shortcut.sh [GENERATOR...]   (ours: built into the release profile)
# Environment: RUNS (default 300), ROUNDS (default 3; hyperfine groups, pooled).
# Not part of CI: timings on shared machines are noisy; compare within one run.
set -euo pipefail
repo=$(dirname "$(realpath "$0")")/..
cd "$repo"
runs=${RUNS:-300}
rounds=${ROUNDS:-3}
command -v hyperfine >/dev/null || { echo "hyperfine is needed (apt-get install hyperfine)" >&2; exit 1; }
target=${CARGO_TARGET_DIR:-$repo/target}
cargo build --release --locked -q -p ostree-guests-generator
scratch=$(mktemp -d /dev/shm/ostree-guests-bench.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
cp "$target/release/ostree-guests-generator" "$scratch/ours"
gens=("ours|$scratch/ours")
for g in "$@"; do
	gens+=("$(basename "$g")|$(realpath "$g")")
done

root=$scratch/root
mkdir -p "$root/etc/ostree-guests.d" "$scratch/out"
chmod 755 "$root" "$root/etc" "$root/etc/ostree-guests.d"
printf 'description = "bench guest 1"\n[network]\nports = ["tcp:8001:80"]\n[resources]\nmemory-max = "2G"\n' \
	>"$root/etc/ostree-guests.d/g1.toml"
chmod 644 "$root/etc/ostree-guests.d/g1.toml"
cat >"$scratch/reset" <<'EOF'
#!/bin/sh
# an empty output directory before every run, as systemd gives generators
rm -rf "$1" && mkdir "$1"
EOF
chmod +x "$scratch/reset"
export OSTREE_GUESTS_ROOT=$root
unset SYSTEMD_EXEC_PID SYSTEMD_IN_INITRD
# Each generator must write its one drop-in, or the timing compares nothing.
for g in "${gens[@]}"; do
	o=$scratch/out/${g%%|*}
	"$scratch/reset" "$o"
	"${g#*|}" "$o" "$o" "$o"
	[ -f "$o/systemd-nspawn@g1.service.d/50-ostree-guests.conf" ] || { echo "${g%%|*}: no drop-in" >&2; exit 1; }
done
for ((r = 1; r <= rounds; r++)); do
	args=()
	for g in "${gens[@]}"; do
		o=$scratch/out/${g%%|*}
		args+=(--prepare "$scratch/reset $o" -n "${g%%|*}" "${g#*|} $o $o $o")
	done
	hyperfine -N --warmup 20 --runs "$runs" --style none --export-json "$scratch/gen-r$r.json" "${args[@]}" \
		>/dev/null 2>>"$scratch/hyperfine.log" || { cat "$scratch/hyperfine.log" >&2; exit 1; }
done
OSTREE_GUESTS_BENCH_DIR=$scratch cargo bench --locked -q -p ostree-guests --bench config_load \
	2>"$scratch/inproc.err" | grep '^|' >"$scratch/inproc.md" || { cat "$scratch/inproc.err" >&2; exit 1; }

{
	echo "date=$(date -u '+%F %H:%M UTC')"
	echo "commit=$(git describe --always --dirty 2>/dev/null || echo unknown)"
	echo "load=$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "hyperfine=$(hyperfine --version | cut -d' ' -f2)"
	echo "rustc=$(rustc --version | cut -d' ' -f2)"
} >"$scratch/machine.txt"
python3 - "$scratch" "$rounds" <<'PY'
import json, re, statistics, sys
scratch, rounds = sys.argv[1], int(sys.argv[2])
machine = dict(l.rstrip("\n").split("=", 1) for l in open(f"{scratch}/machine.txt"))
times = {}
for r in range(1, rounds + 1):
    for res in json.load(open(f"{scratch}/gen-r{r}.json"))["results"]:
        times.setdefault(res["command"], []).extend(res["times"])
print(f"{machine['date']}, commit {machine['commit']}, load average {machine['load']}, "
      f"hyperfine {machine['hyperfine']}, rustc {machine['rustc']}\n")
print("| generator, N=1 (whole process) | median | runs |")
print("|---|---|---|")
for name, t in times.items():
    print(f"| `{name}` | {statistics.median(t) * 1e3:.3f} ms | {len(t)} |")
ours = statistics.median(times["ours"]) * 1e6
inproc = {}
print("\n| in-process | median | p10 | p90 | samples |")
print("|---|---|---|---|---|")
for line in open(f"{scratch}/inproc.md"):
    print(line.rstrip())
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    inproc[cells[0]] = float(re.sub(r"[^0-9.]", "", cells[1]))
print("\n| ÷ the generator's median at N=1 (ours) | share |")
print("|---|---|")
load = inproc.get("`config::load`, N=1")
if load is not None:
    print(f"| the whole configuration step, `config::load` ({load:.1f} µs) | {load / ours:.2%} |")
parse = inproc.get("parse")
if parse is not None:
    print(f"| the parse of the guest file, `config::load_texts` ({parse:.1f} µs) | {parse / ours:.2%} |")
PY
