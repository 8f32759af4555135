"""Collect the benchmark grid's runs (``grid.py``) into the L-SWAG paper's Fig. 3, Fig. 4 and Table 3.

Reference: Casarin, Escalera, Lanz, "L-SWAG", CVPR 2025 (arXiv 2505.07300): Fig. 3 (heatmap of Spearman ρ,
proxy x benchmark, ordered by mean), Fig. 4 (mean ρ over benchmarks: L-SWAG 0.72, NWOT 0.62 second) and
Table 3 (L-SWAG's components). Reads ``<grid>/{main,ablation}/<column>/`` through ``zcnas.summarize.collect``
(finished runs, merged shards instead of their parts), adds AZ-NAS as the rank combination Σ log(rank/N)
of its three terms per run (``zcnas.combiners.rank.merge``, label-free: Lee & Ham, CVPR 2024), averages ρ
over seeds and writes into ``--out``: ``records.csv`` (every run x proxy), ``heatmap.csv`` / ``.png``,
``mean_rho.csv`` / ``.png``, ``table3.csv``, ``suite_zero.csv`` (our ρ next to Suite-Zero's precomputed
scores of the same archs) and ``report.md`` (every table, ours next to the paper's numbers).

Usage: python experiments/benchmark_grid/analyse.py logs/experiments/benchmark_grid --out <dir>
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from zcnas.combiners.rank import merge
from zcnas.metrics import correlate
from zcnas.results import read_scores
from zcnas.summarize import collect

AZNAS_TERMS = ["aznas_expressivity", "aznas_trainability", "aznas_progressivity"]
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
    plus an ``aznas`` row per run that has the three AZ-NAS terms."""
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
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

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


def main(argv: list[str] | None = None) -> None:
    """``python experiments/benchmark_grid/analyse.py GRID_DIR [--out DIR]``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("grid", type=Path, help="grid.py's --out directory")
    p.add_argument("--out", type=Path, default=None, help="where the tables and plots go (default: GRID/analysis)")
    args = p.parse_args(argv)
    try:
        tables = write(args.grid, args.out or args.grid / "analysis")
    except (ValueError, OSError) as err:
        sys.exit(f"analyse.py: error: {err}")
    print(tables["heatmap"].round(3).to_string())


if __name__ == "__main__":
    main()
