"""What zcnas's tests and its hostile probe (``experiments/hostile_probe``) share to run zcnas as a user does: a
command in a directory of its own (bounded, as ``nobody`` where permissions matter), an image folder, labelled
NB201 records, and fake tracking servers on 127.0.0.1 (a closed port; a socket that accepts and never answers).
Nothing here is imported by zcnas itself (as ``numpy.testing``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

CLI_ENV = {"TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"}
"""Set for every command (over the caller's environment): no progress bars, one OpenMP thread."""
NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--")
"""The prefix that runs a command as ``nobody``: as root, file permissions are not enforced."""


@dataclass
class Result:
    """A finished (or timed-out: ``returncode`` None) command, read like ``subprocess.CompletedProcess``."""

    returncode: int | None
    stdout: str
    stderr: str
    seconds: float

    @property
    def text(self) -> str:
        """stdout and stderr together."""
        return self.stdout + self.stderr

    @property
    def last(self) -> str:
        """The last line of stderr (of stdout when stderr is empty): where a zcnas error is."""
        lines = self.stderr.strip().splitlines() or self.stdout.strip().splitlines()
        return lines[-1] if lines else ""


def cli(cwd: Path, module: str, *args: str, timeout: float = 300, prefix: tuple[str, ...] = (),
        env: dict[str, str] | None = None) -> Result:
    """``python -m <module> <args>`` in ``cwd`` with ``HOME=cwd`` (no user config leaks in) and :data:`CLI_ENV`;
    ``prefix`` e.g. :data:`NOBODY`; ``returncode`` None past ``timeout`` seconds."""
    t0 = time.perf_counter()
    full_env = {**os.environ, **CLI_ENV, "HOME": str(cwd), **(env or {})}
    try:
        p = subprocess.run([*prefix, sys.executable, "-m", module, *args], cwd=cwd, env=full_env, capture_output=True,
                           text=True, timeout=timeout)
        return Result(p.returncode, p.stdout, p.stderr, time.perf_counter() - t0)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
        return Result(None, out, err, time.perf_counter() - t0)


def unprivileged(d: Path) -> tuple[str, ...]:
    """:data:`NOBODY` when this process is root (``d`` made world-writable for it), else no prefix."""
    if os.geteuid() != 0:
        return ()
    d.chmod(0o777)
    return NOBODY


def write_imagefolder(root: Path, seed: int, classes: int = 3, per_class: int = 4) -> None:
    """``root/class<c>/<i>.png``: random 32 x 32 RGB images drawn with ``seed`` (same paths, new pixels per seed)."""
    from PIL import Image  # noqa: PLC0415

    rng = np.random.default_rng(seed)
    for c in range(classes):
        (root / f"class{c}").mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(root / f"class{c}" / f"{i}.png")


def nb201_records(n: int) -> list[dict[str, Any]]:
    """The first ``n`` NB201 cells with their CIFAR-10 accuracy: ``{"arch", "cifar10"}`` rows of a ground-truth file."""
    from zcnas.data import load_nb201  # noqa: PLC0415

    t = load_nb201(target="cifar10").table.iloc[:n]
    return [{"arch": a, "cifar10": float(v)} for a, v in t["cifar10"].items()]


def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (connections are refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return int(port)


class BlackHole:
    """A 127.0.0.1 socket that accepts connections and never answers (a hung server); :meth:`close` it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.conns.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        """Close every accepted connection and the socket."""
        for c in self.conns:
            c.close()
        self.sock.close()
