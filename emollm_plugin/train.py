"""``python -m emollm_plugin.train``: LLaVA training with EmoLLM (see ``llava_glue.train``).

Launch it like LLaVA's own ``train_mem.py``, e.g. ``deepspeed --module emollm_plugin.train ...``
or ``torchrun --nproc_per_node 8 -m emollm_plugin.train ...``.
"""

from __future__ import annotations

import sys

from emollm_plugin import offline_defaults

# Before anything imports transformers or huggingface_hub: both read the offline settings once, at import.
offline_defaults()

from emollm_plugin.llava_glue.train import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
