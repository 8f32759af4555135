"""``python -m zcnas.run``: score sampled architectures with zero-cost proxies against ground truth.

The data flow, top to bottom (:class:`Run`, one method a step): compose config -> plan (the config read
once, checked: :func:`zcnas.plan.make_plan`) -> setup (space, task, benchmark, one probe batch, scores.csv,
the cache) -> archs from a uniform sample or a search;
per arch: cached scores, else build, probe, score, cache, add precomputed columns, append to scores.csv
-> evaluate: correlate each (proxy, target), fit/evaluate the combiner -> write outputs and print the
table -> log to the tracker.

Examples:
    python -m zcnas.run                                   # 100 NB201 cells, L-SWAG, CIFAR-10
    python -m zcnas.run proxy=[lswag,nwot] n_archs=1000 seed=1
    python -m zcnas.run task=cifar100 tracking=none
"""

from __future__ import annotations

import logging
import math
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from zcnas.cache import NullCache, digest, in_context, open_cache
from zcnas.cli import check_argv, instantiate, need, one_line_errors, resolve_device, searching
from zcnas.engine import OOM_BATCH, ProbeRecord, build_and_probe, in_order, numeric_policy
from zcnas.evaluate import evaluate_table
from zcnas.plan import Plan, SearchPlan, make_plan, planned
from zcnas.proxies import get_proxy
from zcnas.results import (
    ScoreWriter,
    cpu_seconds,
    format_scores,
    format_table,
    read_complete_rows,
    run_cost,
    take_lock,
    write_outputs,
)
from zcnas.tracking import install_redaction, scrub, scrub_files

if TYPE_CHECKING:
    from zcnas.search.run import Selection

log = logging.getLogger("zcnas.run")


class Run:
    """One ``python -m zcnas.run``, read top to bottom in :meth:`__call__`: setup -> sample or search ->
    score -> evaluate -> write -> log. It reads only its :class:`~zcnas.plan.Plan`, and owns the score writer,
    the cache, the scored rows and the counters."""

    def __init__(self, plan: Plan, out_dir: Path) -> None:
        self.plan, self.out_dir = plan, out_dir
        self.rows: list[dict[str, Any]] = []  # one per scored arch, as appended to scores.csv
        self.n_cached = 0                     # archs whose every score came from the cache

    def __call__(self) -> dict[str, Any]:
        """Run the whole pipeline; return the correlation records, the run summary and the MLflow run id."""
        lock = self.out_dir / ".zcnas_run.lock"
        writable(self.out_dir)
        if not take_lock(lock):
            raise ValueError(f"{self.out_dir} is in use by another zcnas run ({lock} names it); give this run its "
                             "own directory (hydra.run.dir=...) or wait for that one to finish")
        try:
            return self.run()
        finally:
            lock.unlink(missing_ok=True)

    def run(self) -> dict[str, Any]:
        """The pipeline, with the run directory held by this run."""
        self.setup()
        selected = None
        if self.plan.search is not None:
            selected = self.search(self.plan.search)
        else:
            self.sample()
        self.writer.close()
        if self.record_writer is not None:
            self.record_writer.close()
        self.cache.close()
        log.info("scored %d archs (%.1f s)", len(self.rows), time.perf_counter() - self.t0)
        table = pd.DataFrame(self.rows)
        where = {"space": self.space.name, "task": self.task.name,
                 "benchmark": self.benchmark.name if self.benchmark is not None else ""}
        correlations, combiner_tags = evaluate_table(table, self.columns, self.targets, self.out_dir,
                                                     self.plan.combiner, self.plan.seed, where)
        self.flag_saturated(correlations, len(table))
        summary = self.write(table, correlations, combiner_tags, selected)
        return {"correlations": correlations, "summary": summary, "run_id": self.log()}

    def setup(self) -> None:
        """From the plan: the tracker, space, task, benchmark, the probe batch (one deterministic batch of real
        images per ``probe.batch_seed``), scores.csv and the cache."""
        plan, out_dir = self.plan, self.out_dir
        self.t0, self.started_ms, self.cpu0 = time.perf_counter(), int(time.time() * 1000), cpu_seconds()
        if plan.search is not None:
            log.info("search %s: a budget of up to %d archs", plan.search.name, plan.total[0])
        install_redaction(plan.secrets)
        scrub_files(sorted((out_dir / ".hydra").glob("*.yaml")), plan.secrets)  # Hydra wrote them before us
        if plan.window is not None and plan.window["source"] == "default":
            log.warning("L-SWAG: no layer window for this space and task (conf/window/, or python -m zcnas.calibrate): "
                        "the whole network, [0, 10]")
        self.tracker = instantiate(plan.tracking)
        self.unreachable = self.tracker.check() if hasattr(self.tracker, "check") else None
        if self.unreachable:
            log.warning("tracking: %s is unreachable (%s); scoring goes on without it, the result files will "
                        "be complete: log them later with: %s",
                        getattr(self.tracker, "shown_uri", "the tracker"), self.unreachable, self.tracker.later(out_dir))
        if plan.threads:
            torch.set_num_threads(int(plan.threads))
        self.space, self.task = instantiate(plan.space), instantiate(plan.task)
        self.benchmark = canonical_keys(instantiate(plan.benchmark), self.space)
        task = self.task
        if task.stand_in:
            log.warning("task %s: its own images are not available; %d %s images stand in at "
                        "%dx%d with a %d-class head (MLflow tag input_stand_in=true)", task.name, plan.batch_size,
                        "Gaussian-noise" if task.source == "noise" else "CIFAR-10",
                        task.resolution, task.resolution, task.num_classes)
        self.device = resolve_device(plan.device)
        x, y, batch_digest = task.probe_batch(plan.batch_size, plan.probe["batch_seed"])
        self.x, self.y = x.to(self.device), y.to(self.device)
        self.targets = self.benchmark.targets if self.benchmark is not None else []
        self.precomputed = self.benchmark.scores if self.benchmark is not None else None  # read, not computed (Suite-Zero)
        self.columns = [*plan.proxies, *(self.precomputed.columns if self.precomputed is not None else [])]
        log.info("probing archs of %s on %s with batch_size=%d (%dx%d) on %s", self.space.name, task.name,
                 plan.batch_size, task.resolution, task.resolution, self.device)
        self.numeric = numeric_policy(self.device, bool(plan.probe.get("tf32", False)))
        probe_node = {k: v for k, v in plan.probe.items() if k != "tf32"}  # tf32 keyed on CUDA only (below): CPU
        context = {"space": plan.space, "task": plan.task, "probe": probe_node,  # scores keep the keys they had
                   "batch_size": plan.batch_size, "seed": plan.seed, "device": self.device.type,
                   "batch": batch_digest,  # the probe batch's content, not only where it came from
                   **({"tf32": self.numeric["tf32"]} if self.device.type == "cuda" else {})}
        self.oom_reduced: dict[str, int] = {}  # archs scored at a smaller batch after an out-of-memory (opt-in)
        self.cache = open_cache(plan.cache, plan.shard, context)
        self.keyed = {n: {**p, "_version": get_proxy(n).version} for n, p in plan.proxies.items()}  # cache keys
        self.record = ProbeRecord(plan.proxies, plan.record_deciles)
        self.keyed.update(self.record.keyed)  # the per-arch record rides in the same cache, under its own names
        self.free_keyed = {n: self.keyed[n] for n in plan.proxies if get_proxy(n).seed_free}  # #params, FLOPs
        self.renamed = {n: (was[0], {**plan.proxies[n], "_version": was[1]})  # scores cached before a rename
                        for n in plan.proxies if (was := get_proxy(n).was)}
        self.free_cache = in_context(self.cache, {"space": context["space"], "task": context["task"], "seed_free": 1})
        for stale in STALE_OUTPUTS if plan.search is None else ():  # an earlier search's pick is not this run's
            (out_dir / stale).unlink(missing_ok=True)
        self.pick_up(digest([context, self.keyed]))
        self.writer = ScoreWriter(out_dir / "scores.csv", ["arch", *self.columns, *self.targets])  # a row per arch, at once
        self.record_writer = (ScoreWriter(out_dir / "probe_record.csv", ["arch", *self.record.columns])
                              if self.record.columns else None)
        self.t_scoring = self.t_logged = time.perf_counter()

    def pick_up(self, key: str) -> None:
        """Scores an interrupted run of the same context and proxies wrote to this directory's scores.csv (and
        probe_record.csv) go into the cache before the files are rewritten, so a rerun never recomputes them
        (the guarantee when the cache itself failed: locked, disk full). ``.zcnas_scores_key`` names what the
        files hold; any other directory content is never read as scores."""
        marker = self.out_dir / ".zcnas_scores_key"
        if marker.is_file() and marker.read_text().strip() == key and not isinstance(self.cache, NullCache):
            rows: dict[str, dict[str, float]] = {}
            for name in ("scores.csv", "probe_record.csv"):
                path = self.out_dir / name
                if path.is_file() and not path.is_symlink():
                    table = read_complete_rows(path)
                    for arch, values in table.items():
                        rows.setdefault(arch, {}).update({k: v for k, v in values.items() if k in self.keyed})
            picked = 0
            for arch, values in rows.items():
                if set(values) == set(self.keyed) and self.cache.get(arch, self.keyed).keys() != values.keys():
                    self.cache.put(arch, self.keyed, values)
                    picked += 1
            if picked:
                log.info("picked up %d archs an interrupted run scored into %s", picked, self.out_dir / "scores.csv")
        marker.write_text(key + "\n")

    def sample(self) -> None:
        """A uniform sample (of the benchmark's labelled archs, if any; shard k of n: every n-th from the
        k-th), scored in one batch; no arch is selected."""
        plan, space, benchmark = self.plan, self.space, self.benchmark
        if plan.archs_from is not None:  # exactly these archs (a fixed cell list), not a sample
            pool: list[Any] = list(plan.archs_from)
            unknown = [a for a in pool if benchmark is not None and a not in benchmark.table.index]
            if unknown:
                raise ValueError(f"archs_from={plan.archs_from_path}: {len(unknown)} arch(s) not in benchmark "
                                 f"{benchmark.name}, e.g. {unknown[0]!r}: list labelled archs or benchmark=none")
        else:
            rng = np.random.default_rng(plan.seed)
            pool = benchmark.sample(plan.n_archs, rng) if benchmark is not None else space.sample(plan.n_archs, rng)
        pool = pool[plan.shard["index"]::plan.shard["count"]]
        archs = [space.decode(a) if isinstance(a, str) else a for a in pool]
        odd = [(a, space.encode(d)) for a, d in zip(pool, archs, strict=True)
               if isinstance(a, str) and space.encode(d) != a]
        if odd:
            raise ValueError(f"benchmark {benchmark.name}: arch {odd[0][0]!r} is not {space.name}'s canonical "
                             f"string {odd[0][1]!r} ({len(odd)} such); its labels would never match: rewrite "
                             "the benchmark's arch strings")
        self.check_combiner(len(archs))
        self.score(archs)

    def search(self, search: SearchPlan) -> Selection:
        """Search the space with the plan's strategy for its fitness, every candidate scored by :meth:`score`;
        return the selected arch."""
        from zcnas.search.run import run_search  # noqa: PLC0415

        plan = self.plan
        self.check_combiner(None)
        return run_search(instantiate(search.node), search.fitness, self.space, self.score, list(plan.proxies),
                          num_classes=self.task.num_classes, seed=plan.seed, out_dir=self.out_dir,
                          benchmark=self.benchmark, task=self.task.name, space_config=plan.space,
                          resolution=self.task.resolution)

    def check_combiner(self, n: int | None) -> None:
        """Every prerequisite of the configured combiner (labels, the columns it needs, enough archs for
        its fit and evaluation parts), checked before any architecture is scored."""
        combiner = self.plan.combiner
        if combiner.applied_from:  # a selection fitted elsewhere: its proxies must be computed here
            from zcnas.combiners.saved import load  # noqa: PLC0415

            saved = load(combiner.applied_from, "combiner.from")
            saved.check_columns(self.columns)
            log.info("combiner.from=%s: %s", combiner.applied_from, saved.provenance())
        if combiner.estimator is None:
            return
        if not self.targets:
            raise ValueError(f"combiner={combiner.name} needs ground truth: choose a benchmark with labels "
                             "(benchmark=nb201|file|suite_zero) or combiner=none")
        from zcnas.combiners.evaluate import split  # noqa: PLC0415

        est = combiner.build()
        if hasattr(est, "check_columns"):
            est.check_columns(self.columns)
        if n is not None:
            split(n, combiner.n_fit, self.plan.seed)

    def score(self, archs: list[Any]) -> list[dict[str, float]]:
        """Scores of ``archs`` (one ``{proxy: score}`` each): cached ones read, the rest probed
        (``engine.in_flight`` at once) and cached; each arch's row (with precomputed columns and ground
        truth) is appended to scores.csv as soon as it is made."""
        plan, proxies = self.plan, self.plan.proxies
        keys = [self.space.encode(a) for a in archs]
        truth = self.benchmark.lookup(keys) if self.benchmark is not None else None
        read = self.precomputed.reindex(keys) if self.precomputed is not None else None
        cached = [self.cache.get(key, self.keyed) for key in keys]
        free = [self.free_cache.get(key, self.free_keyed) if self.free_keyed else {} for key in keys]
        for key, c, f in zip(keys, cached, free, strict=True):
            c.update({n: v for n, v in f.items() if n not in c})  # seed-free scores of this arch from any seed's run
            for n, (old, keyed) in self.renamed.items():  # a renamed proxy's scores under its old name
                if n not in c and old in (found := self.cache.get(key, {old: keyed})):
                    c[n] = found[old]
        jobs = [(a, k, {n: p for n, p in proxies.items() if n not in c}, any(r not in c for r in self.record.deciles_keyed))
                for a, k, c in zip(archs, keys, cached, strict=True)]  # a cached arch is probed again only for asked-for deciles
        done = in_order(lambda job: self.probe(*job), jobs, plan.engine["in_flight"])
        out = []
        for key, scores, f, (_, _, todo, rec), new in tqdm(zip(keys, cached, free, jobs, done, strict=True), total=len(keys),
                                                        desc="scoring", disable=None, mininterval=2, leave=False):
            reduced = new.pop(OOM_BATCH, None)
            if todo or rec:
                scores.update(new)
            else:
                self.n_cached += 1
            if self.record_writer is not None:
                self.record_writer.append({"arch": key, **{c: scores.get(c, math.nan) for c in self.record.columns}})
                self.record.count(scores)
            row = {"arch": key, **{n: scores[n] for n in proxies},
                   **(read.loc[key].to_dict() if read is not None else {}),
                   **(truth.loc[key].to_dict() if truth is not None else {})}
            self.writer.append(row)  # on disk first: a cache that fails next loses nothing already computed
            if reduced is not None:  # another batch, another score: its own key, flagged in the summary
                self.oom_reduced[key] = int(reduced)
                self.cache.put(key, {n: {**k, "_batch": int(reduced)} for n, k in self.keyed.items()}, new)
            elif todo or rec:
                self.cache.put(key, self.keyed, new)
            if len(f) < len(self.free_keyed):  # also the row a killed run scored but did not get to write
                self.free_cache.put(key, self.free_keyed, {n: scores[n] for n in self.free_keyed if n in scores})
            self.rows.append(row)
            scores = {n: scores[n] for n in proxies}
            out.append(scores)
            now = time.perf_counter()  # a line every log_every archs, for the first, and at least every 15 s
            if len(self.rows) % plan.log_every == 0 or len(self.rows) == 1 or now - self.t_logged >= PROGRESS_EVERY_S:
                log.info(progress(len(self.rows), plan.total, now - self.t_scoring))
                self.t_logged = now
        return out

    def probe(self, arch: Any, key: str, todo: dict[str, Any], rec: bool) -> dict[str, float]:
        """Build ``arch`` (seeded by (seed, arch) alone) and score the proxies ``todo`` on it, with its per-arch
        record (saturation flags, decile terms); ``rec``: probe for the record even when no score is missing.
        Any worker thread."""
        if not todo and not rec:
            return {}
        return build_and_probe(self.space, self.task.num_classes, arch, key, self.plan.seed, self.x, self.y, todo,
                               self.plan.probe, self.device, loss_fn=self.task.loss, fused=self.plan.engine["fused"],
                               record=self.record, oom_reduce=bool(self.plan.engine.get("oom_reduce", False)))

    def flag_saturated(self, correlations: list[dict[str, Any]], n: int) -> None:
        """Saturation guard: each pattern-count proxy's correlation records carry ``n_saturated`` (archs whose
        count reached min(#units, 2^batch)); any saturated arch is a warning that names the fix."""
        counts = self.record.saturated
        for r in correlations:
            if r["proxy"] in counts:
                r["n_saturated"] = counts[r["proxy"]]
        for name, c in counts.items():
            if c:
                log.warning("proxy %s: %d of %d archs reached the pattern-count ceiling min(#units, 2^batch_size="
                            "2^%d): those scores are a constant and rank nothing; raise batch_size",
                            name, c, n, self.plan.batch_size)

    def write(self, table: pd.DataFrame, correlations: list[dict[str, Any]], combiner_tags: dict[str, str],
              selected: Selection | None) -> dict[str, Any]:
        """scores/correlations/summary/config files (secrets masked) and plots; print the table. Returns
        the run summary."""
        plan, n = self.plan, len(table)
        seconds = time.perf_counter() - self.t0
        names = run_name(plan, self.space.name, self.task.name, list(plan.proxies),
                         plan.n_archs if plan.shard["count"] > 1 else n)
        if self.oom_reduced:
            log.warning("%d archs were scored at a reduced batch after an out-of-memory (engine.oom_reduce): %s; "
                        "their scores are not the full batch's (run_summary.json oom_reduced_batch)",
                        len(self.oom_reduced), dict(list(self.oom_reduced.items())[:3]))
        tags = {"input_stand_in": str(self.task.stand_in).lower(), "space": self.space.name, "task": self.task.name,
                "numeric_tf32": str(self.numeric["tf32"]).lower(),
                **({"window": f"[{plan.window['lo']}, {plan.window['hi']}] {plan.window['source']}"} if plan.window else {}),
                "proxies": ",".join(self.columns), **combiner_tags,
                **({"selected_arch": selected.arch, **selected.tags} if selected else {})}
        summary = {"n_archs": n, "n_computed": n - self.n_cached, "n_cached": self.n_cached,
                   "seconds": seconds, "started_ms": self.started_ms, "finished_ms": self.started_ms + int(seconds * 1000),
                   "shard": dict(plan.shard), "proxies": self.columns, "cost": run_cost(self.cpu0, seconds, self.device),
                   "saturated": dict(self.record.saturated), "numeric": self.numeric,
                   **({"window": plan.window} if plan.window else {}),
                   **({"oom_reduced_batch": self.oom_reduced} if self.oom_reduced else {}),
                   "mlflow": {"name": names, "tags": tags}}
        write_outputs(self.out_dir, scrub(plan.config, plan.secrets), table, self.columns,
                      self.targets, correlations, summary, selected.to_json() if selected else None)
        from zcnas.search.run import search_report  # noqa: PLC0415

        if plan.window:
            print(f"L-SWAG window [{plan.window['lo']}, {plan.window['hi']}]: {plan.window['source']}")
        print(search_report(correlations, selected, n) if selected is not None  # the results first: tracking
              else format_table(correlations) if correlations or self.targets  # never holds them hostage
              else format_scores(table, self.columns))
        print(f"{n} archs in {seconds:.1f} s -> {self.out_dir}", flush=True)
        return summary

    def log(self) -> str | None:
        """Log the run directory to the tracker, from the files on disk (as ``python -m zcnas.log <run_dir>``
        would); an unreachable one is said, with the command that logs it later. Returns the MLflow run id."""
        tracker, out_dir = self.tracker, self.out_dir
        if self.unreachable:
            print(f"not logged to {tracker.shown_uri} (unreachable: {self.unreachable}); log it later with: "
                  f"{tracker.later(out_dir)}")
            return None
        if not hasattr(tracker, "shown_uri"):
            return None
        print(f"logging to MLflow at {tracker.shown_uri} (should it fail: {tracker.later(out_dir)})", flush=True)
        run_id = tracker.log_dir(out_dir)
        if run_id:
            print(f"MLflow run {run_id}")
        return run_id


def score_archs(cfg: Any, out_dir: Path) -> dict[str, Any]:
    """Run the whole pipeline for a composed config (its :class:`~zcnas.plan.Plan`, then :class:`Run`); write
    outputs into ``out_dir``."""
    return Run(make_plan(cfg), out_dir)()


def canonical_keys(benchmark: Any, space: Any) -> Any:
    """Rewrite the benchmark's arch strings in the space's own form (``encode(decode(key))``), so a file
    in another accepted encoding (DARTS ``Genotype(...)`` strings) joins the scored archs; in place."""
    if benchmark is None:
        return None
    keys = [str(k) for k in benchmark.table.index]
    canon = [space.encode(space.decode(k)) for k in keys]
    if canon != keys:
        if len(set(canon)) < len(canon):
            dup = pd.Series(keys)[pd.Series(canon).duplicated(keep=False).to_numpy()].tolist()[:2]
            raise ValueError(f"benchmark {benchmark.name}: rows {dup} are the same {space.name} architecture")
        mapping = dict(zip(keys, canon, strict=True))
        benchmark.table.index = pd.Index(canon, name="arch")
        if benchmark.scores is not None:
            benchmark.scores.index = pd.Index([mapping[str(k)] for k in benchmark.scores.index], name="arch")
    return benchmark


PROGRESS_EVERY_S = 15.0
"""The longest gap between two progress lines while archs are being scored (besides one every ``log_every``)."""
STALE_OUTPUTS = ("selected_arch.json", "search_trajectory.png", "probe_record.csv")
"""Outputs a search (or a recording run) left in a directory that a plain run reuses: removed first, so
``zcnas.export`` never exports an earlier run's pick (a plain run that records writes its record anew)."""


def writable(out_dir: Path) -> None:
    """Create ``out_dir``; a directory that cannot be written is a one-line error naming the fix."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / ".zcnas_write_test").touch()
        (out_dir / ".zcnas_write_test").unlink()
    except OSError as err:
        raise OSError(f"output directory {out_dir} is not writable ({err.strerror}); "
                      "set hydra.run.dir=<a writable directory>") from None


def progress(done: int, total: tuple[int, bool], seconds: float) -> str:
    """``scored 40/100 archs (40 %), 2.1 archs/s, 28 s elapsed, ETA 29 s`` (``<=`` for a search's bound)."""
    count, exact = total
    rate = done / seconds if seconds > 0 else math.inf
    left = max(count - done, 0) / rate if rate > 0 else math.inf
    of = f"{count}" if exact else f"<={count}"
    return (f"scored {done}/{of} archs ({100 * done / max(count, 1):.0f} %), {rate:.2f} archs/s, "
            f"{seconds:.0f} s elapsed, ETA {left:.0f} s")


def run_name(plan: Plan, space: str, task: str, proxies: list[str], n: int) -> str:
    """``<space>-<task>-<proxies>-n<archs>[-<combiner>][-<search>]-s<seed>[-shard<k>of<n>]``; more than
    four proxies are counted (``13proxies``), their names are in the params."""
    names = "+".join(proxies) if len(proxies) <= 4 else f"{len(proxies)}proxies"
    extra = [x for x in (plan.combiner.name, plan.search.name if plan.search else "none") if x != "none"]
    shard = f"-shard{plan.shard['index']}of{plan.shard['count']}" if plan.shard["count"] > 1 else ""
    return "-".join([space, task, names, f"n{n}", *extra, f"s{plan.seed}"]) + shard


def main() -> None:
    """Hydra entry point (``python -m zcnas.run [overrides]``)."""
    import hydra  # noqa: PLC0415
    from hydra.core.hydra_config import HydraConfig  # noqa: PLC0415

    from zcnas.paths import CONF_DIR  # noqa: PLC0415

    check_argv("zcnas.run")
    @hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
    def _run(cfg: Any) -> float:
        with one_line_errors("zcnas.run"):
            if searching(cfg) and any(a.lstrip("+").startswith("n_archs=") for a in sys.argv[1:]):
                raise ValueError(f"n_archs={cfg.n_archs} does not apply to a search ({cfg.search._target_.rsplit('.', 1)[-1]}):"
                                 f" it scores up to its own budget, <= {planned(cfg)[0]} archs here; drop n_archs and "
                                 "size it with search.* (python -m zcnas.run search=... --cfg job lists them)")
            if str(cfg.tracking.get("_target_", "")).endswith("MlflowTracker") and any(
                    a.lstrip("+").startswith(("tracking=", "tracking.")) for a in sys.argv[1:]):
                need("mlflow", "tracking", "tracking=mlflow")  # asked for: refused; the default: a warning, no log
            out = score_archs(cfg, Path(HydraConfig.get().runtime.output_dir))
        first = out["correlations"][0]["spearman"] if out["correlations"] else math.nan
        return first

    _run()


if __name__ == "__main__":
    main()
