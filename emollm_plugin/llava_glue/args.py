"""The plugin's train flags: LLaVA's three argument dataclasses, extended.

LLaVA's ``train()`` builds its ``HfArgumentParser`` from the module globals ``ModelArguments``,
``DataArguments`` and ``TrainingArguments`` at call time, so the train entry swaps in these
subclasses: every LLaVA flag keeps its name and default, and the plugin's flags are added
(``TrainingArguments`` needs nothing new).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from llava.train import train as llava_train

from emollm_plugin.mvp import MVPConfig

_MVP_DEFAULTS = MVPConfig()


@dataclass
class EmoModelArguments(llava_train.ModelArguments):
    mvp_perspectives: str = field(
        default=",".join(_MVP_DEFAULTS.perspectives),
        metadata={"help": "MVP perspectives, comma-separated, from local, relational, global ('local' required)."},
    )
    mvp_tau: float = field(
        default=_MVP_DEFAULTS.tau,
        metadata={"help": "MVP relational edge threshold on token cosine similarity, in [-1, 1]."},
    )
    mvp_fusion: str = field(default=_MVP_DEFAULTS.fusion, metadata={"help": "MVP fusion: gate or sum."})
    mvp_global_pool: str = field(
        default=_MVP_DEFAULTS.global_pool, metadata={"help": "MVP global pooling: mean or attention."}
    )
    mvp_global_tokens: int = field(
        default=_MVP_DEFAULTS.global_tokens,
        metadata={"help": "Extra pooled global tokens appended per image/frame (0 keeps LLaVA's token count)."},
    )
    mvp_hidden_size: int | None = field(
        default=_MVP_DEFAULTS.hidden_size, metadata={"help": "MVP trunk width (default: the LLM hidden size)."}
    )
    attn_implementation: str | None = field(
        default=None,
        metadata={"help": "LLM attention: flash_attention_2, sdpa or eager (default: flash-attn if usable, else sdpa; eager for bases without sdpa, e.g. MPT)."},
    )


@dataclass
class EmoDataArguments(llava_train.DataArguments):
    video_folder: str | None = field(
        default=None, metadata={"help": "Root of 'video' paths in the data JSON (default: --image_folder)."}
    )
    num_frames: int = field(default=8, metadata={"help": "Frames sampled uniformly per video."})
    max_fps: float | None = field(default=None, metadata={"help": "Cap on sampled frames per second of video."})
    emoprompt_k: int = field(
        default=0, metadata={"help": "EmoPrompt exemplars per question (0 = off); needs --emoprompt_exemplars."}
    )
    emoprompt_exemplars: str | None = field(
        default=None, metadata={"help": "exemplars.json from 'emollm emoprompt exemplars'."}
    )
    max_media_retries: int = field(
        default=16, metadata={"help": "Unreadable samples skipped in a row before the run stops."}
    )
