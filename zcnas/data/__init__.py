"""Shipped data files (checksummed) and the loaders built on them: images and ground truth."""

from zcnas.data._assets import asset_path, verify_file
from zcnas.data.benchmarks import Benchmark, load_autoformer, load_jsonl, load_nb201
from zcnas.data.tasks import Task

__all__ = ["Benchmark", "Task", "asset_path", "load_autoformer", "load_jsonl", "load_nb201", "verify_file"]
