"""Collect the benchmark grid's runs (``grid.py``) into the L-SWAG paper's Fig. 3, Fig. 4 and Table 3.

Reference: Casarin, Escalera, Lanz, "L-SWAG", CVPR 2025 (arXiv 2505.07300): Fig. 3 (heatmap of Spearman ρ,
proxy x benchmark, ordered by mean), Fig. 4 (mean ρ over benchmarks: L-SWAG 0.72, NWOT 0.62 second) and
Table 3 (L-SWAG's components). Reads ``<grid>/{main,ablation}/<column>/`` through ``zcnas.summarize.collect``
(finished runs, merged shards instead of their parts), adds AZ-NAS as the rank combination Σ log(rank/N)
of its four terms (three + FLOPs) per run (``zcnas.combiners.rank.merge``, label-free: Lee & Ham, CVPR 2024), averages ρ
over seeds and writes into ``--out``: ``records.csv`` (every run x proxy), ``heatmap.csv`` / ``.png``,
``mean_rho.csv`` / ``.png``, ``table3.csv``, ``suite_zero.csv`` (our ρ next to Suite-Zero's precomputed
scores of the same archs) and ``report.md`` (every table, ours next to the paper's numbers).

A ``grid.py --protocol headline`` folder (it has a ``protocol.json``) is analysed by :func:`headline`
instead: ρ per (proxy, column) with a 95 % interval from a seed-stratified bootstrap over cells, Fig. 4's
mean ρ with paired bootstrap intervals of L-SWAG − NWOT and L-SWAG − #params, Table 3 and the Fig. 2a
window sweep from the per-arch decile record, Suite-Zero's precomputed scores of the same cells, the
saturation check and the cost per column; the same committed chunks always give the same bytes.

Usage: python experiments/benchmark_grid/analyse.py logs/experiments/benchmark_grid --out <dir>
       python experiments/benchmark_grid/analyse.py experiments/benchmark_grid/results/headline --out <same>
"""

from __future__ import annotations

import argparse
import json
import sys
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from zcnas.combiners.rank import merge
from zcnas.metrics import correlate
from zcnas.results import read_scores
from zcnas.summarize import collect

AZNAS_TERMS = ["aznas_expressivity", "aznas_trainability", "aznas_progressivity", "flops"]
"""AZ-NAS's score (Lee & Ham, CVPR 2024): Σ log(rank/N) of expressivity, trainability, progressivity and complexity
(FLOPs); reference cvlab-yonsei/AZ-NAS, NB201/tss_general.ipynb (its ``rank_agg`` starts from the FLOPs' ranks)."""
PAPER_FIG4 = {"lswag": 0.72, "nwot": 0.62}
"""Fig. 4 of the paper: mean ρ over all its benchmarks (19 CNN columns + AutoFormer), L-SWAG first, NWOT second."""

TABLE3_ROWS = [("ZiCo", "main", "zico"), ("no µ", "ablation", "lswag_lambda"), ("no µ + L̂", "main", "lswag_lambda"),
               ("no µ + Ψ", "ablation", "lswag"), ("no µ + L̂ + Ψ (L-SWAG)", "main", "lswag")]
"""Table 3's rows zcnas computes: (label, grid kind, proxy); ablation = the whole network (lo=0, hi=10)."""
TABLE3_COLUMNS = ["nb201_c10", "nb201_c100", "nb201_in16", "micro_ae", "micro_jig", "macro_ae", "macro_jig"]
PAPER_TABLE3 = {
    "ZiCo": [0.75, 0.80, 0.78, 0.16, 0.53, 0.19, 0.05],
    "no µ": [0.78, 0.81, 0.79, 0.19, 0.54, 0.20, 0.40],
    "no µ + L̂": [0.79, 0.82, 0.80, 0.28, 0.56, 0.37, 0.56],
    "no µ + Ψ": [0.79, 0.82, 0.80, 0.27, 0.55, 0.74, 0.75],
    "no µ + L̂ + Ψ (L-SWAG)": [0.79, 0.83, 0.80, 0.31, 0.58, 0.79, 0.78],
}
"""The paper's Table 3 on the columns zcnas computes (its Normal columns need Taskonomy labels); the
tick layout of its rows is read from an OCR of the table, so the middle rows' labels are a reconstruction."""


def records(grid: Path) -> pd.DataFrame:
    """One row per (kind, column, run, proxy, target): Spearman/Kendall of every run under ``grid``,
    plus an ``aznas`` row per run that has the four AZ-NAS terms (:data:`AZNAS_TERMS`)."""
    frames = []
    for kind in ("main", "ablation"):
        for col_dir in sorted(p for p in (grid / kind).glob("*") if p.is_dir()):
            recs = collect([col_dir])
            recs = recs[~recs.proxy.str.endswith(".held_out")]
            extra = []
            for run, group in recs.groupby("run", sort=False):
                scores = read_scores(Path(run) / "scores.csv")
                if set(AZNAS_TERMS) <= set(scores.columns):
                    combined = merge(scores[AZNAS_TERMS], "log_rank")
                    for t in group.target.unique():
                        c = correlate(combined, scores[t].to_numpy(dtype=float), n_boot=0)
                        extra.append({**group.iloc[0][["run", "setting", "seed"]].to_dict(), "proxy": "aznas",
                                      "target": t, "n": c["n"], "spearman": c["spearman"], "kendall": c["kendall"],
                                      "top10_precision": c["top10_precision"], "ndcg10": c["ndcg10"]})
            frames.append(pd.concat([recs, pd.DataFrame(extra)], ignore_index=True).assign(kind=kind, column=col_dir.name))
    if not frames:
        raise FileNotFoundError(f"{grid}: no main/<column>/ or ablation/<column>/ sweep directories (grid.py --out)")
    out = pd.concat(frames, ignore_index=True)
    return out[["kind", "column", "target", "proxy", "seed", "n", "spearman", "kendall", "top10_precision", "run"]]


def _order(columns: Iterable[str]) -> list[str]:
    """Columns in the paper's order (NB201 x3, NB101, NB301, Micro, Macro), others after, by name."""
    paper = [*TABLE3_COLUMNS[:3], "nb101", "nb301", *TABLE3_COLUMNS[3:]]
    columns = list(columns)
    return [c for c in paper if c in columns] + sorted(set(columns) - set(paper))


def heatmap(rec: pd.DataFrame) -> pd.DataFrame:
    """Mean ρ over seeds, proxy x column (main runs, computed proxies), rows by mean over columns (Fig. 3)."""
    main = rec[(rec.kind == "main") & ~rec.proxy.str.startswith("sz_")]
    table = main.pivot_table(index="proxy", columns="column", values="spearman", aggfunc="mean")
    table = table[_order(table.columns)]
    table["mean"] = table.mean(axis=1)
    return table.sort_values("mean", ascending=False)


def table3(rec: pd.DataFrame) -> pd.DataFrame:
    """Table 3 rows (ours, mean over seeds) on the grid's columns, with the paper's values where it has them."""
    rows = []
    for label, kind, proxy in TABLE3_ROWS:
        sel = rec[(rec.kind == kind) & (rec.proxy == proxy)]
        means = sel.groupby("column").spearman.mean()
        for col in means.index:
            paper = PAPER_TABLE3[label][TABLE3_COLUMNS.index(col)] if col in TABLE3_COLUMNS else np.nan
            rows.append({"row": label, "column": col, "ours": means[col], "paper": paper,
                         "seeds": sel[sel.column == col].seed.nunique()})
    return pd.DataFrame(rows, columns=["row", "column", "ours", "paper", "seeds"])


def suite_zero(rec: pd.DataFrame) -> pd.DataFrame:
    """Our ρ next to Suite-Zero's precomputed score (``sz_<proxy>``) on the same archs, per column."""
    main = rec[rec.kind == "main"].groupby(["column", "proxy"]).spearman.mean()
    rows = []
    for (col, proxy), rho in main.items():
        if not proxy.startswith("sz_"):
            sz = main.get((col, f"sz_{proxy}"))
            if sz is not None:
                rows.append({"column": col, "proxy": proxy, "ours": rho, "suite_zero": sz})
    return pd.DataFrame(rows, columns=["column", "proxy", "ours", "suite_zero"])


def _md(df: pd.DataFrame, index: bool = True) -> str:
    """A markdown table with 3-decimal floats."""
    d = df.reset_index() if index else df
    lines = ["| " + " | ".join(map(str, d.columns)) + " |", "|" + "---|" * len(d.columns)]
    for r in d.itertuples(index=False):
        lines.append("| " + " | ".join("" if isinstance(v, float) and v != v else f"{v:.3f}" if isinstance(v, float)
                                       else str(v) for v in r) + " |")
    return "\n".join(lines)


def plots(heat: pd.DataFrame, out: Path) -> list[Path]:
    """``heatmap.png`` (Fig. 3 layout) and ``mean_rho.png`` (Fig. 4: mean ρ per proxy, paper's values marked)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = heat.drop(columns="mean").to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(2.5 + 0.9 * values.shape[1], 1.2 + 0.35 * values.shape[0]))
    im = ax.imshow(values, cmap="viridis", vmin=-1, vmax=1, aspect="auto")
    ax.set_xticks(range(values.shape[1]), heat.columns[:-1], fontsize=7, rotation=30)
    ax.set_yticks(range(values.shape[0]), heat.index, fontsize=7)
    for (i, j), v in np.ndenumerate(values):
        if v == v:
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6, color="w" if v < 0.4 else "k")
    fig.colorbar(im, ax=ax, label="Spearman ρ (mean over seeds)")
    fig.tight_layout()
    paths = [out / "heatmap.png", out / "mean_rho.png"]
    fig.savefig(paths[0], dpi=90)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(1.5 + 0.4 * len(heat), 3.2))
    ax.bar(range(len(heat)), heat["mean"], color=["C3" if p == "lswag" else "C0" for p in heat.index])
    for i, p in enumerate(heat.index):
        if p in PAPER_FIG4:
            ax.plot(i, PAPER_FIG4[p], "k_", ms=14, mew=2)
    ax.set_xticks(range(len(heat)), heat.index, rotation=60, fontsize=7)
    ax.set_ylabel(f"mean ρ over {values.shape[1]} columns")
    ax.set_title("bars: this grid; black ticks: the paper's Fig. 4", fontsize=8)
    ax.axhline(0, color="k", lw=0.5)
    fig.tight_layout()
    fig.savefig(paths[1], dpi=90)
    plt.close(fig)
    return paths


def write(grid: Path, out: Path) -> dict[str, pd.DataFrame]:
    """Every table and plot of the grid under ``grid`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    rec = records(grid)
    heat, t3, sz = heatmap(rec), table3(rec), suite_zero(rec)
    rec.assign(run=[str(Path(r).relative_to(grid)) if Path(r).is_relative_to(grid) else r for r in rec.run]) \
        .to_csv(out / "records.csv", index=False)
    heat.to_csv(out / "heatmap.csv")
    mean = heat[["mean"]].assign(paper_fig4=[PAPER_FIG4.get(p, np.nan) for p in heat.index])
    mean.to_csv(out / "mean_rho.csv")
    t3.to_csv(out / "table3.csv", index=False)
    sz.to_csv(out / "suite_zero.csv", index=False)
    plots(heat, out)
    t3_wide = t3.assign(cell=[f"{o:.3f} / {'–' if q != q else f'{q:.2f}'}" for o, q in zip(t3.ours, t3.paper, strict=True)]) \
        .pivot(index="row", columns="column", values="cell").reindex([r for r, _, _ in TABLE3_ROWS]).dropna(how="all")
    t3_wide = t3_wide[_order(t3_wide.columns)]
    seeds = rec.groupby("column").seed.nunique().to_dict()
    archs = rec.groupby("column").n.max().to_dict()
    (out / "report.md").write_text("\n\n".join([
        f"# Benchmark grid: {grid}",
        "Columns (seeds, archs per run): " + ", ".join(f"{c} ({seeds[c]}, {int(archs[c])})" for c in seeds),
        "## Fig. 3: Spearman ρ, mean over seeds (rows by mean over the columns here)", _md(heat),
        "## Fig. 4: mean ρ; the paper's over all its benchmarks (arXiv 2505.07300, Fig. 4)", _md(mean),
        "## Table 3: L-SWAG's components, ours / the paper's (Table 3)", _md(t3_wide) if len(t3) else "(no runs)",
        "## Our computed proxies vs Suite-Zero's precomputed scores of the same archs", _md(sz, index=False),
    ]) + "\n")
    return {"records": rec, "heatmap": heat, "table3": t3, "suite_zero": sz}


# --------------------------------------------------------------------------------------------- headline
N_BOOT = 2000
"""Bootstrap resamples of every headline interval (seeded: the same chunks give the same bytes)."""
PAPER_FIG3 = {  # the paper's Fig. 3 on the columns zcnas computes, where its heatmap is legible (arXiv 2505.07300)
    "lswag": {"nb201_c10": 0.79, "nb201_c100": 0.83, "nb201_in16": 0.80, "micro_ae": 0.31, "micro_jig": 0.58,
              "macro_ae": 0.79, "macro_jig": 0.78},
}
"""L-SWAG's cells of the paper's Fig. 3 that Table 3 repeats (the all-components row)."""
HEAD_ROWS = [("ZiCo", "zico", None), ("no µ", "lswag_lambda", "full"), ("no µ + L̂", "lswag_lambda", "window"),
             ("no µ + Ψ", "lswag", "full"), ("no µ + L̂ + Ψ (L-SWAG)", "lswag", "window")]
"""Table 3 rows from one probe: (label, proxy, window): ``full`` = [0, 10] from the decile record,
``window`` = the run's own (label-free, conf/window/) score."""


def _own_chunks(grid: Path) -> dict[str, dict[int, pd.DataFrame]]:
    """column -> seed -> the seed's cells (scores, decile record if any, truth; joined by arch), finished chunks only."""
    out: dict[str, dict[int, list[pd.DataFrame]]] = {}
    for d in sorted(grid.glob("*/seed*_chunk*of*")):
        if d.name.endswith(".tmp") or not (d / "run_summary.json").is_file():
            continue
        seed = int(d.name.split("_")[0].removeprefix("seed"))
        frame = read_scores(d / "scores.csv")
        if (d / "probe_record.csv").is_file():
            record = pd.read_csv(d / "probe_record.csv")
            if frame.arch.tolist() != record.arch.tolist():
                raise ValueError(f"{d}: scores.csv and probe_record.csv list different archs: recompute the chunk")
            frame = frame.merge(record, on="arch")
        summary = json.loads((d / "run_summary.json").read_text())
        frame = frame.assign(_cpu_h=summary["cost"]["cpu_hours"] / len(frame))
        out.setdefault(d.parent.name, {}).setdefault(seed, []).append(frame)
    return {c: {s: pd.concat(f, ignore_index=True) for s, f in sorted(seeds.items())} for c, seeds in out.items()}


def _chunks(grid: Path) -> dict[str, dict[int, pd.DataFrame]]:
    """:func:`_own_chunks`; for a protocol that extends another (``protocol.json`` ``extends``), joined per arch
    with the extended folder's (``<grid>/../<extends>``): the cells both have scored, the CPU-hours summed."""
    own = _own_chunks(grid)
    spec = json.loads((grid / "protocol.json").read_text()) if (grid / "protocol.json").is_file() else {}
    if not spec.get("extends"):
        return own
    base, out = _own_chunks(grid.parent / spec["extends"]), {}
    for col, seeds in own.items():
        for s, frame in seeds.items():
            if s in base.get(col, {}):
                b = base[col][s]
                new = frame[["arch", *(c for c in frame.columns if c not in b.columns)]]
                joined = b.merge(new.assign(_ext_cpu_h=frame["_cpu_h"]), on="arch")
                out.setdefault(col, {})[s] = joined.assign(_cpu_h=joined._cpu_h + joined.pop("_ext_cpu_h"))
    return out


def _protocol_proxies(grid: Path) -> list[str]:
    """The proxies a protocol folder's chunks score, with those of the protocol it extends first."""
    spec = json.loads((grid / "protocol.json").read_text())
    base = _protocol_proxies(grid.parent / spec["extends"]) if spec.get("extends") else []
    return base + [p for p in spec["proxies"] if p not in base]


def _rank_rho(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman ρ of each row pair of (B, n) arrays (average ranks), NaN where a row is constant."""
    rx, ry = stats.rankdata(x, axis=1), stats.rankdata(y, axis=1)
    rx -= rx.mean(1, keepdims=True)
    ry -= ry.mean(1, keepdims=True)
    den = np.sqrt((rx * rx).sum(1) * (ry * ry).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (rx * ry).sum(1) / den, np.nan)


def _proxy_scores(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Every ranked column of one seed's cells: the computed proxies, Table 3's full-window rows from the
    decile record (``lswag@full``, ``lswag_lambda@full``) and Suite-Zero's ``sz_*``."""
    from zcnas.deciles import window_scores

    skip = {"arch", "_cpu_h"} | {c for c in frame.columns if c.startswith(("lam_", "psi_", "log_sigma_", "saturated:"))}
    out = {c: frame[c].to_numpy(float) for c in frame.columns if c not in skip}
    full, lam = window_scores(frame, 0, 10)
    out["lswag@full"], out["lswag_lambda@full"] = full, lam
    if set(AZNAS_TERMS) <= set(frame.columns):  # AZ-NAS: its four terms rank-combined, label-free
        out["aznas"] = merge(frame[AZNAS_TERMS], "log_rank")
    return out


def _target(frame: pd.DataFrame, proxies: list[str]) -> str:
    """The column's ground-truth column: the one left after proxies, record and Suite-Zero columns."""
    left = [c for c in _proxy_scores(frame) if c not in [*proxies, "aznas"] and not c.startswith("sz_") and "@" not in c]
    if len(left) != 1:
        raise ValueError(f"cannot tell the ground-truth column among {left}")
    return left[0]


def _boot_idx(n: int, seed: int) -> np.ndarray:
    """(N_BOOT, n) resampled cell indices, seeded per (column, seed) so every proxy sees the same resamples and a
    column's intervals do not move when other columns finish."""
    return np.random.default_rng(seed).integers(0, n, size=(N_BOOT, n))


def headline_rho(grid: Path, proxies: list[str]) -> tuple[pd.DataFrame, dict[tuple[str, str], np.ndarray]]:
    """Per (column, proxy): ρ (mean over seeds), n cells, seeds, 95 % interval (cells resampled within each
    seed, the same resamples for every proxy); also each cell's N_BOOT bootstrap means for paired differences."""
    rows, boots = [], {}
    for col, seeds in _chunks(grid).items():
        per_seed: dict[str, list[float]] = {}
        boot: dict[str, list[np.ndarray]] = {}
        for s, frame in seeds.items():
            y = frame[_target(frame, proxies)].to_numpy(float)
            idx = _boot_idx(len(frame), zlib.crc32(f"{col}:{s}".encode()))  # per (column, seed): stable as columns arrive
            for name, x in _proxy_scores(frame).items():
                if name == _target(frame, proxies):
                    continue
                ok = np.isfinite(x) & np.isfinite(y)
                rho = correlate(x, y, n_boot=0)["spearman"]
                per_seed.setdefault(name, []).append(rho)
                xb, yb = np.where(ok, x, np.nan)[idx], y[idx]
                okb = np.isfinite(xb) & np.isfinite(yb)
                if okb.all():
                    boot.setdefault(name, []).append(_rank_rho(xb, yb))
                else:  # NaN scores: drop them resample by resample
                    boot.setdefault(name, []).append(np.array([correlate(a[m], b[m], n_boot=0)["spearman"]
                                                               for a, b, m in zip(xb, yb, okb, strict=True)]))
        for name, rhos in per_seed.items():
            b = np.mean(boot[name], axis=0)
            boots[col, name] = b
            sat = [int(f[f"saturated:{name}"].sum()) for f in seeds.values() if f"saturated:{name}" in f]
            rows.append({"column": col, "proxy": name, "rho": float(np.mean(rhos)), "lo": float(np.nanpercentile(b, 2.5)),
                         "hi": float(np.nanpercentile(b, 97.5)), "n": int(sum(len(f) for f in seeds.values())),
                         "seeds": len(rhos), "rho_sd_seeds": float(np.std(rhos, ddof=1)) if len(rhos) > 1 else np.nan,
                         "n_saturated": sum(sat) if sat else np.nan,
                         "cpu_h": float(sum(f["_cpu_h"].sum() for f in seeds.values()))})
    if not rows:
        raise FileNotFoundError(f"{grid}: no finished chunk (<column>/seed<s>_chunk<k>of<K>/): run grid.py first")
    return pd.DataFrame(rows), boots


def headline_fig4(rho: pd.DataFrame, boots: dict[tuple[str, str], np.ndarray], columns: list[str],
                  pairs: list[tuple[str, str]]) -> pd.DataFrame:
    """Mean ρ over ``columns`` per proxy, and for each (a, b) pair the difference of means with its paired
    stratified bootstrap interval (cells resampled within column and seed) and the across-columns t interval
    (the columns as the sample: how little a handful of benchmarks can tell)."""
    rows = []
    for a, b in pairs:
        have = [c for c in columns if (c, a) in boots and (c, b) in boots]
        if not have:
            continue
        d = rho.set_index(["column", "proxy"]).rho
        per_col = np.array([d[c, a] - d[c, b] for c in have])
        boot = np.mean([boots[c, a] - boots[c, b] for c in have], axis=0)
        k = len(per_col)
        half = stats.t.ppf(0.975, k - 1) * per_col.std(ddof=1) / np.sqrt(k) if k > 1 else np.nan
        rows.append({"a": a, "b": b, "columns": k, "mean_a": float(np.mean([d[c, a] for c in have])),
                     "mean_b": float(np.mean([d[c, b] for c in have])), "diff": float(per_col.mean()),
                     "cells_lo": float(np.nanpercentile(boot, 2.5)), "cells_hi": float(np.nanpercentile(boot, 97.5)),
                     "columns_lo": float(per_col.mean() - half), "columns_hi": float(per_col.mean() + half),
                     "a_wins": int((per_col > 0).sum())})
    return pd.DataFrame(rows)


def window_sweep(grid: Path, proxies: list[str]) -> pd.DataFrame:
    """Fig. 2a from the decile record: ρ of lswag over every window [lo, hi] per column (mean over seeds),
    with the run's own label-free window marked."""
    from zcnas.deciles import window_scores

    rows = []
    for col, seeds in _chunks(grid).items():
        for lo in range(11):
            for hi in range(lo, 11):
                rhos = [correlate(window_scores(f, lo, hi)[0], f[_target(f, proxies)].to_numpy(float), n_boot=0)["spearman"]
                        for f in seeds.values()]
                rows.append({"column": col, "lo": lo, "hi": hi, "rho": float(np.mean(rhos))})
    return pd.DataFrame(rows)


PAPER_LIBRA = {"nb101": 0.77, "nb301": 0.74, "micro_ae": 0.45, "micro_jig": 0.60, "macro_ae": 0.83, "macro_jig": 0.82}
"""LIBRA in the paper's Table 1 on the grid's Suite-Zero columns (arXiv 2505.07300)."""
PAPER_POOL_EXTRA = ["lswag", "zico", "swap", "reg_swap"]
"""What the paper adds to Suite-Zero's 13 precomputed proxies: its L-SWAG, ZiCo, SWAP and reg-SWAP."""


def libra_table(grid: Path, proxies: list[str], seeds: range = range(5)) -> pd.DataFrame:
    """LIBRA (zcnas defaults) on each Suite-Zero column of the grid with two pools: Suite-Zero's precomputed
    proxies of the cells (``sz_*``) alone, and those + L-SWAG, ZiCo, SWAP, reg-SWAP computed here (the paper's
    pool); both protocols (in-sample: pick and score on every cell; held-out: pick on a seeded half, score on
    the other, ``seeds`` splits), per grid seed, averaged."""
    from zcnas.combiners import Libra
    from zcnas.combiners.evaluate import evaluate

    rows = []
    for col, by_seed in _chunks(grid).items():
        for pool in ("suite_zero", "paper"):
            for protocol in ("in_sample", "held_out"):
                rhos, picks = [], []
                for frame in by_seed.values():
                    sz = [c for c in frame.columns if c.startswith("sz_")]
                    if not sz:
                        break
                    z = frame[sz].rename(columns=lambda c: c.removeprefix("sz_"))
                    if pool == "paper":
                        z = z.join(frame[PAPER_POOL_EXTRA])
                    y = frame[_target(frame, proxies)].to_numpy(float)
                    for split_seed in ([0] if protocol == "in_sample" else list(seeds)):
                        res = evaluate(Libra(), z, y, n_fit=0.5, seed=split_seed, protocol=protocol)
                        rhos.append(res["spearman"])
                        picks.append(",".join(res["fitted"].selected_))
                if rhos:
                    rows.append({"column": col, "pool": pool, "protocol": protocol, "libra": float(np.mean(rhos)),
                                 "runs": len(rhos), "triplet": max(sorted(set(picks)), key=picks.count),
                                 "paper": PAPER_LIBRA.get(col, np.nan)})
    return pd.DataFrame(rows, columns=["column", "pool", "protocol", "libra", "runs", "triplet", "paper"])


def _fmt(v: float) -> str:
    return "" if v != v else f"{v:.3f}"


def headline(grid: Path, out: Path) -> dict[str, pd.DataFrame]:
    """Every table of the headline protocol under ``grid`` into ``out`` (CSV + report.md + plots)."""
    spec = json.loads((grid / "protocol.json").read_text())
    proxies = _protocol_proxies(grid)
    out.mkdir(parents=True, exist_ok=True)
    rho, boots = headline_rho(grid, proxies)
    if set(AZNAS_TERMS) <= set(proxies):
        proxies.append("aznas")
    cols = _order(rho.column.unique())
    heat = rho[rho.proxy.isin(proxies)].pivot(index="proxy", columns="column", values="rho")[cols]
    heat["mean"] = heat.mean(axis=1)
    heat = heat.sort_values("mean", ascending=False)
    fig4 = headline_fig4(rho, boots, cols, [("lswag", "nwot"), ("lswag", "params"), ("nwot", "params"),
                                            ("lswag", "zico"), ("lswag", "swap"), ("lswag", "aznas"),
                                            ("lswag", "meco"), ("lswag", "synflow")])
    t3 = []
    for label, proxy, window in HEAD_ROWS:
        name = proxy if window in (None, "window") else f"{proxy}@full"
        for col in cols:
            sel = rho[(rho.column == col) & (rho.proxy == name)]
            if sel.empty:
                continue
            r = sel.iloc[0]
            paper = PAPER_TABLE3[label][TABLE3_COLUMNS.index(col)] if col in TABLE3_COLUMNS else np.nan
            t3.append({"row": label, "column": col, "ours": r.rho, "lo": r.lo, "hi": r.hi, "paper": paper})
    t3 = pd.DataFrame(t3)
    sz = []
    for col in cols:
        for p in proxies:
            if ((rho.column == col) & (rho.proxy == f"sz_{p}")).any():
                ours = rho[(rho.column == col) & (rho.proxy == p)].iloc[0]
                theirs = rho[(rho.column == col) & (rho.proxy == f"sz_{p}")].iloc[0]
                sz.append({"column": col, "proxy": p, "ours": ours.rho, "suite_zero": theirs.rho, "n": ours.n})
    sz = pd.DataFrame(sz, columns=["column", "proxy", "ours", "suite_zero", "n"])
    sweep = window_sweep(grid, proxies)
    chosen = {}
    for col, _seeds in _chunks(grid).items():
        import yaml

        first = sorted((grid.parent / spec["extends"] if spec.get("extends") else grid).glob(f"{col}/seed*_chunk*of*"))[0]
        w = yaml.safe_load((first / "config.yaml").read_text())["proxy"]["lswag"]
        chosen[col] = (int(w["lo"]), int(w["hi"]))
    best = sweep.loc[sweep.groupby("column").rho.idxmax()].set_index("column")
    windows = pd.DataFrame([{"column": c, "window": f"[{chosen[c][0]}, {chosen[c][1]}]",
                             "rho_window": float(sweep[(sweep.column == c) & (sweep.lo == chosen[c][0]) & (sweep.hi == chosen[c][1])].rho.iloc[0]),
                             "rho_full": float(sweep[(sweep.column == c) & (sweep.lo == 0) & (sweep.hi == 10)].rho.iloc[0]),
                             "best_window": f"[{int(best.loc[c, 'lo'])}, {int(best.loc[c, 'hi'])}]",
                             "rho_best": float(best.loc[c, "rho"])} for c in cols])
    sat = rho[rho.n_saturated.notna() & rho.proxy.isin(proxies)].pivot(index="proxy", columns="column", values="n_saturated")
    sat = sat[[c for c in cols if c in sat.columns]].astype("Int64")
    libra = libra_table(grid, proxies)
    cost = rho[rho.proxy == "lswag"].set_index("column").reindex(cols)[["n", "seeds", "cpu_h"]]
    cost["s_per_arch"] = 3600 * cost.cpu_h / cost.n
    rho.to_csv(out / "rho.csv", index=False, float_format="%.6f")
    heat.to_csv(out / "heatmap.csv", float_format="%.6f")
    fig4.to_csv(out / "fig4.csv", index=False, float_format="%.6f")
    t3.to_csv(out / "table3.csv", index=False, float_format="%.6f")
    sz.to_csv(out / "suite_zero.csv", index=False, float_format="%.6f")
    sweep.to_csv(out / "window_sweep.csv", index=False, float_format="%.6f")
    libra.to_csv(out / "libra_table1.csv", index=False, float_format="%.6f")
    plots(heat, out)
    cell = rho[rho.proxy.isin(proxies)].assign(
        cell=lambda d: [f"{r:.2f} [{a:.2f}, {b:.2f}]" for r, a, b in zip(d.rho, d.lo, d.hi, strict=True)])
    fig3 = cell.pivot(index="proxy", columns="column", values="cell")[cols].reindex(heat.index)
    fig3["mean"] = [f"{m:.3f}" for m in heat["mean"]]
    t3w = t3.assign(cell=[f"{o:.2f} [{a:.2f}, {b:.2f}] / {'–' if q != q else f'{q:.2f}'}"
                          for o, a, b, q in zip(t3.ours, t3.lo, t3.hi, t3.paper, strict=True)]) \
        .pivot(index="row", columns="column", values="cell").reindex([r for r, _, _ in HEAD_ROWS])[cols]
    done = {c: f"{int(cost.loc[c, 'n'])} cells / {int(cost.loc[c, 'seeds'])} seed(s)" for c in cols}
    want = {c: f"{v['n'] * len(v['seeds'])}" for c, v in spec["columns"].items()}
    title = "Headline protocol" if not spec.get("extends") else \
        f"Protocol {spec['protocol']} joined per arch with {spec['extends']}'s scores"
    (out / "report.md").write_text("\n\n".join([
        f"# {title} ({grid.name}): {len(cols)} of {len(spec['columns'])} columns with finished chunks",
        "Cells scored per column (of the protocol's): " + ", ".join(f"{c} {done[c]} (of {want[c]})" for c in cols),
        f"## Fig. 3: Spearman ρ, mean over seeds [95 % interval: cells resampled within each seed, {N_BOOT} resamples]",
        _md(fig3),
        "## Fig. 4: mean ρ over these columns; differences with paired intervals",
        "cells_lo/hi: the cells of these columns resampled (paired, stratified by column and seed); columns_lo/hi: "
        "a t interval treating the columns as the sample. The paper: L-SWAG 0.72, NWOT 0.62 over its benchmarks.",
        _md(fig4, index=False),
        "## Table 3 from one probe: ours [95 %] / the paper's", _md(t3w),
        "## L-SWAG windows: the label-free one used, the whole net, and the best in hindsight (Fig. 2a sweep)",
        _md(windows, index=False),
        "## Saturation check: archs whose pattern count reached min(#units, 2^batch)", _md(sat),
        "## Ours vs Suite-Zero's precomputed scores of the same cells (ρ)", _md(sz, index=False),
        "## LIBRA (Table 1) on these cells: Suite-Zero's pool vs the paper's (+ L-SWAG, ZiCo, SWAP, reg-SWAP)",
        _md(libra, index=False) if len(libra) else "(no Suite-Zero column finished yet)",
        "## Cost (CPU-hours of the runs, one thread)", _md(cost),
    ]) + "\n")
    return {"rho": rho, "heatmap": heat, "fig4": fig4, "table3": t3, "suite_zero": sz, "windows": windows,
            "saturation": sat, "cost": cost, "libra": libra}


def main(argv: list[str] | None = None) -> None:
    """``python experiments/benchmark_grid/analyse.py GRID_DIR [--out DIR]``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("grid", type=Path, help="grid.py's --out directory")
    p.add_argument("--out", type=Path, default=None, help="where the tables and plots go (default: GRID/analysis)")
    args = p.parse_args(argv)
    try:
        if (args.grid / "protocol.json").is_file():
            tables = headline(args.grid, args.out or args.grid)
            print(tables["fig4"].round(3).to_string(index=False))
        else:
            tables = write(args.grid, args.out or args.grid / "analysis")
    except (ValueError, OSError, KeyError) as err:
        sys.exit(f"analyse.py: error: {err}")
    print(tables["heatmap"].round(3).to_string())


if __name__ == "__main__":
    main()
