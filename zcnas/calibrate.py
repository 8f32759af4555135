"""``python -m zcnas.calibrate``: the L-SWAG layer-window calibration.

Reference: Casarin, Escalera, Lanz, "L-SWAG", CVPR 2025, arXiv 2505.07300, Sec. 3.2 and Fig. 2 (no
public code). The paper's one-off procedure per benchmark, made a command:

1. Sample ``calibrate.n_archs`` random networks of the space (default 1000), probe each on one
   batch of the task, and record every Conv/Linear layer's mean ``log σ_w`` (σ_w = std of |g_w|
   over the sub-batches, σ = 0 dropped) with its depth decile.
2. Average per decile (Fig. 2b of the paper) and find the *spike*: the interior decile whose mean
   deviates most from the median over deciles, grown to the contiguous deciles whose deviation, of
   the same sign, is at least half of it (full width at half maximum).
3. ``calibrate.choose=spike`` writes that window; with ground truth, ``calibrate.sweep=true`` also
   scores every window [lo, hi] (Fig. 2a) from per-decile Λ terms and cumulative Ψ counts, and
   ``calibrate.choose=sweep`` writes the best one instead.

The window goes to ``<user config dir>/calibrated/<key>.yaml`` (:func:`zcnas.paths.user_config_dir`:
``$ZCNAS_CONFIG_DIR``, else ``~/.config/zcnas``), which Hydra searches: ``python -m zcnas.run`` loads it
for that pair over the window shipped in ``conf/window/`` (``calibrate.write_to=`` writes elsewhere).
The key is ``<space>_<task>`` (:func:`zcnas.plan.window_key`); a task entry that stands for several tasks (``task=tnb101``,
named by ``benchmark.target``) keys by the task's name instead, ``tnb101_micro_autoencoder``, and
``conf/window/<space>_tnb101.yaml`` picks the window of the run's target.

Example:
    python -m zcnas.calibrate space=nb201 task=cifar10 calibrate.n_archs=1000 calibrate.sweep=true
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from zcnas.cli import check_argv, instantiate, one_line_errors
from zcnas.engine import ProbeRecord, build_and_probe
from zcnas.metrics import correlate
from zcnas.paths import user_config_dir
from zcnas.plan import calibration_plan
from zcnas.results import write_json

log = logging.getLogger("zcnas.calibrate")
LOG_EVERY = 50
"""A progress log line every this many calibrated architectures."""


def find_spike(profile: np.ndarray) -> tuple[int, int]:
    """Contiguous decile range around the largest deviation from the median, at half its height.

    The peak is searched among the interior deciles only: the first and last hold the stem /
    patch embedding and the classifier head, whose gradient scale differs by construction (on
    AutoFormer they are the two largest excursions, and a window of the embedding alone is useless).
    """
    valid = np.isfinite(profile)
    dev = np.where(valid, profile - np.nanmedian(profile), 0.0)
    peak = 1 + int(np.argmax(np.abs(dev[1:-1])))
    half = 0.5 * dev[peak]
    inside = (np.sign(dev) == np.sign(dev[peak])) & (np.abs(dev) >= abs(half))
    lo = hi = peak
    while lo > 0 and inside[lo - 1]:
        lo -= 1
    while hi < len(profile) - 1 and inside[hi + 1]:
        hi += 1
    return lo, hi


def sweep_windows(lam: np.ndarray, psi: np.ndarray, truth: np.ndarray) -> pd.DataFrame:
    """Spearman ρ of Λ[lo..hi]·Ψ[≤hi] vs ``truth`` for every window lo ≤ hi (the paper's Fig. 2a)."""
    rows = []
    for lo in range(lam.shape[1]):
        for hi in range(lo, lam.shape[1]):
            s = lam[:, lo:hi + 1].sum(1) * psi[:, hi]
            rows.append({"lo": lo, "hi": hi, **correlate(s, truth, n_boot=0)})  # 66 windows: no intervals
    return pd.DataFrame(rows)


def calibrate(cfg: Any, out_dir: Path, space_choice: str, task_choice: str,
              overrides: list[str] | None = None) -> dict[str, Any]:
    """Run the calibration for a composed config (read once, into a :class:`~zcnas.plan.CalibrationPlan`) and
    write the window file (``overrides``: the command's Hydra overrides, quoted in the file's header; default:
    the calibrate.* values)."""
    c = calibration_plan(cfg, space_choice, task_choice, overrides)
    t0 = time.perf_counter()
    if c.threads:
        torch.set_num_threads(int(c.threads))
    space, task = instantiate(c.space), instantiate(c.task)
    rng = np.random.default_rng(c.seed)
    bench = instantiate(c.benchmark) if c.sweep else None
    if bench is not None:  # the sweep needs labels: sample the benchmark's archs (all, if fewer)
        archs = bench.sample(min(c.n_archs, len(bench.table)), rng)
    else:
        archs = [space.encode(a) for a in space.sample(c.n_archs, rng)]
    x, y, _ = task.probe_batch(c.batch_size, c.seed)
    # the run's probing path (zcnas.engine.build_and_probe): no proxy, only the decile record, under calibrate.*
    record = ProbeRecord({}, deciles=True, decile_params={"n_splits": c.n_splits, "accumulate": c.accumulate,
                                                          "bins": c.bins})
    probe_cfg = {"share_passes": c.share_passes, "share_splits": c.n_splits}
    recs = []
    for i, arch in enumerate(tqdm(archs, desc="calibrating", disable=None, mininterval=2), 1):
        row = build_and_probe(space, task.num_classes, space.decode(arch), arch, c.seed, x, y, {}, probe_cfg,
                              torch.device("cpu"), loss_fn=task.loss, record=record)
        recs.append({k: np.array([row.get(f"{k}_{d}", np.nan) for d in range(c.bins + 1)])
                     for k in ("lam", "psi", "log_sigma")})
        if i % LOG_EVERY == 0:
            log.info("calibrated %d/%d archs (%.0f s)", i, len(archs), time.perf_counter() - t0)
    log_sigma = np.stack([r["log_sigma"] for r in recs])
    profile = pd.DataFrame({"decile": np.arange(c.bins + 1), "mean_log_sigma": np.nanmean(log_sigma, 0),
                            "std_log_sigma": np.nanstd(log_sigma, 0)})
    profile.to_csv(out_dir / "decile_profile.csv", index=False)
    lo, hi = find_spike(profile["mean_log_sigma"].to_numpy())
    result: dict[str, Any] = {"space": c.space_choice, "task": c.key.removeprefix(f"{c.space_choice}_"), "n_archs": len(archs),
                              "seed": c.seed, "spike_window": [lo, hi]}
    if bench is not None:
        truth = bench.lookup(archs)[bench.targets[0]].to_numpy()
        table = sweep_windows(np.stack([r["lam"] for r in recs]), np.stack([r["psi"] for r in recs]), truth)
        table.to_csv(out_dir / "window_sweep.csv", index=False)
        best = table.loc[table["spearman"].idxmax()]
        spike_rho = float(table.query("lo == @lo and hi == @hi")["spearman"].iloc[0])
        result.update(target=bench.targets[0], sweep_best=[int(best.lo), int(best.hi)],
                      sweep_best_spearman=float(best.spearman), spike_spearman=spike_rho,
                      full_spearman=float(table.query("lo == 0 and hi == @c.bins")["spearman"].iloc[0]))
        if c.choose == "sweep":
            lo, hi = int(best.lo), int(best.hi)
    result.update(window=[lo, hi], chosen_by=c.choose, seconds=time.perf_counter() - t0)
    write_json(out_dir / "calibration.json", result)
    target = Path(c.write_to) if c.write_to else user_config_dir() / "calibrated" / f"{c.key}.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        f"# L-SWAG layer window for space={c.space_choice} task={result['task']}, written by\n"
        f"#   python -m zcnas.calibrate {c.command}\n# result: {result}\nlo: {lo}\nhi: {hi}\n")
    log.info("window [%d, %d] (%s) -> %s", lo, hi, c.choose, target)
    print(result)
    return result


def main() -> None:
    """Hydra entry point (``python -m zcnas.calibrate [overrides]``)."""
    import hydra  # noqa: PLC0415
    from hydra.core.hydra_config import HydraConfig  # noqa: PLC0415

    from zcnas.paths import CONF_DIR  # noqa: PLC0415

    check_argv("zcnas.calibrate")
    @hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="calibrate")
    def _run(cfg: Any) -> None:
        hc = HydraConfig.get()
        with one_line_errors("zcnas.calibrate"):
            calibrate(cfg, Path(hc.runtime.output_dir), hc.runtime.choices["space"], hc.runtime.choices["task"],
                      list(hc.overrides.task))

    _run()


if __name__ == "__main__":
    main()
