"""drafter: ready-to-send letters from YAML data and DOCX templates.

The pipeline, one module per stage:

    loading   read YAML, keep line numbers, validate into the model   (model.py)
    context   the letter's values in its language                       (locales.py, addresses.py,
                                                                          markup.py)
    template  find a template: its layouts per language, catalogs, sample
    compiled  compile a layout once per locale, render it into DOCX bytes    (docx_parts.py,
                                                                          sandbox.py, wordml.py,
                                                                          package.py)
    pdf       LibreOffice turns DOCX files into PDF/A, in a pool of processes for many
    render    one letter, end to end, written to files                  (files.py)
    merge     many letters from one case and a recipients file          (manifest.py,
                                                                          combine.py)
    watch     render again on every save, telling callbacks what happened
    cli       the `drafter` command

Everything a user can get wrong raises a :class:`DrafterError` whose message says where; its
problems keep the place (:class:`Location`), field and record as data.
"""

from .errors import (
    ConversionError,
    DataError,
    DrafterError,
    LibreOfficeMissing,
    LocaleError,
    Location,
    OutputError,
    Problem,
    TemplateError,
    ValidationError,
)
from .loading import load_letter, read_letter
from .model import Letter
from .render import RenderedLetter, render_file, render_letter, write_letter
from .template import find_template

__all__ = [
    "ConversionError",
    "DataError",
    "DrafterError",
    "Letter",
    "LibreOfficeMissing",
    "LocaleError",
    "Location",
    "OutputError",
    "Problem",
    "RenderedLetter",
    "TemplateError",
    "ValidationError",
    "find_template",
    "load_letter",
    "read_letter",
    "render_file",
    "render_letter",
    "write_letter",
]
