"""Translation catalogs: finding the fixed phrases of a DOCX template for Babel's tools.

Registered as the Babel extraction method ``drafter_docx`` (see ``pyproject.toml``), so that
``pybabel extract`` reads the ``{{ _("Re: %(subject)s", subject=subject) }}`` phrases of Word
templates as it reads Python or Jinja files. ``docs/translating.md`` has the whole workflow.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

from jinja2.ext import babel_extract

from .docx_parts import is_templated, jinja_source


def docx_jinja_source(archive: zipfile.ZipFile) -> str:
    """The Jinja source of a DOCX's templated parts, one paragraph a line, tags unsplit."""
    return "\n".join(jinja_source(archive.read(name))[0] for name in archive.namelist()
                     if is_templated(name))


def extract_docx(fileobj: IO[bytes], keywords: Collection[str], comment_tags: Collection[str],
                 options: Mapping[str, Any]) -> Iterator[tuple[int, str, Any, list[str]]]:
    """Babel extractor: the translatable phrases of a DOCX template, with paragraph numbers."""
    with zipfile.ZipFile(fileobj) as archive:
        source = docx_jinja_source(archive)
    jinja_options = {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true",
                     **dict(options)}
    yield from babel_extract(io.BytesIO(source.encode("utf-8")), list(keywords),
                             list(comment_tags), jinja_options)
