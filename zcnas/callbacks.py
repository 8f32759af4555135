"""Hydra callbacks for multiruns (``python -m zcnas.run -m ...``), on the launching process.

:class:`SweepCallback`:
* while jobs run elsewhere (submitit), prints one line per finished job (:class:`JobWatcher`);
* at the start, creates the MLflow database, the experiment and one *parent* run for the sweep,
  and exports its id (``ZCNAS_MLFLOW_PARENT_RUN_ID``) so every job, local or on Slurm (submitit
  passes the environment on), logs a child run (``mlflow.parentRunId``);
* at the end, merges sharded runs (``shard.count>1``) into ``<sweep_dir>/merged/`` and logs them as
  children, summarises the sweep (:mod:`zcnas.summarize`: ``summary.csv``, plots, a printed table)
  and logs the summary to the parent run (metrics, the sweep's overrides as params, artifacts),
  then closes the parent run. The parent is named after the sweep's overrides.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

log = logging.getLogger("zcnas.callbacks")
ENV = "ZCNAS_MLFLOW_PARENT_RUN_ID"
LAUNCHER_LOGGERS = ("hydra._internal.core_plugins.basic_launcher",
                    "hydra_plugins.hydra_submitit_launcher.submitit_launcher")


class JobWatcher(threading.Thread):
    """Prints one line per finished job of a sweep as its ``run_summary.json`` appears (launchers
    that run jobs in other processes, e.g. submitit local/Slurm, keep their output in log files)."""

    def __init__(self, sweep_dir: Path, every: float = 2.0) -> None:
        super().__init__(daemon=True)
        self.sweep_dir, self.every = sweep_dir, every
        self.seen: set[Path] = set()
        self.done = threading.Event()

    def run(self) -> None:
        """Poll until :meth:`stop`."""
        while not self.done.wait(self.every):
            self.report()

    def report(self) -> None:
        """Print a line for every job finished since the last call."""
        for path in sorted(self.sweep_dir.glob("*/run_summary.json")):
            if path in self.seen or not (path.parent / "correlations.json").is_file():
                continue
            self.seen.add(path)
            try:
                print(job_line(path.parent), flush=True)
            except (ValueError, OSError, KeyError) as err:  # a file still being written: next poll
                self.seen.discard(path)
                log.debug("job %s not readable yet (%s)", path.parent, err)

    def stop(self) -> None:
        """Report what is left and stop polling."""
        self.done.set()
        self.report()


def job_line(run_dir: Path) -> str:
    """``job <dir> done: <n> archs in <s> s | <proxy>/<target> ρ=... ...`` from a run directory."""
    summary = json.loads((run_dir / "run_summary.json").read_text())
    recs = json.loads((run_dir / "correlations.json").read_text())
    rhos = " ".join(f"{r['proxy']}/{r['target']} ρ={r['spearman']:.3f}" if r.get("spearman") is not None
                    else f"{r['proxy']}/{r['target']} ρ=nan" for r in recs[:6])
    more = f" (+{len(recs) - 6} more)" if len(recs) > 6 else ""
    return f"job {run_dir.name} done: {summary['n_archs']} archs in {summary['seconds']:.1f} s | {rhos}{more}"
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
        """``python -m zcnas.run -m``: the sweep directory, and no credential handed to submitit."""
        check_writable(Path(config.hydra.sweep.dir), "hydra.sweep.dir")
        check_no_pickled_secrets(config)


def check_no_pickled_secrets(config: Any) -> None:
    """Exit with a one-line error when a submitit sweep's config holds a credential (a password in
    ``cache.url`` / ``tracking.uri``, a secret-named key): submitit pickles each job's config into
    ``<sweep_dir>/.submitit/*.pkl``, a file no redaction reaches. libpq reads ``PGPASSWORD`` and
    ``~/.pgpass``, MLflow ``MLFLOW_TRACKING_PASSWORD``; submitit passes the environment on."""
    if "submitit" not in str(config.hydra.launcher.get("_target_", "")) or not sweep_secrets(config):
        return
    sys.exit("zcnas.run: error: a password in the config (cache.url, tracking.uri or a secret-named key) would be "
             f"pickled by submitit into {config.hydra.sweep.dir}/.submitit; drop it from the URL and set "
             "PGPASSWORD (or ~/.pgpass) for PostgreSQL, MLFLOW_TRACKING_PASSWORD for an MLflow server")


class SweepCallback(Callback):
    """Parent MLflow run per multirun, job lines as jobs finish, merge of shards, sweep summary."""

    def __init__(self) -> None:
        self.tracker: Any = None
        self.watcher: JobWatcher | None = None

    def __getstate__(self) -> dict[str, Any]:
        """submitit pickles the launcher with its callbacks: the watcher thread stays here."""
        return {**self.__dict__, "watcher": None}

    def on_job_start(self, config: Any, **kwargs: Any) -> None:
        """Mask credentials in the sweep's multirun.yaml as soon as a job starts (Hydra writes it at launch, after
        :meth:`on_multirun_start`; a sweep whose jobs fail never reaches :meth:`on_multirun_end`)."""
        from zcnas.tracking import scrub_files  # noqa: PLC0415

        if config.hydra.mode is not None and str(config.hydra.mode).endswith("MULTIRUN"):
            scrub_files([Path(config.hydra.sweep.dir) / "multirun.yaml"], sweep_secrets(config))

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        """Create the database, experiment and parent run before any job starts."""
        from hydra.utils import instantiate  # noqa: PLC0415

        from zcnas.tracking import install_redaction  # noqa: PLC0415

        install_redaction(sweep_secrets(config), loggers=LAUNCHER_LOGGERS)  # they print each job's overrides
        if "submitit" in str(config.hydra.launcher.get("_target_", "")):  # jobs print elsewhere
            self.watcher = JobWatcher(Path(config.hydra.sweep.dir))
            self.watcher.start()

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
        """Merge shards (if any), mask credentials in multirun.yaml, summarise the sweep, log the
        summary and close the parent run."""

        from zcnas.merge import find_shards, merge  # noqa: PLC0415
        from zcnas.summarize import format_summary, parent_metrics, write  # noqa: PLC0415
        from zcnas.tracking import scrub_files  # noqa: PLC0415

        if self.watcher is not None:
            self.watcher.stop()
        sweep_dir = Path(config.hydra.sweep.dir)
        scrub_files([sweep_dir / "multirun.yaml"], sweep_secrets(config))  # Hydra writes the sweep's overrides there
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
                client.log_table(run_id, summary, "summary/summary_table.json")  # a sortable table in the UI
            client.set_terminated(run_id)
            os.environ.pop(ENV, None)


def sweep_secrets(config: Any) -> list[str]:
    """Credentials of a sweep (tracking and cache URIs, secret-named keys, the overrides)."""
    from omegaconf import OmegaConf  # noqa: PLC0415

    from zcnas.tracking import find_secrets  # noqa: PLC0415

    nodes = {k: OmegaConf.to_container(config[k], resolve=True) for k in ("tracking", "cache") if k in config}
    return find_secrets({"config": nodes, "overrides": list(OmegaConf.to_container(config.hydra.overrides.task) or [])})


def overrides(config: Any) -> dict[str, str]:
    """The sweep's command-line overrides (``hydra.*`` left out), credentials masked."""
    from zcnas.tracking import redact  # noqa: PLC0415

    pairs = (str(o).partition("=") for o in config.hydra.overrides.task)
    return redact({k: v for k, _, v in pairs if not k.lstrip("+~").startswith("hydra")})


def sweep_name(config: Any) -> str:
    """The parent run's name: ``sweep: <the sweep's overrides>`` (or its directory's name)."""
    text = " ".join(f"{k}={v}" for k, v in overrides(config).items())
    return f"sweep: {text}"[:250] if text else f"sweep-{Path(config.hydra.sweep.dir).name}"
