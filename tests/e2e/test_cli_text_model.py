"""A text run through the real command line: evaluate, report, export to ONNX, and predict a file, a folder and a
table with the run and with the exported model (the same labels); clear errors for what does not apply."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.core.text_run import trained_text_project
from tests.e2e.cli import run_cli

TEXTS = {
    "a.txt": "the kitten chased a ball of yarn",
    "b.txt": "interest rates and bond prices rose",
    "c.txt": "rain and thunder all afternoon",
}


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_evaluate_report_export_and_predict_a_text_run(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    _, run_dir = trained_text_project(tmp_path_factory)
    evaluated = run_cli("evaluate", str(run_dir), "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    summary = json.loads(evaluated.stdout.strip().splitlines()[-1])
    assert summary["kind"] == "text" and summary["images"] == 6 and len(summary["confusion"]) == 3
    assert "6 text(s) of the test split" in evaluated.stderr  # --json: the JSON alone on stdout

    report = run_cli("report", str(run_dir), "--out", str(tmp_path / "report.html"))
    assert report.returncode == 0, report.stderr
    assert "text(s) of the" in (tmp_path / "report.html").read_text(encoding="utf-8")

    exported = run_cli(
        "export", str(run_dir), "--format", "onnx", "--out", str(tmp_path / "onnx" / "model.onnx")
    )
    assert exported.returncode == 0, exported.stderr
    assert "max abs difference" in exported.stdout
    assert (tmp_path / "onnx" / "tokenizer.json").is_file()
    # The files beside the model are named: moved without them, it cannot read a text (h25).
    beside = next(
        line for line in exported.stdout.splitlines() if line.startswith("tokenizer files beside it")
    )
    assert "tokenizer.json" in beside and all(
        (tmp_path / "onnx" / name).is_file() for name in beside.split(": ")[1].split(", ")
    )

    folder = tmp_path / "texts"
    folder.mkdir()
    for name, text in TEXTS.items():
        (folder / name).write_text(text, encoding="utf-8")
    table = tmp_path / "texts.tsv"
    table.write_text(
        "note\ttext\n" + "".join(f"n{k}\t{t}\n" for k, t in enumerate(TEXTS.values())) + "n9\t\n",
        encoding="utf-8",
    )
    expected = ["cats", "money", "weather"]
    for model in (str(run_dir), str(tmp_path / "onnx" / "model.onnx")):
        out = tmp_path / f"{Path(model).stem}-file.csv"
        done = run_cli("predict", model, str(folder / "a.txt"), "--out", str(out))
        assert done.returncode == 0, done.stderr
        assert [r["predicted_label"] for r in _rows(out)] == ["cats"]
        out = tmp_path / f"{Path(model).stem}-folder.csv"
        done = run_cli("predict", model, str(folder), "--out", str(out))
        assert done.returncode == 0 and "predicted 3 text(s)" in done.stdout, done.stderr
        assert [r["predicted_label"] for r in _rows(out)] == expected
        assert [r["id"] for r in _rows(out)] == ["a.txt", "b.txt", "c.txt"]  # the path below the folder
        out = tmp_path / f"{Path(model).stem}-table.csv"
        done = run_cli(
            "predict", model, str(table), "--out", str(out), "--text-column", "text", "--id-column", "note"
        )
        assert done.returncode == 0, done.stderr
        rows = _rows(out)
        assert [r["predicted_label"] for r in rows[:3]] == expected
        assert [r["path"].rsplit("#", 1)[1] for r in rows] == [
            "n0",
            "n1",
            "n2",
            "n9",
        ]  # rows named by their id
        assert rows[3]["error"] and "empty text" in done.stderr  # a bad row is reported, not fatal

    wrong = run_cli(
        "predict", str(run_dir), str(table), "--out", str(tmp_path / "x.csv"), "--text-column", "body"
    )
    assert wrong.returncode == 2 and "no column 'body'" in wrong.stderr
    image_input = tmp_path / "picture.png"
    image_input.write_bytes(b"\x89PNG\r\n\x1a\n")
    wrong = run_cli("predict", str(run_dir), str(image_input), "--out", str(tmp_path / "y.csv"))
    assert wrong.returncode == 2 and ".txt file" in wrong.stderr


def test_predict_a_json_lines_table_with_bad_values_and_a_guessed_column(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    _, run_dir = trained_text_project(tmp_path_factory)
    table = tmp_path / "notes.jsonl"
    rows = [
        {"id": 1, "message": TEXTS["a.txt"]},
        {"id": 2, "message": ["a", "list"]},
        {"id": 3, "message": {"an": "object"}},
        {"id": 4, "message": True},
    ]
    table.write_text("".join(json.dumps(row) + "\n" for row in rows) + "[1, 2]\n", encoding="utf-8")
    out = tmp_path / "p.csv"
    done = run_cli("predict", str(run_dir), str(table), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "text column: 'message' (by its name; choose with --text-column)" in done.stderr
    # Keyed by its "id" column, as the window's form preselects it (h32: the CLI keyed by row, the window by id).
    assert "id column: 'id' (by its name" in done.stderr
    predicted = _rows(out)
    assert predicted[0]["predicted_label"] == "cats" and predicted[0]["error"] == ""
    # Plain id and text columns beside the path key, for a spreadsheet to read and join (h32).
    assert (predicted[0]["id"], predicted[0]["text"]) == ("1", TEXTS["a.txt"])
    assert [row["id"] for row in predicted] == ["1", "2", "3", "4", "row=5"] and predicted[1]["text"] == ""
    errors = {row["path"].rsplit("#", 1)[1]: row["error"] for row in predicted}
    assert errors["2"] == "column 'message' is an array, not a text"
    assert errors["3"] == "column 'message' is an object, not a text"
    assert errors["row=5"] == "not a JSON object but an array"  # no id: its row number, in a form no id takes
    assert errors["4"] == ""  # a boolean is written out as a text, as at import
    assert "unexpected" not in done.stderr
    by_row = tmp_path / "by-row.csv"
    assert (
        run_cli("predict", str(run_dir), str(table), "--out", str(by_row), "--id-column", "").returncode == 0
    )
    assert [row["id"] for row in _rows(by_row)] == ["1", "2", "3", "4", "5"]  # --id-column "": row numbers


def test_predict_with_text_options_names_what_the_model_path_is(
    tmp_path: Path, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dmtl_studio.cli import main

    table = tmp_path / "notes.csv"
    table.write_text("message\nthe cat sleeps\n", encoding="utf-8")

    def refused(model: Path) -> str:
        out = tmp_path / "p.csv"
        assert main(["predict", str(model), str(table), "--text-column", "message", "--out", str(out)]) == 2
        assert not out.exists()
        return capsys.readouterr().err.strip()

    missing = tmp_path / "no-such-run"
    assert refused(missing) == (
        f"dmtl-studio predict: {missing} does not exist; give a run folder (PROJECT/runs/NAME), an exported .onnx "
        "or .pt file, or a safetensors export"
    )
    assert refused(project).endswith(
        f"is a project, not a run: it has no trained run yet; train one with: dmtl-studio train {project}"
    )
    image_run = tmp_path / "image-run"
    image_run.mkdir()
    (image_run / "model.json").write_text("{}", encoding="utf-8")  # a sidecar without "kind": an image model
    assert refused(image_run) == (
        f"dmtl-studio predict: --text-column is for text models; {image_run} is an image model"
    )


def test_predict_warns_when_an_id_names_more_than_one_row(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    from dmtl_studio.cli import main

    _, run_dir = trained_text_project(tmp_path_factory)
    table = tmp_path / "notes.csv"
    # Row 1 and 2 share id 'x'; row 3 has no id: keyed row=3, never confused with row 4's id 3.
    table.write_text(
        "ref,message\nx,the cat sleeps\nx,bond prices rose\n,heavy rain\n3,a kitten plays\n", encoding="utf-8"
    )
    out = tmp_path / "p.csv"
    argv = ["predict", str(run_dir), str(table), "--text-column", "message", "--id-column", "ref"]
    assert main([*argv, "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert (
        f"warning: 1 key(s) name more than one row ({table}#x: 2 rows), so those rows cannot be "
        "joined back to the table by their key; name an --id-column whose values are unique"
    ) in err
    assert [row["path"].rsplit("#", 1)[1] for row in _rows(out)] == [
        "x",
        "x",
        "row=3",
        "3",
    ]  # nothing is lost

    unique = tmp_path / "unique.csv"
    unique.write_text("ref,message\na,the cat sleeps\nb,bond prices rose\n", encoding="utf-8")
    assert (
        main(["predict", str(run_dir), str(unique), "--id-column", "ref", "--out", str(tmp_path / "u.csv")])
        == 0
    )
    assert "warning" not in capsys.readouterr().err
