"""``python -m zcnas.combine``: a combiner (LIBRA, XGBoost, rank baselines) on precomputed proxies.

For every task of the benchmark, ``combiner.protocol=held_out`` (default): ``repeats`` seeded splits into
a calibration part (the combiner is fitted there) and an evaluation part (Spearman/Kendall reported
there), with every single proxy correlated on the same evaluation parts for comparison;
``combiner.protocol=in_sample``: one fit on all labelled archs, scored on the same archs (the
paper's reading). Every record carries its ``protocol``. Writes ``combine.csv`` (one row per task x
method x repeat), ``correlations.json`` (means over repeats), the combiner's diagnostics, and logs
to MLflow. A selection combiner (LIBRA) is also fitted once on all labelled archs of each task and
saved as ``combiner.json`` (one task; ``combiner_<task>.json`` for several), with its provenance: the
fitness a search in another space or task loads with ``search.fitness=combiner search.combiner_from=<it>``,
and what ``combiner=none combiner.from=<it>`` applies, unfitted, to every task of another benchmark (its ρ on
all archs, protocol ``transferred``, beside every single proxy on the same archs).

Tables: NAS-Bench-Suite-Zero's (``benchmark=suite_zero_*``), or zcnas run directories (``benchmark=runs
benchmark.dirs=[...]``: their scores.csv, each ground-truth column a task).

Example:
    python -m zcnas.combine -m benchmark=suite_zero_nb201,suite_zero_nb301 combiner=libra,xgboost
    python -m zcnas.combine benchmark=suite_zero_nb301 combiner=libra   # -> <run dir>/combiner.json
    python -m zcnas.combine benchmark=runs 'benchmark.dirs=[<a run dir>]' combiner=none combiner.from=<it>
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pandas as pd

from zcnas.cli import check_argv, instantiate, one_line_errors
from zcnas.combiners import saved
from zcnas.combiners.evaluate import assess, baselines, split
from zcnas.metrics import correlate
from zcnas.plan import CombinerPlan, combine_plan
from zcnas.results import format_table, write_outputs

log = logging.getLogger("zcnas.combine")


def read_scores(spec: Any) -> dict[str, pd.DataFrame]:
    """zcnas ``scores.csv`` files to join onto precomputed tables: ``{task: path}`` or one path for
    every task (ground-truth columns are dropped at the join; clashing names get a ``zc_`` prefix)."""
    paths = {"*": spec} if isinstance(spec, str) else dict(spec)
    return {task: pd.read_csv(path).set_index("arch") for task, path in paths.items()}


def run_combine(cfg: Any, out_dir: Path) -> list[dict[str, Any]]:
    """Evaluate ``cfg.combiner`` on every task of ``cfg.benchmark`` (the config read once, into a
    :class:`~zcnas.plan.CombinePlan`); write outputs; return mean records."""
    t0 = time.perf_counter()
    plan = combine_plan(cfg)
    combiner = plan.combiner
    bench, name = instantiate(plan.benchmark), combiner.name
    if not hasattr(bench, "tasks"):
        raise ValueError(f"benchmark {bench.name} has no proxy tables; use benchmark=suite_zero_* or benchmark=runs")
    applied = saved.load(combiner.applied_from, "combiner.from") if combiner.applied_from else None
    if applied is not None:
        log.info("combiner.from=%s: %s", combiner.applied_from, applied.provenance())
    extra = read_scores(plan.scores) if plan.scores else {}
    rows, tags, files = [], dict(applied.tags()) if applied else {}, []
    for task, df in bench.tasks.items():
        if task in extra or "*" in extra:
            mine = extra[task] if task in extra else extra["*"]
            mine = mine.drop(columns=[c for c in mine.columns if c in bench.table.columns])
            mine = mine.rename(columns={c: f"zc_{c}" for c in mine.columns if c in df.columns})
            df = df.join(mine, how="inner")
            log.info("task %s: joined %s on %d archs", task, list(mine.columns), len(df))
        cols = list(plan.proxies) if plan.proxies else [c for c in df.columns if c != "val_accuracy"]
        df = df.dropna(subset=["val_accuracy"])
        Z, y = df[cols].reset_index(drop=True), df["val_accuracy"].to_numpy()
        if applied is not None:  # fitted elsewhere: applied to all archs, each proxy alone on the same archs
            applied.check_columns(cols)
            rows.append({"task": task, "method": f"{applied.data['combiner']}.transferred", "repeat": 0,
                         "protocol": "transferred", **correlate(applied.predict(Z), y, seed=plan.seed)})
            rows += [{"task": task, "method": c, "repeat": 0, "protocol": "transferred", **rec}
                     for c, rec in baselines(Z, y, slice(None), plan.seed).items()]
            if combiner.estimator is None:
                continue
        protocol = combiner.protocol
        for rep in range(plan.repeats if protocol == "held_out" else 1):  # in_sample: one deterministic fit
            seed = plan.seed + rep
            if combiner.estimator is not None:
                res = assess(combiner.build(), Z, y, n_fit=combiner.n_fit, seed=seed,
                             protocol=protocol, diagnostics=out_dir / f"combiner_{name}_{task}.csv" if rep == 0 else None)
                rows.append({"task": task, "method": name, "repeat": rep, **res.record, **res.chosen})
                if rep == 0:
                    tags.update(res.tags(name, task))
            ev = split(len(Z), combiner.n_fit, seed)[1] if protocol == "held_out" else slice(None)
            rows += [{"task": task, "method": c, "repeat": rep, "protocol": protocol, **rec}
                     for c, rec in baselines(Z, y, ev, seed).items()]
        if combiner.estimator is not None:
            files += save_fitted(combiner, bench, task, Z, y, df.index,
                                 out_dir / ("combiner.json" if len(bench.tasks) == 1 else f"combiner_{task}.json"))
    table = pd.DataFrame(rows)
    table.to_csv(out_dir / "combine.csv", index=False)
    means = (table.groupby(["method", "task", "protocol"], sort=False)
             .agg(spearman=("spearman", "mean"), spearman_lo=("spearman_lo", "mean"),
                  spearman_hi=("spearman_hi", "mean"), kendall=("kendall", "mean"),
                  ndcg10=("ndcg10", "mean"), n=("n", "min"), n_nan=("n_nan", "max"))
             .reset_index().rename(columns={"method": "proxy", "task": "target"}))
    records = means.to_dict("records")
    summary = {"n_archs": sum(len(d) for d in bench.tasks.values()), "n_computed": 0, "n_cached": 0,
               "seconds": time.perf_counter() - t0,
               "mlflow": {"name": f"combine-{bench.name}-{name}",
                          "tags": {"benchmark": bench.name, "combiner": name, **tags}}}
    write_outputs(out_dir, plan.config, table, [], [], records, summary)
    instantiate(plan.tracking).log_dir(out_dir)
    shown = [r for r in records if (r["protocol"] == "transferred" if applied else r["proxy"] == name)]
    print(format_table(shown or records))  # transferred: beside every single proxy on the same archs
    for path in files:
        print(f"fitted {name} on all labelled archs -> {path} (search.fitness=combiner search.combiner_from={path})")
    return records


def save_fitted(combiner: CombinerPlan, bench: Any, task: str, Z: pd.DataFrame, y: Any, archs: Any,
                path: Path) -> list[Path]:
    """Fit the combiner once on every labelled arch of ``task`` and save it as JSON when it is a
    selection (LIBRA: :func:`zcnas.combiners.saved.save_selection`); other combiners save nothing. Returns the files."""
    est = combiner.build().fit(Z, y)
    meta = getattr(bench, "meta", {})
    fitted_on = {"space": meta.get("space", bench.name.removeprefix("suite_zero_")), "task": meta.get("task", task),
                 "benchmark": bench.name, "target": task if "runs" in meta else "val_accuracy",
                 "protocol": "in_sample", **({"runs": ",".join(meta["runs"])} if "runs" in meta else {})}
    if saved.save_selection(est, path, fitted_on, archs) is None:
        return []
    log.info("%s on %s/%s: %s -> %s", combiner.name, bench.name, task, est.selected_, path)
    return [path]


def main() -> None:
    """Hydra entry point (``python -m zcnas.combine [overrides]``)."""
    import hydra  # noqa: PLC0415
    from hydra.core.hydra_config import HydraConfig  # noqa: PLC0415

    from zcnas.paths import CONF_DIR  # noqa: PLC0415

    check_argv("zcnas.combine")
    @hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="combine")
    def _run(cfg: Any) -> None:
        with one_line_errors("zcnas.combine"):
            run_combine(cfg, Path(HydraConfig.get().runtime.output_dir))

    _run()


if __name__ == "__main__":
    main()
