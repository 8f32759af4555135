"""Summarise experiments/autoformer_lswag: per target column, each proxy's Spearman/Kendall
(mean ± std over seeds) and whether L-SWAG matches or beats #params.

Usage: python experiments/autoformer_lswag/summarize.py logs/experiments/autoformer_lswag
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd


def main(root: Path) -> None:
    """Print a markdown table: target x proxy (ρ mean ± std, τ mean) and the L-SWAG vs #params verdict."""
    recs = [{**r, "seed": p.parent.name} for p in sorted(root.glob("*/seed*/correlations.json"))
            for r in json.loads(p.read_text())]
    df = pd.DataFrame(recs)
    proxies = list(dict.fromkeys(df.proxy))
    print(f"seeds: {sorted(df.seed.unique())}\n")
    print("| target | " + " | ".join(proxies) + " | L-SWAG ≥ #params? |")
    print("|---|" + "---|" * (len(proxies) + 1))
    for target, g in df.groupby("target", sort=False):
        m = g.groupby("proxy").spearman.agg(["mean", "std"])
        k = g.groupby("proxy").kendall.mean()
        cells = [f"{m.loc[p, 'mean']:.3f} ± {m.loc[p, 'std']:.3f} (τ {k[p]:.3f})" for p in proxies]
        verdict = "yes" if m.loc["lswag", "mean"] >= m.loc["params", "mean"] else "no"
        print(f"| {target} | " + " | ".join(cells) + f" | {verdict} |")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "logs/experiments/autoformer_lswag"))
