"""Entry point: ``dmtl-studio`` with no arguments (or a project folder) opens the window; else the CLI."""

from __future__ import annotations

import multiprocessing
import os
import sys


def _replace_missing_streams() -> None:
    """Point absent standard streams at the null device.

    A windowed build (no console: Windows, macOS .app) starts with ``sys.stdout`` and ``sys.stderr`` set to
    ``None``, as does a process started with its output closed; the first ``write`` by a progress bar, a
    logging handler or a library would then crash the application.
    """
    for name, mode in (("stdin", "r"), ("stdout", "w"), ("stderr", "w")):
        if getattr(sys, name) is None:
            stream = open(os.devnull, mode, encoding="utf-8")  # noqa: SIM115 - lives as long as the process
            setattr(sys, name, stream)
            if getattr(sys, f"__{name}__") is None:
                setattr(sys, f"__{name}__", stream)


def _qt_platform_check() -> str:
    # Imported here so that a broken Qt shows up as one failed check, after the core checks have reported.
    from dmtl_studio.app import check_qt_platform

    return check_qt_platform()


def main(argv: list[str] | None = None) -> int:
    # First thing: a frozen app's DataLoader workers re-enter here and must not start a second GUI.
    multiprocessing.freeze_support()
    _replace_missing_streams()
    args = sys.argv[1:] if argv is None else argv
    if args[:1] in (
        ["--selftest"],
        ["--self_test"],
    ):  # the usual misspellings of the installer's documented check
        args = ["--self-test", *args[1:]]
    if args[:1] == ["--self-test"]:
        try:
            from dmtl_studio.core.models.selftest import main as self_test
        except Exception as exc:  # PyTorch itself cannot load (a missing library): say so, not a traceback
            print(f"self-test FAILED: PyTorch cannot be loaded: {type(exc).__name__}: {exc}", flush=True)
            return 1
        from dmtl_studio.core.quality.embedding_map import layout_self_check

        return self_test(
            args[1:], extra_checks=[("dataset map", layout_self_check), ("Qt platform", _qt_platform_check)]
        )
    from dmtl_studio.cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
