"""Guards against a Qt binding that mishandles Python overrides called from C++.

PySide6 6.12.0 drops one reference to ``None`` each time a Python ``data()`` override returns ``None`` to C++;
on Python 3.11, where ``None`` is reference counted, the browser aborted after a few thousand paints.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QSortFilterProxyModel, Qt

from dmtl_studio.core.project.images_table import ImageRecord
from dmtl_studio.ui.dataset_browser import ImageListModel


def test_model_overrides_returning_none_keep_none_alive(qtbot) -> None:  # noqa: ANN001
    model = ImageListModel()
    model.set_records([ImageRecord(1, "/x/a.png", None, None, None, None, None, "cat", "train")])
    proxy = QSortFilterProxyModel()
    proxy.setSourceModel(model)  # proxy.data() calls the Python override from C++, as views do
    index = proxy.index(0, 0)
    before = sys.getrefcount(None)
    for _ in range(2000):
        assert proxy.data(index, Qt.ItemDataRole.SizeHintRole) is None  # a role the model does not handle
    assert sys.getrefcount(None) >= before - 50
