"""Where ``LMMS_EVAL_PLUGINS=emollm_plugin`` looks for the ``emollm`` model class (see ``__init__``)."""

from __future__ import annotations

from emollm_plugin.lmms_glue.model import EmoLLM

__all__ = ["EmoLLM"]
