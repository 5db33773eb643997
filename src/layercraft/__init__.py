"""layercraft: layout-controllable, multi-subject personalized image generation from a layered canvas."""

import logging


class _NoTorchvisionNotice(logging.Filter):
    """transformers announces, on each import of its image processors, that torchvision is missing and that it falls
    back to the PIL processors. layercraft never installs torchvision and wants the PIL ones: drop that notice only."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "requires torchvision" not in record.getMessage()


logging.getLogger("transformers.utils.import_utils").addFilter(_NoTorchvisionNotice())

__version__ = "0.1.0"
