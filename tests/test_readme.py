"""The README cannot rot: every ``python -m zcnas.<cmd>`` line in its bash blocks composes with
Hydra (unknown groups/options/keys fail), and the blocks marked ``<!-- runnable -->`` run as
written (marker ``slow``) and produce what they promise."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys

import pytest
from hydra import compose, initialize_config_dir

from .conftest import ROOT

README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"(<!-- runnable -->\n)?```bash\n(.*?)```", README, re.S)
CONFIG = {"run": "config", "combine": "combine", "calibrate": "calibrate", "build": "build"}


def commands(runnable_only: bool = False) -> list[str]:
    """Command lines of the README's bash blocks (comments stripped)."""
    out = []
    for marker, body in BLOCKS:
        if runnable_only and not marker:
            continue
        for line in body.splitlines():
            line = line.split(" #")[0].strip()
            if line and not line.startswith("#"):
                out.append(line)
    return out


def zcnas_commands() -> list[str]:
    return [c for c in commands() if c.startswith("python -m zcnas.")]


def overrides(line: str) -> list[str]:
    """A Hydra command line's overrides, as its first job would get them (``a,b`` -> ``a``; ``hydra.*`` skipped)."""
    out = []
    for arg in shlex.split(line)[3:]:
        if arg == "-m" or arg.startswith("hydra"):
            continue
        key, _, value = arg.partition("=")
        if "," in value and not value.startswith("["):
            value = value.split(",")[0]
        out.append(f"{key}={value}")
    return out


def test_readme_has_commands_and_a_runnable_block():
    assert len(zcnas_commands()) >= 10 and commands(runnable_only=True)
    assert len(README.splitlines()) <= 200, "README.md is capped at 200 lines; move detail to experiments/ or docs"


def test_every_example_command_states_its_measured_cost():
    """Each ``python -m`` line of the Running block starts its comment with the cost that
    experiments/readme_costs measured for exactly that command (a new or changed command must be measured)."""
    import csv

    measured = {r["readme"]: r for r in csv.DictReader(
        (ROOT / "experiments" / "readme_costs" / "results" / "costs.csv").open())}
    block = README[README.index("source .venv/bin/activate"):].split("```")[0]
    lines = [ln for ln in block.splitlines() if ln.startswith("python -m ")]
    assert len(lines) >= 20
    for line in lines:
        command, _, comment = line.partition(" #")
        row = measured.get(command.strip().removeprefix("python -m "))
        assert row is not None and row["rc"] == "0", f"not measured (python experiments/readme_costs/costs.py): {line}"
        assert re.match(rf"^ {re.escape(row['full'])}(:|$)", comment), line


@pytest.mark.parametrize("line", zcnas_commands())
def test_readme_command_composes(line):
    """First job of a sweep (``a,b`` -> ``a``); ``hydra.*`` overrides are Hydra's own and skipped."""
    argv = shlex.split(line)
    module = argv[2].removeprefix("zcnas.")
    if module not in CONFIG:  # argparse commands (merge, log): the module exists and documents itself
        proc = subprocess.run([sys.executable, "-m", f"zcnas.{module}", "--help"], capture_output=True, text=True)
        assert proc.returncode == 0 and "usage: python -m zcnas." in proc.stdout, proc.stderr
        return
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name=CONFIG[module], overrides=overrides(line))
    assert cfg is not None


@pytest.mark.slow
def test_readme_runnable_blocks_run(tmp_path):
    """The quick-start block, verbatim (``python`` = this interpreter), from a fresh directory."""
    for line in commands(runnable_only=True):
        argv = shlex.split(line)
        if argv[0] == "python":
            argv[0] = sys.executable
        proc = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"{line}\n{proc.stderr[-2000:]}"
    recs = json.loads((tmp_path / "logs/quickstart/correlations.json").read_text())
    by = {r["proxy"]: r for r in recs}
    assert set(by) == {"lswag", "nwot", "params"} and all(r["n"] >= 19 for r in recs)
    assert 0.5 < by["lswag"]["spearman"] <= 1
    combined = json.loads((tmp_path / "logs/quickstart_libra/correlations.json").read_text())
    libra = [r for r in combined if r["proxy"] == "libra"]
    assert len(libra) == 1 and libra[0]["spearman"] > 0.75
