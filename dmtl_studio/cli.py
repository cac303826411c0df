"""The headless ``dmtl-studio`` commands; the same core pipeline as the window.

Progress goes to stderr and results to stdout; with ``--json`` stdout holds the JSON summary alone and everything
else goes to stderr (:func:`~dmtl_studio.cli_output.json_mode`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import unicodedata
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from dmtl_studio import __version__, cli_explain, cli_remove, cli_text
from dmtl_studio.cli_output import add_json_option, json_mode, output_folders, print_json
from dmtl_studio.core.base.durations import spoken_duration
from dmtl_studio.core.models.text_catalog import DEFAULT_TEXT_ENCODER
from dmtl_studio.core.training.config import TrainConfig, setting, value_type

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from dmtl_studio.core.augment.recipe import Recipe
    from dmtl_studio.core.project.interop import LabelImportSummary
    from dmtl_studio.core.training.crossval import CrossValidationInterrupted
    from dmtl_studio.core.training.events import EventHandlers, FoldResult

COMMANDS = (
    "new",
    "info",
    "import",
    "train",
    "predict",
    "labels",
    "backup",
    "splits",
    "weights",
    "bench",
    "evaluate",
    "explain",
    "export",
    "report",
    "audit",
    "label-errors",
    "duplicates",
    "repair",
    "remove",
)


class _Progress:
    """A one-line progress bar on stderr, redrawn at most 10 times a second."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.last = 0.0
        self.tty = sys.stderr.isatty()

    def update(self, done: int, total: int, extra: str = "") -> None:
        if total <= 0:  # nothing to count (every item's work was cached): no bar at all
            return
        now = time.monotonic()
        if done < total and now - self.last < 0.1:
            return
        self.last = now
        width = 30
        filled = int(width * done / max(1, total))
        line = f"{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {extra}"
        if self.tty:
            sys.stderr.write("\r" + line[:150].ljust(150))
            if done >= total:
                sys.stderr.write("\n")
        elif done >= total or now - getattr(self, "_last_line", 0.0) > 2.0:
            self._last_line = now
            sys.stderr.write(line + "\n")
        sys.stderr.flush()


def _split_options(p: argparse.ArgumentParser) -> None:
    """--val-fraction, --test-fraction, --seed: the project's own values when it has some, else the defaults."""
    from dmtl_studio.core.project.splits import DEFAULT_SEED, DEFAULT_TEST_FRACTION, DEFAULT_VAL_FRACTION

    p.add_argument(
        "--val-fraction",
        type=float,
        default=None,
        help=f"share of each class for validation (default: the project's, else {DEFAULT_VAL_FRACTION:g})",
    )
    p.add_argument(
        "--test-fraction",
        type=float,
        default=None,
        help="share of each class kept for the final evaluation (default: the project's, else "
        f"{DEFAULT_TEST_FRACTION:g})",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help=f"the split's random seed (default: the project's, else {DEFAULT_SEED})",
    )


def _path(text: str) -> Path:
    """A path from the command line, made absolute where it comes in (see :func:`absolute_path`); an empty one is
    refused (it would otherwise mean the current folder, as ``new ""`` once made a project there)."""
    from dmtl_studio.core.base.paths import absolute_path

    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path; name a file or folder (. for the current folder)")
    return absolute_path(text)


def _positive_seconds(text: str) -> float:
    """A duration in seconds above 0 (``bench --seconds``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text}: give a time above 0 seconds, e.g. 0.5")
    return value


#: Preset names ``train --help`` gives as examples of ``--recipe NAME`` (checked against the presets by the tests).
RECIPE_EXAMPLES = {"images": ("light", "heavy", "strong"), "text": ("eda_light", "eda_mixup")}


class _Parser(argparse.ArgumentParser):
    """argparse's parser, whose refusal of an unknown option says how to give a value that starts with "-" (a
    class named "-dash" was refused as an option, h30)."""

    def error(self, message: str) -> NoReturn:
        if "unrecognized arguments: -" in message:
            value = message.split("unrecognized arguments: ", 1)[1].split()[0]
            if not value.startswith("--"):  # "--epcohs" is a mistyped option, not a value (h36)
                message += (
                    f" (if {value} is a value, put it after '--', which ends the options: … -- {value})"
                )
        super().error(message)


def _parser() -> argparse.ArgumentParser:
    from dmtl_studio.core.base.csvfile import MAX_FIELD_CHARS, MAX_ROWS

    parser = _Parser(
        prog="dmtl-studio",
        description="Turn a folder of images, or a file of texts, into a trained classifier.",
        epilog="Without a command it opens the window: dmtl-studio [PROJECT_DIR], or dmtl-studio --demo (--demo-text) "
        "on a demo project made on first use. dmtl-studio --self-test checks the installation (PyTorch, the "
        "bundled weights and encoder, onnxruntime, the data folder, Qt). dmtl-studio COMMAND --help explains a "
        "command.",
    )
    parser.add_argument("--version", action="version", version=f"DMTL Studio {__version__}")
    sub = parser.add_subparsers(dest="command")

    cli_text.add_commands(sub, _path)
    p = sub.add_parser(
        "import",
        help="import a folder of images (sub-folders are classes) into a project, or texts: a folder of .txt "
        "files (sub-folders are classes) or a CSV/TSV/JSON Lines file; the project's kind follows the source",
    )
    p.add_argument("project_dir", type=_path)
    p.add_argument("images_dir", type=_path, metavar="source")
    _split_options(p)
    p.add_argument(
        "--no-split-folders",
        dest="split_folders",
        action="store_false",
        help="read every top folder as a class, even one named like a split (train/, valid/, dev/, test/…)",
    )
    cli_text.add_import_options(p)
    add_json_option(p)

    p = sub.add_parser(
        "splits",
        help="assign every labelled image (or text) a new stratified train/validation/test split",
    )
    p.add_argument("project_dir", type=_path)
    _split_options(p)

    p = sub.add_parser("train", help="train a classifier on a project's labelled images (or texts)")
    p.add_argument("project_dir", type=_path)
    _config_options(p)  # every setting but the recipe, a file given with --recipe
    p.add_argument(
        "--recipe",
        type=_path,
        default=None,
        help="augmentation recipe: a .json file, or the name of a preset of the project's kind (images: "
        f"{', '.join(RECIPE_EXAMPLES['images'])}…; texts: {', '.join(RECIPE_EXAMPLES['text'])}…)",
    )
    p.add_argument(
        "--folds",
        type=int,
        default=None,
        metavar="K",
        help="k-fold cross-validation over the labelled images (or texts): mean ± std accuracy (runs named cv-…)",
    )
    p.add_argument(
        "--resume",
        type=_path,
        default=None,
        metavar="RUN_DIR",
        help="continue a stopped run with its own settings and recipe (--epochs sets its length anew: more than "
        "the epochs it has done)",
    )
    _distributed_options(p)
    add_json_option(p)

    p = sub.add_parser(
        "labels",
        help="export or import a project's labels (CSV path,label or class folders), rename or merge a class",
    )
    p.add_argument("action", choices=("export-csv", "import-csv", "export-folders", "rename"))
    p.add_argument("project_dir", type=_path)
    p.add_argument(
        "path",
        help=f"the CSV file (import: at most {MAX_ROWS:,} rows, fields up to {MAX_FIELD_CHARS:,} characters; "
        "cells that would run as spreadsheet formulas are written with a leading '), the (new, empty) folder "
        "to export into, or (rename) the class to rename",
    )
    p.add_argument(
        "new_name",
        nargs="?",
        metavar="NEW",
        help="rename: the class's new name; a class of that name already there gets the images (a merge)",
    )
    p.add_argument(
        "--merge",
        action="store_true",
        help="rename: when a class named NEW exists, move every item of OLD into it (cannot be undone); without "
        "it such a rename is refused, as in the window",
    )
    p.add_argument(
        "--unlabel-empty",
        action="store_true",
        help="import-csv: an empty label cell unlabels the item (by default it keeps its label)",
    )
    p.add_argument(
        "--encoding",
        default=None,
        type=cli_text.encoding_option,
        help="import-csv: the CSV's text encoding when it has no byte-order mark, e.g. cp1252 (what Excel on "
        "Windows writes for a CSV); export-csv: the encoding to write, e.g. utf-8-sig or cp1252 (default UTF-8)",
    )

    cli_remove.add_command(sub, _path)

    p = sub.add_parser("backup", help="copy a project's database safely, even while the app has it open")
    p.add_argument("project_dir", type=_path)
    p.add_argument("destination", type=_path, help="a new file name for the copy")

    p = sub.add_parser(
        "repair",
        help="check a project's database; with --drop-unknown, remove objects DMTL Studio did not make",
    )
    p.add_argument("project_dir", type=_path)
    p.add_argument(
        "--drop-unknown",
        action="store_true",
        help="drop triggers, views, tables and indexes that DMTL Studio did not create (copy the folder first)",
    )

    p = sub.add_parser(
        "weights",
        help="list backbones and text encoders available offline, or import a weights file or an encoder folder",
    )
    weights = p.add_subparsers(dest="weights_command", required=True)
    weights.add_parser(
        "list", help="every backbone and text encoder with its size and where its weights come from"
    )
    w = weights.add_parser(
        "import", help="check a .safetensors/.pth file against an architecture and keep it"
    )
    w.add_argument("file", type=_path)
    w.add_argument("--arch", required=True, help="backbone name, e.g. torchvision/resnet18 or timm/resnet50")
    cli_text.add_encoder_commands(weights, _path)

    p = sub.add_parser("bench", help="speed of the augmentation engine vs torchvision")
    p.add_argument("what", choices=("augment",))
    p.add_argument("--seconds", type=_positive_seconds, default=0.5, help="time per operation and engine")
    p.add_argument("--loader", action="store_true", help="also measure DataLoader scaling with workers")

    p = sub.add_parser(
        "predict",
        help="predict every image of a folder (or the texts of a file, folder or table) with a run or an export",
    )
    p.add_argument(
        "run_dir", type=_path, help="a run folder, an exported .onnx/.pt file or safetensors folder"
    )
    p.add_argument(
        "images_dir",
        type=_path,
        metavar="INPUT",
        help="images: a folder or one image; texts: a .txt file, a folder of .txt files, or a CSV/TSV/JSONL file",
    )
    p.add_argument("--out", type=_path, required=True, help="CSV file to write")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    sure = p.add_mutually_exclusive_group()
    sure.add_argument(
        "--reject-below",
        type=float,
        default=None,
        metavar="P",
        help="write 'unsure' as the label of images whose top probability is below P (0-1)",
    )
    sure.add_argument(
        "--target-accuracy",
        type=float,
        default=None,
        metavar="A",
        help="write 'unsure' below the threshold at which the run reaches accuracy A on its validation split",
    )
    cli_text.add_predict_options(p)

    p = sub.add_parser("evaluate", help="a run's metrics on the test split (validation split if none)")
    p.add_argument("run_dir", type=_path)
    p.add_argument("--project", type=_path, default=None, help="the project (default: the run's own)")
    add_json_option(p)

    cli_explain.add_command(sub, _path)

    p = sub.add_parser("export", help="export a run as ONNX, TorchScript or safetensors + JSON")
    p.add_argument("run_dir", type=_path)
    p.add_argument("--format", choices=("onnx", "torchscript", "safetensors"), required=True)
    p.add_argument("--out", type=_path, required=True, help="file (.onnx, .pt) or new folder (safetensors)")

    p = sub.add_parser("report", help="write a run's self-contained HTML report")
    p.add_argument("run_dir", type=_path)
    p.add_argument("--out", type=_path, default=None, help="HTML file (default RUN_DIR/report.html)")

    p = sub.add_parser(
        "audit",
        help="write a run's audit bundle: model, model card with confidence intervals, report, image (or text) "
        "hashes",
    )
    p.add_argument("run_dir", type=_path)
    p.add_argument(
        "--out", type=_path, required=True, help="the zip file to write (an existing file is refused)"
    )
    p.add_argument("--project", type=_path, default=None, help="the project (default: the run's own)")
    p.add_argument(
        "--no-label-check", action="store_true", help="skip the search for label errors (a feature pass)"
    )
    p.add_argument("--onnx", action="store_true", help="also put the model's ONNX export in the bundle")

    p = sub.add_parser(
        "label-errors",
        help="rank the labelled images (or texts) whose label is most likely wrong (confident learning, k-fold)",
    )
    p.add_argument("project_dir", type=_path)
    p.add_argument(
        "--folds", type=int, default=5, metavar="K", help="folds of the out-of-fold probabilities (default 5)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the folds")
    _feature_options(p)
    add_json_option(p)

    p = sub.add_parser(
        "duplicates",
        help="groups of identical and near-identical images (or texts), with split leaks and label conflicts",
    )
    p.add_argument("project_dir", type=_path)
    p.add_argument(
        "--features",
        action="store_true",
        help="also compare frozen features (finds more crops; a feature pass); a text project's embeddings are "
        "always compared",
    )
    p.add_argument(
        "--keep-in-one-split",
        action="store_true",
        help="move each group that spans splits into the split holding most of it (train on a tie)",
    )
    _feature_options(p)
    add_json_option(p)
    return parser


def _distributed_options(p: argparse.ArgumentParser) -> None:
    """One run over several processes or machines, started with torchrun (see docs/distributed.md)."""
    from dmtl_studio.core.training.launch import DEFAULT_PORT, DEFAULT_TIMEOUT_S, LR_RULES

    g = p.add_argument_group("distributed training (torchrun; see docs/distributed.md)")
    g.add_argument(
        "--nproc-per-node",
        type=int,
        default=None,
        metavar="N",
        help="train with N processes on this machine (one per GPU; on the CPU, Gloo), started by torchrun",
    )
    g.add_argument("--nnodes", type=int, default=1, metavar="M", help="machines in the run (default 1)")
    g.add_argument("--node-rank", type=int, default=0, metavar="R", help="this machine's number, 0 to M-1")
    g.add_argument(
        "--master-addr", default="127.0.0.1", metavar="A", help="address of machine 0 (default 127.0.0.1)"
    )
    g.add_argument(
        "--master-port",
        type=int,
        default=DEFAULT_PORT,
        metavar="P",
        help=f"rendezvous port on machine 0 (default {DEFAULT_PORT})",
    )
    g.add_argument(
        "--sync-bn", action="store_true", help="BatchNorm statistics over all processes (SyncBatchNorm; CUDA)"
    )
    g.add_argument(
        "--lr-scaling",
        choices=LR_RULES,
        default="linear",
        help="learning rates × N processes (linear, default), × sqrt(N) (sqrt) or unchanged (none); the batch "
        "size is per process",
    )
    g.add_argument(
        "--dist-timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="S",
        help=f"seconds a process waits for the others before the run fails (default {DEFAULT_TIMEOUT_S:g})",
    )


def _feature_options(p: argparse.ArgumentParser) -> None:
    """Options naming the frozen backbone whose features a data-quality check reads."""
    _config_options(p, only=("backbone", "input_size", "device"), base=TrainConfig())


#: The command line serves both kinds of project: settings whose help speaks of images, in words for both.
_BOTH_KINDS_HELP = {
    "backbone": "a name from 'dmtl-studio weights list'",
    "epochs": "passes over the training images (or texts)",
    "batch_size": "images (or texts) per training step",
    "unlabelled": "DMTL: unlabelled images (or texts) join the consistency term",
    "unlabelled_ratio": "unlabelled images (or texts) per labelled one",
}


def _config_options(
    p: argparse.ArgumentParser,
    only: tuple[str, ...] | None = None,
    base: TrainConfig | None = None,
) -> None:
    """Add an option per setting of :class:`TrainConfig`, built from the setting's own help, choices and default.

    Every option's value is ``None`` unless given (see :func:`_given_settings`), so the defaults stay the
    configuration's: ``base`` (:meth:`TrainConfig.recommended` if not given) is only what the help shows.
    """
    shown = base if base is not None else TrainConfig.recommended()
    for f in fields(TrainConfig):
        rule = setting(f.name)
        if rule.flag is None or (only is not None and f.name not in only):
            continue
        default = getattr(shown, f.name)
        flag = option_flag(f.name)
        if value_type(f.name) is bool:
            if default:  # on unless switched off
                flag = option_flag(f.name, False)
                off = rule.off_help or f"no {rule.help}"
                p.add_argument(
                    flag, dest=f.name, action="store_const", const=False, help=off.replace("%", "%%")
                )
                # The switch on stays accepted (scripts written before it became the default).
                if not rule.flag:
                    p.add_argument(
                        option_flag(f.name),
                        dest=f.name,
                        action="store_const",
                        const=True,
                        help=argparse.SUPPRESS,
                    )
            else:
                p.add_argument(flag, dest=f.name, action="store_const", const=True, help=rule.help)
            continue
        text = _BOTH_KINDS_HELP.get(f.name, rule.help)
        if f.name == "backbone":  # each kind has its own
            text += f" (default {default} for images, {DEFAULT_TEXT_ENCODER} for texts)"
        elif default is not None:
            text += f" (default {default:g})" if isinstance(default, float) else f" (default {default})"
        p.add_argument(
            flag,
            dest=f.name,
            type=value_type(f.name),
            choices=rule.choices or None,
            default=None,
            metavar=rule.metavar,
            help=text.replace("%", "%%"),
        )


def option_flag(name: str, value: object = None) -> str:
    """The command-line option of the setting ``name``: its own flag, else ``--name-with-dashes``; for a switch
    given as off (``value`` False), ``--no-name-with-dashes``, the form a setting that is on by default takes."""
    rule = setting(name)
    if rule.flag:
        return rule.flag
    stem = name.replace("_", "-")
    return f"--no-{stem}" if value is False and value_type(name) is bool else f"--{stem}"


def _given_settings(args: argparse.Namespace) -> dict[str, object]:
    """The settings given on the command line (options left out are ``None``).

    A setting without an option of its own (the recipe, given as a file with ``--recipe``) is never taken here.
    """
    return {
        f.name: v
        for f in fields(TrainConfig)
        if setting(f.name).flag is not None and (v := getattr(args, f.name, None)) is not None
    }


def train_config(args: argparse.Namespace, kind: str = "images") -> TrainConfig:
    """The configuration ``train``'s options describe: the recommended one with the options given.

    Parameters
    ----------
    args
        The parsed command line of ``train``.
    kind
        The project's kind: a ``"text"`` project's backbone is the default text encoder unless ``--backbone``
        names one.

    Returns
    -------
    TrainConfig
        :meth:`TrainConfig.recommended` with every option that was given.

    Raises
    ------
    ConfigError
        An option's value cannot be used (the message names the setting).
    """
    given = _given_settings(args)
    if kind == "text" and "backbone" not in given:
        given["backbone"] = DEFAULT_TEXT_ENCODER
    return TrainConfig.recommended(**given)


def _project_kind(folder: str | os.PathLike[str]) -> str:
    """The kind of the project in ``folder``; ``"images"`` when there is no project there (``train`` then says so)."""
    from dmtl_studio.core.project.store import ProjectError, ProjectStore, is_project

    if not is_project(folder):
        return "images"
    # Read-only: in a distributed run every rank asks, and only rank 0 may open the project writable. A project
    # that cannot be read so (one that needs a migration first) is left to the run, which opens it and says why.
    try:
        with ProjectStore.open(folder, read_only=True) as store:
            return store.kind
    except ProjectError:
        return "images"


def _quality_config(args: argparse.Namespace) -> object:
    # The stored defaults, not the recommended run: a feature pass reads only backbone, size, device and batch.
    return TrainConfig(**_given_settings(args))


#: Unicode categories written escaped: control characters, lone surrogates (bytes that are not UTF-8), line and
#: paragraph separators; and the bidirectional overrides, which would reorder the rest of the line.
_ESCAPED = frozenset({"Cc", "Cs", "Zl", "Zp"})
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _printable(path: str) -> str:
    """``path`` on one line: a newline, tab or other control character in a name is written escaped (``\\n``),
    as the class names of the same lines are; spaces of every kind and letters stay as they are."""
    return "".join(repr(c)[1:-1] if c in _BIDI or unicodedata.category(c) in _ESCAPED else c for c in path)


def _print_class_counts(counts: dict[str, dict[str, int]]) -> None:
    for name, c in counts.items():
        print(f"  {name}: {c['total']} (train {c['train']}, val {c['val']}, test {c['test']})")


def _cmd_import(args: argparse.Namespace) -> int:
    from dmtl_studio.core.project.folder_scan import scan_folder
    from dmtl_studio.core.project.importer import import_folder, split_layout
    from dmtl_studio.core.project.splits import check_fractions
    from dmtl_studio.core.project.store import ProjectStore, is_project

    # Wrong fractions are refused before a project is made or a file read (they were checked after the import).
    if not is_project(args.project_dir):
        check_fractions(
            args.val_fraction, args.test_fraction
        )  # a new project's: the defaults where not given
    if cli_text.is_text_import(args):
        bar = _Progress("import")
        return cli_text.cmd_import_texts(args, bar.update, _ctrl_c_stops())
    if not args.images_dir.is_dir():
        why = (
            "is a file, not a folder of images or of .txt files, nor a CSV/TSV/JSON Lines table"
            if args.images_dir.exists()
            else "does not exist"
        )
        print(f"dmtl-studio import: {args.images_dir} {why}", file=sys.stderr)
        return 2
    scan = scan_folder(args.images_dir)
    if not scan.files and not is_project(
        args.project_dir
    ):  # a project's own emptied folder: core marks it gone
        skipped = f"; {len(scan.skipped)} other file(s) are not images" if scan.skipped else ""
        print(
            f"dmtl-studio import: {args.images_dir} holds no image files (sub-folders included){skipped}",
            file=sys.stderr,
        )
        return 2
    # A layout that would mislabel is refused before a project is made.
    if args.split_folders:
        split_layout(args.images_dir, scan.files)
    bar = _Progress("import")
    with ProjectStore.create(args.project_dir) as store:
        summary = import_folder(
            store,
            args.images_dir,
            val_fraction=args.val_fraction,
            test_fraction=args.test_fraction,
            seed=args.seed,
            progress=lambda done, total, name: bar.update(done, total),
            should_stop=_ctrl_c_stops(),
            scan=scan,
            split_folders=args.split_folders,
        )
        counts = store.class_counts()
    print(_printable(summary.describe()))
    _print_class_counts(counts)
    for line in summary.describe_split():
        print(line)
    for path, note in summary.notes:
        print(f"  note: {_printable(path)}: {note}")
    for path in scan.skipped[:5]:
        print(f"  skipped (not an image): {_printable(str(path))}")
    if len(scan.skipped) > 5:
        print(f"  ... and {len(scan.skipped) - 5} more non-image file(s)")
    for path, reason in summary.problems:
        print(f"  problem: {_printable(path)}: {reason}", file=sys.stderr)
    if args.json:
        split = summary.split
        print_json(
            {
                "scanned": summary.scanned,
                "added": summary.added,
                "labelled": summary.labelled,
                "unlabelled": summary.unlabelled,
                "kept_labels": summary.kept_labels,
                "kept_unlabelled": summary.kept_unlabelled,
                "left_removed": [{"path": p, "removal_list": log} for p, log in summary.left_removed],
                "classes": list(summary.classes),
                "problems": [{"path": p, "reason": r} for p, r in summary.problems],
                "notes": [{"path": p, "note": n} for p, n in summary.notes],
                "skipped": summary.skipped,
                "split_folders": dict(summary.split_folders),
                "split": split.totals() if split else None,
                "val_fraction": split.settings.val_fraction if split else None,
                "test_fraction": split.settings.test_fraction if split else None,
                "split_warnings": list(split.warnings) if split else [],
                "label_conflicts": [
                    {"labels": list(c.labels), "paths": list(c.paths)} for c in summary.conflicts
                ],
                "cancelled": summary.cancelled,
            }
        )
    if summary.cancelled:
        print(
            f"dmtl-studio import: interrupted; the {summary.added} image(s) read before are kept, with their splits: "
            "import the folder again to add the rest (images already in the project are not added twice)",
            file=sys.stderr,
        )
        return 130
    return 0


def _ctrl_c_stops() -> Callable[[], bool]:
    """A ``should_stop`` for work that keeps what it has done when it ends early (an import): the first Ctrl-C
    asks it to stop at its next check (it then finishes its bookkeeping: the images read get their splits); a
    second one interrupts at once. A process started with SIGINT ignored keeps ignoring it."""
    import signal

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        return lambda: False
    asked: list[int] = []

    def on_sigint(signum: int, frame: object) -> None:
        if asked:
            raise KeyboardInterrupt
        asked.append(signum)

    signal.signal(signal.SIGINT, on_sigint)
    return lambda: bool(asked)


def _run_config(args: argparse.Namespace, say_unused: bool = True) -> TrainConfig:
    """The configuration ``train`` runs: the options', a stopped run's own with --resume, the --recipe file's; with
    ``say_unused``, a note for each option given that the run will not use."""
    from dmtl_studio.core.training.settings import ConfigError

    if args.resume is not None:
        config = _resumed_config(args, say=say_unused)
        if say_unused:
            ignored = [
                option_flag(name) for name in _given_settings(args) if name not in ("epochs", "device")
            ]
            ignored += ["--recipe"] if args.recipe is not None else []
            if ignored:
                print(
                    f"note: {', '.join(ignored)} {'is' if len(ignored) == 1 else 'are'} not used: a continued run "
                    "keeps its own settings and recipe (only --epochs and --device may change)",
                    file=sys.stderr,
                )
        return config
    kind = _project_kind(args.project_dir)
    config = train_config(args, kind)
    if say_unused:
        _say_unused(config, args, kind)
    if args.recipe is not None:
        from dmtl_studio.core.augment.registry import RecipeError

        try:
            config = config.with_changes(recipe=recipe_option(args.recipe, kind).to_dict())
        except RecipeError as exc:
            raise ConfigError(str(exc)) from None
    else:
        config = _with_project_recipe(args.project_dir, config, say=say_unused)
    return config


def _with_project_recipe(project_dir: Path, config: TrainConfig, say: bool = True) -> TrainConfig:
    """``config`` with the recipe the project keeps (edited in the window), when it keeps one; with ``say``, a
    line saying so."""
    from dmtl_studio.core.project.errors import ProjectError
    from dmtl_studio.core.project.store import ProjectStore, is_project
    from dmtl_studio.core.training.project_recipe import project_recipe

    if not is_project(project_dir):
        return config  # the run says what is missing
    try:
        with ProjectStore.open(project_dir) as store:
            recipe, problem = project_recipe(store)
    except ProjectError:
        return config  # the run opens the project and says why it cannot
    if problem is not None and say:
        print(
            f"warning: {problem.rstrip('.')}; the default recipe is used (--recipe NAME|FILE chooses one)",
            file=sys.stderr,
        )
    if recipe is None:
        return config
    if say:
        print(
            f"recipe: the project's own, '{recipe.name}' ({len(recipe.steps)} step(s), as the window's "
            "Augmentation recipe area shows it); --recipe NAME|FILE chooses another",
            file=sys.stderr,
        )
    return config.with_changes(recipe=recipe.to_dict())


def _say_unused(config: TrainConfig, args: argparse.Namespace, kind: str) -> None:
    """A note on standard error for each option given that this run will not use, and why (none without a project
    there: the run then says what is missing, and the project's kind is unknown)."""
    from dmtl_studio.core.project.store import is_project
    from dmtl_studio.core.training.unused_options import unused_settings

    if not is_project(args.project_dir):
        return
    from dmtl_studio.core.project.store import ProjectStore

    with ProjectStore.open(args.project_dir, read_only=True) as store:
        if sum(1 for counts in store.class_counts().values() if counts["total"]) < 2:  # the run will refuse
            return
    if not _backbone_usable(config.backbone, kind):
        return  # the run refuses the backbone and says why: no notes on options before that
    given = _given_settings(args)
    for name, reason in unused_settings(config, given, kind):
        print(f"note: {option_flag(name, given[name])} is not used: {reason}", file=sys.stderr)


def _backbone_usable(backbone: str, kind: str) -> bool:
    """Whether a run of a ``kind`` project can start from ``backbone``: the run's own first check passes (a known
    image backbone with weights on this computer, or a name a text run accepts)."""
    from dmtl_studio.core.models.architectures import WeightsError
    from dmtl_studio.core.models.catalog import UnknownBackbone
    from dmtl_studio.core.models.pretrained import weights_found
    from dmtl_studio.core.models.text_catalog import TextEncoderError
    from dmtl_studio.core.models.text_classifier import run_text_encoder

    try:
        if kind == "text":
            run_text_encoder(backbone)
        else:
            weights_found(backbone)
    except (TextEncoderError, UnknownBackbone, WeightsError):
        return False
    return True


def recipe_option(path: Path, kind: str) -> Recipe:
    """The recipe ``train --recipe`` names: the recipe file ``path``, else the preset of ``kind`` named as its last
    part (``--recipe strong``; a file of that name in the current folder wins).

    Raises
    ------
    RecipeError
        A file that is not a recipe, a preset of the other kind, or neither a file nor a preset (the message
        lists the presets of ``kind``).
    """
    from dmtl_studio.core.augment.presets import presets
    from dmtl_studio.core.augment.recipe import load_recipe
    from dmtl_studio.core.augment.registry import RecipeError

    if path.exists():
        return load_recipe(path)
    other = "text" if kind == "images" else "images"
    if path.name in presets(kind):
        return presets(kind)[path.name]
    names = ", ".join(presets(kind))
    items = "text" if kind == "text" else "image"
    if path.name in presets(other):
        raise RecipeError(
            f"'{path.name}' is a preset for {other}; the presets of this {items} project are {names}"
        )
    raise RecipeError(f"no recipe file {path} and no {items} preset named '{path.name}' (presets: {names})")


def _launch_train(args: argparse.Namespace) -> int:
    """``train --nproc-per-node N``: check, then run torchrun's launcher on this machine and wait."""
    from dmtl_studio.core.training.launch import (
        LaunchInterrupted,
        LaunchPlan,
        check_images,
        check_port,
        launch,
        launch_options,
        worker_arguments,
    )
    from dmtl_studio.core.training.settings import ConfigError

    if args.folds is not None:
        raise ConfigError("cross-validation (--folds) runs in one process; leave out --nproc-per-node")
    plan = LaunchPlan(args.nproc_per_node, args.nnodes, args.node_rank, args.master_addr, args.master_port)
    plan.check()
    check_port(plan)
    from dmtl_studio.core.training.distributed import check_devices

    check_devices(args.sync_bn, args.device or TrainConfig.recommended().device, plan.nproc_per_node)
    if plan.node_rank == 0:  # the machine whose rank 0 writes the project (no process of the run has started)
        config = _run_config(args)
        check_images(args.project_dir, plan.world_size, 1 if config.transfer == "frozen" else 2)
    worker = worker_arguments(args.argv)
    print(f"note: {plan.world_size} processes: {plan.command_line(worker)}", file=sys.stderr, flush=True)
    # Rank 0 repeats these options in the command that continues the run after Ctrl-C.
    os.environ[LAUNCH_OPTIONS_VARIABLE] = json.dumps(launch_options(plan))
    try:
        launch(plan, worker)
    except LaunchInterrupted:
        if plan.node_rank != 0:  # rank 0, on the first machine, says what was kept
            print(
                "dmtl-studio train: interrupted; this machine's processes were stopped (the first machine "
                "says what was kept and how to continue)",
                file=sys.stderr,
            )
        return 130
    return 0


def _distributed_train(args: argparse.Namespace, world: object, on_event: EventHandlers) -> object:
    """One process of a distributed run (started by torchrun): join, take rank 0's configuration, train."""
    from dmtl_studio.core.training import distributed
    from dmtl_studio.core.training.run import train
    from dmtl_studio.core.training.settings import ConfigError

    if args.folds is not None:
        raise ConfigError("cross-validation (--folds) runs in one process, not under torchrun")
    should_stop = distributed.stop_on_terminate()
    distributed.interrupt_once()
    distributed.start(world, args.device or TrainConfig.recommended().device)
    try:
        resolved: object = None
        if world.is_main:
            try:
                resolved = _run_config(args, say_unused=False)  # the launcher said it
            except Exception as exc:  # noqa: BLE001 - every rank raises it, not rank 0 alone
                resolved = exc
        resolved = distributed.broadcast(resolved, world)
        if isinstance(resolved, Exception):
            raise resolved
        handlers = on_event if world.is_main else None
        summary = train(args.project_dir, resolved, handlers, should_stop, args.resume, world=world)
    except (
        RuntimeError
    ) as exc:  # a collective failed: another rank died or hung (the process group is dead too)
        plain = distributed.lost_contact(exc, world)
        if plain is None:
            raise
        raise plain from None
    distributed.stop()
    return summary


def _cmd_train(args: argparse.Namespace) -> int:
    from dmtl_studio.core.training.launch import DistributedOptions

    # Started by torchrun (it sets RANK and WORLD_SIZE): one process of a distributed run.
    world = None
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        from dmtl_studio.core.training.distributed import World

        world = World.from_environment(DistributedOptions(args.lr_scaling, args.sync_bn, args.dist_timeout))
    elif args.nproc_per_node is not None:
        return _launch_train(args)  # the launcher itself needs no model library until torchrun starts
    from dmtl_studio.core.training.events import (
        EpochResult,
        EventHandlers,
        PhaseStarted,
        PreparationProgress,
        RunNotice,
        StepProgress,
    )
    from dmtl_studio.core.training.run import train

    config = _run_config(args) if world is None else None
    bar = _Progress("train")
    items, rate, model = (
        ("texts", "texts/s", "encoder")
        if _project_kind(args.project_dir) == "text"
        else ("images", "img/s", "backbone")
    )

    def step(event: StepProgress) -> None:
        if event.phase == "probe":  # one step per L2 strength tried: its cross-validated loss, not a batch's
            bar.label = "linear probe"
            bar.update(
                event.step, event.steps, f"C {event.learning_rate:.3g} tried: held-out loss {event.loss:.3f}"
            )
            return
        bar.label = f"epoch {event.epoch}/{event.epochs}"
        left = f", about {spoken_duration(event.eta_seconds)} left in the run" if event.eta_seconds else ""
        bar.update(
            event.step, event.steps, f"loss {event.loss:.3f} {event.images_per_second:.0f} {rate}{left}"
        )

    def epoch(event: EpochResult) -> None:
        val = (
            f" val_loss {event.val_loss:.4f} val_acc {event.val_accuracy:.3f}"
            if event.val_accuracy is not None
            else ""
        )
        # With the DMTL objective: the consistency term and the share it kept (with the FixMatch rule, the share of
        # unlabelled images that had a confident enough pseudo-label).
        dmtl = (
            f" consistency {event.consistency_loss:.4f} kept {event.consistency_mask:.0%}"
            if event.consistency_loss is not None and event.consistency_mask is not None
            else ""
        )
        if event.probe_c is not None:  # one fit to convergence: its figures on the items it was fitted on
            held_out = f"; on the validation split{val}" if val else ""
            line = (
                f"linear probe fitted (C = {event.probe_c:.3g}): on its training items (their cached views) loss "
                f"{event.train_loss:.4f} "
                f"acc {event.train_accuracy:.3f}{held_out} (for held-out figures: dmtl-studio evaluate)"
            )
        else:
            line = f"epoch {event.epoch}/{event.epochs}: loss {event.train_loss:.4f} acc {event.train_accuracy:.3f}{val}"
        print(f"{line}{dmtl}", file=sys.stderr, flush=True)

    adapted = []  # the contrastive step ran: the encoder is no longer the pretrained one

    def preparation(event: PreparationProgress) -> None:
        # The time left, as the window shows it: a scientist can tell whether to wait or come back later.
        left = (
            f", about {spoken_duration(event.eta_seconds)} left"
            if event.eta_seconds and event.done < event.total
            else ""
        )
        if event.phase == "contrastive":
            adapted.append(True)
            bar.label = "contrastive"
            bar.update(
                event.done,
                event.total,
                f"steps adapting the {model} to the labels, {event.seconds:.0f} s{left}",
            )
            return
        bar.label = "features"
        reused = f", {event.reused} reused from the cache" if event.reused else ""
        bar.update(
            event.done,
            event.total,
            # Each item counts once per view (clean and augmented): "views", not items.
            f"{items[:-1]} views through the {'adapted' if adapted else 'frozen'} {model}{reused}, "
            f"{event.seconds:.0f} s{left}",
        )

    def notice(event: RunNotice) -> None:
        print(f"note: {event.message}", file=sys.stderr, flush=True)

    def phase(event: PhaseStarted) -> None:
        print(f"auto: phase {event.phase} of {event.phases}, {event.title}", file=sys.stderr, flush=True)

    on_event = EventHandlers(
        step=_pipe_safe(step),
        preparation=_pipe_safe(preparation),
        epoch=_pipe_safe(epoch),
        notice=_pipe_safe(notice),
        phase=_pipe_safe(phase),
    )
    if world is not None:
        try:
            summary = _distributed_train(args, world, on_event)
        except KeyboardInterrupt as exc:  # Ctrl-C reaches every rank: rank 0 alone says what was kept
            return _report_interrupted(args, exc, _relaunch_options()) if world.is_main else 130
        if not world.is_main:
            return 0
    elif args.folds is not None:
        return _cross_validate(args, config, on_event)
    else:
        try:
            summary = train(
                args.project_dir,
                config,
                on_event=on_event,
                should_stop=_ctrl_c_never_lost(),
                resume_from=args.resume,
            )
        # A RunInterrupted names the run it kept; a Ctrl-C before the run began (a text encoder's contrastive
        # step) has none to name.
        except KeyboardInterrupt as exc:
            return _report_interrupted(args, exc)
    if not summary.run_dir:  # stopped while the run was prepared (a text encoder's contrastive step)
        print(f"run {summary.status} before it began training; nothing was kept")
    elif summary.removed:  # stopped before its first epoch: no empty run is kept
        print(f"run {summary.status} before its first epoch ended; only the computed features were kept")
    else:
        print(f"run {summary.status}: {summary.run_dir}")
        if "auto" in summary.metrics:
            print(_auto_choice(summary.metrics["auto"], summary.run_dir))
    if args.json:
        print_json(summary.to_dict())
    return 0


def _pipe_safe(handler: Callable[[Any], None]) -> Callable[[Any], None]:
    """``handler`` (it writes progress to stderr), made to go on when stderr's reader has gone (``train … 2>&1 |
    head``): the run is not failed for it; what it would write is dropped from then on."""

    def safe(event: Any) -> None:  # noqa: ANN401 - any event kind
        try:
            handler(event)
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stderr.fileno())

    return safe


def _auto_choice(choice: dict, run_dir: str) -> str:
    """An Auto run's result in words: which run was kept and why, its folder, and the other run's if it stays."""
    lines = [choice["note"], f"kept run: {run_dir}"]
    other, which = (
        (choice.get("finetune_run"), "fine-tune")
        if choice["kept"] == "probe"
        else (choice.get("probe_run"), "linear probe")
    )
    if other:
        lines.append(f"the {which}'s run stays in the project's history: {other}")
    return "\n".join(lines)


#: Where ``train --nproc-per-node`` tells its processes its own options (a JSON list), for the resume command.
LAUNCH_OPTIONS_VARIABLE = "DMTL_STUDIO_LAUNCH_OPTIONS"


def _relaunch_options() -> list[str]:
    """In a process of a distributed run: the launcher options that start the same run again (those given to
    ``train --nproc-per-node``, or the equivalent of torchrun's own)."""
    given = os.environ.get(LAUNCH_OPTIONS_VARIABLE)
    if given:
        return list(json.loads(given))
    local = os.environ.get("LOCAL_WORLD_SIZE", os.environ.get("WORLD_SIZE", "1"))
    nodes = int(os.environ.get("WORLD_SIZE", local)) // max(1, int(local))
    return ["--nproc-per-node", local] + (["--nnodes", str(nodes)] if nodes > 1 else [])


def _report_interrupted(
    args: argparse.Namespace, interrupt: KeyboardInterrupt, launch: Sequence[str] = ()
) -> int:
    """Ctrl-C during ``train``: which run is kept, the command that continues it (with the options ``launch`` of
    a distributed run), the JSON; exit status 130."""
    import shlex

    sys.stderr.write("\n")  # after a progress bar's unfinished line
    summary = getattr(interrupt, "summary", None)
    if summary is None:  # while the run was prepared (a text encoder's contrastive step, processes joining)
        text = _project_kind(args.project_dir) == "text"
        what = "the encoder's contrastive step or the feature pass" if text else "the feature pass"
        cached = (
            "no run was kept, so the next run prepares it again"
            if text
            else "no run was kept, and the features computed so far are cached: the next run does not compute "
            "them again"
        )
        print(
            f"dmtl-studio train: interrupted while the run was prepared ({what}), before its first epoch; {cached}",
            file=sys.stderr,
        )
        if args.json:
            print_json({"status": "interrupted", "run_dir": None, "epochs_completed": 0})
        return 130
    if summary.removed:
        print(
            "dmtl-studio train: interrupted before the first epoch was saved; the run was not kept (start it "
            "again)",
            file=sys.stderr,
        )
    else:
        command = ["dmtl-studio", "train", str(args.project_dir), *launch, "--resume", summary.run_dir]
        if args.device:
            command += ["--device", args.device]
        print(f"run interrupted after epoch {summary.epochs_completed}: {summary.run_dir}")
        print(
            f"dmtl-studio train: interrupted; the run is kept in {summary.run_dir} with its {summary.epochs_completed} "
            f"saved epoch(s); continue it with: {shlex.join(command)}",
            file=sys.stderr,
        )
    if args.json:
        print_json(summary.to_dict())
    return 130


def _ctrl_c_never_lost() -> Callable[[], bool]:
    """A ``should_stop`` for a training run in this process that makes sure Ctrl-C (or SIGTERM) is never lost.

    Ctrl-C raises ``KeyboardInterrupt`` at once, as always; but Python drops an exception raised while a finalizer
    runs (it only prints "Exception ignored in …"), and a Ctrl-C landing there left the run training. So the signal
    is also noted, and the engine's next check (each batch and step) raises it again when it was lost. Once the
    interrupt has propagated, the run is unwinding and makes no further check. A process started with SIGINT
    ignored (a background job of a shell script) keeps ignoring it, as Python itself does.
    """
    import signal

    pending: list[int] = []

    def on_sigint(signum: int, frame: object) -> None:
        pending.append(signum)
        raise KeyboardInterrupt

    def check() -> bool:
        if pending:
            pending.clear()
            raise KeyboardInterrupt
        return False

    # A batch scheduler's time limit or cancel (SLURM), or `kill`: stop as Ctrl-C does, keeping the saved epochs
    # and printing the command that continues the run (it died without a word). Also in a background job of a
    # script (`train … & wait`), which starts with Ctrl-C ignored; a handler of this module's is replaced.
    if (
        signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None)
        or getattr(signal.getsignal(signal.SIGTERM), "__module__", None) == __name__
    ):
        signal.signal(signal.SIGTERM, on_sigint)
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # else started with Ctrl-C ignored: kept so
        signal.signal(signal.SIGINT, on_sigint)
    return check


def _cross_validate(args: argparse.Namespace, config: TrainConfig, on_event: EventHandlers) -> int:
    from dataclasses import replace

    from dmtl_studio.core.training.crossval import CrossValidationInterrupted, cross_validate

    def fold(event: FoldResult) -> None:
        print(
            f"fold {event.fold}/{event.folds}: accuracy {event.accuracy:.3f}"
            + (f", balanced {event.balanced_accuracy:.3f}" if event.balanced_accuracy is not None else "")
            + f" ({event.train_images} train, {event.test_images} held out)",
            file=sys.stderr,
            flush=True,
        )

    report = replace(on_event, fold=fold)
    try:
        result = cross_validate(
            args.project_dir, config, args.folds, on_event=report, should_stop=_ctrl_c_never_lost()
        )
    except CrossValidationInterrupted as exc:
        return _report_cv_interrupted(args, exc)
    _print_folds(result.folds)
    print(result.describe())
    if args.json:
        print_json(result.to_dict())
    return 0


def _print_folds(folds: Sequence[FoldResult]) -> None:
    print("fold  train  held-out  accuracy  balanced")
    for fold in folds:
        balanced = "n/a" if fold.balanced_accuracy is None else f"{fold.balanced_accuracy:.3f}"
        print(
            f"{fold.fold:4d}  {fold.train_images:5d}  {fold.test_images:8d}  {fold.accuracy:8.3f}  {balanced:>8}"
        )


def _report_cv_interrupted(args: argparse.Namespace, exc: CrossValidationInterrupted) -> int:
    """Ctrl-C during ``train --folds``: the folds that finished, the interrupted fold's run, that a cross-validation
    is started again rather than continued; the JSON; exit status 130."""
    import shlex

    sys.stderr.write("\n")  # after a progress bar's unfinished line
    done = len(exc.completed)
    if done:
        _print_folds(exc.completed)
    kept = (
        f"fold {exc.fold}'s run is kept as interrupted in {exc.fold_run_dir}"
        if exc.fold_run_dir
        else f"fold {exc.fold} had not saved an epoch and was not kept"
    )
    finished = (
        f"{done} of {exc.folds} fold(s) finished and their runs are kept ("
        + ", ".join(f.run_dir for f in exc.completed)
        + ")"
        if done
        else f"no fold of {exc.folds} finished"
    )
    print(
        f"dmtl-studio train: cross-validation interrupted during fold {exc.fold}/{exc.folds}; {finished}; {kept}. "
        "A cross-validation cannot be continued (no --resume): its mean needs every fold, so run it again "
        f"from the start: {shlex.join(['dmtl-studio', *args.argv])}",
        file=sys.stderr,
    )
    if args.json:
        print_json(exc.to_dict())
    return 130


def _resumed_config(args: argparse.Namespace, say: bool = True) -> object:
    """A stopped run's own configuration; only --epochs (and the device) may change when continuing it."""
    from dmtl_studio.core.project.store import ProjectStore
    from dmtl_studio.core.training.config import TrainConfig
    from dmtl_studio.core.training.errors import TrainingError

    with ProjectStore.open(args.project_dir) as store:
        run = store.run_at(args.resume)
        epochs = store.epoch_metrics(run.id) if run is not None else []
    if run is None:
        raise TrainingError(f"{args.resume} is not a run of {args.project_dir}")
    if getattr(args, "folds", None) is not None:
        raise TrainingError(
            "--resume continues one run and --folds starts a cross-validation anew: give one of them"
        )
    from dmtl_studio.core.training.run import refuse_resuming_fold

    refuse_resuming_fold(run.name)
    config = TrainConfig.from_dict(run.config)
    if config.fits_linear_probe:
        raise TrainingError(
            f"run {run.name} fitted its head as a linear probe, to convergence: it has no epochs to continue and "
            "nothing was trained. To fit it again, start a new run (leave out --resume); to train the head by "
            "epochs, start one with --no-linear-probe"
        )
    done = max((row.epoch for row in epochs), default=0)
    if args.epochs is not None and args.epochs <= done and run.status != "completed":
        raise TrainingError(
            f"run {run.name} has done {done} epoch(s) already; --epochs {args.epochs} would leave nothing to train. "
            f"Give --epochs more than {done}, or leave it out to finish its {config.epochs}"
        )
    if run.status == "completed" and (args.epochs is None or args.epochs <= done):
        longer = (
            f"--epochs more than {done}"
            if args.epochs is None
            else f"--epochs more than {done}, not {args.epochs}"
        )
        import shlex

        raise TrainingError(
            f"run {run.name} is already completed ({done} epoch(s)); nothing was trained. To train it longer, "
            f"give {longer}; to train again, start a new run (leave out --resume); to measure it: dmtl-studio "
            f"evaluate {shlex.quote(str(run.run_dir))}"
        )
    changes: dict = {"device": args.device or TrainConfig.recommended().device}
    if args.epochs is not None:
        changes["epochs"] = args.epochs
        # A shorter plan than the run's: said (once: a distributed run's launcher says it, its ranks do not).
        if say and args.epochs < config.epochs:
            print(
                f"note: run {run.name} was planned for {config.epochs} epochs; --epochs {args.epochs} ends it "
                f"sooner, and its learning-rate schedule follows the new plan from epoch {done + 1}",
                file=sys.stderr,
            )
    return config.with_changes(**changes)


def _cmd_weights(args: argparse.Namespace) -> int:
    from dmtl_studio.core.models import catalog

    if args.weights_command == "import-encoder":
        return cli_text.cmd_import_encoder(args)
    if args.weights_command == "import":
        from dmtl_studio.core.models.weights import import_weights

        entry, check = import_weights(args.file, args.arch)
        print(f"imported {args.file.name} for {args.arch}: {check.describe()}")
        print(f"  stored as {entry.path()} (sha256 {entry.sha256}; original sha256 {entry.source_sha256})")
        return 0
    print(f"{'backbone':34} {'params':>8} {'input':>5} {'stages':>6}  weights")
    for row in catalog.list_backbones():
        info, status = row.info, row.status
        print(
            f"{info.name:34} {info.parameters_text:>8} {info.input_size:>5} {info.stages:>6}  {status.state}"
        )
        print(f"    {status.path if status.available else status.reason}")
    cli_text.print_text_encoders()
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from dmtl_studio.core.training.augment_benchmark import (
        format_loader,
        format_report,
        loader_scaling,
        run_benchmark,
    )

    if args.loader:
        print(format_loader(loader_scaling()), end="\n\n", flush=True)
    print(format_report(run_benchmark(seconds=args.seconds, recipe_seconds=4 * args.seconds)))
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    reject_below = args.reject_below
    if reject_below is not None and not 0.0 <= reject_below <= 1.0:
        print(
            f"dmtl-studio predict: --reject-below must be a probability between 0 and 1, not {reject_below}",
            file=sys.stderr,
        )
        return 2
    from dmtl_studio.core.evaluation.exported_model import model_modality

    modality = model_modality(args.run_dir)
    if modality is None:  # what the model is not is said before where the predictions go
        _refuse_missing_or_project(
            args.run_dir,
            "a run folder (PROJECT/runs/NAME), an exported .onnx or .pt file, or a safetensors export",
        )
        if args.run_dir.is_dir():
            from dmtl_studio.core.models.run_folder import read_sidecar

            read_sidecar(args.run_dir)  # a folder without a model: says so (and names an export inside it)
    _refuse_predict_output(args)
    if args.device == "cuda":
        _check_cuda_for_predict()
    with output_folders(args.out):
        return _predict(args, modality, reject_below)


def _predict(args: argparse.Namespace, modality: str, reject_below: float | None) -> int:
    """``predict`` once its model, input and output are checked."""
    from dmtl_studio.core.evaluation.exported_model import is_run_folder
    from dmtl_studio.core.evaluation.predict import NoImagesError, predict_folder, predict_with
    from dmtl_studio.core.quality.reject import RejectError

    bar = _Progress("predict")
    if modality == "text":
        return cli_text.cmd_predict_texts(args, reject_below, lambda d, t: bar.update(d, t))
    for option, value in (("--text-column", args.text_column), ("--id-column", args.id_column)):
        if value is not None and modality == "images":  # not a model at all: loading it below says why
            print(
                f"dmtl-studio predict: {option} is for text models; {args.run_dir} is an image model",
                file=sys.stderr,
            )
            return 2
    try:
        if is_run_folder(args.run_dir) or not args.run_dir.exists():
            loaded = None
            if args.target_accuracy is not None:
                from dmtl_studio.core.models.checkpoint import load_checkpoint
                from dmtl_studio.core.quality.reject import describe_threshold, validation_threshold

                loaded = load_checkpoint(args.run_dir, device=args.device)
                chosen = validation_threshold(args.run_dir, args.target_accuracy, loaded=loaded)
                reject_below = chosen.threshold
                print(describe_threshold(chosen, args.target_accuracy))
            summary = predict_folder(
                args.run_dir,
                args.images_dir,
                args.out,
                device=args.device,
                progress=lambda d, t: bar.update(d, t),
                reject_below=reject_below,
                loaded=loaded,
            )
        else:  # an exported model: .onnx (onnxruntime), TorchScript, with its sidecar
            if args.target_accuracy is not None:
                print(
                    f"dmtl-studio predict: --target-accuracy needs a run folder inside its project (its validation split); "
                    f"{args.run_dir} is an exported model: give --reject-below P instead",
                    file=sys.stderr,
                )
                return 2
            summary = predict_with(
                args.run_dir,
                args.images_dir,
                args.out,
                progress=lambda d, t: bar.update(d, t),
                reject_below=reject_below,
            )
    except RejectError as exc:
        print(f"dmtl-studio predict: {exc}", file=sys.stderr)
        return 2
    except NoImagesError as exc:
        print(f"dmtl-studio predict: {exc}", file=sys.stderr)
        return 2
    unread = (
        f"; {len(summary.problems)} file(s) could not be read (rows with an error)"
        if summary.problems
        else ""
    )
    sure_note = f" ({summary.unsure} written as 'unsure')" if reject_below is not None else ""
    print(f"predicted {len(summary.predictions)} image(s) -> {args.out}{sure_note}{unread}")
    if summary.note:
        print(f"note: {summary.note}", file=sys.stderr)
    skipped = summary.describe_skipped(args.images_dir, "images")  # as import says it: not predicted
    if skipped:
        print(skipped)
    if (noted := summary.describe_notes()) is not None:
        print(noted)
    if summary.problems:
        print(f"{len(summary.problems)} file(s) could not be read:", file=sys.stderr)
        for path, reason in summary.problems:
            print(f"  {path}: {reason}", file=sys.stderr)
    return 0 if summary.predictions else 1


def _refuse_predict_output(args: argparse.Namespace) -> None:
    """``predict --out`` never writes over a file: the CSV of an earlier prediction, or an input of this one.

    Raises
    ------
    OutputExistsError
        ``--out`` exists (the message says when it is one of the inputs or part of the model), or lies inside the
        folder being predicted.
    """
    from dmtl_studio.core.base.fileio import OutputExistsError, is_inside, refuse_existing

    what = None
    if is_inside(args.out, args.images_dir):
        same = is_inside(args.images_dir, args.out)
        what = (
            "the input being predicted" if same else f"inside the folder being predicted ({args.images_dir})"
        )
        if not same:  # as the window: the next predict of that folder would read the predictions as an input
            refuse_existing(args.out, what)
            raise OutputExistsError(
                f"{args.out} is {what}: choose a file outside it for the predictions (nothing was written)"
            )
    elif is_inside(args.out, args.run_dir):
        what = f"part of the model {args.run_dir}"
    refuse_existing(args.out, what)


def _check_cuda_for_predict() -> None:
    """``predict --device cuda`` on a machine whose GPU cannot be used: the error says so and what to do.

    Raises
    ------
    TrainingError
        No CUDA GPU is available, or it fails a simple check.
    """
    import torch

    from dmtl_studio.core.training.device import probe_device
    from dmtl_studio.core.training.errors import TrainingError

    instead = "predict on the CPU with --device cpu (the default)"
    if not torch.cuda.is_available():
        raise TrainingError(
            f"--device cuda: this machine has no usable CUDA GPU (or no driver for it); {instead}"
        )
    try:
        probe_device("cuda")
    except TrainingError as exc:
        raise TrainingError(f"--device cuda: {exc}; {instead}") from None


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from dmtl_studio.core.evaluation.inference import evaluate_run, project_of_run
    from dmtl_studio.core.project.errors import ProjectError

    project = args.project or project_of_run(args.run_dir)
    if project is None:
        _refuse_run_folder(args.run_dir)
        raise ProjectError(f"{args.run_dir} is not inside a project; name the project with --project")
    bar = _Progress("evaluate")
    result = evaluate_run(project, args.run_dir, progress=lambda d, t: bar.update(d, t))
    print(result.describe())
    if args.json:
        print_json(result.to_dict())
    return 0


def _refuse_run_folder(run_dir: Path) -> None:
    """Say what ``run_dir`` is when it is not a run folder: missing, a project, or a folder without a model.

    Raises
    ------
    ProjectError
        ``run_dir`` does not exist or is a project folder.
    CheckpointError
        ``run_dir`` holds no readable trained model.
    """
    from dmtl_studio.core.models.run_folder import read_sidecar

    _refuse_missing_or_project(run_dir, "a run folder (PROJECT/runs/NAME)")
    read_sidecar(run_dir)


def _refuse_missing_or_project(path: Path, expected: str) -> None:
    """Refuse ``path`` given for a model when it does not exist or is a project folder (``expected`` says what to
    give instead).

    Raises
    ------
    ProjectError
        ``path`` does not exist or is a project folder.
    """
    from dmtl_studio.core.project.errors import ProjectError
    from dmtl_studio.core.project.store import is_project

    if not path.exists():
        raise ProjectError(f"{path} does not exist; give {expected}")
    if is_project(path):
        raise ProjectError(f"{path} is a project, not a run: {_runs_hint(path)}")


def _runs_hint(project: Path) -> str:
    """What to give instead of ``project``: its latest run folder that holds a model (by the time its model was
    written), or how to train one when it has none."""
    from dmtl_studio.core.models.run_folder import SIDECAR_NAME
    from dmtl_studio.core.models.run_notes import not_kept_note
    from dmtl_studio.core.project.runs_table import CROSSVAL_PREFIX

    try:
        runs = [run for run in (project / "runs").iterdir() if (run / SIDECAR_NAME).is_file()]
    except OSError:  # no runs folder yet (or an unreadable one)
        runs = []
    if not runs:
        return f"it has no trained run yet; train one with: dmtl-studio train {project}"
    # Not a cross-validation fold (trained on part of the test split), nor an Auto fine-tune its probe beat.
    models = [run for run in runs if not run.name.startswith(CROSSVAL_PREFIX) and not not_kept_note(run)]
    latest = max(models or runs, key=lambda run: ((run / SIDECAR_NAME).stat().st_mtime, run.name))
    others = f" (or another of its {len(runs)} runs in {project / 'runs'})" if len(runs) > 1 else ""
    return f"give one of its runs, the latest is {latest}{others}"


def _cmd_export(args: argparse.Namespace) -> int:
    from dmtl_studio.core.evaluation.export import export_run, export_targets

    _refuse_run_folder(args.run_dir)  # a project or a folder without a model says so, as evaluate does
    _refuse_export_output(args)
    with output_folders(args.out):
        result = export_run(args.run_dir, args.format, args.out)
    print(
        f"exported {args.format} to {result.path} in {result.seconds:.1f} s (sidecar {result.sidecar.name})"
    )
    beside = [path.name for path in export_targets(args.run_dir, args.format, result.path)[2:]]
    if beside:  # a text model reads its tokens with them: they go wherever the model goes
        print(f"tokenizer files beside it (keep them with the model): {', '.join(beside)}")
    from dmtl_studio.core.evaluation.names_now import project_of_run
    from dmtl_studio.core.evaluation.run_state import run_state_note

    project = project_of_run(args.run_dir)
    state = run_state_note(project, args.run_dir) if project is not None else ""
    for note in (state, result.note):
        if note:
            print(f"note: {note}", file=sys.stderr)
    if result.max_abs_difference is not None:
        print(
            f"checked against PyTorch on a batch of {result.check_batch}: "
            f"max abs difference {result.max_abs_difference:.2e}"
        )
    return 0


def _refuse_export_output(args: argparse.Namespace) -> None:
    """``export`` never writes over a file: an earlier export, a file of the run, or one of the tokenizer files a
    text export puts beside its model, unless it holds the very bytes this export would write (an ONNX and a
    TorchScript export of one run share a folder). Every file is checked before anything is written.

    Raises
    ------
    OutputExistsError
        One of the files the export would write exists (the message says what it is).
    """
    from dmtl_studio.core.base.fileio import is_inside, refuse_existing
    from dmtl_studio.core.evaluation.export import export_targets, same_tokenizer_files
    from dmtl_studio.core.evaluation.exported_model import sidecar_path

    if args.format == "safetensors":
        return  # its folder must be new or empty: the export itself refuses any other before writing
    model, *others = export_targets(args.run_dir, args.format, args.out)
    shared = same_tokenizer_files(args.run_dir, others[1:])  # an earlier export's, byte for byte: shared
    for path in [model, *others]:
        if path in shared:
            continue
        remedy = "choose another file name"
        if is_inside(path, args.run_dir):
            what = f"part of the run {args.run_dir}"
        elif path == model:
            earlier = sidecar_path(path)
            what = (
                f"a model exported earlier (its sidecar {earlier.name} is beside it)"
                if earlier.exists()
                else None
            )
        elif path == sidecar_path(model):
            what = f"the sidecar of {model.name}, which this export writes"
        else:  # the tokenizer files keep their names: another model name in the same folder meets them again
            what = "a tokenizer file, which a text export writes beside its model"
            remedy = "export into another folder"
        refuse_existing(path, what, remedy)


def _cmd_explain(args: argparse.Namespace) -> int:
    _refuse_run_folder(args.run_dir)  # a project names its latest run, as evaluate and export do
    return cli_explain.cmd_explain(args)


def _cmd_report(args: argparse.Namespace) -> int:
    from dmtl_studio.core.base.fileio import refuse_existing
    from dmtl_studio.core.evaluation.report import is_report_file, write_report

    _refuse_run_folder(args.run_dir)
    # A report written earlier is written anew; any other file (the project's database, an image) is kept.
    if args.out is not None and not is_report_file(args.out):
        refuse_existing(args.out, "not a report DMTL Studio wrote")
    from dmtl_studio.core.base.fileio import FileWriteError

    try:
        with output_folders(args.out):
            path, result = write_report(args.run_dir, args.out)
    except FileWriteError as exc:
        if args.out is not None:
            raise
        raise FileWriteError(
            exc.path, f"{exc.reason} (write it elsewhere with --out FILE)", exc.errno
        ) from exc
    if result is not None and result.note:
        print(f"note: {result.note}")
    print(f"wrote {path}")
    return 0


def _cmd_audit(args: argparse.Namespace) -> int:
    import zipfile

    from dmtl_studio.core.quality.audit import write_audit_bundle

    _refuse_run_folder(args.run_dir)
    bar = _Progress("audit")
    with output_folders(args.out):
        args.out.parent.mkdir(parents=True, exist_ok=True)  # before the bundle's work, not after it
        path = write_audit_bundle(
            args.run_dir,
            args.out,
            project_dir=args.project,
            label_check=not args.no_label_check,
            onnx=args.onnx,
            progress=lambda done, total: bar.update(done, total),
        )
    with zipfile.ZipFile(path) as bundle:
        card = json.loads(bundle.read("model-card.json"))
    accuracy, issues = card["metrics"]["accuracy"], card["label_issues"]
    noun = "text" if card["data"].get("kind") == "text" else "image"
    scored = (
        f"accuracy {accuracy['value']:.1%} (95 % CI {accuracy['ci95'][0]:.1%}-{accuracy['ci95'][1]:.1%}) on "
        f"{accuracy['total']} {noun}(s) of the {card['metrics']['split_title']}"
        if accuracy["total"]
        else "nothing scored"
    )
    print(
        f"wrote {path}: {card['data']['images_listed']} labelled {noun} hash(es) (train, validation, test), {scored}, "
        f"{len(card['leaks']['warned'])} leak warning(s), label check "
        + (f"{len(issues['suspects'])} suspect(s)" if issues["checked"] else f"not run ({issues['reason']})")
    )
    if card["data"].get("fitted_listed") == 0 and card["data"]["images_listed"]:
        print(
            f"note: the run was fitted on none of the {card['data']['images_listed']} {noun}(s) listed: they are "
            "not its training data (another project's, or this project's changed since the run; the model card "
            "says so)",
            file=sys.stderr,
        )
    if card["metrics"].get("note"):  # what the evaluation said of its figures (optimistic, the split used…)
        print(f"note: {card['metrics']['note']}", file=sys.stderr)
    if card["data"].get("fitted_in_test"):
        print(
            f"note: {card['data']['fitted_in_test']} {noun}(s) in the test split hold the content of {noun}s this run "
            "was fitted on (identical copies in two splits, or the splits changed since it trained); the 'fitted' "
            "column of training-images.csv lists them",
            file=sys.stderr,
        )
    return 0


def _cmd_label_errors(args: argparse.Namespace) -> int:
    from dmtl_studio.core.quality.label_errors import find_label_errors

    bar = _Progress("features")
    report = find_label_errors(
        args.project_dir,
        folds=args.folds,
        config=_quality_config(args),
        on_progress=lambda done, total, seconds: bar.update(done, total),
    )
    noun = "text" if _project_kind(args.project_dir) == "text" else "image"
    print(
        f"{len(report.suspects)} suspected label error(s) among {report.images} labelled {noun}(s) "
        f"({report.folds} folds; score = 1 - probability of the given label)"
    )
    caveat = report.caveat(noun)
    if caveat:
        print(f"note: {caveat}", file=sys.stderr)
    if report.gone:
        print(
            f"note: {len(report.gone)} labelled {noun}(s) left out, their files gone since the import:",
            file=sys.stderr,
        )
        _print_some(list(report.gone))
    if report.suspects:
        print("score\tgiven\tsuggested\tpath")
    for suspect in report.suspects:
        print(f"{suspect.score:.3f}\t{suspect.given}\t{suspect.suggested}\t{suspect.path}")
    if args.json:
        print_json(report.to_dict())
    return 0


def _cmd_duplicates(args: argparse.Namespace) -> int:
    from dmtl_studio.core.project.store import ProjectStore
    from dmtl_studio.core.quality.duplicates import find_duplicates, keep_group_in_one_split

    text = _project_kind(args.project_dir) == "text"
    bar = _Progress("embed" if text else "hash")
    report = find_duplicates(
        args.project_dir,
        use_features=args.features,
        config=_quality_config(args),
        on_progress=lambda done, total: bar.update(done, total),
    )
    warned = sum(1 for group in report.groups if group.warnings)
    print(
        f"{len(report.groups)} group(s) of duplicates among {report.images} {'text' if text else 'image'}(s), "
        f"{warned} with warnings"
    )
    moved = []
    words: dict[int, str] = {}
    if text and report.groups:  # a text's key (notes.csv#12) says nothing of it: its first words (h38)
        with ProjectStore.open(args.project_dir, read_only=True) as store:
            words = {
                m.image_id: " ".join(store.text(m.image_id).split()) for g in report.groups for m in g.members
            }
    for number, group in enumerate(report.groups, start=1):
        print(f"group {number} ({group.kind}, {len(group.members)} {'texts' if text else 'images'})")
        for warning in group.warnings:
            print(f"  warning: {warning}")
        for member in group.members:
            # In a group of near-duplicates, byte-identical members are said: a copy is a stronger finding.
            copy = "\t(identical copy)" if group.kind == "near" and group.identical(member) else ""
            said = words.get(member.image_id, "")
            said = f"\t{said[:60]}{'…' if len(said) > 60 else ''}" if said else ""
            print(f"  {member.split or 'none'}\t{member.label or '(unlabelled)'}\t{member.path}{copy}{said}")
        if args.keep_in_one_split and len(group.splits) > 1:
            with ProjectStore.open(args.project_dir) as store:
                split = keep_group_in_one_split(store, [m.image_id for m in group.members])
            changed = sum(m.split != split for m in group.members)
            moved.append({"group": number, "split": split, "moved": changed})
            print(f"  kept in one split: {split} ({changed} moved)")
    for path in report.unreadable:
        print(f"  not compared (cannot be read): {path}", file=sys.stderr)
    if moved:
        total = sum(entry["moved"] for entry in moved)
        print(
            f"kept {len(moved)} group(s) in one split: {total} {'text' if text else 'image'}(s) changed split"
        )
    if args.json:
        print_json({**report.to_dict(), "kept_in_one_split": moved})
    return 0


def _cmd_labels(args: argparse.Namespace) -> int:
    from dmtl_studio.core.project.errors import ProjectError
    from dmtl_studio.core.project.images_table import missing_files_notice
    from dmtl_studio.core.project.interop import export_csv, export_imagefolder, import_csv
    from dmtl_studio.core.project.store import ProjectStore

    # An option the action does not take is refused, not ignored (export-csv --encoding wrote UTF-8, h29).
    unused = [
        option
        for option, given, takes in (
            ("--encoding", args.encoding is not None, ("import-csv", "export-csv")),
            ("--unlabel-empty", args.unlabel_empty, ("import-csv",)),
            ("--merge", args.merge, ("rename",)),
        )
        if given and args.action not in takes
    ]
    if unused:
        raise ProjectError(f"{args.action} does not take {' or '.join(unused)}: nothing was done")
    if args.action == "rename":
        return _rename_class(args)
    if args.new_name is not None:
        raise ProjectError(
            f"{args.action} takes one PATH; {args.new_name!r} is one too many: nothing was done"
        )
    path = _path(args.path)
    with ProjectStore.open(args.project_dir) as store:
        if args.action == "export-csv":
            _refuse_label_csv(path, args.project_dir)
            with output_folders(path):
                path.parent.mkdir(parents=True, exist_ok=True)  # as predict, export and report make theirs
                try:
                    written = export_csv(store, path, encoding=args.encoding)
                except ValueError as exc:  # a character the encoding asked for cannot write
                    raise ProjectError(f"{path}: {exc}") from None
            print(f"wrote {written} label(s) to {path}")
        elif args.action == "export-folders":
            done = "wrote {} labelled text(s)" if store.kind == "text" else "copied {} labelled image(s)"
            gone = store.mark_missing_files()
            if gone:
                print(f"note: {missing_files_notice(gone)}", file=sys.stderr)
            with output_folders(path):  # the folders above the export's own folder
                copied = export_imagefolder(store, path)
            noun = "text" if store.kind == "text" else "image"
            print(
                f"{done.format(copied)} into {path}"
                if copied
                else f"no labelled {noun} to export; nothing written"
            )
        else:
            summary = import_csv(store, path, unlabel_empty=args.unlabel_empty, encoding=args.encoding)
            _print_label_import(summary, "text(s)" if store.kind == "text" else "image(s)")
            skipped = len(summary.problems) + len(summary.not_found)
            if skipped and not (
                summary.labelled or summary.added or summary.unlabelled or summary.empty_kept
            ):
                print(f"dmtl-studio labels: none of the {skipped} row(s) could be applied", file=sys.stderr)
                return 2
    return 0


def _print_label_import(summary: LabelImportSummary, items: str) -> None:
    """What ``labels import-csv`` did: counts on stdout, what it left out on stderr."""
    from dmtl_studio.core.project.validation import describe_case_variants

    print(
        f"labelled {summary.labelled} {items} ({summary.changed} changed, {summary.unchanged} unchanged); "
        f"{summary.added} new {items} added"
    )
    if summary.unlabelled:
        print(f"unlabelled {summary.unlabelled} {items} (empty label, --unlabel-empty)")
    if summary.empty_kept:
        print(
            f"{summary.empty_kept} row(s) with an empty label: those {items} keep their label "
            "(--unlabel-empty unlabels them)"
        )
    if summary.new_classes:
        print(f"new class(es) created: {', '.join(summary.new_classes)}")
    if summary.splits_given:
        copies = summary.splits_copies
        along = f" ({copies} of them identical copies of the file's, which share one split)" if copies else ""
        print(f"{summary.splits_given} {items} put in the split the file's split column gives{along}")
    for warning in describe_case_variants(summary.case_variants):
        print(warning, file=sys.stderr)
    for warning in summary.split_warnings:
        print(f"note: {warning}", file=sys.stderr)
    item = "text" if items.startswith("text") else "file"
    if summary.duplicates:
        print(
            f"{summary.duplicates} row(s) named a {item} an earlier row named already (the last one counts)"
        )
    if summary.conflicting:  # which labels a repeated row overrode (h30: only counted)
        print(f"{len(summary.conflicting)} of them gave another label than the row before:", file=sys.stderr)
        _print_some(summary.conflict_lines())
    if summary.problems:
        print(f"{len(summary.problems)} row(s) not applied:", file=sys.stderr)
        _print_some([f"{path}: {reason}" for path, reason in summary.problems])
    if summary.not_found:
        where = " in the project" if item == "text" else ""
        print(f"{len(summary.not_found)} row(s) skipped, no such {item}{where}:", file=sys.stderr)
        _print_some(list(summary.not_found))


def _rename_class(args: argparse.Namespace) -> int:
    """``labels rename PROJECT OLD NEW [--merge]``: rename a class, or with ``--merge`` merge it into NEW when that
    class exists (a typo in NEW merged two classes, not undoable, where the window refuses, h30)."""
    from dmtl_studio.core.project.errors import ProjectError
    from dmtl_studio.core.project.labels import LabelEditor
    from dmtl_studio.core.project.store import ProjectStore
    from dmtl_studio.core.project.validation import normal_class_name

    if args.new_name is None:
        raise ProjectError(
            "rename needs the class and its new name: dmtl-studio labels rename PROJECT OLD NEW"
        )
    with ProjectStore.open(args.project_dir) as store:
        names = store.class_names()
        old = args.path if args.path in names else normal_class_name(args.path)
        if old not in names:
            raise ProjectError(
                f"there is no class '{args.path}'; the classes are: {', '.join(names) or 'none'}"
            )
        new = normal_class_name(args.new_name)
        editor = LabelEditor(store)
        if new == old:
            print(f"nothing to do: the class is already called '{old}'")
        elif new in names and not args.merge:
            raise ProjectError(
                f"a class named '{new}' already exists: to move every item of '{old}' into it, add --merge (it "
                "cannot be undone); nothing was changed"
            )
        elif new in names:
            moved = editor.merge_classes([old], new)
            print(f"merged class '{old}' into '{new}': {moved} item(s) moved")
        else:
            editor.rename_class(old, new)
            print(f"renamed class '{old}' to '{new}'")
    return 0


def _refuse_label_csv(path: Path, project_dir: Path) -> None:
    """``labels export-csv`` never writes over a file (above all the project's database or one of its files).

    Raises
    ------
    OutputExistsError
        ``path`` exists.
    """
    from dmtl_studio.core.base.fileio import is_inside, refuse_existing
    from dmtl_studio.core.project.store import DATABASE_NAME

    database = project_dir / DATABASE_NAME
    what = None
    if any(
        is_inside(path, database.with_name(database.name + end)) for end in ("", "-wal", "-shm", "-journal")
    ):
        what = "the project's database"
    elif is_inside(path, project_dir):
        what = f"a file of the project {project_dir}"
    refuse_existing(path, what)


def _print_some(lines: list[str], limit: int = 20) -> None:
    """The first ``limit`` lines on stderr, then how many more there were."""
    for line in lines[:limit]:
        print(f"  {line}", file=sys.stderr)
    if len(lines) > limit:
        print(f"  … and {len(lines) - limit} more", file=sys.stderr)


#: What a near-duplicate is, by what a project holds.
LOOK_ALIKE_KINDS = {
    "picture": "resized, mirrored or re-saved copies",
    "text": "texts of nearly the same words",
}


def _cmd_splits(args: argparse.Namespace) -> int:
    from dmtl_studio.core.project.splits import assign_splits, label_conflicts
    from dmtl_studio.core.project.store import ProjectStore

    with ProjectStore.open(args.project_dir) as store:
        summary = assign_splits(
            store,
            val_fraction=args.val_fraction,
            test_fraction=args.test_fraction,
            seed=args.seed,
            reassign=True,
        )
        _print_class_counts(store.class_counts())
        conflicts = label_conflicts(store)
        item = "text" if store.kind == "text" else "picture"
    print(summary.describe())
    for warning in summary.warnings:
        print(f"note: {warning}", file=sys.stderr)
    if summary.look_alike_groups is None:
        print(
            f"note: identical items share one split; near-duplicates ({LOOK_ALIKE_KINDS[item]}) are known only after "
            f"a duplicate check: dmtl-studio duplicates {args.project_dir} --keep-in-one-split",
            file=sys.stderr,
        )
    else:
        since = (
            f"; {summary.unchecked} {item}(s) came after that check: dmtl-studio duplicates {args.project_dir}"
            if summary.unchecked
            else ""
        )
        print(
            f"note: identical items and the near-duplicate groups of the last duplicate check share one split{since}",
            file=sys.stderr,
        )
    if conflicts:
        print(f"{len(conflicts)} {item}(s) carry two or more labels (they share one split):", file=sys.stderr)
        _print_some([c.describe(item) for c in conflicts])
    return 0


def _cmd_backup(args: argparse.Namespace) -> int:
    from dmtl_studio.core.project.store import ProjectStore

    with ProjectStore.open(args.project_dir) as store:
        with output_folders(args.destination):
            done = store.backup(args.destination)
        print(f"backed up to {done}")
    return 0


def _cmd_repair(args: argparse.Namespace) -> int:
    from dmtl_studio.core.project.errors import UnknownSchemaError
    from dmtl_studio.core.project.store import ProjectStore

    try:
        store = ProjectStore.open(args.project_dir, drop_unknown=args.drop_unknown)
    except UnknownSchemaError as exc:
        print(f"found {len(exc.objects)} object(s) DMTL Studio did not make:", file=sys.stderr)
        for kind, name in exc.objects:
            print(f"  {kind} {name}", file=sys.stderr)
        print("nothing was changed; run again with --drop-unknown to remove them", file=sys.stderr)
        return 2
    with store:
        note = " (read-only: checked, nothing could be changed)" if store.read_only else ""
        for kind, name in store.dropped_objects:
            print(f"removed {kind} {name} (DMTL Studio did not make it)")
        print(f"{args.project_dir}: database checked, integrity {store.integrity_check()}{note}")
    return 0


def _open_gui(argv: list[str]) -> int:
    from dmtl_studio.app import run_app

    return run_app(argv)


#: What Ctrl-C keeps, said after "interrupted", for the commands that do not say it themselves.
_INTERRUPTED = {
    "label-errors": "the features computed so far stay in the project's cache, and the next run reuses them",
    "duplicates": "nothing was changed (a --keep-in-one-split already made is kept)",
    "audit": "no bundle was written",
    "report": "no report was written",
    "explain": "the pictures written so far are kept",
}


def _unknown_command(argv: list[str]) -> bool:
    """Say so when ``argv`` starts with what reads as a mistyped command rather than a project to open (no such
    path, a known command's near spelling, or more words after it); True when said."""
    import difflib

    first = argv[0]
    if first in COMMANDS or first.startswith("-") or os.sep in first or os.path.exists(first):
        return False
    near = difflib.get_close_matches(first, COMMANDS, n=1, cutoff=0.75)
    if not near and len(argv) == 1:
        return False  # a project folder that is not there: the window's start says so
    hint = f"; did you mean '{near[0]}'?" if near else ""
    if first.lower() in ("gradcam", "grad-cam", "cam", "attribution", "attributions", "saliency"):
        hint = (
            "; did you mean 'explain'? (Grad-CAM pictures of images, the words a text's prediction rests on)"
        )
    print(
        f"dmtl-studio: unknown command '{first}'{hint} (dmtl-studio --help lists the commands)",
        file=sys.stderr,
    )
    return True


class _LowerCaseLevel(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record = logging.makeLogRecord(record.__dict__)  # the other handlers keep the record as it was
        record.levelname = record.levelname.lower()
        return super().format(record)


def main(argv: list[str]) -> int:
    """Run the command line; return the exit status."""
    handler = logging.StreamHandler()
    # "warning: …", as the command's own lines.
    handler.setFormatter(_LowerCaseLevel("%(levelname)s: %(message)s"))
    logging.basicConfig(level=os.environ.get("DMTL_STUDIO_LOG", "WARNING").upper(), handlers=[handler])
    if argv and _unknown_command(argv):
        return 2
    if not argv or argv[0] not in (*COMMANDS, "-h", "--help", "--version"):
        return _open_gui(argv)
    args = cli_remove.parse(argv[1:], _path) if argv[0] == "remove" else _parser().parse_args(argv)
    args.argv = list(argv)  # what a distributed run's launcher gives its processes
    handlers = {
        "new": cli_text.cmd_new,
        "info": cli_text.cmd_info,
        "import": _cmd_import,
        "train": _cmd_train,
        "weights": _cmd_weights,
        "predict": _cmd_predict,
        "bench": _cmd_bench,
        "labels": _cmd_labels,
        "backup": _cmd_backup,
        "splits": _cmd_splits,
        "evaluate": _cmd_evaluate,
        "export": _cmd_export,
        "report": _cmd_report,
        "audit": _cmd_audit,
        "label-errors": _cmd_label_errors,
        "duplicates": _cmd_duplicates,
        "repair": _cmd_repair,
        "remove": cli_remove.cmd_remove,
        "explain": _cmd_explain,
    }
    from dmtl_studio.core.project.busy import set_busy_reporter

    set_busy_reporter(lambda message: print(f"note: {message}", file=sys.stderr, flush=True))
    # The one error boundary of every command: a plain line on stderr and exit status 2, whatever failed. An
    # unexpected error (a bug) also leaves its traceback in a log file named on that line.
    try:
        with json_mode(getattr(args, "json", False)):  # --json: stdout holds the JSON line alone
            return handlers[args.command](args)
    except KeyboardInterrupt:
        kept = _INTERRUPTED.get(args.command)
        print(f"dmtl-studio {args.command}: interrupted{'; ' + kept if kept else ''}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`info P | head -1`): quietly, as other Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 128 + 13  # killed by SIGPIPE, as the shell reports it
    except Exception as exc:  # noqa: BLE001 - the boundary: no traceback ever reaches the terminal
        from dmtl_studio.core.base.errors import failure_line

        print(
            f"dmtl-studio {args.command}: {failure_line(exc, 'dmtl-studio ' + ' '.join(argv))}",
            file=sys.stderr,
        )
        return 2


# ``python -m dmtl_studio.cli`` (h38: it printed nothing): the command line alone.
if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
