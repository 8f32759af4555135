"""LIBRA fitted on one labelled set, applied unfitted to another (issue: LIBRA across benchmarks).

Every transfer goes through zcnas's own code path: ``zcnas.combiners.Libra`` (conf/combiner/libra.yaml's
settings) fitted on the fitting set, saved as a combiner JSON (``results/combiners/``), read back with
``zcnas.combiners.saved.load`` and applied to the other set exactly as ``combiner.from=<it>`` does. Beside it,
on the same archs: #params, the best single proxy of the fitting set (its sign fixed there), L-SWAG, the
label-free rank aggregations over the same proxies (``rank_mean``, ``aznas_rank``), and the triplet an
in-sample fit on the applied set would choose.

Sets (no new probing; every score is a committed zcnas result):
  (a) AutoFormer-T, exact Auto-Prox network, seed-0 scores (experiments/autoformer_lswag/results/
      autoprox_seed0_terms.csv): 100 subnets, 5 seeded splits into two halves of 50, fit on one, apply to the
      other, every one of the 7 accuracy columns;
  (b) NB201: fitted on the CIFAR-10 cells of the headline grid (experiments/benchmark_grid/results/headline,
      500 cells a seed), applied to its CIFAR-100 and ImageNet16-120 cells (other samples of 500);
  (c) NB301: fitted on NAS-Bench-Suite-Zero's NB301 table (its own proxy implementations) minus the cells the
      headline grid scored, applied to zcnas's scores of those cells (a DARTS file with labels, as a user's
      ``benchmark=file`` of Genotype strings would be).

    python experiments/libra_transfer/transfer.py        # -> experiments/libra_transfer/results/
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from zcnas.combiners import Libra
from zcnas.combiners.rank import merge, usable_columns
from zcnas.combiners.saved import load, save_selection
from zcnas.data.benchmarks import load_runs
from zcnas.data.suite_zero import load_suite_zero
from zcnas.metrics import correlate

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
HEADLINE = ROOT / "experiments" / "benchmark_grid" / "results" / "headline"
AUTOFORMER = ROOT / "experiments" / "autoformer_lswag" / "results" / "autoprox_seed0_terms.csv"
AF_PROXIES = ["lswag", "zico", "swap", "nwot", "reg_swap", "params", "flops"]
AF_TARGETS = ["c100_base_acc", "c100_kd_acc", "flower_base_acc", "flower_kd_acc", "chaoyang_base_acc",
              "chaoyang_kd_acc", "imagenet_super_acc"]
NB201_TARGETS = {"nb201_c10": "cifar10", "nb201_c100": "cifar100", "nb201_in16": "ImageNet16-120"}
SPLITS = 5


def libra() -> Libra:
    """LIBRA with the settings of conf/combiner/libra.yaml (the ones every zcnas run uses)."""
    est = OmegaConf.load(ROOT / "conf" / "combiner" / "libra.yaml").estimator
    return Libra(**{k: v for k, v in est.items() if k != "_target_"})


def rho(pred: np.ndarray, y: np.ndarray, seed: int) -> dict[str, float]:
    """Spearman ρ with its seeded 95 % bootstrap interval (zcnas.metrics.correlate)."""
    r = correlate(pred, y, seed=seed)
    return {"rho": r["spearman"], "lo": r["spearman_lo"], "hi": r["spearman_hi"], "n": r["n"]}


def transfer(fit: pd.DataFrame, y_fit: np.ndarray, apply: pd.DataFrame, y_apply: np.ndarray, proxies: list[str],
             fitted_on: dict[str, str], path: Path, seed: int) -> list[dict[str, object]]:
    """Fit LIBRA on ``fit`` -> save it to ``path`` -> load it -> apply to ``apply``; one record per method on
    the applied archs (``method``, ``rho``, ``lo``, ``hi``, ``n``, ``detail``)."""
    Zf, Za = fit[proxies].reset_index(drop=True), apply[proxies].reset_index(drop=True)
    save_selection(libra().fit(Zf, y_fit), path, fitted_on, fit.index)
    saved = load(path, "combiner.from")
    own = libra().fit(Za, y_apply)  # what an in-sample fit on the applied archs would pick (hindsight)
    fit_rho = {p: correlate(fit[p].to_numpy(float), y_fit, n_boot=0)["spearman"]  # each proxy's ρ where fitted
               for p in dict.fromkeys(["params", *usable_columns(Zf)])}
    best = max(usable_columns(Zf), key=lambda p: abs(fit_rho[p]) if np.isfinite(fit_rho[p]) else -1)
    usable = usable_columns(Za)
    out = [("libra.transferred", saved.predict(Za), ",".join(saved.selected_)),
           ("libra.in_sample", own.predict(Za), ",".join(own.selected_)),
           ("params", apply["params"].to_numpy(float), ""),
           ("best_single_of_fit", np.sign(fit_rho[best]) * Za[best].to_numpy(float), best),
           ("lswag", apply["lswag"].to_numpy(float), ""),
           ("params_signed", np.sign(fit_rho["params"]) * apply["params"].to_numpy(float), f"{np.sign(fit_rho['params']):+.0f}"),
           ("rank_mean", merge(Za[usable], "rank_sum"), ",".join(usable)),
           ("aznas_rank", merge(Za[usable], "log_rank"), ",".join(usable))]
    return [{"method": m, **rho(pred, y_apply, seed), "detail": d,
             "same_triplet": sorted(saved.selected_) == sorted(own.selected_)} for m, pred, d in out]


def autoformer_halves(out: Path) -> pd.DataFrame:
    """(a) AutoFormer-T: fit on one half of the 100 subnets, apply to the other, 5 seeded splits x 7 columns."""
    df = pd.read_csv(AUTOFORMER, dtype={"arch": str}).set_index("arch")
    rows = []
    for split in range(SPLITS):
        perm = np.random.default_rng(split).permutation(len(df))
        a, b = df.iloc[np.sort(perm[:50])], df.iloc[np.sort(perm[50:])]
        for t in AF_TARGETS:
            recs = transfer(a, a[t].to_numpy(float), b, b[t].to_numpy(float), AF_PROXIES,
                            {"space": "autoformer", "task": "cifar100_224", "benchmark": "autoformer", "target": t,
                             "protocol": f"half A of split {split} (numpy default_rng({split}).permutation(100)[:50])"},
                            out / "combiners" / f"autoformer_split{split}_{t}.json", seed=split)
            rows += [{"set": "autoformer_halves", "split": split, "fit": t, "apply": t, **r} for r in recs]
    return pd.DataFrame(rows)


def nb201_tasks(out: Path) -> pd.DataFrame:
    """(b) NB201: LIBRA fitted on the CIFAR-10 cells of each headline seed, applied to CIFAR-100 and
    ImageNet16-120 cells of the same seed (seeds whose three columns are all committed)."""
    rows = []
    for seed in range(3):
        dirs = {c: sorted(str(p) for p in (HEADLINE / c).glob(f"seed{seed}_chunk*")) for c in NB201_TARGETS}
        if not all(dirs.values()):
            continue
        tables = {c: load_runs(d, NB201_TARGETS[c]).tasks[NB201_TARGETS[c]] for c, d in dirs.items()}
        proxies = [p for p in tables["nb201_c10"].columns if p != "val_accuracy"]
        fit = tables["nb201_c10"]
        for c in ("nb201_c100", "nb201_in16"):
            recs = transfer(fit, fit["val_accuracy"].to_numpy(float), tables[c], tables[c]["val_accuracy"].to_numpy(float),
                            proxies, {"space": "nb201", "task": "cifar10", "benchmark": "nb201", "target": "cifar10",
                                      "protocol": f"in_sample on the headline grid's seed-{seed} CIFAR-10 cells"},
                            out / "combiners" / f"nb201_c10_seed{seed}.json", seed=seed)
            rows += [{"set": "nb201_c10_to_other", "split": seed, "fit": "cifar10", "apply": NB201_TARGETS[c], **r}
                     for r in recs]
    return pd.DataFrame(rows)


def nb301_suite_zero(out: Path) -> pd.DataFrame:
    """(c) NB301: fitted on Suite-Zero's NB301 table (its proxies) minus the headline grid's cells, applied to
    zcnas's own scores of those cells (proxies both have: params, flops, nwot, jacov)."""
    sz = load_suite_zero("nb301").tasks["cifar10"]
    rows = []
    for seed in range(2):
        dirs = sorted(str(p) for p in (HEADLINE / "nb301").glob(f"seed{seed}_chunk*"))
        if not dirs:
            continue
        mine = load_runs(dirs).tasks
        (target, apply), = mine.items()
        fit = sz.drop(index=apply.index.intersection(sz.index))
        proxies = ["params", "flops", "nwot", "jacov"]
        recs = transfer(fit, fit["val_accuracy"].to_numpy(float), apply, apply["val_accuracy"].to_numpy(float), proxies,
                        {"space": "nb301", "task": "cifar10", "benchmark": "suite_zero_nb301", "target": "val_accuracy",
                         "protocol": f"in_sample on Suite-Zero NB301 minus the headline grid's seed-{seed} cells"},
                        out / "combiners" / f"nb301_suite_zero_minus_seed{seed}.json", seed=seed)
        rows += [{"set": "suite_zero_nb301_to_zcnas", "split": seed, "fit": "val_accuracy", "apply": target, **r}
                 for r in recs]
    return pd.DataFrame(rows)


METHODS = ["libra.transferred", "params", "params_signed", "best_single_of_fit", "lswag", "rank_mean", "aznas_rank",
           "libra.in_sample"]


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (set, applied column): each method's mean ρ over splits/seeds, and the paired difference
    transferred − #params and transferred − L-SWAG (mean, with a t interval over the splits when there are ≥ 2)."""
    from scipy import stats

    out = []
    groups = [(key, g) for key, g in rows.groupby(["set", "apply"], sort=False)]
    groups += [((kind, "all columns"), g) for kind, g in rows.groupby("set", sort=False) if g["apply"].nunique() > 1]
    for (kind, apply), g in groups:  # "all columns": every (split, column) a pair
        wide = g.pivot(index=["split", "apply"], columns="method", values="rho")
        rec = {"set": kind, "apply": apply, "splits": len(wide),
               **{f"rho_{m}": wide[m].mean() for m in METHODS},
               "triplet_differs": int((~g[g.method == "libra.transferred"].same_triplet.astype(bool)).sum())}
        for other in ("params", "params_signed", "lswag"):
            d = (wide["libra.transferred"] - wide[other]).to_numpy()
            half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else np.nan
            rec |= {f"diff_{other}": d.mean(), f"diff_{other}_lo": d.mean() - half, f"diff_{other}_hi": d.mean() + half}
        out.append(rec)
    return pd.DataFrame(out)


def report(rows: pd.DataFrame, summary: pd.DataFrame) -> str:
    """report.md: the summary table, then each transfer's triplets."""
    lines = ["# LIBRA transferred (generated by transfer.py; do not edit)", "",
             "Spearman ρ on the applied archs: mean over splits (AutoFormer halves) or seeds (NB201, NB301); "
             "Δ = transferred − other, paired, with a 95 % t interval over the splits/seeds.", "",
             "#params signed: #params times the sign of its ρ on the fitting set (what the same labels buy a single "
             "proxy).", "",
             "| set | applied to | n splits | LIBRA transferred | #params | #params signed | best single of fit set | L-SWAG "
             "| rank_mean | aznas_rank | LIBRA in-sample (hindsight) | Δ vs #params | Δ vs #params signed | Δ vs L-SWAG "
             "| triplet ≠ in-sample |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    def ci(r: pd.Series, k: str) -> str:
        return f"{r[k]:+.3f}" + (f" [{r[k + '_lo']:+.3f}, {r[k + '_hi']:+.3f}]" if np.isfinite(r[k + "_lo"]) else "")
    for _, r in summary.iterrows():
        lines.append(f"| {r['set']} | {r['apply']} | {r.splits} | " + " | ".join(f"{r[f'rho_{m}']:.3f}" for m in METHODS)
                     + f" | {ci(r, 'diff_params')} | {ci(r, 'diff_params_signed')} | {ci(r, 'diff_lswag')} | "
                     f"{r.triplet_differs} of {r.splits} |")
    lines += ["", "Per split: the transferred triplet, the hindsight one, and ρ with its bootstrap 95 % interval.", "",
              "| set | split | applied to | transferred triplet | ρ [95 %] | in-sample triplet | #params ρ | L-SWAG ρ |",
              "|---|---|---|---|---|---|---|---|"]
    for (kind, split, apply), g in rows.groupby(["set", "split", "apply"], sort=False):
        m = g.set_index("method")
        t = m.loc["libra.transferred"]
        lines.append(f"| {kind} | {split} | {apply} | {t.detail} | {t.rho:.3f} [{t.lo:.3f}, {t.hi:.3f}] | "
                     f"{m.loc['libra.in_sample'].detail} | {m.loc['params'].rho:.3f} | {m.loc['lswag'].rho:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run the three transfers; write results/transfer.csv, summary.csv, report.md and the fitted combiners."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE / "results")
    args = ap.parse_args()
    (args.out / "combiners").mkdir(parents=True, exist_ok=True)
    rows = pd.concat([autoformer_halves(args.out), nb201_tasks(args.out), nb301_suite_zero(args.out)], ignore_index=True)
    rows.to_csv(args.out / "transfer.csv", index=False, float_format="%.6g")
    summary = summarise(rows)
    summary.to_csv(args.out / "summary.csv", index=False, float_format="%.6g")
    (args.out / "report.md").write_text(report(rows, summary))
    print(report(rows, summary).split("\n\nPer split")[0])


if __name__ == "__main__":
    main()
