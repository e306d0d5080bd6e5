"""The ``drafter`` command: flags in, calls to the package's functions, messages out.

This is the only module that knows about click. Every command maps its options to keyword
arguments of a core function, prints what happened, and turns a :class:`DrafterError` into its
message on stderr and a non-zero exit status.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from .errors import DrafterError
from .loading import read_letter
from .render import FORMATS, render_letter, write_letter

F = TypeVar("F", bound=Callable[..., Any])


def reports_errors(command: F) -> F:
    """Turn drafter's errors into a message and an exit status instead of a traceback."""
    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except DrafterError as e:
            click.secho(f"error: {e}", fg="red", err=True)
            sys.exit(e.exit_code)
    return run  # type: ignore[return-value]


@click.group()
@click.version_option(package_name="drafter")
def main() -> None:
    """Draft ready-to-send letters from YAML data and DOCX templates."""


@main.command()
@click.argument("data", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-t", "--template", help="Template: a built-in name, a folder or a .docx file "
              "(default: advocacy-letter).")
@click.option("-o", "--outdir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("out"), show_default=True, help="Folder to write the letter into.")
@click.option("-f", "--format", "formats", type=click.Choice(FORMATS), multiple=True,
              help="Output format; repeat for both (default: docx and pdf).")
@click.option("-l", "--locale", help="Render in this locale instead of the data's (e.g. en_GB).")
@reports_errors
def render(data: Path, template: str | None, outdir: Path, formats: tuple[str, ...],
           locale: str | None) -> None:
    """Render one letter from DATA (a YAML file) into DOCX and PDF."""
    letter, warnings = read_letter(data)
    for warning in warnings:
        click.secho(str(warning), fg="yellow", err=True)
    rendered = render_letter(letter, template, locale=locale)
    for path in write_letter(rendered, outdir, data.stem, formats or FORMATS):
        click.echo(f"wrote {path}")
