"""How much do the probe images decide the AutoFormer-T verdict? L-SWAG, Dextr, NWOT and #params on the
100 labelled subnets, probed with four image sources, seeds 0-2.

Sources (all local; the tasks' own images -- CIFAR-100, Flowers-102, Chaoyang, ImageNet -- are not here):

* ``cifar10``: the shipped 1,000 CIFAR-10 test images at 224 (what every other AutoFormer table uses);
* ``noise``: ``task.source=noise``, Gaussian pixels that normalise to about N(0, 1) (no image structure);
* ``photos``: 256 random crops (side 35-100 % of the shorter edge, random flip) of the five natural RGB
  photographs bundled with scikit-image (astronaut, chelsea, coffee, rocket, motorcycle_left), one
  class per photograph, written as an ImageFolder and read with ``task.source=imagefolder``;
* ``ihc``: 256 random crops (side 96-256 px) of scikit-image's immunohistochemistry slide
  (``skimage.data.immunohistochemistry``): stained tissue, the nearest local thing to Chaoyang's
  colon-pathology patches.

Each (source, seed) is one ``zcnas.run`` (``proxy=[lswag,dextr,nwot,params]``, the space's default
batch of 32 and calibrated window), its scores.csv copied to ``results/images/<source>_seed<s>.csv``
as soon as it finishes (a rerun skips what is there). Then ``results/images/rho.csv`` (ρ per column,
proxy, source and seed) and ``results/images/summary.csv`` (mean and sd over seeds; the largest move
from the CIFAR-10 value) are written and printed.

Needs scikit-image for the two photo sources (``pip install scikit-image``; an experiment-only
dependency, not one of zcnas's). Run: ``python experiments/autoformer_lswag/images.py [--seeds 0 1 2]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent / "results" / "images"
WORK = ROOT / "logs" / "experiments" / "autoformer_lswag" / "images"
PROXIES = ("lswag", "dextr", "nwot", "params")
SOURCES = ("cifar10", "noise", "photos", "ihc")
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle_left")


def _photo(name: str) -> np.ndarray:
    """A bundled scikit-image photograph as uint8 HWC RGB (read from the wheel's own files)."""
    try:
        from skimage import data
    except ImportError:
        sys.exit("images.py: the photo sources need scikit-image: pip install scikit-image")
    return data.stereo_motorcycle()[0] if name == "motorcycle_left" else getattr(
        data, "immunohistochemistry" if name == "ihc" else name)()


def write_crops(folder: Path, photos: tuple[str, ...], n: int, side: tuple[float, float], seed: int = 0) -> None:
    """``n`` random square crops (side in pixels ``side``, or in fractions of the shorter edge when < 1)
    with random horizontal flips, split evenly over ``photos``, as ``folder/<photo>/<i>.png`` at 224 px."""
    from PIL import Image

    if folder.is_dir() and sum(1 for _ in folder.rglob("*.png")) == n:
        return
    shutil.rmtree(folder, ignore_errors=True)
    rng = np.random.default_rng(seed)
    for k, name in enumerate(photos):
        img = _photo(name)
        h, w = img.shape[:2]
        (folder / name).mkdir(parents=True)
        for i in range(n // len(photos) + (k < n % len(photos))):
            s = rng.uniform(*side)
            s = int(min(h, w, s * min(h, w) if s <= 1 else s))
            y, x = rng.integers(0, h - s + 1), rng.integers(0, w - s + 1)
            crop = img[y:y + s, x:x + s][:, ::-1 if rng.random() < 0.5 else 1]
            Image.fromarray(np.ascontiguousarray(crop)).resize((224, 224), Image.Resampling.BICUBIC).save(
                folder / name / f"{i:03d}.png")


def task_overrides(source: str) -> list[str]:
    """The ``zcnas.run`` overrides that pick ``source``'s images."""
    if source == "cifar10":
        return []
    if source == "noise":
        return ["task.source=noise"]
    folder = WORK / "folders" / source
    if source == "photos":
        write_crops(folder, PHOTOS, 256, (0.35, 1.0))
    else:
        write_crops(folder, ("ihc",), 256, (96, 256))
    return ["task.source=imagefolder", f"task.root={folder}"]


def score(source: str, seed: int) -> Path:
    """One ``zcnas.run`` on the 100 labelled subnets; its scores.csv lands in ``OUT`` when finished."""
    dest = OUT / f"{source}_seed{seed}.csv"
    if dest.is_file():
        return dest
    run_dir = WORK / f"{source}_seed{seed}"
    cmd = [sys.executable, "-m", "zcnas.run", "space=autoformer", f"seed={seed}", f"proxy=[{','.join(PROXIES)}]",
           "threads=1", "log_every=20", "tracking=none", f"hydra.run.dir={run_dir}",
           f"cache.path={WORK / 'zcnas_cache.db'}", *task_overrides(source)]
    print("+", " ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"})
    OUT.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(run_dir / "scores.csv", dest.with_suffix(".tmp"))
    dest.with_suffix(".tmp").replace(dest)
    return dest


def tables(seeds: list[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """ρ per (source, seed, proxy, column) and, per (column, proxy), the mean/sd over seeds per source."""
    from zcnas.metrics import correlate

    rows = []
    for source in SOURCES:
        for seed in seeds:
            f = OUT / f"{source}_seed{seed}.csv"
            if not f.is_file():
                continue
            df = pd.read_csv(f)
            targets = [c for c in df.columns if c.endswith("_acc")]
            for p in PROXIES:
                for t in targets:
                    r = correlate(df[p].to_numpy(float), df[t].to_numpy(float))["spearman"]
                    rows.append({"source": source, "seed": seed, "proxy": p, "column": t, "rho": round(r, 4)})
    rho = pd.DataFrame(rows)
    agg = rho.groupby(["column", "proxy", "source"])["rho"].agg(["mean", "std", "count"]).round(3).reset_index()
    wide = agg.pivot(index=["column", "proxy"], columns="source", values="mean")[
        [s for s in SOURCES if s in set(agg["source"])]]
    if "cifar10" in wide:
        others = wide.drop(columns="cifar10")
        wide["max_move"] = others.sub(wide["cifar10"], axis=0).abs().max(axis=1).round(3)
    if agg["count"].max() > 1:  # the seeds' own spread, to hold the moves against: the largest sd over sources
        wide["seed_sd_max"] = agg.pivot(index=["column", "proxy"], columns="source", values="std").max(axis=1).round(3)
    return rho, wide.reset_index()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--sources", nargs="+", default=list(SOURCES), choices=SOURCES)
    ap.add_argument("--tables-only", action="store_true", help="only rebuild the tables from results/images/")
    args = ap.parse_args()
    if not args.tables_only:
        for seed in args.seeds:
            for source in args.sources:
                score(source, seed)
    rho, wide = tables(args.seeds)
    rho.to_csv(OUT / "rho.csv", index=False)
    wide.to_csv(OUT / "summary.csv", index=False)
    with pd.option_context("display.width", 200, "display.max_rows", 100):
        print(wide.to_string(index=False))


if __name__ == "__main__":
    main()
