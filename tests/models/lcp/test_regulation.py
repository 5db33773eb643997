import torch

from layercraft.models.lcp.regulation import box_masks, corner_masks, position_loss, regulate, scale_loss, step_size


def _map_in(box_cells, hw=(8, 8)):
    a = torch.zeros(1, hw[0] * hw[1], 1)
    grid = a.view(1, *hw, 1)
    r0, r1, c0, c1 = box_cells
    grid[0, r0:r1, c0:c1, 0] = torch.rand(r1 - r0, c1 - c0) + 0.1
    return a / a.sum(1, keepdim=True)


def test_attention_fully_inside_box_gives_zero_position_loss():
    boxes = torch.tensor([[0.25, 0.25, 0.75, 0.75]])
    maps = _map_in((2, 6, 2, 6))
    assert position_loss(maps, boxes).item() == 0.0


def test_position_loss_known_value_half_outside():
    boxes = torch.tensor([[0.0, 0.0, 0.5, 1.0]])  # left half
    maps = torch.full((1, 64, 1), 1 / 64)  # uniform: half the mass inside
    assert abs(position_loss(maps, boxes).item() - 0.25) < 1e-6


def test_scale_loss_zero_when_map_fills_box_and_positive_when_smaller():
    boxes = torch.tensor([[0.25, 0.25, 0.75, 0.75]])
    full = torch.zeros(1, 8, 8, 1)
    full[0, 2:6, 2:6] = 1.0
    assert scale_loss(full.view(1, 64, 1), boxes).item() == 0.0
    small = torch.zeros(1, 8, 8, 1)
    small[0, 3:5, 3:5] = 1.0  # right place, too small
    assert scale_loss(small.view(1, 64, 1), boxes).item() > 0.5
    assert position_loss(small.view(1, 64, 1), boxes).item() == 0.0


def test_masks_and_step_size():
    m = box_masks(torch.tensor([[0.0, 0.5, 0.5, 1.0]]), (4, 4))
    assert m[0].tolist() == [[0, 0, 0, 0], [0, 0, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0]]
    v = corner_masks(torch.tensor([[0.25, 0.25, 0.75, 0.75]]), (8, 8))
    assert v[0, 2, 2] == 1 and v[0, 5, 5] == 1 and v[0, 4, 4] == 0
    assert step_size(0, 10, 2.0) == 2.0 and abs(step_size(5, 10, 2.0) - 1.0) < 1e-9


def test_regulate_moves_a_softmax_map_into_its_box():
    boxes = torch.tensor([[0.0, 0.0, 0.5, 0.5]])
    z = torch.zeros(1, 64)

    def loss(x):
        return position_loss(x.softmax(-1)[..., None], boxes)

    before = loss(z).item()
    after = loss(regulate(z, loss, alpha=1.0, eta=50.0, iterations=3)).item()
    assert after < 0.5 * before
