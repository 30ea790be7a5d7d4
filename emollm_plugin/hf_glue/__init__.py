"""MVP inside transformers-native LLaVA models (``LlavaForConditionalGeneration``, LLaVA-NeXT)."""

from emollm_plugin.hf_glue.mvp import load_mvp_model, swap_in_mvp

__all__ = ["load_mvp_model", "swap_in_mvp"]
