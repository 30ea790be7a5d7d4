"""The plugin's train flags: LLaVA's three argument dataclasses, extended.

LLaVA's ``train()`` builds its ``HfArgumentParser`` from the module globals ``ModelArguments``,
``DataArguments`` and ``TrainingArguments`` at call time, so the train entry swaps in these
subclasses: every LLaVA flag keeps its name and default, and the plugin's flags are added
(``TrainingArguments`` needs nothing new). The ``--mvp_*`` flags are generated from
:class:`~emollm_plugin.mvp.MVPConfig`'s fields, where each option is declared once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from llava.train import train as llava_train

from emollm_plugin.mvp.config import add_fields


@dataclass
@add_fields  # --mvp_perspectives, --mvp_tau, ...: one per MVPConfig option, with its default and help
class EmoModelArguments(llava_train.ModelArguments):
    model_name_or_path: str | None = field(
        default=None,
        metadata={"help": "Base LLM: a folder or a cached Hugging Face name (required; LLaVA's default is a placeholder)."},
    )
    mm_video_pool: int = field(
        default=1,
        metadata={"help": "Average-pool each video frame's visual tokens over P x P patches (2: 576 -> 144 per "
                  "frame, 16 frames in Vicuna's 4096 context); images keep all tokens; 1 = off. Saved in the "
                  "checkpoint config and followed by evaluation and serving."},
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
        default=16,
        metadata={"help": "After an unreadable sample, try this many following samples; the run stops at "
                  "max_media_retries + 1 unreadable samples in a row (17 by default)."},
    )

    def __post_init__(self) -> None:
        """Refuse values that would train on nothing (0 frames skips every video as unreadable)."""
        if self.num_frames < 1:
            raise ValueError(f"--num_frames must be >= 1 (frames sampled per video), got {self.num_frames}")
        if self.max_media_retries < 0:
            raise ValueError(f"--max_media_retries must be >= 0, got {self.max_media_retries}")
        if self.max_fps is not None and self.max_fps <= 0:
            raise ValueError(f"--max_fps must be > 0 when given, got {self.max_fps}")
        if self.emoprompt_k < 0:
            raise ValueError(f"--emoprompt_k must be >= 0 (0 = off), got {self.emoprompt_k}")
