#!/usr/bin/env python3
"""Markdown table of medians from a hyperfine JSON export, with ratios against a named peer.

Usage: medians.py RESULTS.json PEER-NAME
"""
import json
import statistics
import sys


def main() -> None:
    path, peer = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as f:
        results = json.load(f)["results"]
    med = {r["command"]: statistics.median(r["times"]) for r in results}
    if peer not in med:
        sys.exit(f"{path}: no command named {peer!r}")
    print("| command | median | p10 | p90 | runs | ratio to peer |")
    print("|---|---|---|---|---|---|")
    for r in results:
        t = sorted(r["times"])
        q = statistics.quantiles(t, n=10)
        name = r["command"]
        print(
            f"| `{name}` | {med[name] * 1e3:.3f} ms | {q[0] * 1e3:.3f} ms | {q[-1] * 1e3:.3f} ms"
            f" | {len(t)} | {med[name] / med[peer]:.3f} |"
        )


if __name__ == "__main__":
    main()
