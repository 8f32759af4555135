"""The headline grid's foundations: the saturation guard of pattern counts, the per-arch decile record
(every L-SWAG window from one probe), fixed arch lists (``archs_from``) and grid.py's resumable, locked
chunks of ``--protocol headline``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from hydra import compose, initialize_config_dir

from zcnas.data.tasks import TNB101Task
from zcnas.deciles import window_scores
from zcnas.probe import Probe
from zcnas.proxies import saturated, score
from zcnas.run import score_archs
from zcnas.spaces import TNB101Space

from .conftest import ROOT
from .test_benchmark_grid import grid

TINY = ["space.C=4", "space.N=1", "tracking=none", "cache.path=null", "threads=1"]


def cfg_with(*overrides: str):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def test_tnb101_probes_at_batch_32():
    for variant in ("micro", "macro"):
        assert cfg_with(f"space=tnb101_{variant}", "benchmark.target=autoencoder").batch_size == 32


def test_pattern_count_saturates_at_two_to_the_batch_on_a_tnb101_network(one_thread):
    """Millions of units and 4 samples: every one of the 2^4 patterns occurs, so swap = 16 on any network and
    the guard flags it; at the grid's batch 32 the count is far below min(#units, 2^32): no flag."""
    space, task = TNB101Space("micro", "jigsaw"), TNB101Task(name="jigsaw")
    for batch, flag in ((4, 1.0), (32, 0.0)):
        x, y, _ = task.probe_batch(batch, 0)
        torch.manual_seed(0)
        probe = Probe(space.build(space.decode("(2, 3, 2, 1, 2, 0)"), num_classes=task.num_classes), x, y,
                      loss_fn=task.loss)
        count = score(probe, {"swap": {}})["swap"]
        assert saturated(probe, {"swap": {}, "reg_swap": {}, "lswag": {}, "nwot": {}}) == {
            "swap": flag, "reg_swap": flag, "lswag": flag}  # nwot counts no patterns: never flagged
        assert (count == 16) if flag else (1e5 < count < 2 ** 32)


def test_run_reports_saturated_archs_and_the_fix(tmp_path, caplog):
    """Batch 4 on NB201 cells: Ψ and SWAP sit at 2^4 on every arch; run_summary counts them per proxy,
    correlations.json carries n_saturated, a warning names the fix. At batch 64: zero everywhere."""
    out = {}
    for batch in (4, 64):
        cfg = cfg_with(*TINY, "proxy=[swap,lswag,nwot]", "proxy.lswag.hi=10", "n_archs=6", f"batch_size={batch}")
        score_archs(cfg, tmp_path / str(batch))
        out[batch] = (json.loads((tmp_path / str(batch) / "run_summary.json").read_text()),
                      json.loads((tmp_path / str(batch) / "correlations.json").read_text()),
                      pd.read_csv(tmp_path / str(batch) / "probe_record.csv"))
    summary, corr, record = out[4]
    swap = pd.read_csv(tmp_path / "4" / "scores.csv").swap
    assert record["saturated:swap"].tolist() == (swap == 16).astype(float).tolist()  # 2^4: the ceiling
    n = int((swap == 16).sum())
    assert n >= 4 and summary["saturated"] == {"swap": n, "lswag": n}  # Ψ over the whole net (hi=10) = swap
    assert {r["proxy"]: r.get("n_saturated") for r in corr} == {"swap": n, "lswag": n, "nwot": None}
    assert "reached the pattern-count ceiling" in caplog.text and "raise batch_size" in caplog.text
    summary, corr, record = out[64]
    assert summary["saturated"] == {"swap": 0, "lswag": 0} and record["saturated:swap"].sum() == 0


@pytest.mark.parametrize("space", [["space=nb201", *TINY[:2]], ["space=nb101", "space.stem=8", "space.stacks=1",
                                                                  "space.cells=1", "benchmark.target=cifar10"]])
def test_decile_record_gives_every_window_of_the_run_itself(space, tmp_path):
    """Table 3 and the window sweep from the main run's probe: Σ lam[lo..hi] · psi[hi] (and Σ lam alone)
    from probe_record.csv equal the run's own lswag / lswag_lambda scores, and a cached rerun writes the
    same record without probing."""
    base = [*space, *TINY[2:], "n_archs=4", "batch_size=16", "record_deciles=true"]
    for lo, hi in ((0, 10), (3, 7)):
        cfg = cfg_with(*base, "proxy=[lswag,lswag_lambda]", f"proxy.lswag.lo={lo}", f"proxy.lswag.hi={hi}",
                       f"proxy.lswag_lambda.lo={lo}", f"proxy.lswag_lambda.hi={hi}")
        run_dir = tmp_path / f"{lo}_{hi}"
        score_archs(cfg, run_dir)
        scores, rec = pd.read_csv(run_dir / "scores.csv"), pd.read_csv(run_dir / "probe_record.csv")
        assert rec.arch.tolist() == scores.arch.tolist()
        lswag, lam = window_scores(rec, lo, hi)
        np.testing.assert_allclose(lswag, scores.lswag, rtol=1e-12)
        np.testing.assert_allclose(lam, scores.lswag_lambda, rtol=1e-12)
        assert (scores.lswag >= 0).all() and (scores.lswag > 0).sum() >= 3  # 0: a cell cut off by none edges
    cached = cfg_with(*base, "proxy=[lswag,lswag_lambda]", "cache.path=cache.db")
    score_archs(cached, tmp_path / "a")
    score_archs(cached, tmp_path / "b")
    assert json.loads((tmp_path / "b" / "run_summary.json").read_text())["n_cached"] == 4
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "a" / "probe_record.csv"),
                                  pd.read_csv(tmp_path / "b" / "probe_record.csv"))


def test_decile_record_is_nan_guarded(tiny_nb201, batch16):
    """A layer without any nonzero σ adds 0 to its decile's Λ (as lswag_lambda does), never NaN."""
    from zcnas.deciles import decile_profile

    net = tiny_nb201.build(tiny_nb201.decode("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"))
    rec = decile_profile(Probe(net, *batch16), n_splits=2, accumulate=False, bins=10)
    assert np.isfinite(rec["lam"]).all()


def test_archs_from_scores_exactly_the_listed_archs(tmp_path):
    cells = ["|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|",
             "|skip_connect~0|+|nor_conv_3x3~0|none~1|+|avg_pool_3x3~0|nor_conv_3x3~1|skip_connect~2|",
             "|nor_conv_1x1~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|nor_conv_3x3~2|"]
    (tmp_path / "cells.txt").write_text("# three cells\n" + "\n".join(cells) + "\n")
    score_archs(cfg_with(*TINY, "proxy=params", f"archs_from={tmp_path / 'cells.txt'}", "shard.count=2",
                         "shard.index=1"), tmp_path / "run")
    assert pd.read_csv(tmp_path / "run" / "scores.csv").arch.tolist() == cells[1::2]


@pytest.mark.parametrize("text,why", [("", "lists no arch"), ("a\na\n", "listed 2 times"),
                                      ("|nor_conv_3x3~0|+|x~0|y~1|+|z~0|w~1|v~2|\n", "not in benchmark")])
def test_archs_from_bad_lists_are_one_line_errors(tmp_path, text, why):
    (tmp_path / "cells.txt").write_text(text)
    r = subprocess.run([sys.executable, "-m", "zcnas.run", *TINY, "proxy=params", f"archs_from={tmp_path / 'cells.txt'}",
                        f"hydra.run.dir={tmp_path / 'run'}"], capture_output=True, text=True)
    assert r.returncode != 0 and why in r.stderr and "Traceback" not in r.stderr


@pytest.fixture
def tiny_protocol(monkeypatch):
    """A 2-chunk protocol on 4 NB201 cells (the grid's own code path, tiny networks)."""
    monkeypatch.setitem(grid.PROTOCOLS, "tiny", grid.Protocol({"nb201_c10": grid.Column(4, (0,), 2)}, ["lswag", "swap", "params"]))
    return ["space.C=4", "space.N=1", "batch_size=16"]


def test_headline_protocol_is_the_issue_s_protocol():
    table, proxies, extends = grid.PROTOCOLS["headline"]
    assert extends is None and {c: (v.n, v.seeds) for c, v in table.items()} == {
        **dict.fromkeys(["nb201_c10", "nb201_c100", "nb201_in16"], (500, (0, 1, 2))),
        **dict.fromkeys(["nb101", "nb301"], (200, (0, 1))),
        **dict.fromkeys(["micro_ae", "micro_jig", "macro_ae", "macro_jig"], (100, (0, 1)))}
    assert set(proxies) == {"lswag", "lswag_lambda", "zico", "nwot", "swap", "reg_swap", "jacov", "params", "flops"}
    assert len(grid.plan("headline")) == sum(len(v.seeds) * v.chunks for v in table.values())


def test_committed_headline_cells_are_fixed():
    """The committed cell lists are the protocol's: their sizes, and seed 0's NB201 cells are what
    ``zcnas.run seed=0 n_archs=500`` drew when they were fixed."""
    out = ROOT / "experiments" / "benchmark_grid" / "results" / "headline"
    for col, c in grid.PROTOCOLS["headline"].table.items():
        for seed in c.seeds:
            lines = [ln for ln in (out / "cells" / f"{col}_seed{seed}.txt").read_text().splitlines() if not ln.startswith("#")]
            assert len(lines) == len(set(lines)) == c.n, (col, seed)
    first = (out / "cells" / "nb201_c10_seed0.txt").read_text().splitlines()[1]
    assert first == "|nor_conv_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|nor_conv_3x3~0|nor_conv_1x1~1|nor_conv_1x1~2|"


def test_grid_chunks_resume_detect_torn_files_and_respect_locks(tiny_protocol, tmp_path, capsys):
    out, py = tmp_path / "grid", sys.executable
    done = grid.run_protocol(out, "tiny", python=py, columns=None, extra=tiny_protocol)
    assert done == ["nb201_c10/seed0_chunk0of2", "nb201_c10/seed0_chunk1of2"]
    chunk = out / "nb201_c10" / "seed0_chunk1of2"
    assert sorted(p.name for p in chunk.iterdir()) == sorted(grid.CHUNK_FILES)
    assert len(pd.read_csv(chunk / "scores.csv")) == 2 and "lam_3" in pd.read_csv(chunk / "probe_record.csv")
    assert grid.run_protocol(out, "tiny", python=py, columns=None, extra=tiny_protocol) == []  # nothing twice
    scores = (chunk / "scores.csv").read_text()
    (chunk / "scores.csv").write_text(scores[: len(scores) - 7])  # torn by a kill mid-write
    assert not grid.chunk_complete(chunk, 2)
    lock = out / ".work" / "nb201_c10_seed0_chunk1of2.lock"  # another live process holds it: skipped
    lock.write_text(f"{os.uname().nodename} {os.getppid()}")
    assert grid.run_protocol(out, "tiny", python=py, columns=None, extra=tiny_protocol) == []
    lock.write_text(f"{os.uname().nodename} 999999999")  # a dead process's lock: taken over
    assert grid.run_protocol(out, "tiny", python=py, columns=None, extra=tiny_protocol) == ["nb201_c10/seed0_chunk1of2"]
    assert (chunk / "scores.csv").read_text() == scores and not lock.exists()


def test_cifar14_extends_the_headline_on_its_cells():
    """Part 7: Fig. 3's other five proxies on the five CIFAR columns, on the headline's cells and seeds."""
    table, proxies, extends = grid.PROTOCOLS["cifar14"]
    head = grid.PROTOCOLS["headline"]
    assert extends == "headline" and sorted(proxies + head.proxies) == sorted(grid.PROXIES) and len(grid.PROXIES) == 14
    assert set(table) == {"nb201_c10", "nb201_c100", "nb201_in16", "nb101", "nb301"}
    assert all((c.n, c.seeds) == (head.table[k].n, head.table[k].seeds) for k, c in table.items())


def test_an_extending_protocol_copies_the_cells_and_is_analysed_joined(tiny_protocol, monkeypatch, tmp_path):
    """A protocol extending another scores only its own proxies on the other's committed cell lists (copied byte
    for byte; missing ones are a one-line error) and analyse.py joins both per arch: the 14-proxy table."""
    from .test_benchmark_grid import analyse

    monkeypatch.setitem(grid.PROTOCOLS, "tiny_more", grid.Protocol({"nb201_c10": grid.Column(4, (0,), 1)},
                                                                    ["synflow", "meco"], extends="tiny"))
    py = sys.executable
    with pytest.raises(ValueError, match="extends 'tiny', whose cell lists must be there first"):
        grid.run_protocol(tmp_path / "tiny_more", "tiny_more", python=py, columns=None, extra=tiny_protocol)
    grid.run_protocol(tmp_path / "tiny", "tiny", python=py, columns=None, extra=tiny_protocol)
    shutil.rmtree(tmp_path / "tiny_more")
    assert grid.run_protocol(tmp_path / "tiny_more", "tiny_more", python=py, columns=None,
                             extra=tiny_protocol) == ["nb201_c10/seed0_chunk0of1"]
    cells = "cells/nb201_c10_seed0.txt"
    assert (tmp_path / "tiny_more" / cells).read_bytes() == (tmp_path / "tiny" / cells).read_bytes()
    chunk = tmp_path / "tiny_more" / "nb201_c10" / "seed0_chunk0of1"
    assert sorted(p.name for p in chunk.iterdir()) == sorted(grid.chunk_files(["synflow"]))
    assert "probe_record.csv" not in grid.chunk_files(["synflow"])
    assert "record_deciles: false" in (chunk / "config.yaml").read_text()
    joined = analyse._chunks(tmp_path / "tiny_more")["nb201_c10"][0]
    own = pd.concat([pd.read_csv(d / "scores.csv") for d in (tmp_path / "tiny" / "nb201_c10").iterdir()])
    assert sorted(joined.arch) == sorted(own.arch) and {"lswag", "swap", "synflow", "meco", "lam_3"} <= set(joined.columns)
    ext = pd.read_csv(chunk / "scores.csv").set_index("arch")
    np.testing.assert_array_equal(joined.set_index("arch").loc[ext.index, ["synflow", "meco"]], ext[["synflow", "meco"]])
    assert analyse._protocol_proxies(tmp_path / "tiny_more") == ["lswag", "swap", "params", "synflow", "meco"]


def test_grid_protocol_bad_input_is_one_line(tiny_protocol, tmp_path):
    run = [sys.executable, str(ROOT / "experiments" / "benchmark_grid" / "grid.py")]
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "protocol.json").write_text(json.dumps({"protocol": "full"}))
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    for args, why in ((["--protocol", "nope"], "invalid choice"),
                      (["--protocol", "headline", "--columns", "nb999", "--dry-run"], "unknown column"),
                      (["--protocol", "headline", "--out", str(tmp_path / "other")], "holds protocol 'full'"),
                      (["--protocol", "headline", "--out", str(tmp_path / "foreign")], "no protocol.json")):
        r = subprocess.run([*run, "--out", str(tmp_path / "x"), *args] if "--out" not in args else [*run, *args],
                           capture_output=True, text=True)
        assert r.returncode != 0 and why in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
    assert (tmp_path / "foreign" / "notes.txt").read_text() == "mine" and len(list((tmp_path / "foreign").iterdir())) == 1


def _chunk(root, col, seed, k, K, frame, target, lo_hi=(0, 10)):
    d = root / col / f"seed{seed}_chunk{k}of{K}"
    d.mkdir(parents=True)
    part = frame.iloc[k::K]
    part[[c for c in part.columns if not c.startswith(("lam_", "psi_", "log_sigma_", "saturated:"))]].to_csv(
        d / "scores.csv", index=False)
    part[["arch", *[c for c in part.columns if c.startswith(("saturated:", "lam_", "psi_", "log_sigma_"))]]].to_csv(
        d / "probe_record.csv", index=False)
    (d / "run_summary.json").write_text(json.dumps({"n_archs": len(part), "cost": {"cpu_hours": 0.01 * len(part)}}))
    (d / "config.yaml").write_text(f"proxy:\n  lswag:\n    lo: {lo_hi[0]}\n    hi: {lo_hi[1]}\n")
    (d / "correlations.json").write_text("[]")


def test_headline_analysis_on_a_grid_of_known_correlations(tmp_path):
    """Two columns x two seeds, 60 cells: lswag ranks perfectly, nwot is the truth reversed on one column;
    Table 3's full-window rows come from the decile record (Σ lam · psi_10), the windowed rows from the scores."""
    from .test_benchmark_grid import analyse

    root = tmp_path / "grid"
    root.mkdir()
    (root / "protocol.json").write_text(json.dumps({"protocol": "headline", "proxies": ["lswag", "lswag_lambda", "nwot"],
                                                    "columns": {"nb201_c10": {"n": 60, "seeds": [0, 1]},
                                                                "nb101": {"n": 60, "seeds": [0, 1]}}}))
    rng = np.random.default_rng(0)
    for col, target in (("nb201_c10", "cifar10"), ("nb101", "cifar10")):
        for seed in (0, 1):
            y = rng.permutation(60).astype(float)
            f = pd.DataFrame({"arch": [f"{col}{seed}_{i}" for i in range(60)], "lswag": y, "lswag_lambda": y + 0.5,
                              "nwot": -y if col == "nb101" else y, target: y})
            for d in range(11):  # full-window Λ = Σ lam = -y (reversed), Ψ_10 = 1: "no µ" rows read -1
                f[f"lam_{d}"], f[f"psi_{d}"], f[f"log_sigma_{d}"] = -y / 11, 1.0, -5.0
            f["saturated:lswag"] = 0.0
            _chunk(root, col, seed, 0, 2, f, target)
            _chunk(root, col, seed, 1, 2, f, target)
    t = analyse.headline(root, tmp_path / "out")
    rho = t["rho"].set_index(["column", "proxy"])
    assert rho.loc[("nb201_c10", "lswag"), ["rho", "lo", "hi", "n", "seeds"]].tolist() == pytest.approx([1, 1, 1, 120, 2])
    assert rho.loc[("nb101", "nwot"), "rho"] == pytest.approx(-1.0)
    assert rho.loc[("nb101", "lswag@full"), "rho"] == pytest.approx(-1.0)
    fig4 = t["fig4"].set_index(["a", "b"])
    assert fig4.loc[("lswag", "nwot"), ["mean_a", "mean_b", "diff", "columns", "a_wins"]].tolist() == pytest.approx([1, 0, 1, 2, 1])
    t3 = t["table3"].set_index(["row", "column"])
    assert t3.loc[("no µ", "nb201_c10"), "ours"] == pytest.approx(-1.0)
    assert t3.loc[("no µ + L̂ + Ψ (L-SWAG)", "nb201_c10"), ["ours", "paper"]].tolist() == pytest.approx([1.0, 0.79])
    assert t["saturation"].loc["lswag"].tolist() == [0, 0]
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| lswag | nwot | 2 | 1.000 | 0.000 | 1.000 |" in report
    again = analyse.headline(root, tmp_path / "out2")  # the same chunks give the same bytes
    assert (tmp_path / "out2" / "report.md").read_text() == report and again["rho"].equals(t["rho"])


@pytest.mark.slow
def test_committed_headline_analysis_is_reproduced_byte_for_byte(tmp_path):
    """analyse.py on the committed chunks gives the committed tables again, byte for byte."""
    from .test_benchmark_grid import analyse

    grid = ROOT / "experiments" / "benchmark_grid" / "results" / "headline"
    analyse.headline(grid, tmp_path)
    for name in ("report.md", "rho.csv", "heatmap.csv", "fig4.csv", "table3.csv", "suite_zero.csv", "window_sweep.csv",
                 "libra_table1.csv"):
        assert (tmp_path / name).read_bytes() == (grid / name).read_bytes(), name


def test_combiner_from_applies_a_selection_fitted_elsewhere(tmp_path):
    """combiner.from=<combiner.json>: no fitting; the saved triplet, directions and merge applied to this run's
    scores, its ρ reported beside the single proxies; a proxy it needs and the run lacks: one line, before scoring."""
    from zcnas.combiners.rank import merge
    from zcnas.metrics import correlate

    saved = {"format": "zcnas-combiner", "version": 1, "combiner": "libra", "selected": ["nwot", "params", "swap"],
             "directions": {"nwot": 1, "params": 1, "swap": -1}, "merge": "log_rank", "normalisation": "rank",
             "rho": {"nwot": 0.8, "params": 0.7, "swap": -0.1}, "fitted_on": {"benchmark": "suite_zero_nb101", "n": 500}}
    (tmp_path / "combiner.json").write_text(json.dumps(saved))
    run = tmp_path / "run"
    out = score_archs(cfg_with(*TINY, "proxy=[nwot,params,swap]", "n_archs=12", f"combiner.from={tmp_path / 'combiner.json'}"), run)
    rec = next(r for r in out["correlations"] if r["proxy"] == "libra.transferred")
    table = pd.read_csv(run / "scores.csv")
    pred = merge(pd.DataFrame({"nwot": table.nwot, "params": table.params, "swap": -table.swap}), "log_rank")
    assert rec["n"] == 12 and rec["spearman"] == pytest.approx(correlate(pred, table.cifar10.to_numpy())["spearman"])
    assert out["summary"]["mlflow"]["tags"]["combiner_from_benchmark"] == "suite_zero_nb101"
    r = subprocess.run([sys.executable, "-m", "zcnas.run", *TINY, "proxy=[nwot,params]", "n_archs=4",
                        f"combiner.from={tmp_path / 'combiner.json'}", f"hydra.run.dir={tmp_path / 'r2'}"],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "does not compute swap" in r.stderr.strip().splitlines()[-1]
    assert len((tmp_path / "r2" / "scores.csv").read_text().splitlines()) == 1  # the header: no arch scored


@pytest.mark.parametrize("col", ["nb201_c10", pytest.param("nb101", marks=pytest.mark.slow),
                                 pytest.param("micro_jig", marks=pytest.mark.slow)])
def test_today_s_code_rescores_committed_headline_archs_bit_for_bit(col, tmp_path):
    """Probe speed-ups are exact: 2 archs of a committed headline chunk (scored by the code of that commit),
    rescored now with the grid's own command, give the same bits in scores.csv and probe_record.csv."""
    chunk = sorted((ROOT / "experiments" / "benchmark_grid" / "results" / "headline" / col).glob("seed0_chunk*"))[0]
    scores, record = (pd.read_csv(chunk / f, dtype={"arch": str}).set_index("arch").head(2)
                      for f in ("scores.csv", "probe_record.csv"))
    (tmp_path / "archs.txt").write_text("\n".join(scores.index) + "\n")
    r = subprocess.run([sys.executable, "-m", "zcnas.run", *grid.COLUMNS[col][0], f"proxy=[{','.join(grid.HEADLINE_PROXIES)}]",
                        "archs_from=archs.txt", "seed=0", "record_deciles=true", "cache.path=null", "tracking=none",
                        "threads=1", "hydra.run.dir=run"], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                       env={**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-2000:]
    for name, before in (("scores.csv", scores), ("probe_record.csv", record)):
        now = pd.read_csv(tmp_path / "run" / name, dtype={"arch": str}).set_index("arch").loc[before.index]
        pd.testing.assert_frame_equal(now[before.columns], before, check_exact=True, obj=name)
