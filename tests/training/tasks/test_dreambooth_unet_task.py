import torch

from layercraft.pipelines.retouch import LayoutRetouchPipeline
from layercraft.training.task import TASKS
from layercraft.training.tasks.dreambooth_unet import DreamBoothArgs, RetouchDreamBoothTask
from lc_subjects import blob, sd_components


def test_dreambooth_lora_trains_exports_and_loads(tmp_path):
    assert "retouch_dreambooth" in TASKS
    comps = sd_components()
    images = [blob(32, (200, 40, 40), s).convert("RGB") for s in range(2)]
    task = RetouchDreamBoothTask(comps, images, DreamBoothArgs(instance_prompt="a photo of sks dog", size=32,
                                                               lora_rank=2), seed=0)
    params = task.trainable_parameters()
    assert params and all("lora" in n for n, p in task.model.named_parameters() if p.requires_grad)
    opt = torch.optim.SGD(params, lr=1.0)
    loss, logs = task.loss(task.model, task.batch(0, 0, 2), torch.Generator().manual_seed(0))
    loss.backward()
    opt.step()
    task.export(task.model, tmp_path)
    fresh = sd_components()
    pipe = LayoutRetouchPipeline(**fresh)
    x, t = torch.randn(1, 4, 16, 16), torch.tensor(500)
    text = torch.randn(1, 12, 32)
    with torch.no_grad():
        before = pipe.unet(x, t, encoder_hidden_states=text).sample
        pipe.load_lora_weights(tmp_path)
        after = pipe.unet(x, t, encoder_hidden_states=text).sample
        trained = task.model(x, t, encoder_hidden_states=text).sample
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, trained, atol=1e-5, rtol=1e-5)
