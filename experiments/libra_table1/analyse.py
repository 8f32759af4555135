"""LIBRA under both protocols, every IG estimator and merge rule, its stability and its upper bound
(experiments/libra_table1/README.md, sections 2-6). Table work only: about 10 minutes on one core.

Pools: the shipped NAS-Bench-Suite-Zero columns of all 19 benchmark columns (11-12 proxies each), and on
NB201 the paper's pool: those + L-SWAG, ZiCo, SWAP computed by zcnas on the same 725 cells
(``results_mixed/scores_<task>.csv``) + reg-SWAP (computed from SWAP and #params) + on CIFAR-10 VKDNW
(``experiments/proxy_validation/results/cifar10_vkdnw_scores.csv``, the cells it was run on).

Protocols: ``in_sample`` (the paper's reading: pick and score on every labelled arch) and ``held_out``
(pick on a seeded half, score on the other half; 5 seeds). The default estimator and merge rule are
chosen by an *inner* split of each calibration half (fit on half of it, ρ on the other half), the
mean over the 19 Suite-Zero columns x 5 seeds; the reported held-out numbers never enter the choice.

Usage: python experiments/libra_table1/analyse.py [--out experiments/libra_table1/results]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from summarize import PAPER  # the paper's Table 1 LIBRA row (this folder's summarize.py)

from zcnas.combiners import Libra
from zcnas.combiners.evaluate import split
from zcnas.combiners.rank import MERGES, merge
from zcnas.data.suite_zero import load_suite_zero
from zcnas.metrics import BINNINGS

HERE = Path(__file__).resolve().parent
SPACES = ["nb201", "nb101", "nb301", "tnb101_micro", "tnb101_macro"]
ESTIMATORS = [dict(binning=b, bins=k, miller_madow=mm) for b in BINNINGS for k in (12, 24, 48) for mm in (False, True)]
SEEDS = range(5)


def est_name(e: dict) -> str:
    return f"{e['binning']}/{e['bins']}{'/MM' if e['miller_madow'] else ''}"


def rho(a: np.ndarray, b: np.ndarray) -> float:
    return float(stats.spearmanr(a, b).statistic)


def columns() -> list[tuple[str, str, str, pd.DataFrame, np.ndarray]]:
    """(pool, bench, task, Z, y) for every pool and benchmark column."""
    out = []
    for space in SPACES:
        for task, df in load_suite_zero(space).tasks.items():
            df = df.dropna(subset=["val_accuracy"])
            out.append(("suite_zero", space, task, df.drop(columns="val_accuracy"), df["val_accuracy"].to_numpy()))
    for task, df in load_suite_zero("nb201").tasks.items():
        mine = pd.read_csv(HERE / "results_mixed" / f"scores_{task}.csv").set_index("arch")[["lswag", "zico", "swap"]]
        df = df.dropna(subset=["val_accuracy"]).join(mine, how="inner")
        # reg-SWAP = SWAP exp(-(#params/1e3 - 1000)^2 / 1e6) (zcnas.proxies.activation.reg_swap); #params of the
        # task's own head = Suite-Zero's params column (millions; equal to ours cell by cell, tests/test_combiners)
        df["reg_swap"] = df["swap"] * np.exp(-((df["params"] * 1e3 - 1000) ** 2) / 1e6)
        out.append(("paper", "nb201", task, df.drop(columns="val_accuracy"), df["val_accuracy"].to_numpy()))
        vk = HERE.parent / "proxy_validation" / "results" / f"{task}_vkdnw_scores.csv"
        if vk.is_file():
            v = pd.read_csv(vk).set_index("arch")[["vkdnw", "vkdnw_single"]]
            sub = df.join(v, how="inner")
            out.append(("paper_same_cells", "nb201", task, sub.drop(columns=["val_accuracy", "vkdnw", "vkdnw_single"]),
                        sub["val_accuracy"].to_numpy()))
            out.append(("paper+vkdnw", "nb201", task, sub.drop(columns="val_accuracy"), sub["val_accuracy"].to_numpy()))
    return out


def best_triplet(Z: pd.DataFrame, y: np.ndarray) -> tuple[float, str, str]:
    """max over every 3 columns and merge rule of in-sample ρ: the upper bound of any selection rule."""
    cols = [c for c in Z.columns if np.isfinite(Z[c]).sum() > 3 and np.ptp(Z[c][np.isfinite(Z[c])]) > 0]
    best = (-2.0, "", "")
    for trip in itertools.combinations(cols, 3):
        for how in MERGES:
            r = rho(merge(Z[list(trip)], how), y)
            if r > best[0]:
                best = (r, ",".join(trip), how)
    return best


def evaluate_column(Z: pd.DataFrame, y: np.ndarray) -> pd.DataFrame:
    """One row per (protocol, seed, estimator): the triplet and ρ for each merge rule; held-out rows also
    carry the inner-split ρ used to choose the defaults."""
    rows = []
    for e in ESTIMATORS:
        lib = Libra(**e).fit(Z, y)
        rows.append({"protocol": "in_sample", "seed": -1, "estimator": est_name(e), "triplet": ",".join(lib.selected_),
                     **{f"rho_{m}": rho(merge(Z[lib.selected_], m), y) for m in MERGES}})
    for s in SEEDS:
        fit, ev = split(len(Z), 0.5, s)
        Zf, yf, Ze, ye = Z.iloc[fit].reset_index(drop=True), y[fit], Z.iloc[ev].reset_index(drop=True), y[ev]
        ifit, iev = split(len(Zf), 0.5, 100 + s)
        for e in ESTIMATORS:
            lib = Libra(**e).fit(Zf, yf)
            inner = Libra(**e).fit(Zf.iloc[ifit].reset_index(drop=True), yf[ifit])
            Zi = Zf.iloc[iev].reset_index(drop=True)
            rows.append({"protocol": "held_out", "seed": s, "estimator": est_name(e), "triplet": ",".join(lib.selected_),
                         **{f"rho_{m}": rho(merge(Ze[lib.selected_], m), ye) for m in MERGES},
                         **{f"inner_{m}": rho(merge(Zi[inner.selected_], m), yf[iev]) for m in MERGES}})
    return pd.DataFrame(rows)


def fmt(v: float) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"


def main() -> None:
    logging.getLogger("zcnas").setLevel(logging.ERROR)  # LIBRA's fallback warnings: counted in the tables instead
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--pools", nargs="*", default=None, help="recompute only these pools (others kept from --out)")
    ap.add_argument("--benches", nargs="*", default=None, help="only these benchmarks (a shard)")
    ap.add_argument("--tag", default="", help="shard name: writes libra_runs<tag>.csv (the report reads all)")
    ap.add_argument("--report-only", action="store_true", help="print the tables from the CSVs in --out")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    runs_csv, best_csv = args.out / f"libra_runs{args.tag}.csv", args.out / f"libra_best_triplets{args.tag}.csv"
    if not args.report_only:
        frames, bests = [], []
        for pool, bench, task, Z, y in columns():
            if (args.pools and pool not in args.pools) or (args.benches and bench not in args.benches):
                continue
            df = evaluate_column(Z, y)
            df.insert(0, "pool", pool)
            df.insert(1, "bench", bench)
            df.insert(2, "task", task)
            df["n"] = len(Z)
            frames.append(df)
            r, trip, how = best_triplet(Z, y)
            bests.append({"pool": pool, "bench": bench, "task": task, "best_rho": r, "best_triplet": trip,
                          "best_merge": how})
            print(f"done {pool} {bench} {task} n={len(Z)}", flush=True)
        runs, best = pd.concat(frames, ignore_index=True), pd.DataFrame(bests)
        if args.pools and runs_csv.is_file():  # keep the other pools' rows
            old_runs, old_best = pd.read_csv(runs_csv), pd.read_csv(best_csv)
            runs = pd.concat([old_runs[~old_runs.pool.isin(args.pools)], runs], ignore_index=True)
            best = pd.concat([old_best[~old_best.pool.isin(args.pools)], best], ignore_index=True)
        runs.to_csv(runs_csv, index=False)
        best.to_csv(best_csv, index=False)
    report(pd.concat([pd.read_csv(f) for f in sorted(args.out.glob("libra_runs*.csv"))], ignore_index=True),
           pd.concat([pd.read_csv(f) for f in sorted(args.out.glob("libra_best_triplets*.csv"))], ignore_index=True))


def report(runs: pd.DataFrame, best: pd.DataFrame) -> None:
    """The markdown tables of the README."""
    ho = runs[(runs.protocol == "held_out") & (runs.pool == "suite_zero")]
    if ho.empty:
        print("no Suite-Zero pool rows yet: the defaults are chosen on them")
        return
    choice = pd.DataFrame({m: ho.groupby("estimator", sort=False)[f"inner_{m}"].mean() for m in MERGES})
    outer = pd.DataFrame({m: ho.groupby("estimator", sort=False)[f"rho_{m}"].mean() for m in MERGES})
    # the best inner ρ; within 0.001 of it (below the resolution of 95 inner splits) ties go to the fewest
    # changes from Suite-Zero's own estimator (equal width, 24 bins, no correction)
    flat = choice.stack()
    top = flat[flat >= flat.max() - 0.001].index
    est, how = min(top, key=lambda t: (not t[0].startswith("equal_width"), "/24" not in t[0], t[0].endswith("/MM")))
    print("\n## Estimator and merge choice (inner splits of the calibration halves, 19 Suite-Zero columns x 5 seeds)\n")
    print("| estimator | " + " | ".join(f"inner ρ, {m}" for m in MERGES) + " | " + " | ".join(f"held-out ρ, {m} (not used)" for m in MERGES) + " |")
    print("|---" * (1 + 2 * len(MERGES)) + "|")
    for e in choice.index:
        print(f"| {e} | " + " | ".join(fmt(choice.loc[e, m]) for m in MERGES) + " | "
              + " | ".join(fmt(outer.loc[e, m]) for m in MERGES) + " |")
    print(f"\nchosen: estimator {est}, merge {how} (inner ρ {flat[(est, how)]:.4f}; best {flat.max():.4f}; within 0.001: "
          f"{', '.join(f'{e}+{m}' for e, m in top)})")

    print("\n## Per column: paper vs in-sample vs held-out (chosen estimator and merge)\n")
    print("| pool | benchmark | task | n | paper | in-sample | held-out (mean ± sd, 5 seeds) | in-sample triplet | "
          "best possible triplet (in-sample) | reachable? |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (pool, bench, task), g in runs.groupby(["pool", "bench", "task"], sort=False):
        ins = g[(g.protocol == "in_sample") & (g.estimator == est)].iloc[0]
        h = g[(g.protocol == "held_out") & (g.estimator == est)][f"rho_{how}"]
        b = best[(best.pool == pool) & (best.bench == bench) & (best.task == task)].iloc[0]
        paper = PAPER.get((bench, task), math.nan)
        reach = "–" if math.isnan(paper) else ("yes" if ins[f"rho_{how}"] >= paper - 0.02 else
                                              ("no: pool bound" if b.best_rho < paper - 0.02 else "no: selection"))
        print(f"| {pool} | {bench} | {task} | {g.n.iloc[0]} | {fmt(paper)} | {fmt(ins[f'rho_{how}'])} | "
              f"{h.mean():.3f} ± {h.std():.3f} | {ins.triplet} | {b.best_rho:.3f} ({b.best_triplet}; {b.best_merge}) | {reach} |")

    print("\n## Stability of the triplet\n")
    print("| pool | benchmark | task | distinct triplets over 5 halves (chosen est.) | distinct over 18 estimators "
          "(in-sample) | runs equal to the in-sample triplet (90 held-out + 18 in-sample) | z2 picks (all runs) |")
    print("|---|---|---|---|---|---|---|")
    for (pool, bench, task), g in runs.groupby(["pool", "bench", "task"], sort=False):
        ins = g[(g.protocol == "in_sample") & (g.estimator == est)].triplet.iloc[0]
        halves = g[(g.protocol == "held_out") & (g.estimator == est)].triplet.nunique()
        ests = g[g.protocol == "in_sample"].triplet.nunique()
        same = (g.triplet == ins).mean()
        z2 = g.triplet.str.split(",").str[1].value_counts()
        print(f"| {pool} | {bench} | {task} | {halves} | {ests} | {same:.0%} | "
              + ", ".join(f"{k} {v}" for k, v in z2.items()) + " |")

    print("\n## Merge rules (chosen estimator): in-sample / held-out mean\n")
    print("| pool | benchmark | task | " + " | ".join(MERGES) + " |")
    print("|---|---|---|" + "---|" * len(MERGES))
    for (pool, bench, task), g in runs.groupby(["pool", "bench", "task"], sort=False):
        ins = g[(g.protocol == "in_sample") & (g.estimator == est)].iloc[0]
        h = g[(g.protocol == "held_out") & (g.estimator == est)]
        print(f"| {pool} | {bench} | {task} | " + " | ".join(
            f"{fmt(ins[f'rho_{m}'])} / {h[f'rho_{m}'].mean():.3f}" for m in MERGES) + " |")

    print("\n## Binning alone (24 bins, no correction, rank_sum): in-sample ρ and triplet\n")
    print("| pool | benchmark | task | " + " | ".join(BINNINGS) + " |")
    print("|---|---|---|" + "---|" * len(BINNINGS))
    for (pool, bench, task), g in runs.groupby(["pool", "bench", "task"], sort=False):
        cells = []
        for b in BINNINGS:
            r = g[(g.protocol == "in_sample") & (g.estimator == f"{b}/24")].iloc[0]
            cells.append(f"{fmt(r.rho_rank_sum)} ({r.triplet})")
        print(f"| {pool} | {bench} | {task} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
