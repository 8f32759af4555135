"""Summarise experiments/nb201_lswag runs: mean ± std of Spearman/Kendall over seeds per proxy.

Usage: python experiments/nb201_lswag/summarize.py logs/experiments/nb201_lswag
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd


def main(root: Path) -> None:
    """Print a markdown table (proxy x target: ρ mean ± std, τ mean, seeds, n) from correlations.json files."""
    recs = []
    for path in sorted(root.glob("*/seed*/correlations.json")):
        for r in json.loads(path.read_text()):
            recs.append({**r, "seed": path.parent.name})
    df = pd.DataFrame(recs)
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
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "logs/experiments/nb201_lswag"))
