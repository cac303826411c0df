"""Text projects from the command line: new --kind, import inferring the kind, columns, mismatches, info."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.project.text_demo import write_text_folder
from tests.e2e.cli import run_cli


def _last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def test_import_a_table_infers_a_text_project_and_guesses_columns(tmp_path: Path) -> None:
    table = tmp_path / "tickets.tsv"
    table.write_text(
        "id\tbody\tcategory\n1\tThe printer jams\thardware\n2\tDouble invoice\tbilling\n3\t\tbilling\n"
        "4\tbroken\trow\there\n5\tThe app crashes\tsoftware\n",
        encoding="utf-8",
    )
    project = tmp_path / "p"
    result = run_cli("import", str(project), str(table), "--json")
    assert result.returncode == 0, result.stderr
    assert "text column: 'body' (guessed" in result.stderr and "label column: 'category'" in result.stderr
    report = _last_json(result.stdout)
    assert (
        report["kind"] == "text" and report["labelled"] == 3 and report["read_as"] == "tab-separated, UTF-8"
    )
    assert report["problem_counts"] == {"empty text": 1, "ragged row": 1}
    assert "tickets.tsv row 4: ragged row" in result.stderr  # problems go to stderr, by row
    info = run_cli("info", str(project), "--json")
    assert info.returncode == 0, info.stderr
    assert "a text project" in info.stderr and len(info.stdout.splitlines()) == 1
    summary = _last_json(info.stdout)
    assert summary["kind"] == "text" and summary["items"] == 5 and summary["problems"] == 2


def test_a_misspelt_column_of_a_csv_leaves_no_project_behind(tmp_path: Path) -> None:
    table = tmp_path / "notes.csv"
    table.write_text("body,tag\nfirst note,a\nsecond note,b\n", encoding="utf-8")
    project = tmp_path / "p"
    for option in ("--text-column", "--label-column", "--split-column"):
        missing = run_cli("import", str(project), str(table), option, "bodi")
        assert missing.returncode == 2
        assert (
            f"no {option[2:].split('-')[0]} column 'bodi'; its columns are: 'body', 'tag'" in missing.stderr
        )
        assert not project.exists()
    assert run_cli("import", str(project), str(table), "--text-column", "body").returncode == 0


def test_a_table_without_a_header_line_is_warned_of_in_import(tmp_path: Path) -> None:
    table = tmp_path / "tickets.csv"
    table.write_text("The printer jams,hardware\nDouble invoice,billing\nThe app crashes,software\n"
                     "Screen flickers,hardware\n", encoding="utf-8")  # fmt: skip
    result = run_cli("import", str(tmp_path / "p"), str(table))
    assert result.returncode == 0, result.stderr
    assert (
        "warning: the first line of tickets.csv looks like a row of data, not column names ('hardware' is also "
        "a value of that column): it is read as the header and is not imported" in result.stderr
    )
    from dmtl_studio.cli import main

    # The way out: --no-header reads the first line as row 1; the columns are named by their place.
    args = ["--no-header", "--text-column", "column 1", "--label-column", "column 2"]
    assert main(["import", str(tmp_path / "whole"), str(table), *args]) == 0
    with ProjectStore.open(tmp_path / "whole") as store:
        assert store.image_count() == 4 and store.labels_of([1])[1] == "hardware"
        assert store.texts([1])[1] == "The printer jams"
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a.txt").write_text("a note", encoding="utf-8")
    assert (
        main(["import", str(tmp_path / "other"), str(folder), "--no-header"]) == 2
    )  # a folder has no header
    assert not (tmp_path / "other").exists()


def test_an_empty_file_is_refused_by_import_before_any_project_is_made(tmp_path: Path) -> None:
    for name, said in (
        ("z.csv", "z.csv is empty"),
        ("z.jsonl", "z.jsonl is empty"),
        ("z.txt", "z.txt: empty text"),
    ):
        (tmp_path / name).write_bytes(b"")
        project = tmp_path / f"p-{name}"
        result = run_cli("import", str(project), str(tmp_path / name))
        assert result.returncode == 2 and f"dmtl-studio import: {said}" in result.stderr, result.stderr
        assert "nothing was imported" in result.stderr and not project.exists()


def test_named_columns_and_a_missing_one(tmp_path: Path) -> None:
    table = tmp_path / "notes.jsonl"
    table.write_text(
        '{"t": "first note", "y": "a"}\n{"t": "second note", "y": "b"}\n{oops\n', encoding="utf-8"
    )
    project = tmp_path / "p"
    missing = run_cli("import", str(project), str(table), "--text-column", "text")
    assert missing.returncode == 2
    assert "no text column 'text'; its columns are: 't', 'y'" in missing.stderr
    result = run_cli("import", str(project), str(table), "--text-column", "t", "--label-column", "", "--json")
    assert result.returncode == 0, result.stderr
    report = _last_json(result.stdout)
    assert report["unlabelled"] == 2 and report["labelled"] == 0
    assert report["problems"][0]["reason"].startswith("not valid JSON")


def test_new_with_a_kind_refuses_the_other_kind(tmp_path: Path, shapes_dir: Path) -> None:
    texts = write_text_folder(tmp_path / "texts")
    made = run_cli("new", str(tmp_path / "images"), "--kind", "images")
    assert made.returncode == 0 and "images project" in made.stdout
    refused = run_cli("import", str(tmp_path / "images"), str(texts))
    assert refused.returncode == 2
    assert "is an images project; texts cannot be imported" in refused.stderr
    assert "--kind text" in refused.stderr

    run_cli("new", str(tmp_path / "text"), "--kind", "text")
    refused = run_cli("import", str(tmp_path / "text"), str(shapes_dir))
    assert refused.returncode == 2 and "is a text project; images cannot be imported" in refused.stderr
    imported = run_cli("import", str(tmp_path / "text"), str(texts), "--json")
    assert imported.returncode == 0, imported.stderr
    assert _last_json(imported.stdout)["classes"] == ["billing", "hardware", "software"]
    with ProjectStore.open(tmp_path / "text") as store:
        assert store.kind == "text" and len(store.texts()) == 51


def test_labels_export_of_a_text_project_has_the_text(tmp_path: Path) -> None:
    texts = write_text_folder(tmp_path / "texts")
    project = tmp_path / "p"
    assert run_cli("import", str(project), str(texts)).returncode == 0
    out = tmp_path / "labels.csv"
    exported = run_cli("labels", "export-csv", str(project), str(out))
    assert exported.returncode == 0, exported.stderr
    header, first = out.read_text(encoding="utf-8").splitlines()[:2]
    assert header == "path,label,text" and first.endswith(
        ",billing,We were invoiced twice for the same order of pipette tips."
    )
    again = run_cli("labels", "import-csv", str(project), str(out))
    assert again.returncode == 0, again.stderr
    assert "labelled 45" in again.stdout
    # Rows naming no text of the project, or a text twice, are counted in words of texts.
    with out.open("a", encoding="utf-8") as handle:
        handle.write(f"{texts / 'nowhere.txt'},billing,\n" + first + "\n")
    again = run_cli("labels", "import-csv", str(project), str(out))
    assert again.returncode == 0, again.stderr
    assert "1 row(s) named a text an earlier row named already (the last one counts)" in again.stdout
    assert "gave another label" not in again.stderr  # the repeated row gave the same label
    key = first.split(",")[0]
    with out.open("a", encoding="utf-8") as handle:
        handle.write(f"{key},shipping,\n")  # the same text once more, with another label
    again = run_cli("labels", "import-csv", str(project), str(out))
    assert (
        f"1 of them gave another label than the row before:\n  {key}: 'billing', then 'shipping' (kept)"
        in (again.stderr)
    )
    assert f"1 row(s) skipped, no such text in the project:\n  {texts / 'nowhere.txt'}" in again.stderr


def test_delimiter_by_name_and_a_bad_one(tmp_path: Path) -> None:
    table = tmp_path / "notes.csv"  # tab-separated although named .csv
    table.write_text("body\ttag\nfirst, with a comma\ta\nsecond note\tb\n", encoding="utf-8")
    for value in ("tab", "\\t", "\t"):
        project = tmp_path / f"p{len(value)}{value.isalpha()}"
        result = run_cli("import", str(project), str(table), "--delimiter", value, "--json")
        assert result.returncode == 0, result.stderr
        report = _last_json(result.stdout)
        assert report["read_as"] == "tab-separated, UTF-8" and report["labelled"] == 2
    bad = run_cli("import", str(tmp_path / "bad"), str(table), "--delimiter", "::")
    assert bad.returncode == 2 and "delimiter '::' is not one character" in bad.stderr
    assert "Traceback" not in bad.stderr and "unexpected" not in bad.stderr


def test_reimport_of_an_edited_table_keeps_labels_on_their_texts(tmp_path: Path) -> None:
    table = tmp_path / "notes.csv"
    table.write_text("body,tag\nprinter jams,hardware\ninvoice twice,billing\n", encoding="utf-8")
    project = tmp_path / "p"
    assert run_cli("import", str(project), str(table)).returncode == 0
    table.write_text(
        "body,tag\napp crashes,\nprinter jams,hardware\ninvoice twice,refund\n", encoding="utf-8"
    )
    kept = run_cli("import", str(project), str(table), "--json")
    assert kept.returncode == 0, kept.stderr
    assert "2 text(s) found at another row; their labels followed them" in kept.stderr
    assert "notes.csv row 3: billing in the project, refund in the file (kept billing)" in kept.stderr
    assert _last_json(kept.stdout)["moved"] == 2
    taken = run_cli("import", str(project), str(table), "--labels-from-file", "--json")
    assert taken.returncode == 0 and _last_json(taken.stdout)["relabelled"] == 1
    with ProjectStore.open(project) as store:
        labels = {store.text(r.id): r.label for r in store.images()}
    assert labels == {"app crashes": None, "printer jams": "hardware", "invoice twice": "refund"}


def test_splits_of_a_text_project_names_a_text_with_two_labels_a_text(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    from dmtl_studio.cli import main

    table = tmp_path / "t.csv"
    rows = [f"ticket number {i} about the printer,hardware" for i in range(6)]
    rows += [f"invoice {i} was charged twice,billing" for i in range(6)]
    rows += ["the same words twice,hardware", "the same words twice,billing"]
    table.write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    assert main(["import", str(tmp_path / "p"), str(table)]) == 0
    capsys.readouterr()
    assert main(["splits", str(tmp_path / "p")]) == 0
    err = capsys.readouterr().err
    assert "1 text(s) carry two or more labels (they share one split):" in err
    assert f"the same text is labelled billing and hardware: {table}#13, {table}#14" in err
    assert "picture" not in err


def test_an_undecodable_table_is_refused_by_import_before_any_project_is_made(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    from dmtl_studio.cli import main

    table = tmp_path / "legacy.csv"
    table.write_bytes("text,label\ncaf\u00e9 closed,a\n".encode("cp1252"))
    assert main(["import", str(tmp_path / "p"), str(table)]) == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith(
            "save it as UTF-8, or name its encoding (--encoding, or Encoding in the window; Excel on Windows saves CSV "
            "as cp1252); nothing was imported from it"
        )
    )
    assert not (tmp_path / "p").exists()
    with pytest.raises(SystemExit):
        main(["import", str(tmp_path / "p"), str(table), "--encoding", "base64"])
    assert "'base64' is no text encoding known here" in capsys.readouterr().err
    assert main(["import", str(tmp_path / "p"), str(table), "--encoding", "Windows-1252"]) == 0
    assert "read 1 text(s) (comma-separated, Windows-1252)" in capsys.readouterr().out
    with ProjectStore.open(tmp_path / "p") as store:
        assert list(store.texts().values()) == ["caf\u00e9 closed"]


def test_a_table_with_only_a_header_is_refused_before_any_project_is_made(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    from dmtl_studio.cli import main

    table = tmp_path / "empty.csv"
    table.write_text("text,label\n", encoding="utf-8")
    assert main(["import", str(tmp_path / "p"), str(table)]) == 2
    assert capsys.readouterr().err.strip() == (
        "dmtl-studio import: empty.csv has no rows below its header; nothing was imported from it"
    )
    assert not (tmp_path / "p").exists()


def test_info_of_a_new_project_of_no_kind_yet_says_its_first_import_decides(tmp_path: Path) -> None:
    assert run_cli("new", str(tmp_path / "p")).returncode == 0
    info = run_cli("info", str(tmp_path / "p"), "--json")
    assert f"{tmp_path / 'p'}: an empty project (images or texts: its first import decides)" in info.stderr
    assert "0 items:" in info.stderr and json.loads(info.stdout)["kind"] is None
    run_cli("import", str(tmp_path / "p"), str(write_text_folder(tmp_path / "texts")))
    assert run_cli("info", str(tmp_path / "p")).stdout.startswith(f"{tmp_path / 'p'}: a text project")


def test_a_folder_of_texts_whose_layout_would_mislabel_is_refused_before_a_project_is_made(
    tmp_path: Path,
) -> None:
    source = tmp_path / "notes"
    for folder in ("train/cats", "dogs"):  # a split folder beside a class folder
        (source / folder).mkdir(parents=True)
        (source / folder / "a.txt").write_text("a note about an animal", encoding="utf-8")
    done = run_cli("import", str(tmp_path / "p"), str(source))
    assert done.returncode == 2 and "dmtl-studio import:" in done.stderr
    assert not (tmp_path / "p").exists()  # no empty project left behind


def test_import_by_an_id_column_keys_rows_by_their_ids(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    from dmtl_studio.cli import main

    table = tmp_path / "tickets.csv"
    table.write_text("ticket,text,label\nT-7,printer jams,hardware\nT-8,printer jams,\n", encoding="utf-8")
    assert main(["import", str(tmp_path / "nope"), str(table), "--id-column", "number"]) == 2
    assert "tickets.csv has no id column 'number'; its columns are: 'ticket', 'text', 'label'" in (
        capsys.readouterr().err
    )
    assert not (tmp_path / "nope").exists()  # refused before a project was made
    assert main(["import", str(tmp_path / "p"), str(table), "--id-column", "ticket"]) == 0
    table.write_text("ticket,text,label\nT-8,printer jams,\nT-7,printer jams,hardware\n", encoding="utf-8")
    assert main(["import", str(tmp_path / "p"), str(table), "--id-column", "ticket"]) == 0
    with ProjectStore.open(tmp_path / "p") as store:
        labels = {r.path: r.label for r in store.images()}
    assert labels == {f"{table}#id=T-7": "hardware", f"{table}#id=T-8": None}
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.txt").write_text("one note", encoding="utf-8")
    capsys.readouterr()
    assert main(["import", str(tmp_path / "q"), str(folder), "--id-column", "ticket"]) == 2
    assert (
        "--id-column names a column of a CSV, TSV or JSON Lines file; notes is not one"
        in capsys.readouterr().err
    )


def test_the_command_lines_help_speaks_of_both_kinds(capsys) -> None:  # noqa: ANN001
    from dmtl_studio.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "(default efficientnet_lite0 for images, all-MiniLM-L6-v2 for texts)" in shown
    assert (
        "passes over the training images (or texts)" in shown
        and "images (or texts) per training step" in shown
    )


def test_a_mistyped_command_is_named_and_a_near_one_offered(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    from dmtl_studio.cli import main

    assert main(["evalute", str(tmp_path / "p")]) == 2
    assert "unknown command 'evalute'; did you mean 'evaluate'?" in capsys.readouterr().err
    assert main(["gradcam", str(tmp_path / "p")]) == 2
    assert "unknown command 'gradcam'; did you mean 'explain'? (Grad-CAM pictures" in capsys.readouterr().err


def test_new_in_a_folder_that_holds_files_says_they_are_not_in_the_project(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    from dmtl_studio.cli import main

    (tmp_path / "imgs" / "red").mkdir(parents=True)
    (tmp_path / "imgs" / "notes.txt").write_text("x", encoding="utf-8")
    assert main(["new", str(tmp_path / "imgs")]) == 0
    err = capsys.readouterr().err  # the window asks first; the command said nothing
    assert f"note: {tmp_path / 'imgs'} already held 2 file(s) or folder(s)" in err
    assert "dmtl-studio import NEW_PROJECT_FOLDER THAT_FOLDER" in err
    assert main(["new", str(tmp_path / "imgs")]) == 0  # a project now: opened, nothing to say
    assert main(["new", str(tmp_path / "empty")]) == 0
    assert "note:" not in capsys.readouterr().err
