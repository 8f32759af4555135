"""Hydra callbacks for multiruns (``python -m zcnas.run -m ...``), on the launching process.

:class:`SweepCallback`:
* at the start, creates the MLflow database, the experiment and one *parent* run for the sweep,
  and exports its id (``ZCNAS_MLFLOW_PARENT_RUN_ID``) so every job, local or on Slurm (submitit
  passes the environment on), logs a child run (``mlflow.parentRunId``);
* at the end, merges sharded runs (``shard.count>1``) into ``<sweep_dir>/merged/`` and logs them as
  children, summarises the sweep (:mod:`zcnas.summarize`: ``summary.csv``, plots, a printed table)
  and logs the summary to the parent run (metrics, the sweep's overrides as params, artifacts),
  then closes the parent run. The parent is named after the sweep's overrides.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

log = logging.getLogger("zcnas.callbacks")
ENV = "ZCNAS_MLFLOW_PARENT_RUN_ID"


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
                exp_id, run_name=sweep_name(config),
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
        """Merge shards (if any), summarise the sweep, log the summary and close the parent run."""
        from zcnas.merge import find_shards, merge  # noqa: PLC0415
        from zcnas.summarize import format_summary, parent_metrics, write  # noqa: PLC0415

        sweep_dir = Path(config.hydra.sweep.dir)
        groups = find_shards(sweep_dir) if sweep_dir.is_dir() else {}
        if groups:
            merge(sweep_dir, self.tracker, groups)
        try:
            summary, files = write([sweep_dir], sweep_dir)
        except (ValueError, OSError) as err:  # e.g. every job failed: nothing to summarise
            log.error("sweep summary not written: %s", err)
            summary, files = None, []
        if summary is not None:
            print(f"sweep summary ({sweep_dir / 'summary.csv'}):\n{format_summary(summary)}")
        if self.tracker is not None:
            import mlflow  # noqa: PLC0415

            client = mlflow.MlflowClient(self.tracker.uri)
            run_id = self.tracker.parent_run_id
            if summary is not None:
                for key, metric in parent_metrics(summary).items():
                    client.log_metric(run_id, key, metric)
                for name, value in overrides(config).items():
                    client.log_param(run_id, f"override.{name}"[:250], str(value)[:6000])
                for path in files:
                    client.log_artifact(run_id, str(path), artifact_path="summary")
            client.set_terminated(run_id)
            os.environ.pop(ENV, None)


def overrides(config: Any) -> dict[str, str]:
    """The sweep's command-line overrides (``hydra.*`` left out), credentials masked."""
    from zcnas.tracking import redact  # noqa: PLC0415

    pairs = (str(o).partition("=") for o in config.hydra.overrides.task)
    return redact({k: v for k, _, v in pairs if not k.lstrip("+~").startswith("hydra")})


def sweep_name(config: Any) -> str:
    """The parent run's name: ``sweep: <the sweep's overrides>`` (or its directory's name)."""
    text = " ".join(f"{k}={v}" for k, v in overrides(config).items())
    return f"sweep: {text}"[:250] if text else f"sweep-{Path(config.hydra.sweep.dir).name}"
