"""Symptom: ``WARNING: tokenization mismatch: 84 vs. 85. (ignored)`` for every sample of an MPT template.

llava-torch's ``preprocess_mpt`` splits the prompt on the ``<|im_end|>`` separator and counts
the tokens of each round without the separator that closes the assistant's answer, so its
count is one short per round, the check against the real length fails, and the sample's labels
are all masked: an MPT run (``--version mpt``, ``emollm_mpt``) trains on nothing, silently.

The replacement masks by prefix lengths instead: for each assistant turn it tokenises the
prompt up to the start of the answer and up to the end of its separator, using the
conversation's own ``get_prompt()``, and learns exactly the tokens in between. A prefix that
does not tokenise as a prefix of the whole prompt (a merge across the boundary) masks that
one sample with a warning, as LLaVA does.
"""

from __future__ import annotations

import logging

from ._versions import replace_once

TESTED = {"llava-torch": "==1.2.2.post1"}
IGNORE_INDEX = -100

logger = logging.getLogger(__name__)


def _encode(text: str, tokenizer, has_image: bool) -> list[int]:
    from llava.mm_utils import tokenizer_image_token

    return list(tokenizer_image_token(text, tokenizer)) if has_image else tokenizer(text).input_ids


def _prompt(conv, messages: list) -> str:
    conv.messages = [list(message) for message in messages]
    return conv.get_prompt()


def answer_spans(conv, messages: list, tokenizer, has_image: bool) -> tuple[list[int], list[tuple[int, int]]]:
    """The prompt's token ids and the ``[start, end)`` token range of each assistant answer."""
    ids = _encode(_prompt(conv, messages), tokenizer, has_image)
    spans = []
    for turn, (role, _) in enumerate(messages):
        if role != conv.roles[1]:
            continue
        before = _encode(_prompt(conv, [*messages[:turn], [role, None]]), tokenizer, has_image)
        through = _encode(_prompt(conv, messages[: turn + 1]), tokenizer, has_image)
        if ids[: len(before)] != before or ids[: len(through)] != through:
            raise ValueError(f"turn {turn} does not tokenise as a prefix of the whole conversation")
        spans.append((len(before), len(through)))
    return ids, spans


def preprocess_mpt(sources, tokenizer, has_image: bool = False) -> dict:
    """Drop-in for ``llava.train.train.preprocess_mpt``: ids and labels with only the answers learned."""
    import torch
    from llava import conversation as conversation_lib

    conv = conversation_lib.default_conversation.copy()
    roles = {"human": conv.roles[0], "gpt": conv.roles[1]}
    rows, label_rows = [], []
    for index, source in enumerate(sources):
        if roles[source[0]["from"]] != conv.roles[0]:
            source = source[1:]  # like LLaVA: a conversation starts with the user
        messages = [[roles[turn["from"]], turn["value"]] for turn in source]
        try:
            ids, spans = answer_spans(conv, messages, tokenizer, has_image)
        except ValueError as exc:
            ids, spans = _encode(_prompt(conv, messages), tokenizer, has_image), []
            logger.warning("conversation %d: %s; its labels are masked (ignored)", index, exc)
        labels = [IGNORE_INDEX] * len(ids)
        for start, end in spans:
            labels[start:end] = ids[start:end]
        if not has_image:
            ids, labels = ids[: tokenizer.model_max_length], labels[: tokenizer.model_max_length]
        rows.append(torch.tensor(ids, dtype=torch.long))
        label_rows.append(torch.tensor(labels, dtype=torch.long))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    input_ids = torch.nn.utils.rnn.pad_sequence(rows, batch_first=True, padding_value=pad)
    labels = torch.nn.utils.rnn.pad_sequence(label_rows, batch_first=True, padding_value=IGNORE_INDEX)
    return {"input_ids": input_ids, "labels": labels}


def apply() -> bool:
    from llava.train import train as llava_train

    return replace_once(__name__, TESTED, llava_train, "preprocess_mpt", preprocess_mpt=preprocess_mpt)
