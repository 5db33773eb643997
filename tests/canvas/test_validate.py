import pytest

from layercraft.canvas import Canvas, CanvasError, Layer, Placement, fit_size, save_project, validate_canvas
from lc_images import solid


def test_size_policy_error_or_explicit_round():
    assert fit_size(128, 64, 16) == (128, 64)
    with pytest.raises(CanvasError, match="not a multiple of the model stride 16; use 128×64"):
        fit_size(130, 60, 16)
    assert fit_size(130, 60, 16, "round") == (128, 64)
    assert fit_size(3, 3, 16, "round") == (16, 16)
    with pytest.raises(CanvasError, match="exceeds the maximum side"):
        fit_size(8192, 64, 16)


def test_transparent_and_off_canvas_layers_are_named():
    clear = Layer(id="ghost", image=solid(8, 8, alpha=0))
    away = Layer(id="away", image=solid(8, 8), placement=Placement(x=100, y=5))
    ok = Layer(id="ok", image=solid(8, 8))
    with pytest.raises(CanvasError) as info:
        validate_canvas(Canvas(width=32, height=32, layers=[clear, away, ok]))
    msg = str(info.value)
    assert "layer 'ghost' is fully transparent" in msg
    assert "layer 'away' lies entirely off the 32×32 canvas" in msg
    assert "'ok'" not in msg


def test_too_many_layers_and_duplicate_ids():
    layers = [Layer(id=f"l{i}", image=solid(4, 4)) for i in range(5)]
    with pytest.raises(CanvasError, match="5 layers, more than the limit of 4"):
        validate_canvas(Canvas(width=16, height=16, layers=layers), max_layers=4)
    with pytest.raises(ValueError, match="duplicate layer ids"):
        Canvas(width=16, height=16, layers=[layers[0], layers[0]])


def test_invalid_canvas_is_not_saved(tmp_path):
    bad = Canvas(width=30, height=32, layers=[Layer(id="a", image=solid(4, 4))])
    with pytest.raises(CanvasError, match="not a multiple of the model stride"):
        save_project(bad, tmp_path / "out.lcp", stride=16)
    assert not (tmp_path / "out.lcp").exists()
    save_project(Canvas(width=32, height=32, layers=[Layer(id="a", image=solid(4, 4))]), tmp_path / "ok.lcp", stride=16)
    assert (tmp_path / "ok.lcp").exists()


@pytest.mark.parametrize("layers, size, message", [
    ([Layer(id="ghost", image=solid(8, 8, alpha=0))], (32, 32), "layer 'ghost' is fully transparent"),
    ([Layer(id="away", image=solid(8, 8), placement=Placement(x=-50, y=0))], (32, 32), "entirely off"),
    ([Layer(id="a", image=solid(8, 8))], (40, 32), "not a multiple of the model stride 16"),
    ([Layer(id=f"l{i}", image=solid(8, 8)) for i in range(33)], (32, 32), "more than the limit of 32"),
])
def test_each_canvas_problem_is_named_and_nothing_is_written(tmp_path, layers, size, message):
    canvas = Canvas(width=size[0], height=size[1], layers=layers)
    with pytest.raises(CanvasError, match=message):
        save_project(canvas, tmp_path / "c.lcp", stride=16)
    assert list(tmp_path.iterdir()) == []
