"""What every ``python -m zcnas.<command>`` shares: building config nodes, the device, run-level checks,
and the one-line error a user sees instead of a traceback."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, KeyError, OSError)
"""Bad input (values, missing keys, files): said in one line. Anything else is a bug: a traceback."""


@contextmanager
def one_line_errors(prog: str) -> Iterator[None]:
    """Exit with ``<prog>: error: <message>`` (status 1) on a :data:`USER_ERRORS` error inside the block."""
    try:
        yield
    except KeyError as err:  # ours carry a sentence; a bare key is a missing field, never the whole message
        msg = err.args[0] if err.args and isinstance(err.args[0], str) and " " in err.args[0] else None
        sys.exit(f"{prog}: error: {msg}" if msg else
                 f"{prog}: error: a required field {err} is missing (from an input file: a benchmark, a resume or "
                 "history file, a run dir); check the files given, or report it as a bug with run.log")
    except USER_ERRORS as err:
        sys.exit(f"{prog}: error: {err}")


def need(module: str, extra: str, what: str) -> None:
    """A one-line error when an optional dependency is missing: ``<what> needs <module>: pip install
    'zcnas[<extra>]'`` (the extras of pyproject.toml)."""
    import importlib.util  # noqa: PLC0415

    if importlib.util.find_spec(module) is None:
        raise ValueError(f"{what} needs {module}, which is not installed: pip install 'zcnas[{extra}]'")


def group_options(group: str) -> list[str]:
    """The options of config group ``group``: ``conf/<group>/*.yaml`` and your own in the user config dir."""
    from zcnas.paths import CONF_DIR, user_config_dir  # noqa: PLC0415

    return sorted({p.stem for root in (Path(CONF_DIR), user_config_dir()) for p in (root / group).glob("*.yaml")})


def check_argv(prog: str, argv: list[str] | None = None) -> None:
    """Before Hydra parses the command line (its errors are multi-line blocks):

    * an unknown option of a config group, alone, in a list ``proxy=[lswag,nwt]`` or a sweep ``proxy=a,b``,
      is a one-line error with the closest option and where the rest are listed;
    * a value with a non-ASCII character or a line break outside quotes (Hydra's lexer rejects it) is a
      one-line error that shows the quoted form, which Hydra accepts (``hydra.run.dir='runs/ü'``);
    * a top-level key the command's config does not have (``n_arch=10``) is a one-line error with the closest
      key (with ``+``, :func:`check_known_keys` refuses it after composition);
    * a user config dir that exists but cannot be read (or whose parent cannot be entered) is a one-line error."""
    import difflib  # noqa: PLC0415

    from omegaconf import OmegaConf  # noqa: PLC0415

    from zcnas.paths import CONF_DIR, user_config_dir  # noqa: PLC0415

    user = user_config_dir()
    try:
        if user.is_dir():
            os.listdir(user)
    except OSError as err:
        sys.exit(f"{prog}: error: cannot read your config dir {user} ({err.strerror}): fix its permissions, or set "
                 "ZCNAS_CONFIG_DIR to a readable directory")

    groups = {p.name for p in Path(CONF_DIR).iterdir() if p.is_dir()}
    primary = Path(CONF_DIR) / f"{'config' if prog == 'zcnas.run' else prog.removeprefix('zcnas.')}.yaml"
    top = set(OmegaConf.load(primary)) - {"defaults", "hydra"} if primary.is_file() else None  # our own file: its keys
    for arg in sys.argv[1:] if argv is None else argv:
        key, eq, value = arg.partition("=")
        if eq and top is not None and key.isidentifier() and key not in top | groups | {"hydra"}:
            near = difflib.get_close_matches(key, sorted(top | groups), n=1)
            sys.exit(f"{prog}: error: {key}: {prog} has no such setting"
                     f"{f'; did you mean {near[0]}?' if near else ''} (all: {', '.join(sorted(top | groups))})")
        if not eq or (len(value) >= 2 and value[0] == value[-1] and value[0] in "'\""):
            continue
        name = key.lstrip("+~")
        if name in groups and value not in ("null", "") and "(" not in value and "$" not in value:  # not sweeps' glob()
            options = group_options(name)
            for choice in value.strip("[]").split(","):
                if choice and options and choice.strip() not in options:
                    near = difflib.get_close_matches(choice.strip(), options, n=1)
                    hint = f"did you mean {near[0]}? " if near else ""
                    sys.exit(f"{prog}: error: unknown {name} {choice.strip()!r} ({hint}all: {', '.join(options)})")
        if not value.isascii() or "\n" in value or "\r" in value:
            shown = value.replace("\n", "\\n").replace("\r", "\\r")
            sys.exit(f"{prog}: error: {key}={shown}: a value with non-ASCII characters or a line break must be "
                     f"quoted for Hydra: write {key}='{shown}' (in the shell: \"{key}='...'\")")


def instantiate(node: Any, *args: Any, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate`` that re-raises the builder's own error (one clear line)."""
    from hydra.errors import InstantiationException  # noqa: PLC0415
    from hydra.utils import instantiate as _instantiate  # noqa: PLC0415

    try:
        return _instantiate(node, *args, **kwargs)
    except InstantiationException as err:
        raise (err.__cause__ or err) from None


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; any other name as given."""
    import torch  # noqa: PLC0415 (the light commands: summarize, log, merge, export import no torch)

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def missing_keys(node: Any, prefix: str = "") -> list[str]:
    """Full keys of mandatory values left ``???`` (interpolations and Hydra's own node not followed)."""
    from omegaconf import DictConfig, OmegaConf  # noqa: PLC0415

    out = []
    for key in node:
        full = f"{prefix}{key}"
        if full == "hydra" or OmegaConf.is_interpolation(node, key):
            continue
        if OmegaConf.is_missing(node, key):
            out.append(full)
        elif isinstance(node[key], DictConfig):
            out += missing_keys(node[key], full + ".")
    return out


def searching(cfg: Any) -> bool:
    """Whether the run searches (``search=evolution|random|prune``: a ``_target_``) rather than scoring a
    uniform sample (``search=none``)."""
    return "search" in cfg and cfg.search.get("_target_") is not None


RUN_KEYS = {"n_archs", "archs_from", "record_deciles", "seed", "batch_size", "device", "threads", "log_every", "shard",
            "cache", "task", "benchmark", "probe", "engine", "space", "proxy", "combiner", "search", "tracking", "window"}
"""Top-level keys of ``zcnas.run``'s config (conf/config.yaml and its groups)."""
FIXED_KEYS = {"probe": {"batch_seed", "share_passes", "share_splits", "tf32"}, "engine": {"fused", "in_flight", "oom_reduce"},
              "shard": {"index", "count"}, "cache": {"path", "per_shard", "url"}}
"""Sub-keys of the run-level nodes no group adds to (probe's are part of every score-cache key)."""


def check_known_keys(cfg: Any) -> None:
    """A key zcnas.run does not read (``+n_arch=2``: Hydra's own suggestion for a typo) is a one-line error
    naming the closest known key, never silently ignored."""
    import difflib  # noqa: PLC0415

    def refuse(key: str, known: set[str], prefix: str = "") -> None:
        near = difflib.get_close_matches(key, sorted(known), n=1)
        hint = f"; did you mean {prefix}{near[0]}?" if near else f"; known: {', '.join(sorted(known))}"
        raise ValueError(f"{prefix}{key}: zcnas.run has no such setting (it would be ignored){hint}")

    for key in cfg:
        if key not in RUN_KEYS:
            refuse(str(key), RUN_KEYS)
    for node, known in FIXED_KEYS.items():
        if node in cfg and cfg[node] is not None:
            for key in cfg[node]:
                if key not in known:
                    refuse(str(key), known, f"{node}.")


def check_config(cfg: Any) -> None:
    """One-line errors for run-level values of the wrong type or range, before any work."""
    missing = missing_keys(cfg)
    if missing:
        raise ValueError(f"{missing[0]} must be set (e.g. {missing[0]}=<value> on the command line)"
                         + (f"; also unset: {', '.join(missing[1:])}" if len(missing) > 1 else ""))

    def integer(key: str, value: Any, lo: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < lo:
            raise ValueError(f"{key}={value!r} must be an integer >= {lo}")

    for key, lo in (("n_archs", 1), ("seed", 0), ("batch_size", 1), ("log_every", 1), ("threads", 1)):
        if cfg.get(key) is not None or key == "n_archs":
            integer(key, cfg.get(key), lo)
    if "engine" in cfg:
        integer("engine.in_flight", cfg.engine.in_flight, 1)
    integer("shard.count", cfg.shard.count, 1)
    integer("shard.index", cfg.shard.index, 0)
    if cfg.shard.index >= cfg.shard.count:
        raise ValueError(f"shard.index={cfg.shard.index} must be < shard.count={cfg.shard.count} (shards are 0-based)")
    if cfg.shard.count > 1 and searching(cfg):
        raise ValueError("shard.count>1 splits a uniform sample; a search (search=...) cannot be sharded")
    if not (cfg.device in ("cpu", "cuda", "auto") or str(cfg.device).startswith("cuda:")):
        raise ValueError(f"device={cfg.device!r}; valid: cpu, cuda, cuda:<n>, auto")
    import torch  # noqa: PLC0415

    if str(cfg.device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={cfg.device} but CUDA is not available here; use device=cpu or device=auto")
