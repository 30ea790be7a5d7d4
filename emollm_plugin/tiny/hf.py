"""Tiny offline checkpoints of transformers-native VLMs, for running lmms-eval's own wrappers on CPU.

EmoBench's lmms-eval tasks are meant to work with any foundation model lmms-eval can drive, not
only EmoLLM. To check that without downloading weights, these builders write random, tiny, but
complete ``from_pretrained`` folders (config, safetensors weights, tokenizer, image processor,
processor with chat template) that lmms-eval's ``llava_hf`` and ``qwen2_vl`` wrappers load as if
they were ``llava-hf/llava-1.5-7b-hf`` or ``Qwen/Qwen2-VL-2B-Instruct``:

- :func:`build_tiny_llava_hf`: ``LlavaForConditionalGeneration`` (tiny Llama + tiny CLIP tower),
  a slow ``LlamaTokenizer`` trained on the spot (``emollm_plugin.tiny.llava.train_tokenizer``, which
  runs sentencepiece's trainer in a fresh interpreter) plus the ``<image>`` token, and a
  ``LlavaProcessor`` whose ``patch_size`` / ``num_additional_image_tokens`` make it expand
  ``<image>`` into exactly as many tokens as the model produces features.
- :func:`build_tiny_qwen2_vl`: ``Qwen2VLForConditionalGeneration`` (one or two vision blocks,
  patch 14 / merge 2 as the real model, because ``qwen_vl_utils`` resizes to multiples of 28),
  a byte-level BPE ``Qwen2TokenizerFast`` trained on the spot with Qwen2-VL's special tokens, a
  ``Qwen2VLImageProcessor`` with a tiny pixel budget and a ``Qwen2VLProcessor``.

The models are random: they produce text, not answers. Everything is written with
``safe_serialization`` and built offline in a few seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

#: Pixel budget of the tiny Qwen2-VL: one 56x56 image = a 4x4 patch grid = 4 LLM tokens.
QWEN2_VL_PIXELS = 56 * 56

#: Qwen2-VL's special tokens, in the order they get ids after the BPE vocabulary.
QWEN2_VL_SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)

#: Vicuna-style prompt of the llava-1.5 checkpoints. ``content`` may be a string (lmms-eval's
#: simple ``llava_hf``, which puts ``<image>`` in the text itself) or a list of typed parts (its
#: chat variant, and transformers' ``apply_chat_template`` convention).
LLAVA_CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'system' -%}"
    "{%- if message['content'] is string -%}{{ message['content'] }}"
    "{%- else -%}{%- for part in message['content'] if part['type'] == 'text' -%}{{ part['text'] }}{%- endfor -%}"
    "{%- endif -%}{{ ' ' }}"
    "{%- else -%}"
    "{{ message['role'] | upper ~ ': ' }}"
    "{%- if message['content'] is string -%}{{ message['content'] }}"
    "{%- else -%}{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'image' -%}{{ '<image>\\n' }}"
    "{%- elif part['type'] == 'video' -%}{{ '<video>\\n' }}"
    "{%- elif part['type'] == 'text' -%}{{ part['text'] }}"
    "{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{%- if message['role'] == 'assistant' -%}{{ eos_token }}{%- endif -%}{{ ' ' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}ASSISTANT:{%- endif -%}"
)

#: ChatML with Qwen2-VL's vision markers; a default system turn like the Instruct checkpoints.
#: Parts are recognised by ``type`` or by key (``{"image": ...}``), as ``qwen_vl_utils`` does.
QWEN2_VL_CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] != 'system' -%}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif -%}"
    "{%- for message in messages -%}"
    "{{ '<|im_start|>' ~ message['role'] ~ '\\n' }}"
    "{%- if message['content'] is string -%}{{ message['content'] }}"
    "{%- else -%}{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'image' or 'image' in part -%}{{ '<|vision_start|><|image_pad|><|vision_end|>' }}"
    "{%- elif part['type'] == 'video' or 'video' in part -%}{{ '<|vision_start|><|video_pad|><|vision_end|>' }}"
    "{%- elif 'text' in part -%}{{ part['text'] }}"
    "{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{{ '<|im_end|>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)


def _reuse(out: Path, marker_name: str, wanted: dict, overwrite: bool) -> bool:
    """True when ``out`` already holds a checkpoint built with the same settings."""
    marker = out / marker_name
    if overwrite or not marker.is_file():
        return False
    try:
        return json.loads(marker.read_text(encoding="utf-8")) == wanted
    except json.JSONDecodeError:
        return False


def build_tiny_llava_hf(
    out_dir: str | Path,
    hidden: int = 64,
    layers: int = 2,
    image_size: int = 32,
    patch_size: int = 8,
    vision_hidden: int = 32,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Write a random tiny llava-1.5-style checkpoint into ``out_dir`` and return it (resolved).

    Reuses ``out_dir`` when it already holds one built with the same settings. The image is
    ``image_size`` px with ``patch_size`` px patches; with ``vision_feature_select_strategy``
    "default" the CLS feature is dropped, so ``<image>`` becomes ``(image_size / patch_size) ** 2``
    tokens.
    """
    import torch
    import transformers

    from emollm_plugin.tiny.llava import train_tokenizer

    if image_size % patch_size:
        raise ValueError(f"image_size ({image_size}) must be a multiple of patch_size ({patch_size})")
    out = Path(out_dir).resolve()
    wanted = {
        "kind": "llava_hf",
        "hidden": hidden,
        "layers": layers,
        "image_size": image_size,
        "patch_size": patch_size,
        "vision_hidden": vision_hidden,
        "seed": seed,
    }
    if _reuse(out, "hf_tiny.json", wanted, overwrite):
        return out

    train_tokenizer(out)  # slow LlamaTokenizer, sentencepiece trained in a subprocess
    # Converted to the fast tokenizer once here (as llava-hf ships it), not at every load.
    tokenizer = transformers.LlamaTokenizerFast.from_pretrained(out, legacy=True, from_slow=True)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<image>"]})
    tokenizer.pad_token = tokenizer.unk_token  # what LLaVA uses; generation pads with EOS anyway
    tokenizer.chat_template = LLAVA_CHAT_TEMPLATE
    image_token_id = tokenizer.convert_tokens_to_ids("<image>")
    image_tokens = (image_size // patch_size) ** 2

    text_config = transformers.LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    vision_config = transformers.CLIPVisionConfig(
        hidden_size=vision_hidden,
        intermediate_size=vision_hidden * 2,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=image_size,
        patch_size=patch_size,
        projection_dim=vision_hidden,
    )
    config = transformers.LlavaConfig(
        vision_config=vision_config.to_dict(),
        text_config=text_config.to_dict(),
        image_token_index=image_token_id,
        image_seq_length=image_tokens,
        vision_feature_select_strategy="default",
        vision_feature_layer=-2,
        projector_hidden_act="gelu",
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = transformers.LlavaForConditionalGeneration(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    # A random model may stop at once; an empty answer must mean the wrapper failed, not chance.
    model.generation_config.begin_suppress_tokens = [tokenizer.eos_token_id]
    model.save_pretrained(out, safe_serialization=True)

    image_processor = transformers.CLIPImageProcessor(
        size={"shortest_edge": image_size},
        crop_size={"height": image_size, "width": image_size},
    )
    processor = transformers.LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=patch_size,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,  # CLIP's CLS; "default" drops it again
        chat_template=LLAVA_CHAT_TEMPLATE,
        image_token="<image>",
    )
    processor.save_pretrained(out)  # also saves the tokenizer (with its chat template)
    (out / "hf_tiny.json").write_text(json.dumps(wanted), encoding="utf-8")
    return out


def build_tiny_qwen2_vl(
    out_dir: str | Path,
    hidden: int = 64,
    layers: int = 2,
    vision_depth: int = 1,
    vision_embed: int = 32,
    pixels: int = QWEN2_VL_PIXELS,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Write a random tiny Qwen2-VL-Instruct-style checkpoint into ``out_dir`` and return it (resolved).

    Patch 14 / spatial merge 2 / temporal patch 2 are Qwen2-VL's own values (``qwen_vl_utils``
    hard-codes the 28 px factor); ``pixels`` (min = max) keeps every image and frame at 56x56.
    Pass the same ``min_pixels``/``max_pixels`` to lmms-eval's wrapper, which forwards them to
    ``qwen_vl_utils``.
    """
    import torch
    import transformers

    out = Path(out_dir).resolve()
    wanted = {
        "kind": "qwen2_vl",
        "hidden": hidden,
        "layers": layers,
        "vision_depth": vision_depth,
        "vision_embed": vision_embed,
        "pixels": pixels,
        "seed": seed,
    }
    if _reuse(out, "hf_tiny.json", wanted, overwrite):
        return out
    heads = 4
    head_dim = hidden // heads
    if hidden % heads or head_dim % 2:
        raise ValueError(f"hidden ({hidden}) must split into {heads} heads of an even size")
    out.mkdir(parents=True, exist_ok=True)

    from emollm_plugin.tiny.llava import train_byte_bpe

    tokenizer = transformers.Qwen2TokenizerFast(
        tokenizer_object=train_byte_bpe(QWEN2_VL_SPECIAL_TOKENS),
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        additional_special_tokens=list(QWEN2_VL_SPECIAL_TOKENS[1:]),
        model_max_length=4096,
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = QWEN2_VL_CHAT_TEMPLATE
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in QWEN2_VL_SPECIAL_TOKENS}

    # M-RoPE splits each head's rotary half-dimension into (temporal, height, width) sections.
    half = head_dim // 2
    mrope_section = [half - 2 * (half // 3), half // 3, half // 3]
    config = transformers.Qwen2VLConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads // 2,
        max_position_embeddings=4096,
        max_window_layers=layers,
        rope_scaling={"type": "mrope", "mrope_section": mrope_section},
        vision_config={
            "depth": vision_depth,
            "embed_dim": vision_embed,
            "hidden_size": hidden,  # the merger projects into the LLM's width
            "num_heads": 2,
            "mlp_ratio": 2,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
        },
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        tie_word_embeddings=False,
        torch_dtype="float32",
    )
    torch.manual_seed(seed)
    model = transformers.Qwen2VLForConditionalGeneration(config)
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.generation_config.begin_suppress_tokens = [ids["<|im_end|>"], ids["<|endoftext|>"]]
    model.save_pretrained(out, safe_serialization=True)

    image_processor = transformers.Qwen2VLImageProcessor(
        min_pixels=pixels, max_pixels=pixels, patch_size=14, temporal_patch_size=2, merge_size=2
    )
    processor = transformers.Qwen2VLProcessor(
        image_processor=image_processor, tokenizer=tokenizer, chat_template=QWEN2_VL_CHAT_TEMPLATE
    )
    processor.save_pretrained(out)
    (out / "hf_tiny.json").write_text(json.dumps(wanted), encoding="utf-8")
    return out
