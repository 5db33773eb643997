"""The `autoencoder` task: deterministic world crops, a loss that is L1 + SSIM + KL of the sampled reconstruction,
and an export whose shift/scale factors normalise the held-out latents."""

import numpy as np
import torch
from diffusers import AutoencoderKL

from layercraft.models.autoencoder import from_latents, to_latents
from layercraft.training import TrainConfig, build_task, train
from layercraft.training.tasks.autoencoder import world_image

TINY = {"block_out_channels": [8, 8, 8, 8], "norm_num_groups": 4, "latent_channels": 4}
ARGS = {"size": 64, "crop": 32, "overrides": TINY, "validation_images": 4}


def _task(**kw):
    return build_task(TrainConfig(task="autoencoder", batch_size=2, seed=0, task_args={**ARGS, **kw}))


def test_batches_are_deterministic_crops_in_range():
    task = _task()
    a, b = task.batch(4, 0, 3), task.batch(4, 0, 3)
    assert a.shape == (3, 4, 32, 32) and torch.equal(a, b)  # RGB + the face mask
    assert set(a[:, 3].unique().tolist()) <= {-1.0, 1.0}
    assert not torch.equal(a, task.batch(4, 1, 3))  # another rank draws other images
    assert a.min() >= -1 and a.max() <= 1


def test_canvas_images_are_people_over_white():
    rng = np.random.default_rng(0)
    full = world_image(3, 0, 64, False, rng)
    canvas = world_image(3, 0, 64, True, rng)
    assert (canvas == 255).all(-1).mean() > 0.3  # mostly white background
    assert (full == 255).all(-1).mean() < 0.05  # a rendered scene has a painted background
    assert not (canvas == 255).all()  # at least one person


def test_the_face_channel_marks_the_visible_faces():
    from layercraft.world.layout import image_spec, scene
    from layercraft.world.scene import render

    img = world_image(3, 0, 64, False, np.random.default_rng(0), faces=True)
    s = render(image_spec(scene(3), 0, 64, 64))
    assert img.shape == (64, 64, 4) and np.array_equal(img[..., :3], s.rgb)
    want = (s.parts[:, 0] & s.visible).any(0)
    assert want.any() and np.array_equal(img[..., 3] > 0, want)
    assert (img[..., 3] > 0).mean() < 0.2  # faces are a small part of the image


def test_loss_is_l1_plus_weighted_ssim_and_kl():
    import kornia

    task = _task(kl_weight=0.01, ssim_weight=0.3)
    batch = task.batch(0, 0, 2)
    x = batch[:, :3]
    loss, logs = task.loss(task.model, batch, torch.Generator().manual_seed(1))
    post = task.model.encode(x).latent_dist
    rec = task.model.decode(post.sample(generator=torch.Generator().manual_seed(1))).sample
    l1 = (rec - x).abs().mean()
    ssim = kornia.losses.ssim_loss((rec + 1) / 2, (x + 1) / 2, window_size=11)
    # the KL sum is weighted against the L1 *sum*: divided by the 3·32·32 pixel values the L1 is a mean over
    torch.testing.assert_close(loss, l1 + 0.3 * ssim + 0.01 * post.kl().mean() / (3 * 32 * 32))
    assert logs["l1"] > 0 and logs["kl"] > 0


def test_face_weight_weights_the_l1_on_grown_face_pixels():
    task = _task(ssim_weight=0.0, kl_weight=0.0, face_weight=4.0)
    batch = task.batch(0, 0, 2)
    assert (batch[:, 3] > 0).any()
    loss, logs = task.loss(task.model, batch, torch.Generator().manual_seed(1))
    post = task.model.encode(batch[:, :3]).latent_dist
    err = (task.model.decode(post.sample(generator=torch.Generator().manual_seed(1))).sample - batch[:, :3]).abs()
    w = 1 + 4.0 * torch.nn.functional.max_pool2d((batch[:, 3:] > 0).float(), 5, 1, 2)
    torch.testing.assert_close(loss, (err * w).mean() / w.mean())
    assert abs(loss.item() - err.mean().item()) > 1e-4  # not the plain L1
    assert logs["face_l1"] > 0


def test_short_run_lowers_the_loss_and_exports_normalising_factors(tmp_path):
    cfg = TrainConfig(task="autoencoder", output_dir=tmp_path / "run", max_steps=12, batch_size=2, lr=3e-3,
                      checkpoint_every=12, task_args=ARGS)
    task = build_task(cfg)
    fixed = task.batch(0, 0, 2)
    with torch.no_grad():
        before = float(task.loss(task.model, fixed, torch.Generator().manual_seed(0))[0])
    train(cfg, task)
    with torch.no_grad():
        after = float(task.loss(task.model, fixed, torch.Generator().manual_seed(0))[0])
    assert after < before
    vae = AutoencoderKL.from_pretrained(tmp_path / "run" / "final").eval()
    assert vae.config.latent_channels == 4 and vae.config.scaling_factor != 1.0
    with torch.no_grad():
        z = to_latents(vae, task.validation())  # (z − shift) · scale over the held-out images
        assert abs(float(z.mean())) < 1e-3 and abs(float(z.std()) - 1) < 1e-3
        assert from_latents(vae, z).shape == task.validation().shape
    assert (tmp_path / "run" / "final" / "metrics.json").is_file()


def test_init_from_continues_a_saved_autoencoder(tmp_path):
    first = _task()
    first.model.save_pretrained(tmp_path / "ae")
    again = _task(init_from=str(tmp_path / "ae"), overrides={})
    for a, b in zip(first.model.state_dict().values(), again.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    import pytest

    with pytest.raises(FileNotFoundError, match="not an AutoencoderKL folder"):
        _task(init_from=str(tmp_path / "nothing"))
