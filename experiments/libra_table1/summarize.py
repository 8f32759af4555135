"""Summarise experiments/libra_table1: per benchmark column, Spearman of LIBRA / XGBoost / rank_mean /
AZ-NAS-rank on the evaluation splits (mean over repeats), the best single proxy on the same splits,
LIBRA's triplet, and the paper's Table 1 LIBRA value.

Usage: python experiments/libra_table1/summarize.py logs/experiments/libra_table1
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

PAPER = {  # L-SWAG paper (Casarin et al., CVPR 2025, arXiv 2505.07300) Table 1, LIBRA row
    ("nb201", "cifar10"): 0.89, ("nb201", "cifar100"): 0.90, ("nb201", "ImageNet16-120"): 0.87,
    ("nb101", "cifar10"): 0.77, ("nb301", "cifar10"): 0.74,
    **{("tnb101_micro", t): v for t, v in zip(
        ["autoencoder", "room_layout", "class_object", "class_scene", "jigsaw", "normal", "segmentsemantic"],
        [0.45, 0.57, 0.61, 0.79, 0.60, 0.76, 0.87], strict=True)},
    **{("tnb101_macro", t): v for t, v in zip(
        ["autoencoder", "room_layout", "class_object", "class_scene", "jigsaw", "normal", "segmentsemantic"],
        [0.83, 0.64, 0.92, 0.91, 0.82, 0.85, 0.83], strict=True)},
}
METHODS = ["libra", "xgboost", "rank_mean", "aznas_rank"]


def main(root: Path) -> None:
    """Print the markdown table."""
    frames = []
    for path in sorted(root.glob("suite_zero_*/*/combine.csv")):
        df = pd.read_csv(path)
        df["bench"] = path.parent.parent.name.removeprefix("suite_zero_")
        df["run"] = path.parent.name
        frames.append(df)
    df = pd.concat(frames)
    print("| benchmark | task | LIBRA | XGBoost (400 train) | rank_mean | AZ-NAS rank | best single proxy | "
          "LIBRA triplet (split 0) | paper LIBRA |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (bench, task), g in df.groupby(["bench", "task"], sort=False):
        cells = []
        for m in METHODS:
            r = g[(g.run == m) & (g.method == m)]
            cells.append(f"{r.spearman.mean():.3f}" if len(r) else "–")
        singles = g[(g.run == "libra") & (~g.method.isin(METHODS))].groupby("method").spearman.mean()
        trip = g[(g.run == "libra") & (g.method == "libra") & (g.repeat == 0)]["selected"].iloc[0]
        paper = PAPER.get((bench, task))
        print(f"| {bench} | {task} | {' | '.join(cells)} | {singles.idxmax()} {singles.max():.3f} | {trip} | "
              f"{paper if paper is not None else '–'} |")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "logs/experiments/libra_table1"))
