"""Experiment trackers: MLflow (sqlite store) and a null tracker.

A tracker logs a finished run *directory* (``log_dir``): params from its ``config.yaml`` (without
bookkeeping keys, see :data:`NOISE`) plus the proxy list and the counts, metrics
``<target>/<stat>/<proxy>`` from ``correlations.json`` (grouped by target, so MLflow's chart view
shows every proxy side by side; zcnas before 0.2 wrote ``<stat>/<proxy>/<target>``: re-log an old
run directory with ``python -m zcnas.log`` to get the new names), name, tags and the run's real
start and end time from ``run_summary.json``, every contract file as an artifact. So a run whose
tracking failed can be logged later with ``python -m zcnas.log <run_dir>``. Secret-looking params
are masked (:func:`redact`), and credentials in the config (a URI's ``user:password@``,
secret-named keys) are masked in every file zcnas writes or logs (:func:`find_secrets`,
:func:`scrub`, :func:`install_redaction`). A tracking backend is checked before the scoring starts
(:meth:`MlflowTracker.check`, ``tracking.timeout_s``) and its HTTP requests are bounded
(``timeout_s``, ``http_retries``): a slow or dead server never holds results hostage. MLflow is
imported lazily: the scoring path imports without it.
"""

from __future__ import annotations

import http.client
import json
import logging
import math
import os
import re
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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


_URI_PASSWORD = re.compile(r"://[^/@\s:]*:([^/@\s]+)@")
MASK = "***"
VIEW = "mlflow.sharedViewState.zcnas"
"""Experiment tag of MLflow's shared view state (``#/experiments/<id>/runs?viewStateShareKey=zcnas``, the URL
``make ui`` prints): the runs table with a Spearman column per logged ``<target>/spearman/<proxy>``."""
VIEW_COLUMNS = 24
SCORE_METRICS = 100
"""A run without ground truth logs ``score/<proxy>/<arch>`` for at most this many archs (all are in scores.csv)."""
_KEY_UNSAFE = re.compile(r"[^\w\-. ]")  # characters an MLflow metric key refuses


def find_secrets(config: Any) -> list[str]:
    """The secret strings of a config (nested dicts/lists): the password of every ``scheme://user:pw@``
    URI and the values of secret-named keys (password, token, api_key, ...)."""
    out: set[str] = set()

    def walk(node: Any, key: str = "") -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, str(k))
        elif isinstance(node, list | tuple):
            for v in node:
                walk(v, key)
        elif isinstance(node, str) and node:
            if _SECRET_KEY.search(key) and node != MASK:
                out.add(node)
            out.update(m for m in _URI_PASSWORD.findall(node) if m != MASK)

    walk(config)
    return sorted(out, key=len, reverse=True)


def scrub(obj: Any, secrets: list[str]) -> Any:
    """``obj`` (str, or dicts/lists of them) with every secret replaced by ``***``."""
    if isinstance(obj, str):
        for secret in secrets:
            obj = obj.replace(secret, MASK)
        return obj
    if isinstance(obj, dict):
        return {k: scrub(v, secrets) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [scrub(v, secrets) for v in obj]
    return obj


def scrub_files(paths: list[Path], secrets: list[str]) -> None:
    """Rewrite the text files ``paths`` with every secret masked (Hydra's ``.hydra/*.yaml`` are written
    before zcnas runs)."""
    for path in paths:
        if secrets and path.is_file():
            text = path.read_text(errors="surrogateescape")
            if any(secret in text for secret in secrets):
                path.write_text(scrub(text, secrets), errors="surrogateescape")


class _Redact(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret in message for secret in self.secrets):
            record.msg, record.args = scrub(message, self.secrets), ()
        return True


def install_redaction(secrets: list[str], loggers: tuple[str, ...] = ()) -> None:
    """Mask ``secrets`` in every log line: a filter on each handler of the root logger (Hydra's
    ``run.log`` and console) and on the loggers that propagate to it, and on the named ``loggers``
    themselves (a logger's own filter survives the handlers being reconfigured, as Hydra's launchers
    do right before printing each job's overrides)."""
    if not secrets:
        return
    for name in loggers:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _Redact) for f in logger.filters):
            logger.addFilter(_Redact(secrets))
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _Redact) for f in handler.filters):
            handler.addFilter(_Redact(secrets))
        else:
            next(f for f in handler.filters if isinstance(f, _Redact)).secrets = secrets


def read_run_dir(out_dir: Path) -> dict[str, Any]:
    """What a tracker logs of a run directory: name, params, metrics, tags, artifact paths."""
    from zcnas.results import flatten, read_yaml_data  # noqa: PLC0415

    missing = [f for f in REQUIRED if not (out_dir / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{out_dir} is not a finished zcnas run directory: it lacks {missing}")
    linked = [f for f in REQUIRED if not inside(out_dir, out_dir / f)]
    if linked:
        raise ValueError(f"{out_dir / linked[0]} is a link: a run directory's files are read only when they are "
                         "its own plain files; copy the file in place of the link")
    try:
        summary = json.loads((out_dir / "run_summary.json").read_text())
        correlations = json.loads((out_dir / "correlations.json").read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{out_dir}: run_summary.json or correlations.json is not valid JSON ({err})") from None
    if not isinstance(summary, dict) or not isinstance(summary.get("seconds"), int | float):
        raise ValueError(f"{out_dir / 'run_summary.json'} lacks the field 'seconds' (a number): not written by a "
                         "finished zcnas run; rerun it")
    if not isinstance(correlations, list) or not all(isinstance(r, dict) and {"proxy", "target"} <= set(r)
                                                     for r in correlations):
        raise ValueError(f"{out_dir / 'correlations.json'}: expected a list of {{proxy, target, ...}} records")
    metrics = {f"{r['target']}/{m}/{r['proxy']}": r[m] for r in correlations for m in STATS
               if r.get(m) is not None}
    if not correlations:  # no ground truth (space=timm): the scores themselves, score/<proxy>/<arch>
        metrics = score_metrics(out_dir)
    meta: dict[str, Any] = summary["mlflow"] if isinstance(summary.get("mlflow"), dict) else {}
    config = read_yaml_data(out_dir / "config.yaml")  # read as data: nothing in a run directory is resolved or instantiated
    if not isinstance(config, dict):
        raise ValueError(f"{out_dir / 'config.yaml'}: not a zcnas run config (a mapping expected)")
    flat = flatten(config)
    proxies = summary.get("proxies") or meta.get("tags", {}).get("proxies", "").split(",")
    counts = {k.replace("n_archs", "n_scored"): summary[k] for k in ("n_archs", "n_computed", "n_cached")
              if k in summary}
    params = {k: v for k, v in flat.items() if not NOISE.search(k)}
    return {"name": meta.get("name", out_dir.name), "tags": meta.get("tags", {}),
            "params": redact({**params, "proxies": ",".join(p for p in proxies if p),
                              "n_proxies": len([p for p in proxies if p]), **counts}),
            "metrics": {**metrics, "seconds": summary["seconds"], **search_metrics(out_dir, summary)},
            "times": (summary.get("started_ms"), summary.get("finished_ms")),
            "artifacts": [p for p in [out_dir / f for f in FILES if (out_dir / f).is_file()]
                          + sorted(out_dir.glob("combiner_*.csv")) + sorted(out_dir.glob("scatter_*.png"))
                          + sorted(out_dir.glob("search_*.png")) if inside(out_dir, p, warn=True)]}


def score_metrics(out_dir: Path, limit: int = SCORE_METRICS) -> dict[str, float]:
    """``score/<proxy>/<arch>`` of a run without ground truth, for its first ``limit`` archs (the arch string
    with characters MLflow keys refuse as ``_``); finite scores only."""
    from zcnas.results import read_scores  # noqa: PLC0415

    table = read_scores(out_dir / "scores.csv").head(limit)
    return {f"score/{p}/{_KEY_UNSAFE.sub('_', str(arch))}": float(v)
            for p in table.columns if p != "arch" for arch, v in zip(table["arch"], table[p], strict=True)
            if isinstance(v, int | float) and math.isfinite(v)}


def inside(out_dir: Path, path: Path, warn: bool = False) -> bool:
    """True for a plain file of ``out_dir`` itself (not a link, not resolving outside it): the only files a
    run directory's reader uploads or parses; ``warn``: say when one is skipped."""
    ok = not path.is_symlink() and path.resolve().is_relative_to(out_dir.resolve())
    if not ok and warn:
        log.warning("%s is a link or lies outside %s: not uploaded", path, out_dir)
    return ok


def search_metrics(out_dir: Path, summary: dict[str, Any]) -> dict[str, float]:
    """The run's cost (``cost/cpu_hours``, ``cost/gpu_hours`` on CUDA) and, for a search, the found
    arch's ``search/params_M``, ``search/flops_M``, ``search/fitness`` and ``search/n_evaluated``."""
    cost = summary.get("cost")
    cost = cost if isinstance(cost, dict) else {}
    out = {f"cost/{k}": float(v) for k, v in cost.items() if isinstance(v, int | float)}
    sel_path = out_dir / "selected_arch.json"
    if sel_path.is_file():
        from zcnas.results import read_json  # noqa: PLC0415

        sel = read_json(sel_path, f"{sel_path} is missing", f"{sel_path}: not valid JSON ({{err}})")
        out |= {f"search/{k}": float(sel[k]) for k in ("params_M", "flops_M", "fitness", "n_evaluated")
                if isinstance(sel, dict) and isinstance(sel.get(k), int | float) and abs(sel[k]) < float("inf")}
    return out


class NullTracker:
    """Tracks nothing (``tracking=none``)."""

    def log_dir(self, out_dir: Path) -> str | None:
        """Do nothing; return no run id."""
        return None

    def check(self) -> str | None:
        """Nothing to reach."""
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
        timeout_s: seconds the reachability check and each HTTP request may take (MLflow's own
            default is 120 s per request).
        http_retries: MLflow's HTTP retries per request (its own default is 7, with backoff).
    """

    def __init__(self, uri: str = "sqlite:///mlruns.db", experiment: str = "zcnas",
                 parent_run_id: str | None = None, retries: int = 5, timeout_s: float = 10,
                 http_retries: int = 2) -> None:
        self.uri = uri
        self.experiment = experiment
        self.parent_run_id = parent_run_id
        self.retries = retries
        self.timeout_s = timeout_s
        self.http_retries = http_retries
        self.shown_uri = _URI_USERINFO.sub(MASK + "@", uri)  # what logs and messages show

    def check(self) -> str | None:
        """Is the backend reachable and writable, within ``timeout_s``? ``None`` if so, else the
        reason (one line). HTTP(S): any answer to ``GET /health``; SQLite: its folder exists and is
        writable; other database URLs: a TCP connection to the host. Other schemes pass."""
        from zcnas.cli import need  # noqa: PLC0415

        try:
            need("mlflow", "tracking", "tracking=mlflow")
        except ValueError as err:
            return f"{err} (or tracking=none)"
        parts = urlsplit(self.uri)
        scheme = parts.scheme.split("+")[0]
        try:
            if scheme in ("http", "https"):
                conn_cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
                conn = conn_cls(parts.hostname or "localhost", parts.port, timeout=self.timeout_s)
                try:
                    conn.request("GET", parts.path.rstrip("/") + "/health")
                    conn.getresponse().read(256)
                finally:
                    conn.close()
            elif scheme == "sqlite":
                path = Path(self.uri.split(":///", 1)[1]) if ":///" in self.uri else None
                if path is not None and str(path) not in ("", ":memory:"):
                    folder = path.parent if str(path.parent) else Path(".")
                    if not folder.is_dir():
                        return f"folder {folder} of the SQLite store does not exist"
                    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
                        return f"SQLite store {path} is not writable"
            elif scheme in ("postgresql", "mysql", "mssql") and parts.hostname:
                default = {"postgresql": 5432, "mysql": 3306, "mssql": 1433}[scheme]
                socket.create_connection((parts.hostname, parts.port or default), timeout=self.timeout_s).close()
        except (OSError, http.client.HTTPException) as err:
            return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
        return None

    def experiment_id(self) -> str:
        """Create (if needed) and return the experiment; it opens on the runs table in the UI."""
        import mlflow  # noqa: PLC0415

        # bounded HTTP requests (MLflow reads these per request); a user's own settings win
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(max(1, round(self.timeout_s))))
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(self.http_retries))
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")

        mlflow.set_tracking_uri(self.uri)
        exp = mlflow.set_experiment(self.experiment)
        if "mlflow.experimentKind" not in exp.tags:  # not the GenAI overview
            mlflow.MlflowClient().set_experiment_tag(exp.experiment_id, "mlflow.experimentKind",
                                                     "custom_model_development")
        if VIEW not in exp.tags:  # the runs table's shared view, empty until runs add their columns
            mlflow.MlflowClient().set_experiment_tag(exp.experiment_id, VIEW, json.dumps({"selectedColumns": []}))
        return str(exp.experiment_id)

    def share_view(self, experiment_id: str, metrics: Any) -> None:
        """Add the ``<target>/spearman/<proxy>`` keys among ``metrics`` as columns of the runs table's shared
        view (:data:`VIEW`; the first :data:`VIEW_COLUMNS`, sorted): the table opens with them, no clicks."""
        import mlflow  # noqa: PLC0415

        client = mlflow.MlflowClient(self.uri)
        try:
            old = json.loads(client.get_experiment(experiment_id).tags.get(VIEW, "{}")).get("selectedColumns", [])
        except (ValueError, AttributeError):  # not ours or not a view: replaced
            old = []
        new = {f"metrics.`{k}`" for k in metrics if k.count("/") == 2 and k.split("/")[1] == "spearman"}
        columns = sorted({c for c in old if isinstance(c, str)} | new)[:VIEW_COLUMNS]
        if columns != old:
            client.set_experiment_tag(experiment_id, VIEW, json.dumps({"selectedColumns": columns}))

    def later(self, out_dir: Path) -> str:
        """The command that logs ``out_dir`` here afterwards (``--tracking-uri`` without credentials: those go in
        MLFLOW_TRACKING_USERNAME/PASSWORD; zcnas.log never takes the URI from the run dir unasked)."""
        uri = _URI_USERINFO.sub("", self.uri) if _URI_USERINFO.search(self.uri) else self.uri
        return f"python -m zcnas.log {out_dir}" + ("" if uri == "sqlite:///mlruns.db" else f" --tracking-uri '{uri}'")

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
                          "log them later with: %s", self.shown_uri, msg, out_dir, self.later(out_dir))
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
        try:  # the run is logged: a failure here must not make the caller's retry log it twice
            self.share_view(exp_id, run["metrics"])
        except Exception as err:  # noqa: BLE001
            log.warning("MLflow: the runs table's shared view (%s) not updated: %s", VIEW, str(err).splitlines()[0])
        return str(run_id)
