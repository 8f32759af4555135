"""Tasks: the real images an untrained network is probed on, one deterministic batch per seed.

``source`` picks where the pixels come from:

* ``shipped``: the 1,000 CIFAR-10 test images shipped with zcnas (``assets/cifar10_test_1000.npz``).
* ``cifar_bin``: a local CIFAR-10/100 in the official *binary* layout
  (``<root>/cifar-10-batches-bin/data_batch_{1..5}.bin`` or ``<root>/cifar-100-binary/train.bin``).
  The python (pickle) layout that ``torchvision.datasets.CIFAR10`` reads is refused on purpose:
  zcnas never unpickles a data file.
* ``imagefolder``: ``<root>/<class>/<image>`` read with ``torchvision.datasets.ImageFolder``.
* ``noise``: no files; 256 Gaussian-noise images (fixed seed), each pixel ``clip(N(255 mean, 255 std))`` per
  channel, so the normalised input is about N(0, 1): a control for how much the probe images decide a ranking.
* ``svhn``, ``flowers102``, ``pets``: torchvision's own layouts of SVHN (``train_32x32.mat``),
  Flowers102 and Oxford-IIIT Pet (MATLAB files read with scipy, images with PIL; never pickle).

When the benchmark's own images are not available (CIFAR-100, ImageNet16-120 here) a task other
than ``cifar10`` with ``source: shipped`` is a *stand-in* (:attr:`Task.stand_in`): CIFAR-10 images are resized to the benchmark's resolution and fed to a
head with the benchmark's class count. The run logs this and tags MLflow ``input_stand_in=true``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from zcnas.data._assets import asset_path

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def _load_cifar_bin(root: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read the official CIFAR binary training files: 1 (or 2 for CIFAR-100) label bytes + 3072."""
    c10 = sorted((root / "cifar-10-batches-bin").glob("data_batch_*.bin"))
    c100 = root / "cifar-100-binary" / "train.bin"
    if c10:
        files, n_label = c10, 1
    elif c100.is_file():
        files, n_label = [c100], 2
    else:
        raise FileNotFoundError(
            f"no CIFAR binary data under {root}: expected {root}/cifar-10-batches-bin/"
            f"data_batch_1.bin ... or {root}/cifar-100-binary/train.bin")
    raw = np.concatenate([np.fromfile(f, dtype=np.uint8) for f in files])
    rows = raw.reshape(-1, n_label + 3072)
    images = rows[:, n_label:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images, rows[:, n_label - 1].astype(np.int64)  # fine label for CIFAR-100


def _load_imagefolder(root: Path, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Read ``root/<class>/<img>`` into uint8 HWC arrays, resized to ``size`` x ``size``."""
    from torchvision.datasets import ImageFolder  # noqa: PLC0415 - optional, heavy import

    if not root.is_dir():
        raise FileNotFoundError(f"imagefolder root {root} does not exist; expected <root>/<class>/<image>")
    ds = ImageFolder(str(root))
    images = np.stack([_read_image(Path(p), lambda im: im.resize((size, size))) for p, _ in ds.samples])
    return images, np.asarray(ds.targets, dtype=np.int64)


def _read_image(path: Path, resize: Callable[[Any], Any]) -> np.ndarray:
    """One RGB image file as uint8 HWC after ``resize``; an unreadable or truncated file is a
    one-line error naming it."""
    from PIL import Image, UnidentifiedImageError  # noqa: PLC0415

    try:
        with Image.open(path) as im:
            return np.asarray(resize(im.convert("RGB")))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise ValueError(f"{path}: not a readable image ({str(err).splitlines()[0] if str(err) else type(err).__name__}); "
                         "remove or replace the file") from None


def _resized(paths: list[Path], size: int) -> np.ndarray:
    from PIL import Image  # noqa: PLC0415

    return np.stack([_read_image(p, lambda im: im.resize((size, size), Image.Resampling.BICUBIC)) for p in paths])


def _noise_images(size: int, mean: tuple[float, ...], std: tuple[float, ...], n_classes: int,
                  n: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uint8 images ``clip(round(N(255 mean, 255 std)))`` per channel and uniform labels, seed 0."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, size, size, 3), dtype=np.float32)
    x = x * (255 * np.asarray(std, np.float32)) + 255 * np.asarray(mean, np.float32)
    return np.clip(np.rint(x), 0, 255).astype(np.uint8), rng.integers(0, n_classes, n)


def _load_svhn(root: Path) -> tuple[np.ndarray, np.ndarray]:
    """torchvision's SVHN layout: ``<root>/train_32x32.mat`` (MATLAB v5, read with scipy; label 10 = digit 0)."""
    from scipy.io import loadmat  # noqa: PLC0415

    file = root / "train_32x32.mat"
    if not file.is_file():
        raise FileNotFoundError(f"no SVHN data under {root}: expected {file} (torchvision SVHN layout)")
    mat = loadmat(file)
    return mat["X"].transpose(3, 0, 1, 2).copy(), (mat["y"].reshape(-1).astype(np.int64) % 10)


def _load_flowers102(root: Path, size: int) -> tuple[np.ndarray, np.ndarray]:
    """torchvision's Flowers102 layout: ``<root>/flowers-102/{jpg/image_%05d.jpg, imagelabels.mat}``."""
    from scipy.io import loadmat  # noqa: PLC0415

    base = root / "flowers-102"
    if not (base / "imagelabels.mat").is_file():
        raise FileNotFoundError(f"no Flowers102 data under {root}: expected {base}/imagelabels.mat and {base}/jpg/")
    labels = loadmat(base / "imagelabels.mat")["labels"].reshape(-1).astype(np.int64) - 1
    return _resized([base / "jpg" / f"image_{i + 1:05d}.jpg" for i in range(len(labels))], size), labels


def _load_pets(root: Path, size: int) -> tuple[np.ndarray, np.ndarray]:
    """torchvision's OxfordIIITPet layout: ``<root>/oxford-iiit-pet/{images/*.jpg, annotations/trainval.txt}``."""
    base = root / "oxford-iiit-pet"
    ann = base / "annotations" / "trainval.txt"
    if not ann.is_file():
        raise FileNotFoundError(f"no Oxford-IIIT Pet data under {root}: expected {ann} and {base}/images/")
    rows = [line.split() for line in ann.read_text().splitlines() if line.strip()]
    return (_resized([base / "images" / f"{r[0]}.jpg" for r in rows], size),
            np.array([int(r[1]) - 1 for r in rows], dtype=np.int64))


@dataclass
class Task:
    """Where probe images come from and how they are shaped.

    Args:
        name: task name (``cifar10``, ``cifar100``, ``imagenet16_120`` ...).
        num_classes: size of the network head.
        resolution: side of the square input the networks see.
        source: ``shipped`` | ``cifar_bin`` | ``imagefolder`` (see module docstring).
        root: dataset root for the local sources.
        mean: per-channel normalisation mean.
        std: per-channel normalisation std.
    """

    name: str = "cifar10"
    num_classes: int = 10
    resolution: int = 32
    source: str = "shipped"
    root: str | None = None
    mean: tuple[float, ...] = CIFAR10_MEAN
    std: tuple[float, ...] = CIFAR10_STD

    @property
    def stand_in(self) -> bool:
        """True when the shipped CIFAR-10 images stand in for another dataset's own images."""
        return self.source == "noise" or (self.source == "shipped" and self.name != "cifar10")

    def pixels(self) -> tuple[np.ndarray, np.ndarray]:
        """All images (uint8, N x H x W x 3) and integer labels of the source."""
        if self.source == "shipped":
            with np.load(asset_path("cifar10_test_1000.npz"), allow_pickle=False) as z:
                return z["images"], z["labels"]
        if self.source == "noise":
            return _noise_images(self.resolution, self.mean, self.std, self.num_classes)
        if self.root is None:
            raise ValueError(f"task.source={self.source} needs task.root=<dataset directory>")
        root, size = Path(self.root), self.resolution
        loaders = {"cifar_bin": lambda: _load_cifar_bin(root), "svhn": lambda: _load_svhn(root),
                   "imagefolder": lambda: _load_imagefolder(root, size),
                   "flowers102": lambda: _load_flowers102(root, size), "pets": lambda: _load_pets(root, size)}
        if self.source not in loaders:
            raise ValueError(f"unknown task.source={self.source!r}; valid: shipped, noise, {', '.join(loaders)}")
        return loaders[self.source]()

    def batch(self, batch_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """A normalised (B, 3, R, R) float batch and its labels, the same for the same seed."""
        x, y, _ = self.probe_batch(batch_size, seed)
        return x, y

    def probe_batch(self, batch_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, str]:
        """:meth:`batch` plus a SHA-256 digest of its raw pixels and labels: what the score cache is
        keyed on, so new images under the same ``root`` never get old scores."""
        images, labels = self.pixels()
        if batch_size > len(images):
            raise ValueError(f"batch_size={batch_size} exceeds the {len(images)} images of task {self.name}")
        idx = np.random.default_rng(seed).choice(len(images), batch_size, replace=False)
        pixels, y = np.ascontiguousarray(images[idx]), torch.from_numpy(labels[idx]) % self.num_classes
        h = hashlib.sha256(pixels.tobytes())
        h.update(str(pixels.shape).encode())
        h.update(y.numpy().astype(np.int64).tobytes())
        return self.normalize(torch.from_numpy(pixels).permute(0, 3, 1, 2)), y, h.hexdigest()[:16]

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The task loss every gradient proxy differentiates (through :class:`~zcnas.probe.Probe`): cross-entropy."""
        return F.cross_entropy(output, target)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 (B, 3, H, W) -> float at the task's resolution, normalised with its mean/std."""
        x = x.float().div_(255.0)
        if x.shape[-1] != self.resolution:
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear",
                              antialias=True, align_corners=False)
        mean = torch.tensor(self.mean, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=x.device).view(1, 3, 1, 1)
        return (x - mean) / std


TASKONOMY_LABELS = {
    "class_object": "Taskonomy class_object soft labels (ImageNet-1k distillation, 100 selected classes)",
    "class_scene": "Taskonomy class_scene soft labels (Places365 distillation, 63 selected classes)",
    "normal": "Taskonomy surface-normal images",
    "room_layout": "Taskonomy room-layout vectors (9 values)",
    "segmentsemantic": "Taskonomy semantic-segmentation masks (17 classes)",
}
TNB101_TASKS = ("autoencoder", "jigsaw", *TASKONOMY_LABELS)


@dataclass
class TNB101Task(Task):
    """A TransNAS-Bench-101 task (Duan et al., CVPR 2021) whose targets the images themselves define,
    built as the benchmark's data pipeline (NASLib ``naslib/utils/{dataset,load_ops}.py``):

    * ``autoencoder``: 256 x 256 input normalised to [-1, 1] (mean = std = 0.5); the target is the input;
      loss L1 (``nn.L1Loss``).
    * ``jigsaw``: the image resized to 255 x 255, centre-cropped to 90 % and resized back, cut into a
      3 x 3 grid of 85-pixel cells; tile n is a random 64 x 64 crop of the cell at ``perm[n]``, ``perm``
      the label's entry of the benchmark's 1,000-permutation set (maximal Hamming distance); tiles in
      [0, 1] (``norm=False``), input ``(B, 9, 3, 64, 64)``; loss cross-entropy over the 1,000 classes.

    Images: the shipped CIFAR-10 ones upsampled (a stand-in for Taskonomy's, tagged ``input_stand_in``)
    or any ``source``. The other five tasks need Taskonomy labels: a one-line error names them.
    """

    name: str = "jigsaw"
    num_classes: int = 1000
    resolution: int = 255

    def __post_init__(self) -> None:
        if self.name in TASKONOMY_LABELS:
            raise ValueError(f"TNB101 task {self.name!r} needs {TASKONOMY_LABELS[self.name]}, which are not "
                             "available here; the tasks whose targets the images define are autoencoder and jigsaw")
        if self.name not in ("autoencoder", "jigsaw"):
            raise ValueError(f"unknown TNB101 task {self.name!r}; valid: {', '.join(TNB101_TASKS)}")
        if self.name == "autoencoder":
            self.num_classes, self.resolution, self.mean, self.std = 3, 256, (0.5,) * 3, (0.5,) * 3
        else:
            self.num_classes, self.resolution, self.mean, self.std = 1000, 255, (0.0,) * 3, (1.0,) * 3

    @property
    def stand_in(self) -> bool:
        """True with the shipped CIFAR-10 images or noise (Taskonomy's own are not shipped)."""
        return self.source in ("shipped", "noise")

    def batch(self, batch_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Autoencoder: (images, images); jigsaw: (tiles ``(B, 9, 3, 64, 64)``, permutation indices)."""
        images, _ = self.pixels()
        if batch_size > len(images):
            raise ValueError(f"batch_size={batch_size} exceeds the {len(images)} images of task {self.name}")
        rng = np.random.default_rng(seed)
        idx = rng.choice(len(images), batch_size, replace=False)
        x = self.normalize(torch.from_numpy(images[idx]).permute(0, 3, 1, 2))
        if self.name == "autoencoder":
            return x, x.clone()
        perms = np.load(asset_path("permutations_hamming_max_1000.npy"), allow_pickle=False)
        labels = rng.integers(0, len(perms), batch_size)
        side, crop, unit, tile = self.resolution, int(self.resolution * 0.9), self.resolution // 3, 64
        top = (side - crop) // 2
        x = F.interpolate(x[:, :, top:top + crop, top:top + crop], size=(side, side), mode="bilinear",
                          align_corners=False)
        offsets = rng.integers(0, unit - tile + 1, (batch_size, 9, 2))
        tiles = torch.stack([torch.stack([
            x[b, :, (p // 3) * unit + offsets[b, n, 0]:(p // 3) * unit + offsets[b, n, 0] + tile,
              (p % 3) * unit + offsets[b, n, 1]:(p % 3) * unit + offsets[b, n, 1] + tile]
            for n, p in enumerate(perms[labels[b]])]) for b in range(batch_size)])
        return tiles, torch.from_numpy(labels)

    def probe_batch(self, batch_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, str]:
        """:meth:`batch` (the task's own inputs and targets, not the classification batch of
        :meth:`Task.probe_batch`) plus a SHA-256 digest of both, the score cache's key."""
        x, y = self.batch(batch_size, seed)
        h = hashlib.sha256(f"{self.name} {tuple(x.shape)}".encode())
        h.update(x.numpy().tobytes())
        h.update(y.numpy().tobytes())
        return x, y, h.hexdigest()[:16]

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """L1 reconstruction (autoencoder) or cross-entropy over the permutations (jigsaw), as the benchmark."""
        return F.l1_loss(output, target) if self.name == "autoencoder" else F.cross_entropy(output, target)
