"""The config is read once, into a plan: every entry point (run, calibrate, build, combine) turns its composed config
into a frozen plan of plain values and handles only that afterwards; ``Run`` and the searches never see a config;
the import map has no circle (lazy imports included)."""

from __future__ import annotations

import ast
import dataclasses

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, ListConfig, OmegaConf

from zcnas.plan import (
    BuildPlan,
    CalibrationPlan,
    CombinePlan,
    FitnessPlan,
    Plan,
    build_plan,
    calibration_plan,
    combine_plan,
    make_plan,
    window_key,
)

from .conftest import ROOT
from .test_compose import command_lines
from .test_readme import CONFIG, overrides

READERS = {"run": lambda cfg: make_plan(cfg, choices={}), "build": build_plan, "combine": combine_plan,
           "calibrate": lambda cfg: calibration_plan(cfg, "nb201", "cifar10")}
PLAN_READERS = {"make_plan", "build_plan", "calibration_plan", "combine_plan", "window_key", "planned", "searching",
                "check_argv", "one_line_errors"}


def composed(line: str):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name=CONFIG[line.split()[2].removeprefix("zcnas.")], overrides=overrides(line),
                      return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)  # build's `out` names the file after the space choice
    return OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])  # as hydra.main hands it over


def containers(value, where: str = "plan"):
    """Every OmegaConf container left inside ``value`` (dataclasses, dicts, lists and tuples walked), by path."""
    if isinstance(value, DictConfig | ListConfig):
        return [where]
    if dataclasses.is_dataclass(value):
        return [p for f in dataclasses.fields(value) for p in containers(getattr(value, f.name), f"{where}.{f.name}")]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in containers(v, f"{where}[{k!r}]")]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in containers(v, f"{where}[{i}]")]
    return []


@pytest.mark.parametrize("line", command_lines())
def test_every_command_reads_into_a_frozen_plan_of_plain_values(line, monkeypatch, tmp_path):
    monkeypatch.delenv("ZCNAS_DEVICE", raising=False)
    monkeypatch.setenv("ZCNAS_CONFIG_DIR", str(tmp_path))
    tool = line.split()[2].removeprefix("zcnas.")
    try:
        plan = READERS[tool](composed(line))
    except ValueError as err:  # a preset that leaves the fitted combiner to the command line (paper_darts_c10)
        assert "search.combiner_from=<combiner.json>" in str(err)
        plan = READERS[tool](composed(line + " search.combiner_from=/x/combiner.json"))
    assert type(plan) is {"run": Plan, "build": BuildPlan, "combine": CombinePlan, "calibrate": CalibrationPlan}[tool]
    assert containers(plan) == []
    field = dataclasses.fields(plan)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(plan, field, None)


def test_a_search_plan_carries_its_checked_fitness():
    plan = make_plan(composed("python -m zcnas.run search=random search.fitness=combiner combiner=libra "
                              "search.n_calib=40 search.target=cifar100"), choices={})
    assert plan.search is not None and plan.search.name == "random"
    fit = plan.search.fitness
    assert (fit.by, fit.n_calib, fit.target, fit.combiner_from, fit.combiner.name) == \
           ("combiner", 40, "cifar100", None, "libra")
    assert make_plan(composed("python -m zcnas.run search=evolution search.fitness=nwot proxy=[lswag,nwot]"),
                     choices={}).search.fitness == FitnessPlan(by="nwot")
    loaded = make_plan(composed("python -m zcnas.run search=prune search.fitness=combiner "
                                "search.combiner_from=/x/combiner.json"), choices={}).search.fitness
    assert (loaded.by, loaded.combiner_from, loaded.combiner) == ("combiner", "/x/combiner.json", None)
    assert make_plan(composed("python -m zcnas.run n_archs=3"), choices={}).search is None
    # an unusable fitness fails when the plan is made, before the space is built or an image read
    for bad, message in ((["search=random", "search.fitness=nope"], "search.fitness='nope' must be one of the proxies"),
                         (["search=random", "search.fitness=combiner", "combiner=none"],
                          "search.fitness=combiner needs combiner=<libra")):
        with pytest.raises(ValueError, match=message):
            make_plan(composed("python -m zcnas.run " + " ".join(bad)), choices={})


def test_calibration_and_build_plans_hold_what_the_commands_did():
    cal = calibration_plan(composed("python -m zcnas.calibrate space=tnb101_micro benchmark.target=jigsaw "
                                    "calibrate.n_archs=3"), "tnb101_micro", "tnb101")
    assert (cal.key, cal.n_archs, cal.seed, cal.bins, cal.sweep, cal.choose) == \
           ("tnb101_micro_jigsaw", 3, 100, 10, False, "spike")
    assert cal.command == ("space=tnb101_micro task=tnb101 calibrate.n_archs=3 calibrate.seed=100 "
                           "calibrate.sweep=False calibrate.choose=spike")
    assert window_key(composed("python -m zcnas.calibrate space=nb201 task=cifar100"), "nb201", "cifar100") == \
           "nb201_cifar100"
    b = build_plan(composed("python -m zcnas.build space=nb201 n_archs=4 shard.count=2 shard.index=1 recipe.epochs=2"))
    assert (b.n_archs, b.shard, b.recipe["epochs"], b.out.name, b.arch_from, b.merge) == \
           (4, {"index": 1, "count": 2}, 2, "nb201_cifar10_nb201.jsonl", None, False)
    with pytest.raises(ValueError, match="shard.index=2 must be < shard.count=2"):
        build_plan(composed("python -m zcnas.build shard.count=2 shard.index=2"))


def cfg_reads(path) -> list[tuple[str, int]]:
    """``(function, line)`` of every use of a name ``cfg`` in ``path`` that is not an argument of a plan reader
    (or of the entry point's argv check), outside ``main``."""
    tree = ast.parse(path.read_text())
    allowed = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in PLAN_READERS:
            allowed |= {id(a) for a in node.args if isinstance(a, ast.Name)}
    entry = {id(n) for fn in ast.walk(tree) if isinstance(fn, ast.FunctionDef) and fn.name == "main" for n in ast.walk(fn)}
    out = []
    for fn in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and id(n) not in entry):
        out += [(fn.name, n.lineno) for n in ast.walk(fn)
                if isinstance(n, ast.Name) and n.id == "cfg" and id(n) not in allowed]
    return sorted(set(out))


@pytest.mark.parametrize("module", ["run.py", "search/run.py", "search/strategies.py", "search/evolution.py",
                                    "search/prune.py", "build.py", "calibrate.py", "combine.py",
                                    "evaluate.py", "engine.py"])
def test_no_config_is_read_after_the_plan(module):
    """The composed config goes only into a plan reader (``make_plan``, ``build_plan``, ...); ``main`` alone (the
    Hydra entry point, which checks ``n_archs`` against a search before a plan exists) sees it. (``zcnas.merge``
    takes no composed config: it reads finished runs' config.yaml files, as data.)"""
    assert cfg_reads(ROOT / "zcnas" / module) == []


def test_run_and_the_searches_take_no_config():
    from zcnas.run import Run

    src = ast.parse((ROOT / "zcnas" / "run.py").read_text())
    (run_cls,) = [n for n in src.body if isinstance(n, ast.ClassDef) and n.name == "Run"]
    assert not [n.lineno for n in ast.walk(run_cls) if isinstance(n, ast.Name) and n.id == "cfg"]
    assert list(Run.__init__.__annotations__) == ["plan", "out_dir", "return"]


def import_graph() -> dict[str, set[str]]:
    """zcnas module -> the zcnas modules it imports anywhere in its body (lazy imports in functions included)."""
    mods = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
            for p in (ROOT / "zcnas").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join([*package.split(".")[:len(package.split(".")) - node.level + 1], *([base] if base else [])])
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            else:
                continue
            for t in targets:
                while t and t not in mods:
                    t = t.rpartition(".")[0]
                if t and t != name:
                    deps.add(t)
        graph[name] = deps
    return graph


def test_the_import_map_has_no_circle():
    graph = import_graph()
    assert len(graph) > 50 and "zcnas.plan" in graph["zcnas.run"]  # the walk sees the package
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                raise AssertionError("import circle: " + " -> ".join([*path[path.index(d):], d]))
            if d not in state:
                visit(d)
        path.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
