"""The source-adapter contract and its registry (timm-style: a decorator fills a name -> class map).

An adapter reads one public dataset in its own release layout and yields EmoBench records, one
per question, plus a :class:`Skip` for every sample it could not use. It never decodes media and
never raises for one bad sample; a missing metadata file is the only fatal problem, reported by
:meth:`SourceAdapter.check_layout` before any work starts.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from emollm_plugin.emobench.records import Record
from emollm_plugin.emobench.tasks import MODALITIES, TASKS


@dataclass(frozen=True)
class Skip:
    """A sample the adapter could not turn into a record, and why (for the build report)."""

    key: str  # the sample's id in the source (file name / row id)
    reason: str


class SourceError(ValueError):
    """A metadata file that exists but cannot be read; the message names the file and the fix."""


class SourceAdapter:
    """One public dataset. Subclasses set the class attributes and implement :meth:`iter_samples`.

    ``required_files`` lists the metadata files :meth:`check_layout` insists on, each as a tuple of
    accepted locations relative to the dataset root (the first is the documented one).
    """

    name: ClassVar[str] = ""
    tasks: ClassVar[tuple[str, ...]] = ()
    modalities: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""
    homepage: ClassVar[str] = ""
    licence: ClassVar[str] = ""
    expected_layout: ClassVar[str] = ""
    required_files: ClassVar[tuple[tuple[str, ...], ...]] = ()

    def check_layout(self, root: Path) -> None:
        """Raise FileNotFoundError naming the first missing metadata file and where to get it."""
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(
                f"{self.name}: dataset root {root} is not a folder; download {self.name} from "
                f"{self.homepage} and pass the folder that holds its files"
            )
        for candidates in self.required_files:
            if find_first(root, candidates) is None:
                raise FileNotFoundError(self.missing_message(root, candidates))

    def missing_message(self, root: Path, candidates: tuple[str, ...]) -> str:
        also = f" (or {', '.join(candidates[1:])})" if len(candidates) > 1 else ""
        return (
            f"{self.name}: missing {Path(root) / candidates[0]}{also}; get it from {self.homepage}. "
            f"Expected layout under {root}:\n{self.expected_layout}"
        )

    def iter_samples(self, root: Path) -> Iterator[Record | Skip]:
        """Records (``media`` relative to ``root``) and Skips, in a deterministic order."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<source {self.name}: {'/'.join(self.tasks)} ({'/'.join(self.modalities)})>"


def find_first(root: Path, candidates: tuple[str, ...]) -> Path | None:
    """The first candidate path (relative to ``root``) that exists, else ``None``."""
    for candidate in candidates:
        path = Path(root) / candidate
        if path.exists():
            return path
    return None


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
