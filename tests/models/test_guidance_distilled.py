"""A guidance-distilled transformer: the (text, canvas) guidance scales are an input whose embedder starts at zero."""

import pytest
import torch
from lc_tiny import TINY, make_inputs

from layercraft.models.transformer import LayercraftFluxTransformer


def _call(model, x, scales=None):
    kw = {} if scales is None else {"guidance_scales": scales}
    return model(hidden_states=x["noisy"], encoder_hidden_states=x["text"], pooled_projections=x["pooled"],
                 timestep=x["timestep"], img_ids=x["noisy_ids"], txt_ids=x["txt_ids"], **kw).sample


@pytest.fixture
def pair():
    torch.manual_seed(0)
    teacher = LayercraftFluxTransformer(**TINY).eval()
    student = LayercraftFluxTransformer(**TINY, guidance_distilled=True).eval()
    missing, unexpected = student.load_state_dict(teacher.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("guidance_scale_embedder.") for k in missing)
    return teacher, student


def test_a_fresh_student_is_its_teacher_at_any_scales(pair):
    teacher, student = pair
    x = make_inputs()
    ref = _call(teacher, x)
    for scales in ([[1.0, 1.0], [1.0, 1.0]], [[3.0, 2.0], [4.5, 0.5]]):
        torch.testing.assert_close(_call(student, x, torch.tensor(scales)), ref, atol=0, rtol=0)


def test_trained_scale_embedder_makes_the_output_depend_on_each_scale(pair):
    _, student = pair
    with torch.no_grad():
        for p in student.guidance_scale_embedder.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    x = make_inputs()
    base = _call(student, x, torch.tensor([[3.0, 2.0]] * 2))
    assert not torch.allclose(base, _call(student, x, torch.tensor([[3.0, 1.0]] * 2)))  # canvas scale matters
    assert not torch.allclose(base, _call(student, x, torch.tensor([[1.5, 2.0]] * 2)))  # text scale matters
    per_row = _call(student, x, torch.tensor([[3.0, 2.0], [1.5, 2.0]]))  # per sample, not per batch
    torch.testing.assert_close(per_row[0], base[0])
    assert not torch.allclose(per_row[1], base[1])


def test_missing_or_misshapen_scales_are_refused(pair):
    teacher, student = pair
    x = make_inputs()
    with pytest.raises(ValueError, match="needs guidance_scales"):
        _call(student, x)
    with pytest.raises(ValueError, match=r"\(B, 2\)"):
        _call(student, x, torch.tensor([3.0, 2.0]))
    with pytest.raises(ValueError, match="not guidance-distilled"):
        _call(teacher, x, torch.tensor([[3.0, 2.0]] * 2))


def test_an_undistilled_checkpoint_loads_as_a_student_with_a_zero_embedder(pair, tmp_path):
    teacher, _ = pair
    teacher.save_pretrained(tmp_path)
    student = LayercraftFluxTransformer.from_pretrained(tmp_path, guidance_distilled=True).eval()
    assert student.guidance_scale_embedder is not None
    assert not any(p.is_meta for p in student.parameters())
    x = make_inputs()
    torch.testing.assert_close(_call(student, x, torch.tensor([[3.0, 2.0]] * 2)), _call(teacher, x), atol=0, rtol=0)
