"""Open the window for a screenshot: optionally a project, with one dock tab in front and some images selected.

Usage: python tools/show_window.py [PROJECT] [--front "Augmentation recipe"] [--select N] [--show-map] [--click TEXT]
       [--scroll-down] [--import-texts TABLE] [--remove-selected] [--duplicates] [--label-errors]
Run it under tools/screenshot (which picks the screen size); without PROJECT the start page shows.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QPointF, QTimer
from PySide6.QtWidgets import QAbstractButton, QApplication, QDockWidget, QScrollArea

from dmtl_studio.app import build_window


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("project", nargs="?", type=Path)
    parser.add_argument("--front", help="the title of the dock tab to bring to the front")
    parser.add_argument("--select", type=int, default=0, help="select the first N images of the grid")
    parser.add_argument(
        "--show-map",
        action="store_true",
        help="open Labels ▸ Dataset map…, then select a corner of it and hover a point once it is drawn",
    )
    parser.add_argument(
        "--click",
        action="append",
        default=[],
        help="press the button (or check the radio button) with this text (repeatable)",
    )
    parser.add_argument(
        "--scroll-down",
        action="store_true",
        help="scroll every scrolling panel to its end (after the clicks)",
    )
    parser.add_argument(
        "--remove-selected", action="store_true", help="then ask to remove the selected images (Shift+Delete)"
    )
    parser.add_argument("--import-texts", help="open File ▸ Import texts… on this table (its column dialog)")
    parser.add_argument(
        "--dialog-click",
        action="append",
        default=[],
        help="then press this button or box in the dialog (repeatable)",
    )
    parser.add_argument("--duplicates", action="store_true", help="run Labels ▸ Find duplicates and leaks")
    parser.add_argument(
        "--label-errors", action="store_true", help="run Labels ▸ Find suspected label errors"
    )
    parser.add_argument("--dark", action="store_true", help="the Fusion style with a dark palette")
    parser.add_argument("--font-size", type=float, help="the application's font size in points")
    args = parser.parse_args()
    app = QApplication([sys.argv[0]])
    if args.dark:
        from PySide6.QtGui import QColor, QPalette

        app.setStyle("Fusion")
        palette = QPalette(QColor("#353535"), QColor("#2b2b2b"))
        for role, color in (
            (QPalette.ColorRole.WindowText, "#eeeeee"),
            (QPalette.ColorRole.Text, "#eeeeee"),
            (QPalette.ColorRole.ButtonText, "#eeeeee"),
            (QPalette.ColorRole.Base, "#1f1f1f"),
        ):
            palette.setColor(role, QColor(color))
        for role in (  # a system dark theme greys disabled text out; without it Pause and Stop look enabled
            QPalette.ColorRole.WindowText,
            QPalette.ColorRole.Text,
            QPalette.ColorRole.ButtonText,
        ):
            palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7f7f7f"))
        app.setPalette(palette)
    if args.font_size:
        font = app.font()
        font.setPointSizeF(args.font_size)
        app.setFont(font)
    window, _controller = build_window(args.project)
    window.showMaximized() if not window.layout_restored else window.show()

    def arrange() -> None:
        if args.front:
            next(d for d in window.findChildren(QDockWidget) if d.windowTitle() == args.front).raise_()
        view = window.browser.view
        for row in range(min(args.select, window.browser.model.rowCount())):
            view.selectionModel().select(
                window.browser.model.index(row), QItemSelectionModel.SelectionFlag.Select
            )
        if args.select:
            view.setCurrentIndex(window.browser.model.index(0))
        for text in args.click:
            next(b for b in window.findChildren(QAbstractButton) if b.text() == text).click()
        if args.scroll_down:
            bars = [area.verticalScrollBar() for area in window.findChildren(QScrollArea)]
            QTimer.singleShot(300, lambda: [bar.setValue(bar.maximum()) for bar in bars])

    def show_map() -> None:
        view = window.dataset_map
        if not len(view.points):  # still computing: look again shortly
            QTimer.singleShot(300, show_map)
            return
        low, high = view.points.min(axis=0), view.points.max(axis=0)
        middle = (low + high) / 2
        view.select_rect(low[0], low[1], middle[0], middle[1])
        row = int(((view.points - high) ** 2).sum(axis=1).argmin())
        view._hover(view.view_box.mapViewToScene(QPointF(*map(float, view.points[row]))))

    QTimer.singleShot(500, arrange)
    if args.remove_selected:
        QTimer.singleShot(900, window.browser.remove_selected)
    if args.import_texts:
        QTimer.singleShot(900, lambda: window.ask_text_columns(args.import_texts))

    def click_in_dialog() -> None:
        dialog = app.activeModalWidget()
        if dialog is None:  # not open yet
            QTimer.singleShot(200, click_in_dialog)
            return
        for text in args.dialog_click:
            next(b for b in dialog.findChildren(QAbstractButton) if b.text() == text).click()

    if args.dialog_click:
        QTimer.singleShot(1200, click_in_dialog)
    if args.duplicates:
        QTimer.singleShot(900, window.duplicates_requested.emit)
    if args.label_errors:
        QTimer.singleShot(900, window.label_errors_requested.emit)
    if args.show_map:
        QTimer.singleShot(800, lambda: (window.show_dataset_map(), show_map()))
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
