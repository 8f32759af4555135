"""Run outputs: ``scores.csv`` written row by row as scores are made, JSON files, plots, table."""

from __future__ import annotations

import csv
import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)


def torn(path: Path) -> bool:
    """True when a non-empty file does not end in a newline: its last line was cut by a kill or a
    full disk during a write."""
    if not path.is_file() or path.stat().st_size == 0:
        return False
    with path.open("rb") as f:
        f.seek(-1, 2)
        return f.read(1) != b"\n"


def read_scores(path: Path) -> pd.DataFrame:
    """A ``scores.csv`` whose every line is complete; a torn last line is a one-line error naming it."""
    if torn(path):
        raise ValueError(f"{path} ends in a torn line (its run was killed during a write); rerun that run "
                         "(its scores come back from the score cache) and try again")
    return pd.read_csv(path)


class ScoreWriter:
    """Append one row per architecture to a CSV and flush it at once (scores are never lost).
    Rerunning into a directory whose ``scores.csv`` was torn by a kill rewrites it whole (the scores
    come from the cache) and says so."""

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        self.path = path
        self.columns = list(columns)
        if torn(path):
            log.warning("%s ends in a torn line (a kill during a write); this rerun rewrites it whole", path)
        self._file = path.open("w", newline="")
        self._csv = csv.DictWriter(self._file, fieldnames=self.columns, lineterminator="\n")
        self._csv.writeheader()
        self._file.flush()

    def append(self, row: dict[str, Any]) -> None:
        """Write ``row`` (NaN written as ``nan``) and flush."""
        self._csv.writerow({k: row.get(k, math.nan) for k in self.columns})
        self._file.flush()

    def close(self) -> None:
        """Close the file."""
        self._file.close()


def write_json(path: Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON (NaN as null) and return ``path``."""
    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v

    path.write_text(json.dumps(clean(obj), indent=2) + "\n")
    return path


def read_json(path: Path, missing: str, unreadable: str) -> Any:
    """JSON from ``path`` as data; a missing file raises ``FileNotFoundError(missing)``, a truncated or
    non-UTF-8 one ``ValueError(unreadable.format(err=...))``: one line each, naming the file."""
    if not path.is_file():
        raise FileNotFoundError(missing)
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(unreadable.format(err=err)) from None


DATASETS = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "imagenet16-120": "ImageNet16-120",
            "imagenet": "ImageNet"}


def target_label(target: str, values: np.ndarray) -> str:
    """Axis label of a ground-truth column: ``CIFAR-10 accuracy, %`` (values above 1: percent),
    ``... accuracy (fraction)`` (values within [0, 1]), else the column's own name."""
    v = values[np.isfinite(values)]
    name = DATASETS.get(target.lower(), target)
    if v.size and v.min() >= 0 and v.max() <= 100 and ("acc" in target.lower() or target.lower() in DATASETS):
        return f"{name} accuracy, %" if v.max() > 1 else f"{name} accuracy (fraction)"
    return name


def score_axis(values: np.ndarray) -> str:
    """``log`` for positive scores spanning two decades or more, ``symlog`` for signed ones spanning
    them, else ``linear`` (an L-SWAG range of 1e8 puts every point at the left edge of a linear axis)."""
    v = np.abs(values[np.isfinite(values) & (values != 0)])
    if v.size < 2 or v.max() / v.min() < 100:
        return "linear"
    return "log" if (values[np.isfinite(values)] > 0).all() else "symlog"


def scatter_plot(path: Path, table: pd.DataFrame, proxy: str, targets: Sequence[str],
                 correlations: list[dict[str, Any]], label: str | None = None) -> Path:
    """One PNG per proxy (or combiner): score vs each target on a log axis where the scores span
    decades, the target's name and unit on the y axis, ρ, τ and n in the panel titles (Agg)."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, axes = plt.subplots(1, len(targets), figsize=(4 * len(targets), 3.6), squeeze=False)
    x = table[proxy].to_numpy(dtype=float)
    scale = score_axis(x)
    for ax, target in zip(axes[0], targets, strict=True):
        rec = next(r for r in correlations if r["proxy"] == proxy and r["target"] == target)
        y = table[target].to_numpy(dtype=float)
        ax.scatter(x, y, s=6, alpha=0.6)
        ax.set_xscale(scale)
        ax.set_xlabel(f"{label or proxy} score" + ("" if scale == "linear" else f" ({scale} scale)"))
        ax.set_ylabel(target_label(target, y))
        ax.set_title(f"{label or proxy}: ρ={rec['spearman']:.3f}  τ={rec['kendall']:.3f}  n={rec['n']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def format_table(correlations: list[dict[str, Any]]) -> str:
    """A small fixed-width table: proxy, target, Spearman [95 % bootstrap interval], Kendall, nDCG@10 %,
    n (n_nan when any)."""
    w = max([14, *(len(str(r["proxy"])) + 2 for r in correlations)])
    lines = [f"{'proxy':<{w}}{'target':<18}{'Spearman':>9}{'95% CI':>17}{'Kendall':>9}{'nDCG':>8}{'n':>7}"]
    for r in correlations:
        nan = f"  ({r['n_nan']} NaN)" if r["n_nan"] else ""
        lo, hi, ndcg = (r.get(k, math.nan) for k in ("spearman_lo", "spearman_hi", "ndcg10"))
        ci = f"[{lo:.3f}, {hi:.3f}]" if lo is not None and hi is not None else "–"
        ndcg = math.nan if ndcg is None else ndcg
        lines.append(f"{r['proxy']:<{w}}{r['target']:<18}{r['spearman']:>9.4f}{ci:>17}{r['kendall']:>9.4f}"
                     f"{ndcg:>8.4f}{r['n']:>7}{nan}")
    return "\n".join(lines)


def format_scores(table: pd.DataFrame, proxies: list[str], limit: int = 20) -> str:
    """A run without ground truth (``space=timm``, ``benchmark=none``): each arch's scores, the first ``limit``
    rows (all are in scores.csv)."""
    head = table[["arch", *proxies]].head(limit)
    wa = max([6, *(len(str(a)) + 2 for a in head["arch"])])
    wp = [max(12, len(p) + 2) for p in proxies]
    lines = [f"{'arch':<{wa}}" + "".join(f"{p:>{w}}" for p, w in zip(proxies, wp, strict=True))]
    for row in head.itertuples(index=False):
        lines.append(f"{row[0]!s:<{wa}}" + "".join(f"{v:>{w}.5g}" for v, w in zip(row[1:], wp, strict=True)))
    more = f"\n... {len(table) - limit} more in scores.csv" if len(table) > limit else ""
    return "\n".join(lines) + more + "\n(no ground truth: scores only)"


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and its waited-for children, in seconds (``os.times``)."""
    import os  # noqa: PLC0415

    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run_cost(cpu_start: float, wall_seconds: float, device: Any) -> dict[str, float]:
    """What a run cost: ``cpu_hours`` (CPU time used since ``cpu_start``, all threads summed),
    ``wall_hours`` and, on CUDA, ``gpu_hours`` (wall time x the one GPU it held)."""
    out = {"cpu_hours": (cpu_seconds() - cpu_start) / 3600, "wall_hours": wall_seconds / 3600}
    if getattr(device, "type", str(device)) == "cuda":
        out["gpu_hours"] = wall_seconds / 3600
    return out


def write_outputs(out_dir: Path, config: Any, table: pd.DataFrame, columns: Sequence[str],
                  targets: Sequence[str], correlations: list[dict[str, Any]], summary: dict[str, Any],
                  selected: dict[str, Any] | None = None) -> None:
    """The contract files besides ``scores.csv``: ``correlations.json``, ``run_summary.json``, the
    resolved ``config.yaml``, ``selected_arch.json`` (a search's pick) and one scatter plot per column."""
    from omegaconf import OmegaConf  # noqa: PLC0415

    OmegaConf.save(OmegaConf.create(config), out_dir / "config.yaml")
    write_json(out_dir / "correlations.json", correlations)
    write_json(out_dir / "run_summary.json", summary)
    if selected is not None:
        write_json(out_dir / "selected_arch.json", selected)
    if targets:
        for p in columns:
            scatter_plot(out_dir / f"scatter_{p}.png", table, p, targets, correlations)


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten a nested dict to ``a.b.c`` keys (lists kept as their string form)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def take_lock(lock: Path) -> bool:
    """Take ``lock`` (a file created exclusively, holding host and pid); a lock left by a dead process on this
    host is stale and taken over. False when another live process holds it."""
    import os  # noqa: PLC0415
    import socket  # noqa: PLC0415
    import time  # noqa: PLC0415

    lock.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                host, pid = lock.read_text().split()
                alive = host != socket.gethostname() or Path(f"/proc/{int(pid)}").exists()
            except (OSError, ValueError):
                alive = time.time() - lock.stat().st_mtime < 60  # being written right now
            if alive:
                return False
            lock.unlink(missing_ok=True)
            continue
        os.write(fd, f"{socket.gethostname()} {os.getpid()}".encode())
        os.close(fd)
        return True
    return False


def read_complete_rows(path: Path) -> dict[str, dict[str, float]]:
    """``{arch: {column: value}}`` of a scores-like CSV written by :class:`ScoreWriter`, its complete lines
    only (a line torn by a kill, or one with a non-number, is skipped): what an interrupted run had written."""
    text = path.read_text(errors="replace")
    lines = text.split("\n")
    if lines and lines[-1] != "":
        lines = lines[:-1]  # torn: no newline after the last line
    out: dict[str, dict[str, float]] = {}
    for row in csv.DictReader(lines):
        arch = row.pop("arch", None)
        try:
            values = {k: float(v) for k, v in row.items() if k is not None and v not in (None, "")}
        except (TypeError, ValueError):
            continue
        if arch:
            out[arch] = values
    return out


MAX_CONFIG_BYTES = 4 << 20
"""The largest run-directory YAML read (4 MiB; zcnas writes a few kB)."""


def read_yaml_data(path: Path) -> Any:
    """A YAML file from a run directory as plain data: a link, a file over :data:`MAX_CONFIG_BYTES`, non-UTF-8
    text, Python tags or anchors/aliases (``&a`` / ``*a``: zcnas never writes them; nested aliases expand
    exponentially when walked) are one-line errors naming the file."""
    import yaml  # noqa: PLC0415

    if path.is_symlink():
        raise ValueError(f"{path} is a link: a run directory's files are read only when they are its own plain "
                         "files; copy the file in place of the link")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ValueError(f"{path} is larger than {MAX_CONFIG_BYTES >> 20} MiB: not a config zcnas wrote")
    try:
        text = path.read_text(encoding="utf-8")
        if any(isinstance(e, yaml.AliasEvent | yaml.events.NodeEvent) and getattr(e, "anchor", None)
               for e in yaml.parse(text, Loader=yaml.SafeLoader)):
            raise ValueError(f"{path}: YAML anchors/aliases are not read in a run directory's files (zcnas never "
                             "writes them); rewrite the file without them")
        return yaml.safe_load(text)
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a readable YAML config ({str(err).splitlines()[0]})") from None
