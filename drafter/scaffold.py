"""A new template folder, copied from a built-in one, ready for an editor to change."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from .errors import OutputError
from .fields import FIELDS_NAME
from .mail import COVER_HTML, COVER_TEXT
from .template import BUILTIN_TEMPLATE, CATALOGS_DIR, DOCX_NAME, SAMPLE_NAME, find_template

_NAME = re.compile(r"^[\w][\w .-]*$")


def new_template(target: Path | str, source: str = BUILTIN_TEMPLATE) -> list[Path]:
    """Create the template folder ``target`` from ``source``: its DOCX layouts, declared
    fields, sample data, email cover message and translation catalogs. Returns the files
    written; never overwrites."""
    target = Path(target)
    if not _NAME.match(target.name):
        raise OutputError(f"{target.name!r}: a template name is letters, digits, spaces, "
                          "dots, dashes and underscores")
    if target.exists():
        raise OutputError(f"{target}: already exists; choose another name or remove it")
    template = find_template(source)
    target.mkdir(parents=True)
    written = []
    for docx in template.variants.values():
        written.append(Path(shutil.copy2(docx, target / docx.name)))
    if template.sample.is_file():
        written.append(Path(shutil.copy2(template.sample, target / SAMPLE_NAME)))
    for cover in (COVER_TEXT, COVER_HTML):  # the email cover message (docs/sending.md)
        if (template.folder / cover).is_file():
            written.append(Path(shutil.copy2(template.folder / cover, target / cover)))
    if (template.folder / FIELDS_NAME).is_file() and template.variants[""].name == DOCX_NAME:
        written.append(Path(shutil.copy2(template.folder / FIELDS_NAME, target / FIELDS_NAME)))
    if template.catalogs.is_dir():
        shutil.copytree(template.catalogs, target / CATALOGS_DIR)
        written += sorted(p for p in (target / CATALOGS_DIR).rglob("*") if p.is_file())
    assert (target / DOCX_NAME).is_file()
    return written
