"""Project CLI: Kedro's ``run``, ending on one clear line when the user must fix something.

A wrong parameter or a missing archive raises a ``FixResError`` somewhere below
Kedro's runner; Kedro would print a page of stack trace around it. Here the command
prints ``Error: <what is wrong and where>`` and exits with status 1 instead. Any other
exception keeps its traceback.
"""

from __future__ import annotations

import click
from kedro.framework.cli.project import run as kedro_run

from fixres_kedro.errors import find_user_error


class _UserErrorsOnOneLine(click.Command):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except Exception as error:
            user_error = find_user_error(error)
            if user_error is None:
                raise
            raise click.ClickException(str(user_error)) from None


@click.group(name="fixres_kedro")
def cli() -> None:
    """Commands of the fixres_kedro project."""


cli.add_command(
    _UserErrorsOnOneLine(
        name="run",
        params=kedro_run.params,
        callback=kedro_run.callback,
        help=kedro_run.help,
        short_help=kedro_run.short_help,
        context_settings=kedro_run.context_settings,
    )
)
