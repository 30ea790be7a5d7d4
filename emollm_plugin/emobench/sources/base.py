"""The source-adapter contract and its registry (timm-style: a decorator fills a name -> class map).

An adapter reads one public dataset in its own release layout and yields EmoBench records, one
per question, plus a :class:`Skip` for every sample it could not use. It never decodes media and
never raises for one bad sample. Fatal problems are setup problems, each a one-line
:class:`LayoutError` that says what to pass instead: no release (or two) under the root, reported
by :meth:`SourceAdapter.check_layout` before any work starts, or a media folder that is nowhere to
be found, reported before the first sample.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from emollm_plugin.emobench.records import Record
from emollm_plugin.emobench.sources.locate import (
    SEARCH_DEPTH,
    Layout,
    LayoutError,
    Survey,
    display,
    not_found_message,
    release_above,
    release_folders,
    survey,
)
from emollm_plugin.emobench.tasks import MODALITIES, TASKS


@dataclass(frozen=True)
class Skip:
    """A sample the adapter could not turn into a record, and why (for the build report)."""

    key: str  # the sample's id in the source (file name / row id)
    reason: str


class SourceError(ValueError):
    """A metadata file that exists but cannot be read; the message names the file and the fix."""


class SourceAdapter:
    """One public dataset. Subclasses set the class attributes and implement :meth:`samples`.

    ``required_files`` are the release's marker files (the metadata it needs), each a tuple of
    accepted locations relative to the release folder (the first is the documented one). The
    release folder is searched for under the root the user passes (see :mod:`.locate`), so the
    root may be the folder the archive was unpacked into or any folder above it.
    """

    name: ClassVar[str] = ""
    tasks: ClassVar[tuple[str, ...]] = ()
    modalities: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""
    homepage: ClassVar[str] = ""
    licence: ClassVar[str] = ""
    expected_layout: ClassVar[str] = ""
    required_files: ClassVar[tuple[tuple[str, ...], ...]] = ()
    #: True when the media folders *are* the release (FI, Emotion6): ``media_root`` does not apply.
    media_is_layout: ClassVar[bool] = False

    def __init__(self) -> None:
        #: Records and skips per metadata file of the last :meth:`iter_samples` run, for the build summary.
        self.file_counts: dict[str, dict[str, int]] = {}

    # ------------------------------------------------------------------ finding the release

    def recognises(self, folder: Path) -> bool:
        """An extra check on a folder that holds every marker (override when names alone are too common)."""
        return True

    def release_folders(self, found: Survey) -> list[Path]:
        """The surveyed folders that hold this release."""
        return release_folders(found, self.required_files, self.recognises)[0]

    def locate(self, root: Path) -> Path:
        """The one folder under ``root`` (or ``root`` itself) that holds the release's marker files.

        LayoutError when there is none (naming what was looked for, the nearest matches seen and
        what to pass instead) or several (listing them).
        """
        root = Path(root)
        if not root.is_dir():
            raise LayoutError(
                f"{self.name}: dataset root {root} is not a folder; download {self.name} from "
                f"{self.homepage} and pass the folder you unpacked it into"
            )
        found = survey(root, SEARCH_DEPTH)
        complete, partial = release_folders(found, self.required_files, self.recognises)
        if len(complete) == 1:
            return complete[0]
        if complete:
            listed = ", ".join(str(folder) for folder in complete)
            raise LayoutError(
                f"{self.name}: {len(complete)} copies of the release under {root}: {listed}; "
                f"pass the one to build as --root (e.g. --root {complete[0]})"
            )
        above = release_above(root, self.required_files, self.recognises)
        others = [
            f"{display(d.folder, root)} holds {d.source}: did you mean --source {d.source}?"
            for d in detect_in(found, exclude=self.name)[:3]
        ]
        message = not_found_message("release", root, self.required_files, found, partial, above, others)
        raise LayoutError(f"{self.name}: {message}; get it from {self.homepage} (layouts: docs/sources.md)")

    def check_layout(self, root: Path) -> None:
        """Raise LayoutError (a FileNotFoundError) unless exactly one release is found under ``root``."""
        self.locate(root)

    def layout(self, root: Path, media_root: Path | None = None) -> Layout:
        """The located release, ready to read (``media_root`` overrides the media search)."""
        if media_root is not None:
            media_root = Path(media_root)
            if self.media_is_layout:
                raise LayoutError(
                    f"{self.name}: the image folders are the release itself, so --media-root does not "
                    "apply; pass the folder that holds them (or one above it) as --root"
                )
            if not media_root.is_dir():
                raise LayoutError(f"{self.name}: --media-root {media_root} is not a folder")
        return Layout(self.name, Path(root), self.locate(root), media_root)

    # ------------------------------------------------------------------ reading it

    def iter_samples(self, root: Path, media_root: Path | None = None) -> Iterator[Record | Skip]:
        """Records (``media`` relative to ``root``, or to ``media_root`` when given) and Skips, in order.

        Counts what came from each metadata file into :attr:`file_counts` as it goes.
        """
        layout = self.layout(root, media_root)
        self.file_counts = {}
        for item in self.samples(layout):
            counts = self.file_counts.setdefault(layout.current or ".", {"records": 0, "skipped": 0})
            counts["records" if isinstance(item, Record) else "skipped"] += 1
            yield item

    def samples(self, layout: Layout) -> Iterator[Record | Skip]:
        """The adapter proper: read the release at ``layout.data``; set ``layout.current`` per file."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<source {self.name}: {'/'.join(self.tasks)} ({'/'.join(self.modalities)})>"


@dataclass(frozen=True)
class Detection:
    """A folder an adapter recognises as its release (``emollm data sources --root DIR``)."""

    source: str
    folder: Path


def detect_in(found: Survey, exclude: str = "") -> list[Detection]:
    """Every (adapter, folder) pair among already surveyed folders, sorted by folder then name."""
    _load_builtin_adapters()
    hits = [
        Detection(name, folder)
        for name in sorted(_REGISTRY)
        if name != exclude
        for folder in _REGISTRY[name]().release_folders(found)
    ]
    return sorted(hits, key=lambda d: (str(d.folder), d.source))


def detect_sources(root: str | Path) -> list[Detection]:
    """Which adapters recognise a release in ``root`` or up to a few levels below it.

    ``folder`` is where the release's marker files are; build with ``--root`` set to ``root``
    (or that folder) and ``--source`` set to ``source``. A ``root`` that is not a folder is a
    LayoutError.
    """
    root = Path(root)
    if not root.is_dir():
        raise LayoutError(f"{root} is not a folder; pass the folder you unpacked a dataset into")
    return detect_in(survey(root, SEARCH_DEPTH))


_REGISTRY: dict[str, type[SourceAdapter]] = {}


def register_source(cls: type[SourceAdapter]) -> type[SourceAdapter]:
    """Class decorator: make ``cls`` available to :func:`get_source` under ``cls.name``."""
    if not cls.name or cls.name != cls.name.strip().lower() or "-" in cls.name:
        raise ValueError(f"{cls.__qualname__}: source name must be lower case without '-', got {cls.name!r}")
    unknown_tasks = [t for t in cls.tasks if t not in TASKS]
    unknown_modalities = [m for m in cls.modalities if m not in MODALITIES]
    if not cls.tasks or unknown_tasks or not cls.modalities or unknown_modalities:
        raise ValueError(
            f"{cls.__qualname__}: tasks must come from {TASKS} and modalities from {MODALITIES}, "
            f"got tasks={cls.tasks} modalities={cls.modalities}"
        )
    existing = _REGISTRY.get(cls.name)
    if existing is not None and existing.__qualname__ != cls.__qualname__:
        raise ValueError(f"source name {cls.name!r} is taken by {existing.__qualname__}")
    _REGISTRY[cls.name] = cls
    return cls


def _load_builtin_adapters() -> None:
    # Importing the package imports every adapter module, which registers it.
    importlib.import_module("emollm_plugin.emobench.sources")


def available_sources() -> list[str]:
    """Names of every registered source, sorted."""
    _load_builtin_adapters()
    return sorted(_REGISTRY)


def get_source(name: str) -> SourceAdapter:
    """A fresh adapter instance for ``name``; ValueError listing the known names otherwise."""
    _load_builtin_adapters()
    try:
        return _REGISTRY[name]()
    except KeyError:
        raise ValueError(
            f"unknown EmoBench source {name!r}; available sources: {', '.join(sorted(_REGISTRY))}"
        ) from None
