"""Summarise experiments/proxy_validation (the markdown tables of its README).

1. The 13 NAS-Bench-Suite-Zero proxies computed by zcnas vs the precomputed scores in Suite-Zero's
   file (same 725 cells), both vs the ground truth, and ours on a second batch of 64 images
   (``--batch1``) and with other inits (``--init1``): how much of a gap the batch or the init
   alone explains.
2. The rest of the zoo on the same cells (``--extra`` run dirs add columns, e.g. tenas_ntk on 150, or
   replace them, e.g. a proxy rerun after a fix).
3. foresight's six proxies on 1000+ random cells (``--foresight``) next to the public numbers.

Usage: python experiments/proxy_validation/summarize.py --main DIR [--batch1 DIR] [--init1 DIR] [--extra DIR ...]
       [--foresight DIR]     (a DIR is a run directory or its scores.csv, e.g. one of results/)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import kendalltau, spearmanr

from zcnas.data import load_nb201
from zcnas.proxies import list_proxies

SUITE = ["params", "flops", "synflow", "snip", "grasp", "fisher", "grad_norm", "jacov", "nwot", "epe_nas",
         "zen", "plain", "l2_norm"]
# SamsungLabs/zero-cost-nas (Abdelfattah et al., ICLR 2021), all 15,625 cells, batch 64, CIFAR-10
# validation accuracy (docs/proxies.md).
FORESIGHT_C10 = {"grad_norm": 0.594, "snip": 0.596, "grasp": 0.514, "fisher": 0.360, "synflow": 0.737,
                 "jacov": 0.731}


def rho(a: pd.Series, b: pd.Series) -> float:
    """Spearman over the rows where both are finite."""
    ok = np.isfinite(a.to_numpy(float)) & np.isfinite(b.to_numpy(float))
    return float(spearmanr(a[ok], b[ok])[0]) if ok.sum() > 2 else float("nan")


def scores(path: Path) -> pd.DataFrame:
    """A run's scores.csv (given the run directory or the file) indexed by arch string."""
    return pd.read_csv(path / "scores.csv" if path.is_dir() else path).set_index("arch")


def suite_table(df: pd.DataFrame, target: str, truth: pd.Series, reruns: dict[str, pd.DataFrame]) -> None:
    """Table 1: ours vs Suite-Zero's for the 13; per rerun (another batch, another init), the agreement
    of ours with itself and the rerun's ρ with the ground truth."""
    print("| proxy | ρ(ours, Suite-Zero's) | ours vs val acc | Suite-Zero's vs val acc | gap | ours vs NB201 test acc"
          + "".join(f" | ρ(ours, ours {r}) | ours {r} vs val acc" for r in reruns) + " |")
    print("|---" * (6 + 2 * len(reruns)) + "|")
    for p in SUITE:
        a = rho(df[p], df[target])
        row = [p, "–", f"{a:.3f}", "–", "–", f"{rho(df[p], truth):.3f}"]
        if f"sz_{p}" in df:  # Suite-Zero's NB201 file has no zen column
            b = rho(df[f"sz_{p}"], df[target])
            row[1], row[3], row[4] = f"{rho(df[p], df[f'sz_{p}']):.3f}", f"{b:.3f}", f"{a - b:+.3f}"
        for rerun in reruns.values():
            other = rerun[p].reindex(df.index) if p in rerun else None
            row += [f"{rho(df[p], other):.3f}", f"{rho(other, df[target]):.3f}"] if other is not None else ["–", "–"]
        print("| " + " | ".join(row) + " |")


def zoo_table(df: pd.DataFrame, target: str, truth: pd.Series, scored: dict[str, pd.Index]) -> None:
    """Table 2: every other proxy on the same cells (``scored``: the cells a partial run covered)."""
    print("| proxy | n | NaN | vs val acc (Spearman) | vs val acc (Kendall) | vs NB201 test acc |")
    print("|---|---|---|---|---|---|")
    for p in (p for p in list_proxies() if p in df and p not in SUITE):
        rows = df.loc[scored.get(p, df.index)]
        col, truth_p = rows[p].to_numpy(float), truth.reindex(rows.index)
        print(f"| {p} | {int(np.isfinite(col).sum())} | {int((~np.isfinite(col)).sum())} | "
              f"{rho(rows[p], rows[target]):.3f} | {tau(rows[p], rows[target]):.3f} | {rho(rows[p], truth_p):.3f} |")
    az = ["aznas_expressivity", "aznas_progressivity", "aznas_trainability", "flops"]
    if all(c in df for c in az):  # AZ-NAS's own aggregation, complexity = FLOPs (Lee & Ham, CVPR 2024)
        combined = sum(np.log(df[c].rank() / len(df)) for c in az)
        print(f"\nAZ-NAS, Σ log(rank/N) of expressivity, progressivity, trainability and FLOPs: Spearman "
              f"{rho(combined, df[target]):.3f}, Kendall {tau(combined, df[target]):.3f} vs val acc")


def tau(a: pd.Series, b: pd.Series) -> float:
    """Kendall over the rows where both are finite."""
    ok = np.isfinite(a.to_numpy(float)) & np.isfinite(b.to_numpy(float))
    return float(kendalltau(a[ok], b[ok])[0]) if ok.sum() > 2 else float("nan")


def foresight_table(run_dir: Path) -> None:
    """Table 3: foresight's six on random cells vs NB201's 200-epoch test accuracy."""
    df = scores(run_dir)
    target = next(c for c in df.columns if c not in list_proxies() and not c.startswith("sz_"))
    print(f"{len(df)} random NB201 cells (seed 0), ground truth NB201 `{target}` 200-epoch test accuracy\n")
    print("| proxy | ours (Spearman) | foresight, 15,625 cells, val acc |")
    print("|---|---|---|")
    for p, public in FORESIGHT_C10.items():
        print(f"| {p} | {rho(df[p], df[target]):.3f} | {public:.3f} |")


# Tybl & Neumann, CVPR 2025, Table 1 (NB201 CIFAR-10, KT / SPR / nDCG; their own runs, test accuracy)
VKDNW_PAPER = {"vkdnw_single": (0.618, 0.815, 0.751), "vkdnw_agg": (0.750, 0.919, 0.785)}


def vkdnw_table(df: pd.DataFrame, target: str, truth: pd.Series, cells: pd.Index) -> None:
    """VKDNW on the cells it was run on: the entropy alone, ℵ alone, VKDNW_single = (ℵ, VKDNW)
    lexicographic, and two rank aggregations with size terms read from the reference code (Σ log(rank/N)):
    (a) VKDNW_single + FLOPs (``NB201/tss_general.ipynb`` at 9a15fe1, column ``vkdnw``), (b) VKDNW_single
    + AZ-NAS's expressivity, progressivity, trainability + FLOPs (``ImageNet_MBV2/evolution_search_vkdnw.py``
    aggregates the entropy with those four)."""
    from zcnas.metrics import ndcg_at_k

    d = df.loc[cells]
    t, tt = d[target], truth.reindex(d.index)
    n = len(d)

    def lr(c: pd.Series) -> pd.Series:
        return np.log(c.rank() / n)

    cols = {"vkdnw (entropy)": d["vkdnw"], "ℵ (#parameter tensors)": np.floor(d["vkdnw_single"]),
            "vkdnw_single": d["vkdnw_single"], "flops": d["flops"],
            "vkdnw_agg (a): single + FLOPs": lr(d["vkdnw_single"]) + lr(d["flops"])}
    az = ["aznas_expressivity", "aznas_progressivity", "aznas_trainability", "flops"]
    if all(c in d for c in az):
        cols["vkdnw_agg (b): single + AZ-NAS's four"] = lr(d["vkdnw_single"]) + sum(lr(d[c]) for c in az)
        cols["AZ-NAS (its four), same cells"] = sum(lr(d[c]) for c in az)
    k = max(1, int(np.ceil(0.1 * n)))
    print(f"VKDNW on {n} of Suite-Zero's NB201 cells (the first {n} of the zcnas.run sample, seed 0, threads=1)\n")
    print(f"| score | ρ vs val acc | τ vs val acc | ρ vs NB201 test acc | nDCG@{k} vs test acc |")
    print("|---|---|---|---|---|")
    for name, c in cols.items():
        ok = np.isfinite(c.to_numpy(float)) & np.isfinite(tt.to_numpy(float))
        nd = ndcg_at_k(c.to_numpy(float)[ok], tt.to_numpy(float)[ok], k)
        print(f"| {name} | {rho(c, t):.3f} | {tau(c, t):.3f} | {rho(c, tt):.3f} | {nd:.3f} |")
    for key, (kt, sp, nd) in VKDNW_PAPER.items():
        print(f"\nPaper {key}: τ {kt}, ρ {sp}, nDCG {nd} (all 15,625 cells, 5 runs, nDCG over its top 1000)")


def main() -> None:
    """Print the markdown tables."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--main", type=Path, required=True, help="merged run dir over Suite-Zero's cells")
    ap.add_argument("--batch1", type=Path, help="rerun with probe.batch_seed=1 on the same cells")
    ap.add_argument("--init1", type=Path, help="rerun with seed=1 probe.batch_seed=0 (other inits)")
    ap.add_argument("--extra", type=Path, nargs="*", default=[], help="runs whose proxy columns are added (or replace)")
    ap.add_argument("--foresight", type=Path, help="run of foresight's six on random cells")
    ap.add_argument("--vkdnw", type=Path, help="run of proxy=[vkdnw,vkdnw_single] on Suite-Zero's cells")
    args = ap.parse_args()
    df = scores(args.main)
    scored: dict[str, pd.Index] = {}
    for extra in args.extra:
        new = scores(extra)
        for c in (c for c in new.columns if c in list_proxies()):  # added, or replacing a rerun proxy
            df[c], scored[c] = new[c].reindex(df.index), new.index
    target = next(c for c in df.columns if c not in list_proxies() and not c.startswith("sz_"))
    truth = load_nb201(target=target).table[target].reindex(df.index)
    print(f"{len(df)} cells; ground truth: Suite-Zero's `{target}` validation accuracy and NB201's "
          "200-epoch test accuracy\n")
    reruns = {name: scores(d) for name, d in (("batch 1", args.batch1), ("init 1", args.init1)) if d}
    suite_table(df, target, truth, reruns)
    print()
    zoo_table(df, target, truth, scored)
    if args.vkdnw:
        vk = scores(args.vkdnw)
        for c in ("vkdnw", "vkdnw_single"):
            df[c] = vk[c].reindex(df.index)
        print()
        vkdnw_table(df, target, truth, vk.index.intersection(df.index))
    if args.foresight:
        print()
        foresight_table(args.foresight)


if __name__ == "__main__":
    main()
