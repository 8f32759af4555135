"""search=prune: supernets (weights shared across pruning steps, #params of the found cell), the TE-NAS
pruning rule on a known fitness, kill-and-resume, the CLI and its bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from hydra import compose, initialize_config_dir

from zcnas.run import score_archs
from zcnas.search import History
from zcnas.search.prune import planned_evaluations, prune, spaces_with_supernet
from zcnas.spaces import AutoFormerSpace, DartsSpace, NB201Space
from zcnas.spaces.supernet import Supernet

from .conftest import ROOT

NB = NB201Space(C=4, N=1)
DA = DartsSpace(C=4, layers=3)


class Killed(Exception):
    pass


SIZE = {"nor_conv_3x3": 9, "nor_conv_1x1": 1, "sep_conv_5x5": 4, "sep_conv_3x3": 3, "dil_conv_5x5": 2,
        "dil_conv_3x3": 1.5, "skip_connect": 0.5}


def n_params(space, kill_after: int | None = None, calls: list | None = None):
    """Evaluate without building: a known fitness from the key alone (the ops' #params per channel, NB201
    skip/pool 0; DARTS skip 0.5 as its stride-2 form has weights), killed after ``kill_after`` calls."""
    calls = [] if calls is None else calls

    def evaluate(nets):
        out = []
        for n in nets:
            if kill_after is not None and len(calls) >= kill_after:
                raise Killed
            calls.append(n)
            ops = [op for cell in n.cells for e in cell for op in e]
            out.append({"params": float(sum(SIZE.get(op, 0) for op in ops if space.name == "darts" or op != "skip_connect"))})
        return out

    return evaluate


def by_params(t: pd.DataFrame) -> np.ndarray:
    return t["params"].to_numpy(float)


def test_supernet_shares_weights_and_keys_round_trip():
    start = NB.supernet_start(3)
    assert Supernet.parse(NB.encode(start)) == start and start.cells[0][0] == ("skip_connect", "nor_conv_1x1",
                                                                             "nor_conv_3x3", "avg_pool_3x3")
    full, pruned = NB.build(start).state_dict(), NB.build(start.without(0, 4, "nor_conv_1x1")).state_dict()
    assert set(pruned) < set(full) and all(torch.equal(full[k], pruned[k]) for k in pruned)
    other_seed = NB.build(Supernet("nb201", start.cells, 4)).state_dict()
    assert not all(torch.equal(full[k], other_seed[k]) for k in full)
    d = DA.supernet_start(0)
    a, b = DA.build(d).state_dict(), DA.build(d.without(1, 13, None)).state_dict()
    assert set(b) < set(a) and all(torch.equal(a[k], b[k]) for k in b)
    # the mixed op is the mean of its ops: an edge of two identical ops equals that op alone
    x = torch.randn(2, 3, 32, 32)
    one = NB.supernet_start(0)
    for e in range(6):
        one = one.without(0, e, "nor_conv_1x1").without(0, e, "nor_conv_3x3").without(0, e, "avg_pool_3x3")
    torch.manual_seed(0)
    net = NB.build(one).eval()
    ref = NB.build(NB.supernet_arch(one)).eval()
    ref.load_state_dict(net.state_dict())  # all-skip cells: the same parameter names and shapes
    assert torch.allclose(net(x), ref(x))


def test_prune_nb201_keeps_the_fitness_best_op():
    """Fitness = the ops' #params: each round removes the lightest op per edge (ties: first), so 3x3 convs win;
    24 + 18 + 12 supernets are scored (TE-NAS: one op per edge a round)."""
    calls: list = []
    hist, net, _ = prune(NB, n_params(NB, calls=calls), by_params, seed=0)
    assert NB.encode(NB.supernet_arch(net)) == "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+" \
                                               "|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    assert [sum(r["generation"] == g for r in hist.rows) for g in range(3)] == [24, 18, 12]
    assert len(calls) == 54 == planned_evaluations(NB201Space) - 1
    assert {r["removed"].split("/")[2] for r in hist.rows if r["generation"] == 0} == {
        "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"}
    # global scope: one removal per round, 18 rounds, same end under this fitness
    hist_g, net_g, _ = prune(NB, n_params(NB), by_params, seed=0, scope="global")
    assert hist_g.generation == 18 and net_g == net


def test_prune_darts_keeps_two_inputs_per_node():
    hist, net, _ = prune(DA, n_params(DA), by_params, seed=0)
    arch = DA.supernet_arch(net)
    for cell in (arch.normal, arch.reduce):
        assert {op for op, _ in cell} == {"sep_conv_5x5"}  # the heaviest op
        # equal fitness on every edge of a node: ties drop the first edges, the last two inputs stay
        assert [i for _, i in cell] == [0, 1, 1, 2, 2, 3, 3, 4]
    assert hist.generation == 6 + 1  # 6 op rounds (7 -> 1 ops), 1 node round
    assert len(hist.rows) == planned_evaluations(DartsSpace) - 1 == 28 * 27 + 24
    assert sum(r["generation"] == 6 for r in hist.rows) == 2 * (3 + 4 + 5)
    with torch.device("meta"):
        got = sum(p.numel() for p in DA.build(net).parameters())
    assert got == DA.param_count(arch)  # the pruned supernet is exactly the found network


def test_prune_number_removes_several_ops_per_edge_a_round():
    """TE-NAS on DARTS CIFAR-10 (prune_number 3): 7 -> 4 -> 1 ops per edge in two rounds, the same pick
    as one removal a round under this fitness; a prune_number above the ops left keeps one op."""
    hist, net, _ = prune(DA, n_params(DA), by_params, seed=0, prune_number=3)
    one = prune(DA, n_params(DA), by_params, seed=0)[1]
    assert DA.supernet_arch(net) == DA.supernet_arch(one) and hist.generation == 2 + 1
    assert [sum(r["generation"] == g for r in hist.rows) for g in range(3)] == [28 * 7, 28 * 4, 2 * (3 + 4 + 5)]
    assert len(hist.rows) == planned_evaluations(DartsSpace, 1, "edge", 3) - 1 == 28 * 11 + 24
    big = prune(NB, n_params(NB), by_params, seed=0, prune_number=10)[0]
    assert big.generation == 1 and len(big.rows) == planned_evaluations(type(NB), 1, "edge", 10) - 1 == 6 * 4
    with pytest.raises(ValueError, match=r"search.prune_number=0 must be an integer >= 1"):
        prune(NB, n_params(NB), by_params, prune_number=0)


def test_prune_kill_and_resume_equals_uninterrupted(tmp_path):
    ckpt = tmp_path / "search_history.json"
    full, net, _ = prune(NB, n_params(NB), by_params, seed=0, repeat=2)
    with pytest.raises(Killed):  # in the middle of round 2
        prune(NB, n_params(NB, kill_after=2 * 24 + 5), by_params, seed=0, repeat=2, checkpoint=ckpt)
    assert History.load(ckpt).generation == 1
    calls: list = []
    resumed, net2, _ = prune(NB, n_params(NB, calls=calls), by_params, seed=0, repeat=2, checkpoint=ckpt)
    assert resumed.rows == full.rows and net2 == net and len(calls) == 2 * (18 + 12)
    with pytest.raises(ValueError, match="does not match the pruning"):
        prune(NB, n_params(NB), by_params, seed=0, repeat=1, checkpoint=ckpt)


def test_prune_needs_a_supernet():
    assert spaces_with_supernet() == ["darts", "nb201"]
    with pytest.raises(ValueError, match=r"autoformer has none\. Spaces with one: darts, nb201"):
        prune(AutoFormerSpace("tiny"), n_params(NB), by_params)


def compose_run(*overrides: str, small: tuple[str, ...] = ("space.C=2", "space.N=1")):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=[*small, "batch_size=4", "tracking=none", "cache.path=null",
                                                        *overrides])


def test_cli_prune_selects_a_benchmark_cell(tmp_path, capsys):
    cfg = compose_run("search=prune", "search.fitness=params", "proxy=[params]")
    score_archs(cfg, tmp_path)
    out = capsys.readouterr().out  # one line instead of NaN correlation rows: the supernets have no labels
    assert ("no correlations: 1 of the 55 networks this search=prune run scored have a benchmark label (pruning "
            "scores supernets, which no benchmark labels)") in out and "proxy " not in out
    assert "selected |nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+" in out and "accuracy {'cifar10': 93.56" in out
    sel = json.loads((tmp_path / "selected_arch.json").read_text())
    assert sel["arch"] == "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    assert sel["n_evaluated"] == 55 and sel["accuracy"]["cifar10"] == pytest.approx(93.56, abs=0.01)
    assert json.loads((tmp_path / "search_history.json").read_text())["generation"] == 3
    bad = compose_run("search=prune", "search.fitness=params", "proxy=[params]", "space=autoformer", small=())
    with pytest.raises(ValueError, match="search=prune needs a space with a supernet"):
        score_archs(bad, tmp_path / "bad")


@pytest.mark.slow
def test_cli_issue_command(tmp_path):
    """The issue's command (small network): L-SWAG-driven pruning writes selected_arch.json."""
    cfg = compose_run("search=prune", "search.fitness=lswag", "proxy=[lswag,params]", "batch_size=8", "space.C=4")
    score_archs(cfg, tmp_path)
    sel = json.loads((tmp_path / "selected_arch.json").read_text())
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert sel["arch"] == scores.arch.iloc[-1] and sel["n_evaluated"] == len(scores) == 55
    assert 0 < sel["accuracy"]["cifar10"] <= 94.41 and np.isfinite(sel["scores"]["lswag"])


# --------------------------------------------------------------------------- LIBRA as a transferable fitness


def test_combiner_json_round_trip_and_transfer(tmp_path):
    """Fit LIBRA on 20 labelled NB201 cells (saved as combiner.json), load it as the fitness of a pruning
    search without labels: same scores as the fitted LIBRA, the triplet in selected_arch.json and tags."""
    import zcnas
    from zcnas.combiners import Libra, saved

    fit_dir, use_dir = tmp_path / "fit", tmp_path / "use"
    proxies = "proxy=[nwot,params,flops,l2_norm]"
    score_archs(compose_run("search=random", "search.n=3", "search.fitness=combiner", "combiner=libra",
                            "search.n_calib=20", proxies), fit_dir)
    data = json.loads((fit_dir / "combiner.json").read_text())
    assert data["format"] == "zcnas-combiner" and len(data["selected"]) == 3 and data["merge"] == Libra().merge
    table = pd.read_csv(fit_dir / "scores.csv")
    assert data["fitted_on"] == {"space": "nb201", "task": "cifar10", "benchmark": "nb201", "target": "cifar10",
                                 "protocol": "in_sample", "seed": 0, "n_archs": 20, "zcnas_version": zcnas.__version__,
                                 "archs_sha256": saved.archs_digest(table.arch.iloc[:20])}
    assert set(data["directions"].values()) <= {1, -1} and data["normalisation"] == "rank"
    # the loaded selection scores a table exactly as the fitted LIBRA would (directions included)
    est = Libra().fit(table.iloc[:20][["nwot", "params", "flops", "l2_norm"]], table.iloc[:20]["cifar10"].to_numpy())
    assert est.selected_ == data["selected"]
    loaded = saved.load(fit_dir / "combiner.json")
    assert data["directions"] == est.directions_
    np.testing.assert_allclose(loaded.predict(table), est.predict(table))
    cfg = compose_run("search=prune", "search.fitness=combiner", f"search.combiner_from={fit_dir / 'combiner.json'}",
                      "benchmark=none", proxies)
    score_archs(cfg, use_dir)
    sel = json.loads((use_dir / "selected_arch.json").read_text())
    assert sel["combiner_selected"] == data["selected"] and "accuracy" not in sel and sel["n_evaluated"] == 55
    assert sel["tags"] == {f"combiner/z{i + 1}": p for i, p in enumerate(data["selected"])}
    tags = json.loads((use_dir / "run_summary.json").read_text())["mlflow"]["tags"]
    assert tags["combiner/z1"] == data["selected"][0] and tags["selected_arch"] == sel["arch"]


def test_combiner_from_bad_input(tmp_path):
    from zcnas.combiners import saved

    with pytest.raises(FileNotFoundError, match="does not exist"):
        saved.load(tmp_path / "nope.json")
    (tmp_path / "torn.json").write_text('{"format": "zcnas-comb')
    with pytest.raises(ValueError, match="not readable JSON"):
        saved.load(tmp_path / "torn.json")
    (tmp_path / "other.json").write_text('{"selected": ["a"]}')
    with pytest.raises(ValueError, match="not a zcnas combiner file"):
        saved.load(tmp_path / "other.json")
    good = {"format": "zcnas-combiner", "version": 1, "combiner": "libra", "selected": ["zico", "jacov", "params"],
            "directions": {"zico": 1, "jacov": -1, "params": 1}, "merge": "rank_sum", "normalisation": "rank",
            "rho": {}, "fitted_on": {}}
    (tmp_path / "c.json").write_text(json.dumps(good))
    cfg = compose_run("search=prune", "search.fitness=combiner", f"search.combiner_from={tmp_path / 'c.json'}",
                      "proxy=[params]")
    with pytest.raises(ValueError, match=r"fitted on \['zico', 'jacov', 'params'\]; this run does not compute "
                                         r"zico, jacov: add them"):
        score_archs(cfg, tmp_path / "run")
    assert not (tmp_path / "run" / "scores.csv").exists() or not pd.read_csv(tmp_path / "run" / "scores.csv").shape[0]
    # directions flip a proxy before ranking
    z = pd.DataFrame({"zico": [1.0, 2.0, 3.0], "jacov": [1.0, 2.0, 3.0], "params": [1.0, 2.0, 3.0]})
    np.testing.assert_allclose(saved.load(tmp_path / "c.json").predict(z), [1 + 3 + 1, 2 + 2 + 2, 3 + 1 + 3])
