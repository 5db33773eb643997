"""Training on accelerate: typed configs, the flow-matching objective, tasks (stages) and the loop."""

from .config import FlowConfig, TrainConfig
from .task import TASKS, Task, build_task, register_task, step_seed
from .trainer import TrainResult, latest_checkpoint, train

__all__ = ["TASKS", "FlowConfig", "Task", "TrainConfig", "TrainResult", "build_task", "latest_checkpoint",
           "register_task", "step_seed", "train"]
