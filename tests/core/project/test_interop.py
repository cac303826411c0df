from __future__ import annotations

import csv
import os
import sqlite3
import time
from pathlib import Path

import pytest

from dmtl_studio.core.project.errors import ProjectError
from dmtl_studio.core.project.importer import import_folder
from dmtl_studio.core.project.interop import export_csv, export_imagefolder, import_csv
from dmtl_studio.core.project.store import ProjectStore


def _labels_by_hash(store: ProjectStore) -> dict[str, str | None]:
    return {im.sha256: im.label for im in store.images(usable_only=True)}


def test_csv_round_trip_is_exact(tmp_path: Path, project: Path) -> None:
    with ProjectStore.open(project) as store:
        ids = [im.id for im in store.images(usable_only=True) if im.label is None]
        store.set_label(ids[:2], 'odd, quoted "name"')  # commas and quotes survive CSV
        written = export_csv(store, tmp_path / "labels.csv")
        original = {im.path: im.label for im in store.images(usable_only=True) if im.label}
    assert written == len(original)
    with ProjectStore.create(tmp_path / "fresh") as fresh:
        summary = import_csv(fresh, tmp_path / "labels.csv")
        assert summary.labelled == written and summary.added == written
        assert {im.path: im.label for im in fresh.images() if im.label} == original


def test_csv_with_relative_paths_and_bad_rows(tmp_path: Path, shapes_dir: Path) -> None:
    (tmp_path / "labels.csv").write_text("path,label\nmissing.png,x\n")
    with ProjectStore.create(tmp_path / "p") as store:
        summary = import_csv(store, tmp_path / "labels.csv")
        # A row whose file is not there is reported, and leaves no trace in the project.
        assert summary.labelled == 0 and summary.added == 0 and not summary.problems
        assert summary.not_found == (str((tmp_path / "missing.png").absolute()),)
        assert store.image_count() == 0 and store.class_names() == []
    real = next((shapes_dir / "circle").glob("*.png"))
    (tmp_path / "new.csv").write_text(f"path,label\n{real},mitotic\n")
    with ProjectStore.create(tmp_path / "r") as store:
        summary = import_csv(store, tmp_path / "new.csv")
        assert summary.labelled == 1 and summary.new_classes == ("mitotic",)
    (tmp_path / "bad.csv").write_text("file;class\n")
    with ProjectStore.create(tmp_path / "q") as store, pytest.raises(ProjectError, match="header"):
        import_csv(store, tmp_path / "bad.csv")


@pytest.mark.parametrize("separator", [";", "\t"])
def test_a_csv_separated_by_semicolons_or_tabs_is_read_as_such(
    tmp_path: Path, shapes_dir: Path, separator: str
) -> None:
    """A spreadsheet saved as CSV where the decimal mark is a comma writes semicolons (with a byte-order mark)."""
    circles = sorted((shapes_dir / "circle").glob("*.png"))[:2]
    lines = ["path;label".replace(";", separator)] + [f"{p}{separator}round, small" for p in circles]
    (tmp_path / "excel.csv").write_text("\ufeff" + "\r\n".join(lines) + "\r\n", encoding="utf-8")
    with ProjectStore.create(tmp_path / "p") as store:
        summary = import_csv(store, tmp_path / "excel.csv")
        assert summary.labelled == 2 and store.class_names() == ["round, small"]  # a comma inside a cell


def test_imagefolder_round_trip_keeps_every_label(tmp_path: Path, project: Path) -> None:
    with ProjectStore.open(project) as store:
        count = export_imagefolder(store, tmp_path / "tree")
        expected = {k: v for k, v in _labels_by_hash(store).items() if v}
    assert count == 72
    with ProjectStore.create(tmp_path / "again") as again:
        import_folder(again, tmp_path / "tree")
        assert _labels_by_hash(again) == expected
    with ProjectStore.open(project) as store, pytest.raises(ProjectError, match="not empty"):
        export_imagefolder(store, tmp_path / "tree")
    (tmp_path / "labels.csv").write_text("kept")
    with (
        ProjectStore.open(project) as store,
        pytest.raises(ProjectError, match="is a file; the export makes"),
    ):
        export_imagefolder(store, tmp_path / "labels.csv")
    assert (tmp_path / "labels.csv").read_text() == "kept"


def test_label_csv_door_refuses_path_like_class_names(tmp_path: Path, shapes_dir: Path) -> None:
    files = sorted((shapes_dir / "circle").glob("*.png"))
    bad = ["..", "../../x", "/tmp/abs", "a/b", "a\\b", ".", "x\x00y", "tab\tinside", "C:evil", "n" * 101]
    rows = [[str(path), name] for path, name in zip(files, bad, strict=False)]
    rows.append([str(files[len(bad)]), "fine"])
    with open(tmp_path / "labels.csv", "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["path", "label"], *rows])
    with ProjectStore.create(tmp_path / "p") as store:
        summary = import_csv(store, tmp_path / "labels.csv")
        assert store.class_names() == ["fine"] and summary.labelled == 1
        assert len(summary.problems) == len(bad)


@pytest.mark.parametrize(
    "name",
    [
        "..",
        "../../x",
        "/abs",
        "a/b",
        ".",
        "x\x00y",
        "bell\x07",
        "",
        "  ",
        "n" * 101,
        "C:x",
        "con",
        "LPT1.txt",
        "\u202eevil",  # a right-to-left override reverses the text shown around it
        "cats\u2066x",
    ],
)
def test_every_store_door_refuses_path_like_class_names(tmp_path: Path, name: str) -> None:
    with ProjectStore.create(tmp_path / "p") as store:
        store.add_images([("/x/a.png", "ok", None, None)])
        image_id = store.images()[0].id
        doors = [
            lambda: store.add_class(name),
            lambda: store.rename_class("ok", name),
            lambda: store.merge_classes(["ok"], name),
            lambda: store.set_label([image_id], name),
            lambda: store.set_labels({image_id: name}),
            lambda: store.add_images([("/x/b.png", name, None, None)]),
        ]
        for door in doors:
            if name == "" and door in doors[3:]:
                continue  # an empty label means "unlabelled" there
            with pytest.raises(ProjectError):
                door()
        assert store.class_names() == ["ok"] and store.image_count() == 1


def test_csv_paths_are_resolved_deduplicated_and_must_be_image_files(
    tmp_path: Path, shapes_dir: Path
) -> None:
    folder = tmp_path / "imgs"
    (folder / "sub").mkdir(parents=True)
    source = sorted((shapes_dir / "circle").glob("*.png"))[0]
    (folder / "a.png").write_bytes(source.read_bytes())
    (folder / "notes.txt").write_text("not a picture")
    spellings = ["imgs/a.png", "./imgs/a.png", "imgs/./a.png", "imgs/sub/../a.png", str(folder / "a.png")]
    rows = [f"{s},circle" for s in spellings] + [
        "/etc/passwd,circle",
        "imgs/notes.txt,x",
        "imgs,x",
        "/dev/null,x",
    ]
    (tmp_path / "labels.csv").write_text("path,label\n" + "\n".join(rows) + "\n")
    with ProjectStore.create(tmp_path / "p") as store:
        summary = import_csv(store, tmp_path / "labels.csv")
        assert [im.path for im in store.images()] == [str((folder / "a.png").resolve())]
        assert summary.added == 1 and summary.labelled == 1 and summary.duplicates == len(spellings) - 1
        assert summary.conflicting == ()  # every spelling gave the same label
        reasons = dict(summary.problems)
        assert "not a file" in reasons["imgs"] and "not a regular file" in reasons["/dev/null"]
        assert len(summary.problems) == 4 and store.class_names() == ["circle"]
    # Two rows for one picture with different labels: which labels, and which one counts, are named (h30).
    (tmp_path / "twice.csv").write_text("path,label\nimgs/a.png,circle\n./imgs/a.png,square\nimgs/a.png,\n")
    with ProjectStore.open(tmp_path / "p") as store:
        summary = import_csv(store, tmp_path / "twice.csv")
        assert summary.duplicates == 2
        assert summary.conflicting == (("./imgs/a.png", "circle", "square"), ("imgs/a.png", "square", ""))


def test_export_folders_writes_nothing_outside_its_folder(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.png").write_bytes(b"pretend")
    project = tmp_path / "project"
    with ProjectStore.create(project) as store:
        store.add_images([(str(images / "a.png"), "ok", None, None)])
    # A project written before class names were checked may hold any name.
    conn = sqlite3.connect(project / "project.dmtl.sqlite")
    with conn:
        conn.execute("UPDATE classes SET name = '../../escaped'")
    conn.close()
    before = sorted(tmp_path.rglob("*"))
    with ProjectStore.open(project) as store, pytest.raises(ProjectError, match="Nothing was written"):
        export_imagefolder(store, tmp_path / "out" / "tree")
    assert [p for p in sorted(tmp_path.rglob("*")) if p not in before and "project" not in p.parts] == []


def test_export_folders_refuses_classes_that_differ_only_in_case(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"one")
    (tmp_path / "b.png").write_bytes(b"two")
    with ProjectStore.create(tmp_path / "p") as store:
        store.add_images(
            [(str(tmp_path / "a.png"), "Cat", None, None), (str(tmp_path / "b.png"), "cat", None, None)]
        )
        with pytest.raises(ProjectError, match="differ only in case"):
            export_imagefolder(store, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_folder_import_reports_a_folder_name_that_cannot_be_a_class(tmp_path: Path, shapes_dir: Path) -> None:
    folder = tmp_path / "images"
    (folder / "ok").mkdir(parents=True)
    (folder / "bad\x01name").mkdir()
    source = sorted((shapes_dir / "circle").glob("*.png"))
    for i in range(3):
        (folder / "ok" / f"{i}.png").write_bytes(source[i].read_bytes())
        (folder / "bad\x01name" / f"{i}.png").write_bytes(source[i + 3].read_bytes())
    with ProjectStore.create(tmp_path / "p") as store:
        summary = import_folder(store, folder)
        assert store.class_names() == ["ok"]
        assert len(summary.problems) == 3 and all("control" in reason for _, reason in summary.problems)


def _problem_rows_csv(folder: Path, count: int) -> Path:
    """``count`` rows naming files that exist but are not images (each one a problem row)."""
    folder.mkdir()
    for i in range(count):
        (folder / f"{i}.png").write_bytes(b"not a picture")
    out = folder / "labels.csv"
    out.write_text("path,label\n" + "".join(f"{i}.png,x\n" for i in range(count)))
    return out


def _import_cpu_seconds(tmp_path: Path, name: str, count: int) -> float:
    csv_file = _problem_rows_csv(tmp_path / name, count)
    with ProjectStore.create(tmp_path / f"project-{name}") as store:
        start = time.process_time()
        summary = import_csv(store, csv_file)
        seconds = time.process_time() - start
        assert len(summary.problems) == count
    return seconds


def test_csv_import_time_grows_linearly_with_problem_rows(tmp_path: Path) -> None:
    small = _import_cpu_seconds(tmp_path, "small", 5_000)
    large = _import_cpu_seconds(tmp_path, "large", 20_000)
    # 4x the rows: linear work takes ~4x the time, quadratic work ~16x. The bound leaves room for noise.
    assert large / max(small, 1e-3) < 9, f"5k rows: {small:.2f} s, 20k rows: {large:.2f} s"


def test_export_folders_leaves_out_an_image_gone_from_disk(tmp_path: Path, shapes_dir: Path) -> None:
    import shutil

    folder = tmp_path / "images"
    shutil.copytree(shapes_dir, folder)
    with ProjectStore.create(tmp_path / "p") as store:
        import_folder(store, folder, seed=0)
        labelled = sum(1 for im in store.images(usable_only=True) if im.label)
        (folder / "square" / "square_000.png").unlink()
        assert export_imagefolder(store, tmp_path / "tree") == labelled - 1  # not stopped at the gone file
    assert not (tmp_path / "tree" / "square" / "square_000.png").exists()


def test_a_label_csv_saved_in_windows_encoding_is_told_to_be_saved_as_utf8(
    tmp_path: Path, project: Path
) -> None:
    """Its message told the user to rename a folder (h26)."""
    with ProjectStore.open(project) as store:
        path = next(im.path for im in store.images(usable_only=True))
        (tmp_path / "cp1252.csv").write_bytes(f"path,label\n{path},M".encode() + b"\xe9lange\n")
        summary = import_csv(store, tmp_path / "cp1252.csv")
    assert summary.labelled == 0
    assert any("save the CSV as 'CSV UTF-8'" in why for _, why in summary.problems), summary.problems
    assert any("labels import-csv --encoding cp1252" in why for _, why in summary.problems)


def test_a_label_csv_in_a_named_encoding_is_read_in_it(tmp_path: Path, project: Path) -> None:
    """``labels import-csv`` had no ``--encoding`` (h26): a CSV Excel saved on Windows could only be re-saved."""
    with ProjectStore.open(project) as store:
        path = next(im.path for im in store.images(usable_only=True))
        (tmp_path / "cp1252.csv").write_bytes(f"path;label\n{path};M\u00e9lange\n".encode("cp1252"))
        summary = import_csv(store, tmp_path / "cp1252.csv", encoding="cp1252")
        assert summary.labelled == 1 and not summary.problems
        assert next(im.label for im in store.images() if im.path == path) == "M\u00e9lange"
        # A byte-order mark names its own encoding whatever is named.
        (tmp_path / "bom.csv").write_bytes(f"\ufeffpath,label\n{path},Caf\u00e9\n".encode())
        assert import_csv(store, tmp_path / "bom.csv", encoding="cp1252").labelled == 1
        (tmp_path / "utf16.csv").write_bytes(f"\ufeffpath,label\n{path},Th\u00e9\n".encode("utf-16-le"))
        assert import_csv(store, tmp_path / "utf16.csv", encoding="cp1252").labelled == 1
        assert next(im.label for im in store.images() if im.path == path) == "Th\u00e9"
        # ... with no encoding named too (it was read as UTF-8 and refused as having no header, h29).
        (tmp_path / "utf16.csv").write_bytes(f"\ufeffpath,label\n{path},Mat\u00e9\n".encode("utf-16-le"))
        assert import_csv(store, tmp_path / "utf16.csv").labelled == 1
        with pytest.raises(ProjectError, match="cannot be read as utf-16"):  # it was an "unexpected error"
            import_csv(store, tmp_path / "cp1252.csv", encoding="utf-16")


def test_labels_are_exported_in_a_named_encoding_or_refused_whole(tmp_path: Path, project: Path) -> None:
    """``labels export-csv --encoding`` was accepted and ignored (h29): the file came out in UTF-8."""
    with ProjectStore.open(project) as store:
        path = next(im.path for im in store.images(usable_only=True))
        store.rename_class(next(im.label for im in store.images() if im.path == path), "Mélange")
        written = export_csv(store, tmp_path / "excel.csv", encoding="cp1252")
        assert written > 0 and "Mélange".encode("cp1252") in (tmp_path / "excel.csv").read_bytes()
        assert import_csv(store, tmp_path / "excel.csv", encoding="cp1252").problems == ()
        export_csv(store, tmp_path / "bom.csv", encoding="utf-8-sig")
        assert (tmp_path / "bom.csv").read_bytes().startswith(b"\xef\xbb\xbfpath,label")
        # A file name that is not valid UTF-8 keeps its bytes in any encoding asked for, as by default (h31).
        odd = next(im for im in store.images(usable_only=True) if im.label == "Mélange")
        store.move_images([(odd.path, os.fsdecode(os.fsencode(odd.path)[:-4] + b"\xff.png"), None)])
        export_csv(store, tmp_path / "odd.csv", encoding="utf-8")
        assert b"\xff.png" in (tmp_path / "odd.csv").read_bytes()
        store.rename_class("Mélange", "月")
        with pytest.raises(
            ValueError, match=r"'月' \(line \d+\) cannot be written in ascii.*nothing was written"
        ):
            export_csv(store, tmp_path / "ascii.csv", encoding="ascii")
    assert not (tmp_path / "ascii.csv").exists()
