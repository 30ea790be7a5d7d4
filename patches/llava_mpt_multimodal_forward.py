"""Symptom: ``TypeError: prepare_inputs_labels_for_multimodal() missing 1 required positional argument: 'images'``.

llava-torch 1.2 changed ``prepare_inputs_labels_for_multimodal`` to take and return
``position_ids`` (and take ``image_sizes``), and updated its Llama and Mistral classes, but not
``LlavaMptForCausalLM``: its ``forward`` still uses the old argument list (and would unpack
five of the six returned values), so every MPT step fails, and the class has no multimodal ``generate()``, so generation never sees the image.

The fix gives the class a ``forward`` that builds the multimodal embeddings with the current
signature and then runs transformers' ``MptForCausalLM.forward``, and a ``generate`` that
embeds the images once and lets transformers generate from those embeddings (the same
contract as LLaVA's Llama class: the output holds only the new tokens). MPT uses ALiBi, so
there are no position ids to carry.
"""

from __future__ import annotations

from ._versions import replace_once

TESTED = {"llava-torch": "==1.2.2.post1", "transformers": ">=4.38,<4.52"}

#: Arguments newer ``generate()`` passes that transformers' MPT ``forward`` does not use.
UNUSED_BY_MPT = ("cache_position", "position_ids", "logits_to_keep", "num_logits_to_keep")


def multimodal_forward(
    self,
    input_ids=None,
    past_key_values=None,
    attention_mask=None,
    inputs_embeds=None,
    labels=None,
    use_cache=None,
    output_attentions=None,
    output_hidden_states=None,
    return_dict=None,
    images=None,
    image_sizes=None,
    **kwargs,
):
    """``LlavaMptForCausalLM.forward``: image features spliced into the token embeddings, then MPT."""
    from transformers import MptForCausalLM

    if inputs_embeds is None:
        input_ids, _, attention_mask, past_key_values, inputs_embeds, labels = (
            self.prepare_inputs_labels_for_multimodal(
                input_ids, None, attention_mask, past_key_values, labels, images, image_sizes
            )
        )
    for name in UNUSED_BY_MPT:
        kwargs.pop(name, None)
    return MptForCausalLM.forward(
        self,
        input_ids=input_ids,
        past_key_values=past_key_values,
        attention_mask=attention_mask,
        inputs_embeds=inputs_embeds,
        labels=labels,
        use_cache=use_cache,
        output_attentions=output_attentions,
        output_hidden_states=output_hidden_states,
        return_dict=return_dict,
        **kwargs,  # e.g. the Trainer's num_items_in_batch, for the loss
    )


def multimodal_generate(self, inputs=None, images=None, image_sizes=None, **kwargs):
    """``LlavaMptForCausalLM.generate``: embed prompt and images once, then transformers generates."""
    import torch
    from transformers import GenerationMixin

    if "inputs_embeds" in kwargs:
        raise ValueError("LlavaMptForCausalLM.generate takes input ids and images, not inputs_embeds")
    attention_mask = kwargs.pop("attention_mask", None)
    with torch.no_grad():
        if images is None:
            embeds = self.get_model().embed_tokens(inputs)
        else:
            _, _, attention_mask, _, embeds, _ = self.prepare_inputs_labels_for_multimodal(
                inputs, None, attention_mask, None, None, images, image_sizes
            )
        return GenerationMixin.generate(self, inputs_embeds=embeds, attention_mask=attention_mask, **kwargs)


def apply() -> bool:
    from llava.model.language_model.llava_mpt import LlavaMptForCausalLM

    return replace_once(
        __name__, TESTED, LlavaMptForCausalLM, "multimodal_forward",
        forward=multimodal_forward, generate=multimodal_generate,
    )
