"""Images and video frames to pixel values: the one function training and evaluation both call.

A checkpoint trained with ``--image_aspect_ratio pad`` (LLaVA-1.5's setting, stored in its config)
saw every non-square image centred on a square of the image processor's mean colour; an
evaluation that let the processor centre-crop instead would show it a different picture. The
LLaVA dataset (``llava_glue.dataset``) and the runner behind the lmms-eval model, ``emollm serve``
and the local teacher (``llava_glue.inference``) therefore both go through
:func:`prepare_pixels`, with the aspect-ratio setting of the run or of the checkpoint.

The semantics are LLaVA's own (``llava.mm_utils.process_images``): ``pad`` squares each image with
``expand2square`` before preprocessing, any other value leaves it to the processor (resize and
centre crop). ``anyres`` (LLaVA-1.6 tiling) is refused: LLaVA's training dataset does not tile, so
a plugin checkpoint never saw tiles.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace

import torch
from PIL import Image

#: ``image_aspect_ratio`` values with one meaning in training and evaluation (None: an older config).
SUPPORTED_ASPECT_RATIOS = ("pad", "square", None)


def check_aspect_ratio(aspect_ratio: str | None) -> None:
    """Refuse a setting the plugin cannot apply identically in training and evaluation."""
    if aspect_ratio not in SUPPORTED_ASPECT_RATIOS:
        raise ValueError(
            f"image_aspect_ratio {aspect_ratio!r} is not supported: use 'pad' (LLaVA-1.5) or 'square' "
            "(resize and centre crop); LLaVA's training dataset does not tile 'anyres' images"
        )


def prepare_pixels(images: Sequence[Image.Image], image_processor, aspect_ratio: str | None) -> torch.Tensor:
    """``[N, 3, H, W]`` pixel values for N images (one image, or a video's frames), as LLaVA prepares them."""
    from llava.mm_utils import process_images

    check_aspect_ratio(aspect_ratio)
    if not images:
        raise ValueError("prepare_pixels needs at least one image")
    rgb = [image.convert("RGB") for image in images]
    values = process_images(rgb, image_processor, SimpleNamespace(image_aspect_ratio=aspect_ratio))
    return values if isinstance(values, torch.Tensor) else torch.stack(values)
