"""Exact and near-duplicate groups: hashing survives copies, groups warn about leaks and label conflicts."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from dmtl_studio.core.project.importer import import_folder
from dmtl_studio.core.project.store import ProjectStore
from dmtl_studio.core.quality.duplicates import (
    HASH_DISTANCE,
    connected_groups,
    find_duplicates,
    hamming_distances,
    image_hashes_of,
    keep_group_in_one_split,
    near_duplicate_pairs,
    perceptual_hash,
    thumbnails_of,
)

REAL = (
    "astronaut",
    "camera",
    "coffee",
    "chelsea",
    "rocket",
    "coins",
    "moon",
    "page",
    "horse",
    "immunohistochemistry",
)


def _real(name: str, side: int = 96) -> np.ndarray:
    image = np.asarray(getattr(skdata, name)())
    if image.dtype != np.uint8:
        image = (image.astype(np.float64) * 255 / max(1, image.max())).astype(np.uint8)
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return np.asarray(Image.fromarray(image[..., :3]).resize((side, side), Image.Resampling.BILINEAR))


def _variants(image: np.ndarray) -> list[np.ndarray]:
    h, w = image.shape[:2]
    pil = Image.fromarray(image)
    resized = np.asarray(pil.resize((w * 2 // 3, h * 2 // 3), Image.Resampling.BICUBIC))
    buffer = io.BytesIO()
    pil.save(buffer, "JPEG", quality=60)
    jpeg = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
    dy, dx = h * 4 // 100, w * 4 // 100  # 4 % off each side
    cropped = image[dy : h - dy, dx : w - dx]
    return [resized, jpeg, cropped]


def test_perceptual_hash_survives_resize_reencode_and_crop_but_tells_pictures_apart() -> None:
    originals = [_real(name) for name in REAL]
    hashes = np.stack([image_hashes_of(im) for im in originals])
    for image, reference in zip(originals, hashes, strict=True):
        copies = np.stack([image_hashes_of(v) for v in _variants(image)])
        assert hamming_distances(copies, reference[None]).max() <= HASH_DISTANCE
        assert hamming_distances(reference[None], copies).max() <= HASH_DISTANCE
    between = hamming_distances(hashes, hashes)[np.triu_indices(len(hashes), 1)]
    assert between.min() > HASH_DISTANCE
    assert near_duplicate_pairs(hashes) == []


def test_a_whole_hash_alone_is_far_from_a_crop_of_it() -> None:
    # Without the crop hashes, a 4 % crop moves the hash well beyond the threshold for some pictures.
    image = _real("page")
    h, w = image.shape[:2]
    cropped = image[h * 4 // 100 : h - h * 4 // 100, w * 4 // 100 : w - w * 4 // 100]
    single = hamming_distances(
        np.array([perceptual_hash(cropped)], dtype=np.uint64),
        np.array([perceptual_hash(image)], dtype=np.uint64),
    )
    multi = hamming_distances(image_hashes_of(cropped)[None], image_hashes_of(image)[None])
    assert multi[0, 0] <= HASH_DISTANCE < single[0, 0]


def test_features_confirm_a_looser_hash_match_only_when_similar() -> None:
    hashes = np.array([0, 0xFFF, 0xFFFF_FFFF], dtype=np.uint64)  # distances 12 and 32 from the first
    same = np.array([[1.0, 0.0], [0.99, 0.05], [1.0, 0.0]])
    assert near_duplicate_pairs(hashes) == []
    assert near_duplicate_pairs(hashes, same) == [(0, 1)]  # 12 bits apart, cosine 0.99: joined
    apart = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    assert near_duplicate_pairs(hashes, apart) == []


def test_union_find_joins_chains_and_drops_singletons() -> None:
    assert connected_groups(6, [(0, 3), (3, 5), (1, 2)]) == [[0, 3, 5], [1, 2]]
    assert connected_groups(3, []) == []


def make_duplicates_project(tmp_path: Path) -> Path:
    """Two classes of real pictures with an exact copy under the other label and a resized copy in test."""
    folder = tmp_path / "images"
    for label in ("a", "b"):
        (folder / label).mkdir(parents=True)
    names = ["astronaut", "camera", "coffee", "chelsea", "rocket", "coins"]
    for i, name in enumerate(names):
        Image.fromarray(_real(name, 64)).save(folder / ("a" if i % 2 else "b") / f"{name}.png")
    (folder / "a" / "coffee-copy.png").write_bytes((folder / "b" / "coffee.png").read_bytes())
    Image.fromarray(_real("camera", 48)).save(folder / "a" / "camera-small.jpg", quality=80)
    project = tmp_path / "project"
    with ProjectStore.create(project) as store:
        import_folder(store, folder, val_fraction=0.0, seed=0)
        ids = {Path(im.path).name: im.id for im in store.images()}
        store.set_splits({i: "train" for i in ids.values()})
        store.set_splits({ids["camera-small.jpg"]: "test"})
    return project


@pytest.fixture
def duplicates_project(tmp_path: Path) -> Path:
    return make_duplicates_project(tmp_path)


def test_project_groups_warn_about_split_leaks_and_label_conflicts(duplicates_project: Path) -> None:
    report = find_duplicates(duplicates_project)
    assert report.images == 8 and not report.unreadable
    groups = {tuple(sorted(Path(m.path).name for m in g.members)): g for g in report.groups}
    assert set(groups) == {("coffee-copy.png", "coffee.png"), ("camera-small.jpg", "camera.png")}
    exact = groups[("coffee-copy.png", "coffee.png")]
    assert exact.kind == "exact"
    assert exact.warnings == ("different labels: a, b",)
    near = groups[("camera-small.jpg", "camera.png")]
    assert near.kind == "near"
    assert near.warnings == ("spans splits: train (1), test (1)",)

    with ProjectStore.open(duplicates_project) as store:
        assert keep_group_in_one_split(store, [m.image_id for m in near.members]) == "train"
        assert {r.split for r in store.images_by_id([m.image_id for m in near.members])} == {"train"}
    after = find_duplicates(duplicates_project)
    leaks = [g for g in after.groups if any(w.startswith("spans splits") for w in g.warnings)]
    assert leaks == []


def test_an_unlabelled_copy_kept_with_its_test_twin_is_out_of_unlabelled_training(
    duplicates_project: Path,
) -> None:
    """ "Keep in one split" put an unlabelled copy of a test image in the test split; a run learning from the
    unlabelled images still trained on it (and the leak warning was gone)."""
    from dmtl_studio.core.training.labelled import unlabelled_paths

    with ProjectStore.open(duplicates_project) as store:
        ids = {Path(im.path).name: im.id for im in store.images()}
        store.set_label([ids["camera-small.jpg"]], None)
        store.set_splits({ids["camera.png"]: "test", ids["camera-small.jpg"]: "train"})
        paths = {Path(p).name for p in unlabelled_paths(store)}
        assert "camera-small.jpg" in paths  # material for the unlabelled terms, for now
        assert keep_group_in_one_split(store, [ids["camera.png"], ids["camera-small.jpg"]], "test") == "test"
        assert {Path(p).name for p in unlabelled_paths(store)} == paths - {"camera-small.jpg"}


def test_plain_patches_of_different_brightness_are_not_grouped() -> None:
    # Two real, nearly flat non-face patches of LFW whose hashes are 2 bits apart: the hash of a flat picture is
    # noise, so the thumbnails (one white, one grey) must keep them apart.
    patches = skdata.lfw_subset()[[162, 185]]
    images = [np.stack([(p * 255).astype(np.uint8)] * 3, axis=-1) for p in patches]
    hashes = np.stack([image_hashes_of(im) for im in images])
    assert hamming_distances(hashes[:1], hashes[1:])[0, 0] <= HASH_DISTANCE
    thumbnails = np.stack([thumbnails_of(im) for im in images])
    assert near_duplicate_pairs(hashes) == [(0, 1)]
    assert near_duplicate_pairs(hashes, thumbnails=thumbnails) == []
    # A re-encoded copy of the grey one still matches it.
    copy = _variants(images[1])[1]
    both = np.stack([hashes[1], image_hashes_of(copy)])
    assert near_duplicate_pairs(both, thumbnails=np.stack([thumbnails[1], thumbnails_of(copy)])) == [(0, 1)]


def test_two_pictures_alike_in_grey_but_not_in_colour_are_not_grouped() -> None:
    """A green disc on pink and a pink disc on green of the same luminance: hash and grey thumbnails matched them
    (the shipped demo held such a pair, under two labels); their colour copies, resized or re-encoded, still match."""
    size = 96
    yy, xx = np.mgrid[:size, :size]
    disc = (yy - 48) ** 2 + (xx - 44) ** 2 < 30**2
    first = np.empty((size, size, 3), np.uint8)
    first[:] = (210, 100, 60)  # luma 124
    first[disc] = (60, 170, 110)  # luma 130
    second = first.copy()
    second[:] = (50, 160, 150)  # luma 126
    second[disc] = (230, 90, 130)  # luma 136
    images = [first, second, *_variants(first)]
    hashes = np.stack([image_hashes_of(im) for im in images])
    thumbnails = np.stack([thumbnails_of(im) for im in images])
    by_hash = near_duplicate_pairs(hashes)
    assert (0, 1) in by_hash and (0, 2) in by_hash  # alike to the hash alone
    pairs = near_duplicate_pairs(hashes, thumbnails=thumbnails)
    assert set(pairs) == {pair for pair in by_hash if 1 not in pair}  # only the colour twin is told apart


def test_look_alikes_chained_pair_by_pair_are_not_one_group() -> None:
    """Each picture near the next (flat backgrounds, small blobs) made one group of 12,895 inspection photos of five
    classes; an original with its copies stays one group."""
    from dmtl_studio.core.quality.duplicates import linked_groups

    chain = [(k, k + 1) for k in range(9)]  # 0-1-2-…-9, each near the next only
    groups = linked_groups(10, chain)
    assert max(len(g) for g in groups) <= 3 and len(groups) >= 3  # short stars, not one chain
    star = [(0, 1), (0, 2), (0, 3), (1, 2)]  # an original (0) and three copies, two of them near each other
    assert linked_groups(5, star) == [[0, 1, 2, 3]]
    assert linked_groups(6, [(0, 1)], same=[(1, 5)]) == [
        [0, 1, 5]
    ]  # identical content joins its copy's group


def test_features_join_the_same_groups_on_a_project(duplicates_project: Path) -> None:
    from dmtl_studio.core.training.config import TrainConfig

    report = find_duplicates(
        duplicates_project, use_features=True, config=TrainConfig(input_size=64, device="cpu")
    )
    assert report.used_features
    groups = sorted(tuple(sorted(Path(m.path).name for m in g.members)) for g in report.groups)
    assert groups == [("camera-small.jpg", "camera.png"), ("coffee-copy.png", "coffee.png")]


def test_an_unlabelled_copy_leaks_only_beside_a_held_out_image() -> None:
    from dmtl_studio.core.quality.groups import GroupMember, group_warnings

    def warnings(*splits: str | None) -> tuple[str, ...]:
        return group_warnings(
            [GroupMember(i, f"{i}.png", None if s is None else "a", s) for i, s in enumerate(splits)]
        )

    assert warnings("train", None) == ()  # both train a run: no leak
    assert warnings("test", None) == (
        "spans splits: test (1), none (1)",
    )  # the test image's copy trains a run
    assert warnings("train", "val") == ("spans splits: train (1), val (1)",)


def test_identical_copies_inside_a_group_of_near_duplicates_are_said() -> None:
    from dmtl_studio.core.quality.groups import DuplicateGroup, GroupMember

    members = (
        GroupMember(1, "a.png", "cat", "train", "h1"),
        GroupMember(2, "copy-of-a.png", "dog", "train", "h1"),
        GroupMember(3, "brighter-a.png", "cat", "val", "h2"),
        GroupMember(4, "unhashed.png", None, None, None),
    )
    group = DuplicateGroup("near", members, ())
    assert [group.identical(m) for m in members] == [True, True, False, False]
    assert [m["identical_copy"] for m in group.to_dict()["members"]] == [True, True, False, False]


def test_a_camera_photo_is_hashed_without_a_full_decode_and_still_matches_its_small_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dmtl_studio.core.project import imaging
    from dmtl_studio.core.quality.duplicates import image_hashes

    photo = Image.fromarray(_real("chelsea", 300)).resize((2400, 1800), Image.Resampling.BICUBIC)
    big, small, other = tmp_path / "big.jpg", tmp_path / "small.png", tmp_path / "other.jpg"
    photo.save(big, quality=90)
    photo.resize((300, 225)).save(small)
    Image.fromarray(_real("rocket", 300)).resize((2400, 1800)).save(other, quality=90)
    whole = image_hashes_of(imaging.load_rgb(big))
    decoded: list[str] = []
    real_load = imaging.load_rgb
    monkeypatch.setattr(imaging, "load_rgb", lambda path: decoded.append(Path(path).name) or real_load(path))
    hashes, thumbnails, readable = image_hashes([str(big), str(small), str(other)])
    assert decoded == ["small.png"] and readable == [0, 1, 2]  # the JPEGs at a reduced scale
    assert hamming_distances(hashes[:1], whole[None]).max() <= 2  # as the full decode's hash, within 2 bits
    assert near_duplicate_pairs(hashes, thumbnails=thumbnails) == [(0, 1)]


def test_a_copy_with_a_date_stamp_in_a_corner_is_still_a_near_duplicate() -> None:
    """A camera's date stamp or a watermark changes one corner of a copy strongly and the rest not at all: such
    a copy is a duplicate (a rule on the largest difference of one thumbnail cell lost it)."""
    photo = np.asarray(skdata.astronaut())[..., :3]
    height, width = photo.shape[:2]
    stamped = photo.copy()
    stamped[height - height // 14 : height - 4, width - width // 4 : width - 4] = 255
    hashes = np.stack([image_hashes_of(photo), image_hashes_of(stamped)])
    thumbnails = np.stack([thumbnails_of(photo), thumbnails_of(stamped)])
    assert near_duplicate_pairs(hashes, thumbnails=thumbnails) == [(0, 1)]


def test_the_demo_project_holds_no_look_alikes(tmp_path: Path) -> None:
    """A newcomer's first audit of the demo warned of a leak: an orange disc and an orange triangle at one place
    on one blue ground were a near-duplicate group under two labels. The demo's pictures now differ in their light;
    the plain generator (the benchmarks' pictures) still makes such pairs, which is what this guards against."""
    from dmtl_studio.core.project.demo import create_demo_project, write_shapes_folder
    from dmtl_studio.core.quality.duplicates import find_duplicates

    create_demo_project(tmp_path / "demo")
    assert len(find_duplicates(tmp_path / "demo").groups) == 0
    write_shapes_folder(tmp_path / "plain", 40, 30, seed=2026)  # the demo's draws without the light
    with ProjectStore.create(tmp_path / "plain-project") as store:
        import_folder(store, tmp_path / "plain", val_fraction=0.25, seed=0)
    assert len(find_duplicates(tmp_path / "plain-project").groups) == 1


def test_a_second_check_reads_the_kept_hashes_and_a_damaged_entry_is_computed_again(
    duplicates_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dmtl_studio.core.project import imaging, perceptual

    earlier = duplicates_project / "cache" / "perceptual" / "side256-crops0.94-0.88-decoder2" / "ab"
    earlier.mkdir(parents=True)
    (earlier / "x.phash").write_bytes(b"an earlier rule's entry")
    first = find_duplicates(duplicates_project)
    assert not earlier.parent.exists()  # never read again: deleted at the new rule's first write (h39)
    entries = sorted((duplicates_project / "cache" / "perceptual").rglob("*.phash"))
    assert len(entries) == 7  # 8 images, two of them identical

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("an image was decoded again")

    monkeypatch.setattr(imaging, "load_rgb_at_least", refuse)
    again = find_duplicates(duplicates_project)
    assert [g.to_dict() for g in again.groups] == [g.to_dict() for g in first.groups]

    entries[0].write_bytes(entries[0].read_bytes()[:-1] + b"\x00")  # a damaged entry reads as missing
    assert perceptual.HashStore(duplicates_project).read(entries[0].name.split(".")[0]) is None
    monkeypatch.undo()
    assert [g.to_dict() for g in find_duplicates(duplicates_project).groups] == [
        g.to_dict() for g in first.groups
    ]
    assert perceptual.HashStore(duplicates_project).read(entries[0].name.split(".")[0]) is not None


def _pair(first: np.ndarray, second: np.ndarray) -> list[tuple[int, int]]:
    images = [first, second]
    hashes = np.stack([image_hashes_of(im) for im in images])
    return near_duplicate_pairs(hashes, thumbnails=np.stack([thumbnails_of(im) for im in images]))


def test_mirrored_and_rotated_copies_are_near_duplicates_and_pictures_stay_apart() -> None:
    """A copy saved mirrored or turned was not found (h35: a mirrored validation image of a training one); every
    flip and quarter turn of a real picture is now, and ten different pictures still match none of the others'."""
    originals = [_real(name) for name in REAL]
    for image in originals[:4]:
        for quarters in range(4):
            for mirrored in (False, True):
                copy = np.rot90(image[:, ::-1] if mirrored else image, quarters)
                assert _pair(image, np.ascontiguousarray(copy)) == [(0, 1)], (quarters, mirrored)
        turned_small = np.asarray(Image.fromarray(np.ascontiguousarray(np.rot90(image))).resize((72, 72)))
        assert _pair(image, turned_small) == [(0, 1)]  # turned, then resized
    hashes = np.stack([image_hashes_of(im) for im in originals])
    thumbnails = np.stack([thumbnails_of(im) for im in originals])
    assert near_duplicate_pairs(hashes, thumbnails=thumbnails) == []


def _crafted(plain_bits: int, turned_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes ``(2, S)`` of two images whose wholes are ``plain_bits`` apart as taken (crops alike) and
    ``turned_bits`` apart with the second one turned, and identical thumbnails ``(2, S, 64, 3)`` with structure."""
    from dmtl_studio.core.project.perceptual import PLAIN, TURNS

    first = np.full(PLAIN + len(TURNS), 0xFFFF_FFFF_0000_0000, dtype=np.uint64)
    second = first.copy()
    second[:PLAIN] ^= np.uint64((1 << plain_bits) - 1)
    second[PLAIN:] = np.uint64(0x0000_FFFF_FFFF_0000)  # far from the first's whole, except one turn
    second[PLAIN + 2] = first[0] ^ np.uint64((1 << turned_bits) - 1)
    pattern = np.random.default_rng(0).uniform(0, 255, (PLAIN + len(TURNS), 64, 3)).astype(np.float32)
    pattern[PLAIN + 2] = pattern[0]  # that turn of the second looks like the first's whole
    return np.stack([first, second]), np.stack([pattern, pattern])


def test_a_turned_match_needs_closer_hashes_than_one_as_taken() -> None:
    """A mirrored or turned copy is 0-2 bits from its original: turned hashes count within TURN_DISTANCE (4), not
    the 8 of a pair as taken, as every image is compared with 7 turns of each other one."""
    from dmtl_studio.core.project.perceptual import TURN_DISTANCE

    for bits, found in ((TURN_DISTANCE, True), (TURN_DISTANCE + 2, False)):
        hashes, thumbnails = _crafted(40, bits)
        assert (near_duplicate_pairs(hashes, thumbnails=thumbnails) == [(0, 1)]) is found, bits
        assert (near_duplicate_pairs(hashes) == [(0, 1)]) is found, bits  # by the hashes alone too


def test_a_turned_hash_near_by_chance_does_not_stop_the_features_confirming_a_pair() -> None:
    """A pair 12 bits apart as taken that the features confirm was dropped when one of its turned hashes happened
    to be within 8 bits: that distance chose the strict limit (h39)."""
    hashes, thumbnails = _crafted(12, 6)
    same = np.array([[1.0, 0.0], [1.0, 0.0]])
    assert near_duplicate_pairs(hashes, same, thumbnails) == [(0, 1)]
    assert (
        near_duplicate_pairs(hashes, thumbnails=thumbnails) == []
    )  # without the features: 12 bits is too far


def test_grey_and_brighter_copies_are_near_duplicates() -> None:
    """A colour picture's grey copy and a copy 25 % brighter were told apart by the thumbnails (h35): a grey
    thumbnail skips the colour comparison, and the exposure is matched before comparing."""
    from PIL import ImageEnhance

    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        image = _real(name)
        grey = np.asarray(Image.fromarray(image).convert("L"))
        assert _pair(image, np.stack([grey] * 3, axis=-1)) == [(0, 1)], name
        brighter = np.asarray(ImageEnhance.Brightness(Image.fromarray(image)).enhance(1.25))
        darker = np.asarray(ImageEnhance.Brightness(Image.fromarray(image)).enhance(0.8))
        assert _pair(image, brighter) == [(0, 1)], name
        assert _pair(image, darker) == [(0, 1)], name
        assert _pair(_real("camera"), grey[..., None].repeat(3, axis=2)) == []  # another picture's grey copy


def test_a_mirrored_copy_in_the_test_split_is_a_leak(duplicates_project: Path, tmp_path: Path) -> None:
    with ProjectStore.open(duplicates_project) as store:
        folder = Path(store.images()[0].path).parent
        Image.fromarray(np.ascontiguousarray(_real("rocket", 64)[:, ::-1])).save(
            folder / "rocket-mirrored.png"
        )
        import_folder(store, folder.parent, val_fraction=0.0, seed=0)
        ids = {Path(im.path).name: im.id for im in store.images()}
        store.set_splits({ids["rocket-mirrored.png"]: "test"})
    groups = {
        tuple(sorted(Path(m.path).name for m in g.members)): g
        for g in find_duplicates(duplicates_project).groups
    }
    mirrored = groups[("rocket-mirrored.png", "rocket.png")]
    assert mirrored.kind == "near" and mirrored.warnings[0].startswith("spans splits")


def test_splits_keep_the_last_checks_near_duplicate_groups_together(duplicates_project: Path) -> None:
    """Reassign splits pulled apart the groups "keep in one split" had put together (h35: 3 leak groups again):
    the check keeps its groups in the project, and every assignment places each group as one item."""
    from dmtl_studio.core.project.look_alikes import META_KEY, group_keys
    from dmtl_studio.core.project.splits import assign_splits

    def apart_in(store: ProjectStore, seeds: range) -> tuple[list[int], object]:
        apart = []
        for seed in seeds:
            summary = assign_splits(store, val_fraction=0.3, test_fraction=0.3, seed=seed, reassign=True)
            splits = {Path(im.path).name: im.split for im in store.images()}
            if splits["camera.png"] != splits["camera-small.jpg"]:
                apart.append(seed)
        return apart, summary

    with ProjectStore.open(duplicates_project) as store:
        apart, summary = apart_in(store, range(12))
        assert apart and summary.look_alike_groups is None  # no check yet: the resized copy lands elsewhere
    find_duplicates(duplicates_project, remember=False)  # an audit's check keeps nothing
    with ProjectStore.open(duplicates_project) as store:
        assert group_keys(store) is None
    find_duplicates(duplicates_project)
    with ProjectStore.open(duplicates_project) as store:
        keys = group_keys(store)
        assert keys is not None and len(set(keys.values())) == 1  # the near pair; the exact pair needs no key
        apart, summary = apart_in(store, range(12))
        assert apart == []
        assert summary.look_alike_groups == 1
        assert (
            "1 near-duplicate group(s) of the last duplicate check kept in one split each"
            in summary.describe()
        )
        # A copy given a split later (labelled after an import without a split) joins its group's split.
        ids = {Path(im.path).name: im.id for im in store.images()}
        for seed, split in enumerate(("train", "val", "test") * 2):  # never by luck: every split, two seeds
            store.set_splits({ids["camera.png"]: split})
            with store.transaction() as conn:
                conn.execute("UPDATE images SET split = NULL WHERE id = ?", (ids["camera-small.jpg"],))
            assign_splits(store, seed=seed)
            assert {Path(im.path).name: im.split for im in store.images()}["camera-small.jpg"] == split
        # An item added after the check is in none of its groups: said.
        store.add_images([("/elsewhere/new.png", "a", None, None)])
        later = assign_splits(store)
        assert later.unchecked == 1 and "1 image(s) came after that check" in later.describe()
        for damaged in ("not json", '{"abc": 1}', '["abcdef"]', '{"groups": [["abc"]], "newest_id": 1}'):
            store.set_meta(META_KEY, damaged)  # edited by hand: no groups, not nonsense keys (h39)
            assert group_keys(store) is None, damaged
