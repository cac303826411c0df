"""A large view of one image with zoom (wheel, +/-) and pan (drag); 'fit' shows the whole image.

The Grad-CAM button (or the G key) lays the trained model's heat map over the image: where the evidence for the
predicted class came from. The map itself is computed elsewhere; the viewer asks for it with
:attr:`ImageViewer.explain_requested` and shows what :meth:`ImageViewer.set_overlay` gives it.
"""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QKeyEvent, QPainter, QPixmap, QTransform, QWheelEvent
from PySide6.QtWidgets import (
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from dmtl_studio.core.base.heat_ramp import heat_rgba
from dmtl_studio.ui.muted import readable, tone
from dmtl_studio.ui.shortcuts import set_text_keeping_shortcut

#: Said after a file that is no longer where the project found it.
MISSING_HINT = " — moved, renamed or deleted since the import; import its new folder again, or the next run leaves it out"


def heatmap_to_qimage(heatmap: np.ndarray) -> QImage:
    """A [0, 1] heat map as a colour image whose opacity grows with the heat (cold parts stay see-through)."""
    rgba = heat_rgba(heatmap)
    height, width = rgba.shape[:2]
    return QImage(rgba.data, width, height, 4 * width, QImage.Format.Format_RGBA8888).copy()


class ZoomView(QGraphicsView):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.item = QGraphicsPixmapItem()
        self.item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self.item)
        self.overlay = QGraphicsPixmapItem(self.item)  # a child: it pans and zooms with the image
        self.overlay.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.overlay.setVisible(False)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setBackgroundBrush(Qt.GlobalColor.darkGray)
        self.fitted = True

    def set_image(self, image: QImage) -> None:
        self.item.setPixmap(QPixmap.fromImage(image))
        self.scene().setSceneRect(self.item.boundingRect())
        self.clear_overlay()
        self.fit()

    def set_overlay(self, image: QImage) -> None:
        """Lay ``image`` over the whole picture, scaled to it (a Grad-CAM map covers the picture itself, its
        padding cropped away, in the model's input pixels)."""
        picture = self.item.pixmap()
        if picture.isNull() or image.isNull():
            return
        self.overlay.setPixmap(QPixmap.fromImage(image))
        self.overlay.setTransform(
            QTransform.fromScale(picture.width() / image.width(), picture.height() / image.height())
        )
        self.overlay.setVisible(True)

    def clear_overlay(self) -> None:
        self.overlay.setPixmap(QPixmap())
        self.overlay.setVisible(False)

    def clear(self) -> None:
        self.item.setPixmap(QPixmap())
        self.clear_overlay()

    def fit(self) -> None:
        self.fitted = True
        if not self.item.pixmap().isNull():
            self.fitInView(self.item, Qt.AspectRatioMode.KeepAspectRatio)

    def zoom(self, factor: float) -> None:
        self.fitted = False
        scale = self.transform().m11() * factor
        if 0.02 <= scale <= 40:
            self.scale(factor, factor)

    def zoom_level(self) -> float:
        return self.transform().m11()

    def wheelEvent(self, event: QWheelEvent) -> None:
        self.zoom(1.25 if event.angleDelta().y() > 0 else 0.8)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom(1.25)
        elif event.key() == Qt.Key.Key_Minus:
            self.zoom(0.8)
        elif event.key() == Qt.Key.Key_F:
            self.fit()
        elif event.text() and (event.text().isdigit() or event.text() in " \r\n\b\x7f"):
            event.ignore()  # labelling keys: the browser around this view handles them
        elif event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Backspace, Qt.Key.Key_Delete):
            event.ignore()
        else:
            super().keyPressEvent(event)

    def resizeEvent(self, event) -> None:  # noqa: ANN001 - Qt override
        super().resizeEvent(event)
        if self.fitted:
            self.fit()


class ImageViewer(QWidget):
    """The current image, large, with its name, label and split, and an optional Grad-CAM overlay."""

    explain_requested = Signal(int, str)  # image id, path

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = QLabel("Select an image")
        self.caption.setWordWrap(True)
        self.view = ZoomView()
        self.view.setAccessibleName("Current image")
        self.view.setToolTip("Wheel or +/- to zoom, drag to pan, F to fit")
        self.explain_button = QPushButton("Grad-CAM")
        self.explain_button.setCheckable(True)
        self.explain_button.setShortcut("G")
        self.explain_button.setToolTip(
            "Overlay where the chosen run found the evidence for its prediction (G). "
            "Choose the run in the Evaluation area."
        )
        self.explain_button.toggled.connect(self._explain_toggled)
        self.overlay_note = QLabel()
        self.overlay_note.setTextFormat(Qt.TextFormat.PlainText)  # it names classes, which may hold '<'
        self.overlay_note.setWordWrap(True)
        tone(self.overlay_note)
        self.image_id: int | None = None
        self.path: str | None = None
        top = QHBoxLayout()
        top.addWidget(self.caption, 1)
        top.addWidget(self.explain_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.overlay_note)
        layout.addWidget(self.view, 1)
        self.overlay_note.hide()

    @property
    def explaining(self) -> bool:
        return self.explain_button.isChecked()

    def show_pending(
        self, image_id: int, caption: str, path: str | None = None, placeholder: QPixmap | None = None
    ) -> None:
        """``image_id`` is current: its caption at once, and until its pixels are decoded (a large photo can take
        seconds) its thumbnail ``placeholder`` enlarged, or an empty view — never the image shown before."""
        if image_id != self.image_id:
            self._problem = ""
        self.image_id = image_id
        self.path = path
        self.set_caption(caption)
        if placeholder is not None and not placeholder.isNull():
            self.view.set_image(placeholder.toImage())
        else:
            self.view.clear()
        self._ask_for_overlay()

    def set_caption(self, caption: str) -> None:
        """The caption (rich text) of the image shown, with why it cannot be shown when it cannot: a caption drawn
        again (a label, a note, a split move) dropped that line."""
        self.caption.setText(caption + self._problem)

    def clear(self, caption: str = "Select an image") -> None:
        """No image is current (none is left by a filter or a search): the picture, overlay and caption go."""
        self.image_id = self.path = None
        self._problem = ""
        self._pending_overlay = None
        self.view.clear()
        self.overlay_note.hide()
        self.caption.setText(caption)

    def set_image(self, image_id: int, image: QImage) -> None:
        if image_id == self.image_id:
            if self._problem:  # read after all (the file is back): its caption without the problem
                self.caption.setText(self.caption.text().removesuffix(self._problem))
                self._problem = ""
            self.view.set_image(image)
            if self._pending_overlay is not None and self._pending_overlay[0] == image_id:
                self.view.set_overlay(self._pending_overlay[1])

    _pending_overlay: tuple[int, QImage] | None = None
    _problem = ""  # why the image shown cannot be shown, as a line of its caption

    def show_problem(self, image_id: int, reason: str = "") -> None:
        """``image_id`` cannot be shown: no picture, not the one before, and ``reason`` under the caption (a file
        deleted or moved since the import showed an empty grey box and a caption as if all were well)."""
        if image_id != self.image_id:
            return
        self.view.clear()
        if reason and not self._problem:
            caption = self.caption.text()
            self._problem = (
                f"<br><span style='color:{readable('#c0392b')}'>"
                f"{html.escape(reason)}{MISSING_HINT if 'No such file' in reason else ''}</span>"
            )
            self.set_caption(caption)

    # ----------------------------------------------------------------- Grad-CAM
    def _explain_toggled(self, on: bool) -> None:
        # The checked look is faint in some styles: the label says the state too (G toggled it unseen, h25).
        set_text_keeping_shortcut(self.explain_button, "Grad-CAM: on" if on else "Grad-CAM")
        if on:
            self._ask_for_overlay()
        else:
            self._pending_overlay = None
            self.view.clear_overlay()
            self.overlay_note.hide()

    def refresh_overlay(self) -> None:
        """The image's label changed: the overlay made for its old verdict goes (and is made again if on)."""
        self.view.clear_overlay()
        self.overlay_note.hide()
        self._ask_for_overlay()

    def _ask_for_overlay(self) -> None:
        self._pending_overlay = None
        if self.explaining and self.image_id is not None and self.path:
            self.overlay_note.setText("Computing the Grad-CAM map…")
            self.overlay_note.show()
            self.explain_requested.emit(self.image_id, self.path)

    def set_overlay(self, image_id: int, heatmap: np.ndarray, text: str) -> None:
        """Show a [0, 1] heat map over the image ``image_id`` (ignored if another image is shown now)."""
        if image_id != self.image_id or not self.explaining:
            return
        image = heatmap_to_qimage(heatmap)
        self._pending_overlay = (image_id, image)  # the picture itself may still be decoding
        self.view.set_overlay(image)
        self.overlay_note.setText(text)
        self.overlay_note.show()

    def show_overlay_message(self, text: str) -> None:
        """Why there is no overlay (no run chosen, a transformer backbone, an error)."""
        self.view.clear_overlay()
        self.overlay_note.setText(text)
        self.overlay_note.show()

    def overlay_shown(self) -> bool:
        return self.view.overlay.isVisible() and not self.view.overlay.pixmap().isNull()
