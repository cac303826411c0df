"""What the validation images of a run do: pick the best epoch, or train when a pick would be noise."""

from __future__ import annotations

from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.held_out import MIN_VALIDATION_PER_CLASS, plan_held_out
from dmtl_studio.core.training.labelled import LabelledSplit


def _split(train_per_class: int, val_per_class: int, classes: int = 3) -> LabelledSplit:
    names = tuple(f"c{k}" for k in range(classes))
    train = tuple((f"t{k}-{i}.png", k) for k in range(classes) for i in range(train_per_class))
    val = tuple((f"v{k}-{i}.png", k) for k in range(classes) for i in range(val_per_class))
    return LabelledSplit(names, train, val)


PROBE = TrainConfig.recommended(transfer="frozen")
EPOCHS = TrainConfig.recommended(transfer="full")


def test_a_probe_fits_the_validation_images_when_a_test_split_stays_held_out():
    split = _split(10, 4)
    plan = plan_held_out(split, PROBE, has_test=True)
    assert len(plan.split.train) == 42 and plan.split.val == ()
    assert set(plan.split.train) == set(split.train) | set(split.val)
    assert "12 validation image(s) joined the fit" in plan.notice
    # Without a test split the validation images are the only held-out ones: they stay so.
    kept = plan_held_out(split, PROBE, has_test=False)
    assert kept.split == split and kept.notice is None


def test_an_epoch_run_on_a_tiny_validation_split_keeps_its_last_epoch():
    small = _split(5, MIN_VALIDATION_PER_CLASS - 1)
    plan = plan_held_out(small, EPOCHS, has_test=True)
    assert not plan.pick_on_validation and plan.split.val == ()
    assert len(plan.split.train) == len(small.train) + len(small.val)
    assert "too few to pick an epoch on" in plan.notice and "joined the training images" in plan.notice
    five = _split(5, MIN_VALIDATION_PER_CLASS - 1, classes=5)
    notice = plan_held_out(five, EPOCHS, has_test=True).notice
    assert (
        f"a pick needs {5 * MIN_VALIDATION_PER_CLASS}, {MIN_VALIDATION_PER_CLASS} per class on average"
        in notice
    )
    short = {name for name in five.classes if f"{name} {MIN_VALIDATION_PER_CLASS - 1}" in notice}
    assert len(short) == 3 and notice.count(", …)") == 1  # the classes short of images: three named, then …
    no_test = plan_held_out(small, EPOCHS, has_test=False)
    assert not no_test.pick_on_validation and no_test.split == small
    assert "still report each epoch" in no_test.notice


def test_enough_validation_images_and_folds_keep_the_pick():
    enough = _split(10, MIN_VALIDATION_PER_CLASS)
    assert plan_held_out(enough, EPOCHS, has_test=True) == plan_held_out(enough, EPOCHS, has_test=False)
    plan = plan_held_out(enough, EPOCHS, has_test=True)
    assert plan.pick_on_validation and plan.split == enough and plan.notice is None
    fold = _split(5, 1)
    for config in (PROBE, EPOCHS):
        assert plan_held_out(fold, config, has_test=True, folds=True).split == fold


def test_an_mlp_head_or_the_stored_default_is_no_probe():
    split = _split(10, 4)
    mlp = TrainConfig.recommended(transfer="frozen", head="mlp")
    plan = plan_held_out(split, mlp, has_test=True)
    assert not plan.pick_on_validation  # an epoch run, and 12 images for 3 classes are too few to pick on
    assert plan_held_out(split, TrainConfig(transfer="frozen"), has_test=True).pick_on_validation is False


def test_the_notes_of_a_text_run_speak_of_texts():
    probe = plan_held_out(_split(10, 4), PROBE, has_test=True, kind="text").notice
    assert "12 validation text(s) joined the fit" in probe and "the test texts stay held out" in probe
    small = _split(5, MIN_VALIDATION_PER_CLASS - 1)
    for has_test in (True, False):
        notice = plan_held_out(small, EPOCHS, has_test=has_test, kind="text").notice
        assert "validation text(s)" in notice and "image" not in notice


def test_imbalanced_classes_are_said_to_flatter_plain_accuracy_unless_the_run_handles_them():
    from dmtl_studio.core.training.held_out import imbalance_notice

    lopsided = LabelledSplit(
        ("ok", "defect"),
        tuple((f"o{i}", 0) for i in range(72)) + tuple((f"d{i}", 1) for i in range(7)),
        tuple((f"v{i}", 0) for i in range(8)) + (("vd", 1),),
    )
    note = imbalance_notice(lopsided, PROBE)
    assert note.startswith("the classes are imbalanced ('ok' 80 images, 'defect' 8: 10 to 1)")  # quoted (h30)
    assert "balanced accuracy" in note and "--imbalance weighted_loss" in note
    assert imbalance_notice(lopsided, TrainConfig.recommended(imbalance="weighted_loss")) is None
    assert imbalance_notice(_split(10, 2), PROBE) is None  # equal classes: nothing to say


def test_copies_of_one_picture_count_once_for_the_probe_as_in_its_folds():
    """Class c holds the same picture four times: the probe's folds keep copies together, so c has one distinct
    image and C is fixed; the note says so (it said C would be chosen by cross-validation)."""
    split = LabelledSplit(
        ("a", "b", "c"),
        tuple((f"a{i}", 0) for i in range(10)) + tuple((f"b{i}", 1) for i in range(10)),
        tuple((f"c{i}", 2) for i in range(4)),
    )
    same = {f"c{i}": "one-picture" for i in range(4)}
    plan = plan_held_out(split, PROBE, has_test=True, content_of=lambda path: same.get(path, path))
    assert (
        "the class c has 1 distinct labelled image (4 copies of one image), too few for cross-validation"
        in plan.notice
    )
    every = plan_held_out(split, PROBE, has_test=True)  # without contents: four images, cross-validation
    assert "chosen by cross-validation" in every.notice
