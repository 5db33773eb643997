"""How the command line reports a refusal: one line on stderr, exit code 2.

A refusal is any `layercraft.canvas.errors.Refusal` (a bad project file, an option out of range, an
input over a limit) or a command-line usage error. Commands raise; these classes do the reporting,
so no command prints its own error format and no refusal ends in a traceback.
"""

from __future__ import annotations

from typing import NoReturn

import typer
from typer.core import TyperCommand, TyperGroup

from .canvas.errors import Refusal
from .canvas.limits import one_line

EXIT_REFUSED = 2


# typer carries its own copy of click; its usage errors (BadParameter's base) are the ones raised here
UsageError = typer.BadParameter.__mro__[1]


def report(message: str) -> NoReturn:
    typer.echo(f"error: {one_line(message)}", err=True)
    raise typer.Exit(EXIT_REFUSED)


class RefusalGroup(TyperGroup):
    """A typer group whose sub-commands' refusals (and usage errors) print one line and exit 2."""

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except UsageError as err:
            report(err.format_message())
        except Refusal as err:
            report(str(err))


class RefusalCommand(TyperCommand):
    """The same for a command that may also be run on its own (a single-command typer app)."""

    def make_context(self, *args, **kwargs) -> typer.Context:
        try:
            return super().make_context(*args, **kwargs)
        except UsageError as err:
            report(err.format_message())

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except UsageError as err:
            report(err.format_message())
        except Refusal as err:
            report(str(err))
