"""Entry point: ``dmtl-studio`` with no arguments (or a project folder) opens the window; else the CLI."""

from __future__ import annotations

import multiprocessing
import sys


def main(argv: list[str] | None = None) -> int:
    # First thing: a frozen app's DataLoader workers re-enter here and must not start a second GUI.
    multiprocessing.freeze_support()
    from dmtl_studio.cli import main as cli_main

    return cli_main(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
