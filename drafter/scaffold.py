"""A new template folder, copied from a built-in one, ready for an editor to change."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from .errors import OutputError
from .fields import FIELDS_NAME
from .files import temporary_folder
from .mail import COVER_HTML, COVER_TEXT
from .template import (
    BUILTIN_TEMPLATE,
    CATALOGS_DIR,
    DOCX_NAME,
    SAMPLE_NAME,
    LetterTemplate,
    find_template,
)

_NAME = re.compile(r"^[\w][\w .-]*$")


def new_template(target: Path | str, source: str = BUILTIN_TEMPLATE) -> list[Path]:
    """Create the template folder ``target`` from ``source``: its DOCX layouts, declared
    fields, sample data, email cover message and translation catalogs. Returns the files
    written; never overwrites."""
    target = Path(target)
    if not _NAME.match(target.name):
        raise OutputError(f"{target.name!r}: a template name is letters, digits, spaces, "
                          "dots, dashes and underscores")
    if os.path.lexists(target):
        if target.is_symlink() and not target.exists():
            raise OutputError(f"{target}: a symbolic link to {os.readlink(target)}, which does "
                              "not exist; choose another name or remove the link")
        raise OutputError(f"{target}: already exists; choose another name or remove it")
    for folder in target.parents:  # the nearest that exists must be a folder
        if os.path.lexists(folder):
            if not folder.is_dir():
                raise OutputError(f"{folder}: a file, not a folder: the template folder "
                                  f"{target} cannot be made in it; choose another place")
            break
    template = find_template(source)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # Made aside and renamed when complete: a failure leaves no half-made template.
        with temporary_folder(target.parent, "new") as work:
            made = Path(work) / target.name
            _copy_template(template, made)
            written = [target / path.relative_to(made) for path in _files_in(made)]
            os.rename(made, target)
    except (OSError, shutil.Error) as e:
        where = getattr(e, "filename", None) or target
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise OutputError(f"{where}: cannot create the template folder here: {why}") from e
    return written


def _copy_template(template: LetterTemplate, made: Path) -> None:
    made.mkdir()
    for docx in template.variants.values():
        shutil.copy2(docx, made / docx.name)
    if template.sample.is_file():
        shutil.copy2(template.sample, made / SAMPLE_NAME)
    for cover in (COVER_TEXT, COVER_HTML):  # the email cover message (docs/sending.md)
        if (template.folder / cover).is_file():
            shutil.copy2(template.folder / cover, made / cover)
    if (template.folder / FIELDS_NAME).is_file() and template.variants[""].name == DOCX_NAME:
        shutil.copy2(template.folder / FIELDS_NAME, made / FIELDS_NAME)
    if template.catalogs.is_dir():
        shutil.copytree(template.catalogs, made / CATALOGS_DIR, ignore=_not_files)
    assert (made / DOCX_NAME).is_file()


def _not_files(folder: str, names: list[str]) -> set[str]:
    """What a copied catalog folder leaves out: anything but folders and regular files (a
    FIFO, a device), so that copying never blocks nor reads without end."""
    return {name for name in names if not (os.path.isdir(os.path.join(folder, name))
                                           or os.path.isfile(os.path.join(folder, name)))}


def _files_in(folder: Path) -> list[Path]:
    """The files of a folder made by :func:`_copy_template`, layouts first, as written."""
    top = sorted(p for p in folder.iterdir() if p.is_file())
    return top + sorted(p for p in folder.rglob("*") if p.is_file() and p.parent != folder)
