"""``python -m zcnas.export <run_dir | selected_arch.json> [--out DIR]``: the found network, out of zcnas.

Writes ``zcnas_<space>.py``, a standalone PyTorch module that builds the found network with no zcnas
import (generated from the space's own source and the zcnas modules it imports, so it is the same
code), and ``zcnas_<space>.json``, its config (space arguments, arch, #classes, #params). Importing the
module registers ``zcnas_<space>`` with timm when timm is installed, so timm's training scripts take
it: ``timm.create_model("zcnas_<space>", arch="<arch string>")`` (default: the found arch).

Example:
    python -m zcnas.export logs/runs/2026-11-29/20-00-00      # -> logs/runs/.../export/zcnas_nb201.py
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import re
from pathlib import Path
from typing import Any

from zcnas.cli import one_line_errors
from zcnas.results import read_json, read_yaml_data

_IMPORT = re.compile(r"^from (zcnas(?:\.\w+)+) import .*$", re.M)
_TEMPLATE = '''

# --------------------------------------------------------------------------- the exported network
CONFIG = {config}
"""What ``python -m zcnas.export`` found: the space's arguments, the arch string, #classes, #params."""


def build_model(arch: str | None = None, num_classes: int | None = None, **space_args: object) -> nn.Module:
    """The {space} network for ``arch`` (default: the exported one), PyTorch default init."""
    space = {cls}(**{{**CONFIG["space_args"], **space_args}})
    return space.build(space.decode(arch or CONFIG["arch"]), num_classes or CONFIG["num_classes"])


try:  # timm's scripts: timm.create_model("zcnas_{space}", arch=...)
    from timm.models import register_model

    @register_model
    def zcnas_{space}(pretrained: bool = False, arch: str | None = None, num_classes: int | None = None,
                      **kwargs: object) -> nn.Module:
        """timm entry point; timm's own keyword arguments (pretrained_cfg, ...) are ignored."""
        if pretrained:
            raise ValueError("zcnas_{space}: no pretrained weights; train it (timm's train.py, python -m zcnas.build)")
        space_args = {{k: v for k, v in kwargs.items() if k in CONFIG["space_args"]}}
        return build_model(arch, num_classes, **space_args)
except ImportError:
    pass
'''


def _sources(module: str, seen: list[str]) -> list[str]:
    """``module`` and the zcnas modules it imports, dependencies first."""
    if module in seen:
        return []
    seen.append(module)
    text = inspect.getsource(importlib.import_module(module))
    if re.search(r"^from zcnas\S* import \($", text, re.M):
        raise ValueError(f"{module}: a multi-line zcnas import cannot be inlined; write it on one line")
    out = [s for dep in _IMPORT.findall(text) for s in _sources(dep, seen)]
    body = _IMPORT.sub("", text).replace("from __future__ import annotations\n", "")
    return [*out, f"# {'-' * 75} {module} (inlined)\n{body}"]


def read_selection(path: Path) -> tuple[dict[str, Any], Path]:
    """selected_arch.json (the file or a run dir holding it) with the run's space config and #classes."""
    sel_path = path / "selected_arch.json" if path.is_dir() else path
    sel = read_json(sel_path, f"{sel_path} does not exist; give a search's run dir or its selected_arch.json",
                    f"{sel_path}: not readable JSON ({{err}})")
    if not isinstance(sel, dict) or not isinstance(sel.get("arch"), str):
        raise ValueError(f"{sel_path}: not a selected_arch.json written by zcnas (no 'arch' string)")
    if "space" not in sel:  # written before selected_arch.json carried it: the run's config.yaml
        cfg_path = sel_path.parent / "config.yaml"
        if not cfg_path.is_file():
            raise FileNotFoundError(f"{sel_path} names no space and {cfg_path} is missing: export the run dir")
        cfg = read_yaml_data(cfg_path)
        task = cfg.get("task") if isinstance(cfg, dict) else None
        if not isinstance(task, dict) or "space" not in cfg:
            raise ValueError(f"{cfg_path}: not a zcnas run config (no space / task.num_classes); export the run dir")
        sel = {**sel, "space": cfg["space"], "num_classes": task.get("num_classes")}
    n = sel.get("num_classes")
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 1_000_000:
        raise ValueError(f"{sel_path}: num_classes={str(n)[:40]!r} must be an integer in [1, 1000000]")
    return sel, sel_path


def safe_target(path: Path) -> Path:
    """``path`` to be written, refused (one line) if it is a link or not a plain file: a planted link in a
    shared run dir never redirects a write outside it."""
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise ValueError(f"{path} is a link or not a plain file; remove it or choose another --out")
    return path


def export(path: Path, out: Path | None = None) -> tuple[Path, Path]:
    """Write ``zcnas_<space>.py`` and ``zcnas_<space>.json`` into ``out`` (default ``<run dir>/export``)."""
    from zcnas.spaces import space_from_config  # noqa: PLC0415

    sel, sel_path = read_selection(path)
    space = space_from_config(sel["space"])  # one of zcnas's own spaces, its arguments checked: nothing imported
    cls = type(space)
    space_cfg = {k: v for k, v in sel["space"].items() if k not in ("_target_", "name")}
    arch = space.decode(sel["arch"])  # a bad arch string fails here, naming it
    n_params = sum(p.numel() for p in space.build(arch, sel["num_classes"]).parameters())
    name = space.name
    config = {"space": name, "space_args": space_cfg, "arch": space.encode(arch), "num_classes": sel["num_classes"],
              "params": n_params, "from": str(sel_path)}
    if out is None:
        out = sel_path.parent / "export"
        if out.is_symlink():
            raise ValueError(f"{out} is a link; remove it or choose --out")
    out.mkdir(parents=True, exist_ok=True)
    header = (f'"""Standalone {name} network exported by ``python -m zcnas.export`` from {sel_path} (no zcnas import).\n\n'
              f'    from zcnas_{name} import build_model; net = build_model()   # {n_params:,} params\n"""\n\n'
              "from __future__ import annotations\n\n")
    code = header + "\n\n".join(_sources(cls.__module__, [])) + _TEMPLATE.format(
        config=json.dumps(config, indent=4), space=name, cls=cls.__name__)
    py, js = safe_target(out / f"zcnas_{name}.py"), safe_target(out / f"zcnas_{name}.json")
    py.write_text(code)
    js.write_text(json.dumps(config, indent=2))
    return py, js


def main(argv: list[str] | None = None) -> None:
    """Entry point: ``python -m zcnas.export <run_dir | selected_arch.json> [--out DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m zcnas.export", description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="a search's run dir, or its selected_arch.json")
    parser.add_argument("--out", type=Path, default=None, help="output dir (default: <run dir>/export)")
    args = parser.parse_args(argv)
    with one_line_errors("zcnas.export"):
        py, js = export(args.path, args.out)
    print(f"wrote {py} and {js}\nuse: import {py.stem}; net = {py.stem}.build_model()  |  "
          f"timm.create_model({py.stem!r}, arch=...)")


if __name__ == "__main__":
    main()
