"""Ground-truth benchmarks: trained accuracy per architecture string, one column per target.

A :class:`Benchmark` is a table indexed by the space's canonical arch string. Targets are never
pooled: every column is correlated on its own.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zcnas.data._assets import asset_path
from zcnas.results import read_json

log = logging.getLogger(__name__)
NB201_TARGETS = ("cifar10", "cifar100", "ImageNet16-120")


@dataclass
class Benchmark:
    """Ground truth: ``table`` (index = arch string, one float column per target), and optionally
    ``scores``: precomputed proxy columns (same index) that a run reads instead of computing."""

    name: str
    table: pd.DataFrame
    scores: pd.DataFrame | None = None

    @property
    def targets(self) -> list[str]:
        """The target (accuracy column) names."""
        return list(self.table.columns)

    def select(self, target: str | None) -> Benchmark:
        """Keep one target column (``None`` keeps all); unknown names raise a one-line error."""
        if target is None:
            return self
        if target not in self.table.columns:
            raise ValueError(f"benchmark {self.name} has no target {target!r}; valid: {self.targets}")
        return Benchmark(self.name, self.table[[target]], self.scores)

    def sample(self, n: int, rng: np.random.Generator) -> list[str]:
        """n distinct labelled arch strings, drawn uniformly without replacement."""
        if n > len(self.table):
            raise ValueError(f"n_archs={n} exceeds the {len(self.table)} archs of benchmark {self.name}")
        return [str(a) for a in self.table.index[rng.permutation(len(self.table))[:n]]]  # nested: a prefix

    def lookup(self, archs: list[str]) -> pd.DataFrame:
        """Rows for ``archs`` in order; archs absent from the benchmark get NaN."""
        return self.table.reindex(archs)


class ProxyTables(Benchmark):
    """A ground-truth benchmark that also carries proxy scores per task (NAS-Bench-Suite-Zero's files, or
    zcnas run directories): ``tasks[task]`` is indexed by canonical arch string, proxy columns +
    ``val_accuracy``; what ``python -m zcnas.combine`` fits and evaluates combiners on."""

    def __init__(self, name: str, tasks: dict[str, pd.DataFrame], scores: pd.DataFrame | None = None,
                 meta: dict[str, Any] | None = None) -> None:
        table = pd.concat({t: d["val_accuracy"] for t, d in tasks.items()}, axis=1)
        super().__init__(name, table.rename_axis("arch"), scores)
        self.tasks = tasks
        self.meta = meta or {}
        """Where the tables came from (``space``, ``task``, ``runs``), for a fitted combiner's provenance."""


def load_runs(dirs: str | list[str], target: str | None = None, name: str | None = None) -> ProxyTables:
    """``benchmark=runs``: the ``scores.csv`` of zcnas run directories (e.g. the chunks of one sharded run)
    joined row-wise, read as data: each ground-truth column (a ``target`` of the run's ``correlations.json``)
    is a task; every other numeric column a proxy. A missing or unreadable file is a one-line error."""
    dirs = [dirs] if isinstance(dirs, str) else list(dirs)
    if not dirs:
        raise ValueError("benchmark.dirs is empty; give one or more zcnas run directories")
    frames, targets, meta = [], None, {}
    for d in map(Path, dirs):
        how = f"benchmark.dirs: {d} is not a finished zcnas run directory"
        records = read_json(d / "correlations.json", f"{how} (no correlations.json)",
                            f"{d}/correlations.json: not readable JSON ({{err}})")
        summary = read_json(d / "run_summary.json", f"{how} (no run_summary.json)",
                            f"{d}/run_summary.json: not readable JSON ({{err}})")
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise ValueError(f"{d}/correlations.json: not a list of correlation records")
        mine = sorted({str(r.get("target")) for r in records if r.get("target") is not None})
        if targets is not None and mine != targets:
            raise ValueError(f"benchmark.dirs: {d} has targets {mine}, {dirs[0]} has {targets}; join runs of one benchmark")
        targets = mine
        if not (d / "scores.csv").is_file():
            raise FileNotFoundError(f"{how} (no scores.csv)")
        try:
            frames.append(pd.read_csv(d / "scores.csv", dtype={"arch": str}).set_index("arch"))
        except (pd.errors.ParserError, UnicodeDecodeError, KeyError) as err:
            raise ValueError(f"{d}/scores.csv: not a zcnas scores table ({str(err).splitlines()[0]})") from None
        tags = summary.get("mlflow", {}).get("tags", {}) if isinstance(summary, dict) else {}
        meta.update({k: str(tags[k]) for k in ("space", "task") if k in tags and k not in meta})
    table = pd.concat(frames).select_dtypes("number").astype(float)
    if table.index.duplicated().any():
        raise ValueError(f"benchmark.dirs: arch {table.index[table.index.duplicated()][0]!r} is in two runs; "
                         "join disjoint runs (the shards of one run)")
    missing = [t for t in targets or [] if t not in table.columns]
    if not targets or missing:
        raise ValueError(f"benchmark.dirs: the runs report no ground truth in scores.csv ({missing or 'no target'}); "
                         "give runs made with a labelled benchmark")
    proxies = [c for c in table.columns if c not in targets]
    tasks = {t: table[proxies].assign(val_accuracy=table[t]) for t in targets}
    if target is not None:
        if target not in tasks:
            raise ValueError(f"benchmark.target={target!r}: the runs' targets are {sorted(tasks)}")
        tasks = {target: tasks[target]}
    return ProxyTables(name or Path(dirs[0]).resolve().parent.name, tasks, meta={**meta, "runs": [str(d) for d in dirs]})


def _load_npy(path: Path) -> np.ndarray:
    """``np.load`` without pickle; a truncated or foreign file is a one-line error naming it."""
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, EOFError, OSError) as err:
        raise ValueError(f"{path}: not a readable .npy array ({str(err).splitlines()[0]}); "
                         "re-copy it from the NAS-Bench-201 release") from None


def load_nb201(path: str | None = None, target: str | None = None) -> Benchmark:
    """NAS-Bench-201 200-epoch test accuracies of all 15,625 cells.

    Args:
        path: directory holding ``configs.txt`` and ``<target>_test_accs.npy``; ``None`` uses the
            checksummed copies shipped in ``zcnas/data/assets``.
        target: keep only this column (``cifar10``, ``cifar100`` or ``ImageNet16-120``).
    """
    if path is None:
        files = {name: asset_path(name) for name in
                 ["configs.txt", *(f"{t}_test_accs.npy" for t in NB201_TARGETS)]}
    else:
        root = Path(path)
        files = {name: root / name for name in
                 ["configs.txt", *(f"{t}_test_accs.npy" for t in NB201_TARGETS)]}
        missing = [str(p) for p in files.values() if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"benchmark.path={path} lacks {missing}")
    archs = files["configs.txt"].read_text().split("\n")
    columns = {t: _load_npy(files[f"{t}_test_accs.npy"]) for t in NB201_TARGETS}
    for t, v in columns.items():
        if v.shape != (len(archs),):
            raise ValueError(f"{files[f'{t}_test_accs.npy']}: shape {v.shape}, expected ({len(archs)},)")
    table = pd.DataFrame(columns, index=pd.Index(archs, name="arch"))
    return Benchmark("nb201", table).select(target)


LAYOUTS = {  # arch layouts of the list-of-records ground truth files, told apart by their width key
    "autoformer": ("hidden_dim", "{hidden_dim, depth, mlp_ratio: [one per layer], num_heads: [one per layer]}"),
    "pit": ("base_dim", "{base_dim, mlp_ratio, depth: [one per stage], num_heads: [one per stage]}"),
}


def _load_records(path: str | None, space: str, parse: Callable[[dict[str, Any]], Any],
                  check: Callable[[Any], str]) -> pd.DataFrame:
    """Table of a JSON list of ``{"arch": {...}, "<target>": value | null, ...}`` records (index = the
    space's arch string, null = NaN, non-numeric keys ignored). ``parse`` builds the arch from the
    record's ``arch`` dict, ``check`` validates it and returns its string; errors name the record."""
    file = asset_path(f"gt_{space}.json") if path is None else Path(path)
    records = read_json(file, f"benchmark.path={path} does not exist", f"{file}: not valid JSON ({{err}}); truncated?")
    if not isinstance(records, list) or not records:
        raise ValueError(f"{file}: expected a non-empty JSON list of {{arch: ..., <target>: value}} records")
    rows, index = [], []
    for i, rec in enumerate(records):
        a = rec.get("arch") if isinstance(rec, dict) else None
        other = next((k for k, (key, _) in LAYOUTS.items() if k != space and isinstance(a, dict) and key in a), None)
        if other is not None:
            raise ValueError(f"{file} record {i}: a {other} arch {LAYOUTS[other][1]}, but space={space} reads "
                             f"{LAYOUTS[space][1]}; use space={other} benchmark={other}")
        try:
            arch = parse(a)  # type: ignore[arg-type]
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{file} record {i}: bad arch {a!r} ({err}); expected {LAYOUTS[space][1]}") from None
        try:
            index.append(check(arch))
        except ValueError as err:
            raise ValueError(f"{file} record {i}: {err}") from None
        rows.append({k: (np.nan if v is None else v) for k, v in rec.items()
                     if k != "arch" and (v is None or isinstance(v, int | float))})
    table = pd.DataFrame(rows, index=pd.Index(index, name="arch")).astype(float)
    if table.shape[1] == 0:
        raise ValueError(f"{file}: no numeric target column besides 'arch'")
    if table.index.duplicated().any():
        raise ValueError(f"{file}: duplicate archs {list(table.index[table.index.duplicated()][:3])}")
    return table


def load_autoformer(path: str | None = None, target: str | None = None, variant: str = "tiny") -> Benchmark:
    """AutoFormer ground truth: a JSON list of ``{arch: {hidden_dim, depth, mlp_ratio[], num_heads[]},
    <target>: value | null, ...}`` records (default: the shipped 100 AutoFormer-Tiny subnets, Auto-Prox).

    Args:
        path: another file of the same format (bring your own ViT ground truth).
        target: keep only this column; ``None`` keeps every numeric column (never pooled).
        variant: AutoFormer variant whose choice sets every record must satisfy.
    """
    from zcnas.spaces.autoformer import VARIANTS, AutoFormerArch, check, encode  # noqa: PLC0415

    def parse(a: dict[str, Any]) -> AutoFormerArch:
        return AutoFormerArch(int(a["hidden_dim"]), int(a["depth"]), tuple(float(r) for r in a["mlp_ratio"]),
                              tuple(int(h) for h in a["num_heads"]))

    table = _load_records(path, "autoformer", parse, lambda arch: encode(check(arch, VARIANTS[variant], variant)))
    return Benchmark("autoformer", table).select(target)


def load_pit(path: str | None = None, target: str | None = None, variant: str = "tiny") -> Benchmark:
    """PiT ground truth (none ships with zcnas): a JSON list of ``{arch: {base_dim, mlp_ratio,
    depth: [3], num_heads: [3]}, <target>: value | null, ...}`` records, Auto-Prox's PiT layout.

    Args:
        path: the file (required).
        target: keep only this column; ``None`` keeps every numeric column (never pooled).
        variant: PiT variant whose choice sets every record must satisfy.
    """
    from zcnas.spaces.pit import VARIANTS, PiTArch, check, encode  # noqa: PLC0415

    if path is None:
        raise ValueError("benchmark=pit needs benchmark.path=<your PiT ground truth .json> "
                         "(no PiT ground truth ships with zcnas)")

    def parse(a: dict[str, Any]) -> PiTArch:
        return PiTArch(int(a["base_dim"]), float(a["mlp_ratio"]), tuple(int(d) for d in a["depth"]),
                       tuple(int(h) for h in a["num_heads"]))

    table = _load_records(path, "pit", parse, lambda arch: encode(check(arch, VARIANTS[variant], variant)))
    return Benchmark("pit", table).select(target)


def load_jsonl(path: str, target: str | None = None, name: str | None = None) -> Benchmark:
    """A benchmark file written by ``python -m zcnas.build``: one JSON object per line,
    ``{"arch": <space string>, <target>: accuracy | null, "meta": {...}}``. Every numeric top-level
    key is a target; ``null`` (a diverged training), NaN and ±Infinity are unusable labels (NaN,
    counted in a warning); ``meta`` (epochs, seed, wall time, final train loss, status) and
    boolean/text fields are not targets. Arch strings are stripped of surrounding whitespace; a
    target key holding a non-number is a one-line error naming the line."""
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"benchmark.path={path} does not exist (write one with python -m zcnas.build)")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{file}: not a UTF-8 JSONL text file (binary?); expected one "
                         "{\"arch\": ..., <target>: value} JSON object per line") from None
    records, index = [], []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            if not isinstance(rec, dict) or not isinstance(rec["arch"], str):
                raise TypeError("'arch' must be a string")
            index.append(rec["arch"].strip())
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise ValueError(f"{file} line {i}: not a {{\"arch\": ..., <target>: value}} JSON object ({err})") from None
        records.append((i, rec))
    numeric = lambda v: isinstance(v, int | float) and not isinstance(v, bool)  # noqa: E731
    fields = list(dict.fromkeys(k for _, rec in records for k in rec if k not in ("arch", "meta")))
    keys = [k for k in fields if any(numeric(rec.get(k)) for _, rec in records)
            or all(rec.get(k) is None for _, rec in records)]
    ignored = [k for k in fields if k not in keys]
    if ignored:
        log.warning("%s: fields %s are not numeric and are not targets", file, ignored)
    rows = []
    for i, rec in records:
        for k in keys:
            if rec.get(k) is not None and not numeric(rec[k]):
                raise ValueError(f"{file} line {i}: target {k!r} is {rec[k]!r}; expected a number or null")
        rows.append({k: np.nan if rec.get(k) is None else float(rec[k]) for k in keys})
    table = pd.DataFrame(rows, index=pd.Index(index, name="arch"), columns=keys, dtype=float)
    if table.empty or table.shape[1] == 0:
        raise ValueError(f"{file}: no rows with a numeric target column")
    if table.index.duplicated().any():
        raise ValueError(f"{file}: duplicate archs {list(table.index[table.index.duplicated()][:3])}")
    bad = ~np.isfinite(table)
    for col in table.columns[bad.any().to_numpy()]:
        log.warning("%s: %d of %d labels of target %s are null/NaN/inf (unusable); those archs are "
                    "excluded from its correlations", file, int(bad[col].sum()), len(table), col)
    return Benchmark(name or file.stem, table.where(~bad)).select(target)


def no_benchmark() -> None:
    """``benchmark=none``: no ground truth; the run samples from the space and only scores."""
    return None


def load_file(path: str, target: str | None = None, name: str | None = None) -> Benchmark:
    """``benchmark=file``: a ``.csv`` with an ``arch`` column and one numeric column per target (e.g.
    DARTS ``Genotype(...)`` strings and their accuracy; quote fields with commas), else JSONL
    (:func:`load_jsonl`). Arch strings are normalised to the space's own form by ``zcnas.run``."""
    file = Path(path)
    if file.suffix.lower() != ".csv":
        return load_jsonl(path, target, name)
    if not file.is_file():
        raise FileNotFoundError(f"benchmark.path={path} does not exist")
    try:
        df = pd.read_csv(file, dtype={"arch": str})
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise ValueError(f"{file}: not a readable CSV ({str(err).splitlines()[0]})") from None
    if "arch" not in df.columns:
        raise ValueError(f"{file}: no 'arch' column (columns: {list(df.columns)})")
    table = df.set_index("arch").select_dtypes("number").astype(float)
    if table.empty or table.shape[1] == 0:
        raise ValueError(f"{file}: no rows with a numeric target column besides 'arch'")
    if table.index.duplicated().any():
        raise ValueError(f"{file}: duplicate archs {list(table.index[table.index.duplicated()][:3])}")
    return Benchmark(name or file.stem, table).select(target)
