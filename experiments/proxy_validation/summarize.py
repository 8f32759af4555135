"""Summarise experiments/proxy_validation: each NAS-Bench-Suite-Zero proxy computed by zcnas vs the
precomputed score in Suite-Zero's file (same cells), and both vs the ground truth.

Usage: python experiments/proxy_validation/summarize.py <merged run dir> [<run dir whose proxy columns replace those>]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from zcnas.data import load_nb201

SUITE = ["params", "flops", "synflow", "snip", "grasp", "fisher", "grad_norm", "jacov", "nwot", "epe_nas",
         "zen", "plain", "l2_norm"]


def rho(a: pd.Series, b: pd.Series) -> float:
    ok = np.isfinite(a.to_numpy(float)) & np.isfinite(b.to_numpy(float))
    return float(spearmanr(a[ok], b[ok])[0]) if ok.sum() > 2 else float("nan")


def main(run_dir: Path, *extras: Path) -> None:
    """Print the markdown table."""
    df = pd.read_csv(run_dir / "scores.csv").set_index("arch")
    for extra in extras:  # e.g. a rerun of one fixed proxy on the same cells
        new = pd.read_csv(extra / "scores.csv").set_index("arch")
        for c in (c for c in new.columns if c in SUITE):
            df[c] = new[c].reindex(df.index)
    target = [c for c in df.columns if c not in SUITE and not c.startswith("sz_")][0]
    truth = load_nb201(target=target).table[target].reindex(df.index)
    print(f"{len(df)} cells; ground truth: Suite-Zero's `{target}` validation accuracy and NB201's 200-epoch test accuracy\n")
    print("| proxy | ρ(ours, Suite-Zero's) | ours vs val acc | Suite-Zero's vs val acc | gap | ours vs NB201 test acc |")
    print("|---|---|---|---|---|---|")
    for p in SUITE:
        ours, a = df[p], rho(df[p], df[target])
        if f"sz_{p}" not in df:  # Suite-Zero's NB201 file has no column for it
            print(f"| {p} | – | {a:.3f} | – | – | {rho(ours, truth):.3f} |")
            continue
        theirs = df[f"sz_{p}"]
        b = rho(theirs, df[target])
        print(f"| {p} | {rho(ours, theirs):.3f} | {a:.3f} | {b:.3f} | {a - b:+.3f} | {rho(ours, truth):.3f} |")


if __name__ == "__main__":
    main(*map(Path, sys.argv[1:]))
