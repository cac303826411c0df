"""Importing weights files: exact loading, refusal of code-running pickles, whole-file rejection on mismatch."""

from __future__ import annotations

import builtins
import json
import pickle
from pathlib import Path

import pytest
import torch
import torchvision
from safetensors.torch import save_file

from dmtl_studio import cli
from dmtl_studio.core.base.fileio import file_sha256
from dmtl_studio.core.models import catalog, weight_store
from dmtl_studio.core.models.architectures import WeightsError
from dmtl_studio.core.models.classifier import ModelSpec, build_classifier
from dmtl_studio.core.models.pretrained import load_pretrained_imagenet_model
from dmtl_studio.core.models.weights import (
    check_state_dict,
    import_weights,
    read_state_dict,
)


@pytest.fixture(scope="module")
def resnet18_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(123)
    model = torchvision.models.resnet18(weights=None)
    # Make BatchNorm statistics non-trivial so that "loads exactly" covers buffers too.
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    return {k: v.clone() for k, v in model.state_dict().items()}


def _assert_backbone_equals(state: dict[str, torch.Tensor]) -> None:
    classifier = build_classifier(ModelSpec("torchvision/resnet18", 3), pretrained=True)
    loaded = classifier.backbone.body.state_dict()
    expected = {k: v for k, v in state.items() if not k.startswith("fc.")}
    assert set(loaded) == set(expected)
    assert all(torch.equal(loaded[k], expected[k]) for k in expected)


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_imported_weights_load_exactly(tmp_path: Path, resnet18_state: dict, suffix: str) -> None:
    path = tmp_path / f"my-resnet18{suffix}"
    if suffix == ".safetensors":
        save_file(resnet18_state, str(path))
    else:
        torch.save(resnet18_state, path)
    assert catalog.weights_status("torchvision/resnet18").state == "missing"
    entry, check = import_weights(path, "torchvision/resnet18")
    assert check.ok and check.matched == len(resnet18_state)
    assert entry.source_sha256 == file_sha256(path)
    assert entry.sha256 == file_sha256(entry.path())
    index = json.loads((weight_store.store_dir() / weight_store.INDEX_NAME).read_text())
    assert index["weights"][0]["sha256"] == entry.sha256
    status = catalog.weights_status("torchvision/resnet18")
    assert status.state == "imported" and status.available
    _assert_backbone_equals(resnet18_state)


def test_a_changed_stored_file_is_noticed(tmp_path: Path, resnet18_state: dict) -> None:
    path = tmp_path / "r.safetensors"
    save_file(resnet18_state, str(path))
    entry, _ = import_weights(path, "torchvision/resnet18")
    changed = dict(resnet18_state)
    changed["conv1.weight"] = changed["conv1.weight"] + 1
    save_file(changed, str(entry.path()))
    with pytest.raises(WeightsError, match="changed or damaged"):
        load_pretrained_imagenet_model("torchvision/resnet18")


class _Payload:
    """Unpickling this object would create ``marker``: it stands for any code a hostile file could run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return builtins.open, (str(self.marker), "w")


def test_a_malicious_pickle_is_refused_and_runs_no_code(tmp_path: Path, resnet18_state: dict) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth"
    torch.save({**resnet18_state, "extra": _Payload(marker)}, evil)
    with pytest.raises(WeightsError, match="refused evil.pth: loading it would run Python code"):
        import_weights(evil, "torchvision/resnet18")
    with pytest.raises(WeightsError, match="never loads such files unsafely"):
        read_state_dict(evil)
    assert not marker.exists()


def test_a_raw_pickle_is_refused_without_torchs_warning_first(tmp_path: Path) -> None:
    import warnings

    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth"
    evil.write_bytes(pickle.dumps(_Payload(marker), protocol=4))  # not torch.save's zip: torch warns of it
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(WeightsError, match="refused evil.pth"):
            read_state_dict(evil)
    assert [str(w.message) for w in caught] == []  # the refusal is the one thing the user reads
    assert not marker.exists()
    assert weight_store.read_index() == []

    # The test is meaningful: loading the same kind of file unsafely does run the payload.
    control_marker = tmp_path / "control"
    control = tmp_path / "control.pkl"
    control.write_bytes(pickle.dumps(_Payload(control_marker)))
    pickle.loads(control.read_bytes())
    assert control_marker.exists()


def test_a_mismatched_file_is_reported_and_nothing_is_stored(tmp_path: Path, resnet18_state: dict) -> None:
    bad = {k: v for k, v in resnet18_state.items() if k != "layer1.0.conv1.weight"}
    bad["layer4.1.bn2.weight"] = torch.ones(7)
    bad["decoder.weight"] = torch.zeros(3)
    path = tmp_path / "bad.safetensors"
    save_file(bad, str(path))
    check = check_state_dict("torchvision/resnet18", bad)
    assert check.missing == ("layer1.0.conv1.weight",)
    assert check.unexpected == ("decoder.weight",)
    assert check.mismatched == (("layer4.1.bn2.weight", (7,), (512,)),)
    text = check.describe()
    assert "are not in the file: layer1.0.conv1.weight" in text
    assert "do not belong to it: decoder.weight" in text
    assert "layer4.1.bn2.weight is [7] in the file but [512] in the model" in text
    assert "nothing was loaded" in text
    with pytest.raises(WeightsError, match="does not fit torchvision/resnet18"):
        import_weights(path, "torchvision/resnet18")
    assert weight_store.read_index() == []
    assert not list(weight_store.store_dir().glob("*.safetensors"))
    assert catalog.weights_status("torchvision/resnet18").state == "missing"


def test_a_cached_file_that_does_not_fit_is_not_half_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, resnet18_state: dict
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    bad = dict(resnet18_state)
    bad["conv1.weight"] = torch.zeros(64, 3, 3, 3)
    torch.save(bad, checkpoints / "resnet18-f37072fd.pth")
    assert catalog.weights_status("torchvision/resnet18").state == "torch cache"
    with pytest.raises(WeightsError, match="wrong shape"):
        build_classifier(ModelSpec("torchvision/resnet18", 2), pretrained=True)


def test_another_classifier_is_ignored_because_the_head_is_new(tmp_path: Path, resnet18_state: dict) -> None:
    fine_tuned = dict(resnet18_state)
    fine_tuned["fc.weight"], fine_tuned["fc.bias"] = torch.zeros(10, 512), torch.zeros(10)
    wrapped = {"state_dict": {f"module.{k}": v for k, v in fine_tuned.items()}, "epoch": 3}
    path = tmp_path / "fine-tuned.pt"
    torch.save(wrapped, path)
    _, check = import_weights(path, "torchvision/resnet18")
    assert check.ok and set(check.classifier_ignored) == {"fc.weight", "fc.bias"}
    _assert_backbone_equals(resnet18_state)


def test_cli_imports_and_lists_weights(
    tmp_path: Path, resnet18_state: dict, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / "r18.safetensors"
    save_file(resnet18_state, str(path))
    assert cli.main(["weights", "import", str(path), "--arch", "torchvision/resnet18"]) == 0
    out = capsys.readouterr().out
    assert "imported r18.safetensors for torchvision/resnet18" in out and "sha256" in out
    assert cli.main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line and not line.startswith(" ")}
    assert "imported" in rows["torchvision/resnet18"]
    assert "bundled" in rows["efficientnet_lite0"]
    assert "missing" in rows["torchvision/vit_b_16"] and "vit_b_16-c867db91.pth" in out
    evil = tmp_path / "evil.pth"
    torch.save({"x": _Payload(tmp_path / "marker")}, evil)
    assert cli.main(["weights", "import", str(evil), "--arch", "torchvision/resnet18"]) == 2
    assert "refused" in capsys.readouterr().err and not (tmp_path / "marker").exists()


def test_any_timm_architecture_by_name_can_be_imported_and_listed(tmp_path: Path) -> None:
    import timm

    torch.manual_seed(5)
    state = timm.create_model("resnet10t", pretrained=False).state_dict()
    path = tmp_path / "resnet10t.safetensors"
    save_file(state, str(path))
    import_weights(path, "timm/resnet10t")
    rows = {row.info.name: row for row in catalog.list_backbones()}
    row = rows["timm/resnet10t"]
    assert row.status.state == "imported" and row.info.parameters > 1_000_000 and row.info.stages >= 4
    model = build_classifier(ModelSpec("timm/resnet10t", 2), pretrained=True)
    loaded = model.backbone.state_dict()
    assert all(torch.equal(loaded[k], state[k]) for k in loaded)


def test_a_torchvision_classifier_checkpoint_round_trips(tmp_path: Path) -> None:
    from dmtl_studio.core.models.architectures import preprocessing_for
    from dmtl_studio.core.models.checkpoint import load_checkpoint, save_checkpoint

    spec = ModelSpec("torchvision/resnet18", 3, head="mlp", hidden=16)
    model = build_classifier(spec, pretrained=False)
    pre = preprocessing_for(model.backbone, 96)
    save_checkpoint(
        tmp_path / "run",
        model,
        spec=spec,
        preprocessing=pre,
        classes=["a", "b", "c"],
        config={},
        augmentation={},
        metrics={},
    )
    loaded = load_checkpoint(tmp_path / "run")
    assert loaded.spec == spec
    original = model.state_dict()
    assert all(torch.equal(v, original[k]) for k, v in loaded.model.state_dict().items())


def test_missing_weights_are_named_once_with_the_file_needed(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    with pytest.raises(WeightsError) as info:
        load_pretrained_imagenet_model("resnet18")
    message = str(info.value)
    assert message.startswith(
        "resnet18 (a bare name is timm's model; the catalog lists torchvision/resnet18): "
    )
    assert message.count("No weights on this computer") == 1 and "nothing is downloaded" in message
