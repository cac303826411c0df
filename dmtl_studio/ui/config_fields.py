"""Form fields for the settings of a training run, built from the configuration's own :class:`Setting`.

The range, step, decimals, tooltip and starting value of each field come from
:class:`~dmtl_studio.core.training.config.TrainConfig` (``setting(name)`` and ``TrainConfig.recommended()``), the
same source the command line's ``train`` options are built from, so the window never types them again.
"""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QSpinBox

from dmtl_studio.core.training.config import TrainConfig, setting, value_type
from dmtl_studio.ui.decimal_box import DecimalSpinBox

#: The largest value an integer field offers where the setting itself has no upper bound and names none.
_INT_CEILING = 2**31 - 1


def _bounds(name: str, decimals: int = 0) -> tuple[float, float]:
    """The form's range for a numeric setting: the valid range, an open bound stepped one unit inside it."""
    rule = setting(name)
    unit = 10.0**-decimals if decimals else 1
    low = 0.0 if rule.low is None else rule.low + (unit if rule.low_open else 0)
    if rule.high is not None:
        high = rule.high - (unit if rule.high_open else 0)
    else:
        high = rule.shown_high if rule.shown_high is not None else _INT_CEILING
    return low, high


def spin_box(name: str) -> QSpinBox | QDoubleSpinBox:
    """A spin box for one numeric setting of :class:`TrainConfig`, starting at the recommended value.

    Parameters
    ----------
    name
        The field's name (``"epochs"``, ``"dropout"``…).

    Returns
    -------
    QSpinBox or QDoubleSpinBox
        A ``QSpinBox`` for an integer setting, else a ``QDoubleSpinBox`` with the setting's decimals; its range
        is the setting's valid range, its tooltip the setting's help.

    Raises
    ------
    KeyError
        ``name`` is not a field of :class:`TrainConfig`.
    """
    rule = setting(name)
    value = getattr(TrainConfig.recommended(), name)
    if value_type(name) is int:
        box: QSpinBox | QDoubleSpinBox = QSpinBox()
        low, high = _bounds(name)
        box.setRange(int(low), int(high))
    else:
        box = DecimalSpinBox()
        decimals = rule.decimals if rule.decimals is not None else 2
        box.setDecimals(decimals)
        box.setRange(*_bounds(name, decimals))
    if rule.step is not None:
        box.setSingleStep(rule.step)
    box.setValue(value)
    box.setToolTip(rule.help[:1].upper() + rule.help[1:])
    return box


def choice_box(name: str, texts: dict[str, str] | None = None) -> QComboBox:
    """A drop-down of one setting's choices (each item's data is the value), on the recommended one.

    Parameters
    ----------
    name
        The field's name (``"head"``…); the setting must have choices.
    texts
        What to show for each value; a value without a text shows as itself.

    Returns
    -------
    QComboBox
        One item per choice, in the setting's order.

    Raises
    ------
    KeyError
        ``name`` is not a field of :class:`TrainConfig`.
    """
    box = QComboBox()
    for value in setting(name).choices:
        box.addItem((texts or {}).get(value, value), value)
    box.setCurrentIndex(box.findData(getattr(TrainConfig.recommended(), name)))
    return box


def label(name: str) -> str:
    """The window's label for one setting (its plain name, capitalised, where it names no label)."""
    rule = setting(name)
    return rule.label or rule.what[:1].upper() + rule.what[1:]
