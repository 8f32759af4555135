"""Config composition, the end-to-end run (files + MLflow), and bad-input errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.errors import MissingConfigException
from scipy import stats

from zcnas.data import Task, asset_path, load_nb201, verify_file
from zcnas.run import score_archs

ROOT = Path(__file__).resolve().parent.parent


def cfg_with(*overrides: str):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def test_default_config_composes():
    cfg = cfg_with()
    assert (cfg.n_archs, cfg.seed, cfg.batch_size, cfg.device) == (100, 0, 64, "cpu")
    assert cfg.space._target_ == "zcnas.spaces.NB201Space"
    assert cfg.task.name == "cifar10" and cfg.benchmark.target == "cifar10"
    assert list(cfg.proxy) == ["lswag"]
    assert cfg.tracking.uri == "sqlite:///mlruns.db"
    window = cfg.get("window")
    assert (cfg.proxy.lswag.lo, cfg.proxy.lswag.hi) == ((window.lo, window.hi) if window else (0, 10))


def test_config_groups_mirror_the_code_and_keep_the_cache_keys():
    """probe/ and engine/ are groups with the keys the score cache has always hashed (``probe`` is in every
    key); a search is a _target_; Suite-Zero is one file with the space as a parameter."""
    from zcnas.search import Evolution, Prune, RandomSearch

    cfg = cfg_with()
    assert dict(cfg.probe) == {"batch_seed": 0, "share_passes": False, "share_splits": 2, "tf32": False}
    assert dict(cfg.engine) == {"fused": True, "in_flight": 1, "oom_reduce": False} and cfg.search._target_ is None
    af = cfg_with("space=autoformer", "proxy=lswag")  # the space still picks its task, ground truth and batch
    assert dict(af.probe) == {"batch_seed": 0, "share_passes": True, "share_splits": 2, "tf32": False}
    assert (af.task.name, af.benchmark._target_, af.batch_size) == ("cifar100", "zcnas.data.load_autoformer", 32)
    for name, cls in (("evolution", Evolution), ("random", RandomSearch), ("prune", Prune)):
        search = cfg_with(f"search={name}").search
        assert search._target_ == f"zcnas.search.{cls.__name__}" and cls.name == name
    for space in ("nb101", "nb201", "nb301", "tnb101_micro", "tnb101_macro"):
        assert dict(cfg_with(f"benchmark=suite_zero_{space}").benchmark) == dict(
            cfg_with("benchmark=suite_zero", f"benchmark.space={space}").benchmark)


def test_multi_proxy_and_task_overrides():
    cfg = cfg_with("proxy=[lswag,nwot,params]", "task=imagenet16_120", "n_archs=7", "seed=3")
    assert list(cfg.proxy) == ["lswag", "nwot", "params"]
    assert cfg.benchmark.target == "ImageNet16-120" and cfg.task.resolution == 16
    assert (cfg.n_archs, cfg.seed) == (7, 3)


def test_unknown_option_lists_valid_ones():
    with pytest.raises(MissingConfigException, match="Could not find 'proxy/nope'") as err:
        cfg_with("proxy=nope")
    assert "lswag" in str(err.value.options) or "lswag" in str(err.value)


def test_in_process_run_with_stand_in_task(tmp_path):
    cfg = cfg_with("task=cifar100", "n_archs=5", "batch_size=16", "proxy=[swap,params]",
                   "tracking=none", "space.C=4", "space.N=1")
    out = score_archs(cfg, tmp_path)
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert list(scores.columns) == ["arch", "swap", "params", "cifar100"]
    assert len(scores) == 5 and scores["cifar100"].between(0, 100).all()
    truth = load_nb201().table.loc[scores["arch"], "cifar100"].to_numpy()
    np.testing.assert_allclose(scores["cifar100"].to_numpy(), truth)
    recs = json.loads((tmp_path / "correlations.json").read_text())
    assert [(r["proxy"], r["target"], r["n"]) for r in recs] == [("swap", "cifar100", 5), ("params", "cifar100", 5)]
    assert out["summary"]["n_archs"] == 5


def test_cli_error_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "zcnas.run", "n_archs=20000", "tracking=none",
                           f"hydra.run.dir={tmp_path}"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "zcnas.run: error: n_archs=20000 exceeds the 15625 archs of benchmark nb201")


def test_bad_inputs_fail_clearly(tmp_path):
    with pytest.raises(ValueError, match="n_archs=20000 exceeds the 15625 archs of benchmark nb201"):
        score_archs(cfg_with("n_archs=20000", "tracking=none"), tmp_path)
    with pytest.raises(ValueError, match="has no target 'cifar11'; valid:"):
        score_archs(cfg_with("benchmark.target=cifar11", "tracking=none"), tmp_path)
    bad = tmp_path / "configs.txt"
    bad.write_text("tampered")
    expected = json.loads((asset_path("configs.txt").parent / "MANIFEST.json").read_text())["configs.txt"]["sha256"]
    with pytest.raises(ValueError, match=f"{bad}.*expected {expected}"):
        verify_file(bad, expected)
    with pytest.raises(FileNotFoundError, match="lacks"):
        load_nb201(str(tmp_path))


def test_benchmark_path_loads_a_copy(tmp_path):
    for name in ["configs.txt", "cifar10_test_accs.npy", "cifar100_test_accs.npy", "ImageNet16-120_test_accs.npy"]:
        shutil.copy(asset_path(name), tmp_path / name)
    assert load_nb201(str(tmp_path)).table.equals(load_nb201().table)


def test_tasks_batches(tmp_path):
    x, y = Task().batch(64, 0)
    assert x.shape == (64, 3, 32, 32) and abs(float(x.mean())) < 0.3 and 0.8 < float(x.std()) < 1.2
    assert torch.equal(x, Task().batch(64, 0)[0]) and not torch.equal(x, Task().batch(64, 1)[0])
    assert len(set(y.tolist())) >= 8  # a random draw over classes, not a class-sorted block
    task16 = Task(name="ImageNet16-120", num_classes=120, resolution=16)
    assert task16.stand_in and task16.batch(8, 0)[0].shape == (8, 3, 16, 16)
    # a local CIFAR-10 in the official binary layout (written from the shipped real pixels)
    with np.load(asset_path("cifar10_test_1000.npz")) as z:
        images, labels = z["images"], z["labels"]
    rows = np.concatenate([labels[:, None].astype(np.uint8),
                           images.transpose(0, 3, 1, 2).reshape(len(images), -1)], 1)
    (tmp_path / "cifar-10-batches-bin").mkdir()
    rows.tofile(tmp_path / "cifar-10-batches-bin" / "data_batch_1.bin")
    local = Task(source="cifar_bin", root=str(tmp_path))
    assert not local.stand_in
    xb, yb = local.batch(64, 0)
    assert torch.equal(xb, x) and torch.equal(yb, y)
    with pytest.raises(FileNotFoundError, match="no CIFAR binary data under"):
        Task(source="cifar_bin", root=str(tmp_path / "nowhere")).batch(4, 0)


def test_noise_task_is_a_seeded_gaussian_control():
    """task.source=noise: about N(0, 1) after normalisation, per channel, with no spatial structure."""
    noise = Task(name="cifar100", num_classes=100, resolution=64, source="noise")
    x, y, digest = noise.probe_batch(32, 0)
    assert noise.stand_in and x.shape == (32, 3, 64, 64) and int(y.max()) < 100
    for c in range(3):  # clipping at 0 and 255 trims the tails a little
        assert abs(float(x[:, c].mean())) < 0.05 and 0.9 < float(x[:, c].std()) < 1.02
    neighbours = torch.corrcoef(torch.stack([x[..., :-1].flatten(), x[..., 1:].flatten()]))[0, 1]
    assert abs(float(neighbours)) < 0.02  # adjacent pixels independent, unlike any photo
    again = Task(name="cifar100", num_classes=100, resolution=64, source="noise").probe_batch(32, 0)
    assert torch.equal(again[0], x) and again[2] == digest != Task().probe_batch(32, 0)[2]
    assert not torch.equal(noise.batch(32, 1)[0], x)


def test_end_to_end_cli_logs_to_mlflow(tmp_path):
    """`python -m zcnas.run` in a fresh directory: contract files and real MLflow metrics."""
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "zcnas.run", "n_archs=6", "batch_size=16", "proxy=[lswag,nwot,params]",
           "space.C=8", "space.N=2", f"hydra.run.dir={run_dir}", "log_every=2"]
    env = {**os.environ, "TQDM_DISABLE": "1"}
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Spearman" in proc.stdout and "scored 6 archs" in proc.stdout + proc.stderr
    scores = pd.read_csv(run_dir / "scores.csv")
    assert len(scores) == 6 and list(scores.columns) == ["arch", "lswag", "nwot", "params", "cifar10"]
    assert (scores["lswag"] >= 0).all() and scores["params"].gt(0).all()
    recs = json.loads((run_dir / "correlations.json").read_text())
    assert {r["proxy"] for r in recs} == {"lswag", "nwot", "params"}
    summary = json.loads((run_dir / "run_summary.json").read_text())
    assert summary["n_archs"] == 6 and summary["n_computed"] == 6 and summary["seconds"] > 0
    assert (tmp_path / "mlruns.db").is_file()

    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlruns.db'}")
    runs = mlflow.search_runs(experiment_names=["zcnas"], output_format="list")
    assert len(runs) == 1
    run = runs[0]
    rec = next(r for r in recs if r["proxy"] == "lswag")
    if rec["spearman"] is not None:
        assert run.data.metrics["cifar10/spearman/lswag"] == pytest.approx(rec["spearman"])
        assert run.data.metrics["cifar10/kendall/lswag"] == pytest.approx(rec["kendall"])
    assert run.data.params["n_archs"] == "6" and run.data.tags["input_stand_in"] == "false"
    # made for comparison: an informative name, the proxy list and counts as params, no bookkeeping
    # params, and the run's own start/end time (not the moment it was logged)
    assert run.info.run_name == "nb201-cifar10-lswag+nwot+params-n6-s0"
    assert (run.data.params["proxies"], run.data.params["n_proxies"], run.data.params["n_computed"]) == (
        "lswag,nwot,params", "3", "6")
    assert not [k for k in run.data.params if k.endswith("_target_") or k.startswith(("tracking.", "cache."))
                or k == "log_every"]
    assert run.info.start_time == summary["started_ms"]
    assert run.info.end_time - run.info.start_time == pytest.approx(summary["seconds"] * 1000, abs=2)
    # the runs table `make ui` opens: a Spearman column per proxy (MLflow's shared view, an experiment tag)
    exp = mlflow.get_experiment_by_name("zcnas")
    view = json.loads(exp.tags["mlflow.sharedViewState.zcnas"])
    assert view == {"selectedColumns": [f"metrics.`cifar10/spearman/{p}`" for p in ("lswag", "nwot", "params")]}
    names = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id)}
    assert {"scores.csv", "correlations.json", "run_summary.json", "config.yaml", "plots"} <= names
    plots = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "plots")}
    assert plots == {"plots/scatter_lswag.png", "plots/scatter_nwot.png", "plots/scatter_params.png"}


def test_imagefolder_task_reads_real_images(tmp_path):
    """<root>/<class>/<image>: the shipped pixels written as PNGs (lossless) come back identical."""
    from PIL import Image

    with np.load(asset_path("cifar10_test_1000.npz")) as z:
        images, labels = z["images"][:40], z["labels"][:40]
    for i, (img, lab) in enumerate(zip(images, labels, strict=True)):
        (tmp_path / f"class{lab}").mkdir(exist_ok=True)
        Image.fromarray(img).save(tmp_path / f"class{lab}" / f"{i:03d}.png")
    task = Task(source="imagefolder", root=str(tmp_path))
    pix, lab = task.pixels()
    order = sorted(range(40), key=lambda i: (f"class{labels[i]}", f"{i:03d}"))
    assert np.array_equal(pix, images[order])
    assert sorted(set(lab.tolist())) == list(range(len(set(labels.tolist()))))
    assert task.batch(8, 0)[0].shape == (8, 3, 32, 32)
    assert Task(source="imagefolder", root=str(tmp_path), resolution=64).pixels()[0].shape == (40, 64, 64, 3)


def test_torchvision_layouts_svhn_flowers_pets(tmp_path):
    """Each local layout written in its real on-disk format (MATLAB v5 / JPEG / annotation text)."""
    from PIL import Image
    from scipy.io import savemat

    with np.load(asset_path("cifar10_test_1000.npz")) as z:
        images = z["images"][:6]
    savemat(tmp_path / "train_32x32.mat", {"X": images.transpose(1, 2, 3, 0), "y": np.array([[10], [1], [2], [3], [4], [5]])})
    pix, lab = Task(source="svhn", root=str(tmp_path)).pixels()
    assert np.array_equal(pix, images) and lab.tolist() == [0, 1, 2, 3, 4, 5]

    (tmp_path / "flowers-102" / "jpg").mkdir(parents=True)
    for i, img in enumerate(images):
        Image.fromarray(img).save(tmp_path / "flowers-102" / "jpg" / f"image_{i + 1:05d}.jpg", quality=95)
    savemat(tmp_path / "flowers-102" / "imagelabels.mat", {"labels": np.array([[1, 2, 3, 102, 5, 6]])})
    pix, lab = Task(source="flowers102", root=str(tmp_path), num_classes=102).pixels()
    assert pix.shape == (6, 32, 32, 3) and lab.tolist() == [0, 1, 2, 101, 4, 5]
    assert np.abs(pix.astype(int) - images.astype(int)).mean() < 8  # JPEG, nearly the same pixels

    pets = tmp_path / "oxford-iiit-pet"
    (pets / "images").mkdir(parents=True)
    (pets / "annotations").mkdir()
    names = ["Abyssinian_1", "beagle_2", "pug_3"]
    for name, img in zip(names, images, strict=False):
        Image.fromarray(img).resize((50, 40)).save(pets / "images" / f"{name}.jpg")
    (pets / "annotations" / "trainval.txt").write_text("Abyssinian_1 1 1 1\nbeagle_2 4 2 3\npug_3 26 2 16\n")
    pix, lab = Task(source="pets", root=str(tmp_path), num_classes=37, resolution=24).pixels()
    assert pix.shape == (3, 24, 24, 3) and lab.tolist() == [0, 3, 25]
    with pytest.raises(FileNotFoundError, match="no Oxford-IIIT Pet data under"):
        Task(source="pets", root=str(tmp_path / "x")).pixels()


def test_results_table_keeps_long_proxy_names_apart():
    """The end-of-run table widens its first column to the longest proxy name."""
    from zcnas.results import format_table

    recs = [{"proxy": p, "target": "cifar10", "spearman": 0.5, "kendall": 0.4, "n": 10, "n_nan": 0}
            for p in ("nwot", "aznas_progressivity")]
    lines = format_table(recs).splitlines()
    assert lines[2].split()[:2] == ["aznas_progressivity", "cifar10"]
    assert len({line.index("cifar10") for line in lines[1:]}) == 1


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine (the gpu marker needs one)")
def test_run_on_cuda_matches_the_cpu_ranking(tmp_path):
    """``device=cuda``: a whole run on the GPU scores the same cells as on the CPU, to float tolerance
    (cuDNN may pick TF32 / other summation orders, so the ranks, not the bits, must agree)."""
    args = ("n_archs=8", "batch_size=16", "proxy=[lswag,nwot,synflow,snip]", "tracking=none", "space.C=4", "space.N=1")
    score_archs(cfg_with(*args, "device=cpu"), tmp_path / "cpu")
    score_archs(cfg_with(*args, "device=cuda"), tmp_path / "cuda")
    cpu, gpu = (pd.read_csv(tmp_path / d / "scores.csv") for d in ("cpu", "cuda"))
    assert list(cpu["arch"]) == list(gpu["arch"])
    for p in ("lswag", "nwot", "synflow", "snip"):
        assert np.isfinite(gpu[p]).all(), p
        assert stats.spearmanr(cpu[p], gpu[p])[0] > 0.95, p


def test_archs_in_flight_give_the_same_scores(tmp_path):
    """engine.in_flight=3 (threads; CUDA streams on a GPU) scores each cell exactly as one at a time:
    inits are seeded under one lock, TE-NAS's thin copy too, and rows keep the sample order."""
    args = ("n_archs=6", "batch_size=16", "proxy=[lswag,tenas_lr,zen,nwot,snip]", "tracking=none", "space.C=4",
            "space.N=1", "cache.path=null")
    score_archs(cfg_with(*args), tmp_path / "one")
    score_archs(cfg_with(*args, "engine.in_flight=4"), tmp_path / "four")
    one, four = (pd.read_csv(tmp_path / d / "scores.csv") for d in ("one", "four"))
    pd.testing.assert_frame_equal(one, four)
    assert one[["lswag", "tenas_lr", "zen", "nwot", "snip"]].nunique().min() > 1


def test_in_order_keeps_workers_busy_past_a_slow_oldest_arch():
    """in_order queues more archs than workers: while the oldest is still running, a free worker goes on to the
    next ones (here the oldest waits for the fourth to start; with only in_flight queued it would wait forever),
    and results still come back in input order."""
    import threading

    from zcnas.engine import in_order

    fourth_started = threading.Event()

    def fn(i: int) -> tuple[int, bool]:
        if i == 3:
            fourth_started.set()
        return i, fourth_started.wait(timeout=20) if i == 0 else True

    out = list(in_order(fn, list(range(8)), in_flight=2))
    assert out == [(i, True) for i in range(8)]


@pytest.mark.parametrize("make", [lambda s: s.NB201Space(), lambda s: s.NB101Space(), lambda s: s.DartsSpace(),
                                  lambda s: s.TNB101Space(variant="micro"), lambda s: s.TNB101Space(variant="macro"),
                                  lambda s: s.AutoFormerSpace(), lambda s: s.PiTSpace()],
                         ids=["nb201", "nb101", "darts", "tnb101_micro", "tnb101_macro", "autoformer", "pit"])
def test_samples_are_nested(make):
    """The same seed: the first k archs of a sample of k + m are the sample of k, so a study grows and reuses
    every cached score (spaces and benchmark tables alike)."""
    import numpy as np

    from zcnas import spaces
    from zcnas.data.benchmarks import load_nb201

    sp = make(spaces)
    small, big = sp.sample(7, np.random.default_rng(3)), sp.sample(25, np.random.default_rng(3))
    assert [sp.encode(a) for a in big[:7]] == [sp.encode(a) for a in small] and len(set(map(sp.encode, big))) == 25
    bench = load_nb201()
    assert bench.sample(300, np.random.default_rng(1))[:40] == bench.sample(40, np.random.default_rng(1))


def test_shared_view_columns_grow_with_each_run_and_replace_what_is_not_a_view(tmp_path):
    from mlflow import MlflowClient

    from zcnas.tracking import VIEW, MlflowTracker

    tracker = MlflowTracker(f"sqlite:///{tmp_path / 'm.db'}", "e")
    exp_id = tracker.experiment_id()
    client = MlflowClient(tracker.uri)
    assert json.loads(client.get_experiment(exp_id).tags[VIEW]) == {"selectedColumns": []}
    tracker.share_view(exp_id, {"c10/spearman/b": 1, "c10/kendall/b": 1, "c10/spearman_std/b": 1, "s/c10/spearman/a": 1})
    tracker.share_view(exp_id, ["c100/spearman/a", "c10/spearman/b"])
    assert json.loads(client.get_experiment(exp_id).tags[VIEW])["selectedColumns"] == [
        "metrics.`c10/spearman/b`", "metrics.`c100/spearman/a`"]  # sorted; kendall, std, prefixed keys not
    client.set_experiment_tag(exp_id, VIEW, "not json")
    tracker.share_view(exp_id, ["c10/spearman/z"])
    assert json.loads(client.get_experiment(exp_id).tags[VIEW])["selectedColumns"] == ["metrics.`c10/spearman/z`"]


def test_a_run_without_ground_truth_prints_and_logs_its_scores(tmp_path):
    """space=timm (scores only): the printed table is the scores, and MLflow has score/<proxy>/<arch>."""
    proc = subprocess.run([sys.executable, "-m", "zcnas.run", "space=timm", "space.models=[test_resnet,test_vit]",
                           "proxy=[nwot,params]", "batch_size=8", "hydra.run.dir=run"], cwd=tmp_path,
                          env={**os.environ, "TQDM_DISABLE": "1"}, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    scores = pd.read_csv(tmp_path / "run" / "scores.csv").set_index("arch")
    lines = proc.stdout[proc.stdout.index("arch "):].splitlines()
    assert lines[0].split() == ["arch", "nwot", "params"] and lines[3] == "(no ground truth: scores only)"
    assert [ln.split()[0] for ln in lines[1:3]] == ["test_resnet", "test_vit"]
    assert float(lines[1].split()[1]) == pytest.approx(scores.loc["test_resnet", "nwot"], rel=1e-4)
    import mlflow

    (run,) = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlruns.db'}").search_runs(["1"])
    assert {k: v for k, v in run.data.metrics.items() if k.startswith("score/")} == {
        f"score/{p}/{a}": scores.loc[a, p] for p in ("nwot", "params") for a in ("test_resnet", "test_vit")}


def test_the_window_a_run_used_and_where_it_came_from(tmp_path):
    """run_summary.json, the printed results and the MLflow tags say L-SWAG's window and its source: the shipped
    file, yours from zcnas.calibrate (it wins), the command line, or none (the whole network, with a warning)."""
    from zcnas.plan import window_used

    env = {**os.environ, "TQDM_DISABLE": "1", "ZCNAS_CONFIG_DIR": str(tmp_path / "mine")}
    tiny = ["space.C=4", "space.N=1", "batch_size=8", "n_archs=2", "tracking=none"]

    def run(name: str, *args: str) -> tuple[dict, str]:
        proc = subprocess.run([sys.executable, "-m", "zcnas.run", *tiny, *args, f"hydra.run.dir={name}"], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
        summary = json.loads((tmp_path / name / "run_summary.json").read_text())
        assert summary["mlflow"]["tags"]["window"] == "[{lo}, {hi}] {source}".format(**summary["window"])
        return summary["window"], proc.stdout

    window, out = run("shipped")
    assert window == {"lo": 0, "hi": 6, "source": "shipped conf/window/nb201_cifar10.yaml"}
    assert "L-SWAG window [0, 6]: shipped conf/window/nb201_cifar10.yaml" in out
    assert run("cli", "proxy.lswag.hi=4")[0] == {"lo": 0, "hi": 4, "source": "command line"}
    (tmp_path / "mine" / "calibrated").mkdir(parents=True)
    (tmp_path / "mine" / "calibrated" / "nb201_cifar10.yaml").write_text("lo: 2\nhi: 5\n")
    assert run("mine")[0] == {"lo": 2, "hi": 5,
                              "source": f"calibrated {tmp_path / 'mine' / 'calibrated' / 'nb201_cifar10.yaml'}"}
    # TNB101: the target's own file, not the pair's dispatcher; a pair without any window: the default
    micro = cfg_with("space=tnb101_micro", "benchmark.target=jigsaw", "proxy=lswag")
    choices = {"window": "tnb101_micro_tnb101", "window@window.jigsaw": "tnb101_micro_jigsaw",
               "window@window.autoencoder": "tnb101_micro_autoencoder", "calibrated@window": "tnb101_micro_tnb101"}
    assert window_used(micro, choices)["source"] == "shipped conf/window/tnb101_micro_jigsaw.yaml"
    assert window_used(cfg_with("space=darts", "benchmark=nb301", "task=cifar100"),
                       {"window": "darts_cifar100"}) == {"lo": 0, "hi": 10, "source": "default"}
    assert window_used(cfg_with("proxy=nwot"), {"window": "nb201_cifar10"}) is None
