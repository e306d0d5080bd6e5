"""The ``drafter`` command: flags in, calls to the package's functions, messages out.

This is the only module that knows about click. Every command maps its options to keyword
arguments of a core function, prints what happened, and turns a :class:`DrafterError` into its
message on stderr and a non-zero exit status.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import Callable, Iterator
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from .errors import DrafterError
from .loading import read_letter
from .merge import DEFAULT_NAME, MergeOptions
from .merge import merge as run_merge
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
        except KeyboardInterrupt:
            click.secho("interrupted: only complete files were kept", fg="red", err=True)
            sys.exit(130)
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


@main.command()
@click.argument("case", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("recipients", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-t", "--template", help="Template: a built-in name, a folder or a .docx file.")
@click.option("-o", "--outdir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("out"), show_default=True, help="Folder to write the letters into.")
@click.option("-f", "--format", "formats", type=click.Choice(FORMATS), multiple=True,
              help="Output format; repeat for both (default: docx and pdf).")
@click.option("--name", "name_pattern", default=DEFAULT_NAME, show_default=True,
              help="File name pattern (Jinja): number, id, name, locale, date, recipient.")
@click.option("-j", "--jobs", type=click.IntRange(min=0), default=0,
              help="LibreOffice processes converting at once (default: one per core).")
@click.option("--combine", is_flag=True, help="Also write combined.pdf and combined.docx.")
@click.option("--only", multiple=True, help="Render only this record id (or number); repeat.")
@click.option("--keep-going", is_flag=True, help="Render the good records when some are bad.")
@click.option("--force", is_flag=True, help="Redo letters that are unchanged since last run.")
@click.option("--dry-run", is_flag=True, help="Validate and list what would be written.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@reports_errors
def merge(case: Path, recipients: Path, template: str | None, outdir: Path,
          formats: tuple[str, ...], name_pattern: str, jobs: int, combine: bool,
          only: tuple[str, ...], keep_going: bool, force: bool, dry_run: bool,
          quiet: bool) -> None:
    """Write one letter per recipient: CASE (YAML) holds the shared letter, RECIPIENTS (YAML,
    CSV or XLSX) one recipient per row."""
    options = MergeOptions(template=template, formats=formats or FORMATS, name=name_pattern,
                           jobs=jobs, combine=combine, only=frozenset(only),
                           keep_going=keep_going, force=force, dry_run=dry_run)
    progress = None if quiet or dry_run else ProgressLine(sys.stderr)
    with _stopped_by_sigterm():
        report = run_merge(case, recipients, outdir, options,
                           on_progress=progress.update if progress else None)
    if progress:
        progress.close()
    for warning in report.warnings:
        click.secho(str(warning), fg="yellow", err=True)
    for path in report.planned:
        click.echo(f"would write {path}")
    for problem in report.problems:
        click.secho(str(problem), fg="red", err=True)
    if not dry_run:
        summary = (f"{report.written} written, {report.skipped} unchanged (skipped), "
                   f"{report.failed} failed, {report.invalid} invalid, of {report.total}")
        click.echo(summary)
        if report.manifest:
            click.echo(f"manifest: {report.manifest}")
        for combined in report.combined:
            click.echo(f"wrote {combined}")
    sys.exit(0 if report.ok else 1)


class ProgressLine:
    """Progress on stderr: a bar with count, rate and ETA on a terminal, plain lines every few
    seconds otherwise (logs, CI)."""

    def __init__(self, stream: Any, interval: float = 5.0) -> None:
        self.stream = stream
        self.terminal = stream.isatty()
        self.start = time.monotonic()
        self.last = 0.0
        self.interval = interval if not self.terminal else 0.1

    def update(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < self.interval and done < total:
            return
        self.last = now
        elapsed = max(now - self.start, 1e-6)
        rate = done / elapsed
        eta = (total - done) / rate if rate else 0
        text = f"{done}/{total} letters, {rate:.1f}/s, ETA {_duration(eta)}"
        if self.terminal:
            filled = int(30 * done / total) if total else 30
            self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {text}  ")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.terminal and self.last:
            self.stream.write("\n")
            self.stream.flush()


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


@contextlib.contextmanager
def _stopped_by_sigterm() -> Iterator[None]:
    """Let `kill` stop a run the way Ctrl-C does: cleanly, leaving only complete files."""
    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
