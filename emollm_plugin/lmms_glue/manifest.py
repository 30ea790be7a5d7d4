"""Entry point ``lmms_eval.models: emollm`` — how lmms-eval 0.7.3 finds the plugin's model."""

from __future__ import annotations

from lmms_eval.models.registry_v2 import ModelManifest

emollm_manifest = ModelManifest(
    model_id="emollm",
    simple_class_path="emollm_plugin.lmms_glue.model.EmoLLM",
    aliases=("emollm_llava",),
)
