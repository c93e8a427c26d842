#!/usr/bin/env python3
"""The Markdown report of benches/boot.sh: guest start to multi-user.target, medians and ratios.

Usage: boot-report.py OUT-DIR   (boot-raw.tsv and machine.txt from benches/boot.sh; prints Markdown)

Round 0 is the warm-up and is left out. Ratios are of the medians over the measured rounds; the
"paired" column is the median of the per-round ratios (the variants of one round ran back to
back, so a round's ratio saw one load), a check on the first.
"""
import csv
import statistics
import sys
from pathlib import Path

# (numerator, denominator, what the ratio answers)
RATIOS = [
    ("idmap", "privileged", "the default's cost over a privileged guest, both through our helper"),
    ("idmap", "plain", "the default against plain privileged nspawn"),
    ("privileged", "plain", "our unit and helper against plain nspawn, both privileged"),
    ("plain-idmap", "plain", "a user namespace with idmapped mounts in nspawn alone"),
    ("idmap", "plain-idmap", "our unit and helper against plain nspawn, both user-namespaced"),
]
# (label, start field, end field)
SPANS = [
    ("`systemctl start` → guest multi-user.target", "t0", "g_mu"),
    ("`systemctl start` returns (unit active: READY=1)", "t0", "t1"),
    ("`systemctl start` → unit activating (client, D-Bus, job)", "t0", "u_exit"),
    ("unit activating → guest PID 1 runs (ExecStart: helper or plain script, nspawn set-up)", "u_exit", "g_pid1"),
    ("guest PID 1 → multi-user.target (the guest's own boot)", "g_pid1", "g_mu"),
]


def ms(us: float) -> str:
    return f"{us / 1e3:.0f} ms"


def main() -> None:
    out = Path(sys.argv[1])
    machine = dict(
        line.split("=", 1)
        for line in (out / "machine.txt").read_text(encoding="utf-8").splitlines()
        if "=" in line
    )
    with open(out / "boot-raw.tsv", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if int(r["round"]) > 0]
    variants = [v for v in machine["variants"].split() if any(r["variant"] == v for r in rows)]

    def span(r: dict, a: str, b: str) -> float | None:
        if not r[a] or not r[b]:
            return None
        return float(r[b]) - float(r[a])

    def samples(v: str, a: str, b: str) -> dict[int, float]:
        return {
            int(r["round"]): s
            for r in rows
            if r["variant"] == v and (s := span(r, a, b)) is not None
        }

    w = print
    w("## Guest start: `systemctl start` to multi-user.target")
    w("")
    w(
        f"{machine['date']}, commit {machine['commit']}; kernel {machine['kernel']}, {machine['cpu']}, "
        f"{machine['memory']}; the T3a host's systemd {machine['systemd']}. {machine['rounds']} measured "
        f"rounds of {', '.join(variants)} (interleaved, after one warm-up round). Load average "
        f"(1, 5, 15 min): {machine['outer_load_start']} before the host was built, "
        f"{machine['load_measure']} at the first measured round, {machine['load_end']} after the "
        f"last, {machine['outer_load_end']} after the host stopped. In-host checks: {machine['checks']}."
    )
    w("")
    for label, a, b in SPANS:
        w(f"**{label}**")
        w("")
        w("| variant | median | min | max | p25 – p75 | n |")
        w("|---|---|---|---|---|---|")
        for v in variants:
            s = list(samples(v, a, b).values())
            if s:
                q = statistics.quantiles(s, n=4) if len(s) > 1 else [s[0], s[0], s[0]]
                w(f"| {v} | {ms(statistics.median(s))} | {ms(min(s))} | {ms(max(s))} "
                  f"| {ms(q[0])} – {ms(q[2])} | {len(s)} |")
        w("")
    w("**Ratios** of `systemctl start` → multi-user.target (ratio of medians; paired: median of the per-round ratios)")
    w("")
    w("| ratio | of medians | paired | answers |")
    w("|---|---|---|---|")
    for num, den, what in RATIOS:
        if num not in variants or den not in variants:
            continue
        sn, sd = samples(num, "t0", "g_mu"), samples(den, "t0", "g_mu")
        rm = statistics.median(sn.values()) / statistics.median(sd.values())
        paired = [sn[k] / sd[k] for k in sn if k in sd]
        pm = f"{statistics.median(paired):.2f}" if paired else "—"
        w(f"| {num} ÷ {den} | {rm:.2f} | {pm} | {what} |")
    w("")
    w("**Paired differences**: median over the rounds of (numerator − denominator) in the same "
      "round, and in how many rounds the numerator was slower")
    w("")
    w("| difference | set-up: unit activating → guest PID 1 | guest's own boot | `systemctl start` → multi-user.target |")
    w("|---|---|---|---|")
    for num, den, _ in RATIOS:
        if num not in variants or den not in variants:
            continue
        cells = []
        for _, a, b in (SPANS[3], SPANS[4], SPANS[0]):
            sn, sd = samples(num, a, b), samples(den, a, b)
            d = [sn[k] - sd[k] for k in sn if k in sd]
            slower = sum(1 for x in d if x > 0)
            cells.append(f"{statistics.median(d) / 1e3:+.0f} ms ({slower}/{len(d)})")
        w(f"| {num} − {den} | {' | '.join(cells)} |")
    w("")
    w("Command lines (the deployment is the same directory for all):")
    w("")
    w(f"- ours (idmap; privileged has `--private-users=no` and no `:idmap`): `{machine['ours'].strip()}`")
    w(f"- plain (`$pu` is `--private-users=no` or, for plain-idmap, `--private-users=pick "
      f"--private-users-ownership=map` with `$o` = `:idmap`): `{machine['plain'].strip()}`")


if __name__ == "__main__":
    main()
