"""Summarise experiments/nb201_lswag runs: mean ± std of Spearman/Kendall over seeds per proxy.

Usage: python experiments/nb201_lswag/summarize.py [experiments/nb201_lswag/results]
(reads ``<task>_seed<k>_correlations.json``, the files run.sh's runs are copied to) or a sweep dir
(``<task>/seed<k>/correlations.json``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd


def main(root: Path) -> None:
    """Print a markdown table (proxy x target: ρ mean ± std, τ mean, seeds, n) from correlations.json files."""
    recs = []
    found = [(p, p.parent.name) for p in sorted(root.glob("*/seed*/correlations.json"))]
    found += [(p, p.name.split("_")[-2]) for p in sorted(root.glob("*_seed*_correlations.json"))]
    for path, seed in found:
        for r in json.loads(path.read_text()):
            recs.append({**r, "seed": seed})
    df = pd.DataFrame(recs)
    order = {t: i for i, t in enumerate(["cifar10", "cifar100", "ImageNet16-120"])}
    df = df.sort_values("target", key=lambda c: c.map(order), kind="stable")
    g = df.groupby(["proxy", "target"], sort=False)
    out = pd.DataFrame({"spearman": g.spearman.mean(), "spearman_std": g.spearman.std(ddof=0),
                        "kendall": g.kendall.mean(), "seeds": g.seed.nunique(), "n": g.n.min(),
                        "n_nan": g.n_nan.max()}).reset_index()
    print("| proxy | target | Spearman ρ (mean ± std) | Kendall τ | seeds | n | max NaN |")
    print("|---|---|---|---|---|---|---|")
    for r in out.itertuples():
        print(f"| {r.proxy} | {r.target} | {r.spearman:.3f} ± {r.spearman_std:.3f} | {r.kendall:.3f} | "
              f"{r.seeds} | {r.n} | {r.n_nan} |")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "experiments/nb201_lswag/results"))
