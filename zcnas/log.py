"""``python -m zcnas.log <run_dir> [--tracking-uri URI]``: log a finished run directory to MLflow
afterwards (e.g. when the tracking server was unreachable during the run). The URI is the user's:
``--tracking-uri``, else ``$MLFLOW_TRACKING_URI``, else zcnas's default ``sqlite:///mlruns.db``, never
the one written in the run directory (a shared run dir could name someone's database or server): when
that one differs and none was chosen, a one-line error names both and nothing is logged."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from zcnas.cli import one_line_errors
from zcnas.tracking import _URI_USERINFO, MASK, MlflowTracker


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, log the directory, print the run id."""
    parser = argparse.ArgumentParser(prog="python -m zcnas.log", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, nargs="?")
    parser.add_argument("--tracking-uri", default=None)
    parser.add_argument("--experiment", default=None)
    parser.add_argument("--url", action="store_true", help="print the MLflow UI URL of the experiment's runs table")
    parser.add_argument("--port", type=int, default=5000, help="with --url: the UI's port")
    args = parser.parse_args(argv)
    if args.url:
        print(runs_table_url(args.tracking_uri or "sqlite:///mlruns.db", args.experiment or "zcnas", args.port))
        return
    if args.run_dir is None:
        parser.error("a run directory is required (or --url)")
    with one_line_errors("zcnas.log"):
        from zcnas.results import read_yaml_data  # noqa: PLC0415

        cfg_file = args.run_dir / "config.yaml"
        if not cfg_file.is_file():
            raise FileNotFoundError(f"{args.run_dir} is not a finished zcnas run directory (no config.yaml)")
        cfg = read_yaml_data(cfg_file)  # read as data: nothing in a run directory is resolved, imported or instantiated
        tracking: dict = cfg["tracking"] if isinstance(cfg, dict) and isinstance(cfg.get("tracking"), dict) else {}
        chosen = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
        uri = chosen or "sqlite:///mlruns.db"
        planted = tracking.get("uri")
        if not chosen and planted and str(planted) != uri:  # confirm: never where the file alone says
            raise ValueError(f"the run names tracking.uri {_URI_USERINFO.sub(MASK + '@', str(planted))[:200]!r}, not "
                             f"zcnas's default {uri}; a run dir's URI is never used unasked: pass --tracking-uri "
                             f"<URI> (that one, with credentials in MLFLOW_TRACKING_USERNAME/PASSWORD, or {uri})")
        experiment = tracking.get("experiment") if isinstance(tracking.get("experiment"), str) else None
        tracker = MlflowTracker(str(uri), args.experiment or experiment or "zcnas", retries=1)
        unreachable = tracker.check()
        if unreachable:
            raise OSError(f"tracking server {tracker.shown_uri} is unreachable ({unreachable}); nothing was logged")
        run_id = tracker.log_dir(args.run_dir)
    if run_id is None:
        sys.exit(f"zcnas.log: error: could not log {args.run_dir} to {tracker.shown_uri} (see the line above)")
    print(f"logged {args.run_dir} as MLflow run {run_id} at {tracker.shown_uri}")


def runs_table_url(uri: str, experiment: str, port: int) -> str:
    """``http://127.0.0.1:<port>/#/experiments/<id>/runs?viewStateShareKey=zcnas&workflowType=machine_learning``
    (the runs table in the model-training view, not the GenAI overview, with a Spearman column per proxy and
    target: :data:`zcnas.tracking.VIEW`),
    creating the experiment if needed so the link opens even before the first run."""
    experiment_id = MlflowTracker(uri, experiment).experiment_id()
    view = "viewStateShareKey=zcnas&workflowType=machine_learning"
    return f"runs table: http://127.0.0.1:{port}/#/experiments/{experiment_id}/runs?{view}"


if __name__ == "__main__":
    main()
