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

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

    __version__: str

# Where each name of the API lives: its module is imported when the name is first used, so
# that `drafter --help` (and a command that needs none of it) starts without Babel, pydantic,
# python-docx or the PDF libraries.
_HOMES = {
    "check_template": "authoring", "template_variables": "authoring",
    **dict.fromkeys(["ConversionError", "DataError", "DrafterError", "LibreOfficeMissing",
                     "LocaleError", "Location", "OutputError", "Problem", "TemplateError",
                     "UsageError", "ValidationError"], "errors"),
    "load_letter": "loading", "read_letter": "loading",
    "MergeOptions": "merge", "MergeReport": "merge", "merge": "merge",
    "Letter": "model", "preview": "preview",
    **dict.fromkeys(["RenderedLetter", "convert_docx", "output_target", "render_file",
                     "render_letter", "write_letter"], "render"),
    "new_template": "scaffold", "find_template": "template",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("drafter")
        except PackageNotFoundError:  # run from a source tree that was never installed
            return "0+unknown"
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'drafter' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value  # once found, an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(types.ModuleType):
    """The package, whose ``merge`` and ``preview`` stay the API's functions.

    Importing a submodule binds it as an attribute of its package: ``import drafter.merge``
    anywhere would otherwise make ``drafter.merge`` the module instead of the function."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _HOMES.get(name) == name:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


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
