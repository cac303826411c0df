"""Keyboard shortcuts bound once each: a standard key expands to the platform's list of sequences, which may
repeat a sequence given next to it (Redo is Ctrl+Y *and* Ctrl+Shift+Z on Linux); a sequence bound twice is
ambiguous to Qt, and then neither binding acts.
"""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QAbstractButton, QWidget

Key = QKeySequence | QKeySequence.StandardKey | str


def key_sequences(*keys: Key) -> list[QKeySequence]:
    """The sequences of ``keys`` in order, standard keys expanded, empty and repeated ones left out."""
    sequences: list[QKeySequence] = []
    seen: set[str] = set()
    for key in keys:
        if isinstance(key, QKeySequence.StandardKey):
            expanded = QKeySequence.keyBindings(key)
        else:
            expanded = [QKeySequence(key)]
        for sequence in expanded:
            text = sequence.toString(QKeySequence.SequenceFormat.PortableText)
            if text and text not in seen:
                seen.add(text)
                sequences.append(sequence)
    return sequences


def bind_shortcuts(action: QAction, *keys: Key) -> None:
    """Give ``action`` the shortcuts ``keys``, each sequence once."""
    action.setShortcuts(key_sequences(*keys))


def bound_shortcuts(root: QWidget) -> dict[str, list[str]]:
    """Every key sequence bound under ``root`` (actions, shortcuts, buttons) -> what each binding is.

    A sequence with more than one entry is ambiguous: Qt triggers none of its bindings.
    """
    bound: dict[str, list[str]] = {}
    actions = {id(a): a for a in [*root.findChildren(QAction), *root.actions()]}
    for action in actions.values():
        for sequence in action.shortcuts():
            name = action.text().replace("&", "") or action.objectName()
            bound.setdefault(sequence.toString(QKeySequence.SequenceFormat.PortableText), []).append(name)
    for shortcut in root.findChildren(QShortcut):
        for sequence in shortcut.keys():  # noqa: SIM118 - QShortcut.keys(), not a dict
            bound.setdefault(sequence.toString(QKeySequence.SequenceFormat.PortableText), []).append(
                shortcut.objectName() or "shortcut"
            )
    for button in root.findChildren(QAbstractButton):
        sequence = button.shortcut()
        if not sequence.isEmpty():
            bound.setdefault(sequence.toString(QKeySequence.SequenceFormat.PortableText), []).append(
                button.text().replace("&", "")
            )
    return {key: names for key, names in bound.items() if key}


def set_text_keeping_shortcut(button: QAbstractButton, text: str) -> None:
    """``button.setText(text)`` without losing the button's shortcut (``setText`` makes the text's mnemonic the
    shortcut, none without an ``&``: a G given by :meth:`setShortcut` was gone)."""
    shortcut = button.shortcut()
    button.setText(text)
    button.setShortcut(shortcut)
