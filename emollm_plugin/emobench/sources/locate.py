"""Find a release under the folder the user names, wherever its archive put it (said once, for every adapter).

People pass ``--root`` as the folder they unpacked into, or any folder above it: the archive's own
top folder (``MELD.Raw/``, ``Emotion6/``, MMSD2.0's ``data/``) and the media zips unpacked next to
the metadata or somewhere else all have to work without moving files. So an adapter names its
*marker* files (the metadata it needs, relative to the release folder) and its media folders, and
the helpers here search a few levels below the root for them:

* :func:`survey` walks the folders breadth-first, skipping hidden and ``__MACOSX`` folders, and
  notes file names (for "did you mean" hints) and archives that are still packed;
* :func:`release_folders` lists the folders that hold every marker: none or several is an error
  that the adapter turns into a one-line message (:func:`not_found_message`);
* :class:`Layout` is what an adapter reads with: the release folder, the media folders (beside
  the metadata, under the release's own sub-folders, or elsewhere under the root; an explicit
  ``media_root`` overrides the search) and media paths relative to the folder ``build`` links.
"""

from __future__ import annotations

import difflib
import os
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

#: Release folders are looked for in the root and up to this many levels below it.
SEARCH_DEPTH = 4
#: Media folders may sit deeper (``<root>/MELD.Raw/train/train_splits`` one level above ``MELD.Raw``).
MEDIA_DEPTH = SEARCH_DEPTH + 2
#: Folders listed at most per search; a root holding a whole disk is stopped, not crawled.
MAX_FOLDERS = 20_000
#: File names remembered per search for hints (the first ones, breadth-first).
MAX_NAMES = 5_000
#: Ancestors of the root checked for a release that sits above it (``--root`` one level too deep).
ANCESTORS = 3

HIDDEN_PREFIXES = (".", "__MACOSX")
#: What a folder with every marker file lacks when the files' contents are another dataset's.
NOT_RECOGNISED = "the expected contents (same names, another dataset's files?)"
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".7z", ".rar", ".gz")
#: Media files are never markers; they are not remembered for hints (there can be 100k of them).
MEDIA_SUFFIXES = frozenset(
    (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
    + (".mp4", ".avi", ".mkv", ".mov", ".webm", ".flv", ".wav", ".mp3")
)


class LayoutError(FileNotFoundError):
    """The release (or one of its media folders) is not under the root, or is there more than once.

    A ``FileNotFoundError`` so that callers that catch a missing layout catch every case; the
    message is one line naming what was looked for, what was seen and what to pass instead.
    """


def is_hidden(name: str) -> bool:
    return name.startswith(HIDDEN_PREFIXES)


def is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


@dataclass
class Survey:
    """The folders under one root, breadth-first (root first), with what a hint needs."""

    root: Path
    depth: int
    folders: list[tuple[Path, int]] = field(default_factory=list)  # (folder, levels below root)
    names: list[Path] = field(default_factory=list)  # non-media files and folders seen (capped)
    archives: list[Path] = field(default_factory=list)
    truncated: bool = False

    def within(self, depth: int) -> Iterable[Path]:
        return (folder for folder, level in self.folders if level <= depth)


def survey(root: Path, depth: int = SEARCH_DEPTH, limit: int = MAX_FOLDERS) -> Survey:
    """Folders of ``root`` down to ``depth`` levels, sorted per level so every run sees the same order.

    Hidden folders and ``__MACOSX`` (macOS zip residue) are skipped; folders that cannot be
    listed are passed over. Symbolic links to folders are followed (a dataset on another disk),
    but a folder already seen by another path is not visited twice: an EmoBench ``OUT`` inside
    the root links ``media/<source>`` back to it, which must not look like a second copy.
    """
    root = Path(root)
    result = Survey(root, depth)
    queue: deque[tuple[Path, int]] = deque([(root, 0)])
    seen: set[str] = set()
    while queue:
        folder, level = queue.popleft()
        real = os.path.realpath(folder)
        if real in seen:
            continue
        seen.add(real)
        result.folders.append((folder, level))
        if len(result.folders) >= limit:
            result.truncated = bool(queue) or level < depth
            break
        try:
            with os.scandir(folder) as entries:
                children = sorted(entries, key=lambda entry: entry.name)
        except OSError:
            continue
        for entry in children:
            if is_hidden(entry.name):
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                continue
            path = Path(entry.path)
            if is_archive(entry.name) and not is_dir:
                result.archives.append(path)
            elif Path(entry.name).suffix.lower() in MEDIA_SUFFIXES and not is_dir:
                continue
            if len(result.names) < MAX_NAMES:
                result.names.append(path)
            if is_dir and level < depth:
                queue.append((path, level + 1))
    return result


def display(path: Path, root: Path) -> str:
    """``path`` as the user will recognise it: relative to ``root`` when inside it, with a '/' for folders."""
    try:
        text = Path(path).relative_to(root).as_posix()
    except ValueError:
        text = str(path)
    if text in ("", "."):
        return str(root)
    return text + "/" if Path(path).is_dir() else text


def has_markers(folder: Path, markers: Sequence[Sequence[str]]) -> tuple[list[str], list[str]]:
    """(groups found, groups missing) of ``markers`` in ``folder``; a group is a tuple of alternatives."""
    found, missing = [], []
    for group in markers:
        (found if any((folder / candidate).exists() for candidate in group) else missing).append(group[0])
    return found, missing


def release_folders(
    found: Survey, markers: Sequence[Sequence[str]], accept: Callable[[Path], bool] = lambda _: True
) -> tuple[list[Path], list[tuple[Path, list[str], list[str]]]]:
    """(folders holding every marker, the nearest partial matches) among the surveyed folders.

    Partial matches are the folders holding the most marker groups short of all of them; an
    error shows them ("MELD.Raw/ has dev_sent_emo.csv but not train_sent_emo.csv"). A folder
    holding every marker whose contents ``accept`` turns down counts as nearest of all, with
    :data:`NOT_RECOGNISED` as what it lacks.
    """
    complete: list[Path] = []
    partial: list[tuple[Path, list[str], list[str]]] = []
    best = 0.0
    for folder in found.within(SEARCH_DEPTH):
        present, missing = has_markers(folder, markers)
        if not missing:
            if accept(folder):
                complete.append(folder)
                continue
            missing = [NOT_RECOGNISED]
        score = len(present) + (0.5 if missing == [NOT_RECOGNISED] else 0.0)
        if present and score >= best:
            if score > best:
                partial, best = [], score
            partial.append((folder, present, missing))
    return complete, partial[:3]


def release_above(
    root: Path, markers: Sequence[Sequence[str]], accept: Callable[[Path], bool] = lambda _: True
) -> Path | None:
    """The nearest ancestor of ``root`` (a few levels up) that holds every marker: ``--root`` was too deep."""
    for ancestor in list(Path(root).resolve().parents)[:ANCESTORS]:
        if not has_markers(ancestor, markers)[1] and accept(ancestor):
            return ancestor
    return None


def describe_markers(markers: Sequence[Sequence[str]]) -> str:
    """``a.csv (or x/a.csv), b.csv`` for a message."""
    parts = []
    for group in markers:
        also = f" (or {', '.join(group[1:])})" if len(group) > 1 else ""
        parts.append(f"{group[0]}{also}")
    return ", ".join(parts)


def similar_names(
    found: Survey, wanted: Iterable[str], limit: int = 4, described: Iterable[Path] = ()
) -> list[str]:
    """Names seen under the root that resemble a wanted file name (a renamed or half-extracted file).

    Paths in ``described`` (markers already shown as found in a partial match) are left out.
    """
    wanted_names = {PurePosixPath(name).name.lower() for name in wanted}
    skip = set(described)
    by_name: dict[str, list[Path]] = {}
    for path in found.names:
        if path not in skip:
            by_name.setdefault(path.name.lower(), []).append(path)
    hits: list[str] = []
    for name in sorted(wanted_names):
        for match in difflib.get_close_matches(name, list(by_name), n=2, cutoff=0.75):
            for path in by_name[match][:2]:
                text = display(path, found.root)
                if text not in hits:
                    hits.append(text)
    return hits[:limit]


def not_found_message(
    what: str,
    root: Path,
    markers: Sequence[Sequence[str]],
    found: Survey,
    partial: Sequence[tuple[Path, list[str], list[str]]],
    above: Path | None,
    elsewhere: Sequence[str] = (),
) -> str:
    """One line: what was looked for, where, the nearest matches seen, and what to pass instead."""
    text = (
        f"no {what} under {root}: looked for a folder holding {describe_markers(markers)} in it and up to "
        f"{SEARCH_DEPTH} levels below it ({len(found.folders)} folders"
        + (", search stopped early: pass a folder closer to the data" if found.truncated else "")
        + ")"
    )
    hints: list[str] = []
    if above is not None:
        hints.append(f"the release is in {above}, above the folder you passed: pass --root {above}")
    for folder, present, missing in partial:
        hints.append(f"{display(folder, root)} has {', '.join(present)} but not {', '.join(missing)}")
    missing = {name for _, _, absent in partial for name in absent}
    wanted = [m for group in markers if not missing or group[0] in missing for m in group]
    names = similar_names(
        found,
        wanted,
        described=[folder / m for folder, _, _ in partial for group in markers for m in group],
    )
    if names:
        hints.append(f"similar names seen: {', '.join(names)}")
    if found.archives:
        packed = ", ".join(display(path, root) for path in found.archives[:4])
        hints.append(f"archives not unpacked yet: {packed} (unpack them where they are)")
    hints.extend(elsewhere)
    return text + ("; " + "; ".join(hints) if hints else "")


@dataclass
class Layout:
    """One release as an adapter reads it.

    ``root`` is the folder the user passed; ``data`` the folder holding the markers; ``base`` the
    folder record ``media`` paths are relative to (``build`` links it): ``media_root`` when one
    is given, else ``root``. ``current`` names the metadata file being read, for per-file counts.
    """

    source: str
    root: Path
    data: Path
    media_root: Path | None = None
    current: str = ""
    _reading: Path | None = field(default=None, repr=False)
    _surveys: dict[Path, Survey] = field(default_factory=dict, repr=False)

    @property
    def base(self) -> Path:
        return self.media_root if self.media_root is not None else self.root

    def path(self, candidates: Sequence[str]) -> Path:
        """The first existing candidate under the release folder (the markers guarantee one)."""
        for candidate in candidates:
            if (self.data / candidate).exists():
                return self.data / candidate
        raise LayoutError(f"{self.source}: {self.data} holds none of {', '.join(candidates)}")

    def reading(self, path: Path) -> Path:
        """Note ``path`` as the file (or folder) whose samples come next, for per-file counts."""
        if path != self._reading:
            self._reading = path
            self.current = display(path, self.root).rstrip("/")
        return path

    def relative(self, path: Path) -> str:
        """``path`` relative to :attr:`base`, as a record's ``media``."""
        return (path if isinstance(path, Path) else Path(path)).relative_to(self.base).as_posix()

    def _survey(self, where: Path) -> Survey:
        if where not in self._surveys:
            self._surveys[where] = survey(where, MEDIA_DEPTH)
        return self._surveys[where]

    def media_dir(self, candidates: Sequence[str], probe: Iterable[str] = ()) -> Path:
        """The folder holding one kind of media, e.g. ``("videos/utterances_final", "utterances_final")``.

        Looked for, in order: each candidate under the release folder (beside the metadata, or the
        release's own sub-folders); else any folder named like a candidate's last part under the
        root. With ``media_root`` the search runs under it instead, and the media root itself is
        the folder when nothing under it is named so. ``probe`` (file names expected inside, from
        the metadata) picks the right one when several folders share a name. None, or several
        that fit, is a :class:`LayoutError` that says what to pass.
        """
        probe = [name for _, name in zip(range(20), probe, strict=False)]
        where = self.media_root if self.media_root is not None else self.data
        for candidate in candidates:
            if (where / candidate).is_dir():
                return where / candidate
        search_root = self.base
        names = {PurePosixPath(candidate).name for candidate in candidates}
        found = self._survey(search_root)
        named = [folder for folder, _ in found.folders if folder.name in names]
        fitting = [folder for folder in named if any((folder / name).is_file() for name in probe)]
        chosen = fitting or named
        if len(chosen) == 1:
            return chosen[0]
        wanted = " or ".join(sorted(names))
        if len(chosen) > 1:
            listed = ", ".join(display(folder, search_root) for folder in chosen[:6])
            raise LayoutError(
                f"{self.source}: several {wanted} folders under {search_root}: {listed}; "
                "pass the right one as --media-root"
            )
        if self.media_root is not None and (not probe or any((self.media_root / n).is_file() for n in probe)):
            return self.media_root
        raise LayoutError(self._media_missing(wanted, candidates, found, probe))

    def _media_missing(self, wanted: str, candidates: Sequence[str], found: Survey, probe: list[str]) -> str:
        if self.media_root is not None:
            example = f" (e.g. {probe[0]})" if probe else ""
            return (
                f"{self.source}: no {wanted} folder under --media-root {self.media_root}, and it holds none "
                f"of the expected files{example} itself; pass the folder that holds them"
            )
        hints: list[str] = []
        outside = self._outside_root(sorted({PurePosixPath(c).name for c in candidates}))
        if outside is not None:
            hints.append(
                f"found {outside} outside --root: pass --root {outside.parent} (a folder above both) "
                f"or --media-root {outside}"
            )
        if found.archives:
            packed = ", ".join(display(path, self.root) for path in found.archives[:4])
            hints.append(f"archives not unpacked yet: {packed}")
        return (
            f"{self.source}: no {wanted} folder beside {display(self.data, self.root)} "
            f"(looked for {', '.join(candidates)}) or up to {MEDIA_DEPTH} levels under {self.root}"
            + ("; " + "; ".join(hints) if hints else "")
            + "; unpack the media there or pass --media-root DIR"
        )

    def _outside_root(self, names: Sequence[str]) -> Path | None:
        """A media folder near the root but outside it (two levels up, two down): ``--root`` was too narrow."""
        inside = self.root.resolve()
        for ancestor in list(inside.parents)[:2]:
            for folder, _ in survey(ancestor, depth=2, limit=2_000).folders:
                if folder.name in names and inside not in (folder, *folder.parents):
                    return folder
        return None
