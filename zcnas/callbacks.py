"""Hydra callbacks for multiruns (``python -m zcnas.run -m ...``), on the launching process.

:class:`SweepCallback`:
* at the start, creates the MLflow database, the experiment and one *parent* run for the sweep,
  and exports its id (``ZCNAS_MLFLOW_PARENT_RUN_ID``) so every job, local or on Slurm (submitit
  passes the environment on), logs a child run (``mlflow.parentRunId``);
* at the end, merges sharded runs (``shard.count>1``) into ``<sweep_dir>/merged/`` and logs them as
  children, then closes the parent run.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

log = logging.getLogger("zcnas.callbacks")
ENV = "ZCNAS_MLFLOW_PARENT_RUN_ID"


def check_writable(path: Path, key: str) -> None:
    """Exit with a one-line error when ``path`` (or, if missing, its nearest existing parent) cannot
    be written: Hydra would otherwise fail with a traceback creating its log file there."""
    probe = path
    try:
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        writable = probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)
    except OSError:  # a parent that cannot even be searched
        writable = False
    if not writable:
        sys.exit(f"zcnas.run: error: output directory {path} is not writable ({probe} is read-only or not a "
                 f"directory); set {key}=<a writable directory>")


class RunDirCheck(Callback):
    """Before Hydra creates the output directory and its log file, check that it can be written."""

    def on_run_start(self, config: Any, **kwargs: Any) -> None:
        """``python -m zcnas.run``: the run directory."""
        check_writable(Path(config.hydra.run.dir), "hydra.run.dir")

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        """``python -m zcnas.run -m``: the sweep directory."""
        check_writable(Path(config.hydra.sweep.dir), "hydra.sweep.dir")


class SweepCallback(Callback):
    """Parent MLflow run per multirun + automatic merge of shards."""

    def __init__(self) -> None:
        self.tracker: Any = None

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        """Create the database, experiment and parent run before any job starts."""
        from hydra.utils import instantiate  # noqa: PLC0415

        tracker = instantiate(config.tracking)
        if not hasattr(tracker, "experiment_id"):
            return
        import mlflow  # noqa: PLC0415

        try:
            exp_id = tracker.experiment_id()
            parent = mlflow.MlflowClient(tracker.uri).create_run(
                exp_id, run_name=f"sweep-{Path(config.hydra.sweep.dir).name}",
                tags={"zcnas.sweep_dir": str(Path(config.hydra.sweep.dir).resolve())})
        except Exception as err:  # noqa: BLE001 - the sweep runs without tracking rather than not at all
            log.error("MLflow parent run not created at %s (%s); jobs log standalone runs", tracker.uri,
                      str(err).splitlines()[0])
            return
        os.environ[ENV] = parent.info.run_id
        tracker.parent_run_id = parent.info.run_id
        self.tracker = tracker
        log.info("MLflow parent run %s for this sweep", parent.info.run_id)

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        """Merge shards (if any) and close the parent run."""
        from omegaconf import OmegaConf  # noqa: PLC0415

        from zcnas.merge import find_shards, merge  # noqa: PLC0415
        from zcnas.tracking import find_secrets, scrub_files  # noqa: PLC0415

        sweep_dir = Path(config.hydra.sweep.dir)
        overrides = list(OmegaConf.to_container(config.hydra.overrides.task) or [])
        secrets = find_secrets({"config": OmegaConf.to_container(config.tracking, resolve=True), "overrides": overrides})
        scrub_files([sweep_dir / "multirun.yaml"], secrets)  # Hydra writes the sweep's overrides there
        groups = find_shards(sweep_dir) if sweep_dir.is_dir() else {}
        if groups:
            merge(sweep_dir, self.tracker, groups)
        if self.tracker is not None:
            import mlflow  # noqa: PLC0415

            mlflow.MlflowClient(self.tracker.uri).set_terminated(self.tracker.parent_run_id)
            os.environ.pop(ENV, None)
