"""Old (Cream) vs exact (Auto-Prox) AutoFormer-T flavour: per target column, L-SWAG vs #params, and
L-SWAG for several windows side by side on the exact flavour.

Reads ``results/seed<s>_scores.csv`` (old flavour, ``zcnas.run``, window [0, 2]) and
``results/autoprox_seed*_terms.csv`` (exact flavour, ``exact_terms.py``: per-decile Λ terms and
cumulative Ψ per subnet, so L-SWAG of any window is recomputed exactly). The calibrated window is
read from ``conf/window/autoformer_cifar100_224.yaml`` (label-free); "best in hindsight" is the
window with the highest ρ on that very column -- chosen on the labels it is scored on, so it is an
upper bound, not a result.

Usage: python experiments/autoformer_lswag/compare.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from zcnas.calibrate import sweep_windows
from zcnas.metrics import correlate

HERE = Path(__file__).resolve().parent
BINS = 10
COSTLY = ("meco", "aznas_expressivity", "aznas_trainability", "dss", "synflow", "dextr")


def lswag_window(t: pd.DataFrame, lo: int, hi: int) -> np.ndarray:
    """L-SWAG of window [lo, hi] from the per-decile terms: Σ lam[lo..hi] · psi[hi]."""
    return t[[f"lam{d}" for d in range(lo, hi + 1)]].sum(axis=1).to_numpy() * t[f"psi{hi}"].to_numpy()


def rho(scores: np.ndarray, truth: pd.Series) -> float:
    """Spearman ρ over the finite pairs."""
    return float(correlate(np.asarray(scores, float), truth.to_numpy())["spearman"])


def main() -> None:
    """Print the markdown tables of the README."""
    window = yaml.safe_load((HERE.parent.parent / "conf/window/autoformer_cifar100_224.yaml").read_text())
    cal = (window["autoprox"]["lo"], window["autoprox"]["hi"])
    runs = {p.stem.split("_")[1]: pd.read_csv(p) for p in sorted((HERE / "results").glob("autoprox_seed*_terms.csv"))}
    # old flavour, same seeds and the same subnets as the exact runs (zcnas.run scores.csv, window [0, 2])
    old = {s: pd.read_csv(HERE / "results" / f"{s}_scores.csv").set_index("arch").loc[t["arch"]] for s, t in runs.items()}
    targets = [c for c in next(iter(old.values())).columns if c.endswith("_acc")]
    print(f"exact flavour: {', '.join(f'{s} ({len(t)} subnets)' for s, t in runs.items())}; old flavour: the same "
          f"seeds and subnets; calibrated window (exact) {list(cal)}\n")
    print("| target | old: L-SWAG [0,2] | old: #params | old: L-SWAG ≥ #params? | exact: L-SWAG "
          f"{list(cal)} (calibrated) | exact: #params | exact: L-SWAG ≥ #params? |")
    print("|---|---|---|---|---|---|---|")
    rows = []
    for target in targets:
        lo_ = np.mean([rho(o["lswag"].to_numpy(), o[target]) for o in old.values()])
        pa_ = np.mean([rho(o["params"].to_numpy(), o[target]) for o in old.values()])
        cal_r = np.mean([rho(lswag_window(t, *cal), t[target]) for t in runs.values()])
        par_r = np.mean([rho(t["params"].to_numpy(), t[target]) for t in runs.values()])
        full_r = np.mean([rho(lswag_window(t, 0, BINS), t[target]) for t in runs.values()])
        sweeps = [sweep_windows(t[[f"lam{d}" for d in range(BINS + 1)]].to_numpy(),
                                t[[f"psi{d}" for d in range(BINS + 1)]].to_numpy(), t[target].to_numpy())
                  for t in runs.values()]
        mean_sweep = pd.concat(sweeps).groupby(["lo", "hi"]).spearman.mean()
        best = [int(b) for b in mean_sweep.idxmax()]
        rows.append((target, cal_r, full_r, best, mean_sweep.max(), par_r,
                     {p: np.mean([rho(t[p].to_numpy(), t[target]) for t in runs.values()])
                      for p in ("zico", "swap", "nwot", "reg_swap", "flops")}))
        print(f"| {target} | {lo_:.3f} | {pa_:.3f} | {'yes' if lo_ >= pa_ else 'no'} | {cal_r:.3f} | {par_r:.3f} "
              f"| {'yes' if cal_r >= par_r else 'no'} |")
    print("\nExact flavour, L-SWAG windows side by side (ρ):\n")
    print(f"| target | calibrated {list(cal)} | full [0,10] | best in hindsight (chosen on this column) | #params |")
    print("|---|---|---|---|---|")
    for target, cal_r, full_r, best, best_r, par_r, _ in rows:
        print(f"| {target} | {cal_r:.3f} | {full_r:.3f} | {best_r:.3f} {best} | {par_r:.3f} |")
    print("\nExact flavour, the other single-pass proxies (ρ):\n")
    print("| target | zico | swap | nwot | reg_swap | flops |")
    print("|---|---|---|---|---|---|")
    for target, *_, others in rows:
        print(f"| {target} | " + " | ".join(f"{others[p]:.3f}" for p in others) + " |")
    frames = [pd.read_csv(f).set_index("arch") for f in (HERE / "results" / f"autoprox_seed0_{k}_scores.csv"
                                                           for k in ("costly", "dextr")) if f.is_file()]
    if frames:  # zcnas.run on the same subnets and seed: the proxies exact_terms.py does not compute
        c = frames[0]
        for more in frames[1:]:
            c = c.join(more[[p for p in COSTLY if p in more.columns and p not in c.columns]])
        c = c.loc[runs["seed0"]["arch"]]
        names = [p for p in COSTLY if p in c.columns]
        print(f"\nExact flavour, the costlier proxies (ρ, seed 0, {len(c)} subnets; nan: NaN on every subnet):\n")
        print("| target | " + " | ".join(names) + " | #params |")
        print("|---|" + "---|" * (len(names) + 1))
        for target, *_, par_r, _ in rows:
            print(f"| {target} | " + " | ".join(f"{rho(c[p].to_numpy(), c[target]):.3f}" for p in names)
                  + f" | {par_r:.3f} |")
    print("\nPer seed, exact flavour: L-SWAG (calibrated window) − #params, ρ:\n")
    print("| target | " + " | ".join(runs) + " | mean ± sd |")
    print("|---|" + "---|" * (len(runs) + 1))
    for target, *_ in rows:
        d = [rho(lswag_window(t, *cal), t[target]) - rho(t["params"].to_numpy(), t[target]) for t in runs.values()]
        print(f"| {target} | " + " | ".join(f"{x:+.3f}" for x in d) + f" | {np.mean(d):+.3f} ± {np.std(d, ddof=1):.3f} |")
    b64 = HERE / "results" / "autoprox_b64_seed0_terms.csv"
    if b64.is_file():  # the paper's batch size, seed 0 (the same subnets and init; 64 images instead of 32)
        t64, t32 = pd.read_csv(b64), runs["seed0"]
        print("\nBatch 64 vs 32, seed 0, exact flavour (ρ):\n")
        print(f"| target | L-SWAG {list(cal)} b32 | L-SWAG {list(cal)} b64 | zico b64 | swap b64 | nwot b64 | #params |"
              " L-SWAG ≥ #params at b64? |")
        print("|---|---|---|---|---|---|---|---|")
        for target, *_ in rows:
            l32, l64 = rho(lswag_window(t32, *cal), t32[target]), rho(lswag_window(t64, *cal), t64[target])
            par = rho(t64["params"].to_numpy(), t64[target])
            other = " | ".join(f"{rho(t64[p].to_numpy(), t64[target]):.3f}" for p in ("zico", "swap", "nwot"))
            print(f"| {target} | {l32:.3f} | {l64:.3f} | {other} | {par:.3f} | {'yes' if l64 >= par else 'no'} |")
    for s, t in runs.items():  # the registry's full-window lswag equals the recomputed one
        assert np.allclose(t["lswag"], lswag_window(t, 0, BINS), rtol=1e-9), s


if __name__ == "__main__":
    main()
