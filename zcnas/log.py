"""``python -m zcnas.log <run_dir> [--tracking-uri URI]``: log a finished run directory to MLflow
afterwards (e.g. when the tracking server was unreachable during the run). The URI defaults to the
run's own ``tracking.uri``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from zcnas.tracking import MASK, MlflowTracker


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, log the directory, print the run id."""
    parser = argparse.ArgumentParser(prog="python -m zcnas.log", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--tracking-uri", default=None)
    parser.add_argument("--experiment", default=None)
    args = parser.parse_args(argv)
    try:
        import yaml  # noqa: PLC0415

        cfg_file = args.run_dir / "config.yaml"
        if not cfg_file.is_file():
            raise FileNotFoundError(f"{args.run_dir} is not a finished zcnas run directory (no config.yaml)")
        try:  # read as data: nothing in a run directory is resolved, imported or instantiated
            cfg = yaml.safe_load(cfg_file.read_text())
        except (yaml.YAMLError, UnicodeDecodeError) as err:
            raise ValueError(f"{cfg_file}: not a readable YAML config ({str(err).splitlines()[0]})") from None
        tracking: dict = cfg["tracking"] if isinstance(cfg, dict) and isinstance(cfg.get("tracking"), dict) else {}
        uri = args.tracking_uri or tracking.get("uri") or "sqlite:///mlruns.db"
        if MASK + "@" in str(uri) or "${" in str(uri):
            raise ValueError(f"the run's tracking.uri {uri!r} was masked (credentials are never written to "
                             "disk); pass --tracking-uri, with the credentials in MLFLOW_TRACKING_USERNAME/PASSWORD")
        tracker = MlflowTracker(str(uri), args.experiment or tracking.get("experiment") or "zcnas", retries=1)
        unreachable = tracker.check()
        if unreachable:
            raise OSError(f"tracking server {tracker.shown_uri} is unreachable ({unreachable}); nothing was logged")
        run_id = tracker.log_dir(args.run_dir)
    except (ValueError, KeyError, OSError) as err:
        sys.exit(f"zcnas.log: error: {err}")
    if run_id is None:
        sys.exit(f"zcnas.log: error: could not log {args.run_dir} to {tracker.shown_uri} (see the line above)")
    print(f"logged {args.run_dir} as MLflow run {run_id} at {tracker.shown_uri}")


if __name__ == "__main__":
    main()
