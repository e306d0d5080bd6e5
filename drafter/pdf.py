"""Turning DOCX letters into ready-to-send PDFs with LibreOffice.

This is the one module that knows LibreOffice is a subprocess. It owns finding ``soffice``, the
processes and their user profiles, batches and their sizes, timeouts, the one-by-one retry of a
batch that failed or hung (:class:`ConversionPool`), checking each PDF and counting its pages
(:func:`page_count`). It also plans the chunks of a merge: letters that share their template
parts, paper and conversion path are combined into one DOCX (:func:`drafter.combine.
combine_alike`), converted by one LibreOffice call, and the PDF is split back into one PDF per
letter (:mod:`drafter.pdf_split`); a chunk that fails or hangs is bisected down to the letter
that causes it, which is then converted on its own, as every letter is without chunks. A PDF
is PDF/A-2b, tagged (accessible) and has every font embedded.
What LibreOffice 7.4 does, learned by trying it:

- PDF export options are read only in the JSON filter-option syntax; ``key=value`` is ignored.
- It exits 0 even when it converted nothing, so every PDF is checked.
- It guesses an input's format from its content unless told (``--infilter``): a broken
  ``.docx`` would become a PDF of its bytes as plain text.
- The ``soffice`` launcher (oosplash) silently drops input files past about 250 arguments,
  so one process converts at most :data:`MAX_BATCH` files.
- The DOCX core properties title, creator and subject become the PDF's Title, Author and
  Subject, in the Info dictionary and the PDF/A XMP alike.
- A DOCX hyperlink becomes a clickable link only when its runs carry a character style that
  ``styles.xml`` defines (Word's "Hyperlink" style). Without one the import gives the link the
  default character style, and Writer's PDF export never looks at links in that style: the
  text shows but there is no link annotation.
- It puts "Asian/non-Asian spacing" between CJK characters and Latin letters or digits, so
  ``2015年11月24日`` prints (and extracts) as ``2015 年 11 月 24 日``. Its DOCX import ignores
  Word's switch for it (``w:autoSpaceDE``/``w:autoSpaceDN``), so no DOCX setting turns it off;
  only its own format can (ODF ``style:text-autospace="none"``). A DOCX with CJK text therefore
  goes DOCX -> ODT, which keeps the core properties and links, -> PDF, with that switch set in
  the ODT between the two (and its line-breaking rules, :mod:`drafter.linebreaks`); other DOCX
  files go straight to PDF.
- Page-number fields print Latin digits whatever the text's language: its DOCX import knows no
  page-number format for Arabic-Indic or other native digits (``w:pgNumType w:fmt=
  "hindiNumbers"`` and field switches such as ``\\* HindiArabic`` give 1, 2, 3), while its own
  format does (``style:num-format="١, ٢, ٣, ..."`` on the page layout). A letter whose page
  fields show a native digit as placeholder (``<w:t>١</w:t>``, :func:`drafter.wordml.
  page_of_pages`) therefore goes through ODT too, its pages numbered in those digits there.
- It loads a linked picture (``http://…``, ``file://…``) while converting, and updates links
  to other files, unless its profile says not to: every profile drafter starts it with gets
  :data:`NO_FETCHING` (:func:`harden_profile`), so a document that refers outside itself and
  got past :func:`drafter.package.outside_references` still loads nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import json
import os
import re
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unicodedata
import zipfile
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from queue import SimpleQueue
from typing import Any, Generic, Protocol, TypeVar

import pypdf

from .docx_parts import is_templated
from .errors import ConversionError, LibreOfficeMissing, OutputError
from .files import temporary_folder
from .linebreaks import forbidden_characters_settings
from .workers import cores

INSTALL_HINT = (
    "sudo apt-get install libreoffice-writer-nogui fonts-liberation "
    "fonts-crosextra-carlito fonts-crosextra-caladea fonts-noto-cjk"
)
# Where soffice lives when it is not on PATH; glob patterns allowed.
SOFFICE_PATHS = (
    "/usr/bin/soffice",
    "/usr/lib/libreoffice/program/soffice",
    "/opt/libreoffice*/program/soffice",
)
MAX_BATCH = 200  # files per LibreOffice process; the launcher drops those past about 250
MIN_BATCH = 10  # a pool's smallest batch by default: smaller ones pay LibreOffice's start-up
MAX_CHUNK = 100  # letters combined into one document for one conversion (benchmarks/README.md)
MIN_CHUNK = 10  # a pool's smallest chunk by default
DEFAULT_TIMEOUT = 300.0  # seconds per LibreOffice process

DOCX_FILTER = "MS Word 2007 XML"  # LibreOffice's import filter for DOCX
ODT_FILTER = "writer8"  # ... and its filter for ODT, import and export
# Han, Hiragana, Katakana, Hangul, Bopomofo, their punctuation, fullwidth and compatibility forms.
CJK_CHARACTER = (
    "[\u1100-\u11ff\u2e80-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff"
    "\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003ffff]"
)
# A CJK character in an XML part's text, not in its markup (such as a font name).
_CJK_TEXT = re.compile(f">[^<]*?{CJK_CHARACTER}")
# The DOCX parts whose text a letter shows.


# LibreOffice settings that keep a conversion inside the document: (path, name, value).
_INET = "/org.openoffice.Inet/Settings"
NO_FETCHING = (
    # Links from a document in no trusted location are not followed: linked pictures (http,
    # file and every other scheme), linked sections, OLE links.
    ("/org.openoffice.Office.Common/Security/Scripting", "BlockUntrustedRefererLinks", "true"),
    ("/org.openoffice.Office.Common/Security/Scripting", "DisableMacrosExecution", "true"),
    ("/org.openoffice.Office.Common/Security/Scripting", "MacroSecurityLevel", "3"),
    ("/org.openoffice.Office.Writer/Content/Update", "Link", "0"),  # never update links
    ("/org.openoffice.Office.Calc/Content/Update", "Link", "1"),  # never (charts' data)
    # Should anything still ask for the network, it goes to a proxy that is not there.
    (_INET, "ooInetProxyType", "1"),
    (_INET, "ooInetNoProxy", ""),
    (_INET, "ooInetHTTPProxyName", "127.0.0.1"),
    (_INET, "ooInetHTTPProxyPort", "9"),
    (_INET, "ooInetHTTPSProxyName", "127.0.0.1"),
    (_INET, "ooInetHTTPSProxyPort", "9"),
    (_INET, "ooInetFTPProxyName", "127.0.0.1"),
    (_INET, "ooInetFTPProxyPort", "9"),
)
_SETTINGS_FILE = Path("user") / "registrymodifications.xcu"  # in a LibreOffice profile


def harden_profile(profile: Path) -> None:
    """Give a LibreOffice profile the settings :data:`NO_FETCHING`, before LibreOffice starts
    with it: a new profile gets them, and a kept one (which LibreOffice rewrites as it exits)
    has them put back when they are missing or changed. Raises :class:`ConversionError` when
    the profile cannot be written."""
    path = profile / _SETTINGS_FILE
    items = [f'<item oor:path="{where}"><prop oor:name="{name}" oor:op="fuse"><value>{value}'
             "</value></prop></item>" for where, name, value in NO_FETCHING]  # as it writes them
    try:
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        if text and all(item in text for item in items):
            return
        if "</oor:items>" not in text:
            text = ('<?xml version="1.0" encoding="UTF-8"?>\n<oor:items xmlns:oor='
                    '"http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/'
                    'XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
                    "</oor:items>\n")
        for where, name, _ in NO_FETCHING:  # the same settings with other values go
            text = re.sub(f'<item oor:path="{re.escape(where)}"><prop oor:name="'
                          f'{re.escape(name)}"[^>]*>.*?</prop></item>\n?', "", text)
        text = text.replace("</oor:items>", "\n".join(items) + "\n</oor:items>")
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError as e:
        raise ConversionError(f"{profile}: cannot prepare LibreOffice's profile: "
                              f"{e.strerror or e}") from e


def find_soffice() -> str:
    """The path of LibreOffice's ``soffice`` program: from PATH, else from the usual places.

    Raises :class:`LibreOfficeMissing`, whose message says how to install it, when none is found.
    """
    found = shutil.which("soffice")
    if found:
        return found
    for pattern in SOFFICE_PATHS:
        for path in sorted(glob.glob(pattern)):
            if os.access(path, os.X_OK):
                return path
    raise LibreOfficeMissing(
        "LibreOffice (soffice) was not found on PATH nor in "
        f"{', '.join(SOFFICE_PATHS)}. Install it with:\n  {INSTALL_HINT}"
    )


class Converter(Protocol):
    """What turns DOCX files into PDFs: a :class:`LibreOffice`, or one kept running."""

    def convert(self, docx_files: Sequence[Path], outdir: Path) -> list[Path]:
        """PDFs of the same names in ``outdir``, in input order (like LibreOffice.convert)."""
        ...


class LibreOffice:
    """A LibreOffice installation that converts DOCX files to PDF, one process per batch.

    DOCX files with CJK text take two processes per batch: DOCX to ODT, then ODT to PDF (see the
    module docstring).
    """

    def __init__(
        self,
        soffice: str | os.PathLike[str] | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        pdfa: bool = True,
        profile: Path | None = None,
        destinations: bool = False,
    ) -> None:
        """Use the ``soffice`` program given, or the one :func:`find_soffice` finds when ``None``.

        ``timeout`` is in seconds for each LibreOffice process (each batch of at most
        :data:`MAX_BATCH` files). ``pdfa=False`` writes plain PDF 1.6 instead of PDF/A-2b;
        PDFs are tagged and embed their fonts either way. ``profile`` is a LibreOffice user
        profile folder to reuse across calls (saves its start-up on every batch of a merge); it
        must not be shared by two processes at once. ``None``: a new one for each call of
        :meth:`convert`. ``destinations`` also exports the DOCX's bookmarks as named
        destinations: those that say where each letter of a combined DOCX starts.
        """
        if soffice is None:
            self.soffice = find_soffice()
        else:
            self.soffice = os.fspath(soffice)
            if not (os.path.isfile(self.soffice) and os.access(self.soffice, os.X_OK)):
                raise LibreOfficeMissing(
                    f"{self.soffice}: no such LibreOffice program. "
                    f"Install LibreOffice with:\n  {INSTALL_HINT}"
                )
        self.timeout = timeout
        self.pdfa = pdfa
        self.profile = profile
        self.destinations = destinations

    def convert(self, docx_files: Sequence[Path], outdir: Path, *,
                destinations: bool | None = None) -> list[Path]:
        """Convert DOCX files to PDFs of the same names in ``outdir``; the PDFs in input order.

        Either every PDF is written or none is: LibreOffice writes into a temporary folder in
        ``outdir``, every PDF is checked (present, non-empty, at least one page), and only then
        is each moved to its final name, so no partial PDF is ever visible there. Raises
        :class:`ConversionError` naming the files that failed or timed out, and
        :class:`OutputError` when ``outdir`` cannot be written or two inputs share a name.
        ``destinations``: for this call, in place of the instance's setting.
        """
        if destinations is None:
            destinations = self.destinations
        sources = [Path(f).resolve() for f in docx_files]
        if not sources:
            return []
        _check_sources(sources)
        outdir = Path(outdir)
        try:
            outdir.mkdir(parents=True, exist_ok=True)
            staging_dir = temporary_folder(outdir, "pdf")
        except OSError as e:
            raise OutputError(f"{outdir}: cannot write PDFs here: {e.strerror or e}") from e

        with staging_dir as staging_name:
            staging = Path(staging_name)
            complaints = self._convert_all(sources, staging, destinations)
            # A LibreOffice stopped by a signal says so for its files, not "is it valid?".
            killed = next((c for c in complaints if c.startswith(KILLED)), "")
            failures = [
                f"  {source}: {problem}"
                for source in sources
                if (problem := _pdf_problem(staging / f"{source.stem}.pdf", killed))
            ]
            complaints = [c for c in complaints if c != killed]
            if failures:
                head = f"LibreOffice could not convert {len(failures)} of {len(sources)} files:"
                raise ConversionError("\n".join([head, *failures, *complaints]))
            targets = [outdir / f"{source.stem}.pdf" for source in sources]
            for source, target in zip(sources, targets, strict=True):
                try:
                    os.replace(staging / f"{source.stem}.pdf", target)
                except OSError as e:
                    raise OutputError(f"{target}: cannot write: {e.strerror or e}") from e
        return targets

    def with_profile(self, profile: Path | None) -> LibreOffice:
        """A LibreOffice like this one (program, timeout, PDF version) using ``profile``, a
        process per call."""
        return LibreOffice(self.soffice, timeout=self.timeout, pdfa=self.pdfa, profile=profile)

    def reset(self) -> None:
        """After a failed conversion: empty the profile, where a killed LibreOffice may have
        left its locks (a new profile is made for each call when none is given)."""
        if self.profile:
            shutil.rmtree(self.profile, ignore_errors=True)

    def close(self) -> None:
        """Nothing to stop: no LibreOffice outlives a :meth:`convert` call."""

    def _convert_all(self, sources: Sequence[Path], staging: Path,
                     destinations: bool) -> list[str]:
        """Convert every DOCX file into a PDF of the same name in ``staging``, in batches
        (bookmarks as named destinations if ``destinations``).

        Returns what LibreOffice complained of, as lines for an error message.
        """
        cjk = {source for source in sources if _through_odt(source)}
        one_step = [source for source in sources if source not in cjk]
        two_step = [source for source in sources if source in cjk]
        pdf_filter = _export_filter(pdfa=self.pdfa, destinations=destinations)
        to_odt = f"odt:{ODT_FILTER}"
        complaints: list[str] = []
        with self._profile() as profile:
            for batch in _batches(one_step):
                complaints += self._run(batch, staging, profile, DOCX_FILTER, pdf_filter, batch)
            for batch in _batches(two_step):
                # The ODTs go into the staging folder too: removed with it, never in outdir.
                complaints += self._run(batch, staging, profile, DOCX_FILTER, to_odt, batch)
                odts: list[Path] = []
                converted: list[Path] = []
                for source in batch:
                    odt = staging / f"{source.stem}.odt"
                    if not odt.is_file():
                        continue  # no PDF either: reported as such by convert()
                    try:
                        _prepare_odt(odt, _page_one(source))
                    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
                        complaints.append(f"{source}: LibreOffice wrote an unusable ODT ({e})")
                        continue
                    odts.append(odt)
                    converted.append(source)
                if odts:
                    complaints += self._run(
                        odts, staging, profile, ODT_FILTER, pdf_filter, converted
                    )
        return complaints

    @contextlib.contextmanager
    def _profile(self) -> Iterator[Path]:
        """The LibreOffice user profile folder for the processes of one :meth:`convert`.

        A profile of its own lets them run beside any other LibreOffice, drafter's or not; one
        for all of them saves its start-up on every process after the first.
        """
        if self.profile:
            yield Path(self.profile)
        else:
            with tempfile.TemporaryDirectory(prefix="drafter-lo-profile-") as profile:
                yield Path(profile)

    def _run(
        self,
        inputs: Sequence[Path],
        staging: Path,
        profile: Path,
        infilter: str,
        convert_to: str,
        sources: Sequence[Path],
    ) -> list[str]:
        """Run one LibreOffice process converting ``inputs`` (of ``sources``) into ``staging``.

        ``infilter`` is the import filter for every input, ``convert_to`` the export filter.
        Returns what it complained of, as lines for an error message.
        """
        harden_profile(profile)  # nothing loaded from outside the documents
        with tempfile.TemporaryFile() as stderr:
            command = [
                self.soffice,
                f"-env:UserInstallation={profile.resolve().as_uri()}",
                "--headless",
                "--norestore",
                # Else a broken file is taken for plain text and "converted" (module docstring).
                f"--infilter={infilter}",
                "--convert-to",
                convert_to,
                "--outdir",
                str(staging),
                *map(str, inputs),
            ]
            try:
                process = start_office(command, stdout=subprocess.DEVNULL, stderr=stderr)
            except OSError as e:
                raise ConversionError(
                    f"cannot start LibreOffice ({self.soffice}): {e.strerror or e}"
                ) from e
            try:
                status = process.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                _kill_group(process)
                names = ", ".join(source.name for source in sources)
                raise ConversionError(
                    f"LibreOffice took more than {self.timeout:g} s to convert {names}; "
                    "it was stopped and no PDF was written."
                ) from None
            except BaseException:
                _kill_group(process)
                raise
            assert process.stdin is not None
            process.stdin.close()  # the watchdog's pipe: it has ended with LibreOffice
            stderr.seek(0)
            said = stderr.read().decode(errors="replace").splitlines()
        # Only its "Error: ..." lines: the rest is noise such as a warning about Java.
        complaints = [f"LibreOffice said: {line.strip()}" for line in said if "Error" in line]
        if status != 0:
            killed = _killed_by(status)
            complaints.append(f"{KILLED} {killed} before it wrote the PDFs." if killed else
                              f"LibreOffice exited with status {status}.")
        return complaints


def export_options(*, pdfa: bool, destinations: bool = False) -> dict[str, bool | int]:
    """LibreOffice's PDF export options for a tagged PDF with embedded fonts, PDF/A-2b if
    asked, bookmarks as named destinations if asked."""
    options: dict[str, bool | int] = {"UseTaggedPDF": True, "EmbedStandardFonts": True}
    if destinations:
        options["ExportBookmarksToPDFDestination"] = True
    if pdfa:
        options["SelectPdfVersion"] = 2  # PDF/A-2b
    return options


def _export_filter(*, pdfa: bool, destinations: bool = False) -> str:
    """The ``--convert-to`` argument for the options of :func:`export_options`, in the JSON
    syntax, the only one LibreOffice reads (module docstring)."""
    options = {key: {"type": "boolean", "value": str(value).lower()} if isinstance(value, bool)
               else {"type": "long", "value": str(value)}
               for key, value in export_options(pdfa=pdfa, destinations=destinations).items()}
    return "pdf:writer_pdf_Export:" + json.dumps(options, separators=(",", ":"))


def _batches(files: Sequence[Path]) -> Iterator[Sequence[Path]]:
    """``files`` in batches of at most :data:`MAX_BATCH`, one per LibreOffice process."""
    for start in range(0, len(files), MAX_BATCH):
        yield files[start : start + MAX_BATCH]


def _has_cjk_text(docx: Path) -> bool:
    """Whether a DOCX file's text (body, headers, footers, notes) has a CJK character.

    ``False`` for a file that is no DOCX: LibreOffice, converting it straight, says what is wrong.
    """
    try:
        with zipfile.ZipFile(docx) as archive:
            for name in archive.namelist():
                if is_templated(name):
                    text = archive.read(name).decode("utf-8", errors="replace")
                    if _CJK_TEXT.search(text):
                        return True
    except (OSError, zipfile.BadZipFile, KeyError, RuntimeError):  # Runtime: encrypted
        return False
    return False


def _through_odt(docx: Path) -> bool:
    """Whether a DOCX file goes to PDF through ODT (module docstring): CJK text, or pages
    numbered in native digits."""
    return _has_cjk_text(docx) or bool(_page_one(docx))


# A page-number field of a DOCX and the one character it shows until updated.
_PAGE_FIELD = re.compile(r'w:instr="\s*(?:PAGE|NUMPAGES|SECTIONPAGES)\s*"\s*>'
                         r"(?:(?!</w:fldSimple>).)*?<w:t(?:\s[^>]*)?>([^<])</w:t>", re.S)


_HEADER_OR_FOOTER = re.compile(r"word/(?:header|footer)\d*\.xml")


def _page_one(docx: Path) -> str:
    """The digit one a DOCX file's page-number fields show, when not ``1`` (``١``, ``۱``,
    ``१``…): the digits its pages are numbered in. ``""``: Latin digits, or no such field."""
    try:
        with zipfile.ZipFile(docx) as archive:
            for name in archive.namelist():
                if _HEADER_OR_FOOTER.fullmatch(name):  # where page numbers are printed
                    text = archive.read(name).decode("utf-8", errors="replace")
                    for shown in _PAGE_FIELD.findall(text):
                        if shown != "1" and unicodedata.decimal(shown, None) == 1:
                            return str(shown)
    except (OSError, zipfile.BadZipFile, KeyError, RuntimeError):  # Runtime: encrypted
        return ""
    return ""


def _prepare_odt(odt: Path, page_one: str = "") -> None:
    """Switch off Asian/non-Asian spacing in an ODT LibreOffice wrote, and number its pages in
    the digits of ``page_one`` when given (module docstring).

    Every ``style:text-autospace`` in ``styles.xml`` becomes ``none``, and the default paragraph
    style gets one if it has none; ``settings.xml`` gets the forbidden characters of East Asian
    line breaking (:mod:`drafter.linebreaks`). The ODT is rewritten whole, ``mimetype`` first
    and stored as ODF requires, and replaces the original only once complete.
    """
    patched = odt.with_name(f"{odt.name}.tmp")
    with zipfile.ZipFile(odt) as source, zipfile.ZipFile(patched, "w") as target:
        for info in sorted(source.infolist(), key=lambda info: info.filename != "mimetype"):
            data = source.read(info)
            if info.filename == "mimetype":
                info.compress_type = zipfile.ZIP_STORED
            elif info.filename == "styles.xml":
                styles = _no_autospace(data.decode("utf-8"))
                if page_one:
                    styles = _page_numbers_in(styles, page_one)
                data = styles.encode("utf-8")
            elif info.filename == "settings.xml":
                data = _with_line_breaking(data.decode("utf-8")).encode("utf-8")
            target.writestr(info, data)
    os.replace(patched, odt)


def _with_line_breaking(settings: str) -> str:
    """An ODT's ``settings.xml`` with drafter's East Asian line breaking
    (:mod:`drafter.linebreaks`) in place of any forbidden characters it had."""
    settings = re.sub(r'<config:config-item-map-indexed config:name="ForbiddenCharacters">'
                      r".*?</config:config-item-map-indexed>", "", settings, flags=re.S)
    return re.sub(r'(<config:config-item-set config:name="ooo:configuration-settings">)',
                  lambda match: match.group(1) + forbidden_characters_settings(), settings,
                  count=1)


def _page_numbers_in(styles: str, one: str) -> str:
    """An ODT's ``styles.xml`` whose page layouts number pages with the digits of ``one``.

    LibreOffice names such a format by its first three numbers: ``١, ٢, ٣, ...``."""
    name = f"{one}, {chr(ord(one) + 1)}, {chr(ord(one) + 2)}, ..."

    def numbered(match: re.Match[str]) -> str:
        tag = re.sub(r'\sstyle:num-format="[^"]*"', "", match.group(0))
        return f'{tag[:len("<style:page-layout-properties")]} style:num-format="{name}"' \
            f'{tag[len("<style:page-layout-properties"):]}'

    return re.sub(r"<style:page-layout-properties\b[^>]*>", numbered, styles)


def _no_autospace(styles: str) -> str:
    """An ODT's ``styles.xml`` with Asian/non-Asian spacing switched off."""
    styles = re.sub(r'style:text-autospace="[^"]*"', 'style:text-autospace="none"', styles)
    default = re.search(
        r'<style:default-style\b[^>]*\bstyle:family="paragraph"[^>]*(?<!/)>(.*?)</style:default-style>',
        styles,
        re.S,
    )
    if default is None:  # LibreOffice always writes one; just in case, add one
        return re.sub(
            r"(<office:styles\b[^>]*>)",
            r'\1<style:default-style style:family="paragraph"><style:paragraph-properties '
            r'style:text-autospace="none"/></style:default-style>',
            styles,
            count=1,
        )
    body = default.group(1)
    if "style:text-autospace=" in body:
        return styles
    properties = re.search(r"<style:paragraph-properties\b", body)
    if properties:
        insert = default.start(1) + properties.end()
        return f'{styles[:insert]} style:text-autospace="none"{styles[insert:]}'
    insert = default.start(1)
    return (
        f'{styles[:insert]}<style:paragraph-properties style:text-autospace="none"/>'
        f"{styles[insert:]}"
    )


def _check_sources(sources: Sequence[Path]) -> None:
    """Refuse inputs that are missing or whose PDFs would have the same name."""
    missing = [f"  {source}: no such file" for source in sources if not source.is_file()]
    if missing:
        raise ConversionError("\n".join(["Cannot convert to PDF:", *missing]))
    by_name: dict[str, list[Path]] = {}
    for source in sources:
        by_name.setdefault(f"{source.stem}.pdf", []).append(source)
    clashes = [
        f"  {name}: {', '.join(map(str, paths))}"
        for name, paths in by_name.items()
        if len(paths) > 1
    ]
    if clashes:
        raise OutputError("\n".join(["Several letters would be written to one PDF:", *clashes]))


def _pdf_problem(pdf: Path, killed: str = "") -> str | None:
    """What is wrong with a PDF LibreOffice should have written, or ``None`` if it looks fine;
    ``killed``: what stopped LibreOffice, said instead of a guess about the DOCX."""
    if not pdf.is_file():
        return killed or "LibreOffice wrote no PDF (is it a valid DOCX file?)"
    if pdf.stat().st_size == 0:
        return "LibreOffice wrote an empty PDF"
    try:
        pages = page_count(pdf)
    except Exception as e:  # pypdf raises many kinds of error on a damaged file
        return f"LibreOffice wrote a PDF that cannot be read ({e})"
    return None if pages else "LibreOffice wrote a PDF without pages"


def page_count(pdf: Path) -> int:
    """The number of pages of a PDF."""
    return len(pypdf.PdfReader(pdf).pages)


KILLED = "LibreOffice was"  # how the complaint about a signal that stopped it begins


class _Watched(subprocess.Popen[bytes]):
    """A LibreOffice program under its watchdog (:func:`start_office`)."""


def start_office(command: Sequence[str], **options: object) -> subprocess.Popen[bytes]:
    """Start a LibreOffice program that cannot outlive drafter; :func:`_kill_group` stops it
    and everything it started.

    It runs under ``office_watchdog.py``, which kills LibreOffice's process group as soon as
    drafter ends, even by SIGKILL (the watchdog's standard input is a pipe whose other end only
    this process holds), or when asked with SIGTERM, and reaps it. The watchdog ends as
    LibreOffice does (its status, or the signal that killed it). ``options`` go to
    :class:`subprocess.Popen` (``stdout``, ``stderr``).
    """
    watchdog = Path(__file__).with_name("office_watchdog.py")
    return _Watched(  # type: ignore[call-overload]
        [sys.executable, "-I", "-S", str(watchdog), *command], stdin=subprocess.PIPE,
        start_new_session=True, **options)


def _killed_by(status: int) -> str:
    """The signal a LibreOffice exit status says stopped it, as a message says it (its
    launcher reports a killed ``soffice.bin`` as 128 + the signal); ``""`` for none."""
    number = -status if status < 0 else status - 128 if 128 < status <= 128 + 64 else 0
    if not number:
        return ""
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    if number == signal.SIGKILL:
        return (f"killed ({name}): most often the machine ran out of memory (the kernel's "
                "out-of-memory killer sends SIGKILL), or someone stopped it")
    return f"stopped by {name}"


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Stop a LibreOffice process and everything it started, then reap it: through its
    watchdog (:func:`start_office`), which reaps LibreOffice before it ends; else its whole
    process group (its id is the pid: ``start_new_session``)."""
    stopped = False
    if isinstance(process, _Watched):
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=60)  # a guard: the watchdog stops its LibreOffice at once
            stopped = True
    if not stopped:
        with contextlib.suppress(ProcessLookupError):  # the whole group is gone already
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    if process.stdin is not None:
        process.stdin.close()  # a watchdog's pipe (start_office)


@contextlib.contextmanager
def reserved_profiles(count: int) -> Iterator[list[Path]]:
    """``count`` LibreOffice profile folders that no other process uses while they are held.

    They live in the user's cache (``$XDG_CACHE_HOME/drafter/libreoffice``) and are kept
    between runs, so LibreOffice's first start, which builds a profile, is paid once per machine
    rather than once per merge. Each is held with an exclusive lock: a second drafter run at the
    same time takes other ones. Where the cache cannot be written, temporary folders are used.
    """
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = base / "drafter" / "libreoffice"
    held: list[tuple[Path, int]] = []
    try:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            index = 0
            while len(held) < count and index < count + 64:
                lock = os.open(folder / f"profile-{index}.lock", os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    os.close(lock)  # another run holds this one
                else:
                    held.append((folder / f"profile-{index}", lock))
                index += 1
        except OSError:
            pass  # no writable cache: temporary profiles below
        with contextlib.ExitStack() as stack:
            extra = [Path(stack.enter_context(tempfile.TemporaryDirectory(
                prefix="drafter-lo-profile-"))) for _ in range(count - len(held))]
            yield [path for path, _ in held] + extra
    finally:
        for _, lock in held:
            os.close(lock)  # closing releases the lock


@dataclass(frozen=True)
class Converted:
    """What became of one letter's conversion: its PDF and page count, or why there is none."""

    pdf: Path | None
    pages: int = 0
    error: ConversionError | None = None  # names the file and what LibreOffice said


Letter = TypeVar("Letter")  # whatever the caller tells its letters apart by


class ConversionPool(Generic[Letter]):
    """LibreOffice processes that convert letters' DOCX files into PDFs while the caller goes on.

    Letters are added one at a time and converted in batches into ``outdir`` by ``jobs``
    LibreOffice processes at once, each with a profile of its own (:func:`reserved_profiles`).
    With a :class:`WarmLibreOffice` as converter, each of them is started when the pool is
    entered (while the caller validates and renders) and kept running for all its batches;
    with a :class:`LibreOffice`, one process is started per batch. A batch that fails or hangs
    past the timeout is converted again letter by letter, so a bad letter costs only itself.
    Each letter's :class:`Converted` is handed to ``on_converted``, from a worker thread, as
    soon as it is known.

    With ``chunks``, letters that can be converted as one document are: those with the same
    template parts and page setup (:func:`drafter.combine.combining_key`) and the same
    conversion path (CJK text or not) are combined, ``chunk_size`` at a time, converted once
    and split back into one PDF per letter (:mod:`drafter.pdf_split`). A chunk that fails or
    hangs is split in two and each half converted again, down to the one letter that fails on
    its own. Combining a chunk and splitting one are done while LibreOffice converts another:
    a LibreOffice is handed to the next chunk as soon as its conversion ends.

    Use it in a ``with`` block. Leaving the block normally converts what is left and waits for
    every letter; leaving it with an exception (Ctrl-C) lets the running batches finish and
    drops the others, whose letters get no result. An error of ``outdir`` itself, or one raised
    by ``on_converted``, is raised when the block ends.
    """

    def __init__(self, converter: LibreOffice, outdir: Path,
                 on_converted: Callable[[Letter, Converted], None], *, jobs: int = 0,
                 letters: int = 0, batch_size: int = 0, chunks: bool = False,
                 chunk_size: int = 0) -> None:
        """``converter`` says which LibreOffice, with which timeout and PDF version, and
        whether it is kept running (a :class:`WarmLibreOffice`); each process gets a copy of it
        with its own profile. ``jobs`` 0: one process per core. ``batch_size`` 0: chosen from
        ``letters``, how many letters will be added, so that big batches spare LibreOffice's
        start-up and enough of them keep every process busy; ``chunk_size`` 0 likewise
        (:func:`default_chunk_size`)."""
        self.converter = converter
        self.outdir = outdir
        self.on_converted = on_converted
        self.jobs = jobs or cores()
        self.batch_size = batch_size or default_batch_size(letters, self.jobs)
        self.chunks = chunks
        self.chunk_size = chunk_size or default_chunk_size(letters, self.jobs)
        self._groups: dict[Hashable, list[tuple[Path, Letter]]] = {}
        self._batch: list[tuple[Path, Letter]] = []
        self._futures: list[Future[None]] = []
        self._offices: SimpleQueue[LibreOffice] = SimpleQueue()
        self._executor: ThreadPoolExecutor | None = None
        self._resources = contextlib.ExitStack()

    def __enter__(self) -> ConversionPool[Letter]:
        with contextlib.ExitStack() as stack:
            offices = [self.converter.with_profile(profile)
                       for profile in stack.enter_context(reserved_profiles(self.jobs))]
            for office in offices:
                stack.callback(office.close)  # after the conversions, before the profiles go
            # Two threads a LibreOffice: one combines or splits while the other converts.
            self._executor = ThreadPoolExecutor(2 * self.jobs, thread_name_prefix="drafter-pdf")
            stack.callback(self._executor.shutdown, wait=True, cancel_futures=True)
            for office in offices:
                self._executor.submit(self._start, office)
            self._resources = stack.pop_all()
        return self

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        with self._resources:
            if error is None:
                for group in list(self._groups):
                    self._submit_chunk(group)  # a chunk of one joins the batch
                self._submit_batch()
                for future in self._futures:
                    future.result()

    def _start(self, office: LibreOffice) -> None:
        """Start a kept-running LibreOffice before the first letter is ready, then make it
        available to conversions; should it not start, a LibreOffice process per chunk takes
        its place (which says what is wrong, if it cannot convert either)."""
        try:
            if isinstance(office, WarmLibreOffice):
                try:
                    office.start()
                except ConversionError:  # it cannot be kept running: a process per chunk
                    office.close()
                    office = LibreOffice.with_profile(office, office.profile)  # per call
        finally:
            self._offices.put(office)

    @contextlib.contextmanager
    def _borrowed(self) -> Iterator[LibreOffice]:
        """One of the pool's LibreOffices, for one thread, until the block ends."""
        office = self._offices.get()
        try:
            yield office
        finally:
            self._offices.put(office)

    def add(self, docx: Path, letter: Letter) -> None:
        """Queue a letter's DOCX file; its batch (or chunk) starts once full (or when the block
        ends)."""
        from .combine import combining_key  # python-docx and docxcompose: only for chunks

        key = combining_key(docx) if self.chunks else None
        if key is None:
            self._batch.append((docx, letter))
            if len(self._batch) >= self.batch_size:
                self._submit_batch()
            return
        group = (key, _has_cjk_text(docx))  # the CJK path goes through ODT: not mixed
        self._groups.setdefault(group, []).append((docx, letter))
        if len(self._groups[group]) >= self.chunk_size:
            self._submit_chunk(group)

    def _submit_chunk(self, group: Hashable) -> None:
        chunk = self._groups.pop(group)
        if len(chunk) == 1:  # one letter: converted on its own, with the other such letters
            self._batch += chunk
            if len(self._batch) >= self.batch_size:
                self._submit_batch()
            return
        assert self._executor is not None, "a ConversionPool is used in a with block"
        self._futures.append(self._executor.submit(self._convert_chunk, chunk))

    def _convert_chunk(self, chunk: list[tuple[Path, Letter]]) -> None:
        """Convert letters as one document in one LibreOffice call and split the PDF; when
        that fails, each half again, and a letter that fails alone on its own."""
        todo = [chunk]
        while todo:
            part = todo.pop(0)
            if len(part) == 1:
                (docx, letter), = part
                self.on_converted(letter, self._convert_one(docx))
                continue
            try:
                letters = self._convert_combined(part)
            except ConversionError:
                half = len(part) // 2
                todo[:0] = [part[:half], part[half:]]
                continue
            for (_, letter), (pdf, pages) in zip(part, letters, strict=True):
                self.on_converted(letter, Converted(pdf, pages))

    def _convert_combined(self, part: list[tuple[Path, Letter]]) -> list[tuple[Path, int]]:
        """The letters' PDFs and page counts, from one conversion of their combined DOCX."""
        import pikepdf

        from .combine import combine_alike
        from .pdf_split import split_letters

        sources = [docx for docx, _ in part]
        try:
            self.outdir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(f"{self.outdir}: cannot write PDFs here: {e.strerror or e}") from e
        try:
            with temporary_folder(self.outdir, "chunk") as work:
                combined = combine_alike(sources, Path(work) / "letters.docx")
                with self._borrowed() as office:
                    try:
                        (pdf,) = office.convert([combined], Path(work), destinations=True)
                    except ConversionError:
                        office.reset()
                        raise
                return split_letters(pdf, sources, self.outdir)  # LibreOffice is free again
        except (ValueError, KeyError, zipfile.BadZipFile, pikepdf.PdfError) as e:
            raise ConversionError(f"the letters could not be converted together ({e})") from e

    def _submit_batch(self) -> None:
        if self._batch:
            assert self._executor is not None, "a ConversionPool is used in a with block"
            batch, self._batch = self._batch, []
            self._futures.append(self._executor.submit(self._convert, batch))

    def _convert(self, batch: list[tuple[Path, Letter]]) -> None:
        """Convert a batch in one LibreOffice call; when that fails, letter by letter."""
        with self._borrowed() as office:
            try:
                pdfs = office.convert([docx for docx, _ in batch], self.outdir)
            except ConversionError:
                office.reset()
                pdfs = []
        if not pdfs:
            for docx, letter in batch:
                self.on_converted(letter, self._convert_one(docx))
            return
        for (_, letter), pdf in zip(batch, pdfs, strict=True):
            self.on_converted(letter, Converted(pdf, page_count(pdf)))

    def _convert_one(self, docx: Path) -> Converted:
        """A letter on its own: exactly as without chunks."""
        with self._borrowed() as office:
            try:
                (pdf,) = office.convert([docx], self.outdir, destinations=False)
            except ConversionError as e:
                office.reset()
                return Converted(None, error=e)
        return Converted(pdf, page_count(pdf))


def default_batch_size(letters: int, jobs: int) -> int:
    """Letters per LibreOffice process for ``letters`` letters on ``jobs`` processes: three
    batches per process, between :data:`MIN_BATCH` and :data:`MAX_BATCH` letters each."""
    return min(MAX_BATCH, max(MIN_BATCH, -(-letters // (jobs * 3))))


def default_chunk_size(letters: int, jobs: int) -> int:
    """Letters per combined conversion for ``letters`` letters on ``jobs`` processes: two
    chunks per process, between :data:`MIN_CHUNK` and :data:`MAX_CHUNK` letters each."""
    return min(MAX_CHUNK, max(MIN_CHUNK, -(-letters // (jobs * 2))))


UNO_HINT = "sudo apt-get install python3-uno"
UNO_PYTHONS = ("/usr/bin/python3",)  # where Debian's python3-uno is importable
WARM_CONVERSIONS = 50  # conversions before a warm LibreOffice is started afresh (its memory)


def find_uno_python() -> str:
    """A Python program that can import LibreOffice's ``uno`` module.

    Raises :class:`LibreOfficeMissing`, saying how to install it, when there is none.
    """
    for candidate in dict.fromkeys((sys.executable, *UNO_PYTHONS)):
        if os.access(candidate, os.X_OK) and subprocess.run(
                [candidate, "-c", "import uno"], capture_output=True).returncode == 0:
            return candidate
    raise LibreOfficeMissing(f"LibreOffice's Python bridge (uno) was not found; install it "
                             f"with:\n  {UNO_HINT}")


class WarmLibreOffice(LibreOffice):
    """A LibreOffice kept running between conversions, for previews after every change.

    One ``soffice`` listens on a private named pipe; a small client (``office_worker.py``,
    run by a Python with LibreOffice's ``uno`` module) asks it to load each DOCX and store
    it as PDF, with the same filters and options as :class:`LibreOffice`, the CJK two-step
    included. Each conversion has its own ``timeout``: past it, LibreOffice is stopped and
    started again for the next one. After ``restart_after`` conversions it is started afresh,
    so that its memory does not grow. Not for two threads at once; :meth:`close` stops it.
    """

    def __init__(self, soffice: str | os.PathLike[str] | None = None, *,
                 timeout: float = 60.0, pdfa: bool = True, profile: Path | None = None,
                 destinations: bool = False, restart_after: int = WARM_CONVERSIONS,
                 python: str | None = None) -> None:
        super().__init__(soffice, timeout=timeout, pdfa=pdfa, profile=profile,
                         destinations=destinations)
        self.python = python or find_uno_python()
        self.restart_after = restart_after
        self.conversions = 0
        self._office: subprocess.Popen[bytes] | None = None
        self._worker: subprocess.Popen[bytes] | None = None
        self._own_profile: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> WarmLibreOffice:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop LibreOffice and its client, if running, with every process they started."""
        for process in (self._worker, self._office):
            if process is not None:
                # Even when the launcher is gone (a crash): soffice.bin may live on in its group.
                _kill_group(process)
            elif process is not None and process.stdin is not None:
                process.stdin.close()
        self._office = self._worker = None
        if self._own_profile is not None:
            self._own_profile.cleanup()
            self._own_profile = None

    def with_profile(self, profile: Path | None) -> WarmLibreOffice:
        """A LibreOffice like this one using ``profile``, kept running too (not yet started)."""
        return WarmLibreOffice(self.soffice, timeout=self.timeout, pdfa=self.pdfa,
                               profile=profile, restart_after=self.restart_after,
                               python=self.python)

    def start(self) -> None:
        """Start LibreOffice now, unless it is running (:meth:`convert` starts it when needed).
        Raises :class:`ConversionError` when it does not start."""
        if not self.running:
            self.close()
            self._start()

    def reset(self) -> None:
        """After a failed conversion: nothing while LibreOffice runs on (it said what was
        wrong); once it has been stopped (a timeout, a crash), its profile is emptied."""
        if not self.running:
            self.close()
            super().reset()

    def _start(self) -> None:
        if self.profile is None and self._own_profile is None:
            self._own_profile = tempfile.TemporaryDirectory(prefix="drafter-lo-profile-")
        profile = Path(self.profile or self._own_profile.name)  # type: ignore[union-attr]
        harden_profile(profile)  # nothing loaded from outside the documents
        pipe = f"drafter-{os.getpid()}-{secrets.token_hex(6)}"
        self._office = start_office(
            [self.soffice, f"-env:UserInstallation={profile.resolve().as_uri()}", "--headless",
             "--invisible", "--norestore", "--nologo", "--nodefault",
             f"--accept=pipe,name={pipe};urp;StarOffice.ComponentContext"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        worker = Path(__file__).with_name("office_worker.py")
        self._worker = subprocess.Popen(
            [self.python, str(worker), pipe], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, start_new_session=True)
        self.conversions = 0
        self._answer(max(self.timeout, 60.0), "start")  # {"ready": true}

    def _answer(self, timeout: float, what: str) -> dict[str, object]:
        assert self._worker is not None and self._worker.stdout is not None
        deadline = time.monotonic() + timeout
        ready: list[Any] = []
        status = None
        # In slices: a LibreOffice that ends (a crash, a program that is no LibreOffice) is
        # seen at once, not after the whole timeout.
        while not ready and status is None and (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self._worker.stdout], [], [], min(left, 0.5))
            status = self._office.poll() if self._office is not None and not ready else None
        line = self._worker.stdout.readline() if ready else b""
        if not line:
            if status is None and self._office is not None:
                status = self._office.poll()
            self.close()
            if not ready and status is None:
                raise ConversionError(f"LibreOffice took more than {timeout:g} s to {what}; "
                                      "it was stopped and no PDF was written.")
            killed = _killed_by(status) if status else ""
            raise ConversionError(f"LibreOffice stopped while it was to {what}"
                                  f"{f': it was {killed}' if killed else ''}.")
        answer: dict[str, object] = json.loads(line)
        return answer

    def _request(self, source: Path, target: Path, infilter: str, export: str,
                 options: dict[str, object]) -> str:
        """One load-and-store by the running LibreOffice; what went wrong, or ``""``."""
        assert self._worker is not None and self._worker.stdin is not None
        # Absolute: the running LibreOffice does not know this process's working folder.
        request = {"source": str(source.resolve()), "target": str(target.resolve()),
                   "import": infilter,
                   "export": export, "options": options}
        try:
            self._worker.stdin.write(json.dumps(request).encode() + b"\n")
            self._worker.stdin.flush()
        except OSError as e:  # the client died: started afresh for the next letter
            self.close()
            raise ConversionError(f"LibreOffice stopped before converting {source.name}") from e
        answer = self._answer(self.timeout, f"convert {source.name}")
        if answer.get("ok"):
            return ""
        if answer.get("stopped") or not self.running:  # it crashed while converting:
            self.close()  # started afresh for the next letter
            return f"{source}: LibreOffice stopped while converting it"
        return f"{source}: LibreOffice said: {answer.get('error')}"

    @property
    def running(self) -> bool:
        """Whether LibreOffice and its client are both running (not yet started, stopped after
        a timeout, or crashed: ``False``)."""
        return all(process is not None and process.poll() is None
                   for process in (self._office, self._worker))

    def _convert_all(self, sources: Sequence[Path], staging: Path,
                     destinations: bool) -> list[str]:
        options: dict[str, object] = {**export_options(pdfa=self.pdfa,
                                                       destinations=destinations)}
        complaints: list[str] = []
        for source in sources:
            # Started afresh between letters, never within one: when it is not running (first
            # use, a timeout, a crash) and after `restart_after` letters.
            if not self.running or self.conversions >= self.restart_after:
                self.close()
                self._start()
            self.conversions += 1
            pdf = staging / f"{source.stem}.pdf"
            if not _through_odt(source):
                complaints.append(self._request(source, pdf, DOCX_FILTER, "writer_pdf_Export",
                                                options))
                continue
            odt = staging / f"{source.stem}.odt"  # the two steps of the module docstring
            problem = self._request(source, odt, DOCX_FILTER, ODT_FILTER, {})
            if not problem:
                try:
                    _prepare_odt(odt, _page_one(source))
                except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
                    problem = f"{source}: LibreOffice wrote an unusable ODT ({e})"
            if not problem:
                problem = self._request(odt, pdf, ODT_FILTER, "writer_pdf_Export", options)
            complaints.append(problem)
        return [c for c in complaints if c]


def libreoffice_version(soffice: str | os.PathLike[str] | None = None) -> str:
    """What ``soffice --version`` says (``LibreOffice 7.4.7.2 40(Build:2)``), for a report
    of what is installed; raises :class:`LibreOfficeMissing` when there is none."""
    program = os.fspath(soffice) if soffice is not None else find_soffice()
    try:
        # The launcher is a shell script: it needs the basic tools even on a bare PATH.
        path = os.pathsep.join(filter(None, [os.environ.get("PATH"), "/usr/bin", "/bin"]))
        said = subprocess.run([program, "--version"], capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL, check=False,
                              env={**os.environ, "PATH": path}).stdout
    except (OSError, subprocess.TimeoutExpired) as e:
        raise LibreOfficeMissing(f"{program}: cannot run it ({e}). Install LibreOffice "
                                 f"with:\n  {INSTALL_HINT}") from e
    return said.strip().splitlines()[0] if said.strip() else "LibreOffice (version unknown)"
