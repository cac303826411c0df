"""Every CSV file the product writes is formula-safe, and reads back to what was written."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from dmtl_studio.core.base.csvfile import CsvLimitError, escape_cell, read_csv, unescape_cell
from dmtl_studio.core.evaluation.predict import Prediction, PredictSummary, write_predictions_csv
from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.interop import export_csv, import_csv
from dmtl_studio.core.project.store import ProjectStore

FORMULAS = ('=HYPERLINK("evil.example","click")', "+1+1", "-2+3", "@SUM(A1)", "=1", "'=quoted", "''+x")


def _cells(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def _dangerous(cell: str) -> bool:
    return cell[:1] in ("=", "+", "-", "@", "\t", "\r")


@pytest.mark.parametrize(
    "value", [*FORMULAS, "\tx", "\rx", "plain", "", "'", "''", "'abc", "a=b", "-", "'-", "'\t"]
)
def test_escaping_is_safe_and_exactly_undone(value: str) -> None:
    written = escape_cell(value)
    assert not _dangerous(written)
    assert unescape_cell(written) == value


def test_label_export_neutralises_formulas_and_imports_them_back(tmp_path: Path, project: Path) -> None:
    with ProjectStore.open(project) as store:
        images = store.images(usable_only=True)
        for image, name in zip(images, FORMULAS, strict=False):
            store.set_label([image.id], name)
        export_csv(store, tmp_path / "labels.csv")
        original = {im.path: im.label for im in store.images(usable_only=True) if im.label}
    cells = [cell for row in _cells(tmp_path / "labels.csv") for cell in row]
    assert not [cell for cell in cells if _dangerous(cell)]
    assert {f"'{name}" for name in FORMULAS} <= set(cells)
    with ProjectStore.create(tmp_path / "fresh") as fresh:
        import_csv(fresh, tmp_path / "labels.csv")
        assert {im.path: im.label for im in fresh.images() if im.label} == original


def test_predictions_csv_neutralises_formulas(tmp_path: Path) -> None:
    classes = ("=cmd|' /C calc'!A0", "@evil", "ok")
    summary = PredictSummary(
        classes=classes,
        predictions=(Prediction("/data/-x.png", classes[0], 0.9, (0.9, 0.05, 0.05)),),
        problems=(),
    )
    write_predictions_csv(summary, tmp_path / "p.csv")
    rows = _cells(tmp_path / "p.csv")
    assert not [cell for row in rows for cell in row if _dangerous(cell)]
    assert rows[1][1] == "'" + classes[0]
    assert [unescape_cell(c) for c in rows[1][:2]] == ["/data/-x.png", classes[0]]


def test_read_limits_are_plain_errors(tmp_path: Path) -> None:
    huge = tmp_path / "huge.csv"
    huge.write_text("path,label\n" + "a" * 140_000 + ",x\n")
    with ProjectStore.create(tmp_path / "p") as store, pytest.raises(ProjectError, match="line 2.*4,096"):
        import_csv(store, huge)
    many = tmp_path / "many.csv"
    many.write_text("path,label\n" + "a.png,x\n" * 11)
    with pytest.raises(CsvLimitError, match="more than 10 rows"):
        list(read_csv(many, max_rows=10))
