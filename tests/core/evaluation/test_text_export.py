"""A text run exported to ONNX (and TorchScript) agrees with PyTorch, carries its tokenizer, and predicts a text
file, a folder of texts and a table with the same labels as the run itself."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from dmtl_studio.core.evaluation.export import TOLERANCE, export_run
from dmtl_studio.core.evaluation.text_exported import is_text_model, load_text_predictor
from dmtl_studio.core.evaluation.text_predict import NoTextsError, predict_text_inputs, text_prediction_inputs
from dmtl_studio.core.models.checkpoint import CheckpointError
from tests.core.text_run import trained_text_project

HELD_OUT = {
    "cat.txt": "the cat is asleep by the fire",
    "bank.txt": "the central bank cut interest rates",
    "storm.txt": "a storm brought rain and strong wind",
}
_EXPORTS: dict[str, Path] = {}


def _onnx(factory: pytest.TempPathFactory) -> Path:
    if "onnx" not in _EXPORTS:
        _, run_dir = trained_text_project(factory)
        _EXPORTS["onnx"] = export_run(run_dir, "onnx", factory.mktemp("onnx") / "model.onnx").path
    return _EXPORTS["onnx"]


def test_the_onnx_export_takes_ids_and_mask_and_agrees_with_pytorch(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    import onnxruntime

    _, run_dir = trained_text_project(tmp_path_factory)
    path = _onnx(tmp_path_factory)
    folder = path.parent
    assert {"tokenizer.json", "tokenizer_config.json", "vocab.txt"} <= {p.name for p in folder.iterdir()}
    sidecar = json.loads((folder / "model.onnx.json").read_text())
    assert sidecar["modality"] == "text" and sidecar["classes"] == ["cats", "money", "weather"]
    assert sidecar["max_length"] == 256 and "tokenizer.json" in sidecar["tokenizer"]["files"]
    assert 0 <= sidecar["check"]["max_abs_difference"] <= TOLERANCE
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = session.get_inputs()
    assert [i.name for i in inputs] == ["input_ids", "attention_mask"]
    assert all(
        i.type == "tensor(int64)" and isinstance(i.shape[0], str) and isinstance(i.shape[1], str)
        for i in inputs
    )
    # Real texts of different lengths, tokenised both ways: the logits agree with the run's in PyTorch.
    texts = list(HELD_OUT.values()) + ["rain", "my old cat " * 30]
    run, exported = load_text_predictor(run_dir), load_text_predictor(path)
    run_ids, run_mask = run.tokenize(texts)
    ids, mask = exported.tokenize(texts)
    np.testing.assert_array_equal(ids, run_ids)  # tokenizers from tokenizer.json == the encoder's tokenizer
    np.testing.assert_array_equal(mask, run_mask)
    difference = np.abs(exported.logits(ids, mask) - run.logits(run_ids, run_mask)).max()
    assert difference <= TOLERANCE
    assert is_text_model(path) and is_text_model(run_dir)


def test_torchscript_export_of_a_text_run_agrees_too(tmp_path_factory: pytest.TempPathFactory) -> None:
    _, run_dir = trained_text_project(tmp_path_factory)
    result = export_run(run_dir, "torchscript", tmp_path_factory.mktemp("ts") / "model.pt")
    assert result.max_abs_difference is not None and result.max_abs_difference <= TOLERANCE
    texts = list(HELD_OUT.values())
    got = load_text_predictor(result.path).probabilities(texts)
    np.testing.assert_allclose(got, load_text_predictor(run_dir).probabilities(texts), atol=1e-4)


def _labels(csv_path: Path) -> dict[str, str]:
    with csv_path.open(newline="") as handle:
        return {row["path"]: row["predicted_label"] for row in csv.DictReader(handle)}


def test_predict_a_file_a_folder_and_a_table_with_the_run_and_the_onnx_model(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    _, run_dir = trained_text_project(tmp_path_factory)
    onnx = _onnx(tmp_path_factory)
    root = tmp_path_factory.mktemp("inputs")
    folder = root / "texts"
    (folder / "more").mkdir(parents=True)
    for name, text in HELD_OUT.items():
        (folder / ("more" if name == "storm.txt" else "") / name).write_text(text, encoding="utf-8")
    (folder / "blank.txt").write_text("  \n", encoding="utf-8")
    (folder / "latin1.txt").write_bytes("caf\xe9 \xff\xfe cat".encode("latin-1"))
    table = root / "texts.csv"
    with table.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "body"])
        for k, text in enumerate(HELD_OUT.values()):
            writer.writerow([k, text])
            if k == 0:
                writer.writerow([9, ""])  # a row that cannot be predicted, between two that can
    expected = {"cat": "cats", "bank": "money", "storm": "weather"}
    for model in (run_dir, onnx):
        out = root / f"{Path(model).name}"
        predict_text_inputs(model, folder / "cat.txt", out / "one.csv")
        one = _labels(out / "one.csv")
        assert list(one.values()) == ["cats"]
        (folder / "scan.png").write_bytes(b"\x89PNG")  # not read by a text model, and said so
        summary = predict_text_inputs(model, folder, out / "folder.csv")
        assert [Path(p).name for p in summary.skipped] == ["scan.png"]
        (folder / "scan.png").unlink()
        labels = _labels(out / "folder.csv")
        assert {Path(p).stem: labels[p] for p in labels if Path(p).stem in expected} == expected
        assert sorted(Path(p).name for p, _ in summary.problems) == ["blank.txt", "latin1.txt"]
        summary = predict_text_inputs(model, table, out / "table.csv", text_column="body")
        assert [p.label for p in summary.predictions] == ["cats", "money", "weather"]
        assert [p.path for p in summary.predictions][0].endswith("texts.csv#1")
        assert len(summary.problems) == 1 and "empty" in summary.problems[0][1]
    with (root / run_dir.name / "table.csv").open() as a, (root / "model.onnx" / "table.csv").open() as b:
        run_rows, onnx_rows = list(csv.DictReader(a)), list(csv.DictReader(b))
    # The CSV's rows in the table's order, the empty text's row where it was (not after the predicted ones).
    assert [row["path"].rsplit("#", 1)[1] for row in run_rows] == ["1", "2", "3", "4"]
    assert run_rows[1]["error"] and not run_rows[1]["predicted_label"]
    assert list(run_rows[0]) == [
        "path",
        "predicted_label",
        "confidence",
        "p_cats",
        "p_money",
        "p_weather",
        "error",
        "id",
        "text",
    ]
    # The row's id and its text, for a spreadsheet to read and join (h32); a row with an error has no text.
    assert [(row["id"], row["text"]) for row in run_rows[:2]] == [
        ("1", list(HELD_OUT.values())[0]),
        ("2", ""),
    ]
    for r, o in zip(run_rows, onnx_rows, strict=True):
        assert r["predicted_label"] == o["predicted_label"]
        if r["confidence"]:
            assert abs(float(r["confidence"]) - float(o["confidence"])) < 1e-4


def test_an_id_column_names_the_rows_of_a_table(tmp_path: Path) -> None:
    table = tmp_path / "tickets.jsonl"
    rows = [
        {"ticket": "T-7", "body": "the printer is jammed"},
        {"ticket": "", "body": "no id here"},  # keyed by its row number, as no id can be
        {"ticket": 12, "body": "numbers are ids too"},
        {"ticket": {"nested": 1}, "body": "an object is no id"},
        {"ticket": "T-9", "body": ""},  # an empty text is still reported by its id
    ]
    table.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    texts, problems = text_prediction_inputs(table, text_column="body", id_column="ticket")
    assert [source.rsplit("#", 1)[1] for source, _ in texts] == ["T-7", "row=2", "12", "row=4"]
    assert [text for _, text in texts][0] == "the printer is jammed"
    assert [source.rsplit("#", 1)[1] for source, _ in problems] == ["T-9"]
    plain, _ = text_prediction_inputs(table, text_column="body")
    assert [source.rsplit("#", 1)[1] for source, _ in plain] == ["1", "2", "3", "4"]
    with pytest.raises(NoTextsError, match="no column 'id'"):
        text_prediction_inputs(table, text_column="body", id_column="id")
    (tmp_path / "one.txt").write_text("a text", encoding="utf-8")
    with pytest.raises(NoTextsError, match="--id-column applies to a CSV"):
        text_prediction_inputs(tmp_path / "one.txt", id_column="ticket")


def test_each_row_of_the_predictions_csv_holds_its_own_id_and_text_when_an_id_is_used_twice(
    tmp_path: Path,
) -> None:
    """The id and text columns were matched to rows by key: with one id twice, the predicted row got the empty
    text of the row that could not be predicted, and the error row the other's text (h34)."""
    from dmtl_studio.core.evaluation.text_exported import TextPredictor

    table = tmp_path / "tickets.csv"
    table.write_text('id,text\nT-7,""\nT-8,hello there\nT-7,refund my order please\n', encoding="utf-8")

    def tokens(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        return np.array([[len(t)] for t in texts]), np.ones((len(texts), 1))

    def logits(ids: np.ndarray, _mask: np.ndarray) -> np.ndarray:
        return np.hstack([ids.astype(float), -ids.astype(float)])

    model = TextPredictor("by length", ["long", "short"], 8, logits, tokens)
    predict_text_inputs(model, table, tmp_path / "out.csv", id_column="id")
    with (tmp_path / "out.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    by_text = {row["text"]: row for row in rows}
    assert set(by_text) == {"", "hello there", "refund my order please"}
    assert (
        by_text["refund my order please"]["predicted_label"] == "long"
        and not by_text["refund my order please"]["error"]
    )
    assert by_text[""]["error"] and not by_text[""]["predicted_label"] and by_text[""]["id"] == "T-7"


def test_bad_prediction_inputs_are_refused_with_a_reason(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with pytest.raises(NoTextsError, match="does not exist"):
        text_prediction_inputs(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NoTextsError, match="no .txt files"):
        text_prediction_inputs(tmp_path / "empty")
    (tmp_path / "empty" / "a.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(
        NoTextsError, match="holds 1 image\\(s\\): predict them with a run of an image project"
    ):
        text_prediction_inputs(tmp_path / "empty")
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    with pytest.raises(NoTextsError, match="no column 'text'"):
        text_prediction_inputs(tmp_path / "t.csv", text_column="text")
    (tmp_path / "x.png").write_bytes(b"\x89PNG")
    with pytest.raises(NoTextsError, match=".txt file"):
        text_prediction_inputs(tmp_path / "x.png")
    # An undecodable table or file says how to fix it, not that something was (not) imported.
    (tmp_path / "legacy.csv").write_bytes("text\ncaf\u00e9\n".encode("cp1252"))
    with pytest.raises(NoTextsError) as undecodable:
        text_prediction_inputs(tmp_path / "legacy.csv")
    assert str(undecodable.value).endswith(
        "is not UTF-8 (tried UTF-8, UTF-8 with BOM, UTF-16 with BOM (LE/BE)); save it as UTF-8, or name its "
        "encoding (--encoding, or Encoding in the window; Excel on Windows saves CSV as cp1252)"
    )
    (tmp_path / "legacy.txt").write_bytes("caf\u00e9".encode("cp1252"))
    _, problems = text_prediction_inputs(tmp_path / "legacy.txt")
    assert [("save it as UTF-8" in reason and "import" not in reason) for _, reason in problems] == [True]
    # Named, the encoding reads both (a byte-order mark would still win).
    assert text_prediction_inputs(tmp_path / "legacy.csv", encoding="cp1252") == (
        [(f"{tmp_path / 'legacy.csv'}#1", "caf\u00e9")],
        [],
    )
    assert text_prediction_inputs(tmp_path / "legacy.txt", encoding="cp1252")[0][0][1] == "caf\u00e9"
    onnx = _onnx(tmp_path_factory)
    copy = tmp_path / "alone" / "model.onnx"
    copy.parent.mkdir()
    copy.write_bytes(onnx.read_bytes())
    (copy.parent / "model.onnx.json").write_bytes((onnx.parent / "model.onnx.json").read_bytes())
    with pytest.raises(CheckpointError, match="no tokenizer.json"):
        load_text_predictor(copy)


def test_a_table_without_a_header_line_is_predicted_from_its_first_line(tmp_path: Path) -> None:
    table = tmp_path / "new.csv"
    table.write_text("The printer jams,T-1\nDouble invoice,T-2\n", encoding="utf-8")
    texts, problems = text_prediction_inputs(
        table, text_column="column 1", id_column="column 2", header=False
    )
    assert texts == [(f"{table}#T-1", "The printer jams"), (f"{table}#T-2", "Double invoice")]
    assert not problems
    (tmp_path / "a.txt").write_text("a note", encoding="utf-8")
    with pytest.raises(NoTextsError, match="--no-header reads a CSV or TSV file"):
        text_prediction_inputs(tmp_path, header=False)
