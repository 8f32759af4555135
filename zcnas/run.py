"""``python -m zcnas.run``: score sampled architectures with zero-cost proxies against ground truth.

The data flow, top to bottom (:class:`Run`, one method a step): compose config -> setup (space, task,
benchmark, proxies, one probe batch, scores.csv, the cache) -> archs from a uniform sample or a search;
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
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from zcnas.cache import NullCache, digest, in_context, open_cache
from zcnas.cli import (
    check_argv,
    check_config,
    check_known_keys,
    instantiate,
    need,
    one_line_errors,
    resolve_device,
    searching,
)
from zcnas.engine import OOM_BATCH, ProbeRecord, in_order, numeric_policy, own_stream, probe_and_score
from zcnas.metrics import correlate
from zcnas.probe import arch_seed, seeded
from zcnas.proxies import check_params, get_proxy
from zcnas.results import (
    ScoreWriter,
    cpu_seconds,
    format_scores,
    format_table,
    read_complete_rows,
    run_cost,
    scatter_plot,
    take_lock,
    write_outputs,
)
from zcnas.tracking import find_secrets, install_redaction, scrub, scrub_files

if TYPE_CHECKING:
    from zcnas.search.run import Selection

log = logging.getLogger("zcnas.run")


class Run:
    """One ``python -m zcnas.run``, read top to bottom in :meth:`__call__`: setup -> sample or search ->
    score -> evaluate -> write -> log. It owns the score writer, the cache, the scored rows and the counters."""

    def __init__(self, cfg: Any, out_dir: Path) -> None:
        self.cfg, self.out_dir = cfg, out_dir
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
        if searching(self.cfg):
            selected = self.search()
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
        correlations, combiner_tags = evaluate_table(self.cfg, table, self.columns, self.targets, self.out_dir, where)
        self.flag_saturated(correlations, len(table))
        summary = self.write(table, correlations, combiner_tags, selected)
        return {"correlations": correlations, "summary": summary, "run_id": self.log()}

    def setup(self) -> None:
        """Check the config and the output directory, then space, task, benchmark, tracker, the probe
        batch (one deterministic batch of real images per ``probe.batch_seed``), scores.csv and the cache."""
        from omegaconf import OmegaConf, open_dict  # noqa: PLC0415

        cfg, out_dir = self.cfg, self.out_dir
        self.t0, self.started_ms, self.cpu0 = time.perf_counter(), int(time.time() * 1000), cpu_seconds()
        check_config(cfg)
        check_known_keys(cfg)
        self.total = planned(cfg)  # for the progress lines
        if searching(cfg):
            log.info("search %s: a budget of up to %d archs", cfg.search._target_.rsplit(".", 1)[-1], self.total[0])
        self.secrets = find_secrets(OmegaConf.to_container(cfg, resolve=True))  # masked in every file and log line
        install_redaction(self.secrets)
        writable(out_dir)
        scrub_files(sorted((out_dir / ".hydra").glob("*.yaml")), self.secrets)  # Hydra wrote them before us
        self.proxies: dict[str, dict[str, Any]] = OmegaConf.to_container(cfg.proxy, resolve=True) or {}  # type: ignore[assignment]
        for name, params in self.proxies.items():
            check_params(name, params, cfg.batch_size)  # unknown names, types and ranges fail before any work
        self.window = window_used(cfg, hydra_choices())
        if self.window is not None and self.window["source"] == "default":
            log.warning("L-SWAG: no layer window for this space and task (conf/window/, or python -m zcnas.calibrate): "
                        "the whole network, [0, 10]")
        self.tracker = instantiate(cfg.tracking)
        self.unreachable = self.tracker.check() if hasattr(self.tracker, "check") else None
        if self.unreachable:
            log.warning("tracking: %s is unreachable (%s); scoring goes on without it, the result files will "
                        "be complete: log them later with: %s",
                        getattr(self.tracker, "shown_uri", "the tracker"), self.unreachable, self.tracker.later(out_dir))
        if cfg.threads:
            torch.set_num_threads(int(cfg.threads))
        if cfg.benchmark.get("precomputed") and cfg.benchmark.get("target", "") is None:
            with open_dict(cfg):  # precomputed columns belong to one task: the one probed
                cfg.benchmark.target = cfg.task.name
        check_space(OmegaConf.to_container(cfg.space, resolve=True))
        self.space, self.task = instantiate(cfg.space), instantiate(cfg.task)
        self.benchmark = canonical_keys(instantiate(cfg.benchmark), self.space)
        task = self.task
        if task.stand_in:
            log.warning("task %s: its own images are not available; %d %s images stand in at "
                        "%dx%d with a %d-class head (MLflow tag input_stand_in=true)", task.name, cfg.batch_size,
                        "Gaussian-noise" if task.source == "noise" else "CIFAR-10",
                        task.resolution, task.resolution, task.num_classes)
        self.device = resolve_device(cfg.device)
        x, y, batch_digest = task.probe_batch(cfg.batch_size, cfg.probe.batch_seed)
        self.x, self.y = x.to(self.device), y.to(self.device)
        self.targets = self.benchmark.targets if self.benchmark is not None else []
        self.precomputed = self.benchmark.scores if self.benchmark is not None else None  # read, not computed (Suite-Zero)
        self.columns = [*self.proxies, *(self.precomputed.columns if self.precomputed is not None else [])]
        log.info("probing archs of %s on %s with batch_size=%d (%dx%d) on %s", self.space.name, task.name,
                 cfg.batch_size, task.resolution, task.resolution, self.device)
        self.numeric = numeric_policy(self.device, bool(cfg.probe.get("tf32", False)))
        probe_node: dict[str, Any] = OmegaConf.to_container(cfg.probe, resolve=True)  # type: ignore[assignment]
        probe_node.pop("tf32", None)  # keyed on CUDA only (below): CPU scores keep the keys they always had
        context = {**{k: OmegaConf.to_container(cfg[k], resolve=True) for k in ("space", "task")}, "probe": probe_node,
                   "batch_size": cfg.batch_size, "seed": cfg.seed, "device": self.device.type,
                   "batch": batch_digest,  # the probe batch's content, not only where it came from
                   **({"tf32": self.numeric["tf32"]} if self.device.type == "cuda" else {})}
        self.oom_reduced: dict[str, int] = {}  # archs scored at a smaller batch after an out-of-memory (opt-in)
        self.cache = open_cache(cfg.cache, cfg.shard, context)
        self.keyed = {n: {**p, "_version": get_proxy(n).version} for n, p in self.proxies.items()}  # cache keys
        self.record = ProbeRecord(self.proxies, bool(cfg.get("record_deciles", False)))
        self.keyed.update(self.record.keyed)  # the per-arch record rides in the same cache, under its own names
        self.free_keyed = {n: self.keyed[n] for n in self.proxies if get_proxy(n).seed_free}  # #params, FLOPs
        self.renamed = {n: (was[0], {**self.proxies[n], "_version": was[1]})  # scores cached before a rename
                        for n in self.proxies if (was := get_proxy(n).was)}
        self.free_cache = in_context(self.cache, {"space": context["space"], "task": context["task"], "seed_free": 1})
        for stale in STALE_OUTPUTS if not searching(cfg) else ():  # an earlier search's pick is not this run's
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
        cfg, space, benchmark = self.cfg, self.space, self.benchmark
        if cfg.get("archs_from"):  # exactly these archs (a fixed cell list), not a sample
            pool: list[Any] = read_arch_list(Path(cfg.archs_from))
            unknown = [a for a in pool if benchmark is not None and a not in benchmark.table.index]
            if unknown:
                raise ValueError(f"archs_from={cfg.archs_from}: {len(unknown)} arch(s) not in benchmark "
                                 f"{benchmark.name}, e.g. {unknown[0]!r}: list labelled archs or benchmark=none")
        else:
            rng = np.random.default_rng(cfg.seed)
            pool = benchmark.sample(cfg.n_archs, rng) if benchmark is not None else space.sample(cfg.n_archs, rng)
        pool = pool[cfg.shard.index::cfg.shard.count]
        archs = [space.decode(a) if isinstance(a, str) else a for a in pool]
        odd = [(a, space.encode(d)) for a, d in zip(pool, archs, strict=True)
               if isinstance(a, str) and space.encode(d) != a]
        if odd:
            raise ValueError(f"benchmark {benchmark.name}: arch {odd[0][0]!r} is not {space.name}'s canonical "
                             f"string {odd[0][1]!r} ({len(odd)} such); its labels would never match: rewrite "
                             "the benchmark's arch strings")
        self.check_combiner(len(archs))
        self.score(archs)

    def search(self) -> Selection:
        """Search the space with the configured strategy, every candidate scored by :meth:`score`; return
        the selected arch."""
        from omegaconf import OmegaConf  # noqa: PLC0415

        from zcnas.search.run import run_search  # noqa: PLC0415

        cfg = self.cfg
        self.check_combiner(None)
        combiner = instantiate(cfg.combiner.estimator) if cfg.combiner.estimator is not None else None
        space_config: dict[str, Any] = OmegaConf.to_container(cfg.space, resolve=True)  # type: ignore[assignment]
        return run_search(instantiate(cfg.search), self.space, self.score, list(self.proxies),
                          num_classes=self.task.num_classes, seed=cfg.seed, out_dir=self.out_dir,
                          benchmark=self.benchmark, combiner=combiner, combiner_name=cfg.combiner.name,
                          task=self.task.name, space_config=space_config, resolution=self.task.resolution)

    def check_combiner(self, n: int | None) -> None:
        """Every prerequisite of the configured combiner (labels, the columns it needs, enough archs for
        its fit and evaluation parts), checked before any architecture is scored."""
        cfg = self.cfg
        if cfg.combiner.get("from"):  # a selection fitted elsewhere: its proxies must be computed here
            from zcnas.combiners.saved import load  # noqa: PLC0415

            saved = load(cfg.combiner["from"], "combiner.from")
            saved.check_columns(self.columns)
            log.info("combiner.from=%s: %s", cfg.combiner["from"], saved.provenance())
        if cfg.combiner.estimator is None:
            return
        if not self.targets:
            raise ValueError(f"combiner={cfg.combiner.name} needs ground truth: choose a benchmark with labels "
                             "(benchmark=nb201|file|suite_zero) or combiner=none")
        from zcnas.combiners.evaluate import split  # noqa: PLC0415

        est = instantiate(cfg.combiner.estimator)
        if hasattr(est, "check_columns"):
            est.check_columns(self.columns)
        if n is not None:
            split(n, cfg.combiner.n_fit, cfg.seed)

    def score(self, archs: list[Any]) -> list[dict[str, float]]:
        """Scores of ``archs`` (one ``{proxy: score}`` each): cached ones read, the rest probed
        (``engine.in_flight`` at once) and cached; each arch's row (with precomputed columns and ground
        truth) is appended to scores.csv as soon as it is made."""
        cfg, proxies = self.cfg, self.proxies
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
        done = in_order(lambda job: self.probe(*job), jobs, cfg.engine.in_flight)
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
            if len(self.rows) % cfg.log_every == 0 or len(self.rows) == 1 or now - self.t_logged >= PROGRESS_EVERY_S:
                log.info(progress(len(self.rows), self.total, now - self.t_scoring))
                self.t_logged = now
        return out

    def probe(self, arch: Any, key: str, todo: dict[str, Any], rec: bool) -> dict[str, float]:
        """Build ``arch`` (seeded by (seed, arch) alone) and score the proxies ``todo`` on it, with its per-arch
        record (saturation flags, decile terms); ``rec``: probe for the record even when no score is missing.
        Any worker thread."""
        if not todo and not rec:
            return {}
        space, task = self.space, self.task
        with seeded(arch_seed(self.cfg.seed, key)):  # worker threads take turns with the global RNG (build only)
            model = space.build(arch, num_classes=task.num_classes)
        model = model.to(self.device)  # the copy needs no RNG: outside the lock
        thin = partial(space.thin, arch, task.num_classes) if hasattr(space, "thin") else None
        with own_stream(self.device):
            return probe_and_score(model, self.x, self.y, todo, self.cfg.probe, key, fused=self.cfg.engine.fused,
                                   thin=thin, loss_fn=task.loss, record=self.record,
                                   oom_reduce=bool(self.cfg.engine.get("oom_reduce", False)))

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
                            name, c, n, self.cfg.batch_size)

    def write(self, table: pd.DataFrame, correlations: list[dict[str, Any]], combiner_tags: dict[str, str],
              selected: Selection | None) -> dict[str, Any]:
        """scores/correlations/summary/config files (secrets masked) and plots; print the table. Returns
        the run summary."""
        from omegaconf import OmegaConf  # noqa: PLC0415

        cfg, n = self.cfg, len(table)
        seconds = time.perf_counter() - self.t0
        names = run_name(cfg, self.space.name, self.task.name, list(self.proxies), cfg.n_archs if cfg.shard.count > 1 else n)
        if self.oom_reduced:
            log.warning("%d archs were scored at a reduced batch after an out-of-memory (engine.oom_reduce): %s; "
                        "their scores are not the full batch's (run_summary.json oom_reduced_batch)",
                        len(self.oom_reduced), dict(list(self.oom_reduced.items())[:3]))
        tags = {"input_stand_in": str(self.task.stand_in).lower(), "space": self.space.name, "task": self.task.name,
                "numeric_tf32": str(self.numeric["tf32"]).lower(),
                **({"window": f"[{self.window['lo']}, {self.window['hi']}] {self.window['source']}"} if self.window else {}),
                "proxies": ",".join(self.columns), **combiner_tags,
                **({"selected_arch": selected.arch, **selected.tags} if selected else {})}
        summary = {"n_archs": n, "n_computed": n - self.n_cached, "n_cached": self.n_cached,
                   "seconds": seconds, "started_ms": self.started_ms, "finished_ms": self.started_ms + int(seconds * 1000),
                   "shard": dict(cfg.shard), "proxies": self.columns, "cost": run_cost(self.cpu0, seconds, self.device),
                   "saturated": dict(self.record.saturated), "numeric": self.numeric,
                   **({"window": self.window} if self.window else {}),
                   **({"oom_reduced_batch": self.oom_reduced} if self.oom_reduced else {}),
                   "mlflow": {"name": names, "tags": tags}}
        write_outputs(self.out_dir, scrub(OmegaConf.to_container(cfg, resolve=True), self.secrets), table, self.columns,
                      self.targets, correlations, summary, selected.to_json() if selected else None)
        from zcnas.search.run import search_report  # noqa: PLC0415

        if self.window:
            print(f"L-SWAG window [{self.window['lo']}, {self.window['hi']}]: {self.window['source']}")
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
    """Run the whole pipeline for a composed config (:class:`Run`); write outputs into ``out_dir``."""
    return Run(cfg, out_dir)()


def check_space(space_cfg: Any) -> None:
    """One-line errors for out-of-range arguments of a zcnas space (``space.C=0``, ``space.N=-1``) before any
    network is built; a space class of the user's own (their ``_target_``) is theirs to check."""
    from zcnas.spaces import check_space_args, space_class  # noqa: PLC0415

    try:
        cls = space_class(space_cfg.get("_target_"))
    except ValueError:
        return
    check_space_args(cls, {k: v for k, v in space_cfg.items() if k != "_target_"})


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
MAX_ARCH_LIST_BYTES = 64 << 20
"""The largest ``archs_from`` file read (64 MiB: millions of arch strings)."""


def read_arch_list(path: Path) -> list[str]:
    """The arch strings of a text file, one a line (``#`` comment lines and blank lines skipped); a missing,
    oversized, non-UTF-8, empty or duplicated list is a one-line error."""
    try:
        if path.stat().st_size > MAX_ARCH_LIST_BYTES:
            raise ValueError(f"archs_from={path} is larger than {MAX_ARCH_LIST_BYTES >> 20} MiB; split it")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"archs_from={path} cannot be read as UTF-8 text ({err}); give a file of arch "
                         "strings, one a line") from None
    archs = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not archs:
        raise ValueError(f"archs_from={path} lists no arch; give one arch string a line")
    dup = pd.Series(archs)[pd.Series(archs).duplicated()].tolist()
    if dup:
        raise ValueError(f"archs_from={path}: {dup[0]!r} is listed {archs.count(dup[0])} times ({len(dup)} duplicates)")
    return archs


def writable(out_dir: Path) -> None:
    """Create ``out_dir``; a directory that cannot be written is a one-line error naming the fix."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / ".zcnas_write_test").touch()
        (out_dir / ".zcnas_write_test").unlink()
    except OSError as err:
        raise OSError(f"output directory {out_dir} is not writable ({err.strerror}); "
                      "set hydra.run.dir=<a writable directory>") from None


def evaluate_table(cfg: Any, table: pd.DataFrame, columns: list[str], targets: list[str], out_dir: Path,
                   where: dict[str, str] | None = None) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Correlation records for every (column, target) pair plus the combiner's, and its tags (``where``: the
    space, task and benchmark a fitted combiner's file names)."""
    correlations = [{"proxy": p, "target": t, **correlate(table[p].to_numpy(), table[t].to_numpy())}
                    for p in columns for t in targets]
    for t in targets:
        unusable = int((~np.isfinite(table[t].to_numpy(float))).sum())
        if unusable:
            log.warning("target %s: %d of %d archs have no usable label (null/NaN/inf in the benchmark); "
                        "they are excluded from its correlations", t, unusable, len(table))
    combined = combine(cfg, table, columns, targets, out_dir, where or {}) + transferred(cfg, table, columns, targets)
    correlations += [rec for rec, _ in combined]
    for r in correlations:
        if r["n_nan"]:
            log.warning("proxy %s: %d of %d scores are NaN/inf, excluded from its correlations",
                        r["proxy"], r["n_nan"], len(table))
    return correlations, {k: v for _, tags in combined for k, v in tags.items()}


def combine(cfg: Any, table: pd.DataFrame, proxies: list[str], targets: list[str],
            out_dir: Path, where: dict[str, str]) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """Fit the configured combiner per target (``combiner.protocol``: held out on a seeded calibration
    part, or in sample) and correlate it; beside it, every single proxy on the same evaluation archs
    (``<proxy>.held_out``); write its diagnostics, a scatter of its scores and, for a selection (LIBRA), what it
    fitted (``combiner_<name>_<target>.json``, applied elsewhere with ``combiner.from=``). Returns (correlation
    record, tags) pairs."""
    if cfg.combiner.estimator is None or not targets:
        return []
    from zcnas.combiners.evaluate import assess, baselines  # noqa: PLC0415
    from zcnas.combiners.saved import save_selection  # noqa: PLC0415

    name, protocol = cfg.combiner.name, cfg.combiner.get("protocol", "held_out")
    out: list[tuple[dict[str, Any], dict[str, str]]] = []
    for t in targets:
        y = table[t].to_numpy(dtype=float)
        res = assess(instantiate(cfg.combiner.estimator), table[proxies], y, n_fit=cfg.combiner.n_fit, seed=cfg.seed,
                     protocol=protocol, diagnostics=out_dir / f"combiner_{name}_{t}.csv")
        tags = res.tags(name, t)
        log.info("combiner %s on %s: %s", name, t, tags or "fitted")
        fit_rows = np.setdiff1d(np.arange(len(table)), res.eval_idx) if protocol == "held_out" else np.arange(len(table))
        save_selection(res.fitted, out_dir / f"combiner_{name}_{t}.json",
                       {**where, "target": t, "protocol": protocol, "seed": cfg.seed}, table["arch"].to_numpy()[fit_rows])
        if protocol == "held_out":
            out += [({"proxy": f"{p}.held_out", "target": t, "protocol": protocol, **rec}, {})
                    for p, rec in baselines(table[proxies], y, res.eval_idx, cfg.seed).items()]
        out.append(({"proxy": name, "target": t, **res.record}, tags))
        scatter_plot(out_dir / f"scatter_{name}_{t}.png", pd.DataFrame({name: res.pred, t: y[res.eval_idx]}), name,
                     [t], [out[-1][0]], label=f"{name} ({protocol.replace('_', '-')})")
    return out


def transferred(cfg: Any, table: pd.DataFrame, columns: list[str],
                targets: list[str]) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """``combiner.from=<combiner.json>``: the saved selection applied to this run's scores, no fitting (a
    combiner fitted on one benchmark, ranked on another), its ρ per target with an interval beside every single
    proxy's on the same archs (record ``<combiner>.transferred``), and where it was fitted as tags."""
    path = cfg.combiner.get("from")
    if not path:
        return []
    from zcnas.combiners.saved import load  # noqa: PLC0415

    saved = load(path, "combiner.from")
    pred = saved.predict(table[columns])
    return [({"proxy": f"{saved.data['combiner']}.transferred", "target": t,
              **correlate(pred, table[t].to_numpy(dtype=float), seed=cfg.seed)}, saved.tags()) for t in targets]


def planned(cfg: Any) -> tuple[int, bool]:
    """How many architectures this run scores: (count, exact). A search's count is its evaluation
    budget (evolution: the first population + mutations and crossovers of the later generations;
    duplicates are scored once), so an upper bound."""
    if not searching(cfg):
        n = len(read_arch_list(Path(cfg.archs_from))) if cfg.get("archs_from") else cfg.n_archs
        return len(range(cfg.shard.index, n, cfg.shard.count)), True
    from hydra.utils import get_class  # noqa: PLC0415

    return instantiate(cfg.search).planned(get_class(cfg.space._target_)), False


def hydra_choices() -> dict[str, str]:
    """Hydra's ``runtime.choices`` of the running app (config group -> option), or {} outside one."""
    from hydra.core.hydra_config import HydraConfig  # noqa: PLC0415

    return {str(k): str(v) for k, v in HydraConfig.get().runtime.choices.items()} if HydraConfig.initialized() else {}


def window_used(cfg: Any, choices: Mapping[str, str]) -> dict[str, Any] | None:
    """L-SWAG's layer window in this run and where it came from, or None without lswag/lswag_lambda:
    ``{"lo", "hi", "source"}``, source = ``command line`` (the proxy's lo/hi differ from the window's),
    ``calibrated <file>`` (yours, from ``python -m zcnas.calibrate``), ``shipped conf/window/<name>.yaml``,
    ``default`` (no window for this space and task: the whole network) or ``unknown`` (no Hydra choices:
    composed in-process). ``choices``: Hydra's ``runtime.choices``; a per-target (TNB101) or per-flavour
    file is looked up before the pair's own."""
    from zcnas import CONF_DIR, user_config_dir  # noqa: PLC0415

    named = [n for n in ("lswag", "lswag_lambda") if n in (cfg.get("proxy") or {})]
    if not named:
        return None
    lo, hi = int(cfg.proxy[named[0]].lo), int(cfg.proxy[named[0]].hi)
    win = cfg.get("window") or {}
    if (lo, hi) != (int(win.get("lo", 0)), int(win.get("hi", 10))):
        return {"lo": lo, "hi": hi, "source": "command line"}
    if not choices:
        return {"lo": lo, "hi": hi, "source": "unknown"}
    subs = [s for s in (cfg.task.get("name"), cfg.space.get("flavour")) if s]
    nested = any(k.startswith("window@window.") for k in choices)  # the pair's file only picks a target's window
    candidates = (("calibrated", user_config_dir() / "calibrated",
                   [f"calibrated@window.{s}" for s in subs] + ["calibrated@window"]),
                  ("shipped", Path(CONF_DIR) / "window", [f"window@window.{s}" for s in subs] + ([] if nested else ["window"])))
    for label, folder, keys in candidates:
        for key in keys:
            if key in choices and (folder / f"{choices[key]}.yaml").is_file():
                where = f"conf/window/{choices[key]}.yaml" if label == "shipped" else str(folder / f"{choices[key]}.yaml")
                return {"lo": lo, "hi": hi, "source": f"{label} {where}"}
    return {"lo": lo, "hi": hi, "source": "default"}


def progress(done: int, total: tuple[int, bool], seconds: float) -> str:
    """``scored 40/100 archs (40 %), 2.1 archs/s, 28 s elapsed, ETA 29 s`` (``<=`` for a search's bound)."""
    count, exact = total
    rate = done / seconds if seconds > 0 else math.inf
    left = max(count - done, 0) / rate if rate > 0 else math.inf
    of = f"{count}" if exact else f"<={count}"
    return (f"scored {done}/{of} archs ({100 * done / max(count, 1):.0f} %), {rate:.2f} archs/s, "
            f"{seconds:.0f} s elapsed, ETA {left:.0f} s")


def run_name(cfg: Any, space: str, task: str, proxies: list[str], n: int) -> str:
    """``<space>-<task>-<proxies>-n<archs>[-<combiner>][-<search>]-s<seed>[-shard<k>of<n>]``; more than
    four proxies are counted (``13proxies``), their names are in the params."""
    names = "+".join(proxies) if len(proxies) <= 4 else f"{len(proxies)}proxies"
    extra = [x for x in (cfg.combiner.name, search_name(cfg)) if x != "none"]
    return "-".join([space, task, names, f"n{n}", *extra, f"s{cfg.seed}"]) + shard_suffix(cfg)


def search_name(cfg: Any) -> str:
    """The configured search's name (``evolution``, ``random``, ``prune``; ``none`` for a uniform sample)."""
    if not searching(cfg):
        return "none"
    from hydra.utils import get_class  # noqa: PLC0415

    search: Any = get_class(cfg.search._target_)
    return str(search.name)


def shard_suffix(cfg: Any) -> str:
    """``-shard<k>of<n>`` for sharded runs, else empty."""
    return f"-shard{cfg.shard.index}of{cfg.shard.count}" if cfg.shard.count > 1 else ""


def main() -> None:
    """Hydra entry point (``python -m zcnas.run [overrides]``)."""
    import hydra  # noqa: PLC0415
    from hydra.core.hydra_config import HydraConfig  # noqa: PLC0415

    from zcnas import CONF_DIR  # noqa: PLC0415

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
