"""Ask for a class name, and ask again with the reason (and a name that would do) when it cannot be one.

A name refused after OK was lost: "billing/refunds" typed, a message box, and an empty form to type it again (h32).
Here the refused name comes back in the form with the reason above it, and where the fix is plain (a slash, which
ticket systems use for sub-categories) the form holds the mended name, ready for OK.
"""

from __future__ import annotations

from PySide6.QtWidgets import QInputDialog, QWidget

from dmtl_studio.core.project.validation import class_name_problem, normal_class_name


def mended_class_name(name: str) -> str:
    """``name`` with the characters a class name may not hold replaced ("billing/refunds" → "billing-refunds"),
    or ``name`` itself when that does not make it a valid name."""
    mended = normal_class_name(name.replace("/", "-").replace("\\", "-"))
    return mended if class_name_problem(mended) is None else name


def ask_class_name(parent: QWidget | None, title: str, prompt: str, text: str = "") -> str | None:
    """The name typed (stripped), or None when the person cancelled or typed nothing; a name that cannot be a class
    name is asked again, with why, until it can or the person cancels."""
    note = ""
    while True:
        name, ok = QInputDialog.getText(parent, title, f"{note}{prompt}", text=text)
        if not ok or not name.strip():
            return None
        problem = class_name_problem(normal_class_name(name))
        if problem is None:
            return name.strip()
        text = mended_class_name(name)
        offer = f" The form now holds '{text}'." if text != name else ""
        note = f"{problem}.{offer}\n\n"
