"""A keyword-based call spy for modules (imported by name: tests/ is on pytest's pythonpath)."""

import inspect

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


def record_calls(obj, name: str) -> list[dict]:
    """Wrap `obj.name` (a method or function) so that each call is recorded as {parameter name: value}, bound to its
    signature with defaults applied: tests read what was passed by name, however the caller spelt the call. Returns
    the (growing) list of calls; `del obj.name` restores an instance method."""
    real = getattr(obj, name)
    signature = inspect.signature(real)
    calls: list[dict] = []

    def wrapper(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        calls.append(dict(bound.arguments))
        return real(*args, **kwargs)

    setattr(obj, name, wrapper)
    return calls
