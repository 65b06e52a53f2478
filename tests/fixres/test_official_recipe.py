"""The FixRes authors' fine-tuning recipe (the ``official`` input pipeline and the SGD
they train with), checked against what their torchvision and PyTorch code computes."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from PIL import Image, ImageEnhance

from fixres_kedro.fixres import transforms
from fixres_kedro.fixres.preprocessing import InputPipeline, official_resize_height
from fixres_kedro.fixres.training import make_optimizer

SIZE = 48


def _photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def _pipeline() -> InputPipeline:
    return InputPipeline(name="official", recipe="official", image_size=SIZE, batch_size=2)


def test_it_resizes_the_height_to_256_224ths_of_the_crop_and_centre_crops():
    assert official_resize_height(224) == 256 and official_resize_height(SIZE) == 54
    image = _photo(60, 90)
    # Their Resize: height 54, width int(54 * 90 / 60) = 81, by Pillow's bilinear filter.
    resized = np.asarray(Image.fromarray(image).resize((81, 54), Image.BILINEAR))
    out = _pipeline().preprocess(image, train=False, rng=np.random.default_rng(0))
    # torchvision's CenterCrop: offsets round((54 - 48) / 2) = 3 and round((81 - 48) / 2) = 16.
    np.testing.assert_array_equal(out, resized[3:51, 16:64].astype(np.float32))


def test_a_portrait_photo_keeps_its_aspect_and_is_padded_as_pil_crops():
    out = _pipeline().preprocess(_photo(90, 45), train=False, rng=np.random.default_rng(0))
    # Height 54, width int(54 * 45 / 90) = 27: the 48-wide crop starts at round(-21 / 2) = -10.
    assert out.shape == (SIZE, SIZE, 3)
    assert not out[:, :10].any() and not out[:, 37:].any() and out[:, 10:37].any()


def test_training_adds_a_flip_a_light_jitter_and_a_sideways_shift_but_no_random_crop():
    image = _photo(60, 90, seed=3)
    validation = _pipeline().preprocess(image, train=False, rng=np.random.default_rng(0))
    shifts, flips = set(), 0
    for seed in range(40):
        pipeline = _pipeline()
        (draw, flip) = pipeline.draw(image.shape, True, np.random.default_rng(seed))
        jitter = draw.jitter
        assert all(0.95 <= factor <= 1.05 for factor in jitter[:3]) and sorted(jitter.order) == [0, 1, 2]
        shifts.add(draw.shift)
        flips += flip
        # With the jitter's factors at 1, the crop is the validation one, shifted (and mirrored).
        neutral = draw._replace(jitter=jitter._replace(brightness=1.0, contrast=1.0, saturation=1.0))
        out = pipeline.apply(image, neutral, flip)
        resized = np.asarray(Image.fromarray(image).resize((81, 54), Image.BILINEAR)).astype(np.float32)
        if flip:
            resized = resized[:, ::-1]
        np.testing.assert_array_equal(out, resized[3:51, 16 + draw.shift: 64 + draw.shift])
    assert shifts <= set(range(-16, 17)) and len(shifts) > 10  # 0..j either way, j = 16
    assert 5 < flips < 35
    assert not np.array_equal(validation, out)


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 0, 2)])
def test_the_jitter_is_torchvisions_color_jitter_through_pil(order):
    image = _photo(20, 30, seed=5)
    jitter = transforms.ColorJitter(1.04, 0.96, 1.03, order)
    ours = transforms.color_jitter(image, jitter)
    theirs = Image.fromarray(image)
    enhancers = (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color)
    for which in order:
        theirs = enhancers[which](theirs).enhance(jitter[which])
    # PIL computes in 8-bit fixed point: within one level.
    assert np.abs(ours - np.asarray(theirs, np.float32)).max() <= 1


@pytest.mark.keras
def test_sgd_is_pytorchs_with_coupled_weight_decay_and_a_step_schedule():
    """b = momentum * b + (g + wd * w); w -= lr * b (torch.optim.SGD), the rate divided by
    10 after lr_step_epochs epochs (StepLR), for a fixed gradient over four steps."""
    lr, momentum, decay, gradient = 0.1, 0.9, 0.01, np.array([1.0, -2.0], np.float32)
    optimizer = make_optimizer("sgd", lr, steps_per_epoch=2, momentum=momentum, weight_decay=decay,
                               lr_step_epochs=1)
    variable = keras.Variable(np.array([0.5, 1.5], np.float32))
    w, b = np.array([0.5, 1.5], np.float64), np.zeros(2)
    for step in range(4):
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(gradient), variable)])
        b = momentum * b + (gradient + decay * w)
        w = w - (lr if step < 2 else lr / 10) * b
        np.testing.assert_allclose(keras.ops.convert_to_numpy(variable), w, rtol=1e-5)
