"""The one definition of EmoBench: six scored sub-tasks, their label sets and instruction templates.

The paper (arXiv 2406.16442) names the tasks and scores each by accuracy; the exact instruction
wording was never released, so the templates below are reconstructed from the one close-set
instruction quoted in summaries ("Identify the only emotion depicted in the given image from the
following options: [...]"). Change them here and every builder, trainer and evaluator follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TaskName = Literal["emo_c", "emo_o", "intent", "hate", "humor", "sarcasm"]
Modality = Literal["image", "video"]
AnswerKind = Literal["option", "open", "yesno"]

TASKS: tuple[str, ...] = ("emo_c", "emo_o", "intent", "hate", "humor", "sarcasm")
YES_NO: tuple[str, str] = ("yes", "no")
MODALITIES: tuple[str, ...] = ("image", "video")
SPLITS: tuple[str, ...] = ("train", "val", "test")

#: The line a rationale ends with; `scoring.parse_answer` reads it back.
ANSWER_PREFIX = "Answer:"


@dataclass(frozen=True)
class TaskSpec:
    """What a sub-task asks and how its answer is scored."""

    name: str
    title: str
    family: Literal["universal", "application"]
    answer_kind: AnswerKind
    template: str


_TEXT_SUFFIX = ' The accompanying text is: "{text}".'

TASK_SPECS: dict[str, TaskSpec] = {
    "emo_c": TaskSpec(
        "emo_c",
        "Emotion recognition (close-set)",
        "universal",
        "option",
        "Identify the only emotion depicted in the given {modality} from the following options: [{options}].",
    ),
    "emo_o": TaskSpec(
        "emo_o",
        "Emotion recognition (open-set)",
        "universal",
        "open",
        "What is the emotion depicted in the given {modality}? Answer with a single word.",
    ),
    "intent": TaskSpec(
        "intent",
        "Intent understanding",
        "universal",
        "option",
        "What is the intent of the person in the given {modality}? Choose one from the following options: [{options}].",
    ),
    "hate": TaskSpec(
        "hate",
        "Hate detection",
        "application",
        "yesno",
        "Is the given {modality} hateful? Answer yes or no.",
    ),
    "humor": TaskSpec(
        "humor",
        "Humor detection",
        "application",
        "yesno",
        "Is the given {modality} humorous? Answer yes or no.",
    ),
    "sarcasm": TaskSpec(
        "sarcasm",
        "Sarcasm detection",
        "application",
        "yesno",
        "Is the given {modality} sarcastic? Answer yes or no.",
    ),
}

#: Label sets of the public sources, in the order each source documents them.
LABEL_SETS: dict[str, tuple[str, ...]] = {
    # Mikels' eight emotions (EmoSet-118K, FI).
    "mikels8": ("amusement", "anger", "awe", "contentment", "disgust", "excitement", "fear", "sadness"),
    # Ekman's six (Emotion6 folder categories).
    "ekman6": ("anger", "disgust", "fear", "joy", "sadness", "surprise"),
    # MELD / DFEW style seven (Ekman + neutral).
    "ekman7": ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"),
    # MIntRec's twenty fine-grained intents.
    "mintrec20": (
        "complain", "praise", "apologise", "thank", "criticize", "agree", "taunt", "flaunt", "joke",
        "oppose", "comfort", "care", "inform", "advise", "arrange", "introduce", "leave", "prevent",
        "greet", "ask for help",
    ),
    "yesno": YES_NO,
}


def options_text(options: tuple[str, ...] | list[str]) -> str:
    return ", ".join(options)


def build_question(
    task: str,
    modality: str,
    options: tuple[str, ...] | list[str] = (),
    text: str | None = None,
) -> str:
    """The instruction for one sample (without the ``<image>`` token and without exemplars).

    Close-set and intent questions list their options in brackets; open-set lists none; the
    yes/no tasks include the sample's text (meme text, utterance, tweet) when the source has one.
    """
    spec = get_task(task)
    if modality not in MODALITIES:
        raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")
    question = spec.template.format(modality=modality, options=options_text(options))
    if text:
        question += _TEXT_SUFFIX.format(text=" ".join(text.split()))
    return question


def get_task(task: str) -> TaskSpec:
    try:
        return TASK_SPECS[task]
    except KeyError:
        raise ValueError(f"unknown EmoBench task {task!r}; known tasks: {', '.join(TASKS)}") from None


def answer_options(task: str, options: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The label set an answer is scored against: yes/no for application tasks, else the options."""
    return YES_NO if get_task(task).answer_kind == "yesno" else tuple(options)
