"""Experiment trackers: MLflow (sqlite store) and a null tracker.

A tracker logs a finished run *directory* (``log_dir``): params from its ``config.yaml`` (without
bookkeeping keys, see :data:`NOISE`) plus the proxy list and the counts, metrics
``<target>/<stat>/<proxy>`` from ``correlations.json`` (grouped by target, so MLflow's chart view
shows every proxy side by side; zcnas before 0.2 wrote ``<stat>/<proxy>/<target>``: re-log an old
run directory with ``python -m zcnas.log`` to get the new names), name, tags and the run's real
start and end time from ``run_summary.json``, every contract file as an artifact. So a run whose tracking failed can be logged later with
``python -m zcnas.log <run_dir>``. Secret-looking params are masked (:func:`redact`). MLflow is
imported lazily: the scoring path imports without it.
"""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

STATS = ("spearman", "spearman_lo", "spearman_hi", "kendall", "pearson", "top10_precision", "ndcg10")
REQUIRED = ("correlations.json", "run_summary.json", "config.yaml")
FILES = (*REQUIRED, "scores.csv", "combine.csv", "selected_arch.json")


_SECRET_KEY = re.compile(r"(password|passwd|secret|token|api_key|access_key|credential)", re.I)
_URI_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


# config keys that say where files go or how the run was bookkept, not what was measured
NOISE = re.compile(r"(^|\.)_target_$|^tracking\.|^cache\.|^log_every$|^hydra\.|\._partial_$")


def redact(params: dict[str, Any]) -> dict[str, Any]:
    """Params safe to log: values of secret-looking keys and the user:password part of URIs masked."""
    return {k: "***" if _SECRET_KEY.search(k) else _URI_USERINFO.sub("***@", v) if isinstance(v, str) else v
            for k, v in params.items()}


def read_run_dir(out_dir: Path) -> dict[str, Any]:
    """What a tracker logs of a run directory: name, params, metrics, tags, artifact paths."""
    from omegaconf import OmegaConf  # noqa: PLC0415

    from zcnas.results import flatten  # noqa: PLC0415

    missing = [f for f in REQUIRED if not (out_dir / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{out_dir} is not a finished zcnas run directory: it lacks {missing}")
    summary = json.loads((out_dir / "run_summary.json").read_text())
    correlations = json.loads((out_dir / "correlations.json").read_text())
    metrics = {f"{r['target']}/{m}/{r['proxy']}": r[m] for r in correlations for m in STATS
               if r.get(m) is not None}
    meta = summary.get("mlflow", {})
    config = flatten(OmegaConf.to_container(OmegaConf.load(out_dir / "config.yaml")))  # type: ignore[arg-type]
    proxies = meta.get("tags", {}).get("proxies", "")
    counts = {k.replace("n_archs", "n_scored"): summary[k] for k in ("n_archs", "n_computed", "n_cached")
              if k in summary}
    params = {k: v for k, v in config.items() if not NOISE.search(k) and not k.startswith("proxy.")}
    params |= {f"proxy.{k[6:]}": v for k, v in config.items() if k.startswith("proxy.") and not NOISE.search(k)}
    return {"name": meta.get("name", out_dir.name), "tags": meta.get("tags", {}),
            "params": redact({**params, "proxies": proxies, "n_proxies": len([p for p in proxies.split(",") if p]),
                              **counts}),
            "metrics": {**metrics, "seconds": summary["seconds"]},
            "times": (summary.get("started_ms"), summary.get("finished_ms")),
            "artifacts": [out_dir / f for f in FILES if (out_dir / f).is_file()]
            + sorted(out_dir.glob("combiner_*.csv")) + sorted(out_dir.glob("scatter_*.png"))}


class NullTracker:
    """Tracks nothing (``tracking=none``)."""

    def log_dir(self, out_dir: Path) -> str | None:
        """Do nothing; return no run id."""
        return None


class MlflowTracker:
    """Log finished runs to MLflow.

    Args:
        uri: tracking URI (default ``sqlite:///mlruns.db`` in the working directory; the
            deprecated file store is never used).
        experiment: experiment name.
        parent_run_id: make each run a child of this run (multiruns: set by
            :class:`zcnas.callbacks.SweepCallback` through ``ZCNAS_MLFLOW_PARENT_RUN_ID``).
        retries: attempts when the backend is busy (concurrent jobs sharing one SQLite file).
    """

    def __init__(self, uri: str = "sqlite:///mlruns.db", experiment: str = "zcnas",
                 parent_run_id: str | None = None, retries: int = 5) -> None:
        self.uri = uri
        self.experiment = experiment
        self.parent_run_id = parent_run_id
        self.retries = retries

    def experiment_id(self) -> str:
        """Create (if needed) and return the experiment; it opens on the runs table in the UI."""
        import mlflow  # noqa: PLC0415

        mlflow.set_tracking_uri(self.uri)
        exp = mlflow.set_experiment(self.experiment)
        if "mlflow.experimentKind" not in exp.tags:  # not the GenAI overview
            mlflow.MlflowClient().set_experiment_tag(exp.experiment_id, "mlflow.experimentKind",
                                                     "custom_model_development")
        return str(exp.experiment_id)

    def log_dir(self, out_dir: Path) -> str | None:
        """Log a finished run directory as one MLflow run; return its id.

        If the tracking backend fails (after ``retries`` attempts), the error is logged in one line
        naming ``python -m zcnas.log`` and ``None`` is returned: the files on disk are complete.
        """
        run = read_run_dir(Path(out_dir))
        for attempt in range(1, self.retries + 1):
            try:
                return self._log(run)
            except Exception as err:  # noqa: BLE001 - tracking never kills a finished run
                msg = str(err).splitlines()[0] if str(err) else type(err).__name__
                if attempt < self.retries and "locked" in msg:
                    time.sleep(0.5 * attempt)
                    continue
                log.error("MLflow logging to %s failed (%s); the result files are complete in %s; "
                          "log them later with: python -m zcnas.log %s", self.uri, msg, out_dir, out_dir)
                return None
        return None

    def _log(self, run: dict[str, Any]) -> str:
        import mlflow  # noqa: PLC0415
        from mlflow.entities import Metric, Param  # noqa: PLC0415

        exp_id = self.experiment_id()
        tags = {k: str(v) for k, v in run["tags"].items()}
        if self.parent_run_id:
            tags["mlflow.parentRunId"] = self.parent_run_id
        client = mlflow.MlflowClient(self.uri)
        started, finished = run["times"]
        run_id = client.create_run(exp_id, start_time=started, tags=tags, run_name=run["name"]).info.run_id
        try:
            params = [Param(k, str(v)[:6000]) for k, v in run["params"].items()]
            now = int(time.time() * 1000)
            metrics = [Metric(k, v, finished or now, 0) for k, v in run["metrics"].items() if v == v]
            for i in range(0, max(len(params), len(metrics)), 100):
                client.log_batch(run_id, metrics=metrics[i:i + 100], params=params[i:i + 100])
            for path in run["artifacts"]:
                client.log_artifact(run_id, str(path), artifact_path="plots" if path.suffix == ".png" else None)
        except BaseException:
            client.set_terminated(run_id, "FAILED")
            raise
        client.set_terminated(run_id, "FINISHED", end_time=finished)
        return str(run_id)
