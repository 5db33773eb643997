"""How the command line reports a refusal: one line on stderr, exit code 2.

A refusal is any `layercraft.canvas.errors.Refusal` (a bad project file, an option out of range, an
input over a limit) or a command-line usage error. Commands raise; these classes do the reporting,
so no command prints its own error format and no refusal ends in a traceback.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import NoReturn, TypeVar

import typer
from typer.core import TyperCommand, TyperGroup

from .canvas.errors import Refusal
from .canvas.limits import one_line

EXIT_REFUSED = 2
T = TypeVar("T")


# typer carries its own copy of click; its usage errors (BadParameter's base) are the ones raised here
UsageError = typer.BadParameter.__mro__[1]


def report(message: str) -> NoReturn:
    typer.echo(f"error: {one_line(message)}", err=True)
    raise typer.Exit(EXIT_REFUSED)


def refusing(call: Callable[[], T]) -> T:
    """`call()`, with a usage error or a refusal reported as one line and exit code 2."""
    try:
        return call()
    except UsageError as err:
        report(err.format_message())
    except Refusal as err:
        report(str(err))


class RefusalGroup(TyperGroup):
    """A typer group whose sub-commands' refusals (and usage errors) print one line and exit 2."""

    def invoke(self, ctx: typer.Context):
        return refusing(lambda: super(RefusalGroup, self).invoke(ctx))


class RefusalCommand(TyperCommand):
    """The same for a command that may also be run on its own (a single-command typer app)."""

    def make_context(self, *args, **kwargs) -> typer.Context:
        return refusing(lambda: super(RefusalCommand, self).make_context(*args, **kwargs))

    def invoke(self, ctx: typer.Context):
        return refusing(lambda: super(RefusalCommand, self).invoke(ctx))


class LazyGroup(TyperGroup):
    """A sub-command group listed by name and help, imported only when it is run (`target`: "module:typer_app").

    `layercraft --help` and the light commands then never import what a heavy group needs (torch, diffusers)."""

    def __init__(self, name: str, target: str, help: str) -> None:
        super().__init__(name=name, help=help)
        self.target = target

    def load(self) -> TyperGroup:
        module, _, attr = self.target.partition(":")
        group = typer.main.get_group(getattr(importlib.import_module(module), attr))
        group.name = self.name
        return group

    def make_context(self, info_name, args, parent=None, **extra):
        return self.load().make_context(info_name, args, parent=parent, **extra)
