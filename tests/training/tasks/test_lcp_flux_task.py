import numpy as np
import torch

from layercraft.models.flux_ext import LcpFluxAdapter
from layercraft.training.task import TASKS
from layercraft.training.tasks.lcp_flux import LcpFluxArgs, LcpFluxTask, augment, scene_pair
from lc_flux import flux_pipe
from lc_subjects import image_encoder

SMALL = dict(static_dim=16, num_queries=4, resampler_dim=16, resampler_depth=1, resampler_heads=2, grounding_dim=16,
             layout_hidden=16, refiner_grid=4)


def test_scene_pairs_take_references_from_another_frame():
    ex = scene_pair(5, 0, 1, 32, 3, None)
    again = scene_pair(5, 0, 1, 32, 3, np.random.default_rng(0))
    assert ex.subjects and len(ex.subjects) == len(again.subjects)
    for s in ex.subjects:
        x0, y0, x1, y1 = s.box
        assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1
        assert s.own_mask.shape == (s.image.height, s.image.width) and s.own_mask.any()
    assert not np.array_equal(np.asarray(ex.subjects[0].image), np.asarray(again.subjects[0].image))  # augmented
    img, m = augment(ex.subjects[0].image, ex.subjects[0].own_mask, np.random.default_rng(1))
    assert img.size == ex.subjects[0].image.size and m.shape == ex.subjects[0].own_mask.shape


def test_two_training_steps_move_the_adapter_and_export_loads(tmp_path):
    import layercraft.training.tasks.lcp_flux  # noqa: F401

    assert "lcp_flux_adapter" in TASKS
    pipe = flux_pipe()
    task = LcpFluxTask(pipe, LcpFluxArgs(model="tiny-test", size=32, max_people=2, adapter=SMALL), seed=0,
                       image_encoder=image_encoder())
    for g in task.model.grounding:  # open the gates so every term is in the graph
        g.gate.data.fill_(0.5)
    params = task.trainable_parameters()
    before = [p.detach().clone() for p in params]
    opt = torch.optim.SGD(params, lr=0.1)
    for step in range(2):
        loss, logs = task.loss(task.model, task.batch(step, 0, 1), torch.Generator().manual_seed(step))
        assert torch.isfinite(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
    moved = {n for (n, p), b in zip(task.model.named_parameters(), before, strict=True) if not torch.equal(p, b)}
    assert any(n.startswith("resampler.") for n in moved) and any(n.startswith("dynamic.") for n in moved)
    assert any(n.startswith("grounding.") for n in moved) and any(n.startswith("layout.") for n in moved)
    assert all(not p.requires_grad for p in pipe.transformer.parameters())
    task.export(task.model, tmp_path)
    loaded = LcpFluxAdapter.from_pretrained(tmp_path / "lcp_adapter")
    for (n, p), q in zip(task.model.state_dict().items(), loaded.state_dict().values(), strict=True):
        assert torch.equal(p, q), n


def test_gates_get_their_own_learning_rate():
    pipe = flux_pipe()
    task = LcpFluxTask(pipe, LcpFluxArgs(model="tiny-test", size=32, adapter=SMALL, gate_lr_scale=50.0), seed=0)
    rest, gates = task.param_groups(1e-3)
    names = {id(p): n for n, p in task.model.named_parameters()}
    assert sorted(names[id(p)].split(".")[-1] for p in gates["params"]) == \
        ["gate"] * len(task.model.grounding) + ["mu"] * len(task.model.static)
    assert gates["lr"] == 5e-2 and gates["weight_decay"] == 0.0
    assert len(rest["params"]) + len(gates["params"]) == len(task.trainable_parameters())
