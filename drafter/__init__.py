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
                                                                          combine.py,
                                                                          outputs.py)
    watch     render again on every save, telling callbacks what happened
    cli       the `drafter` command

Everything a user can get wrong raises a :class:`DrafterError` whose message says where; its
problems keep the place (:class:`Location`), field and record as data. Warnings are returned,
never printed: ``load_letter(...).warnings``, ``RenderedLetter.warnings``,
``MergeReport.warnings``. Every path may be given as a ``str`` or a ``Path``. The API is
described, with examples the tests run, in docs/api.md.
"""

from importlib.metadata import PackageNotFoundError, version

from .authoring import check_template, template_variables
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
    UsageError,
    ValidationError,
)
from .loading import load_letter, read_letter
from .merge import MergeOptions, MergeReport, merge
from .model import Letter
from .preview import preview
from .render import (
    RenderedLetter,
    convert_docx,
    output_target,
    render_file,
    render_letter,
    write_letter,
)
from .scaffold import new_template
from .template import find_template

try:
    __version__ = version("drafter")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "ConversionError",
    "DataError",
    "DrafterError",
    "Letter",
    "LibreOfficeMissing",
    "LocaleError",
    "Location",
    "MergeOptions",
    "MergeReport",
    "OutputError",
    "Problem",
    "RenderedLetter",
    "TemplateError",
    "UsageError",
    "ValidationError",
    "__version__",
    "check_template",
    "convert_docx",
    "find_template",
    "load_letter",
    "merge",
    "new_template",
    "output_target",
    "preview",
    "read_letter",
    "render_file",
    "render_letter",
    "template_variables",
    "write_letter",
]
