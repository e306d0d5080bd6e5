"""Watching a letter: render it again whenever its data or its template is saved.

This module owns the watch loop: which folders are watched, which changes count (not hidden or
temporary files, Word's lock files, nor the watch's own output), and one render per change. It
never prints: what happens is told to callbacks (``on_render`` with the files written,
``on_warning`` with each warning, ``on_problem`` with each error), and an error in the data or
the template is reported and the watch goes on. The CLI's ``drafter watch`` only wires these
callbacks to the terminal.

The PDFs and pictures of a watch come from one LibreOffice kept running while it watches
(:class:`drafter.pdf.WarmLibreOffice`), so a save costs the letter's layout and not
LibreOffice's start-up. Each conversion has a time limit; one that hangs or crashes LibreOffice
is reported and the next save starts it afresh, as does every ``restart_after``-th. Without
LibreOffice's Python bridge (python3-uno) each save starts LibreOffice, and ``on_notice`` says
so once. No LibreOffice of the watch outlives :meth:`Watch.run`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from .errors import DataError, DrafterError, LibreOfficeMissing, Location, Problem
from .pdf import (
    UNO_HINT,
    WARM_CONVERSIONS,
    Converter,
    LibreOffice,
    WarmLibreOffice,
    reserved_profiles,
)
from .preview import preview, preview_pdf
from .render import FORMATS, read_and_render, write_letter
from .template import LetterTemplate, find_template

WatchFormat = Literal["docx", "pdf", "png"]
WATCH_FORMATS: tuple[WatchFormat, ...] = ("docx", "pdf", "png")
CONVERSION_TIMEOUT = 120.0  # seconds for one save's PDF, past which LibreOffice is restarted


def _ignore(_: Any) -> None:
    return None


class Watch:
    """A letter's data file and template, watched; :meth:`run` renders on every save.

    Building one checks what can be checked before the first save: the template exists and
    the data file's folder does (else :class:`DrafterError`, as for ``drafter render``).
    """

    def __init__(self, data: Path | str, outdir: Path | str, *,
                 template: str | Path | None = None,
                 formats: Iterable[WatchFormat] = WATCH_FORMATS,
                 locale: str | None = None, name: str | None = None,
                 timeout: float = CONVERSION_TIMEOUT, restart_after: int = WARM_CONVERSIONS,
                 profile: Path | None = None) -> None:
        """``timeout``: seconds one save's conversion may take; ``restart_after``: saves
        converted by one LibreOffice before it is started afresh; ``profile``: the LibreOffice
        user profile folder (``None``: one kept in the user's cache, held while watching)."""
        self.data = Path(data)
        self.timeout = timeout
        self.restart_after = restart_after
        self.profile = profile
        self.converter: Converter | None = None  # while run() runs and a PDF or PNG is wanted
        self.outdir = Path(outdir)
        self.name = name or self.data.stem  # the files' name, without suffix
        self.formats = tuple(dict.fromkeys(formats))
        self.locale = locale
        self.template: LetterTemplate = find_template(template)
        if not self.data.resolve().parent.is_dir():
            raise DataError([Problem(Location(str(self.data)), "",
                                     "no such file, nor a folder to watch for it")])
        given = Path(template) if template else None
        # A single .docx is watched alone; a template folder with everything in it.
        self.single_docx = given.resolve() if given is not None and given.is_file() else None

    @property
    def watched_template(self) -> Path:
        """What is watched of the template: its .docx file, or its folder."""
        return self.template.variants[""] if self.single_docx else self.template.folder

    def folders(self) -> list[Path]:
        """The folders to watch: the data file's, and the template's with its subfolders.

        Folders, not files: editors save by writing a new file and renaming it over the old
        one, and a watch on the old file would see nothing after the first save. Not
        recursive: the data file may sit in a large folder."""
        folder = self.template.folder.resolve()
        subfolders = [] if self.single_docx else sorted(
            p for p in folder.rglob("*") if p.is_dir())
        return list(dict.fromkeys([self.data.resolve().parent, folder, *subfolders]))

    def is_relevant(self, path: Path | str) -> bool:
        """Whether a change to ``path`` calls for a new render."""
        changed = Path(path)
        out = self.outdir.resolve()
        if changed.name.startswith((".", "~$")):
            return False  # hidden and temporary files, Word's lock files
        if changed.parent == out and changed.stem.startswith(self.name):
            return False  # our own output: letter.docx, letter.pdf, letter.png, letter-2.png
        inputs = [self.data.resolve(), self.template.folder.resolve()]
        inside = changed == out or out in changed.parents
        if inside and not any(out == p or out in p.parents for p in inputs):
            return False  # an output folder of its own: nothing there is an input
        if changed == self.data.resolve():
            return True
        if self.single_docx:
            return changed == self.single_docx
        return self.template.folder.resolve() in changed.parents

    def render_once(self, *, on_render: Callable[[list[Path]], None] = _ignore,
                    on_warning: Callable[[Problem], None] = _ignore,
                    on_problem: Callable[[DrafterError], None] = _ignore) -> list[Path]:
        """Read, render and write the letter once: ``on_render`` hears of the files as they
        are written; a :class:`DrafterError` goes to ``on_problem``, never up. Returns the
        files written."""
        written: list[Path] = []
        try:
            rendered, warnings = read_and_render(self.data, self.template, locale=self.locale)
            for warning in warnings:
                on_warning(warning)
            office = [f for f in self.formats if f in FORMATS]
            if office:
                written += write_letter(rendered, self.outdir, self.name, office,
                                        converter=self.converter)
                on_render(written)
            if "png" in self.formats:
                target = self.outdir / f"{self.name}.png"
                pdf = next((path for path in written if path.suffix == ".pdf"), None)
                pictures = (preview_pdf(pdf, target) if pdf else
                            preview(rendered, target, converter=self.converter))
                on_render(pictures)
                written += pictures
        except DrafterError as e:
            on_problem(e)
        return written

    def run(self, *, on_render: Callable[[list[Path]], None] = _ignore,
            on_warning: Callable[[Problem], None] = _ignore,
            on_problem: Callable[[DrafterError], None] = _ignore,
            on_notice: Callable[[str], None] = _ignore,
            stop: threading.Event | None = None) -> None:
        """Render now, then after every relevant save, until ``stop`` is set (or Ctrl-C).

        ``on_notice`` hears, once, that PDFs are made without a LibreOffice kept running."""
        from watchfiles import watch as changes  # only the watch needs it

        first = True
        with self._converter(on_notice):
            # The watch starts before the first render (the first, empty, yield comes on a
            # short timeout), so a save made while a letter renders is seen afterwards.
            for changed in changes(*self.folders(), watch_filter=lambda _, path:
                                   self.is_relevant(path), recursive=False, rust_timeout=200,
                                   yield_on_timeout=True, stop_event=stop):
                if first or changed:
                    first = False
                    self.render_once(on_render=on_render, on_warning=on_warning,
                                     on_problem=on_problem)

    @contextlib.contextmanager
    def _converter(self, on_notice: Callable[[str], None]) -> Iterator[None]:
        """:attr:`converter` while watching: a LibreOffice kept running where its Python
        bridge is installed, else one started per save; stopped, every process of it, at the
        end. Without LibreOffice at all, none: each save then says how to install it."""
        if not {"pdf", "png"} & set(self.formats):
            yield
            return
        with contextlib.ExitStack() as stack:
            profile = self.profile or stack.enter_context(reserved_profiles(1))[0]
            try:
                warm = WarmLibreOffice(profile=profile, timeout=self.timeout,
                                       restart_after=self.restart_after)
            except LibreOfficeMissing:
                try:
                    self.converter = LibreOffice(profile=profile, timeout=self.timeout)
                except LibreOfficeMissing:
                    pass  # render_once reports it, with how to install it, on every save
                else:
                    on_notice("LibreOffice's Python bridge (uno) is not installed, so every "
                              f"save starts LibreOffice afresh; for faster PDFs: {UNO_HINT}")
            else:
                stack.callback(warm.close)  # before the profile is released
                self.converter = warm
            try:
                yield
            finally:
                self.converter = None


def watch(data: Path | str, outdir: Path | str, *, template: str | Path | None = None,
          formats: Sequence[WatchFormat] = WATCH_FORMATS, locale: str | None = None,
          on_render: Callable[[list[Path]], None] = _ignore,
          on_warning: Callable[[Problem], None] = _ignore,
          on_problem: Callable[[DrafterError], None] = _ignore,
          on_notice: Callable[[str], None] = _ignore,
          stop: threading.Event | None = None) -> None:
    """Render ``data`` into ``outdir`` now and on every save of it or of its template, until
    ``stop`` is set; see :class:`Watch`."""
    Watch(data, outdir, template=template, formats=formats, locale=locale).run(
        on_render=on_render, on_warning=on_warning, on_problem=on_problem,
        on_notice=on_notice, stop=stop)


__all__ = ["WATCH_FORMATS", "Watch", "WatchFormat", "watch"]
