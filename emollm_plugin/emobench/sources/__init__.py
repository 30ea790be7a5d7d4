"""Source adapters: public datasets, in their own release layouts, turned into EmoBench records.

Usage::

    from emollm_plugin.emobench.sources import available_sources, get_source

    source = get_source("meld")
    source.check_layout(root)          # LayoutError (a FileNotFoundError) saying what to pass instead
    for item in source.iter_samples(root):          # or iter_samples(root, media_root)
        ...                            # Record (media relative to root / media_root) or Skip(key, reason)
    source.file_counts                 # {metadata file: {"records": n, "skipped": m}}

    detect_sources(folder)             # [Detection(source, folder)]: which adapters recognise what

``root`` may be the folder a release was unpacked into or any folder a few levels above it: the
adapters search for their marker files (:mod:`.locate`).

Importing this package imports every adapter module below, which registers it. A new dataset
is one module with a :class:`SourceAdapter` subclass decorated with :func:`register_source`,
plus its import here.
"""

from __future__ import annotations

from emollm_plugin.emobench.sources import (  # noqa: F401  (imported to register the adapters)
    emoset,
    emotion6,
    fi,
    hateful_memes,
    hatemm,
    intentonomy,
    meld,
    memotion,
    mintrec,
    mmsd,
    mustard,
    urfunny,
)
from emollm_plugin.emobench.sources.base import (
    Detection,
    Skip,
    SourceAdapter,
    SourceError,
    available_sources,
    detect_sources,
    get_source,
    register_source,
)
from emollm_plugin.emobench.sources.locate import Layout, LayoutError

__all__ = [
    "Detection",
    "Layout",
    "LayoutError",
    "Skip",
    "SourceAdapter",
    "SourceError",
    "available_sources",
    "detect_sources",
    "get_source",
    "register_source",
]
