"""`make bench`: what a probe costs per architecture, per space, against the floor and against Suite-Zero's record.

Per space (each of experiments/benchmark_grid's CNN columns, as its Hydra overrides compose them: the space's own
batch, task, loss and probe settings; and AutoFormer-T), on n of Suite-Zero's labelled archs of the column
(``sample(n, default_rng(0))`` of its table: uniform draws, as the grid's cells are, with Suite-Zero's recorded cost),
each arch built as ``zcnas.run`` builds it (seeded by (seed 0, arch)), one torch thread, each mode in its own
process (so peak RSS is the mode's own):

  a  one bare forward + backward with the task's loss (the floor)
  b  lswag
  h  the headline set (benchmark_grid's HEADLINE_PROXIES), fused
  f  Fig. 3's 14 (benchmark_grid's PROXIES), fused
  s  the proxies Suite-Zero recorded for that table, fused (AutoFormer-T: the 13 of NB201/NB301)
  d  the same, a fresh probe per proxy (the NASLib way; per-proxy seconds kept)

Medians over archs x repeats, ratios from the same run. Beside them, Suite-Zero's own recorded cost of the same archs
(its zc_*.json ``time`` per proxy, their hardware, one proxy at a time: Krishnakumar et al., NeurIPS 2022 D&B,
files from automl/NASLib:naslib/data/zc_*.json), and the grid's CPU-hours recomputed from h and f. Rows merge into
experiments/bench/results.json (a killed run resumes: a (space, mode) already there is kept; --fresh redoes them).

Usage: python experiments/bench/bench.py [--repeats 1] [--n nb201_c10=10,nb101=3,...] [--only nb201_c10,autoformer]
                                         [--modes abhfsd] [--fresh] [--out results.json]
       python experiments/bench/bench.py --memory
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "experiments" / "benchmark_grid"))
from grid import COLUMNS, HEADLINE, HEADLINE_PROXIES, PROXIES  # noqa: E402

SPACES: dict[str, list[str]] = {**{c: overrides for c, (overrides, _) in COLUMNS.items()},
                                "autoformer": ["space=autoformer"]}
"""Bench space -> Hydra overrides (the grid's columns, and AutoFormer-T)."""
N_DEFAULT = {"nb201_c10": 10, "nb201_c100": 5, "nb201_in16": 5, "nb101": 3, "nb301": 3, "micro_ae": 1, "micro_jig": 2,
             "macro_ae": 1, "macro_jig": 2, "autoformer": 2}
"""Archs per space by default (``make bench``: ≈ 1 CPU-hour in all; TNB101 autoencoders cost minutes per arch)."""
SUITE_13 = ["params", "flops", "synflow", "snip", "grasp", "fisher", "grad_norm", "jacov", "nwot", "epe_nas", "plain",
            "l2_norm", "zen"]
"""Suite-Zero's proxies zcnas computes (the union of its tables' columns); AutoFormer-T's s/d set."""
MODES = "abhfsd"
OUT = Path(__file__).resolve().parent / "results.json"


def compose(space: str) -> Any:
    """The run config of a bench space, composed as ``python -m zcnas.run <overrides>`` would compose it."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from zcnas import CONF_DIR

    with initialize_config_dir(version_base="1.3", config_dir=CONF_DIR):
        return hydra_compose("config", overrides=SPACES[space])


def suite_zero(space: str, n: int) -> tuple[list[str], list[str], dict[str, dict[str, float]]]:
    """``n`` of Suite-Zero's labelled archs of ``space``'s table (``sample(n, default_rng(0))``), the proxies its table
    holds, and its recorded seconds per proxy for each arch (none in its NB101 file); AutoFormer-T:
    ``space.sample(n, default_rng(0))``, :data:`SUITE_13` and no record."""
    import numpy as np

    from zcnas.cli import instantiate
    from zcnas.data.suite_zero import FILES, load_suite_zero, parse_key
    from zcnas.run import canonical_keys

    cfg = compose(space)
    sp = instantiate(cfg.space)
    if space == "autoformer":
        return [sp.encode(a) for a in sp.sample(n, np.random.default_rng(0))], SUITE_13, {}
    table = cfg.benchmark.get("space") or "nb201"  # the NB201 columns' labels are NB201's own, not Suite-Zero's
    task = {"cifar100": "cifar100", "imagenet16_120": "ImageNet16-120"}.get(
        cfg.task.name, cfg.benchmark.get("target") or "cifar10")  # Suite-Zero's task key
    tab = canonical_keys(load_suite_zero(table, target=task, precomputed="all"), sp)
    archs, proxies = tab.sample(n, np.random.default_rng(0)), [c.removeprefix("sz_") for c in tab.scores.columns]
    data = json.loads((ROOT / "zcnas" / "data" / "assets" / FILES[table]).read_text())
    records = data.get("nasbench101", data)[task]
    times = {sp.encode(sp.decode(parse_key(table, key))): {p: v["time"] for p, v in rec.items() if isinstance(v, dict)}
             for key, rec in records.items()}
    return archs, proxies, {a: times[a] for a in archs if times[a]}


def mode_proxies(mode: str, suite: list[str]) -> list[str]:
    """The proxies a mode scores."""
    return {"a": [], "b": ["lswag"], "h": HEADLINE_PROXIES, "f": PROXIES, "s": suite, "d": suite}[mode]


def worker(mode: str, space: str, n: int, repeats: int) -> None:
    """Time ``mode`` on ``n`` archs of ``space`` (:func:`suite_zero`); print JSON {times, per_proxy, maxrss_mb}."""
    import torch

    from zcnas.cli import instantiate
    from zcnas.engine import probe_and_score
    from zcnas.probe import arch_seed, seeded

    torch.set_num_threads(1)
    cfg = compose(space)
    sp, task = instantiate(cfg.space), instantiate(cfg.task)
    x, y, _ = task.probe_batch(cfg.batch_size, cfg.probe.batch_seed)
    keys, suite, _ = suite_zero(space, n)
    proxies = mode_proxies(mode, suite)
    with seeded(arch_seed(cfg.seed, keys[0])):  # warm-up, untimed: the process's first pass pays lazy inits
        task.loss(sp.build(sp.decode(keys[0]), num_classes=task.num_classes)(x), y).backward()
    times: list[float] = []
    per_proxy: dict[str, list[float]] = {p: [] for p in proxies} if mode == "d" else {}
    for _ in range(repeats):
        for key in keys:
            with seeded(arch_seed(cfg.seed, key)):
                model = sp.build(sp.decode(key), num_classes=task.num_classes)
            t0 = time.perf_counter()
            if mode == "a":
                model.zero_grad()
                task.loss(model(x), y).backward()
            elif mode == "d":  # a fresh probe per proxy, each timed
                for p in proxies:
                    t1 = time.perf_counter()
                    probe_and_score(model, x, y, {p: {}}, cfg.probe, key, loss_fn=task.loss)
                    per_proxy[p].append(time.perf_counter() - t1)
            else:
                probe_and_score(model, x, y, {p: {} for p in proxies}, cfg.probe, key, loss_fn=task.loss)
            times.append(time.perf_counter() - t0)
    print(json.dumps({"times": times, "per_proxy": per_proxy, "batch": cfg.batch_size,
                      "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def summarise(space: str, results: dict[str, Any], recorded: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Ratios of one space's modes (same run), Suite-Zero's recorded cost of the same archs, and the grid's CPU-hours
    at this cost: benchmark_grid's headline protocol (its cells x seeds of the column) with the headline set (h)
    and with all 14 (f)."""
    m = {k: results[f"{space}/{k}"]["median_s"] for k in MODES if f"{space}/{k}" in results}
    out: dict[str, Any] = {f"{k}_over_a": round(v / m["a"], 3) for k, v in m.items() if k != "a" and "a" in m}
    if "d" in m and "s" in m:
        out["d_over_s"] = round(m["d"] / m["s"], 3)
    sums = [sum(r.values()) for r in recorded.values() if r]
    if sums:
        out["suite_zero_s"] = round(statistics.median(sums), 3)  # their Σ over proxies, median over the same archs
        out["suite_zero_archs"] = len(sums)
        out["suite_zero_per_proxy_s"] = {p: round(statistics.median(r[p] for r in recorded.values() if p in r), 3)
                                         for p in sorted({p for r in recorded.values() for p in r})}
        if "d" in m:
            out["d_over_suite_zero"] = round(m["d"] / out["suite_zero_s"], 3)
    if space in HEADLINE:
        cells = HEADLINE[space].n * len(HEADLINE[space].seeds)
        for k in ("h", "f"):
            if k in m:
                out[f"grid_cpu_hours_{k}"] = round(m[k] * cells / 3600, 2)
    return out


MEMORY = ["lswag", "zico", "swap", "nwot", "meco", "aznas_expressivity", "aznas_trainability", "synflow", "jacov",
          "tenas_ntk", "grasp", "snip", "params", "flops"]
"""Proxies whose peak memory ``--memory`` measures, each alone in its own process (the GPU check's list)."""
MEMORY_NETS = {"autoformer_tiny": 32, "vit_b": 8}
"""Networks of ``--memory`` and their batch: an AutoFormer-T subnet at the space's batch, ViT-B/16 (timm, random
init) at 8 images, what this 23 GB box holds for every proxy (TE-NAS's NTK rows alone: 8 x 86 M float64)."""


def memory_worker(net: str, proxy: str) -> None:
    """Peak RSS of one process that builds ``net`` and scores ``proxy`` alone on it (``bare``: one forward +
    backward; ``none``: the build only); prints JSON {maxrss_mb, seconds}."""
    import numpy as np
    import torch
    from omegaconf import OmegaConf

    from zcnas.data import Task
    from zcnas.engine import probe_and_score
    from zcnas.spaces import AutoFormerSpace

    torch.manual_seed(0)
    if net == "vit_b":
        import timm

        model = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=100)
    else:
        space = AutoFormerSpace(variant="tiny", img_size=224)
        model = space.build(space.sample(1, np.random.default_rng(0))[0], num_classes=100)
    x, y = Task(resolution=224, num_classes=100).batch(MEMORY_NETS[net], 0)
    t0 = time.perf_counter()
    if proxy == "bare":
        torch.nn.functional.cross_entropy(model(x), y).backward()
    elif proxy != "none":
        probe_and_score(model, x, y, {proxy: {}}, OmegaConf.create({"share_passes": True, "share_splits": 2}), "mem")
    print(json.dumps({"maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "seconds": time.perf_counter() - t0}))


def memory(results: dict[str, Any]) -> None:
    """``--memory``: peak RSS per proxy (its own process each) on an AutoFormer-T subnet and on ViT-B/16; rows already
    in results.json are kept (a killed run resumes; delete ``memory/*`` rows to measure again)."""
    for net in MEMORY_NETS:
        for proxy in ["none", "bare", *MEMORY]:
            if f"memory/{net}/{proxy}" in results:
                continue
            out = subprocess.run([sys.executable, __file__, "--memory-worker", net, proxy], capture_output=True,
                                 text=True, check=True).stdout.strip().splitlines()[-1]
            results[f"memory/{net}/{proxy}"] = {**json.loads(out), "batch": MEMORY_NETS[net]}
            print(net, proxy, results[f"memory/{net}/{proxy}"], flush=True)
            OUT.write_text(json.dumps(results, indent=2) + "\n")  # each row kept as it is measured


def table(results: dict[str, Any]) -> str:
    """The README's table of ``results``: median s per arch of each mode, ratios to the bare pass, Suite-Zero's recorded
    cost of the same archs, and the headline protocol's CPU-hours with the headline set and with all 14."""
    head = ("| space | archs, batch | (a) bare | (b) lswag | (h) headline 9 | (f) the 14 | (s) Suite-Zero's, fused "
            "| (d) one probe each | Suite-Zero recorded | b/a | h/a | f/a | d/s | grid CPU-h (h / f) |")
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for space in SPACES:
        m, sm = {k: results.get(f"{space}/{k}") for k in MODES}, results.get(f"{space}/summary", {})
        if m["a"] is None:
            continue
        cell = {k: f"{v['median_s']:.2f}" if v else "–" for k, v in m.items()}
        ratio = {k: f"{sm[k]:.2f}" if k in sm else "–" for k in ("b_over_a", "h_over_a", "f_over_a", "d_over_s")}
        hours = " / ".join(f"{sm[k]:.1f}" if k in sm else "–" for k in ("grid_cpu_hours_h", "grid_cpu_hours_f"))
        rows.append(f"| {space} | {m['a']['n_archs']}, {m['a']['batch']} | " + " | ".join(cell[k] for k in MODES[:4])
                    + f" | {cell['s']} | {cell['d']} | {sm.get('suite_zero_s', '–')} | "
                    + " | ".join(ratio.values()) + f" | {hours} |")
    tot = {k: [results[f"{c}/summary"][k] for c in HEADLINE if k in results.get(f"{c}/summary", {})]
           for k in ("grid_cpu_hours_h", "grid_cpu_hours_f")}
    rows.append(f"| headline protocol, {len(tot['grid_cpu_hours_h'])} of {len(HEADLINE)} columns |" + " |" * 12
                + f" {sum(tot['grid_cpu_hours_h']):.1f} / {sum(tot['grid_cpu_hours_f']):.1f} |")
    return "\n".join(rows) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--n", default="", help="archs per space, e.g. nb201_c10=20,macro_ae=2 (others: N_DEFAULT)")
    ap.add_argument("--only", default=None, help="comma-separated spaces (others keep their results.json entries)")
    ap.add_argument("--modes", default=MODES)
    ap.add_argument("--fresh", action="store_true", help="measure again the (space, mode) rows already in --out")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--worker", nargs=4, metavar=("MODE", "SPACE", "N", "REPEATS"))
    ap.add_argument("--memory", action="store_true", help="only the peak RSS per proxy (AutoFormer-T, ViT-B/16)")
    ap.add_argument("--memory-worker", nargs=2, metavar=("NET", "PROXY"))
    ap.add_argument("--table", action="store_true", help="print the README table of --out and stop")
    args = ap.parse_args()
    if args.table:
        print(table(json.loads(args.out.read_text())), end="")
        return
    if args.memory_worker:
        memory_worker(*args.memory_worker)
        return
    if args.memory:
        memory(json.loads(OUT.read_text()) if OUT.is_file() else {})
        return
    if args.worker:
        mode, space, n, rep = args.worker
        worker(mode, space, int(n), int(rep))
        return
    sizes = {**N_DEFAULT, **{k: int(v) for k, v in (kv.split("=") for kv in args.n.split(",") if kv)}}
    spaces = [s for s in SPACES if args.only is None or s in args.only.split(",")]
    unknown = sorted(set(args.only.split(",")) - set(SPACES)) if args.only else []
    if unknown:
        raise SystemExit(f"--only: unknown space(s) {unknown}; valid: {sorted(SPACES)}")
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    for space in spaces:
        n = sizes[space]
        for mode in args.modes:
            if f"{space}/{mode}" in results and results[f"{space}/{mode}"].get("n_archs") == n and not args.fresh:
                continue
            out = subprocess.run([sys.executable, __file__, "--worker", mode, space, str(n), str(args.repeats)],
                                 capture_output=True, text=True, check=True, env=env).stdout.strip().splitlines()[-1]
            r = json.loads(out)
            results[f"{space}/{mode}"] = {
                "median_s": round(statistics.median(r["times"]), 4), "maxrss_mb": round(r["maxrss_mb"]),
                "n_archs": n, "n": len(r["times"]), "batch": r["batch"],
                **({"per_proxy_s": {p: round(statistics.median(t), 4) for p, t in r["per_proxy"].items()}}
                   if r["per_proxy"] else {})}
            print(space, mode, results[f"{space}/{mode}"]["median_s"], flush=True)
            args.out.write_text(json.dumps(results, indent=2) + "\n")  # each row kept as it is measured
        results[f"{space}/summary"] = summarise(space, results, suite_zero(space, n)[2])
        print(space, results[f"{space}/summary"], flush=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
