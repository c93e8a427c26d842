#!/usr/bin/env python3
"""The Markdown report of benches/run.sh: medians, ratios and the issue's targets.

Usage: report.py RAW-DIR   (the files benches/run.sh writes there; prints Markdown)

Hyperfine groups run in several rounds (gen-N-rR.json, helper-N-rR.json); the times of all
rounds are pooled per command before taking medians, so every ratio compares commands measured
under the same (drifting) load.
"""
import json
import re
import statistics
import sys
from pathlib import Path

OURS = "ostree-guests-generator"
DRY = "ostree-guests-generator --dry-run"
PEERS = ["quadlet", "systemd-fstab-generator", "zram-generator"]
HELPER = "ostree-guest-start --dry-run"
RECIPE = "ostree admin status | sed"
TRUE = "/bin/true"
STARTUP = "ostree-guest-start --help"
STATIC = "ostree-guest-start --dry-run, static-pie"
GEN_NS = [1, 20, 200]
DEPLOYMENTS = [2, 8]



def spread_table(w, title, key, what, samples):
    """A collapsed table of median, p10 and p90 per command, for judging the noise."""
    w(f"<details><summary>{title}</summary>")
    w("")
    w(f"| {key} | {what} | median | p10 | p90 | runs |")
    w("|---|---|---|---|---|---|")
    for k, cmds in samples.items():
        for name, t in cmds.items():
            q = statistics.quantiles(t, n=10)
            w(f"| {k} | `{cell(name)}` | {ms(med(t))} | {ms(q[0])} | {ms(q[-1])} | {len(t)} |")
    w("")
    w("</details>")
    w("")

def pooled(raw: Path, prefix: str) -> dict[str, list[float]]:
    """Times (s) per command name over all rounds of one group, in command order."""
    times: dict[str, list[float]] = {}
    for f in sorted(raw.glob(f"{prefix}-r*.json")):
        for r in json.loads(f.read_text(encoding="utf-8"))["results"]:
            times.setdefault(r["command"], []).extend(r["times"])
    return times


def med(t: list[float]) -> float:
    return statistics.median(t)


def cell(text: str) -> str:
    """Text for a Markdown table cell: a '|' (the recipe's pipeline) must not end the cell."""
    return text.replace("|", "\\|")


def ms(s: float) -> str:
    return f"{s * 1e3:.2f} ms"


def tsv(path: Path) -> list[list[str]]:
    if not path.exists():
        return []
    return [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if line]


def main() -> None:
    raw = Path(sys.argv[1])
    machine = dict(
        line.split("=", 1)
        for line in (raw / "machine.txt").read_text(encoding="utf-8").splitlines()
        if "=" in line
    )
    gen = {n: pooled(raw, f"gen-{n}") for n in GEN_NS}
    helper = {n: pooled(raw, f"helper-{n}") for n in DEPLOYMENTS}
    peers = [p for p in PEERS if p in gen[1]]
    out: list[str] = []
    w = out.append

    w("# ostree-guests benchmarks")
    w("")
    w(
        f"{machine['date']}, commit {machine['commit']}; {machine['os']}, kernel "
        f"{machine['kernel']}, {machine['cpu']}, {machine['memory']}; load average (1, 5, 15 min) "
        f"{machine['load_start']} at the start, {machine['load']} at the end. systemd {machine['systemd']}, zram-generator {machine['zram']}, "
        f"ostree {machine['ostree']}, Quadlet {machine['quadlet'] or '—'}, hyperfine "
        f"{machine['hyperfine']}, rustc {machine['rustc']}. Every hyperfine group ran "
        f"{machine['rounds']} rounds × {machine['runs']} runs per command (`-N`, no shell), "
        "pooled; inputs and outputs on tmpfs."
    )
    if machine.get("quadlet_note"):
        w("")
        w(f"**Note:** {machine['quadlet_note']}")
    w("")

    # ---- generators
    w("## Generators: N units each, fresh output directory per run (medians)")
    w("")
    w("| generator | N=1 | N=20 | N=200 | per unit, (N=200 − N=1) / 199 |")
    w("|---|---|---|---|---|")
    per_unit = {}
    for name in [OURS, *peers, DRY, TRUE]:
        cells = [ms(med(gen[n][name])) for n in GEN_NS]
        if name == TRUE:
            w(f"| `{cell(name)}` (process floor) | {' | '.join(cells)} | — |")
            continue
        per_unit[name] = (med(gen[200][name]) - med(gen[1][name])) / 199
        note = " (ours, printing instead of writing)" if name == DRY else ""
        w(f"| `{cell(name)}`{note} | {' | '.join(cells)} | {per_unit[name] * 1e6:.1f} µs |")
    w("")
    w(
        f"Our per-guest cost splits into {per_unit[DRY] * 1e6:.1f} µs of reading, parsing and "
        f"rendering (`--dry-run`) and {(per_unit[OURS] - per_unit[DRY]) * 1e6:.1f} µs of "
        "creating its output (the drop-in directory, drop-ins written and renamed into place, "
        "the autostart link) on tmpfs."
    )
    w("")
    floor = (raw / "floor.md").read_text(encoding="utf-8").strip()
    per_guest_floor = re.search(r"the same per guest \|\s*([0-9.]+) µs", floor)
    floor_us = float(per_guest_floor.group(1)) if per_guest_floor else float("nan")
    w(
        "The floor under the second part: only the system calls that create one guest's output "
        "(`mkdirat`, `openat`, `write`, `close`, `renameat`, `symlinkat`), timed in a loop with "
        "nothing parsed or rendered (`cargo bench -p ostree-guests --bench output_floor`):"
    )
    w("")
    w("| system calls only | median | p10 | p90 | runs |")
    w("|---|---|---|---|---|")
    w(floor)
    w("")
    w("| ours ÷ peer | N=1 | N=20 | N=200 |")
    w("|---|---|---|---|")
    for p in peers:
        cells = [f"{med(gen[n][OURS]) / med(gen[n][p]):.2f}" for n in GEN_NS]
        w(f"| ÷ `{p}` | {' | '.join(cells)} |")
    w("")
    spread_table(w, "p10 / p90 per generator", "N", "generator", gen)

    # ---- helper
    w("## Start helper: deployment resolution, whole process (medians)")
    w("")
    w(
        f"| deployments | `{HELPER}` | `{cell(RECIPE)}` | `{TRUE}` | pipeline ÷ helper | "
        "helper − `/bin/true` |"
    )
    w("|---|---|---|---|---|---|")
    for n in DEPLOYMENTS:
        h, r, t = (med(helper[n][c]) for c in (HELPER, RECIPE, TRUE))
        w(f"| {n} | {ms(h)} | {ms(r)} | {ms(t)} | {r / h:.1f}× | {ms(h - t)} |")
    w("")
    if all(STARTUP in helper[n] and STATIC in helper[n] for n in DEPLOYMENTS):
        w(
            f"Where the time goes: `{STARTUP}` is our binary started and ended with no work "
            "(dynamic loading of a 1 MiB executable and the Rust runtime's start-up), and the "
            "same helper linked as a static-pie executable (built by the script for this "
            "comparison; packages ship the dynamic one):"
        )
        w("")
        w(
            f"| deployments | `{STARTUP}` − `/bin/true` | resolution: `{HELPER}` − `{STARTUP}` "
            f"| `{cell(STATIC)}` | static-pie − `/bin/true` |"
        )
        w("|---|---|---|---|---|")
        for n in DEPLOYMENTS:
            h, t, u, st = (med(helper[n][c]) for c in (HELPER, TRUE, STARTUP, STATIC))
            w(f"| {n} | {ms(u - t)} | {ms(h - u)} | {ms(st)} | {ms(st - t)} |")
        w("")
    spread_table(w, "p10 / p90", "deployments", "command", helper)

    # ---- in-process
    inproc = (raw / "inproc.md").read_text(encoding="utf-8").strip()
    w("## In-process resolution (`cargo bench -p ostree-guests --bench resolve`)")
    w("")
    w(inproc)
    w("")
    auto = re.search(r"the helper.s start[^|]*\|\s*([0-9.]+) µs", inproc)
    inproc_auto = float(auto.group(1)) if auto else float("nan")

    # ---- memory, instructions, size
    w("## Peak RSS, instructions, binary size")
    w("")
    w("| process | peak RSS (median of 5) |")
    w("|---|---|")
    rss = tsv(raw / "rss.tsv")
    for label, kib in rss:
        w(f"| {cell(label)} | {int(kib) / 1024:.2f} MiB |")
    w("")
    w("| process | instructions (callgrind, user space incl. dynamic loader) |")
    w("|---|---|")
    for label, n in tsv(raw / "instr.tsv"):
        w(f"| {cell(label)} | {int(n):,} |")
    w("")
    w("| binary | size | shared libraries besides libc, libm, libgcc_s |")
    w("|---|---|---|")
    for label, size, libs, note in tsv(raw / "size.tsv"):
        w(f"| `{label}` ({note}) | {int(size) / 1024:.0f} KiB | {libs.strip() or '—'} |")
    w("")

    # ---- targets
    ours_rss = max(int(k) for label, k in rss if label.startswith(OURS)) / 1024
    targets = []
    if "quadlet" in peers:
        r1 = med(gen[1][OURS]) / med(gen[1]["quadlet"])
        r200 = med(gen[200][OURS]) / med(gen[200]["quadlet"])
        targets.append(("generator N=1 ≤ 0.5× Quadlet", f"{r1:.2f}×", r1 <= 0.5))
        targets.append(("generator N=200 ≤ 0.35× Quadlet", f"{r200:.2f}×", r200 <= 0.35))
    rf = med(gen[200][OURS]) / med(gen[200]["systemd-fstab-generator"])
    targets.append(("generator N=200 ≤ 0.7× fstab-generator", f"{rf:.2f}×", rf <= 0.7))
    pu = per_unit[OURS] * 1e6
    targets.append(("generator per guest ≤ 30 µs",
                    f"{pu:.1f} µs (its output's system calls alone: {floor_us:.1f} µs)",
                    pu <= 30))
    targets.append(("generator peak RSS ≤ 3 MiB", f"{ours_rss:.2f} MiB", ours_rss <= 3))
    for n in DEPLOYMENTS:
        h, r, t = (med(helper[n][c]) for c in (HELPER, RECIPE, TRUE))
        targets.append((f"helper ≥ 10× faster than the pipeline ({n} deployments)",
                        f"{r / h:.1f}×", r / h >= 10))
        why = ""
        if STARTUP in helper[n] and STATIC in helper[n]:
            u, st = med(helper[n][STARTUP]), med(helper[n][STATIC])
            why = (f" (start-up alone +{(u - t) * 1e3:.2f} ms; static-pie build "
                   f"+{(st - t) * 1e3:.2f} ms)")
        targets.append((f"helper within 0.5 ms of /bin/true ({n} deployments)",
                        f"+{(h - t) * 1e3:.2f} ms{why}", h - t <= 0.5e-3))
    floor_match = re.search(r"floor:[^|]*\|\s*([0-9.]+) µs", inproc)
    inproc_floor = float(floor_match.group(1)) if floor_match else float("nan")
    targets.append(("in-process resolution, 8 deployments < 50 µs",
                    f"{inproc_auto:.1f} µs (the file accesses alone: {inproc_floor:.1f} µs)",
                    inproc_auto < 50))
    w("## Targets (issue 10)")
    w("")
    w("| target | measured | |")
    w("|---|---|---|")
    for what, got, ok in targets:
        w(f"| {what} | {got} | {'met' if ok else '**missed**'} |")
    print("\n".join(out))


if __name__ == "__main__":
    main()
