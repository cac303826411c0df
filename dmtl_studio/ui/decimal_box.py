"""A number box for fractions that reads a decimal comma as a point: "0,5" is 0.5, as a person on a German or
French keyboard types it (Qt's own box, in the C locale the window uses, dropped the comma: "0,5" became 5, or a
probability of 0.00)."""

from __future__ import annotations

from PySide6.QtWidgets import QDoubleSpinBox


class DecimalSpinBox(QDoubleSpinBox):
    """:class:`QDoubleSpinBox` whose typed text may use ``,`` or ``.`` as the decimal separator."""

    def validate(self, text: str, pos: int) -> object:
        return super().validate(text.replace(",", "."), pos)

    def valueFromText(self, text: str) -> float:  # noqa: N802 - Qt override
        return super().valueFromText(text.replace(",", "."))

    def fixup(self, text: str) -> str:
        return super().fixup(text.replace(",", "."))


__all__ = ["DecimalSpinBox"]
