"""Launch the L-SWAG paper's CNN benchmark grid (Fig. 3 / Fig. 4 / Table 3) as sharded Hydra multiruns.

Reference: Casarin, Escalera, Lanz, "L-SWAG", CVPR 2025 (arXiv 2505.07300), Fig. 3 (proxy x benchmark
Spearman ρ), Fig. 4 (mean ρ) and Table 3 (L-SWAG's components). One multirun per column (the space, task
and ground truth move together, so they cannot be one Cartesian sweep) over seeds x shards:

    python -m zcnas.run -m <column overrides> proxy=[...] n_archs=N seed=0,1,2 \
        shard.count=K shard.index=0,...,K-1 cache.path=<out>/zcnas_cache.db \
        hydra.sweep.dir=<out>/main/<column> record_deciles=true [launcher=local|slurm]

Each run records L-SWAG's decile terms per arch (``probe_record.csv``), from which every window of lswag
and lswag_lambda follows (Table 3's full-window rows included); ``--ablation`` still adds the older second
multirun per column with ``proxy=[lswag,lswag_lambda]`` over ``lo=0 hi=10`` (``<out>/ablation/<column>``),
a pure recompute. Every score goes through the shared score cache, so a
killed or requeued grid rerun with the same command recomputes nothing it already scored; each multirun
merges its shards into ``<sweep>/merged/<seed group>/`` at its end. Then ``analyse.py <out>``.

``--protocol headline`` is the powered protocol behind the paper's headline (Fig. 4: L-SWAG 0.72 vs NWOT
0.62), computed in committed increments (:data:`HEADLINE`): fixed cell lists (``<out>/cells/``, drawn once
and never redrawn), one chunk = (column, seed, k of K) run by ``python -m zcnas.run archs_from=<cells>
shard.index=k shard.count=K record_deciles=true`` in ``<out>/.work/`` and moved, complete, to
``<out>/<column>/seed<s>_chunk<k>of<K>/`` (scores.csv, probe_record.csv, run_summary.json, correlations.json,
config.yaml): a kill never leaves a partial chunk there; a rerun computes only the chunks that are missing;
several processes on one folder each take an unlocked chunk (``<out>/.work/<chunk>.lock``).

``--protocol cifar14`` (:data:`CIFAR14`) extends the headline: the other five of Fig. 3's 14 proxies (MeCo, AZ-NAS's
three terms, SynFlow) on the five CIFAR columns, on the headline's cell lists (copied from ``<out>/../headline/cells/``)
with its seeds, so its inits and probe batches are the headline's and analyse.py joins the two per arch.

Usage:
    python experiments/benchmark_grid/grid.py --protocol headline --out experiments/benchmark_grid/results/headline
    python experiments/benchmark_grid/grid.py --protocol cifar14 --out experiments/benchmark_grid/results/cifar14
    python experiments/benchmark_grid/grid.py --out logs/experiments/benchmark_grid               # all, local
    python experiments/benchmark_grid/grid.py --launcher slurm --shards 8 --n 1000 hydra.launcher.partition=cpu
    python experiments/benchmark_grid/grid.py --columns nb201_c10,nb101 --n 20 --seeds 0 --dry-run
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

from zcnas.results import take_lock

# column -> (Hydra overrides, labelled archs in its ground truth: n_archs is capped there)
COLUMNS: dict[str, tuple[list[str], int]] = {
    "nb201_c10": (["space=nb201", "task=cifar10"], 15625),
    "nb201_c100": (["space=nb201", "task=cifar100"], 15625),
    "nb201_in16": (["space=nb201", "task=imagenet16_120"], 15625),
    "nb101": (["space=nb101", "benchmark.target=cifar10", "benchmark.precomputed=all"], 500),  # Suite-Zero's 500 NB101 cells
    "nb301": (["space=darts", "benchmark.target=cifar10", "benchmark.precomputed=all"], 725),
    "micro_ae": (["space=tnb101_micro", "benchmark.target=autoencoder", "benchmark.precomputed=all"], 711),
    "micro_jig": (["space=tnb101_micro", "benchmark.target=jigsaw", "benchmark.precomputed=all"], 711),
    "macro_ae": (["space=tnb101_macro", "benchmark.target=autoencoder", "benchmark.precomputed=all"], 725),
    "macro_jig": (["space=tnb101_macro", "benchmark.target=jigsaw", "benchmark.precomputed=all"], 725),
}
"""The paper's CNN columns zcnas can compute (TNB101 object/scene/room/normal/segment need Taskonomy labels)."""

PROXIES = ["lswag", "lswag_lambda", "zico", "swap", "reg_swap", "nwot", "meco", "aznas_expressivity",
           "aznas_trainability", "aznas_progressivity", "synflow", "jacov", "params", "flops"]
"""Fig. 3's proxies computed per arch in one fused probe (analyse.py rank-combines the three AZ-NAS terms and FLOPs;
lswag_lambda is Table 3's windowed no-Ψ row)."""

ABLATION = ["lswag", "lswag_lambda"]
"""Table 3's full-window rows: L-SWAG (no µ + Ψ) and Λ alone (no µ) over the whole network."""
FULL_WINDOW = ["proxy.lswag.lo=0", "proxy.lswag.hi=10", "proxy.lswag_lambda.lo=0", "proxy.lswag_lambda.hi=10"]


@dataclass(frozen=True)
class Column:
    """One column of a protocol: cells per seed, the seeds, and chunks per seed (each well under an hour on
    one core: the issue's measured s/arch x cells / chunks)."""

    n: int
    seeds: tuple[int, ...]
    chunks: int


HEADLINE_PROXIES = ["lswag", "lswag_lambda", "zico", "nwot", "swap", "reg_swap", "jacov", "params", "flops"]
"""The proxies the headline compares; one gradient pass and one activation pass serve them all."""
HEADLINE: dict[str, Column] = {
    "nb201_c10": Column(500, (0, 1, 2), 2), "nb201_c100": Column(500, (0, 1, 2), 2),
    "nb201_in16": Column(500, (0, 1, 2), 1),
    "nb101": Column(200, (0, 1), 2), "nb301": Column(200, (0, 1), 2),
    "micro_jig": Column(100, (0, 1), 2), "macro_jig": Column(100, (0, 1), 2),
    "micro_ae": Column(100, (0, 1), 4), "macro_ae": Column(100, (0, 1), 5),
}
"""The powered headline protocol: 500 cells x 3 seeds on NB201, 200 x 2 on NB101/NB301, 100 x 2 per TNB101
column (paired 95 % interval of ρ(L-SWAG) − ρ(NWOT) about ±0.05 per column at n = 100; the paper's gap is 0.10).
A seed draws its own cells (``benchmark.sample(n, default_rng(seed))``, as ``zcnas.run seed=<s> n_archs=<n>``)
and its own inits and probe batch."""
CIFAR14_PROXIES = [p for p in PROXIES if p not in HEADLINE_PROXIES]
"""What Fig. 3's 14 proxies add to the headline's nine: MeCo, AZ-NAS's three terms, SynFlow."""
CIFAR14: dict[str, Column] = {
    **{c: Column(500, (0, 1, 2), 2) for c in ("nb201_c10", "nb201_c100", "nb201_in16")},
    "nb101": Column(200, (0, 1), 4), "nb301": Column(200, (0, 1), 4),
}
"""All 14 proxies on the five CIFAR columns (the issue's part 7): the headline's cells, seeds, inits and probe
batches, scored for :data:`CIFAR14_PROXIES` only and joined per arch with the headline's committed scores."""


class Protocol(NamedTuple):
    """A named protocol: cells per column, the proxies its chunks score, and the protocol it extends (its cell
    lists are copied from that folder, ``<out>/../<extends>/cells/``, and analyse.py joins the two per arch)."""

    table: dict[str, Column]
    proxies: list[str]
    extends: str | None = None


PROTOCOLS = {"headline": Protocol(HEADLINE, HEADLINE_PROXIES),
             "cifar14": Protocol(CIFAR14, CIFAR14_PROXIES, extends="headline")}


def chunk_name(seed: int, k: int, chunks: int) -> str:
    """``seed<s>_chunk<k>of<K>``: one chunk's folder under ``<out>/<column>/``."""
    return f"seed{seed}_chunk{k}of{chunks}"


def plan(protocol: str) -> list[tuple[str, int, int, int]]:
    """The protocol's chunks (column, seed, k, K), seed-major (every column's first seed before any
    second), cheap columns first within a seed."""
    table = PROTOCOLS[protocol].table
    out = [(col, seed, k, c.chunks) for col, c in table.items() for seed in c.seeds for k in range(c.chunks)]
    return sorted(out, key=lambda t: (t[1], list(table).index(t[0]), t[2]))


def start_protocol(out: Path, protocol: str) -> None:
    """Create ``out`` with its ``protocol.json``, or check that an existing one holds this protocol (a folder
    of another protocol is a one-line error; nothing there is touched)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}")
    table, proxies, extends = PROTOCOLS[protocol]
    want = {"protocol": protocol, "proxies": proxies, "columns": {k: asdict(v) for k, v in table.items()},
            **({"extends": extends} if extends else {})}
    marker = out / "protocol.json"
    if marker.exists():
        try:
            have = json.loads(marker.read_text())
        except (OSError, ValueError) as err:
            raise ValueError(f"{marker} is not a readable protocol file ({err}); choose another --out") from None
        if not isinstance(have, dict) or have.get("protocol") != protocol:
            got = have.get("protocol") if isinstance(have, dict) else None
            raise ValueError(f"--out {out} holds protocol {got!r}, not {protocol!r}; choose another --out")
        if json.loads(json.dumps(want)) != have:
            raise ValueError(f"--out {out}: its protocol.json differs from this version's {protocol!r} protocol "
                             "(cells, seeds or proxies changed); choose another --out")
        return
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"--out {out} is not empty and has no protocol.json: not a grid folder; choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(want, indent=2) + "\n")
    (out / ".gitignore").write_text(".work/\n")


def cell_file(out: Path, column: str, seed: int, n: int, python: str, extends: str | None = None) -> Path:
    """``<out>/cells/<column>_seed<s>.txt``: the seed's cells, drawn once (as ``zcnas.run seed=<s>
    n_archs=<n>`` samples them today) and then only read, so later changes to sampling never move them; an
    extending protocol copies the extended one's list (``<out>/../<extends>/cells/``) byte for byte."""
    path = out / "cells" / f"{column}_seed{seed}.txt"
    if path.exists():
        return path
    if extends:
        base = out.parent / extends / "cells" / path.name
        if not base.is_file():
            raise ValueError(f"{base} is missing: this protocol extends {extends!r}, whose cell lists must be "
                             f"there first (grid.py --protocol {extends} --out {out.parent / extends})")
        path.parent.mkdir(exist_ok=True)
        shutil.copyfile(base, path.with_suffix(".tmp"))
        path.with_suffix(".tmp").replace(path)
        return path
    overrides, size = COLUMNS[column]
    code = ("import sys, numpy as np; from hydra import compose, initialize_config_dir; from zcnas import CONF_DIR; "
            "from zcnas.cli import instantiate; from zcnas.run import canonical_keys\n"
            "with initialize_config_dir(version_base='1.3', config_dir=CONF_DIR):\n"
            "    cfg = compose('config', overrides=sys.argv[3:])\n"
            "space = instantiate(cfg.space); bench = canonical_keys(instantiate(cfg.benchmark), space)\n"
            "print('\\n'.join(bench.sample(int(sys.argv[1]), np.random.default_rng(int(sys.argv[2])))))")
    args = [o for o in overrides if not o.startswith("benchmark.precomputed")]
    cells = subprocess.run([python, "-c", code, str(min(n, size)), str(seed), *args], check=True,
                           capture_output=True, text=True).stdout.splitlines()
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"# {column} seed {seed}: {len(cells)} cells, benchmark.sample(n, default_rng({seed}))\n"
                   + "\n".join(cells) + "\n")
    tmp.replace(path)
    return path


CHUNK_FILES = ("scores.csv", "probe_record.csv", "run_summary.json", "correlations.json", "config.yaml")
"""What a finished chunk keeps (text; the per-proxy scatter plots stay in .work/); ``probe_record.csv`` (L-SWAG's
decile record) only when the protocol scores lswag."""


def chunk_files(proxies: list[str]) -> tuple[str, ...]:
    """The files a finished chunk of a protocol scoring ``proxies`` keeps."""
    return CHUNK_FILES if "lswag" in proxies else tuple(f for f in CHUNK_FILES if f != "probe_record.csv")


def chunk_complete(path: Path, expected: int, files: tuple[str, ...] = CHUNK_FILES) -> bool:
    """A chunk folder with every one of ``files``, a summary of ``expected`` archs and as many complete rows in
    its CSVs (scores.csv, probe_record.csv): a torn or partial chunk is not complete."""
    try:
        summary = json.loads((path / "run_summary.json").read_text())
        rows = [(path / f).read_text().split("\n") for f in files if f.endswith(".csv")]
    except (OSError, ValueError):
        return False
    return (all((path / f).is_file() for f in files) and summary.get("n_archs") == expected
            and all(r[-1] == "" and len(r) - 2 == expected for r in rows))


def run_protocol(out: Path, protocol: str, *, python: str, columns: list[str] | None, extra: list[str],
                 dry_run: bool = False) -> list[str]:
    """Compute every missing chunk of ``protocol`` under ``out`` (resumable, lock-safe); returns the chunks
    computed (with ``dry_run``: the ones that would be)."""
    start_protocol(out, protocol)
    table, proxies, extends = PROTOCOLS[protocol]
    files = chunk_files(proxies)
    unknown = sorted(set(columns or []) - set(table))
    if unknown:
        raise ValueError(f"unknown column(s) {unknown} for protocol {protocol}; valid: {', '.join(table)}")
    work, done = out / ".work", []
    cells_of = {(col, seed): cell_file(out, col, seed, c.n, python, extends)  # every list fixed before any chunk
                for col, c in table.items() for seed in c.seeds}
    for col, seed, k, chunks in plan(protocol):
        if columns and col not in columns:
            continue
        cells = cells_of[col, seed]
        n_cells = len([ln for ln in cells.read_text().splitlines() if ln and not ln.startswith("#")])
        expected = len(range(k, n_cells, chunks))
        name, final = chunk_name(seed, k, chunks), out / col / chunk_name(seed, k, chunks)
        if chunk_complete(final, expected, files):
            continue
        if dry_run:
            done.append(f"{col}/{name}")
            continue
        lock = work / f"{col}_{name}.lock"
        if not take_lock(lock):
            continue
        try:
            if chunk_complete(final, expected, files):  # finished by another process meanwhile
                continue
            run_dir = work / col / name
            overrides = [o for o in COLUMNS[col][0]]
            cmd = [python, "-m", "zcnas.run", *overrides, f"proxy=[{','.join(proxies)}]", f"archs_from={cells}",
                   f"seed={seed}", f"shard.count={chunks}", f"shard.index={k}", f"record_deciles={str('lswag' in proxies).lower()}",
                   f"cache.path={work / 'zcnas_cache.db'}", f"hydra.run.dir={run_dir}", "tracking=none",
                   "threads=1", "log_every=10", *extra]
            print(shlex.join(cmd), flush=True)
            subprocess.run(cmd, check=True)
            if not chunk_complete(run_dir, expected, files):
                raise RuntimeError(f"chunk {col}/{name} finished without its {expected} archs in {run_dir}")
            staged = final.with_name(final.name + ".tmp")
            shutil.rmtree(staged, ignore_errors=True)
            staged.mkdir(parents=True)
            for f in files:
                shutil.copy2(run_dir / f, staged / f)
            shutil.rmtree(final, ignore_errors=True)  # an incomplete one (torn by a kill): replaced whole
            staged.rename(final)
            done.append(f"{col}/{name}")
        finally:
            lock.unlink(missing_ok=True)
    return done


def commands(columns: list[str], *, n: int, seeds: list[int], shards: int, launcher: str, out: Path,
             proxies: list[str], ablation: bool, python: str, extra: list[str]) -> list[list[str]]:
    """The ``python -m zcnas.run -m`` command lines of the grid, one per (kind, column)."""
    unknown = sorted(set(columns) - set(COLUMNS))
    if unknown:
        raise ValueError(f"unknown column(s) {unknown}; valid: {', '.join(COLUMNS)}")
    if n < 3 or shards < 1 or not seeds:
        raise ValueError(f"--n {n} --shards {shards} --seeds {seeds}: need n >= 3, shards >= 1 and a seed")
    runs = [("main", proxies, [])] + ([("ablation", ABLATION, FULL_WINDOW)] if ablation else [])
    cmds = []
    for kind, names, window in runs:
        for col in columns:
            overrides, size = COLUMNS[col]
            if kind == "ablation":  # Suite-Zero's precomputed scores are read once, by the main run
                overrides = [o for o in overrides if not o.startswith("benchmark.precomputed")]
            cmds.append([python, "-m", "zcnas.run", "-m", *overrides, f"proxy=[{','.join(names)}]", *window,
                         f"n_archs={min(n, size)}", f"seed={','.join(map(str, seeds))}",
                         f"shard.count={shards}", f"shard.index={','.join(map(str, range(shards)))}",
                         f"cache.path={out / 'zcnas_cache.db'}", f"hydra.sweep.dir={out / kind / col}",
                         "hydra.sweep.subdir=seed${seed}_shard${shard.index}", "log_every=50",
                         *(["record_deciles=true"] if kind == "main" else []),
                         *([f"launcher={launcher}"] if launcher != "none" else []), *extra])
    return cmds


def main(argv: list[str] | None = None) -> None:
    """``python experiments/benchmark_grid/grid.py [options] [hydra overrides...]``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--protocol", choices=list(PROTOCOLS), default=None,
                   help="a named protocol computed in resumable chunks under --out (headline: the Fig. 4 claim)")
    p.add_argument("--columns", default=None, help=f"comma list of {', '.join(COLUMNS)} (default: all)")
    p.add_argument("--n", type=int, default=500, help="archs per column and seed (capped at the benchmark's size)")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--shards", type=int, default=1, help="shards per seed (jobs per column = seeds x shards)")
    p.add_argument("--launcher", default="none", choices=["none", "local", "slurm"],
                   help="none: jobs one after another in this process; local/slurm: submitit (conf/launcher/)")
    p.add_argument("--out", type=Path, default=Path("logs/experiments/benchmark_grid"))
    p.add_argument("--proxies", default=",".join(PROXIES))
    p.add_argument("--ablation", action="store_true",
                   help="also Table 3's separate full-window runs (superseded: every main run records the decile "
                        "terms, record_deciles=true, from which analyse.py derives any window)")
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--dry-run", action="store_true", help="print the commands only")
    args, extra = p.parse_known_args(argv)
    if args.protocol:
        try:
            done = run_protocol(args.out, args.protocol, python=args.python, extra=extra, dry_run=args.dry_run,
                                columns=args.columns.split(",") if args.columns else None)
        except (ValueError, RuntimeError, subprocess.CalledProcessError) as err:
            sys.exit(f"grid.py: error: {err}")
        print(f"{'would compute' if args.dry_run else 'computed'} {len(done)} chunk(s) under {args.out}")
        return
    try:
        cmds = commands((args.columns or ",".join(COLUMNS)).split(","), n=args.n, seeds=[int(s) for s in args.seeds.split(",")],
                        shards=args.shards, launcher=args.launcher, out=args.out, proxies=args.proxies.split(","),
                        ablation=args.ablation, python=args.python, extra=extra)
    except ValueError as err:
        sys.exit(f"grid.py: error: {err}")
    for cmd in cmds:
        print(shlex.join(cmd), flush=True)
        if not args.dry_run:
            subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
