"""The ``drafter`` command: flags in, calls to the package's functions, messages out.

This is the only module that knows about click. Every command maps its options to keyword
arguments of a core function, prints what happened, and turns a :class:`DrafterError` into its
message on stderr and a non-zero exit status. Warnings, errors and the files written are
printed the same way by every command; the work itself (rendering, merging, watching) is done
by the package's modules.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import signal
import sys
import time
from collections.abc import Callable, Iterator
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from .errors import DrafterError, Problem, UsageError

if TYPE_CHECKING:
    from .render import RenderedLetter

F = TypeVar("F", bound=Callable[..., Any])

_VERBOSITY = "drafter.verbosity"  # in the root context's meta: -1 quiet, 0 normal, 1 verbose
DOCS = "docs"  # the documentation folder of drafter's source, named in every help text


class _Later:
    """A constant of one of drafter's modules (a command's formats, its default name
    pattern), read when click first needs it: in that command's help or when it runs.

    Each command imports its modules when it runs, so that ``drafter --help`` and a command
    that does not need them start without Babel, pydantic, python-docx or the PDF libraries.
    """

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def value(self) -> Any:
        return getattr(importlib.import_module(f".{self.module}", __package__), self.name)

    def __call__(self) -> Any:  # click calls a default that is callable
        return self.value()

    def __str__(self) -> str:  # and shows it in the help with str()
        return str(self.value())


class _LaterChoice(click.Choice):
    """A :class:`click.Choice` among the values of a :class:`_Later` constant."""

    def __init__(self, constant: _Later) -> None:
        self.constant = constant
        self.case_sensitive = True

    @property  # click's Choice keeps its choices in an attribute
    def choices(self) -> tuple[Any, ...]:
        return tuple(self.constant.value())

    @choices.setter
    def choices(self, value: Any) -> None:
        raise AttributeError("the choices are the constant's")


class _LaterHelp(click.Option):
    """An option whose help names constants of :mod:`drafter.send` (the environment
    variables), written when the help is shown."""

    def __init__(self, *args: Any, help_from: Callable[[Any], str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help_from = help_from

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        self.help = self.help_from(importlib.import_module(".send", __package__))
        return super().get_help_record(ctx)


FORMATS = _Later("render", "FORMATS")
WATCH_FORMATS = _Later("watch", "WATCH_FORMATS")


class _Commands(click.Group):
    """The ``drafter`` group: its command list shows each description whole, wrapped, never
    cut off with "…"."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=10_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _epilog(example: str, doc: str) -> str:
    """A command's help ends with one example and the page of the documentation to read.

    The examples are run by the tests (tests/test_docs.py), as the documentation's are."""
    return f"\b\nExample:\n  {example}\n\nDocs: {DOCS}/{doc}"


def _set_verbosity(ctx: click.Context, param: click.Parameter, value: int) -> None:
    if not value:
        return
    root = ctx.find_root()
    level = -1 if param.name == "quiet" else 1
    if root.meta.get(_VERBOSITY, level) != level:
        raise click.UsageError("-q/--quiet and -v/--verbose contradict each other", ctx)
    root.meta[_VERBOSITY] = level


def _verbosity() -> int:
    ctx = click.get_current_context(silent=True)
    return int(ctx.find_root().meta.get(_VERBOSITY, 0)) if ctx else 0


def _verbosity_options(command: F) -> F:
    """``-q/--quiet`` (only warnings and errors) and ``-v/--verbose`` (also what drafter
    chose and did), on the group and on every command alike."""
    command = click.option("-v", "--verbose", "verbose", count=True, expose_value=False,
                           callback=_set_verbosity,
                           help="Also say what drafter chose and did (template, locale, "
                                "paper, times, the cause of an error).")(command)
    return click.option("-q", "--quiet", "quiet", count=True, expose_value=False,
                        callback=_set_verbosity,
                        help="Print only warnings and errors.")(command)


def reports_errors(command: F) -> F:
    """Turn drafter's errors into a message and an exit status instead of a traceback."""
    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except DrafterError as e:
            _report(e)
            sys.exit(e.exit_code)
        except KeyboardInterrupt:
            click.secho("interrupted: only complete files were kept", fg="red", err=True)
            sys.exit(130)
    return run  # type: ignore[return-value]


def _warn(warning: Problem) -> None:
    click.secho(str(warning), fg="yellow", err=True)


def _notice(text: str) -> None:
    """A line about how drafter works here (not about the letter), on stderr."""
    click.secho(f"note: {text}", fg="yellow", err=True)


def _report(error: DrafterError) -> None:
    click.secho(f"error: {error}", fg="red", err=True)
    if _verbosity() > 0:  # the cause behind drafter's message: an OSError, a parser's error
        cause = error.__cause__
        while cause is not None:
            click.secho(f"  caused by {type(cause).__name__}: {cause}", fg="red", err=True)
            cause = cause.__cause__


def _info(text: str) -> None:
    """What drafter chose or did, for ``-v`` only."""
    if _verbosity() > 0:
        click.secho(text, dim=True, err=True)


def _say(text: str) -> None:
    """A line of the normal output (what was written, a summary); ``-q`` leaves it out."""
    if _verbosity() >= 0:
        click.echo(text)


def _wrote(paths: list[Path]) -> None:
    for path in paths:
        _say(f"wrote {path}")


def _rendered(data: Path, template: str | None, locale: str | None) -> RenderedLetter:
    """Read the letter, show the warnings about it, render it."""
    from .render import read_and_render
    from .template import BUILTIN_TEMPLATE

    started = time.monotonic()
    rendered, warnings = read_and_render(data, template, locale=locale)
    for warning in warnings:
        _warn(warning)
    links = len(rendered.links)
    _info(f"rendered {data} with template {template or BUILTIN_TEMPLATE}: locale "
          f"{rendered.locale}, {rendered.paper} paper, {links} link{'s' if links != 1 else ''} "
          f"({time.monotonic() - started:.1f} s)")
    return rendered


# The options several commands share, each defined once.
_template_option = click.option("-t", "--template", help="Template: a built-in name, a folder or "
                               "a .docx file (default: advocacy-letter).")
_locale_option = click.option("-l", "--locale",
                             help="Render in this locale instead of the data's (e.g. en_GB).")


def _output_option(what: str, *, files: str = "") -> Callable[[F], F]:
    """``-o/--output``: a folder, or with ``files`` a file whose suffix says the format; the
    value is the ``output`` argument, read by :func:`~drafter.render.output_target`."""
    either = f", or a file whose suffix says the format ({files})" if files else ""
    return click.option("-o", "--output", "output", metavar="PATH",
                        help=f"Where to write {what}: a folder (default: out/){either}.")


def _outdir_option(what: str) -> Callable[[F], F]:
    """``-o/--output``: the folder to write ``what`` into (for commands that write many files);
    the value is the ``outdir`` argument."""
    return click.option("-o", "--output", "outdir", metavar="FOLDER",
                        type=click.Path(file_okay=False, path_type=Path),
                        default=Path("out"), show_default=True,
                        help=f"Folder to write {what} into.")


def _formats_option(choices: _Later, help: str) -> Callable[[F], F]:
    """``-f/--format``, repeatable."""
    return click.option("-f", "--format", "formats", type=_LaterChoice(choices), multiple=True,
                        help=help)


@click.group(name="drafter", cls=_Commands, context_settings={"help_option_names": ["-h", "--help"],
                                              "max_content_width": 100},
             epilog=f"\b\nStart with:\n  drafter render data/examples/letter-en.yaml\n  "
                    f"drafter COMMAND -h\n\nDocs: README.md and {DOCS}/ (data-format.md, "
                    "mail-merge.md, authoring.md, api.md, errors.md)")
@click.version_option(None, "-V", "--version", package_name="drafter")
@_verbosity_options
def main() -> None:
    """Draft ready-to-send letters from YAML data and DOCX templates."""


@main.command(epilog=_epilog("drafter render letter.yaml -o final.pdf",
                             "data-format.md"))
@click.argument("data", type=click.Path(dir_okay=False, path_type=Path))
@_template_option
@_output_option("the letter", files="final.pdf, final.docx")
@_formats_option(FORMATS, "Output format; repeat for both (default: docx and pdf).")
@_locale_option
@_verbosity_options
@reports_errors
def render(data: Path, template: str | None, output: str | None, formats: tuple[str, ...],
           locale: str | None) -> None:
    """Render one letter from DATA (a YAML file) into DOCX and PDF."""
    from .render import output_target, write_letter

    target = output_target(output, formats, FORMATS.value())  # a bad -o before any work
    with _stopped_by_sigterm():  # `kill` leaves no temporary folder and no LibreOffice behind
        rendered = _rendered(data, template, locale)
        started = time.monotonic()
        _wrote(write_letter(rendered, target.folder, target.name or data.stem, target.formats))
        _info(f"written in {time.monotonic() - started:.1f} s")


@main.command(epilog=_epilog("drafter convert out/letter-en.docx -o out/signed.pdf",
                             "errors.md"))
@click.argument("files", nargs=-1, required=True,
                type=click.Path(dir_okay=False, path_type=Path))
@_output_option("the PDFs (default: beside each DOCX)", files="final.pdf, for one DOCX")
@_verbosity_options
@reports_errors
def convert(files: tuple[Path, ...], output: str | None) -> None:
    """Make ready-to-send PDFs of existing Word files (PDF/A, fonts embedded, links kept)."""
    from .render import convert_docx

    started = time.monotonic()
    with _stopped_by_sigterm():
        _wrote(convert_docx(list(files), output))
    _info(f"converted {len(files)} file{'s' if len(files) != 1 else ''} in "
          f"{time.monotonic() - started:.1f} s")


@main.command(epilog=_epilog("drafter merge data/examples/campaign/case.yaml "
                             "data/examples/campaign/recipients.csv --dry-run", "mail-merge.md"))
@click.argument("case", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("recipients", type=click.Path(dir_okay=False, path_type=Path))
@_template_option
@_outdir_option("the letters")
@_formats_option(FORMATS, "Output format; repeat for both (default: docx and pdf).")
@click.option("--name", "name_pattern", default=_Later("merge", "DEFAULT_NAME"),
              show_default=True,
              help="File name pattern (Jinja): given_id, id, number, name, locale, date, "
                   "recipient; the slug filter makes a name safe (cui-tiankai).")
@click.option("-j", "--jobs", type=click.IntRange(min=0), default=0,
              help="Processes at once: LibreOffice converting PDFs, or for a DOCX-only merge, "
                   "rendering letters (default: one per core).")
@click.option("--combine", is_flag=True, help="Also write combined.pdf and combined.docx.")
@click.option("--no-chunks", is_flag=True,
              help="Convert each letter on its own, not many as one document split after.")
@click.option("--only", multiple=True, help="Render only this record id (or number); repeat.")
@click.option("--keep-going", is_flag=True, help="Render the good records when some are bad.")
@click.option("--force", is_flag=True, help="Redo letters that are unchanged since last run.")
@click.option("--dry-run", is_flag=True, help="Validate and list what would be written.")
@click.option("--wait", is_flag=True, help="When another drafter is writing into the folder, "
              "wait for it to finish (default: stop at once, saying which).")
@_verbosity_options
@reports_errors
def merge(case: Path, recipients: Path, template: str | None, outdir: Path,
          formats: tuple[str, ...], name_pattern: str, jobs: int, combine: bool,
          no_chunks: bool, only: tuple[str, ...], keep_going: bool, force: bool,
          dry_run: bool, wait: bool) -> None:
    """Write one letter per recipient: CASE (YAML) holds the shared letter, RECIPIENTS (YAML,
    CSV or XLSX) one recipient per row."""
    from .merge import MergeOptions
    from .merge import merge as run_merge
    from .template import BUILTIN_TEMPLATE

    if outdir.suffix.lower() in (".pdf", ".docx", ".csv"):
        raise UsageError(f"-o {outdir}: a merge writes a letter per recipient, so -o is a "
                         "folder (combined.pdf goes into it with --combine)")
    options = MergeOptions(template=template, formats=formats or FORMATS.value(),
                           name=name_pattern, jobs=jobs, combine=combine,
                           chunks=not no_chunks, only=frozenset(only),
                           keep_going=keep_going, force=force, dry_run=dry_run,
                           wait=wait)
    quiet = _verbosity() < 0
    progress = None if quiet or dry_run else ProgressLine(sys.stderr)
    started = time.monotonic()
    _info(f"merging {case} with {recipients} into {outdir}: template "
          f"{template or BUILTIN_TEMPLATE}, formats {', '.join(options.formats)}, "
          f"names {name_pattern}")
    with _stopped_by_sigterm():
        report = run_merge(case, recipients, outdir, options,
                           on_progress=progress.update if progress else None)
    if progress:
        progress.close()
    for warning in report.warnings:
        _warn(warning)
    for path in report.planned:
        click.echo(f"would write {path}")  # what --dry-run was asked for: printed even with -q
    for problem in report.problems:
        click.secho(str(problem), fg="red", err=True)
    if not dry_run:
        _say(report.summary())
        if report.manifest:
            _say(f"manifest: {report.manifest}")
        _wrote(report.combined)
    _info(f"done in {time.monotonic() - started:.1f} s")
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


@main.command(epilog=_epilog("drafter check advocacy-letter --data data/examples/letter-en.yaml",
                             "authoring.md"))
@click.argument("template")
@click.option("--data", type=click.Path(dir_okay=False, path_type=Path),
              help="Also check the template against this letter's data.")
@click.option("--json", "as_json", is_flag=True, help="Findings as JSON records.")
@click.option("--strict", is_flag=True, help="Exit 2 when there are warnings only.")
@_verbosity_options
@reports_errors
def check(template: str, data: Path | None, as_json: bool, strict: bool) -> None:
    """Check TEMPLATE (a built-in name, a folder or a .docx) for every mistake at once."""
    from .authoring import check_template

    findings = check_template(template, data)
    errors = [f for f in findings if f.severity == "error"]
    if as_json:
        click.echo(json.dumps([f.as_dict() for f in findings], ensure_ascii=False, indent=2))
    else:
        for finding in findings:
            click.secho(str(finding), fg="red" if finding.severity == "error" else "yellow")
        warnings = len(findings) - len(errors)
        _say(f"{len(errors)} error{'s' if len(errors) != 1 else ''}, "
             f"{warnings} warning{'s' if warnings != 1 else ''}")
    sys.exit(1 if errors else 2 if strict and findings else 0)


@main.command(name="vars", epilog=_epilog("drafter vars advocacy-letter", "authoring.md"))
@click.argument("template")
@_verbosity_options
@reports_errors
def variables(template: str) -> None:
    """List the values TEMPLATE reads, as a tree, and where (loop, condition) it reads them;
    the fields the template declares (fields.yaml) with their type and description."""
    from .authoring import declared_fields, variable_tree

    declared = dict(declared_fields(template))
    for line in variable_tree(template):
        where = ", ".join(f"in a {use}" for use in line.uses)
        note = f"  ({where})" if where else ""
        field = declared.pop(line.path.removesuffix("[]"), None)
        if field:
            note += f"  — declared: {field}"
        click.echo(f"{'  ' * line.depth}{line.name}{note}")
    for path, field in declared.items():  # declared, but the template never prints them
        click.echo(f"{path}  — declared, not used by the template: {field}")


@main.command(epilog=_epilog("drafter preview letter.yaml -t my-letter --page 2 -o p2.png "
                             "-r 100",
                             "authoring.md"))
@click.argument("data", type=click.Path(dir_okay=False, path_type=Path))
@_template_option
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True,
              help="The page to show.")
@click.option("--all", "all_pages", is_flag=True, help="Every page (FILE-1.png, FILE-2.png…).")
@click.option("-r", "--resolution", type=click.IntRange(min=10, max=600), default=60,
              show_default=True, help="Dots per inch.")
@click.option("-o", "--output", metavar="PATH",
              help="Where to write the PNG: a file ending in .png, or a folder (default: "
                   "beside the data file, named after it).")
@_locale_option
@_verbosity_options
@reports_errors
def preview(data: Path, template: str | None, page: int, all_pages: bool, resolution: int,
            output: str | None, locale: str | None) -> None:
    """Render DATA and write a PNG of a page, for a quick look without Word."""
    from .preview import preview as write_preview
    from .render import output_target

    if output is None:
        target = data.with_suffix(".png")
    else:
        where = output_target(output, (), ("png",))
        target = where.folder / f"{where.name or data.stem}.png"
    rendered = _rendered(data, template, locale)
    _wrote(write_preview(rendered, target, pages=None if all_pages else [page],
                         resolution=resolution))


@main.command(epilog=_epilog("drafter watch data/examples/letter-en.yaml -f docx",
                             "authoring.md"))
@click.argument("data", type=click.Path(dir_okay=False, path_type=Path))
@_template_option
@_output_option("the letter", files="final.pdf, final.docx, final.png")
@_formats_option(WATCH_FORMATS, "What to write on every save; repeat for several (default: "
                "docx, pdf and png).")
@_locale_option
@_verbosity_options
@reports_errors
def watch(data: Path, template: str | None, output: str | None, formats: tuple[str, ...],
          locale: str | None) -> None:
    """Render DATA again whenever it or the template is saved; problems are printed, the
    watch goes on. Stop with Ctrl-C."""
    from .render import output_target
    from .watch import Watch, WatchFormat

    target = output_target(output, formats, WATCH_FORMATS.value())
    chosen = cast(tuple[WatchFormat, ...], target.formats)  # click and output_target checked
    watching = Watch(data, target.folder, template=template, locale=locale, formats=chosen,
                     name=target.name)
    _say(f"watching {data} and {watching.watched_template} (Ctrl-C to stop)")
    try:
        with _stopped_by_sigterm():  # `kill` stops it as Ctrl-C does: only whole files stay
            watching.run(on_render=_wrote, on_warning=_warn, on_problem=_report,
                         on_notice=_notice)
    except KeyboardInterrupt:
        _say("stopped")


@main.command(epilog=_epilog("drafter new my-letter", "authoring.md"))
@click.argument("name", type=click.Path(file_okay=False, path_type=Path))
@click.option("--from", "source", default="advocacy-letter", show_default=True,
              help="The template to start from.")
@_verbosity_options
@reports_errors
def new(name: Path, source: str) -> None:
    """Create the template folder NAME from a built-in template, ready to change in Word."""
    from .scaffold import new_template

    _wrote(new_template(name, source))
    _say(f"\nOpen {name / 'letter.docx'} in Word or LibreOffice, then try:\n"
         f"  drafter check {name} --data {name / 'sample.yaml'}\n"
         f"  drafter render {name / 'sample.yaml'} -t {name}")



@main.command(epilog=_epilog("drafter studio data/examples --no-browser", "studio.md"))
@click.argument("folder", type=click.Path(file_okay=False, exists=True, path_type=Path),
                default=Path("."))
@click.option("--port", type=click.IntRange(0, 65535), default=0,
              help="Port to listen on (default: a free one).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; other than loopback needs --allow-remote.")
@click.option("--allow-remote", is_flag=True,
              help="Allow an address other machines can reach (a warning is printed).")
@click.option("--no-browser", is_flag=True, help="Do not open a browser.")
@_verbosity_options
@reports_errors
def studio(folder: Path, port: int, host: str, allow_remote: bool, no_browser: bool) -> None:
    """A local web app on FOLDER (default: here): draft letters, check templates, run merges.

    The first line printed is the address to open, with its one-time token."""
    from .studio import serve

    serve(folder, host=host, port=port, open_browser=not no_browser, allow_remote=allow_remote,
          say=lambda text: click.echo(text),  # the address: printed even with -q
          warn=lambda text: click.secho(text, fg="yellow", err=True))


@main.command(epilog=_epilog('drafter mail out/campaign --from "Campaigns '
                             '<campaigns@example.org>"', "sending.md"))
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--from", "sender", help="The sender's address, e.g. 'Campaigns "
              "<campaigns@example.org>' (default: `from` under [mail] in the config file).")
@click.option("--attach", multiple=True, type=_LaterChoice(_Later("mail", "ATTACHABLE")),
              help="The letter's files to attach; repeat for both (default: pdf).")
@click.option("--enclose", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="A file to attach to every message as well; repeat for more.")
@click.option("--reply-to", default="", help="An address for replies, if not the sender's.")
@click.option("--campaign", default="", help="The campaign's name, part of every Message-ID "
              "(default: the case file's folder and name).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
              help="drafter's config file (default: ~/.config/drafter/config.toml).")
@click.option("--wait", is_flag=True, help="When another drafter is writing into the folder, "
              "wait for it to finish (default: stop at once, saying which).")
@_verbosity_options
@reports_errors
def mail(outdir: Path, sender: str | None, attach: tuple[str, ...], enclose: tuple[Path, ...],
         reply_to: str, campaign: str, config_file: Path | None, wait: bool) -> None:
    """Write an email draft (.eml) of every letter merged into OUTDIR, into OUTDIR/mail, to
    review before `drafter send`; letters without an email address go into post-or-fax.pdf."""
    from .mail import MailOptions, write_drafts
    from .send import config_path, read_config

    settings = read_config(config_file or config_path()).get("mail", {})
    sender = sender or settings.get("from")
    if not sender:
        raise click.UsageError("give the sender's address with --from (or `from = …` under "
                               "[mail] in the config file)")
    options = MailOptions(sender=sender, attach=attach or ("pdf",), enclosures=enclose,
                          campaign=campaign, reply_to=reply_to or settings.get("reply_to", ""),
                          wait=wait)
    progress = None if _verbosity() < 0 else ProgressLine(sys.stderr)
    report = write_drafts(outdir, options, on_progress=progress.update if progress else None)
    if progress:
        progress.close()
    click.echo(f"{len(report.drafts)} drafts in {outdir / 'mail'} ({report.written} written, "
               f"{report.unchanged} unchanged)")
    for number, record_id, why in report.not_emailed:
        click.secho(f"not emailed: record {number} ({record_id}): {why}", fg="yellow")
    for number, record_id, why in report.not_made:
        click.secho(f"no letter: record {number} ({record_id}): {why}", fg="yellow")
    if report.post:
        click.echo(f"for post or fax: {report.post} ({len(report.not_emailed)} letters)")
    click.echo(f"next: review the drafts, then `drafter send {outdir}` (a dry run) and "
               f"`drafter send {outdir} --send`")


@main.command(epilog=_epilog("drafter send out/campaign --server smtp://smtp.example.org",
                             "sending.md"))
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--server", cls=_LaterHelp, help_from=lambda send: (
    "smtp://HOST[:PORT] (STARTTLS when offered; port 587) or smtps://HOST[:PORT] (port 465); "
    f"default: ${send.SERVER_VARIABLE} or the config file."))
@click.option("--user", cls=_LaterHelp, help_from=lambda send: (
    f"The login (default: in the URL, ${send.USER_VARIABLE} or the config file); the password "
    f"comes from ${send.PASSWORD_VARIABLE} or is asked for."))
@click.option("--send", "really", is_flag=True, help="Send. Without it, only show what "
              "would be sent to whom.")
@click.option("--limit", type=click.IntRange(min=0), default=0,
              help="Send at most N messages this run (a first test batch).")
@click.option("--rate", type=click.FloatRange(min=0), help="At most N messages a minute "
              "(default: no limit, or `rate` in the config file).")
@click.option("--burst", type=click.IntRange(min=1), help="Messages that may go at once "
              "before the rate applies (default: 1).")
@click.option("--retries", type=click.IntRange(min=0), help="Tries again after a 4xx reply or "
              "a lost connection (default: 5).")
@click.option("--retry-delay", type=click.FloatRange(min=0), help="Seconds before the first "
              "retry, doubled each time (default: 30).")
@click.option("--resend", multiple=True, help="Send this record (id or number) or Message-ID "
              "again though it is uncertain or an earlier version was sent; repeat.")
@click.option("--resend-uncertain", is_flag=True, help="Send every uncertain message again.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
              help="drafter's config file (default: ~/.config/drafter/config.toml).")
@click.option("--wait", is_flag=True, help="When another drafter is writing into the folder, "
              "wait for it to finish (default: stop at once, saying which).")
@_verbosity_options
@reports_errors
def send(outdir: Path, server: str | None, user: str | None, really: bool, limit: int,
         rate: float | None, burst: int | None, retries: int | None,
         retry_delay: float | None, resend: tuple[str, ...], resend_uncertain: bool,
         config_file: Path | None, wait: bool) -> None:
    """Send the drafts of OUTDIR/mail over SMTP, paced and logged; run it again to resume:
    what the server accepted is never sent again."""
    from .send import (
        PASSWORD_VARIABLE,
        SendError,
        SendSettings,
        configured_options,
        configured_password,
        send_drafts,
    )

    options = configured_options(
        SendSettings(server, user, rate, burst, retries, retry_delay), config_file=config_file,
        send=really, limit=limit, resend=frozenset(resend), resend_uncertain=resend_uncertain,
        wait=wait)
    target = options.server
    password = None
    if really and target and target.user:
        password = configured_password()
        if password is None:
            if not sys.stdin.isatty():
                raise SendError(f"the password for {target}: set {PASSWORD_VARIABLE} (there "
                                "is no terminal to ask on)")
            password = click.prompt(f"password for {target}", hide_input=True, err=True)
    progress = None if _verbosity() < 0 or not really else ProgressLine(sys.stderr)
    with _stopped_by_sigterm():
        report = send_drafts(outdir, options, password=password,
                             on_progress=progress.update if progress else None)
    if progress:
        progress.close()
    if not really:
        for item in report.planned:
            copies = "".join(f"; {name}: {', '.join(values)}" for name, values in (
                ("cc", item.cc), ("bcc", item.bcc)) if values)
            click.echo(f"would send {item.path.name} to {', '.join(item.to)}{copies}")
        click.echo(f"server: {target or '(none configured)'}")
    for item, why in report.failed:
        click.secho(f"failed: {item.label} {item.path.name}: {why}", fg="red", err=True)
    for item, why in report.deferred:
        click.secho(f"deferred: {item.label} {item.path.name}: {why} (run again later)",
                    fg="yellow", err=True)
    for item, why in report.uncertain:
        click.secho(f"uncertain: {item.label} {item.path.name} {item.message_id}: {why}; "
                    f"check the sent folder or ask, then --resend {item.id} if it did not "
                    "arrive", fg="yellow", err=True)
    for item, why in report.changed:
        click.secho(f"not sent: {item.label} {item.path.name}: {why}; --resend {item.id} "
                    "sends the new one too", fg="yellow", err=True)
    if really:
        click.echo(f"{report.sent} sent, {len(report.failed)} failed, {len(report.deferred)} "
                   f"deferred, {len(report.uncertain)} uncertain, {report.skipped} skipped "
                   f"(sent before), {report.left} left for later, {report.not_emailed} not "
                   "emailed")
    else:
        click.echo(f"dry run: {len(report.planned)} to send, {report.skipped} sent before, "
                   f"{len(report.uncertain)} uncertain, {report.left} left for later by "
                   "--limit; nothing was sent (add --send)")
    sys.exit(0 if report.ok else 1)


@main.command(epilog=_epilog("drafter doctor", "errors.md"))
@_verbosity_options
@reports_errors
def doctor() -> None:
    """Say what drafter needs that is installed (LibreOffice, fonts for each script, poppler)
    and what is missing, with the command that installs it."""
    from .doctor import diagnose, install_command

    checks = diagnose()
    for item in checks:
        mark = "ok     " if item.found else ("missing" if item.required else "absent ")
        colour = None if item.found else ("red" if item.required else "yellow")
        click.secho(f"{mark} {item.name}: {item.found or item.needed_for}", fg=colour)
    missing = [c for c in checks if not c.found]
    command = install_command(missing)
    if command:
        click.echo(f"\nTo install what is missing:\n  {command}")
    else:
        _say("\neverything drafter uses is installed")
    sys.exit(1 if any(c.required for c in missing) else 0)
