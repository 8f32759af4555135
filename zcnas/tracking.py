"""Experiment trackers: MLflow (sqlite store) and a null tracker.

MLflow is imported lazily inside :class:`MlflowTracker`, so the scoring path imports without it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class NullTracker:
    """Tracks nothing (``tracking=none``)."""

    def log_run(self, *, name: str, params: dict[str, Any], metrics: dict[str, float],
                tags: dict[str, str], artifacts: list[Path]) -> str | None:
        """Do nothing; return no run id."""
        return None


class MlflowTracker:
    """Log one finished run to MLflow.

    Args:
        uri: tracking URI (default ``sqlite:///mlruns.db`` in the working directory; the
            deprecated file store is never used).
        experiment: experiment name.
    """

    def __init__(self, uri: str = "sqlite:///mlruns.db", experiment: str = "zcnas") -> None:
        self.uri = uri
        self.experiment = experiment

    def log_run(self, *, name: str, params: dict[str, Any], metrics: dict[str, float],
                tags: dict[str, str], artifacts: list[Path]) -> str | None:
        """Create a run with params, finite metrics, tags and artifact files; return its id.

        If the tracking backend fails, the error is logged in one line and ``None`` returned:
        the run's files on disk are already complete.
        """
        import mlflow  # noqa: PLC0415 - heavy, optional on the scoring path
        from mlflow.exceptions import MlflowException  # noqa: PLC0415

        try:
            mlflow.set_tracking_uri(self.uri)
            exp = mlflow.set_experiment(self.experiment)
            if "mlflow.experimentKind" not in exp.tags:  # the UI then opens on the runs table, not GenAI
                mlflow.MlflowClient().set_experiment_tag(exp.experiment_id, "mlflow.experimentKind",
                                                         "custom_model_development")
            with mlflow.start_run(run_name=name) as run:
                items = [(k, str(v)[:6000]) for k, v in params.items()]
                for i in range(0, len(items), 100):
                    mlflow.log_params(dict(items[i:i + 100]))
                mlflow.log_metrics({k: v for k, v in metrics.items() if v == v})
                mlflow.set_tags(tags)
                for path in artifacts:
                    mlflow.log_artifact(str(path), artifact_path="plots" if path.suffix == ".png" else None)
                return str(run.info.run_id)
        except (MlflowException, OSError) as err:
            log.error("MLflow logging to %s failed (%s); result files are still in the run directory",
                      self.uri, str(err).splitlines()[0] if str(err) else type(err).__name__)
            return None
