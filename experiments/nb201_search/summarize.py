"""Summarise experiments/nb201_search: the chosen cell per search seed, its CIFAR-10 accuracy and
rank percentile among all 15,625 cells, the proxies LIBRA chose, and the wall time.

Usage: python experiments/nb201_search/summarize.py logs/experiments/nb201_search
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path


def main(root: Path) -> None:
    """Print a markdown table and the mean over seeds."""
    print("| search seed | selected cell | CIFAR-10 acc (%) | rank percentile | LIBRA triplet | evaluated | wall (min) |")
    print("|---|---|---|---|---|---|---|")
    accs, pct, mins = [], [], []
    for d in sorted(root.glob("seed*")):
        if not (d / "selected_arch.json").is_file():
            continue
        s = json.loads((d / "selected_arch.json").read_text())
        t = json.loads((d / "run_summary.json").read_text())["seconds"] / 60
        accs.append(s["accuracy"]["cifar10"])
        pct.append(s["rank_percentile"]["cifar10"])
        mins.append(t)
        print(f"| {d.name[4:]} | `{s['arch']}` | {accs[-1]:.2f} | {pct[-1]:.2f} | "
              f"{', '.join(s.get('combiner_selected', []))} | {s['n_evaluated']} | {t:.1f} |")
    if accs:
        best = json.loads(next(iter(sorted(root.glob("seed*/selected_arch.json")))).read_text())["best_in_benchmark"]["cifar10"]
        sd = statistics.pstdev(accs) if len(accs) > 1 else 0.0
        print(f"\nmean over {len(accs)} seeds: {statistics.mean(accs):.2f} ± {sd:.2f} % "
              f"(best cell in the benchmark file: {best:.2f} %), rank percentile {statistics.mean(pct):.2f}, "
              f"{statistics.mean(mins):.1f} min per search on 1 CPU thread")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "logs/experiments/nb201_search"))
