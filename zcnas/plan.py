"""Plans: each command's composed config read once, checked, and turned into plain values.

:func:`make_plan` is the only reader of the Hydra config in a run: it checks every value (one-line errors
before any work), resolves the interpolations, fills what follows from other keys (a precomputed benchmark's
target is the probed task), finds the L-SWAG window and where it came from, checks the search's fitness, and
counts the archs to score. :class:`zcnas.run.Run` then handles only the :class:`Plan` (torchtune's recipes read
their config once in ``setup`` in the same way: pytorch/torchtune, recipes/full_finetune_single_device.py). The
other commands read theirs the same way: :func:`calibration_plan`, :func:`build_plan`, :func:`combine_plan`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zcnas.cli import check_config, check_known_keys, instantiate, searching
from zcnas.proxies import check_params

MAX_ARCH_LIST_BYTES = 64 << 20
"""The largest ``archs_from`` file read (64 MiB: millions of arch strings)."""


@dataclass(frozen=True)
class CombinerPlan:
    """``conf/combiner/``: the estimator's node (None: no fit), its name and evaluation protocol, and a
    selection fitted elsewhere to apply (``combiner.from``)."""

    name: str = "none"
    estimator: dict[str, Any] | None = None
    n_fit: Any = None
    protocol: str = "held_out"
    applied_from: str | None = None

    @classmethod
    def of(cls, node: Mapping[str, Any] | None) -> CombinerPlan:
        """From a combiner node (a resolved dict or a DictConfig; an old run's config may lack keys)."""
        node = node or {}
        est = node.get("estimator")
        return cls(name=str(node.get("name", "none")), estimator=_plain(est) if est is not None else None,
                   n_fit=node.get("n_fit"), protocol=str(node.get("protocol", "held_out")),
                   applied_from=node.get("from") or None)

    def build(self) -> Any:
        """A fresh estimator (``combiner.estimator``)."""
        return instantiate(self.estimator)


@dataclass(frozen=True)
class FitnessPlan:
    """A search's fitness (``search.fitness``): a proxy's column (``by=<proxy>``), or ``by="combiner"``: the
    selection in ``combiner_from``, else ``combiner`` fitted on ``n_calib`` labelled archs of the run's
    benchmark to ``target`` (None: its first)."""

    by: str
    combiner: CombinerPlan | None = None
    combiner_from: str | None = None
    n_calib: int = 100
    target: str | None = None

    @classmethod
    def of(cls, search: Any, proxies: list[str], combiner: CombinerPlan | None = None) -> FitnessPlan:
        """From a search's settings (a :class:`~zcnas.search.strategies.Search`), the run's proxies and combiner;
        a fitness that names no proxy, or a combiner that is neither configured nor saved, is a one-line error
        before any work."""
        by = str(search.fitness)
        if by in proxies:
            return cls(by=by)
        if by != "combiner":
            raise ValueError(f"search.fitness={by!r} must be one of the proxies {proxies} or 'combiner'")
        if search.combiner_from:  # fitted elsewhere (another benchmark): no labels needed here
            return cls(by=by, combiner_from=str(search.combiner_from))
        if combiner is None or combiner.estimator is None:
            raise ValueError("search.fitness=combiner needs combiner=<libra|xgboost|...> and a benchmark with labels, "
                             "or a fitted combiner file: search.combiner_from=<combiner.json>")
        return cls(by=by, combiner=combiner, n_calib=int(search.n_calib), target=search.target)


@dataclass(frozen=True)
class SearchPlan:
    """``conf/search/``: the strategy's resolved node (its settings), its name and its fitness."""

    node: dict[str, Any]
    name: str
    fitness: FitnessPlan


@dataclass(frozen=True)
class Plan:
    """Everything one ``python -m zcnas.run`` does, as plain values. Nodes a builder instantiates (space,
    task, benchmark, tracking, the search's) are resolved dicts; ``search`` is None for a uniform sample;
    ``probe``, ``cache`` and ``engine`` are their groups' nodes (``probe`` is part of every score-cache key);
    ``config`` is the whole resolved config as the run's config.yaml records it."""

    config: dict[str, Any]
    secrets: list[str]
    space: dict[str, Any]
    task: dict[str, Any]
    benchmark: dict[str, Any]
    tracking: dict[str, Any]
    search: SearchPlan | None
    combiner: CombinerPlan
    proxies: dict[str, dict[str, Any]]
    window: dict[str, Any] | None
    probe: dict[str, Any]
    engine: dict[str, Any]
    cache: dict[str, Any]
    shard: dict[str, int]
    batch_size: int
    seed: int
    device: str
    threads: int | None
    log_every: int
    n_archs: int
    archs_from: list[str] | None
    archs_from_path: str | None
    record_deciles: bool
    total: tuple[int, bool]


def make_plan(cfg: Any, choices: Mapping[str, str] | None = None) -> Plan:
    """Check ``cfg`` (a composed ``conf/config.yaml``) and read it into a :class:`Plan`; ``choices``: Hydra's
    ``runtime.choices`` (default: the running app's), which say where the L-SWAG window came from."""
    from omegaconf import OmegaConf  # noqa: PLC0415

    from zcnas.tracking import find_secrets  # noqa: PLC0415

    check_config(cfg)
    check_known_keys(cfg)
    config: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    secrets = find_secrets(config)  # masked in every file and log line
    proxies: dict[str, dict[str, Any]] = config.get("proxy") or {}
    for name, params in proxies.items():
        check_params(name, params, cfg.batch_size)  # unknown names, types and ranges fail before any work
    bench = config["benchmark"]
    if bench.get("precomputed") and "target" in bench and bench["target"] is None:
        bench["target"] = config["task"]["name"]  # precomputed columns belong to one task: the one probed
    check_space(config["space"])
    archs = read_arch_list(Path(cfg.archs_from)) if cfg.get("archs_from") else None
    strategy = instantiate(cfg.search) if searching(cfg) else None  # the search's own setting errors come first
    total = planned(cfg, archs, strategy)
    combiner = CombinerPlan.of(config.get("combiner"))
    search = None if strategy is None else SearchPlan(config["search"], strategy.name,
                                                      FitnessPlan.of(strategy, list(proxies), combiner))
    return Plan(
        config=config, secrets=secrets, space=config["space"], task=config["task"], benchmark=bench,
        tracking=config["tracking"], search=search, combiner=combiner, proxies=proxies,
        window=window_used(cfg, hydra_choices() if choices is None else choices),
        probe=config["probe"], engine=config["engine"], cache=config["cache"], shard=config["shard"],
        batch_size=int(cfg.batch_size), seed=int(cfg.seed), device=str(cfg.device), threads=cfg.threads,
        log_every=int(cfg.log_every), n_archs=int(cfg.n_archs), archs_from=archs,
        archs_from_path=str(cfg.archs_from) if archs is not None else None,
        record_deciles=bool(cfg.get("record_deciles", False)), total=total)


@dataclass(frozen=True)
class CombinePlan:
    """Everything one ``python -m zcnas.combine`` does (``conf/combine.yaml``), as plain values: the combiner,
    the benchmark of proxy tables and the tracker (resolved nodes), the proxy columns (None: all), the
    ``scores.csv`` files to join, the seed and the number of seeded splits; ``config``: the whole resolved
    config, as the run's config.yaml records it."""

    config: dict[str, Any]
    combiner: CombinerPlan
    benchmark: dict[str, Any]
    tracking: dict[str, Any]
    proxies: list[str] | None
    scores: str | dict[str, str] | None
    seed: int
    repeats: int


def combine_plan(cfg: Any) -> CombinePlan:
    """Read ``cfg`` (a composed ``conf/combine.yaml``) into a :class:`CombinePlan`."""
    config = _plain(cfg)
    return CombinePlan(config=config, combiner=CombinerPlan.of(cfg.combiner), benchmark=config["benchmark"],
                       tracking=config["tracking"], proxies=list(cfg.proxies) if cfg.proxies else None,
                       scores=config.get("scores") or None, seed=int(cfg.seed), repeats=int(cfg.repeats))


@dataclass(frozen=True)
class BuildPlan:
    """Everything one ``python -m zcnas.build`` does (``conf/build.yaml``), as plain values: the space, task
    and recipe nodes (resolved), the sample (``n_archs``, ``seed``, ``shard``) or the one arch of
    ``arch_from``, the train/validation split, and where rows and checkpoints go."""

    space: dict[str, Any]
    task: dict[str, Any]
    recipe: dict[str, Any]
    out: Path
    checkpoint_dir: Path
    n_archs: int
    seed: int
    val_fraction: float
    n_images: int | None
    device: str
    threads: int | None
    arch_from: str | None
    merge: bool
    shard: dict[str, int]


def build_plan(cfg: Any) -> BuildPlan:
    """Check ``cfg`` (a composed ``conf/build.yaml``; a ``merge=true`` run only joins files, so is not
    checked) and read it into a :class:`BuildPlan`."""
    if not cfg.merge:
        check_config(cfg)
    return BuildPlan(
        space=_plain(cfg.space), task=_plain(cfg.task), recipe=_plain(cfg.recipe), out=Path(cfg.out),
        checkpoint_dir=Path(cfg.checkpoint_dir), n_archs=int(cfg.n_archs), seed=int(cfg.seed),
        val_fraction=float(cfg.val_fraction), n_images=cfg.get("n_images"), device=str(cfg.device),
        threads=cfg.threads, arch_from=cfg.get("arch_from") or None, merge=bool(cfg.merge),
        shard={"index": int(cfg.shard.index), "count": int(cfg.shard.count)})


@dataclass(frozen=True)
class CalibrationPlan:
    """Everything one ``python -m zcnas.calibrate`` does (``conf/calibrate.yaml``), as plain values: the space,
    task and benchmark nodes (the benchmark labels the sweep), the probe batch, the ``calibrate.*`` settings,
    the window file's key (:func:`window_key`) and the command quoted in its header."""

    space: dict[str, Any]
    task: dict[str, Any]
    benchmark: dict[str, Any]
    batch_size: int
    threads: int | None
    share_passes: bool
    n_archs: int
    seed: int
    n_splits: int
    accumulate: bool
    bins: int
    sweep: bool
    choose: str
    write_to: str | None
    space_choice: str
    key: str
    command: str


def calibration_plan(cfg: Any, space_choice: str, task_choice: str,
                     overrides: list[str] | None = None) -> CalibrationPlan:
    """Read ``cfg`` (a composed ``conf/calibrate.yaml``; ``space_choice``/``task_choice``: Hydra's choices of the
    two groups) into a :class:`CalibrationPlan`; ``overrides``: the command's Hydra overrides, quoted in the
    window file's header (default: the calibrate.* values)."""
    c = cfg.calibrate
    command = " ".join(overrides) if overrides is not None else (
        f"space={space_choice} task={task_choice} calibrate.n_archs={c.n_archs} calibrate.seed={c.seed} "
        f"calibrate.sweep={c.sweep} calibrate.choose={c.choose}")
    return CalibrationPlan(
        space=_plain(cfg.space), task=_plain(cfg.task), benchmark=_plain(cfg.benchmark), batch_size=int(cfg.batch_size),
        threads=cfg.threads, share_passes=bool(cfg.probe.share_passes), n_archs=int(c.n_archs), seed=int(c.seed),
        n_splits=int(c.n_splits), accumulate=bool(c.accumulate), bins=int(c.bins), sweep=bool(c.sweep),
        choose=str(c.choose), write_to=c.write_to or None, space_choice=space_choice,
        key=window_key(cfg, space_choice, task_choice), command=command)


def window_key(cfg: Any, space_choice: str, task_choice: str) -> str:
    """Name of a window file: ``<space>_<task choice>``, or ``<space>_<task.name>`` when the task entry's name
    is an interpolation (one entry, several tasks: ``task=tnb101`` is named by ``benchmark.target``)."""
    from omegaconf import OmegaConf  # noqa: PLC0415

    named_elsewhere = "name" in cfg.task and OmegaConf.is_interpolation(cfg.task, "name")
    return f"{space_choice}_{cfg.task.name if named_elsewhere else task_choice}"


def _plain(node: Any) -> Any:
    """A DictConfig/ListConfig as plain dicts/lists (resolved); plain data deep-copied."""
    from omegaconf import DictConfig, ListConfig, OmegaConf  # noqa: PLC0415

    if isinstance(node, DictConfig | ListConfig):
        return OmegaConf.to_container(node, resolve=True)
    return copy.deepcopy(node)


def planned(cfg: Any, archs: list[str] | None = None, search: Any = None) -> tuple[int, bool]:
    """How many architectures this run scores: (count, exact). A search's count is its evaluation
    budget (evolution: the first population + mutations and crossovers of the later generations;
    duplicates are scored once), so an upper bound. ``archs``: the ``archs_from`` list, ``search``: the
    :class:`~zcnas.search.strategies.Search` built from ``cfg.search``, if already at hand."""
    if not searching(cfg):
        if archs is None and cfg.get("archs_from"):
            archs = read_arch_list(Path(cfg.archs_from))
        n = len(archs) if archs is not None else cfg.n_archs
        return len(range(cfg.shard.index, n, cfg.shard.count)), True
    from hydra.utils import get_class  # noqa: PLC0415

    return (search or instantiate(cfg.search)).planned(get_class(cfg.space._target_)), False


def check_space(space_cfg: Mapping[str, Any]) -> None:
    """One-line errors for out-of-range arguments of a zcnas space (``space.C=0``, ``space.N=-1``) before any
    network is built; a space class of the user's own (their ``_target_``) is theirs to check."""
    from zcnas.spaces import check_space_args, space_class  # noqa: PLC0415

    try:
        cls = space_class(space_cfg.get("_target_"))
    except ValueError:
        return
    check_space_args(cls, {k: v for k, v in space_cfg.items() if k != "_target_"})


def read_arch_list(path: Path) -> list[str]:
    """The arch strings of a text file, one a line (``#`` comment lines and blank lines skipped); a missing,
    oversized, non-UTF-8, empty or duplicated list is a one-line error."""
    import pandas as pd  # noqa: PLC0415

    try:
        if path.stat().st_size > MAX_ARCH_LIST_BYTES:
            raise ValueError(f"archs_from={path} is larger than {MAX_ARCH_LIST_BYTES >> 20} MiB; split it")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"archs_from={path} cannot be read as UTF-8 text ({err}); give a file of arch "
                         "strings, one a line") from None
    archs = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not archs:
        raise ValueError(f"archs_from={path} lists no arch; give one arch string a line")
    dup = pd.Series(archs)[pd.Series(archs).duplicated()].tolist()
    if dup:
        raise ValueError(f"archs_from={path}: {dup[0]!r} is listed {archs.count(dup[0])} times ({len(dup)} duplicates)")
    return archs


def hydra_choices() -> dict[str, str]:
    """Hydra's ``runtime.choices`` of the running app (config group -> option), or {} outside one."""
    from hydra.core.hydra_config import HydraConfig  # noqa: PLC0415

    return {str(k): str(v) for k, v in HydraConfig.get().runtime.choices.items()} if HydraConfig.initialized() else {}


def window_used(cfg: Any, choices: Mapping[str, str]) -> dict[str, Any] | None:
    """L-SWAG's layer window in this run and where it came from, or None without lswag/lswag_lambda:
    ``{"lo", "hi", "source"}``, source = ``command line`` (the proxy's lo/hi differ from the window's),
    ``calibrated <file>`` (yours, from ``python -m zcnas.calibrate``), ``shipped conf/window/<name>.yaml``,
    ``default`` (no window for this space and task: the whole network) or ``unknown`` (no Hydra choices:
    composed in-process). ``choices``: Hydra's ``runtime.choices``; a per-target (TNB101) or per-flavour
    file is looked up before the pair's own."""
    from zcnas.paths import CONF_DIR, user_config_dir  # noqa: PLC0415

    named = [n for n in ("lswag", "lswag_lambda") if n in (cfg.get("proxy") or {})]
    if not named:
        return None
    lo, hi = int(cfg.proxy[named[0]].lo), int(cfg.proxy[named[0]].hi)
    win = cfg.get("window") or {}
    if (lo, hi) != (int(win.get("lo", 0)), int(win.get("hi", 10))):
        return {"lo": lo, "hi": hi, "source": "command line"}
    if not choices:
        return {"lo": lo, "hi": hi, "source": "unknown"}
    subs = [s for s in (cfg.task.get("name"), cfg.space.get("flavour")) if s]
    nested = any(k.startswith("window@window.") for k in choices)  # the pair's file only picks a target's window
    candidates = (("calibrated", user_config_dir() / "calibrated",
                   [f"calibrated@window.{s}" for s in subs] + ["calibrated@window"]),
                  ("shipped", Path(CONF_DIR) / "window", [f"window@window.{s}" for s in subs] + ([] if nested else ["window"])))
    for label, folder, keys in candidates:
        for key in keys:
            if key in choices and (folder / f"{choices[key]}.yaml").is_file():
                where = f"conf/window/{choices[key]}.yaml" if label == "shipped" else str(folder / f"{choices[key]}.yaml")
                return {"lo": lo, "hi": hi, "source": f"{label} {where}"}
    return {"lo": lo, "hi": hi, "source": "default"}
