"""Config layout may change, the runs it composes may not: every README command, each space alone, each
experiment preset and the benchmark grid's columns compose to the resolved config recorded in
``tests/data/compositions.json`` (Hydra's own node aside). Regenerate only for an intended change of a run:
``python -m tests.test_compose --write``."""

from __future__ import annotations

import json
import sys

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from .conftest import ROOT
from .test_readme import CONFIG, overrides, zcnas_commands

GOLDEN = ROOT / "tests" / "data" / "compositions.json"
SPACES = sorted(p.stem for p in (ROOT / "conf" / "space").glob("*.yaml"))
EXPERIMENTS = sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml"))
EXTRA = [
    *(f"python -m zcnas.run space={s}" for s in SPACES),
    *(f"python -m zcnas.run experiment={e}" for e in EXPERIMENTS),
    *(f"python -m zcnas.run space={s} benchmark.target={t} benchmark.precomputed=all"
      for s in ("tnb101_micro", "tnb101_macro") for t in ("autoencoder", "jigsaw")),
    "python -m zcnas.run space=nb101 benchmark.target=cifar10 benchmark.precomputed=all",
    "python -m zcnas.run space=darts benchmark.target=cifar10 benchmark.precomputed=all",
    "python -m zcnas.run space=nb201 task=imagenet16_120",
    "python -m zcnas.run space=autoformer batch_size=16 probe.share_passes=false",
    "python -m zcnas.run space=autoformer task=cifar10_224 benchmark=none",
    "python -m zcnas.run space=pit benchmark=none",
    "python -m zcnas.calibrate space=autoformer",
    "python -m zcnas.calibrate space=tnb101_micro benchmark.target=jigsaw",
    "python -m zcnas.build space=autoformer recipe=nb201",
    "python -m zcnas.combine benchmark=suite_zero_nb201 combiner=libra",
]


def command_lines() -> list[str]:
    """The command lines under test: the README's Hydra commands, then :data:`EXTRA`."""
    readme = [c for c in zcnas_commands() if c.split()[2].removeprefix("zcnas.") in CONFIG]
    return list(dict.fromkeys(readme + EXTRA))


def resolved(line: str) -> dict:
    """``line``'s composed config, interpolations resolved, without the ``hydra`` node (a sweep: its first job)."""
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name=CONFIG[line.split()[2].removeprefix("zcnas.")], overrides=overrides(line),
                      return_hydra_config=True)
        HydraConfig.instance().set_config(cfg)
        return OmegaConf.to_container(OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]), resolve=True)


@pytest.mark.parametrize("line", command_lines())
def test_command_composes_to_the_recorded_run(line, monkeypatch):
    monkeypatch.delenv("ZCNAS_DEVICE", raising=False)
    golden = json.loads(GOLDEN.read_text())
    assert line in golden, f"not recorded: {line} (python -m tests.test_compose --write)"
    assert resolved(line) == golden[line]


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    import os
    import tempfile

    os.environ.pop("ZCNAS_DEVICE", None)
    os.environ["ZCNAS_CONFIG_DIR"] = tempfile.mkdtemp()  # no user-calibrated windows in the record
    GOLDEN.write_text(json.dumps({line: resolved(line) for line in command_lines()}, indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")
