"""The command line's project kinds: ``new PROJECT --kind``, ``info PROJECT``, and ``import`` of texts.

``dmtl-studio import`` infers the kind from its source (:func:`~dmtl_studio.core.project.project_kind.source_kind`):
a CSV / TSV / JSON Lines file, a ``.txt`` file or a folder of ``.txt`` files is imported as texts, anything else
as images. Progress goes to stderr, results to stdout (with ``--json``, the JSON summary alone; the rest to stderr).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from dmtl_studio.cli_output import add_json_option, print_json
from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.project_kind import TABLE_SUFFIXES, is_table_file, source_kind
from dmtl_studio.core.project.runs_table import fitted_as_linear_probe


def add_commands(sub: argparse._SubParsersAction, path_type: Callable[[str], Path]) -> None:
    """Add ``new`` and ``info`` to the command line's sub-commands."""
    p = sub.add_parser("new", help="create an empty project of images or of texts")
    p.add_argument("project_dir", type=path_type)
    p.add_argument(
        "--kind",
        choices=("images", "text"),
        default=None,
        help="what the project holds (default: the kind of its first import)",
    )
    p = sub.add_parser("info", help="a project's kind, items, classes and runs")
    p.add_argument("project_dir", type=path_type)
    add_json_option(p)


def encoding_option(value: str) -> str:
    """``--encoding``: a text encoding Python knows, by its codec name."""
    from dmtl_studio.core.project.text_decoding import checked_encoding

    try:
        return checked_encoding(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_import_options(p: argparse.ArgumentParser) -> None:
    """The options of ``import`` for a table of texts."""
    p.add_argument(
        "--text-column",
        default=None,
        help="the column of a CSV/TSV/JSON Lines file that holds the text (default: guessed from the names)",
    )
    p.add_argument(
        "--label-column",
        default=None,
        help="the column that holds the label (default: guessed; '' for none: the texts come unlabelled)",
    )
    p.add_argument("--split-column", default=None, help="a column naming each row's split (train, val, test)")
    p.add_argument(
        "--id-column",
        default=None,
        help="a column that names each row (a ticket number, say): the rows are keyed FILE#id=ID, so a label "
        "stays with its id when the file is edited and imported again (default: rows keyed by their texts and "
        "row numbers)",
    )
    p.add_argument(
        "--delimiter",
        default=None,
        help="the delimiter of a CSV/TSV file: one character, or tab (\\t), comma, semicolon, pipe, space "
        "(default: sniffed)",
    )
    p.add_argument(
        "--encoding",
        default=None,
        type=encoding_option,
        help="the text encoding of files without a byte-order mark, e.g. cp1252 (what Excel on Windows "
        "writes for a CSV), latin-1, cp1250 (default: UTF-8; a byte-order mark always names UTF-8 or UTF-16)",
    )
    p.add_argument(
        "--no-header",
        dest="header",
        action="store_false",
        help="the CSV/TSV file has no header line: its first line is a row, its columns are named 'column 1', "
        "'column 2'… (give --text-column 'column 1' and so on)",
    )
    p.add_argument(
        "--labels-from-file",
        action="store_true",
        help="on importing a table again, take its labels where they differ from the project's (default: the "
        "project's labels are kept and the differences listed)",
    )


def is_text_import(args: argparse.Namespace) -> bool:
    """True when ``import`` is given texts: by its source, or, for a source that holds neither kind, by the
    project it goes into."""
    kind = source_kind(args.images_dir)
    if kind is None and args.text_column is None:
        from dmtl_studio.core.project.store import ProjectStore, is_project

        if is_project(args.project_dir):
            with ProjectStore.open(args.project_dir) as store:
                return store.kind == "text"
    return kind == "text" or args.text_column is not None


def _columns(args: argparse.Namespace) -> tuple[str | None, str | None, str | None]:
    """The text, label and split columns: those named, else the guesses (said on stderr)."""
    source = Path(args.images_dir)
    if not source.is_file() or source.suffix.lower() not in TABLE_SUFFIXES:
        if args.id_column is not None:
            raise ProjectError(
                f"--id-column names a column of a CSV, TSV or JSON Lines file; {source.name} is not one"
            )
        if not args.header:
            raise ProjectError(f"--no-header reads a CSV or TSV file; {source.name} is not one")
        return None, None, None
    from dmtl_studio.core.project.table_options import check_columns, header_advice
    from dmtl_studio.core.project.text_tables import preview_table

    try:
        preview = preview_table(
            source, rows=0, delimiter=args.delimiter, encoding=args.encoding, header=args.header
        )
    except ProjectError as exc:  # the file is refused whole, before any project is made
        raise ProjectError(f"{exc}; nothing was imported from it") from None
    if not args.header and preview.delimiter is None:
        raise ProjectError(
            f"--no-header reads a CSV or TSV file; {source.name} is JSON Lines (no header line)"
        )
    if preview.delimiter is not None and not preview.rows_read:  # a header and nothing below it
        from dmtl_studio.core.project.text_decoding import named_note

        raise ProjectError(
            f"{source.name} has no rows below its header{named_note(args.encoding)}; nothing was imported from it"
        )
    text, label, split = args.text_column, args.label_column, args.split_column
    if text is None:
        text = preview.text_column
        if text is None:
            raise ProjectError(
                f"{source.name} has no columns to read; name the text column with --text-column"
            )
        print(f"text column: '{text}' (guessed; choose with --text-column)", file=sys.stderr)
    if label is None and preview.label_column is not None:
        label = preview.label_column
        print(f"label column: '{label}' (guessed; choose with --label-column, '' for none)", file=sys.stderr)
    if split is None and preview.split_column is not None:
        split = preview.split_column
        print(f"split column: '{split}' (guessed; choose with --split-column)", file=sys.stderr)
    if preview.delimiter is not None:  # a header names every column (JSON Lines: only the rows read so far)
        # Before the project is created: a misspelt column leaves no empty project behind.
        check_columns(source.name, preview.columns, text, label or None, split or None, args.id_column)
    if preview.header_warning:
        print(f"warning: {header_advice(preview.header_warning)}", file=sys.stderr)
    return text, label or None, split or None


def cmd_import_texts(
    args: argparse.Namespace, progress: Callable[[int, int], None], should_stop: Callable[[], bool]
) -> int:
    """``dmtl-studio import PROJECT SOURCE`` for texts; ``progress(done, total)`` draws the bar; ``should_stop``
    (Ctrl-C) ends the import early, keeping what was read."""
    from dmtl_studio.core.project.project_kind import create_project, is_text_file_name
    from dmtl_studio.core.project.text_import import import_texts, read_text_file

    if not Path(args.images_dir).exists():
        print(f"dmtl-studio import: {args.images_dir} does not exist", file=sys.stderr)
        return 2
    text, label, split = _columns(args)
    source = Path(args.images_dir)
    if source.is_file() and is_text_file_name(source):  # one text: refused whole when it is not usable
        _, problem, _ = read_text_file(source, args.encoding)
        if problem:
            print(f"dmtl-studio import: {source.name}: {problem}; nothing was imported", file=sys.stderr)
            return 2
    if source.is_dir():  # a layout that would mislabel is refused before a project is made (as for images)
        from dmtl_studio.core.project.importer import split_layout
        from dmtl_studio.core.project.text_import import scan_text_folder

        if args.split_folders:
            split_layout(source, scan_text_folder(source).files)
    with create_project(args.project_dir) as store:
        summary = import_texts(
            store,
            args.images_dir,
            text_column=text,
            label_column=label,
            split_column=split,
            id_column=args.id_column,
            delimiter=args.delimiter,
            encoding=args.encoding,
            val_fraction=args.val_fraction,
            test_fraction=args.test_fraction,
            seed=args.seed,
            progress=lambda done, total, name: progress(done, total),
            should_stop=should_stop,
            labels_from_file=args.labels_from_file,
            split_folders=args.split_folders,
            header=args.header,
        )
        counts = store.class_counts()
    print(summary.describe())
    for name, c in counts.items():
        print(f"  {name}: {c['total']} (train {c['train']}, val {c['val']}, test {c['test']})")
    for line in summary.describe_split():
        print(line)
    for line in summary.details():
        print(f"  {line}", file=sys.stderr if line.startswith("problem") else sys.stdout)
    if args.json:
        print_json(summary.to_dict())
    if summary.cancelled:
        print(
            f"dmtl-studio import: interrupted; the {summary.added} text(s) read before are kept, with their splits: "
            "import it again to add the rest (texts already in the project are not added twice)",
            file=sys.stderr,
        )
        return 130
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    """``dmtl-studio new PROJECT [--kind images|text]``."""
    from dmtl_studio.core.project.location import visible_entries
    from dmtl_studio.core.project.project_kind import create_project, kind_was_chosen
    from dmtl_studio.core.project.store import is_project

    existed = is_project(args.project_dir)
    held = 0 if existed or not args.project_dir.is_dir() else visible_entries(args.project_dir)
    with create_project(args.project_dir, kind=args.kind) as store:
        kind = store.kind if kind_was_chosen(store) or store.image_count() else None
    verb = "opened the existing" if existed else "created the"
    what = f"{kind} project" if kind else "project (its kind: that of its first import)"
    print(f"{verb} {what} in {args.project_dir}")
    if held:  # the window asks first; here a folder of images may have been named by mistake
        print(
            f"note: {args.project_dir} already held {held} file(s) or folder(s): they are left as they are, beside "
            "the project's own, and are not in the project (to make a project of a folder of images or texts: "
            "dmtl-studio import NEW_PROJECT_FOLDER THAT_FOLDER)",
            file=sys.stderr,
        )
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    """``dmtl-studio info PROJECT``: kind, items, classes, problems, runs."""
    from dmtl_studio.core.project.gone_files import WAY_BACK, find_gone_files
    from dmtl_studio.core.project.import_sources import import_sources
    from dmtl_studio.core.project.project_kind import kind_undecided
    from dmtl_studio.core.project.store import ProjectStore

    with ProjectStore.open(args.project_dir) as store:
        kind = store.kind
        total = store.image_count()
        # A new project whose kind was never chosen takes that of its first import.
        undecided = kind_undecided(store)
        problems = len(store.problems())
        # Files gone since import are problems once a run or an export marks them; remove --problems finds them now.
        found = find_gone_files(store)  # the marked ones too: for the folders gone
        usable = {r.path for r in store.images(usable_only=True)} if found.gone else set()
        gone = sum(path in usable for path in found.paths)
        counts = store.class_counts()
        unlabelled = store.unlabelled_count()
        run_records = store.runs()
        runs = len(run_records)
        sources = import_sources(store)
    items = "items" if undecided else "texts" if kind == "text" else "images"
    labelled = sum(c["total"] for c in counts.values())
    if undecided:
        print(f"{args.project_dir}: an empty project (images or texts: its first import decides)")
    else:
        print(f"{args.project_dir}: a{'n' if kind == 'images' else ''} {kind} project")
    # Every file gone from disk, marked by a run or not, with the labels kept for them (h31: after a run had
    # marked them, --json said 0 gone beside the folders gone, and the line no word of their labels).
    kept = f", {found.labelled} of those labelled" if found.labelled else ""
    gone_note = f" ({found.gone} of them gone from disk since import{kept})" if found.gone else ""
    print(
        f"{total} {items}: {labelled} labelled, {unlabelled} unlabelled, {problems + gone} with a problem"
        f"{gone_note}; {runs} run(s)"
    )
    for name, c in counts.items():
        print(f"  {name}: {c['total']} (train {c['train']}, val {c['val']}, test {c['test']})")
    if found.folders:  # a folder moved or renamed: the way back (its images keep their labels)
        print(f"folders gone from disk (if one was moved, {WAY_BACK.rstrip('.')}):")
        for folder, images in found.folders:
            print(f"  {folder} ({images} image(s))")
    # Which run is which: its status (one to continue?), strategy, epochs, validation accuracy.
    if run_records:
        print("runs (oldest first):")
        for run in run_records:
            print(f"  {_run_line(run)}")
    if sources:  # importing one again adds the files put in it since; labels and splits stay
        print("imported from (import a folder again to add the files put in it since):")
        for folder in sources:
            print(f"  {folder}{'' if os.path.isdir(folder) else ' (gone)'}")
    if args.json:
        report = {
            "kind": None if undecided else kind,
            "items": total,
            "labelled": labelled,
            "unlabelled": unlabelled,
        }
        problems_json = {
            "problems": problems + gone,
            "gone_from_disk": found.gone,
            "gone_labelled": found.labelled,
            "gone_folders": [{"folder": f, "images": n} for f, n in found.folders],
        }
        listed = [
            {
                "name": r.name,
                "status": r.status,
                "run_dir": r.run_dir,
                "folder_exists": os.path.isdir(r.run_dir),
                **dict(zip(("best_accuracy", "out_of_fold"), r.best_accuracy(), strict=True)),
            }
            for r in run_records
        ]
        extra = {"classes": counts, "runs": runs, "run_list": listed, "imported_from": sources}
        print_json({**report, **problems_json, **extra})
    return 0


def _run_line(run: object) -> str:
    """One run of ``info``: name, status, strategy, epochs and best validation accuracy, or why its folder is gone."""
    config, best = run.config or {}, (run.final_metrics or {}).get("best") or {}
    parts = [run.name, run.status, str(config.get("transfer", "?"))]
    if best.get("epoch") is not None:
        trained = ((run.final_metrics or {}).get("last") or {}).get("epoch") or best["epoch"]
        # The epochs trained, and the one kept when it is not the last ("1 epoch(s)" read as the run's length, h28).
        kept = f", the best is epoch {best['epoch']}" if trained != best["epoch"] else ""
        parts.append("linear probe" if fitted_as_linear_probe(config) else f"{trained} epoch(s){kept}")
    accuracy, out_of_fold = run.best_accuracy()
    if accuracy is not None:
        parts.append(f"{'out-of-fold' if out_of_fold else 'best'} validation accuracy {accuracy:.1%}")
    if run.resumable and run.status in ("stopped", "failed", "interrupted"):
        parts.append("can be continued (train --resume)")
    if not os.path.isdir(run.run_dir):
        parts.append(f"its folder is gone ({run.run_dir})")
    return " · ".join(parts)


def add_predict_options(p: argparse.ArgumentParser) -> None:
    """The options of ``predict`` for a text model."""
    p.add_argument(
        "--text-column",
        default=None,
        help="text models: the column of a CSV/TSV/JSON Lines input that holds the text (default: guessed)",
    )
    p.add_argument(
        "--id-column",
        default=None,
        help="text models: a column of the table whose value names each row in the CSV's path and id columns "
        "(FILE#ID; default: a column named id, key, uid, row_id, ticket or ticket_id, as the window preselects; "
        "'': the row number, FILE#N)",
    )
    p.add_argument(
        "--encoding",
        default=None,
        type=encoding_option,
        help="text models: the text encoding of files without a byte-order mark, e.g. cp1252 (what Excel on Windows "
        "writes for a CSV), latin-1, cp1250 (default: UTF-8; a byte-order mark always names UTF-8 or UTF-16)",
    )
    p.add_argument(
        "--no-header",
        dest="header",
        action="store_false",
        help="text models: the CSV/TSV input has no header line: its first line is a row, its columns are named "
        "'column 1', 'column 2'…",
    )


def cmd_predict_texts(
    args: argparse.Namespace, reject_below: float | None, progress: Callable[[int, int], None]
) -> int:
    """``dmtl-studio predict MODEL INPUT --out CSV`` for a text run or an exported text model: INPUT is a
    ``.txt`` file (one text), a folder of ``.txt`` files, or a CSV/TSV/JSON Lines file (one text per row)."""
    from dmtl_studio.core.evaluation.exported_model import is_run_folder
    from dmtl_studio.core.evaluation.text_predict import (
        NoTextsError,
        predict_text_inputs,
        repeated_sources_note,
    )
    from dmtl_studio.core.quality.reject import RejectError

    text_column = args.text_column
    id_column = args.id_column or None  # --id-column "": keyed by row number
    try:
        if Path(args.images_dir).is_file() and is_table_file(args.images_dir):
            text_column, id_column = _table_column(
                Path(args.images_dir), text_column, args.encoding, args.header, args.id_column
            )
        if args.target_accuracy is not None:
            if not is_run_folder(args.run_dir):
                print(
                    f"dmtl-studio predict: --target-accuracy needs a run folder inside its project (its validation "
                    f"split); {args.run_dir} is an exported model: give --reject-below P instead",
                    file=sys.stderr,
                )
                return 2
            from dmtl_studio.core.quality.reject import describe_threshold, validation_threshold

            chosen = validation_threshold(args.run_dir, args.target_accuracy, device=args.device)
            reject_below = chosen.threshold
            print(describe_threshold(chosen, args.target_accuracy, noun="text"))
        summary = predict_text_inputs(
            args.run_dir,
            args.images_dir,
            args.out,
            text_column=text_column,
            id_column=id_column,
            encoding=args.encoding,
            header=args.header,
            device=args.device,
            progress=progress,
            reject_below=reject_below,
        )
    except (RejectError, NoTextsError, ProjectError) as exc:
        print(f"dmtl-studio predict: {exc}", file=sys.stderr)
        return 2
    repeated = repeated_sources_note(summary)
    if repeated:
        print(f"warning: {repeated.replace('an id column', 'an --id-column')}", file=sys.stderr)
    sure_note = f" ({summary.unsure} written as 'unsure')" if reject_below is not None else ""
    unread = f"; {len(summary.problems)} input(s) not used (rows with an error)" if summary.problems else ""
    print(f"predicted {len(summary.predictions)} text(s) -> {args.out}{sure_note}{unread}")
    if summary.note:
        print(f"note: {summary.note}", file=sys.stderr)
    skipped = summary.describe_skipped(args.images_dir, ".txt files")  # as image prediction says it
    if skipped:
        from dmtl_studio.core.project.folder_scan import is_image_name

        images = sum(is_image_name(p) for p in summary.skipped)
        hint = f" ({images} image(s): predict them with a run of an image project)" if images else ""
        print(f"{skipped}{hint}")
    if summary.problems:
        print(f"{len(summary.problems)} input(s) could not be used:", file=sys.stderr)
        for source, reason in summary.problems:
            print(f"  {source}: {reason}", file=sys.stderr)
    return 0 if summary.predictions else 1


def _table_column(
    table: Path, named: str | None, encoding: str | None, header: bool = True, id_named: str | None = None
) -> tuple[str | None, str | None]:
    """The text and id columns of ``table`` that predict reads: those named, else the guessed ones (the id column
    by its name, as the window's Predict texts… form preselects it), said on stderr with how they were chosen; with
    a warning when the table's first line looks like a row (it is read as the header). ``id_named`` "" keys the
    rows by their number."""
    from dmtl_studio.core.project.table_options import header_advice
    from dmtl_studio.core.project.text_tables import TEXT_NAMES, guess_id_column, preview_table

    preview = preview_table(table, rows=0, encoding=encoding, header=header)
    column = named if named is not None else preview.text_column
    if named is None and column is not None:
        how = "by its name" if column.casefold() in TEXT_NAMES else "the column of the longest values"
        print(f"text column: '{column}' ({how}; choose with --text-column)", file=sys.stderr)
    key = id_named or None
    if id_named is None:
        key = guess_id_column(preview.columns, column)
        if key is not None:
            print(
                f"id column: '{key}' (by its name: rows are keyed FILE#ID; --id-column '' keys them by row number)",
                file=sys.stderr,
            )
    if preview.header_warning:
        print(f"warning: {header_advice(preview.header_warning, predicting=True)}", file=sys.stderr)
    return column, key


def add_encoder_commands(weights: argparse._SubParsersAction, path_type: Callable[[str], Path]) -> None:
    """``weights import-encoder FOLDER [--name NAME]``, beside ``weights list`` and ``weights import``."""
    p = weights.add_parser(
        "import-encoder",
        help="check a text encoder folder (config.json, tokenizer, .safetensors weights) and keep a copy",
    )
    p.add_argument("folder", type=path_type, help="a local Hugging Face / sentence-transformers model folder")
    p.add_argument(
        "--name",
        default=None,
        help="keep it as text/NAME (letters, digits, . _ -; default: the folder's name)",
    )


def print_text_encoders() -> None:
    """The text encoders, for ``weights list`` (after the backbones): each with its size and where it is."""
    from dmtl_studio.core.models.text_encoder_list import list_text_encoders

    print()
    print(f"{'text encoder':34} {'params':>8} {'width':>5} {'tokens':>6} {'stages':>6}  state")
    for row in list_text_encoders():
        state = row.source if row.available else "unavailable"

        def shown(value: int | None) -> str:
            return "?" if value is None else str(value)

        print(
            f"{row.name:34} {row.parameters_text:>8} {shown(row.embedding_width):>5} {shown(row.max_tokens):>6} "
            f"{shown(row.stages):>6}  {state}"
        )
        print(f"    {f'{row.folder} ({row.size_mb:.1f} MB)' if row.available else row.reason}")


def cmd_import_encoder(args: argparse.Namespace) -> int:
    """``dmtl-studio weights import-encoder FOLDER [--name NAME]``: a refused folder raises ``TextEncoderError``
    (the command line's error boundary prints it and exits with 2)."""
    from dmtl_studio.core.models.text_catalog import import_text_encoder
    from dmtl_studio.core.models.text_encoder_list import imported_row

    name = import_text_encoder(args.folder, args.name)
    row = imported_row(name)
    print(f"imported {args.folder} as {name}: {row.describe()}")
    print(f"  stored in {row.folder}; train with --backbone {name}")
    return 0
