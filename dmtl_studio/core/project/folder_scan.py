"""Finding the image files of a folder: by name or by content, hidden files left out, symlink loops survived,
in the order people number their files."""

from __future__ import annotations

import functools
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from dmtl_studio.core.base.paths import DATABASE_NAME
from dmtl_studio.core.project.pixel_decoding import has_tiff_magic

#: File name extensions (lower case) always taken as images when scanning a folder (one that then fails to
#: decode is a problem file, with its reason). Files with other names are taken when their content is an image.
IMAGE_EXTENSIONS = frozenset(
    {
        ".png",
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".jif",
        ".bmp",
        ".dib",
        ".gif",
        ".tif",
        ".tiff",
        ".webp",
        ".ppm",
        ".pgm",
        ".pbm",
        ".pnm",
        # Other formats Pillow decodes: JPEG 2000 (slide scanners, archives), Targa and DirectDraw (textures,
        # renderers), PCX, SGI and icons.
        ".jp2",
        ".j2k",
        ".j2c",
        ".jpx",
        ".jpf",
        ".tga",
        ".dds",
        ".pcx",
        ".sgi",
        ".ico",
        # AVIF (phones and browsers save it), which Pillow decodes; HEIC / HEIF (iPhone photos), which it does
        # not: taken as images so that each is listed as a problem with what to do, not skipped as "not an image".
        ".avif",
        ".heic",
        ".heif",
    }
)

#: Pillow formats recognised by their content (each has a signature at the start of the file).
CONTENT_FORMATS = ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP", "PPM", "MPO", "JPEG2000", "DDS", "AVIF")


_DIGITS = re.compile(r"(\d+)")


def is_image_name(path: str | os.PathLike[str]) -> bool:
    """True when the file name has an image extension (case-insensitive) and is not hidden."""
    name = os.path.basename(os.fspath(path))
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


@dataclass(frozen=True)
class FolderScan:
    """What a folder scan found.

    Attributes
    ----------
    files
        Image files in natural order: every file with an image extension, and every other file whose
        content is an image (a JPEG named ``.jfif`` or with no extension at all).
    skipped
        Files that are not images by name or content (text, spreadsheets, ...), in natural order.
    """

    files: list[Path]
    skipped: list[Path]
    #: Folders of DMTL Studio projects found below the folder, left out whole (:func:`walk_files`).
    projects: list[Path] = field(default_factory=list)
    #: Hidden files and folders (names starting with ``.``: ``.DS_Store``, ``._x.png``…) left out.
    hidden: list[str] = field(default_factory=list)


@functools.cache
def _content_formats() -> tuple[str, ...]:
    """:data:`CONTENT_FORMATS` that this Pillow opens by name, every plugin registered (once a process).

    Pillow registers most of its formats (JPEG 2000, DDS…) only when a file fails the common ones, but not when
    given a list of formats; and a format it does not open by that name (MPO files open as JPEG in recent versions)
    is a KeyError that ends the search."""
    Image.init()
    return tuple(name for name in CONTENT_FORMATS if name in Image.OPEN)


def is_image_content(path: str | os.PathLike[str]) -> bool:
    """True when the file's content is an image Pillow can open, whatever its name."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path, formats=_content_formats()):
                return True
    except Exception:  # any failure to identify means: not an image
        return has_tiff_magic(path)


#: The folders a project makes inside its own folder: its runs, its feature cache, the logs of removed items.
PROJECT_OWN_FOLDERS = ("runs", "cache", "removed")


def walk_files(
    root: str | os.PathLike[str], projects: list[Path] | None = None, hidden: list[str] | None = None
) -> Iterator[os.DirEntry[str]]:
    """Every entry below ``root`` that is not a folder (files, dangling links), each folder's in name order.

    Hidden files and folders are left out. Symlink loops and unreadable folders cannot make this hang or fail. A
    folder is walked once: through its own path when it lies below ``root``, and through a link to it only when it
    does not (a link ``dogs/link -> ../cats`` must not make the cats' images dogs): linked folders are walked after
    every real one. A DMTL Studio project below ``root`` is left out whole (its images are its own, its runs and
    cache are not data) and added to ``projects``; when ``root`` itself is a project, its database and the folders
    it made (:data:`PROJECT_OWN_FOLDERS`) are left out. The hidden entries left out are added to ``hidden``.
    """
    if (Path(root) / DATABASE_NAME).is_file():
        own = {os.path.join(os.path.abspath(root), name) for name in PROJECT_OWN_FOLDERS}
    else:
        own = set()
    seen_dirs: set[tuple[int, int]] = set()
    stack = [Path(root)]
    linked: list[Path] = []  # folders reached through a symbolic link: walked once no real folder is left
    while stack or linked:
        if not stack:
            stack, linked = sorted(linked, key=natural_key, reverse=True), []
        folder = stack.pop()
        try:
            stat = folder.stat()
        except OSError:
            continue
        key = (stat.st_dev, stat.st_ino)
        if key in seen_dirs:
            continue
        seen_dirs.add(key)
        if (folder != Path(root) and (folder / DATABASE_NAME).is_file()) or os.path.abspath(folder) in own:
            if projects is not None and str(os.path.abspath(folder)) not in own:
                projects.append(folder)
            continue
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                if hidden is not None:
                    hidden.append(entry.path)
                continue
            if own and folder == Path(root) and entry.name.startswith(DATABASE_NAME):
                continue  # the project's own database (and its -wal, -shm files)
            try:
                if entry.is_dir(follow_symlinks=True):
                    (linked if entry.is_symlink() else stack).append(Path(entry.path))
                    continue
            except OSError:
                continue
            yield entry


def scan_folder(root: str | os.PathLike[str]) -> FolderScan:
    """Every image file below ``root`` (by name or by content), and the files skipped as non-images, walked by
    :func:`walk_files` (hidden files left out and counted, links and loops handled); a dangling link with an
    image name is listed (its import then reports it).
    """
    found: list[Path] = []
    skipped: list[Path] = []
    projects: list[Path] = []
    hidden: list[str] = []
    for entry in walk_files(root, projects, hidden):
        try:
            if is_image_name(entry.name):
                found.append(Path(entry.path))
            elif entry.is_file(follow_symlinks=True):
                (found if is_image_content(entry.path) else skipped).append(Path(entry.path))
        except OSError:
            continue
    found.sort(key=natural_key)
    skipped.sort(key=natural_key)
    return FolderScan(found, skipped, sorted(projects, key=natural_key), sorted(hidden, key=natural_key))


def natural_key(path: Path | str) -> tuple[tuple[str | int, ...], ...]:
    """Sort key that orders numbers by value, as people number their files: img_2 before img_10."""
    return tuple(
        tuple(int(piece) if i % 2 else piece.casefold() for i, piece in enumerate(_DIGITS.split(part)))
        for part in Path(path).parts
    )
