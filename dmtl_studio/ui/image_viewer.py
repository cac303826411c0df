"""A large view of one image with zoom (wheel, +/-) and pan (drag); 'fit' shows the whole image."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QKeyEvent, QPainter, QPixmap, QWheelEvent
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QLabel, QVBoxLayout, QWidget


class ZoomView(QGraphicsView):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.item = QGraphicsPixmapItem()
        self.item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self.item)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setBackgroundBrush(Qt.GlobalColor.darkGray)
        self.fitted = True

    def set_image(self, image: QImage) -> None:
        self.item.setPixmap(QPixmap.fromImage(image))
        self.scene().setSceneRect(self.item.boundingRect())
        self.fit()

    def clear(self) -> None:
        self.item.setPixmap(QPixmap())

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
        else:
            super().keyPressEvent(event)

    def resizeEvent(self, event) -> None:  # noqa: ANN001 - Qt override
        super().resizeEvent(event)
        if self.fitted:
            self.fit()


class ImageViewer(QWidget):
    """The current image, large, with its name, label and split."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = QLabel("Select an image")
        self.caption.setWordWrap(True)
        self.view = ZoomView()
        self.view.setToolTip("Wheel or +/- to zoom, drag to pan, F to fit")
        self.image_id: int | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.view, 1)

    def show_pending(self, image_id: int, caption: str) -> None:
        self.image_id = image_id
        self.caption.setText(caption)

    def set_caption(self, caption: str) -> None:
        self.caption.setText(caption)

    def set_image(self, image_id: int, image: QImage) -> None:
        if image_id == self.image_id:
            self.view.set_image(image)

    def show_problem(self, image_id: int, reason: str) -> None:
        if image_id == self.image_id:
            self.view.clear()
            self.caption.setText(f"{self.caption.text()}<br><span style='color:#c0392b'>{reason}</span>")
