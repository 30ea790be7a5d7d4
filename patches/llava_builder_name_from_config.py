"""Symptom: an LLaVA checkpoint in a folder whose name lacks "llava" loads without its vision tower.

``llava.model.builder.load_pretrained_model(model_path, model_base, model_name)`` takes the
multimodal branch only when "llava" is in ``model_name`` (by convention the folder name, from
``get_model_name_from_path``), and the LoRA branch only when "lora" is. A checkpoint saved as
``checkpoints/emollm-mvp-7b`` then loads as a plain language model: no vision tower, an
``image_processor`` of None, and ``TypeError: 'NoneType' object is not callable`` at the first
image. Every caller (``llava.serve.cli``, ``llava.eval.run_llava``, lmms-eval's ``--model llava``)
is affected. The fix lets the checkpoint decide: a local ``config.json`` naming a vision tower
(``mm_vision_tower``, which LLaVA writes into every multimodal checkpoint) puts "llava" into the
name the loader sees, and an ``adapter_config.json`` beside it puts "lora" there. Names that
already say so, and hub ids, reach LLaVA unchanged.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from ._versions import check_versions, mark_patched

TESTED = {"llava-torch": "==1.2.2.post1"}


def _is_multimodal_checkpoint(folder: Path) -> bool:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and bool(config.get("mm_vision_tower"))


def name_for_checkpoint(model_path: str, model_name: str) -> str:
    """The model name LLaVA's loader should see for what ``model_path`` holds."""
    folder = Path(model_path)
    name = model_name
    if "llava" not in name.lower() and _is_multimodal_checkpoint(folder):
        name = f"llava-{name}"
    if "lora" not in name.lower() and "llava" in name.lower() and (folder / "adapter_config.json").is_file():
        name = f"{name}-lora"
    return name


def apply() -> bool:
    from llava.model import builder

    check_versions(__name__, TESTED)
    if not mark_patched(builder, "load_pretrained_model"):
        return False
    original = builder.load_pretrained_model

    @functools.wraps(original)
    def load_pretrained_model(model_path, model_base, model_name, *args, **kwargs):
        return original(model_path, model_base, name_for_checkpoint(str(model_path), model_name), *args, **kwargs)

    builder.load_pretrained_model = load_pretrained_model
    return True
