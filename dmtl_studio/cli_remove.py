"""The ``remove`` command: forget images (or texts) of a project — named, gone from disk, or unreadable — after
writing the list of what goes, with their labels (:mod:`dmtl_studio.core.project.removal`). Files stay on disk."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path


def add_command(sub: argparse._SubParsersAction, path_type: Callable[[str], Path]) -> None:
    """Add ``remove`` to the command line's sub-commands."""
    _add_arguments(sub.add_parser("remove", help=HELP), path_type)


def parse(argv: list[str], path_type: Callable[[str], Path]) -> argparse.Namespace:
    """The arguments of ``remove`` (``argv`` after the command's name), options and paths in any order
    (``remove P --missing photos/`` as well as ``remove P photos/ --missing``)."""
    parser = argparse.ArgumentParser(prog="dmtl-studio remove", description=HELP)
    _add_arguments(parser, path_type)
    args = parser.parse_intermixed_args(argv)
    args.command = "remove"
    return args


HELP = (
    "remove images (or texts) from a project: named ones, those gone from disk, or every problem file; the files "
    "stay on disk and a CSV lists what went, with labels, to bring it back"
)


def _add_arguments(p: argparse.ArgumentParser, path_type: Callable[[str], Path]) -> None:
    p.add_argument("project_dir", type=path_type)
    p.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="an image file, a folder (every image below it), or a text's key (a table's name: all its rows)",
    )
    p.add_argument(
        "--missing",
        action="store_true",
        help="also every image whose file is gone from disk (moved, deleted)",
    )
    p.add_argument(
        "--problems",
        action="store_true",
        help="also every problem item: gone from disk, unreadable, empty (see `info`)",
    )
    p.add_argument("--dry-run", action="store_true", help="list what would be removed, remove nothing")


def cmd_remove(args: argparse.Namespace) -> int:
    from dmtl_studio.core.project.removal import ids_at_paths, problem_ids, remove_items
    from dmtl_studio.core.project.store import ProjectStore

    if not (args.paths or args.missing or args.problems):
        print(
            "dmtl-studio remove: name what to remove: PATH…, --missing or --problems (nothing was removed)",
            file=sys.stderr,
        )
        return 2
    with ProjectStore.open(args.project_dir) as store:
        noun = "text" if store.kind == "text" else "image"
        ids, unknown = ids_at_paths(store, args.paths)
        if args.missing or args.problems:
            ids += [i for i in problem_ids(store, missing_only=not args.problems) if i not in set(ids)]
        for path in unknown:
            print(f"note: no {noun} of the project is at {path}", file=sys.stderr)
        records = store.images_by_id(ids)
        if not records:
            if unknown:  # every path given named nothing: an error, said as every command says one
                print(
                    f"dmtl-studio remove: no {noun} of the project matches; nothing was removed",
                    file=sys.stderr,
                )
                return 2
            print(f"nothing to remove: no {noun} of the project matches")
            return 0
        labelled = sum(r.label is not None for r in records)
        if args.dry_run:
            for record in records:
                print(f"  {record.path} ({record.label or 'unlabelled'})")
            print(f"would remove {len(records)} {noun}(s), {labelled} of them labelled (nothing was removed)")
            return 0
        summary = remove_items(store, ids)
        kind = store.kind
    print(
        f"removed {summary.removed} {noun}(s) from the project, {summary.labelled} of them labelled; "
        f"no file was deleted from disk. Listed in {summary.log}"
    )
    print(f"note: {summary.restore_hint(kind)}", file=sys.stderr)
    return 0
