"""``python -m zcnas.summarize <sweep_dir | run_dir | results_dir> ...``: compare runs.

Collects every finished run under the given paths (a directory holding ``correlations.json`` and
``config.yaml``; shards are left out when their merged run is there) plus experiment-style result
files (``<name>_seed<k>_correlations.json``), and reports, per *setting* (the config values that
differ between runs, seeds excepted), proxy and target: mean ± std and count of Spearman, Kendall
and top-10 % precision over seeds. Writes ``summary.csv`` and (with pyarrow) ``summary.parquet``, a grouped bar
chart with error bars (``summary_spearman.png``) and a proxy × target heatmap of mean Spearman
(``summary_heatmap.png``, as the L-SWAG paper's Fig. 3), and prints a table. A multirun does this
at its end (:class:`zcnas.callbacks.SweepCallback`) and logs it to its MLflow parent run.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zcnas.cli import one_line_errors
from zcnas.results import read_json, read_yaml_data

log = logging.getLogger("zcnas.summarize")

STATS = ("spearman", "kendall", "top10_precision", "ndcg10")
# config keys that never define a setting: seeds (averaged over), bookkeeping, places on disk
IGNORED = re.compile(r"^(seed|probe\.batch_seed|shard\.|tracking\.|cache\.|hydra\.|log_every|threads|"
                     r"engine\.in_flight|device)")
_SEED_IN_NAME = re.compile(r"(^|_)seed\d+(?=_|$)")


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = json.dumps(v) if isinstance(v, list) else str(v)
    return out


def _run_dirs(paths: Iterable[Path]) -> list[Path]:
    """Finished run directories under ``paths``; a shard is dropped where its sweep has a merged run."""
    found: list[Path] = []
    for root in paths:
        if not root.exists():
            raise FileNotFoundError(f"{root} does not exist; give a sweep, run or results directory")
        files = [root / "correlations.json"] if (root / "correlations.json").is_file() else \
            sorted(root.rglob("correlations.json"))
        found += [f.parent for f in files if (f.parent / "config.yaml").is_file()]
    merged_sweeps = {d.parent for d in found if d.name == "merged"} | \
                    {d.parent.parent for d in found if d.parent.name == "merged"}
    return [d for d in dict.fromkeys(found)
            if not (_is_shard(d) and any(s in d.parents for s in merged_sweeps))]


def _config(run_dir: Path) -> dict[str, Any]:
    """A run directory's config.yaml as plain data (:func:`zcnas.results.read_yaml_data`: no links, aliases or
    oversized files; nothing resolved)."""
    cfg = read_yaml_data(run_dir / "config.yaml")
    if not isinstance(cfg, dict):
        raise ValueError(f"{run_dir / 'config.yaml'}: not a zcnas run config (a mapping expected)")
    return cfg


def _is_shard(run_dir: Path) -> bool:
    shard: Any = _config(run_dir).get("shard")
    return isinstance(shard, dict) and int(shard.get("count", 1)) > 1 and "merged" not in run_dir.parts


def _group(key: str) -> str | None:
    """The config group a flat key belongs to (``proxy.<name>`` for a proxy's parameters); None at top level."""
    parts = key.split(".")
    if len(parts) == 1:
        return None
    return ".".join(parts[:2]) if parts[0] == "proxy" and len(parts) > 2 else parts[0]


def _choice(cfg: dict[str, str], group: str) -> str:
    """What names a group's choice: ``<group>.name``, else its ``_target_``'s last part (``NB201Space``)."""
    return cfg.get(f"{group}.name") or cfg.get(f"{group}._target_", "").rsplit(".", 1)[-1]


def setting_labels(cfgs: list[dict[str, str]]) -> list[str]:
    """Each run's setting: the short diff of what its config differs in besides the seed. First the choices
    (``space=``, ``task=``, ``proxies=a+b`` from the flat key ``proxies``, ``combiner=``, ``search=``, ``n=``),
    then a key only where it differs among the runs that have it and made the same choice of its group (``lswag.lo=2``;
    ``task.num_classes`` follows the task, a proxy's defaults are the same wherever it runs: not shown), the
    benchmark target where it is not the task's; should two different configs still share a label, every
    differing key. A key a run leaves empty is not shown for it."""
    runs = [{k: v for k, v in cfg.items() if not IGNORED.match(k)} for cfg in cfgs]
    columns: list[tuple[str, Any]] = [
        *((g, lambda c, g=g: _choice(c, g)) for g in ("space", "task")), ("proxies", lambda c: c.get("proxies", "")),
        *((g, lambda c, g=g: _choice(c, g)) for g in ("combiner", "search")), ("n", lambda c: c.get("n_archs", ""))]
    covered = {"proxies", "n_archs"} | {f"{g}.{k}" for g in ("space", "task", "combiner", "search")
                                        for k in ("name", "_target_")}
    keys = sorted({k for c in runs for k in c} - covered)
    shown_keys: set[str] = set()
    for key in keys:
        if key == "benchmark.target" and all(c.get(key, "") in ("", c.get("task.name", "")) for c in runs):
            continue
        group = _group(key)
        by_choice: dict[str, set[str]] = {}
        for c in runs:
            if key in c:
                choice = _choice(c, group) if group and not group.startswith("proxy.") else ""
                by_choice.setdefault(choice, set()).add(c[key])
        if any(len(v) > 1 for v in by_choice.values()):
            columns.append((key.removeprefix("proxy."), lambda c, key=key: c.get(key, "")))
            shown_keys.add(key)

    def labels(cols: list[tuple[str, Any]]) -> list[str]:
        shown = [(label, get) for label, get in cols if len({get(c) for c in runs}) > 1]
        return [" ".join(v if label == "setting" else f"{label}={v}" for label, get in shown
                         if (v := get(c)) not in ("", "None")) or "all" for c in runs]

    distinct = len({json.dumps(c, sort_keys=True) for c in runs})
    out = labels(columns)
    # the short rules merged two settings: first the keys some runs lack (only those can), then all that differ
    for extra in ([k for k in keys if len({k in c for c in runs}) > 1], keys):
        if len(set(out)) < distinct:
            out = labels(columns + [(k, lambda c, k=k: c.get(k, "")) for k in extra if k not in shown_keys])
    return out


def collect(paths: Sequence[Path]) -> pd.DataFrame:
    """One row per (run, proxy, target) correlation record, with ``run``, ``setting`` and ``seed``."""
    runs: list[tuple[str, dict[str, str], list[dict[str, Any]]]] = []
    for d in _run_dirs(paths):
        raw = _config(d)
        cfg = {**_flat(raw), "proxies": "+".join(sorted(raw["proxy"])) if isinstance(raw.get("proxy"), dict) else ""}
        runs.append((str(d), cfg, read_json(d / "correlations.json", f"{d / 'correlations.json'} is missing",
                                            f"{d / 'correlations.json'}: not readable JSON ({{err}})")))
    for root in paths:  # experiment result files: <name>_seed<k>_correlations.json (no config)
        for f in sorted(root.glob("*_correlations.json")) if root.is_dir() else []:
            name = f.name.removesuffix("_correlations.json")
            found = re.search(r"seed(\d+)", name)
            runs.append((str(f), {"setting": _SEED_IN_NAME.sub("", name).strip("_") or "all",
                                  "seed": found.group(1) if found else "0"}, json.loads(f.read_text())))
    if not runs:
        raise FileNotFoundError(f"no finished runs (correlations.json + config.yaml) under {', '.join(map(str, paths))}")
    labels = setting_labels([cfg for _, cfg, _ in runs])
    rows = []
    for (run, cfg, recs), setting in zip(runs, labels, strict=True):
        seed = cfg.get("seed", "0")
        for r in recs:
            if "proxy" not in r or "target" not in r:
                raise ValueError(f"{run}: a correlation record without proxy/target ({sorted(r)}); "
                                 "is this a zcnas correlations.json?")
            rows.append({"run": run, "setting": setting, "seed": seed, "proxy": r["proxy"],
                         "target": r["target"], "n": r.get("n"),
                         **{s: (math.nan if r.get(s) is None else r[s]) for s in STATS}})
    return pd.DataFrame(rows)


def summarize(records: pd.DataFrame) -> pd.DataFrame:
    """Mean, std (ddof=1; NaN for one seed) and count over seeds per (setting, proxy, target)."""
    g = records.groupby(["setting", "proxy", "target"], sort=False)
    out = g[list(STATS)].agg(["mean", "std", "count"])
    out.columns = [f"{s}_{a}" if a != "mean" else s for s, a in out.columns]
    out = out.rename(columns={f"{s}_count": f"{s}_n" for s in STATS})
    out["seeds"] = g["seed"].nunique()
    out["n_archs"] = g["n"].min()
    return out.reset_index()


def format_summary(summary: pd.DataFrame) -> str:
    """Fixed-width table: setting, proxy, target, ρ and τ (mean ± std over seeds; the value alone for one seed),
    top-10 % precision, nDCG@10 %, seeds, archs."""
    ws = max([8, *(len(s) + 2 for s in summary.setting)])
    wp = max([8, *(len(p) + 2 for p in summary.proxy)])

    def cell(mean: float, std: float, seeds: int) -> str:
        return f"{mean:.3f}" if seeds < 2 or math.isnan(std) else f"{mean:.3f} ± {std:.3f}"

    lines = [f"{'setting':<{ws}}{'proxy':<{wp}}{'target':<20}{'Spearman':>17}{'Kendall':>17}{'top10%':>8}{'nDCG':>7}"
             f"{'seeds':>6}{'archs':>7}"]
    for r in summary.itertuples():
        lines.append(f"{r.setting:<{ws}}{r.proxy:<{wp}}{r.target:<20}{cell(r.spearman, r.spearman_std, r.seeds):>17}"
                     f"{cell(r.kendall, r.kendall_std, r.seeds):>17}{r.top10_precision:>8.3f}{r.ndcg10:>7.3f}{r.seeds:>6}"
                     f"{int(r.n_archs) if r.n_archs == r.n_archs else 0:>7}")
    return "\n".join(lines)


def plot(summary: pd.DataFrame, out_dir: Path) -> list[Path]:
    """Grouped bar chart of mean Spearman ± std (one group per target, one bar per setting/proxy) and
    a heatmap of mean Spearman with proxies as rows and (setting, target) as columns."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    s = summary.assign(column=[t if set_ == "all" else f"{textwrap.fill(set_, 28)}\n{t}"  # wrapped, not a smear
                               for set_, t in zip(summary.setting, summary.target, strict=True)])
    bars = s.pivot_table(index="column", columns="proxy", values="spearman", sort=False)  # for the heatmap
    groups = list(s.groupby("column", sort=False))
    proxies = list(dict.fromkeys(s.proxy))
    cmap = plt.get_cmap("tab10" if len(proxies) <= 10 else "tab20")
    width = 0.8 / max(len(g) for _, g in groups)
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(groups) * max(len(g) for _, g in groups) ** 0.5 + 1.5), 3.8),
                           layout="constrained")
    drawn: set[str] = set()
    for i, (_, g) in enumerate(groups):  # only the proxies a setting computed: none drawn as a zero bar
        for j, r in enumerate(g.itertuples()):
            x = i + (j - (len(g) - 1) / 2) * width
            ax.bar(x, r.spearman, width, color=cmap(proxies.index(r.proxy) % cmap.N),
                   label=None if r.proxy in drawn else r.proxy)
            if r.spearman_std == r.spearman_std:  # two seeds or more
                ax.errorbar(x, r.spearman, yerr=r.spearman_std, color="k", capsize=2, lw=0.8)
            drawn.add(r.proxy)
    ax.set_xticks(range(len(groups)), [c for c, _ in groups], fontsize=7)
    ax.set_ylabel("Spearman ρ vs ground truth")
    ax.set_title(f"mean ± std over seeds (up to {int(s.seeds.max())})", fontsize=9)
    ax.axhline(0, color="k", lw=0.5)
    ax.legend(fontsize=7, ncol=min(4, len(proxies)))
    bar_path = out_dir / "summary_spearman.png"
    fig.savefig(bar_path, dpi=90)
    plt.close(fig)

    heat = bars.T
    fig, ax = plt.subplots(figsize=(2.5 + 1.1 * heat.shape[1], 1.5 + 0.35 * heat.shape[0]), layout="constrained")
    im = ax.imshow(heat.to_numpy(dtype=float), cmap="viridis", vmin=-1, vmax=1, aspect="auto")
    ax.set_xticks(range(heat.shape[1]), heat.columns, fontsize=7)
    ax.set_yticks(range(heat.shape[0]), heat.index, fontsize=7)
    for (i, j), v in np.ndenumerate(heat.to_numpy(dtype=float)):
        if v == v:
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6, color="w" if v < 0.4 else "k")
    fig.colorbar(im, ax=ax, label="Spearman ρ")
    heat_path = out_dir / "summary_heatmap.png"
    fig.savefig(heat_path, dpi=90)
    plt.close(fig)
    return [bar_path, heat_path]


def write(paths: Sequence[Path], out_dir: Path) -> tuple[pd.DataFrame, list[Path]]:
    """Collect, summarise, write ``summary.csv``, ``summary.parquet`` (when pyarrow is installed: ``zcnas[all]``)
    and the plots into ``out_dir``."""
    import importlib.util  # noqa: PLC0415

    summary = summarize(collect(paths))
    out_dir.mkdir(parents=True, exist_ok=True)
    files = [out_dir / "summary.csv"]
    summary.to_csv(files[0], index=False)
    if importlib.util.find_spec("pyarrow") is not None:
        files.append(out_dir / "summary.parquet")
        summary.to_parquet(files[1], index=False)
    else:
        log.info("pyarrow is not installed: summary.csv only (pip install pyarrow, or 'zcnas[all]', for summary.parquet)")
    return summary, files + plot(summary, out_dir)


def parent_metrics(summary: pd.DataFrame) -> dict[str, float]:
    """MLflow metrics of a sweep: ``<target>/<stat>/<proxy>`` (+ ``_std``), the setting prefixed
    when a sweep varies more than the seed; keys grouped by target so the chart view shows every
    proxy side by side."""
    out: dict[str, float] = {}
    for r in summary.itertuples():
        prefix = "" if r.setting == "all" else re.sub(r"[^\w\-. /]", "_", r.setting) + "/"
        for s in STATS:
            for suffix in ("", "_std"):
                v = getattr(r, s + suffix)
                if v == v:
                    out[f"{prefix}{r.target}/{s}{suffix}/{r.proxy}"] = float(v)
    return out


def main(argv: list[str] | None = None) -> None:
    """``python -m zcnas.summarize PATH... [--out DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m zcnas.summarize", description=__doc__.splitlines()[0])
    parser.add_argument("paths", type=Path, nargs="+", help="sweep, run or experiment results directories")
    parser.add_argument("--out", type=Path, default=None, help="where summary.* go (default: the first path)")
    args = parser.parse_args(argv)
    with one_line_errors("zcnas.summarize"):
        out_dir = args.out or (args.paths[0] if args.paths[0].is_dir() else args.paths[0].parent)
        summary, files = write(args.paths, out_dir)
    print(format_summary(summary))
    print(f"{len(summary)} rows -> {', '.join(str(f) for f in files)}")


if __name__ == "__main__":
    main()
