"""Every training stage, by name: the one explicit table `layercraft train` resolves `task:` against.

Entries are "module:factory" paths, imported only when their task is built, so listing the tasks costs
nothing and no registration depends on import order.
"""

TASKS: dict[str, str] = {
    "autoencoder": "layercraft.training.tasks.autoencoder:autoencoder_task",
    "canvas": "layercraft.training.tasks.canvas:canvas_task",
    "lcp_flux_adapter": "layercraft.training.tasks.lcp_flux:lcp_flux_adapter",
    "guidance_distill": "layercraft.training.tasks.guidance_distill:guidance_distill",
    "flux_dreambooth": "layercraft.training.tasks.dreambooth_flux:flux_dreambooth",
    "retouch_dreambooth": "layercraft.training.tasks.dreambooth_unet:retouch_dreambooth",
}
