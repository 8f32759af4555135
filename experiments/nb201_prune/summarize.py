"""Summarise experiments/nb201_prune: per seed, the cell found by pruning and by random search at the
same number of scored networks, its CIFAR-10 accuracy and rank percentile among all 15,625 cells.

Usage: python experiments/nb201_prune/summarize.py [logs/experiments/nb201_prune]
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path


def main(root: Path) -> None:
    """Print a markdown table and the means over seeds."""
    print("| seed | search | found cell | CIFAR-10 acc (%) | rank percentile | scored nets | wall (s) |")
    print("|---|---|---|---|---|---|---|")
    stats: dict[str, list[tuple[float, float]]] = {}
    for d in sorted(root.glob("*/seed*/selected_arch.json"), key=lambda p: (p.parent.name, p.parent.parent.name)):
        s = json.loads(d.read_text())
        t = json.loads((d.parent / "run_summary.json").read_text())["seconds"]
        acc, pct = s["accuracy"]["cifar10"], s["rank_percentile"]["cifar10"]
        stats.setdefault(s["search"], []).append((acc, pct))
        print(f"| {d.parent.name[4:]} | {s['search']} | `{s['arch']}` | {acc:.2f} | {pct:.2f} | {s['n_evaluated']} | {t:.0f} |")
    print()
    for name, v in stats.items():
        accs, pcts = [a for a, _ in v], [p for _, p in v]
        sd = statistics.pstdev(accs) if len(accs) > 1 else 0.0
        print(f"{name}: mean accuracy {statistics.mean(accs):.2f} ± {sd:.2f} %, mean rank percentile "
              f"{statistics.mean(pcts):.2f} over {len(v)} seeds")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "logs/experiments/nb201_prune"))
