"""EmoPrompt conversation templates (pure data; `llava_glue.register` puts them into LLaVA).

The paper says EmoPrompt "guides the MLLM to reason about emotions in the correct direction";
its system prompt was never released. The wording below is reconstructed: edit
``EMOTION_SYSTEM_PROMPT`` (or register your own template) to change it.

Masking rule that matters: LLaVA's ``preprocess`` picks its tokenisation routine from the
template's ``sep_style`` and ``version``. A template must keep the separator style and the
version prefix of the family it imitates (``v1`` → ``preprocess_v1``, ``llama_v2`` →
``preprocess_llama_2``), or LLaVA masks every label of every sample without an error.
"""

from __future__ import annotations

from dataclasses import dataclass

EMOTION_SYSTEM_PROMPT = (
    "A chat between a curious user and an artificial intelligence assistant that understands "
    "human emotions. The assistant looks at the facial expressions, body language, colours, "
    "scene and text of the given image or video, reasons step by step about the emotional cues "
    "they carry, and ends with a final line 'Answer: <label>'."
)


@dataclass(frozen=True)
class TemplateSpec:
    """The fields of a LLaVA ``Conversation`` that define a template, without importing llava."""

    name: str
    base: str  # the LLaVA template whose tokenisation family this one copies
    system: str
    version: str
    description: str


TEMPLATES: tuple[TemplateSpec, ...] = (
    TemplateSpec(
        name="emollm_v1",
        base="vicuna_v1",
        system=EMOTION_SYSTEM_PROMPT,
        version="v1_emollm",
        description="Vicuna-v1.5 / Llama bases (LLaVA-1.5 family): separator style TWO.",
    ),
    TemplateSpec(
        name="emollm_mistral",
        base="mistral_instruct",
        system=EMOTION_SYSTEM_PROMPT,
        version="llama_v2_emollm",
        description="Mistral-Instruct bases: [INST] style, LLaVA's llama_2 masking.",
    ),
    TemplateSpec(
        name="emollm_mpt",
        base="mpt",
        system="<|im_start|>system\n" + EMOTION_SYSTEM_PROMPT,
        version="mpt",  # LLaVA matches "mpt" exactly
        description="MPT bases: ChatML-style separators, LLaVA's MPT masking.",
    ),
)

#: The LLM families EmoLLM trains on, by the ``model_type`` of the base's config, each with the
#: EmoPrompt template of its masking family. The one list: LLaVA glue (``llava_glue.bases``), the
#: tiny offline bases (``tiny.llava``) and the pipeline take their families from here.
FAMILIES: dict[str, str] = {
    "llama": "emollm_v1",
    "mistral": "emollm_mistral",
    "mpt": "emollm_mpt",
}

#: Template per ``model_type``: the families, and the ``llava_<family>`` types of their LLaVA checkpoints.
DEFAULT_TEMPLATE_FOR_MODEL_TYPE: dict[str, str] = {
    **FAMILIES,
    **{f"llava_{family}": template for family, template in FAMILIES.items()},
}


def family_of(model_type: str) -> str:
    """The family of a base or LLaVA ``model_type`` (``llava_mistral`` -> ``mistral``); ValueError otherwise."""
    family = model_type.removeprefix("llava_")
    if family not in FAMILIES:
        raise ValueError(f"model_type {model_type!r} is not supported; supported: {', '.join(sorted(FAMILIES))}")
    return family
