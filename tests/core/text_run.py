"""One small trained text run shared by the text evaluation, export, prediction and attribution tests.

Three topics (cats, money, weather), 8 training, 2 validation and 2 test texts each; a frozen all-MiniLM-L6-v2
after 10 contrastive steps, with the linear probe (seconds on a CPU), trained once per test session.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.project.texts_table import TextItem
from dmtl_studio.core.training.config import TrainConfig
from dmtl_studio.core.training.run import train

CLASSES = ("cats", "money", "weather")
TEXTS = {
    "cats": [
        "the cat purrs softly",
        "a kitten chased the mouse",
        "my cat sleeps all day",
        "cats love warm laps",
        "the tabby cat meowed",
        "a cat climbed the tree",
        "the cat drank milk",
        "kittens play with yarn",
        "a sleepy cat on the sofa",
        "the kitten purred at night",
        "our cat caught a bird",
        "the black cat hissed",
    ],
    "money": [
        "the stock market fell",
        "shares rose after earnings",
        "investors sold their bonds",
        "the bank raised rates",
        "inflation hit the economy",
        "the fund bought shares",
        "markets rallied on news",
        "traders feared a crash",
        "bond yields went up",
        "banks lend money",
        "the dollar lost value",
        "profits beat forecasts",
    ],
    "weather": [
        "heavy rain fell all night",
        "a storm is coming tomorrow",
        "the sun shines bright today",
        "snow covered the hills",
        "strong winds hit the coast",
        "fog settled over the valley",
        "thunder rolled across the sky",
        "the forecast says showers",
        "a cold front brings frost",
        "hail damaged the crops",
        "the heatwave lasts a week",
        "clouds gathered before the rain",
    ],
}
_CACHE: dict[str, tuple[Path, Path]] = {}


def split_of(index: int) -> str:
    """Texts 0-7 of a class train, 8-9 validate, 10-11 test."""
    return "train" if index < 8 else ("val" if index < 10 else "test")


def make_text_project(folder: Path) -> Path:
    """The labelled text project (keys ``<class>.csv#<row>``) with its splits, untrained."""
    with ProjectStore.create(folder) as store:
        store.set_kind("text")
        store.add_texts(
            [
                TextItem(f"{name}.csv#{i + 1}", text, name)
                for name in CLASSES
                for i, text in enumerate(TEXTS[name])
            ]
        )
        splits = {}
        for record in store.images():
            splits[record.id] = split_of(int(record.path.rsplit("#", 1)[1]) - 1)
        store.set_splits(splits)
    return folder


def text_probe_config(contrastive_steps: int) -> TrainConfig:
    """The recommended frozen text run with the linear probe on the bundled encoder, seed 0, on the CPU."""
    return TrainConfig.recommended(
        backbone="all-MiniLM-L6-v2",
        device="cpu",
        seed=0,
        transfer="frozen",
        linear_probe=True,
        contrastive_steps=contrastive_steps,
    )


def trained_text_project(factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``(project, run_dir)`` of the shared frozen + linear probe text run."""
    if "run" not in _CACHE:
        project = make_text_project(factory.mktemp("text") / "project")
        # An adapted encoder: what exports, evaluation and prediction must carry.
        summary = train(project, text_probe_config(contrastive_steps=10))
        _CACHE["run"] = (project, Path(summary.run_dir))
    return _CACHE["run"]


def copy_text_project(factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A private copy of the trained text project."""
    project, run_dir = trained_text_project(factory)
    target = factory.mktemp("textcopy") / "project"
    shutil.copytree(project, target)
    return target, target / "runs" / run_dir.name
