"""The Jinja environment templates run in: Jinja's sandbox, bounded, with drafter's filters.

Every template (and a merge's file-name pattern) runs in a :class:`BoundedSandbox`: no Python
internals, and no repetition or power too large to compute. :func:`make_environment` binds one
locale: its gettext for ``{{ _("…") }}`` phrases, its forms for dates, lists, numbers, countries
and phone numbers, and strict undefined values, so a misspelt name is an error and never blank.
Every printed value is escaped for XML.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from .addresses import format_phone
from .locales import Localizer
from .markup import xml_text
from .wordml import Image

MAX_REPEAT = 1_000_000  # items or characters that one `*` in a template may make
MAX_EXPONENT = 1_000  # of an integer `**`: 10**1000 prints; 10**10**10 would never end


class BoundedSandbox(SandboxedEnvironment):
    """Jinja's sandbox (no Python internals, ``range`` bounded by ``MAX_RANGE``), and bounded
    repetition and powers too: ``'x' * 10**9`` and ``10**10**10`` are refused, not computed.

    Jinja never folds these operators into constants at compile time in a sandbox, so the bound
    holds for literals as well.
    """

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any,
                   right: Any) -> Any:
        """``left operator right``, refused when its result would be absurdly large."""
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                if (isinstance(sequence, str | list | tuple) and isinstance(count, int)
                        and len(sequence) * count > MAX_REPEAT):
                    raise jinja2.exceptions.SecurityError(
                        f"a repetition of {len(sequence) * count} items or characters (at most "
                        f"{MAX_REPEAT})")
        elif (operator == "**" and isinstance(left, int) and isinstance(right, int)
              and abs(left) > 1 and right > MAX_EXPONENT):
            raise jinja2.exceptions.SecurityError(f"a power of {right} (at most {MAX_EXPONENT})")
        return super().call_binop(context, operator, left, right)


def make_environment(loc: Localizer) -> SandboxedEnvironment:
    """The sandboxed Jinja environment of one locale: strict, escaping, with drafter's filters."""
    env = BoundedSandbox(
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        finalize=_finalize,
        extensions=["jinja2.ext.i18n"],
        keep_trailing_newline=True,
    )
    del env.globals["lipsum"]  # lipsum(10**6) would fill the memory; no letter needs it
    env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: xml_text(loc.phrase(message)),
        lambda singular, plural, n: xml_text(loc.ngettext(singular, plural, n)),
        newstyle=True,
    )
    env.filters.update(
        format_date=_date_filter(loc),
        format_list=lambda items, style="standard": loc.list(items, style),
        format_number=loc.number,
        country_name=loc.country,
        format_phone=lambda number, country=None: format_phone(str(number), country) or number,
        localized=loc.text,
        image=_image,
    )
    return env


def _image(value: Any, width: str | int | None = None, height: str | int | None = None) -> Image:
    """``{{ logo | image(width="3cm") }}``: an image field at a size (one length keeps the
    picture's proportion)."""
    if not isinstance(value, Image):
        raise TypeError(f"the image filter needs an image field (a picture file named in the "
                        f"data), not {type(value).__name__} {str(value)[:40]!r}")
    return value.sized(width, height)


# Jinja statements a DOCX template cannot use, and why: a template is one Word document.
_REFUSED = {
    nodes.Include: "{% include %}",
    nodes.Extends: "{% extends %}",
    nodes.Import: "{% import %}",
    nodes.FromImport: "{% from … import %}",
}


def unsupported_features(tree: nodes.Template) -> Iterator[tuple[int, str]]:
    """The Jinja features of a parsed template that drafter refuses, each with its line and a
    message naming the feature: other templates (a DOCX template is one document, found
    without a template loader) and switching escaping off (values are always text)."""
    for kind, feature in _REFUSED.items():
        for node in tree.find_all(kind):
            yield node.lineno, (f"{feature} is not supported: a template is one Word document "
                                "and reads no other template file (put an annex in the data "
                                "as a field of type document)")
    for node in tree.find_all(nodes.ScopedEvalContextModifier):
        if any(option.key == "autoescape" for option in node.options):
            yield node.lineno, ("{% autoescape %} is not supported: every value is printed as "
                                "text, escaped for Word's XML, so that data never breaks the "
                                "document")


def _date_filter(loc: Localizer) -> Any:
    def format_date(value: dt.date | str, format: str = "long") -> str:
        if isinstance(value, str):
            value = dt.date.fromisoformat(value)
        return loc.date(value, format)
    return format_date


def _finalize(value: Any) -> Any:
    # Every printed value is literal text: escaped for XML, whatever it contains.
    if isinstance(value, Markup) or hasattr(value, "__html__"):
        return value
    if isinstance(value, jinja2.Undefined):
        return xml_text(value)  # StrictUndefined: raises, naming what is undefined
    if callable(value) or isinstance(value, jinja2.runtime.TemplateReference):
        # `{{ recipient.items }}`, `{{ self }}`: a Python object's repr is never letter text.
        what = ("the template itself" if isinstance(value, jinja2.runtime.TemplateReference)
                else f"a function ({getattr(value, '__name__', type(value).__name__)})")
        raise TypeError(f"{what} is not a value to print")
    return xml_text(value)
