"""The unlabelled pool a run learns from holds no copy of a held-out item (h32: an unlabelled copy of a validation
ticket, imported from a second CSV, was pseudo-labelled into training)."""

from __future__ import annotations

from pathlib import Path

from dmtl_studio.core.project.project_kind import create_project
from dmtl_studio.core.project.text_import import import_texts
from dmtl_studio.core.training.labelled import unlabelled_paths


def test_an_unlabelled_copy_of_a_held_out_text_from_another_file_stays_out_of_the_pool(
    tmp_path: Path,
) -> None:
    first = tmp_path / "tickets.csv"
    texts = [f"ticket {i} about {'billing' if i % 2 else 'login'} trouble" for i in range(20)]
    labels = ["billing" if i % 2 else "login" for i in range(20)]
    first.write_text(
        "text,label\n" + "".join(f"{t},{c}\n" for t, c in zip(texts, labels, strict=True)), encoding="utf-8"
    )
    with create_project(tmp_path / "p", kind="text") as store:
        import_texts(
            store, first, text_column="text", label_column="label", val_fraction=0.2, test_fraction=0.2
        )
        row_of = {r.split: int(r.path.rsplit("#", 1)[1]) - 1 for r in store.images()}  # one row of each split
        copied = [
            texts[row_of["val"]],
            texts[row_of["test"]],
            texts[row_of["train"]],
            "a ticket nobody labelled",
        ]
        second = tmp_path / "excel.csv"  # the same texts again with no label, from another file
        second.write_text("text\n" + "".join(f"{t}\n" for t in copied), encoding="utf-8")
        import_texts(store, second, text_column="text")
        copies = [r for r in store.images() if r.path.startswith(f"{second}#")]
        assert [r.label for r in copies] == [None] * 4 and not {r.split for r in copies} & {"val", "test"}
        pool = set(unlabelled_paths(store))
        # The window's "Learn from unlabelled texts (N available)" counts by the same rule, in SQL.
        assert store.unlabelled_count(pool=True) == len(pool) == 2 and store.unlabelled_count() == 4
        # A held-out text whose label is taken off keeps its split: out of the pool, and out of the count (h32).
        test_item = next(r for r in store.images() if r.split == "test" and r.label is not None)
        store.set_labels({test_item.id: None})
        assert test_item.path not in unlabelled_paths(store) and store.unlabelled_count(pool=True) == 2
        assert store.unlabelled_count() == 5
    # The copies of the validation and test texts are left out; a copy of a training text and a new text stay.
    assert [r.path in pool for r in copies] == [False, False, True, True]
