"""A label CSV file follows the rules of labelling in the window (core/project/labels.py)."""

from __future__ import annotations

import csv
import sqlite3
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.imaging import decode_image, inspect_image
from dmtl_studio.core.project.importer import import_folder
from dmtl_studio.core.project.interop import import_csv
from dmtl_studio.core.project.labels import LabelEditor
from dmtl_studio.core.project.project_kind import create_project
from dmtl_studio.core.project.removal import remove_items
from dmtl_studio.core.project.store import DATABASE_NAME, ProjectStore
from dmtl_studio.core.project.text_demo import write_text_folder
from dmtl_studio.core.project.text_import import import_texts
from dmtl_studio.core.project.texts_table import TextItem


def _write(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as stream:
        csv.writer(stream).writerows([("path", "label"), *rows])
    return path


def test_image_label_csv_keeps_labels_on_empty_cells_skips_problem_files_and_gives_splits(
    tmp_path: Path, project: Path
) -> None:
    with ProjectStore.open(project) as store:
        records = store.images()
        kept, same = [r for r in records if r.label is not None][:2]
        new = next(r for r in records if r.label is None and r.problem is None)
        broken = next(r for r in records if r.problem is not None)
        assert new.split is None
        rows = [(kept.path, ""), (same.path, same.label), (new.path, kept.label), (broken.path, kept.label)]
        editor = LabelEditor(store)
        summary = import_csv(store, _write(tmp_path / "l.csv", rows), editor=editor)
        after = {r.id: r for r in store.images()}
        assert after[kept.id].label == kept.label  # an empty cell loses no label
        assert after[new.id].label == kept.label and after[new.id].split is not None
        assert after[broken.id].label is None  # a problem file is never labelled
        assert [path for path, _ in summary.problems] == [broken.path]
        assert "problem file" in summary.problems[0][1]
        assert (summary.labelled, summary.changed, summary.unchanged, summary.empty_kept) == (2, 1, 1, 1)
        assert editor.undo() is not None and store.labels_of([new.id]) == {new.id: None}

        summary = import_csv(store, tmp_path / "l.csv", unlabel_empty=True)
        assert summary.unlabelled == 1 and store.labels_of([kept.id]) == {kept.id: None}


def test_text_label_csv_follows_the_same_rules(tmp_path: Path) -> None:
    folder = write_text_folder(tmp_path / "texts")
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02\xff" * 50)
    with create_project(tmp_path / "p", kind="text") as store:
        import_texts(store, folder, seed=0)
        records = store.images()
        kept = next(r for r in records if r.label is not None)
        new = next(r for r in records if r.label is None and r.problem is None)
        broken = [r for r in records if r.problem is not None]
        assert broken
        rows = [(kept.path, ""), (new.path, kept.label), *((r.path, kept.label) for r in broken)]
        summary = import_csv(store, _write(tmp_path / "l.csv", rows))
        after = {r.id: r for r in store.images()}
        assert after[kept.id].label == kept.label
        assert after[new.id].label == kept.label and after[new.id].split is not None
        assert all(after[r.id].label is None for r in broken)
        assert len(summary.problems) == len(broken)
        assert (summary.labelled, summary.changed, summary.empty_kept) == (1, 1, 1)


def test_label_names_are_stored_in_nfc_form_and_case_variants_are_reported(
    tmp_path: Path, project: Path
) -> None:
    decomposed = unicodedata.normalize("NFD", "café")
    assert decomposed != "café"
    with ProjectStore.open(project) as store:
        free = [r for r in store.images() if r.label is None and r.problem is None]
        a_class = store.class_names()[0]
        store.add_class("café")
        rows = [(free[0].path, decomposed), (free[1].path, a_class.upper())]
        summary = import_csv(store, _write(tmp_path / "l.csv", rows))
        assert store.labels_of([free[0].id])[free[0].id] == "café"
        assert "café" in store.class_names() and decomposed not in store.class_names()
        assert summary.case_variants == ((a_class.upper(), a_class),)
        LabelEditor(store).assign([free[2].id], decomposed)  # the window's door
        assert store.labels_of([free[2].id])[free[2].id] == "café"
        assert store.class_names().count("café") == 1


def test_folder_and_table_imports_store_nfc_names_and_report_case_variants(tmp_path: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "café")
    for index, folder in enumerate(["Cat", "cat", decomposed, "café"]):
        (tmp_path / "images" / folder).mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (index * 60, 0, 0)).save(tmp_path / "images" / folder / f"{index}.png")
    with ProjectStore.create(tmp_path / "p") as store:
        summary = import_folder(store, tmp_path / "images", seed=0)
        assert sorted(store.class_names()) == ["Cat", "café", "cat"]
        assert store.class_counts()["café"]["total"] == 2
        assert summary.case_variants == (("cat", "Cat"),)
        assert "class 'cat' differs from class 'Cat' only in case" in summary.describe()
    table = tmp_path / "t.csv"
    table.write_text(f"text,label\nfirst text,{decomposed}\nsecond text,café\nthird,CAFÉ\n", encoding="utf-8")
    with create_project(tmp_path / "q", kind="text") as store:
        summary = import_texts(store, table, text_column="text", label_column="label", seed=0)
        assert sorted(store.class_names()) == ["CAFÉ", "café"]
        assert summary.case_variants == (("café", "CAFÉ"),)


def test_text_class_folders_and_json_lines_report_case_variants_naming_both(tmp_path: Path) -> None:
    for folder, body in (("Billing", "my invoice is wrong"), ("billing", "please refund me")):
        (tmp_path / "texts" / folder).mkdir(parents=True)
        (tmp_path / "texts" / folder / "a.txt").write_text(body, encoding="utf-8")
    with create_project(tmp_path / "f", kind="text") as store:
        summary = import_texts(store, tmp_path / "texts", seed=0)
        assert sorted(store.class_names()) == ["Billing", "billing"]  # reported, never merged
        assert "class 'billing' differs from class 'Billing' only in case" in summary.describe()
    lines = tmp_path / "t.jsonl"
    lines.write_text('{"text": "one", "label": "Bugs"}\n{"text": "two", "label": "BUGS"}\n', encoding="utf-8")
    with create_project(tmp_path / "j", kind="text") as store:
        summary = import_texts(store, lines, text_column="text", label_column="label", seed=0)
        assert sorted(store.class_names()) == ["BUGS", "Bugs"]
        assert summary.case_variants == (("Bugs", "BUGS"),) and "'Bugs'" in summary.describe()


def test_mixing_kinds_names_an_images_project_and_conversions_that_change_pixels_leave_a_note(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    rgba = np.zeros((16, 16, 4), np.uint8)  # 16 px: no note for being tiny
    rgba[..., 3] = 255
    Image.fromarray(rgba, "RGBA").save(folder / "opaque.png")
    rgba[:8, :, 3] = 0
    Image.fromarray(rgba, "RGBA").save(folder / "transparent.png")
    Image.new("RGB", (16, 16), (200, 10, 10)).convert("P").save(folder / "palette.png")
    Image.new("CMYK", (16, 16), (0, 200, 200, 0)).save(folder / "cmyk.jpg")
    text = create_project(tmp_path / "t", kind="text")
    with text, pytest.raises(ProjectError, match="Make an images project for them"):
        import_folder(text, folder)
    with ProjectStore.create(tmp_path / "p") as store:
        summary = import_folder(store, folder, seed=0)
        notes = {Path(path).name: note for path, note in summary.notes}
        assert set(notes) == {"transparent.png", "cmyk.jpg"}  # exact conversions need no note
        assert "transparent" in notes["transparent.png"] and "CMYK" in notes["cmyk.jpg"]
        assert dict(store.notes()) == dict(summary.notes)
    assert inspect_image(folder / "cmyk.jpg").note == decode_image(folder / "cmyk.jpg").note


def _store_names(project: Path, renames: dict[str, str]) -> None:
    """Write class names as a version before NFC names stored them (the database changed directly)."""
    conn = sqlite3.connect(project / DATABASE_NAME)
    with conn:
        for old, new in renames.items():
            conn.execute("UPDATE classes SET name = ? WHERE name = ?", (new, old))
    conn.close()


def test_opening_a_project_stores_decomposed_class_names_in_nfc_form(tmp_path: Path) -> None:
    nfd = unicodedata.normalize("NFD", "café")
    project = tmp_path / "p"
    with create_project(project, kind="text") as store:
        store.add_texts([TextItem("a.csv#1", "an espresso", "café"), TextItem("a.csv#2", "green tea", "tea")])
    _store_names(project, {"café": nfd})
    with ProjectStore.open(project) as store:
        assert sorted(store.class_names()) == ["café", "tea"] and store.class_counts()["café"]["total"] == 1
        assert [line for line in store.class_name_notes if "'café'" in line and "standard Unicode" in line]
        # A new label of that name (stored NFC) joins the class instead of making a second one.
        store.add_texts([TextItem("a.csv#3", "a mocha", "café")])
        assert store.class_counts()["café"]["total"] == 2
        store.add_texts([TextItem("a.csv#4", "black tea", "thé")])
    # The decomposed name next to its NFC form, both classes: merged into one, every item kept.
    _store_names(project, {"tea": unicodedata.normalize("NFD", "thé")})
    with ProjectStore.open(project) as store:
        assert sorted(store.class_names()) == ["café", "thé"] and store.class_counts()["thé"]["total"] == 2
        assert [line for line in store.class_name_notes if "'thé'" in line and "1 item(s) moved" in line]
    with ProjectStore.open(project) as store:  # done once: nothing left to change
        assert store.class_name_notes == ()
    # A name whose standard form cannot be had (another class has it once its spaces go) is left and reported.
    _store_names(project, {"thé": unicodedata.normalize("NFD", " café ")})
    with ProjectStore.open(project) as store:
        assert len(store.class_names()) == 2 and store.class_counts()["café"]["total"] == 2
        assert [
            line for line in store.class_name_notes if "left as it was" in line and "labels rename" in line
        ]


def test_a_text_reimport_reports_a_case_variant_only_where_it_made_the_class(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_text("text,label\nmy invoice is wrong,Billing\nthe app crashes,bugs\n", encoding="utf-8")
    with create_project(tmp_path / "p", kind="text") as store:
        import_texts(store, table, text_column="text", label_column="label", seed=0)
        table.write_text("text,label\nmy invoice is wrong,billing\nthe app crashes,bugs\n", encoding="utf-8")
        kept = import_texts(store, table, text_column="text", label_column="label", seed=0)
        # The project's label was kept: no empty class 'billing', and no warning about one.
        assert sorted(store.class_names()) == ["Billing", "bugs"] and len(kept.label_differences) == 1
        assert kept.case_variants == () and "only in case" not in kept.describe()
        taken = import_texts(store, table, text_column="text", label_column="label", labels_from_file=True)
        assert sorted(store.class_names()) == ["Billing", "billing", "bugs"] and taken.relabelled == 1
        assert taken.case_variants == (("billing", "Billing"),)
        assert "class 'billing' differs from class 'Billing' only in case" in taken.describe()


def test_a_row_naming_a_file_never_relabels_a_link_to_it_and_a_link_row_finds_its_link(
    tmp_path: Path,
) -> None:
    """A folder import keeps a link beside its target as two images; once the target was removed, its removal log
    brought it back onto the link (relabelling the link, the file left out)."""
    images = tmp_path / "images"
    for name in ("cats", "dogs"):
        (images / name).mkdir(parents=True)
    rng = np.random.default_rng(0)
    for k in range(2):
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(images / "cats" / f"c{k}.png")
    Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(images / "dogs" / "d0.png")
    link = images / "dogs" / "link_to_cat.png"
    link.symlink_to(images / "cats" / "c0.png")
    with create_project(tmp_path / "p") as store:
        import_folder(store, images, val_fraction=0.0, seed=0)
        by_path = {r.path: r for r in store.images()}
        target = str(images / "cats" / "c0.png")
        remove_items(store, [by_path[target].id])  # the file is removed, the link stays
        summary = import_csv(store, _write(tmp_path / "back.csv", [(target, "cats")]))
        labels = {r.path: r.label for r in store.images()}
        assert summary.added == 1 and labels[target] == "cats" and labels[str(link)] == "dogs"
        # A row that names the link itself finds the link.
        import_csv(store, _write(tmp_path / "link.csv", [(str(link), "cats")]))
        labels = {r.path: r.label for r in store.images()}
        assert labels[str(link)] == "cats" and len(labels) == 4


def test_a_text_label_csv_re_saved_in_another_encoding_is_refused_whole(tmp_path: Path) -> None:
    """Excel on Windows re-saves a CSV in cp1252: its accents entered the project as broken characters (a crash
    on a text cell, a phantom item under a broken key)."""
    folder = write_text_folder(tmp_path / "texts")
    with create_project(tmp_path / "p", kind="text") as store:
        import_texts(store, folder, seed=0)
        record = next(r for r in store.images() if r.label is not None)
        before = {r.id: (r.path, r.label) for r in store.images()}
        legacy = tmp_path / "labels.csv"
        legacy.write_bytes(
            f"path,label,text\n{record.path},other,Le caf\u00e9 co\u00fbte 3 \u20ac\n".encode("cp1252")
        )
        with pytest.raises(ProjectError, match=r"labels.csv, line 2: byte 0xe9 is not UTF-8 .*'CSV UTF-8'"):
            import_csv(store, legacy)
        assert {r.id: (r.path, r.label) for r in store.images()} == before  # nothing imported
        summary = import_csv(store, legacy, encoding="cp1252")  # named: read as what it is
        assert summary.labelled == 1 and not summary.problems
        assert next(r.label for r in store.images() if r.id == record.id) == "other"


def test_labels_that_spell_the_same_number_are_warned_about(tmp_path: Path) -> None:
    """A spreadsheet rewrote some rows' ``1`` as ``1.0``: two classes, with a warning and the rename to run."""
    from dmtl_studio.core.project.validation import case_variants

    table = tmp_path / "t.csv"
    table.write_text("text,label\na,1\nb,1.0\nc,0\nd,2\ne,02\nf,nan\ng,NaN\n", encoding="utf-8")
    with create_project(tmp_path / "q", kind="text") as store:
        summary = import_texts(store, table, text_column="text", label_column="label", seed=0)
    text = summary.describe()
    assert (
        "class '1.0' is the same number as class '1'" in text
        and "labels rename PROJECT '1.0' '1' --merge" in text
    )
    assert "class '2' is the same number as class '02'" in text
    assert "class 'nan' differs from class 'NaN' only in case" in text  # not a number: compared by case
    assert case_variants(["1"], ["1.5", "10"]) == []


def test_a_byte_the_named_encoding_cannot_read_is_named_so(tmp_path: Path) -> None:
    """With --encoding cp1252 given, the message said 'not UTF-8 … name it: --encoding cp1252' (h29)."""
    folder = write_text_folder(tmp_path / "texts")
    with create_project(tmp_path / "p", kind="text") as store:
        import_texts(store, folder, seed=0)
        record = next(r for r in store.images() if r.label is not None)
        bad = tmp_path / "labels.csv"
        bad.write_bytes(f"path,label\n{record.path},caf".encode() + b"\x81\n")  # 0x81: no character in cp1252
        with pytest.raises(ProjectError, match=r"byte 0x81 is no character in cp1252, the encoding named"):
            import_csv(store, bad, encoding="cp1252")


def test_a_repeated_rows_empty_label_is_said_as_what_it_did() -> None:
    """ "'cat', then '' (kept)" for an empty label that left the label as it was (h36)."""
    from dmtl_studio.core.project.label_files import LabelImportSummary

    rows = (("a/1.png", "cat", ""), ("a/2.png", "", "dog"), ("a/3.png", "cat", "dog"))
    kept = LabelImportSummary(labelled=0, added=0, problems=(), conflicting=rows)
    assert kept.conflict_lines(lambda key: key.split("/")[-1]) == [
        "1.png: 'cat', then an empty label (its label stays)",
        "2.png: an empty label, then 'dog' (kept)",
        "3.png: 'cat', then 'dog' (kept)",
    ]
    unlabelled = LabelImportSummary(
        labelled=0, added=0, problems=(), conflicting=rows[:1], unlabel_empty=True
    )
    assert unlabelled.conflict_lines() == ["a/1.png: 'cat', then an empty label (kept: unlabelled)"]
