"""What training costs: an estimate of its FLOPs and the accelerator's peak memory.

FLOPs are counted analytically from the model's convolutions and dense layers at a
given input resolution (two FLOPs per multiply-add; BatchNorm, activations and
pooling are left out, a few percent for ResNet50V2). A training step costs about
three forward passes (forward, and a backward pass twice as expensive) when the
whole network learns; when only the final BatchNorm and the classifier learn, the
backward pass stops at ``post_bn`` and a step costs about one forward pass.
"""

from __future__ import annotations

import keras
import numpy as np

COUNTED = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense)


def _flops(model: keras.Model, input_shape: tuple[int, ...]) -> int:
    """FLOPs of ``model``'s counted layers for one input of ``input_shape``."""
    counted = [layer for layer in model.layers if isinstance(layer, COUNTED)]
    total = 0
    if counted:
        # Every counted layer's output shape at this input, without computing.
        probe = keras.Model(model.inputs, [layer.output for layer in counted])
        shapes = probe.compute_output_spec(keras.KerasTensor((1, *input_shape)))
        for layer, output in zip(counted, shapes):
            positions = int(np.prod(output.shape[1:-1])) if len(output.shape) > 2 else 1
            # kh * kw * c_in * c_out multiply-adds per output position (for a
            # depthwise kernel, kh * kw * c_in * multiplier: the same product).
            total += 2 * positions * int(np.prod(layer.kernel.shape))
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            # A nested model (the backbone) sees the image at the input's size, as
            # after the Rescaling layer here.
            total += _flops(layer, input_shape)
    return total


def forward_flops(model: keras.Model, resolution: int) -> int:
    """FLOPs of one forward pass of one ``resolution`` x ``resolution`` image."""
    return _flops(model, (resolution, resolution, 3))


def training_flops(
    model: keras.Model, resolution: int, images: int, epochs: int, backbone_learns: bool
) -> int:
    """Estimated FLOPs of training ``epochs`` over ``images`` at ``resolution``."""
    passes = 3 if backbone_learns else 1
    return passes * forward_flops(model, resolution) * images * epochs


def peak_accelerator_memory() -> int | None:
    """Peak bytes allocated on the first accelerator, where the backend reports it."""
    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax  # noqa: PLC0415

            device = jax.devices()[0]
            if device.platform == "cpu":
                return None
            stats = device.memory_stats() or {}
            return stats.get("peak_bytes_in_use")
        if backend == "tensorflow":
            import tensorflow as tf  # noqa: PLC0415

            if not tf.config.list_physical_devices("GPU"):
                return None
            return tf.config.experimental.get_memory_info("GPU:0")["peak"]
        if backend == "torch":
            import torch  # noqa: PLC0415

            return torch.cuda.max_memory_allocated() if torch.cuda.is_available() else None
    except (RuntimeError, ValueError, KeyError):  # a backend without the counter
        return None
    return None
