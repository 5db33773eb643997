"""A keyword-based call spy for modules (imported by name: tests/ is on pytest's pythonpath)."""

import torch


class CallSpy:
    """Records what a module receives on each forward call, by keyword name (never by position: the transformer is
    called by keyword, and a positional call fails the test)."""

    def __init__(self, module: torch.nn.Module):
        self.calls: list[dict] = []
        self.hook = module.register_forward_pre_hook(self._record, with_kwargs=True)

    def _record(self, module, args, kwargs):
        assert not args, f"{type(module).__name__} called with {len(args)} positional argument(s)"
        self.calls.append({k: (v.detach().clone() if torch.is_tensor(v) else v) for k, v in kwargs.items()})

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.hook.remove()
