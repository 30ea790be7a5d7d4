"""Symptom: ``ValueError: Some specified arguments are not used by the HfArgumentParser: ['--evaluation_strategy', 'no']``.

LLaVA's own launch scripts (``scripts/v1_5/finetune.sh``, ``pretrain.sh``, ...) pass
``--evaluation_strategy "no"``; transformers 4.46 renamed that flag ``--eval_strategy`` and
dropped the old name, so LLaVA's ``train()`` stops before it starts. The fix gives LLaVA's
``TrainingArguments`` the old name back as an alias: ``--evaluation_strategy X`` sets
``eval_strategy`` (both given with different values is an error).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._versions import check_versions

TESTED = {"llava-torch": "==1.2.2.post1", "transformers": ">=4.46,<4.52"}
_FLAG = "__emollm_patched_evaluation_strategy"


def _with_alias(base: type) -> type:
    @dataclass
    class TrainingArguments(base):
        evaluation_strategy: str | None = field(
            default=None, metadata={"help": "Old name of --eval_strategy (transformers < 4.46), kept for LLaVA's scripts."}
        )

        def __post_init__(self):
            if self.evaluation_strategy is not None:
                old, new = str(self.evaluation_strategy), str(getattr(self.eval_strategy, "value", self.eval_strategy))
                if new not in ("no", old):
                    raise ValueError(
                        f"--evaluation_strategy {old} and --eval_strategy {new} disagree; "
                        "--evaluation_strategy is the old name of --eval_strategy: pass one"
                    )
                self.eval_strategy = old
            super().__post_init__()

    TrainingArguments.__module__ = base.__module__
    TrainingArguments.__qualname__ = base.__qualname__
    setattr(TrainingArguments, _FLAG, True)
    return TrainingArguments


def apply() -> bool:
    import transformers
    from llava.train import train as llava_train

    if any(f.name == "evaluation_strategy" for f in transformers.TrainingArguments.__dataclass_fields__.values()):
        return False  # transformers < 4.46 still knows the flag
    if getattr(llava_train.TrainingArguments, _FLAG, False):
        return False
    check_versions(__name__, TESTED)
    llava_train.TrainingArguments = _with_alias(llava_train.TrainingArguments)
    return True
