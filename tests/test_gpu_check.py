"""experiments/gpu_check: the one-call GPU script rehearsed on CPU (--dry), so a lent GPU's minutes are not
spent debugging it."""

from __future__ import annotations

import json
import math
import subprocess

import pytest

from .conftest import ROOT


@pytest.mark.slow
def test_gpu_check_dry_run_covers_every_step(tmp_path):
    out = tmp_path / "gpu_check.json"
    proc = subprocess.run(["bash", str(ROOT / "experiments" / "gpu_check" / "run.sh"), "--dry"], capture_output=True,
                          text=True, timeout=900, env={"PATH": "/usr/bin:/bin", "OUT": str(out),
                                                      "PY": str(ROOT / ".venv" / "bin" / "python")}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(out.read_text())
    assert set(res["seconds"]) == {"throughput", "numeric", "memory", "syncs", "oom"}
    lswag = {r["space"]: r for r in res["syncs"] if r["proxy"] == "lswag"}
    assert set(lswag) == {"nb201", "autoformer_tiny"} and all("tolist:1" in r["calls"] for r in lswag.values())
    assert {(r["space"], r["in_flight"]) for r in res["throughput"]} >= {("nb201", 1), ("nb201", 8), ("autoformer_tiny", 4)}
    assert all(r["identical_to_in_flight_1"] for r in res["throughput"])  # scheduling never changes a number
    assert {r["policy"] for r in res["numeric"]} == {"cpu-ieee", "cpu-tf32"}
    assert all(r["max_rel_diff"] == 0 for r in res["numeric"] if not math.isnan(r["max_rel_diff"]))  # CPU vs CPU
    assert res["oom"] == {"default_is_nan": True, "reduced_batch": 4.0, "reduced_score": 4.0, "lock_free_after": True}
    assert "throughput" in proc.stdout and "-> " in proc.stdout
