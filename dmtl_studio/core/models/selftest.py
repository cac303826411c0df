"""``dmtl-studio --self-test``: prove that this installation works offline, from source or frozen.

Each check exercises one thing that a broken bundle gets wrong: the compiled torch and torchvision libraries,
the bundled pretrained weights, DataLoader worker processes (started with *spawn*, the start method of Windows
and macOS and the one a frozen application must handle itself), onnxruntime over an exported backbone (the
frozen feature pass on a CPU), safetensors, the project database, the demo generator, the bundled sentence encoder
(read offline with transformers) and WordNet (text augmentation). The caller adds checks that need Qt (the
composition root owns those). Every check runs even when an earlier one failed, so one report lists every
problem; the exit status is 0 only when all passed.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from dmtl_studio import __version__
from dmtl_studio.core.augment.text_selftest import check_text_augmentation

#: A check returns a one-line description of what it found, or raises with the reason it failed.
Check = Callable[[], str]

#: Pixels of the synthetic images in the training check: small, so two steps take a second on a CPU.
_TRAIN_SIZE = 64
_TRAIN_BATCH = 4
_TRAIN_WORKERS = 2

#: A fixed sentence and the first components of its all-MiniLM-L6-v2 embedding (float32 on the CPU), computed once
#: with sentence-transformers' ``SentenceTransformer(folder).encode`` (the reference implementation; the product's
#: own encoder gave the same values to the last bit). A bundle whose weights, tokenizer or pooling differ fails.
_TEXT_SENTENCE = "The technician repaired the broken pump before the morning shift."
_TEXT_REFERENCE = (-0.0736931, 0.0723147, 0.0949509, 0.0332464, 0.0111963, -0.0396205, 0.0354974, 0.0538615)
_TEXT_TOLERANCE = 1e-4


class SelfTestFailure(Exception):
    """A check whose result is wrong (as opposed to one that crashed); the message says what was expected."""


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    seconds: float


class SyntheticImages(Dataset):
    """Deterministic noise images for the training check, with the id of the worker that made each one.

    Defined at module level so that it pickles by reference into spawned worker processes.
    """

    def __init__(self, count: int, size: int, num_classes: int) -> None:
        self.count = count
        self.size = size
        self.num_classes = num_classes

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int]:
        generator = torch.Generator().manual_seed(index)
        image = torch.randn(3, self.size, self.size, generator=generator)
        info = torch.utils.data.get_worker_info()
        return image, index % self.num_classes, -1 if info is None else info.id


def frozen() -> bool:
    """True inside a PyInstaller bundle."""
    return bool(getattr(sys, "frozen", False))


def describe_installation() -> str:
    where = (
        f"frozen bundle in {Path(sys.executable).parent}" if frozen() else f"from source ({sys.executable})"
    )
    return f"DMTL Studio {__version__}, Python {platform.python_version()} on {platform.platform()}, {where}"


def pick_device(requested: str = "auto") -> torch.device:
    """``cuda`` when asked or available, then Apple's ``mps``, else ``cpu``."""
    if requested == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if requested == "cuda":
        raise SelfTestFailure("a CUDA device was requested but torch sees none")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def describe_device(device: torch.device) -> str:
    """What the training device is, and what this torch build could use."""
    build = f"torch built with CUDA {torch.version.cuda}" if torch.version.cuda else "CPU-only torch build"
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        name = torch.cuda.get_device_name(index)
        memory = torch.cuda.get_device_properties(index).total_memory / 2**30
        return f"cuda:{index} {name} ({memory:.0f} GiB; {build})"
    if device.type == "mps":
        return f"mps (Apple GPU; {build})"
    visible = "no CUDA device visible" if torch.version.cuda else "no GPU support in this build"
    return f"cpu, {torch.get_num_threads()} thread(s) ({build}; {visible})"


# ---------------------------------------------------------------------------------------------- the checks
def check_torch() -> str:
    import timm
    import torchvision
    from torchvision.ops import nms

    value = (torch.arange(6, dtype=torch.float32).reshape(2, 3) @ torch.ones(3, 1)).flatten().tolist()
    if value != [3.0, 12.0]:
        raise SelfTestFailure(f"a 2x3 matrix product gave {value}, expected [3.0, 12.0]")
    # nms lives in torchvision's compiled extension: this fails when its library was left out or mismatched.
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]])
    kept = nms(boxes, torch.tensor([0.9, 0.8, 0.7]), iou_threshold=0.5).tolist()
    if kept != [0, 2]:
        raise SelfTestFailure(f"torchvision.ops.nms kept {kept}, expected [0, 2]")
    return f"torch {torch.__version__}, torchvision {torchvision.__version__} (compiled ops), timm {timm.__version__}"


def check_bundled_weights() -> str:
    from dmtl_studio.core.models.pretrained import BUNDLED

    found = []
    for arch, weights in sorted(BUNDLED.items()):
        path = weights.path()
        if not path.is_file():
            raise SelfTestFailure(f"the pretrained weights of {arch} are missing: {path}")
        found.append(f"{arch} ({path.stat().st_size / 2**20:.1f} MiB)")
    return ", ".join(found)


def check_training(device: torch.device) -> str:
    """Two optimiser steps of the default classifier, from its pretrained weights, fed by spawned workers."""
    from dmtl_studio.core.models.catalog import DEFAULT_BACKBONE
    from dmtl_studio.core.models.classifier import ModelSpec, build_classifier

    torch.manual_seed(0)
    model = build_classifier(ModelSpec(DEFAULT_BACKBONE, num_classes=2), pretrained=True).to(device)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    loader = DataLoader(
        SyntheticImages(2 * _TRAIN_BATCH, _TRAIN_SIZE, num_classes=2),
        batch_size=_TRAIN_BATCH,
        num_workers=_TRAIN_WORKERS,
        multiprocessing_context="spawn",
        timeout=300,  # a worker that cannot start fails the check instead of hanging it
    )
    losses: list[float] = []
    workers: set[int] = set()
    for images, targets, worker_ids in loader:
        loss = torch.nn.functional.cross_entropy(model(images.to(device)), targets.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.item()))
        workers.update(int(w) for w in worker_ids)
    if len(losses) != 2 or not all(torch.isfinite(torch.tensor(losses))):
        raise SelfTestFailure(f"expected 2 finite losses, got {losses}")
    if workers != set(range(_TRAIN_WORKERS)):
        raise SelfTestFailure(
            f"batches came from workers {sorted(workers)}, expected {_TRAIN_WORKERS} workers"
        )
    return (
        f"2 steps of {DEFAULT_BACKBONE} on {device.type}, loss {losses[0]:.3f} -> {losses[1]:.3f}, "
        f"{_TRAIN_WORKERS} spawned DataLoader workers"
    )


def check_onnxruntime() -> str:
    """The frozen feature pass's CPU engine: the default backbone exported to ONNX and run by onnxruntime, its
    features equal to PyTorch's (``core/models/feature_engine.py``; exports and ``predict`` of ``.onnx`` use both)."""
    import onnxruntime

    from dmtl_studio.core.models.catalog import DEFAULT_BACKBONE
    from dmtl_studio.core.models.classifier import create_backbone
    from dmtl_studio.core.models.feature_engine import check_session, export_backbone, session_for

    backbone = create_backbone(DEFAULT_BACKBONE, pretrained=True).eval()
    shape = (3, _TRAIN_SIZE, _TRAIN_SIZE)
    session = session_for(export_backbone(backbone, shape), threads=1)
    difference = check_session(session, backbone, shape)
    return (
        f"onnxruntime {onnxruntime.__version__}: {DEFAULT_BACKBONE} exported and run, features within "
        f"{difference:.1e} of PyTorch's (relative)"
    )


def check_safetensors(folder: Path) -> str:
    from safetensors.torch import load_file, save_file

    generator = torch.Generator().manual_seed(1)
    tensors = {
        "weight": torch.randn(16, 8, generator=generator),
        "half": torch.randn(4, 4, generator=generator).half(),
        "index": torch.arange(10, dtype=torch.int64),
    }
    path = folder / "round-trip.safetensors"
    save_file(tensors, str(path), metadata={"product": "DMTL Studio"})
    loaded = load_file(str(path))
    if set(loaded) != set(tensors):
        raise SelfTestFailure(f"read back tensors {sorted(loaded)}, wrote {sorted(tensors)}")
    for name, tensor in tensors.items():
        if loaded[name].dtype != tensor.dtype or not torch.equal(loaded[name], tensor):
            raise SelfTestFailure(f"tensor '{name}' changed in the round trip")
    return f"{len(tensors)} tensors ({path.stat().st_size} bytes) written and read back identical"


def check_project_database(folder: Path) -> str:
    """The demo generator writes pictures, a project imports them, and a second connection reads them back."""
    from dmtl_studio.core.project.demo import CLASSES, write_shapes_folder
    from dmtl_studio.core.project.importer import import_folder
    from dmtl_studio.core.project.store import ProjectStore

    images = write_shapes_folder(folder / "images", per_class=2, seed=7, size=48)
    project = folder / "project"
    with ProjectStore.create(project) as store:
        summary = import_folder(store, images, val_fraction=0.5, seed=0)
        store.set_meta("self-test", "round trip")
    if summary.problems:
        raise SelfTestFailure(f"generated pictures could not be imported: {summary.problems}")
    with ProjectStore.open(project) as store:
        names = sorted(store.class_names())
        count = store.image_count()
        meta = store.get_meta("self-test")
        integrity = store.integrity_check()
    expected = 2 * len(CLASSES)
    if names != sorted(CLASSES) or count != expected or meta != "round trip":
        raise SelfTestFailure(
            f"read back classes {names}, {count} images, meta {meta!r}; "
            f"expected {sorted(CLASSES)}, {expected} images, 'round trip'"
        )
    if integrity != "ok":
        raise SelfTestFailure(f"SQLite integrity check: {integrity}")
    return f"{count} generated pictures in {len(names)} classes imported, reopened, integrity ok"


def check_data_folder() -> str:
    """The application's data folder (settings, demos, imported weights, logs) can be made and written: the window
    cannot start without it (a read-only home, a home that does not exist, ``DMTL_STUDIO_HOME`` naming a file)."""
    from dmtl_studio.core.base.paths import AppDataError, app_data_dir

    try:
        folder = app_data_dir()
        probe = folder / f".self-test-{os.getpid()}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except AppDataError as exc:
        raise SelfTestFailure(str(exc)) from None
    except OSError as exc:
        raise SelfTestFailure(f"the application's data folder {folder} cannot be written: {exc}") from None
    return f"{folder} is writable"


def check_text_encoder() -> str:
    """The bundled sentence encoder loads offline and embeds a fixed sentence as the reference implementation does.

    Runs on the CPU (the training check covers the device): a 384-d unit vector whose first components are
    within 1e-4 of :data:`_TEXT_REFERENCE`.
    """
    from dmtl_studio.core.models.text_catalog import DEFAULT_TEXT_ENCODER, resolve_text_encoder
    from dmtl_studio.core.models.text_encoder import load_text_encoder

    folder = resolve_text_encoder(DEFAULT_TEXT_ENCODER)
    embedding = load_text_encoder(DEFAULT_TEXT_ENCODER).encode([_TEXT_SENTENCE])
    if tuple(embedding.shape) != (1, 384):
        raise SelfTestFailure(
            f"the embedding of a sentence has shape {tuple(embedding.shape)}, expected (1, 384)"
        )
    norm = float(embedding.norm())
    if abs(norm - 1.0) > _TEXT_TOLERANCE:
        raise SelfTestFailure(f"the embedding has norm {norm:.6f}, expected 1 (normalised)")
    first = embedding[0, : len(_TEXT_REFERENCE)]
    error = float((first - torch.tensor(_TEXT_REFERENCE)).abs().max())
    if error > _TEXT_TOLERANCE:
        raise SelfTestFailure(
            f"the embedding starts {[round(v, 6) for v in first.tolist()]}, expected {list(_TEXT_REFERENCE)} "
            f"(max difference {error:.2g} > {_TEXT_TOLERANCE:g})"
        )
    weights = sum(path.stat().st_size for path in folder.glob("*.safetensors")) / 2**20
    return (
        f"{DEFAULT_TEXT_ENCODER} read offline from {folder} ({weights:.0f} MiB): 384-d unit embedding, "
        f"first {len(_TEXT_REFERENCE)} components as the reference (max difference {error:.1g})"
    )


# ---------------------------------------------------------------------------------------------- running
def run_checks(
    checks: Sequence[tuple[str, Check]], report: Callable[[CheckResult], None] | None = None
) -> list[CheckResult]:
    """Run every check (a failure does not stop the others); ``report`` sees each result as it comes."""
    results = []
    for name, check in checks:
        started = time.perf_counter()
        try:
            detail, ok = check(), True
        except Exception as exc:  # a self-test reports every failure instead of stopping at the first
            detail, ok = f"{type(exc).__name__}: {exc}", False
        result = CheckResult(name, ok, detail, time.perf_counter() - started)
        if report is not None:
            report(result)
        results.append(result)
    return results


def _print_result(result: CheckResult) -> None:
    status = "ok  " if result.ok else "FAIL"
    print(f"  {status} {result.name:<18} {result.detail}  [{result.seconds:.1f} s]", flush=True)


def main(argv: Sequence[str], extra_checks: Sequence[tuple[str, Check]] = ()) -> int:
    """Run the self-test, print what was checked and the device; return 0 when everything passed.

    Parameters
    ----------
    argv
        Arguments after ``--self-test``: ``--device auto|cpu|cuda``.
    extra_checks
        Checks run after the core ones (the Qt platform check, which core may not import).
    """
    parser = argparse.ArgumentParser(prog="dmtl-studio --self-test", description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    args = parser.parse_args(list(argv))
    started = time.perf_counter()
    print(f"DMTL Studio self-test: {describe_installation()}", flush=True)
    try:
        device = pick_device(args.device)
        device_text = describe_device(device)
    except Exception as exc:
        print(f"  FAIL device             {type(exc).__name__}: {exc}", flush=True)
        return 1
    print(f"  device: {device_text}", flush=True)
    with tempfile.TemporaryDirectory(prefix="dmtl-self-test-") as temp:
        folder = Path(temp)
        checks: list[tuple[str, Check]] = [
            ("torch/torchvision", check_torch),
            ("bundled weights", check_bundled_weights),
            ("training", lambda: check_training(device)),
            ("onnxruntime", check_onnxruntime),
            ("safetensors", lambda: check_safetensors(folder)),
            ("project database", lambda: check_project_database(folder)),
            ("data folder", check_data_folder),
            ("text encoder", check_text_encoder),
            ("text augmentation", check_text_augmentation),
            *extra_checks,
        ]
        results = run_checks(checks, _print_result)
    failed = [r for r in results if not r.ok]
    seconds = time.perf_counter() - started
    if failed:
        names = ", ".join(r.name for r in failed)
        print(
            f"self-test FAILED: {len(failed)} of {len(results)} checks ({names}) in {seconds:.1f} s",
            flush=True,
        )
        return 1
    print(f"self-test passed: {len(results)} checks in {seconds:.1f} s on {device_text}", flush=True)
    return 0
