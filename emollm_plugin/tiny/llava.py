"""``emollm tiny-model``: a tiny LLaVA base built offline in seconds, for tests and the demo.

``OUT/llm`` holds a tiny Llama or Mistral with a slow ``LlamaTokenizer`` whose sentencepiece
model is trained on the spot, or a tiny MPT with a byte-level BPE ``GPTNeoXTokenizerFast`` (the
fast-only tokenizer class real MPT models ship) trained the same way; ``OUT/vision`` holds a tiny CLIP vision tower and
its ``CLIPImageProcessor``. LLaVA's ``train()`` takes them as ``--model_name_or_path OUT/llm
--vision_tower OUT/vision``; real users pass real model names instead.

Two traps this avoids (both silent in LLaVA): a tokenizer that maps label words or brackets
to ``<unk>`` makes ``preprocess_v1`` report "tokenization mismatch" and mask every label, so
the sentencepiece model is trained on the prompt and label text with byte fallback; and a
non-legacy ``LlamaTokenizer`` tokenises ``</s>`` boundaries differently from what LLaVA's v1
masking assumes, so ``legacy=True`` is set.
"""

from __future__ import annotations

import json
from pathlib import Path

from emollm_plugin.emobench.tasks import ANSWER_PREFIX, LABEL_SETS, MODALITIES, TASKS, build_question
from emollm_plugin.emoprompt.template import FAMILIES, TEMPLATES

#: The families a tiny base can be built for: every supported family (``llm_config`` knows each).
LLM_TYPES: tuple[str, ...] = tuple(FAMILIES)

_EXTRA_TEXT = (
    "USER: ASSISTANT: </s> <s> [INST] [/INST] <<SYS>> <</SYS>> <|im_start|> <|im_end|> system user assistant",
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions.",
    "The image shows a red square. The colours and the shape suggest this emotion. "
    "The cues point to the answer. Reasoning: Example 1: Example 2: Question: Now answer:",
    "Describe the image. What colour is the object? Which shape is it? It is a circle, a square, a triangle.",
    "red green blue yellow purple orange white black cyan magenta grey brown pink",
    "0 1 2 3 4 5 6 7 8 9 10 , . : ; ! ? ' \" [ ] ( ) - _ / < > = +",
)


def tokenizer_corpus() -> list[str]:
    """Sentences covering every prompt, label and template word the project produces."""
    lines = list(_EXTRA_TEXT)
    lines += [spec.system for spec in TEMPLATES]
    for labels in LABEL_SETS.values():
        lines.append(", ".join(labels))
        lines += [f"{ANSWER_PREFIX} {label}" for label in labels]
    for task in TASKS:
        for modality in MODALITIES:
            for labels in LABEL_SETS.values():
                lines.append(build_question(task, modality, labels, text="a short caption of the scene"))
    return lines


_TRAIN_SPM = """
import sys, sentencepiece as spm
corpus, prefix, vocab = sys.argv[1], sys.argv[2], int(sys.argv[3])
spm.SentencePieceTrainer.train(
    input=corpus, model_prefix=prefix, vocab_size=vocab, model_type="bpe", byte_fallback=True,
    character_coverage=1.0, hard_vocab_limit=False, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
    split_digits=True, minloglevel=2,
)
"""


def train_tokenizer(out_dir: Path, vocab_size: int = 800) -> None:
    """Train a byte-fallback sentencepiece model and save it as a slow ``LlamaTokenizer``.

    The trainer runs in a fresh interpreter: sentencepiece's trainer segfaults in a process
    that imported decord first, which any pipeline that reads videos has done.
    """
    import subprocess
    import sys
    import tempfile

    from transformers import LlamaTokenizer

    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        corpus = Path(scratch) / "corpus.txt"
        corpus.write_text("\n".join(tokenizer_corpus() * 4), encoding="utf-8")
        subprocess.run(
            [sys.executable, "-c", _TRAIN_SPM, str(corpus), str(Path(scratch) / "spm"), str(vocab_size)],
            check=True,
        )
        (out_dir / "tokenizer.model").write_bytes((Path(scratch) / "spm.model").read_bytes())
    tokenizer = LlamaTokenizer(str(out_dir / "tokenizer.model"), legacy=True)
    tokenizer.save_pretrained(out_dir)


def train_byte_bpe(special_tokens: tuple[str, ...], vocab_size: int = 800):
    """A byte-level BPE (``tokenizers.Tokenizer``) trained on the project's prompt and label text.

    Byte-level: any text encodes and decodes losslessly, so no label is ever unknown. The
    special tokens come right after the learned vocabulary and are never split or merged.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tokenizer.train_from_iterator(tokenizer_corpus() * 4, trainer=trainer)
    tokenizer.add_special_tokens(list(special_tokens))
    return tokenizer


#: GPT-NeoX's end-of-text token (BOS, EOS and UNK of MPT) and the ChatML markers of MPT-Chat.
MPT_SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")


def train_neox_tokenizer(out_dir: Path, vocab_size: int = 800) -> None:
    """Train a byte-level BPE and save it as a ``GPTNeoXTokenizerFast``, as MPT models ship theirs.

    Like the real one it adds no BOS token and has no slow (Python) class, which is exactly what
    LLaVA's ``use_fast=False`` loading trips over.
    """
    from transformers import GPTNeoXTokenizerFast

    end = MPT_SPECIAL_TOKENS[0]
    tokenizer = GPTNeoXTokenizerFast(
        tokenizer_object=train_byte_bpe(MPT_SPECIAL_TOKENS, vocab_size),
        bos_token=end, eos_token=end, unk_token=end, add_bos_token=False, add_eos_token=False,
    )
    tokenizer.save_pretrained(out_dir)


def llm_config(
    llm_type: str, vocab_size: int, hidden: int, layers: int, bos_id: int = 1, eos_id: int = 2, pad_id: int = 0
):
    """A tiny config of one supported LLM family."""
    import transformers

    common = dict(vocab_size=vocab_size, bos_token_id=bos_id, eos_token_id=eos_id, pad_token_id=pad_id)
    if llm_type == "llama":
        return transformers.LlamaConfig(
            hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
            num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=1024,
            tie_word_embeddings=False, **common,
        )
    if llm_type == "mistral":
        return transformers.MistralConfig(
            hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
            sliding_window=None, tie_word_embeddings=False, **common,
        )
    if llm_type == "mpt":
        return transformers.MptConfig(
            d_model=hidden, n_heads=4, n_layers=layers, expansion_ratio=2, max_seq_len=1024,
            **common,
        )
    raise ValueError(f"--llm-type must be one of {', '.join(LLM_TYPES)}, got {llm_type!r}")


def build_llm(out_dir: Path, llm_type: str = "llama", hidden: int = 64, layers: int = 2, seed: int = 0) -> Path:
    import torch
    import transformers

    if llm_type == "mpt":
        train_neox_tokenizer(out_dir)
    else:
        train_tokenizer(out_dir)
    tokenizer = transformers.AutoTokenizer.from_pretrained(out_dir, use_fast=llm_type == "mpt")  # as saved
    torch.manual_seed(seed)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.unk_token_id
    config = llm_config(
        llm_type, len(tokenizer), hidden, layers, tokenizer.bos_token_id, tokenizer.eos_token_id, pad_id
    )
    model = transformers.AutoModelForCausalLM.from_config(config)
    model.save_pretrained(out_dir, safe_serialization=True)
    return out_dir


def build_vision(out_dir: Path, image_size: int = 32, patch_size: int = 8, hidden: int = 32, seed: int = 0) -> Path:
    import torch
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    torch.manual_seed(seed)
    config = CLIPVisionConfig(
        hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=2, num_attention_heads=2,
        image_size=image_size, patch_size=patch_size, projection_dim=hidden,
    )
    CLIPVisionModel(config).save_pretrained(out_dir, safe_serialization=True)
    CLIPImageProcessor(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size},
    ).save_pretrained(out_dir)
    return out_dir


def build_tiny_model(
    out: str | Path, llm_type: str = "llama", hidden: int = 64, layers: int = 2, image_size: int = 32,
    seed: int = 0, overwrite: bool = False,
) -> Path:
    """Write ``out/llm`` and ``out/vision``; reuse them when they already exist (unless ``overwrite``)."""
    out = Path(out).resolve()
    marker = out / "tiny_model.json"
    wanted = {"llm_type": llm_type, "hidden": hidden, "layers": layers, "image_size": image_size, "seed": seed}
    if marker.exists() and not overwrite and json.loads(marker.read_text()) == wanted:
        return out
    build_llm(out / "llm", llm_type=llm_type, hidden=hidden, layers=layers, seed=seed)
    build_vision(out / "vision", image_size=image_size, seed=seed)
    marker.write_text(json.dumps(wanted))
    return out
