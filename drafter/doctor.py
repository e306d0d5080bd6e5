"""What drafter needs from the machine, and whether it is there: ``drafter doctor``.

This module owns the list of outside programs and fonts drafter uses (LibreOffice and its Python
bridge, the fonts of each script its templates print, poppler, a browser for the studio's
tests), how to find each, and the Debian package that installs it.
It only looks; it installs nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from .errors import LibreOfficeMissing
from .pdf import find_soffice, find_uno_python, libreoffice_version


@dataclass(frozen=True)
class Check:
    """One thing drafter uses: what it is, what was found ("" when nothing), what it is for,
    and the Debian package that brings it."""

    name: str
    found: str
    needed_for: str
    package: str = ""  # "" when apt cannot install it
    required: bool = True  # False: only some letters or commands need it


@dataclass(frozen=True)
class _Font:
    script: str
    family: str  # the fontconfig family the built-in template's fonts resolve to
    lang: str  # a fontconfig language the font must cover
    package: str
    required: bool


# The built-in template asks for Calibri (LibreOffice substitutes the metric-compatible Carlito),
# Noto Sans CJK for East Asian text and Noto Naskh Arabic for complex scripts; Word files given
# to `drafter convert` commonly use Times New Roman, Arial (Liberation) and Cambria (Caladea).
_FONTS = (
    _Font("Latin, Greek and Cyrillic (Calibri's stand-in)", "Carlito", "en",
          "fonts-crosextra-carlito", True),
    _Font("Chinese, simplified", "Noto Sans CJK SC", "zh-cn", "fonts-noto-cjk", False),
    _Font("Chinese, traditional", "Noto Sans CJK TC", "zh-tw", "fonts-noto-cjk", False),
    _Font("Japanese", "Noto Sans CJK JP", "ja", "fonts-noto-cjk", False),
    _Font("Korean", "Noto Sans CJK KR", "ko", "fonts-noto-cjk", False),
    _Font("Arabic", "Noto Naskh Arabic", "ar", "fonts-noto-core", False),
    _Font("Hebrew", "Noto Sans Hebrew", "he", "fonts-noto-core", False),
    _Font("Devanagari", "Noto Sans Devanagari", "hi", "fonts-noto-core", False),
    _Font("Thai", "Noto Sans Thai", "th", "fonts-noto-core", False),
    _Font("Times New Roman and Arial's stand-ins (Word files)", "Liberation Serif", "en",
          "fonts-liberation", False),
    _Font("Cambria's stand-in (Word files)", "Caladea", "en", "fonts-crosextra-caladea", False),
)


def diagnose() -> list[Check]:
    """Everything drafter uses from the machine, each found or not."""
    checks = [Check("Python", f"{sys.version.split()[0]} ({sys.executable})", "drafter"),
              Check("drafter", _drafter_version(), "this report")]
    try:
        soffice = find_soffice()
        checks.append(Check("LibreOffice", f"{libreoffice_version(soffice)} ({soffice})",
                            "every PDF", "libreoffice-writer-nogui"))
    except LibreOfficeMissing:
        checks.append(Check("LibreOffice", "", "every PDF (render, merge, convert, preview)",
                            "libreoffice-writer-nogui"))
    try:
        bridge = find_uno_python()
        checks.append(Check("LibreOffice's Python bridge (uno)", f"importable by {bridge}",
                            "drafter watch and the studio's previews",
                            "python3-uno", required=False))
    except LibreOfficeMissing:
        checks.append(Check("LibreOffice's Python bridge (uno)", "",
                            "a LibreOffice kept running by drafter watch and the studio's "
                            "previews (else each save starts one)", "python3-uno",
                            required=False))
    checks += _font_checks()
    for program, purpose in (("pdftoppm", "drafter preview and the PNG of drafter watch"),
                             ("pdftotext", "the tests, which read PDFs as a reader would"),
                             ("pdffonts", "the tests, which check that fonts are embedded")):
        checks.append(Check(f"poppler ({program})", shutil.which(program) or "", purpose,
                            "poppler-utils", required=False))
    browser = next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), "")
    checks.append(Check("Chromium", browser, "only the studio's browser tests", "chromium",
                        required=False))
    return checks


def install_command(missing: Iterable[Check]) -> str:
    """The one command that installs every missing thing apt can install ("" when none):
    ``sudo apt-get install fonts-noto-cjk poppler-utils``."""
    packages = list(dict.fromkeys(c.package for c in missing if c.package))
    if not packages:
        return ""
    sudo = "" if hasattr(os, "geteuid") and os.geteuid() == 0 else "sudo "
    return f"{sudo}apt-get install {' '.join(packages)}"


def _drafter_version() -> str:
    try:
        return version("drafter")
    except PackageNotFoundError:
        return "not installed as a package (running from its source)"


def _font_checks() -> list[Check]:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return [Check("fontconfig (fc-list)", "", "finding the fonts LibreOffice uses",
                      "fontconfig")]
    checks = []
    for font in _FONTS:
        pattern = f":family={font.family}:lang={font.lang}"
        try:
            said = subprocess.run([fc_list, "--format", "%{file}\n", pattern],
                                  capture_output=True, text=True, timeout=60,
                                  check=False).stdout
        except (OSError, subprocess.TimeoutExpired):
            said = ""
        files = sorted(line for line in said.splitlines() if line.strip())
        shown = next((f for f in files if "Regular" in f), files[0]) if files else ""
        found = f"{font.family} ({shown})" if files else ""
        purpose = ("Word files that use those fonts" if "Word files" in font.script
                   else "letters in that script")
        checks.append(Check(f"font for {font.script}", found, f"{purpose} ({font.family})",
                            font.package, font.required))
    return checks
