"""experiments/bench/bench.py: the archs and Suite-Zero record it times against, and its summary arithmetic."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from .conftest import ROOT

BENCH = ROOT / "experiments" / "bench" / "bench.py"
spec = importlib.util.spec_from_file_location("bench", BENCH)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_suite_zero_archs_and_their_recorded_cost():
    archs, proxies, recorded = bench.suite_zero("micro_jig", 3)
    assert len(archs) == 3 and set(recorded) == set(archs)  # every drawn arch has its record
    assert proxies == ["flops", "params", "grasp", "fisher", "grad_norm", "l2_norm", "plain", "nwot", "epe_nas", "jacov",
                       "snip"]  # TNB101's 11 (no synflow, no zen)
    raw = json.loads((ROOT / "zcnas" / "data" / "assets" / "zc_transbench101_micro.json").read_text())["jigsaw"]
    assert recorded[archs[0]]["grasp"] == raw[archs[0]]["grasp"]["time"]  # TNB101 keys are zcnas's strings as they are
    nb101 = bench.suite_zero("nb101", 2)
    assert len(nb101[1]) == 11 and nb101[2] == {}  # NB101's file records scores, no time


def test_summary_ratios_and_grid_hours():
    results = {f"nb201_c10/{m}": {"median_s": t} for m, t in zip("abhfsd", (0.5, 0.75, 1.0, 2.0, 2.5, 5.0), strict=True)}
    out = bench.summarise("nb201_c10", results, {"x": {"p": 1.0, "q": 3.0}, "y": {"p": 2.0, "q": 6.0}, "z": {}})
    assert (out["b_over_a"], out["h_over_a"], out["f_over_a"], out["d_over_s"]) == (1.5, 2.0, 4.0, 2.0)
    assert (out["suite_zero_s"], out["suite_zero_archs"], out["d_over_suite_zero"]) == (6.0, 2, 0.833)
    assert out["suite_zero_per_proxy_s"] == {"p": 1.5, "q": 4.5}
    assert out["grid_cpu_hours_h"] == round(1.0 * 500 * 3 / 3600, 2)  # 500 cells x 3 seeds in the headline protocol
    assert "grid_cpu_hours_h" not in bench.summarise("autoformer", {k.replace("nb201_c10", "autoformer"): v
                                                                    for k, v in results.items()}, {})


@pytest.mark.slow
def test_one_space_end_to_end(tmp_path):
    out = tmp_path / "r.json"
    cmd = [sys.executable, str(BENCH), "--only", "nb201_c10", "--n", "nb201_c10=1", "--modes", "abd", "--out", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    r = json.loads(out.read_text())
    assert r["nb201_c10/a"]["batch"] == 64 and r["nb201_c10/a"]["n_archs"] == 1
    per = r["nb201_c10/d"]["per_proxy_s"]
    # Each repeat's total is the sum of its per-proxy times; over repeats, a sum of medians is not bounded by the
    # median of sums (and both are rounded), so they agree to within the repeats' spread, not exactly.
    assert len(per) == 12 and sum(per.values()) == pytest.approx(r["nb201_c10/d"]["median_s"], rel=0.1)
    assert r["nb201_c10/summary"]["suite_zero_archs"] == 1 and r["nb201_c10/summary"]["b_over_a"] > 0
    mtime = out.stat().st_mtime_ns
    subprocess.run(cmd, check=True, capture_output=True, timeout=600)  # measured rows are kept, not redone
    assert json.loads(out.read_text())["nb201_c10/a"] == r["nb201_c10/a"] and out.stat().st_mtime_ns >= mtime


def test_readme_table_rows():
    results = {f"nb101/{m}": {"median_s": t, "n_archs": 3, "batch": 64}
               for m, t in zip("abhfsd", (20.0, 28.0, 34.0, 48.0, 137.0, 190.0), strict=True)}
    results["nb101/summary"] = bench.summarise("nb101", results, {})
    lines = bench.table(results).splitlines()
    assert lines[2] == ("| nb101 | 3, 64 | 20.00 | 28.00 | 34.00 | 48.00 | 137.00 | 190.00 | – | 1.40 | 1.70 | 2.40 | 1.39 "
                        "| 3.8 / 5.3 |")  # 400 cells x 2 seeds x 34 s = 3.8 h
    assert lines[3].startswith("| headline protocol, 1 of 9 columns |") and lines[3].endswith(" 3.8 / 5.3 |")
