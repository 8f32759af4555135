"""Summarise experiments/build_demo: proxies vs the built short-training accuracies, and those
accuracies vs NAS-Bench-201's 200-epoch ground truth for the same cells.

Usage: python experiments/build_demo/summarize.py <built.jsonl> <zcnas.run dir of the correlation run>
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from scipy.stats import kendalltau, spearmanr

from zcnas.data import load_jsonl, load_nb201


def main(built: Path, run_dir: Path) -> None:
    """Print two markdown tables."""
    rows = [json.loads(line) for line in built.read_text().splitlines()]
    short = load_jsonl(str(built)).table["cifar10"]
    truth = load_nb201(target="cifar10").table.loc[short.index, "cifar10"]
    ok = short.notna()
    rho, tau = spearmanr(short[ok], truth[ok])[0], kendalltau(short[ok], truth[ok])[0]
    wall = sum(r["meta"]["wall_s"] for r in rows)
    print(f"{len(rows)} cells, {rows[0]['meta']['epochs']} epochs each, {rows[0]['meta']['n_train']} train / "
          f"{rows[0]['meta']['n_val']} val images; {wall / 60:.1f} min of training in all; "
          f"{(~ok).sum()} diverged\n")
    print(f"short-training val accuracy: mean {short.mean():.1f} %, range {short.min():.1f}-{short.max():.1f} %")
    print(f"short-training accuracy vs NB201 200-epoch test accuracy: Spearman {rho:.3f}, Kendall {tau:.3f}\n")
    print("| proxy | Spearman vs built accuracy | Kendall | n | Spearman vs NB201 200-epoch |\n|---|---|---|---|---|")
    for r in json.loads((run_dir / "correlations.json").read_text()):
        truth_rho = spearmanr(*_pair(run_dir, r["proxy"], truth))[0]
        print(f"| {r['proxy']} | {r['spearman']:.3f} | {r['kendall']:.3f} | {r['n']} | {truth_rho:.3f} |")


def _pair(run_dir: Path, proxy: str, truth):
    import pandas as pd

    s = pd.read_csv(run_dir / "scores.csv").set_index("arch")[proxy].dropna()
    return s.to_numpy(), truth.reindex(s.index).to_numpy()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
