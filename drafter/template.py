"""Letter templates on disk: finding them, and their layouts, catalogs and sample data.

A template is a folder: ``letter.docx`` (the default layout), optional variants per language
(``letter.zh_Hans.docx``), translation catalogs for its fixed phrases (``locales/``) and a sample
data file (``sample.yaml``). A single ``.docx`` file works too. Built-in templates are found by
name. Compiling and rendering a layout is :mod:`drafter.compiled`'s job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import Location, Problem, TemplateError
from .locales import Localizer, negotiate

DOCX_NAME = "letter.docx"
SAMPLE_NAME = "sample.yaml"
CATALOGS_DIR = "locales"
BUILTIN_TEMPLATE = "advocacy-letter"


def builtin_templates_dir() -> Path:
    """The folder holding the templates that ship with drafter."""
    installed = Path(__file__).parent / "builtin_templates"
    return installed if installed.is_dir() else Path(__file__).parent.parent / "templates"


@dataclass(frozen=True)
class LetterTemplate:
    """A letter template on disk: its layouts per language, its catalogs, its sample data."""

    name: str
    folder: Path
    variants: Mapping[str, Path]  # locale identifier ("" for the default) -> DOCX file

    @property
    def catalogs(self) -> Path:
        """The folder of ``<locale>/LC_MESSAGES/messages.po`` catalogs."""
        return self.folder / CATALOGS_DIR

    @property
    def sample(self) -> Path:
        """The sample data file that shows what the template expects."""
        return self.folder / SAMPLE_NAME

    def docx_for(self, loc: Localizer) -> Path:
        """The layout for a locale: its own variant when there is one, else the default."""
        chosen = negotiate(loc.locale, [k for k in self.variants if k])
        return self.variants[chosen or ""]


def find_template(spec: str | Path | None = None) -> LetterTemplate:
    """The template named by ``spec``: a built-in name, a folder, or a ``.docx`` file."""
    spec = spec or BUILTIN_TEMPLATE
    path = Path(spec)
    if not path.exists() and not path.suffix and "/" not in str(spec):
        path = builtin_templates_dir() / str(spec)
    if path.is_file():
        if path.suffix.lower() not in (".docx", ".dotx"):
            raise TemplateError([Problem(Location(str(path)), "", _not_docx_message(path))])
        return LetterTemplate(path.stem, path.parent, {"": path})
    if path.is_dir():
        variants = {_variant_locale(p.name): p for p in sorted(path.glob("letter*.docx"))}
        if "" not in variants:
            raise TemplateError([Problem(Location(str(path)), "",
                                         f"no {DOCX_NAME} in the template folder")])
        return LetterTemplate(path.name, path, variants)
    builtin = ", ".join(sorted(p.name for p in builtin_templates_dir().iterdir() if p.is_dir()
                               and (p / DOCX_NAME).is_file()))
    raise TemplateError([Problem(Location(str(spec)), "", f"no such template; built-in templates: "
                                 f"{builtin}, or give the path of a folder or .docx file")])


def _variant_locale(filename: str) -> str:
    # letter.docx -> "", letter.zh_Hans.docx -> "zh_Hans"
    middle = filename[len("letter"):-len(".docx")]
    return middle.lstrip(".")


def _not_docx_message(path: Path) -> str:
    if path.suffix.lower() in (".docm", ".dotm"):
        return "macro-enabled documents are refused; save the template as .docx"
    return "a template must be a Word document (.docx)"
