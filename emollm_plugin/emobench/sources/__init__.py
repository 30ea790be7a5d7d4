"""Source adapters: public datasets, in their own release layouts, turned into EmoBench records.

Usage::

    from emollm_plugin.emobench.sources import available_sources, get_source

    source = get_source("meld")
    source.check_layout(root)          # FileNotFoundError naming a missing metadata file
    for item in source.iter_samples(root):
        ...                            # Record (media relative to root) or Skip(key, reason)

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
    Skip,
    SourceAdapter,
    SourceError,
    available_sources,
    get_source,
    register_source,
)

__all__ = ["Skip", "SourceAdapter", "SourceError", "available_sources", "get_source", "register_source"]
