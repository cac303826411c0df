"""The ``explain`` command: why a run chose a class — Grad-CAM pictures of images, the words of texts that
weighed for or against it (:mod:`dmtl_studio.core.evaluation.explain_files`). The window shows the same
explanations in its large view (Grad-CAM, G) and its text view (Explain words)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from dmtl_studio.cli_output import add_json_option, output_folders, print_json

HELP = (
    "explain a run's predictions: Grad-CAM pictures of images (written to --out), or the words of texts that "
    "weighed for and against the class"
)


def add_command(sub: argparse._SubParsersAction, path_type: Callable[[str], Path]) -> None:
    """Add ``explain`` to the command line's sub-commands."""
    p = sub.add_parser("explain", help=HELP, description=HELP)
    p.add_argument("run_dir", type=path_type, help="a run folder (an exported model cannot be explained)")
    p.add_argument(
        "inputs",
        nargs="*",
        type=path_type,
        metavar="INPUT",
        help="images: image files or folders (every image below); texts: .txt files",
    )
    p.add_argument(
        "--text",
        action="append",
        default=[],
        metavar="TEXT",
        help="a text to explain (repeatable; text runs)",
    )
    p.add_argument(
        "--out",
        type=path_type,
        default=None,
        help="images: the folder for the Grad-CAM pictures (made if missing)",
    )
    p.add_argument(
        "--class",
        dest="class_name",
        default=None,
        metavar="NAME",
        help="explain this class (default: each input's predicted class)",
    )
    p.add_argument("--top", type=int, default=5, metavar="K", help="texts: words shown each way (default 5)")
    add_json_option(p)


def cmd_explain(args: argparse.Namespace) -> int:
    """``dmtl-studio explain RUN_DIR INPUT…``; exit 0 when something was explained, 1 when nothing could be. The
    command line has refused a ``RUN_DIR`` that is a project or holds no model before this is called."""
    from dmtl_studio.core.evaluation.explain_files import ExplainError
    from dmtl_studio.core.evaluation.exported_model import model_modality

    if not args.inputs and not args.text:
        raise ExplainError("give what to explain: image files or folders, .txt files, or --text 'a text'")
    if args.top < 1:
        raise ExplainError(f"--top must be at least 1, not {args.top}")
    # As predict tells them apart; a path that is no model is refused by load_run in the product's words.
    modality = model_modality(args.run_dir)
    is_text = (
        modality == "text"
        if modality
        else bool(args.text) or all(p.suffix.lower() == ".txt" for p in args.inputs)
    )
    return _texts(args) if is_text else _images(args)


def _images(args: argparse.Namespace) -> int:
    from dmtl_studio.core.evaluation.explain_files import ExplainError, explain_images
    from dmtl_studio.core.evaluation.predict import prediction_scan

    if args.text:
        raise ExplainError("--text explains texts with a text run; this is an image run: give it images")
    if args.out is None:
        raise ExplainError("name the folder for the Grad-CAM pictures with --out")
    from dmtl_studio.core.base.fileio import is_inside

    for target in args.inputs:  # as predict: what is written there would be read as an input next time
        if target.is_dir() and is_inside(args.out, target):
            raise ExplainError(
                f"{args.out} is inside {target}, which is explained: choose a folder outside it"
            )
    found: dict[str, None] = {}
    for target in args.inputs:
        found.update(dict.fromkeys(prediction_scan(target)[0]))
    paths = list(found)

    def said(result: object) -> None:
        name = Path(result.path).name
        if result.problem is not None:
            print(f"{name}: not explained ({result.problem})")
        else:
            note = f" (note: {result.note})" if result.note else ""
            print(f"{name}: {result.class_name} {result.probability:.0%} -> {result.out}{note}", flush=True)

    made = not args.out.exists()
    with output_folders(args.out):  # the folders above the pictures' own folder
        results = explain_images(args.run_dir, paths, args.out, args.class_name, on_result=said)
    written = sum(r.out is not None for r in results)
    if not written and made and args.out.is_dir() and not any(args.out.iterdir()):
        args.out.rmdir()  # nothing was written: the folder made for the pictures goes too (it was left empty)
    skipped = f"; {len(results) - written} not explained" if written < len(results) else ""
    print(f"wrote {written} Grad-CAM picture(s) to {args.out}{skipped}")
    if args.json:
        rows = [
            {
                "path": r.path,
                "picture": str(r.out) if r.out else None,
                "class": r.class_name,
                "probability": r.probability,
                "problem": r.problem,
                "note": r.note,
            }
            for r in results
        ]
        print_json({"explained": written, "images": rows})
    return 0 if written else 1


def _texts(args: argparse.Namespace) -> int:
    from dmtl_studio.core.evaluation.explain_files import ExplainError, explain_texts
    from dmtl_studio.core.project.text_import import read_text_file

    if args.out is not None:
        raise ExplainError(
            "--out is for the Grad-CAM pictures of an image run; a text run's words are printed"
        )
    labels, texts = [], []
    for path in args.inputs:
        if path.is_dir() or path.suffix.lower() != ".txt":
            raise ExplainError(f"{path} is not a .txt file: a text run explains .txt files and --text")
        body, problem, _note = read_text_file(path)
        if problem is not None:
            print(f"{path.name}: not explained ({problem})")
            continue
        labels.append(path.name)
        texts.append(body)
    labels += [f"--text {i + 1}" for i in range(len(args.text))]
    texts += args.text
    results, names = explain_texts(args.run_dir, texts, args.class_name)
    rows = []
    for label, result in zip(labels, results, strict=True):
        if isinstance(result, str):
            print(f"{label}: not explained ({result})")
            rows.append({"input": label, "problem": result})
            continue
        scored = sorted((w for w in result.words if round(w[3], 3) != 0), key=lambda w: w[3], reverse=True)
        # A score is the class's log-odds lost when the word is taken out (occlusion): 0.69 halves the odds.
        pro = ", ".join(f"{w[2]} {w[3]:+.3f}" for w in scored[: args.top] if w[3] > 0) or "no word"
        con = ", ".join(f"{w[2]} {w[3]:+.3f}" for w in reversed(scored[-args.top :]) if w[3] < 0) or "no word"
        unread = f" ({result.unread} word(s) past what the model reads)" if result.unread else ""
        name = names[result.target]
        print(f"{label}: {name} {result.probability:.0%}; for it: {pro}; against it: {con}{unread}")
        rows.append(
            {
                "input": label,
                "class": name,
                "probability": result.probability,
                "words": [
                    {"word": w, "start": s, "end": e, "score": score} for s, e, w, score in result.words
                ],
            }
        )
    if args.json:
        print_json({"explained": sum("class" in r for r in rows), "texts": rows}, ensure_ascii=False)
    sys.stdout.flush()
    return 0 if any("class" in r for r in rows) else 1
