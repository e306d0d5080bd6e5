"""The Jinja environment templates run in: Jinja's sandbox, bounded, with drafter's filters.

Every template (and a merge's file-name pattern) runs in a :class:`BoundedSandbox`: no Python
internals, and every render held to its :class:`TemplateLimits`: the size of each value it makes
and of all of them, its steps and its CPU time, measured by design wherever a value is made (a
filter, a call, an operator, ``~``, a printed value), not by listing dangerous operations.
:func:`make_environment` binds one locale: its gettext for ``{{ _("…") }}`` phrases, its forms
for dates, lists, numbers, countries and phone numbers, and strict undefined values, so a
misspelt name is an error and never blank.
Every printed value is escaped for XML.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import _PassArg
from markupsafe import Markup

from .addresses import format_phone
from .locales import Localizer
from .markup import xml_text
from .wordml import Image


@dataclass(frozen=True)
class TemplateLimits:
    """What one render of a template part (a letter's body, a header…, or a merge's file-name
    pattern) may make and spend. Every value the template makes is measured (the results of
    filters, calls, methods, operators and ``~``, and every printed value), every loop round,
    call and operation is a step, and the CPU time is checked at each step; an operation whose
    arguments ask for more (a width, a count, a format's padding) is refused before it runs."""

    value_size: int = 1_000_000  # characters, items or digits of any one value it makes
    total_size: int = 50_000_000  # characters, items and digits of all the values it makes
    predicted_size: int = 100_000_000  # an operation whose inputs multiply beyond: not run
    steps: int = 5_000_000  # loop rounds, calls, filters and operations
    cpu_seconds: float = 30.0


class TemplateLimitExceeded(jinja2.exceptions.SecurityError):
    """A render went beyond its :class:`TemplateLimits`; the message says which, in numbers."""


_LOOP_HINT = "a loop that runs too long or grows a value?"


class RenderBudget:
    """What one render has made and spent so far, against its :class:`TemplateLimits`."""

    def __init__(self, limits: TemplateLimits) -> None:
        self.limits = limits
        self.made = 0
        self.steps = 0
        self.deadline = time.thread_time() + limits.cpu_seconds

    def step(self) -> None:
        """One loop round, call or operation; the CPU time is checked every 64 steps."""
        self.steps += 1
        if self.steps > self.limits.steps:
            raise TemplateLimitExceeded(
                f"more than {self.limits.steps:,} steps in this part (loop rounds, calls, "
                f"filters and operations; at most {self.limits.steps:,}): {_LOOP_HINT}")
        if not self.steps & 63 and time.thread_time() > self.deadline:
            raise TemplateLimitExceeded(
                f"more than {self.limits.cpu_seconds:g} seconds of CPU time in this part "
                f"(at most {self.limits.cpu_seconds:g}): {_LOOP_HINT}")

    def made_value(self, value: Any, what: str) -> Any:
        """``value``, made by ``what`` (``the filter center``, ``~``), counted; refused when it
        is larger than one value may be, or when the render has made too much in all."""
        self.step()
        size = self.check_size(value, what)
        self.made += size
        if self.made > self.limits.total_size:
            raise TemplateLimitExceeded(
                f"the values made in this part come to more than {self.limits.total_size:,} "
                f"characters, items and digits (at most {self.limits.total_size:,}), the last "
                f"by {what}: {_LOOP_HINT}")
        return value

    def check_size(self, value: Any, what: str) -> int:
        """The size of ``value``, refused when it is larger than one value may be."""
        size = _size(value)
        if size > self.limits.value_size:
            raise TemplateLimitExceeded(
                f"{what} makes a value of {size:,} {_unit(value)} (at most "
                f"{self.limits.value_size:,} in one value)")
        return size

    def before(self, what: str, inputs: list[Any], counts: list[Any], *,
               multiplies: bool = True) -> None:
        """Refuse an operation before it runs when its arguments ask for a result larger than
        any value may be: a number (a width, a count) beyond the value size given to an
        operation on a text or collection, or sizes that multiply beyond the predicted size
        (a long separator joining a long list, a wide indent of many lines)."""
        self.step()
        if inputs and isinstance(inputs[0], _SIZED):
            for count in counts:
                if _is_int(count) and abs(count) > self.limits.value_size:
                    raise TemplateLimitExceeded(
                        f"{what} is given the number {count:,} (a width or count; at most "
                        f"{self.limits.value_size:,} on a text or list)")
        if not multiplies:  # a list's append or extend: its size is measured after
            return
        sizes = sorted([_estimate(v) for v in inputs if isinstance(v, _SIZED)], reverse=True)
        if sizes and sizes[0] > self.limits.predicted_size:  # `[big] * 1000`, joined
            raise TemplateLimitExceeded(
                f"{what} on a value of about {sizes[0]:,} characters (a list of long texts; "
                f"at most {self.limits.predicted_size:,} are tried)")
        if inputs and isinstance(inputs[0], _SIZED):  # a width or count times the text
            sizes = sorted(sizes + [abs(n) for n in counts if _is_int(n)], reverse=True)
        if len(sizes) > 1 and sizes[0] * max(sizes[1], 1) > self.limits.predicted_size:
            raise TemplateLimitExceeded(
                f"{what} on sizes of {sizes[0]:,} and {sizes[1]:,} (characters or items of "
                f"its values, a width or count) could make {sizes[0] * sizes[1]:,} (at most "
                f"{self.limits.predicted_size:,} are tried)")

    def format_widths(self, what: str, spec: str, arguments: list[Any]) -> None:
        """Refuse a format (``'%1000000000s'``, ``'{:>1000000000}'``) whose padding or
        precision is larger than any value may be, before it is applied."""
        numbers = [int(n) for found in _FORMAT_NUMBER.findall(spec) for n in found if n]
        if "*" in spec or _NESTED_FIELD.search(spec):
            numbers += [a for a in arguments if _is_int(a)]  # '%*s', '{:{width}}'
        for number in numbers:
            if abs(number) > self.limits.value_size:
                raise TemplateLimitExceeded(
                    f"{what} pads or extends to {number:,} characters (at most "
                    f"{self.limits.value_size:,} in one value)")


_SIZED = (str, bytes, list, tuple, dict, set, frozenset, range)
# Widths and precisions in printf (`%-10.2f`) and str.format (`{:>10}`, `{0:,.2f}`) formats.
_FORMAT_NUMBER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\d+)?(?:\.(\d+))?"
                            r"|\{[^{}:]*:[^{}]*?(\d+)(?:[,_]?\.(\d+))?[^{}]*\}")
_NESTED_FIELD = re.compile(r"\{[^{}]*\{")  # '{:{width}}': the width is an argument


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _size(value: Any) -> int:
    """Characters of a text, items of a collection, digits of a number."""
    if isinstance(value, _SIZED):
        return len(value)
    if _is_int(value):
        return abs(value).bit_length() * 3 // 10
    return 0


def _estimate(value: Any) -> int:
    """The size of a value, a collection's texts included, from its first items: a list of
    one long text repeated is as large as all its copies."""
    if isinstance(value, list | tuple) and value:
        longest = max((len(item) for item in value[:16] if isinstance(item, str)), default=0)
        return len(value) * (1 + longest)
    return _size(value)


def _unit(value: Any) -> str:
    return "characters" if isinstance(value, str | bytes) else (
        "digits" if _is_int(value) else "items")


def _budget(context: Any) -> RenderBudget:
    return cast(_BudgetedContext, context).budget


class _BudgetedContext(jinja2.runtime.Context):
    """A render's context, with the budget of that render."""

    def __init__(self, environment: jinja2.Environment, *args: Any, **kwargs: Any) -> None:
        super().__init__(environment, *args, **kwargs)
        self.budget = RenderBudget(getattr(environment, "limits", None) or TemplateLimits())


class _BoundedCode(CodeGenerator):
    """Jinja's code generator, with ``~`` measured and every loop round counted."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loop_sequences: set[int] = set()  # the nodes of the `for` loops' sequences

    def visit(self, node: nodes.Node, *args: Any, **kwargs: Any) -> Any:
        if id(node) not in self.loop_sequences:
            return super().visit(node, *args, **kwargs)
        self.write("environment.rounds(context, ")
        super().visit(node, *args, **kwargs)
        self.write(")")
        return None

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.made(context, ")
        super().visit_Concat(node, frame)
        self.write(", '`~`')")

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        self.loop_sequences.add(id(node.iter))
        super().visit_For(node, frame)


class _BoundedFilters(dict[str, Any]):
    """An environment's filters: each one added is measured, before and after it runs."""

    def __init__(self, filters: dict[str, Any]) -> None:
        super().__init__()
        self.update(filters)

    def __setitem__(self, name: str, function: Any) -> None:
        super().__setitem__(name, _bounded_filter(name, function))

    def update(self, *args: Any, **kwargs: Any) -> None:
        for name, function in dict(*args, **kwargs).items():
            self[name] = function


def _bounded_filter(name: str, function: Any) -> Any:
    if getattr(function, "_drafter_bounded", False):
        return function
    passed = _PassArg.from_obj(function)
    what = f"the filter {name}"

    @functools.wraps(function)
    def bounded(context: jinja2.runtime.Context, *args: Any, **kwargs: Any) -> Any:
        budget = _budget(context)
        if name == "format" and args and isinstance(args[0], str):
            budget.format_widths(what, args[0], [*args[1:], *kwargs.values()])
        else:
            budget.before(what, list(args), [*args[1:], *kwargs.values()])
        first: tuple[Any, ...] = ()
        if passed is _PassArg.context:
            first = (context,)
        elif passed is _PassArg.eval_context:
            first = (context.eval_ctx,)
        elif passed is _PassArg.environment:
            first = (context.environment,)
        return budget.made_value(function(*first, *args, **kwargs), what)

    bounded.jinja_pass_arg = _PassArg.context  # type: ignore[attr-defined]
    bounded._drafter_bounded = True  # type: ignore[attr-defined]
    return bounded


class BoundedSandbox(SandboxedEnvironment):
    """Jinja's sandbox (no Python internals, ``range`` bounded by ``MAX_RANGE``), with every
    render held to :class:`TemplateLimits`: what it makes, how many steps it takes, how much
    CPU time it spends. ``'x' * 10**9``, ``subject|center(10**9)`` and ``10**10**10`` are
    refused before they are computed, a loop doubling a text once it is too long.

    Jinja never folds operators or these filters into constants at compile time in a sandbox,
    so the bounds hold for literals as well.
    """

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})
    code_generator_class = _BoundedCode
    context_class = _BudgetedContext

    def __init__(self, *args: Any, limits: TemplateLimits | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits or TemplateLimits()
        self.filters = _BoundedFilters(self.filters)

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any,
                   right: Any) -> Any:
        """``left operator right``, refused when its result would be too large."""
        budget = _budget(context)
        what = f"`{operator}`"
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                if isinstance(sequence, str | list | tuple) and _is_int(count):
                    size = _estimate(sequence) * count
                    if size > self.limits.value_size:
                        raise TemplateLimitExceeded(
                            f"a repetition of {size:,} items or characters (at most "
                            f"{self.limits.value_size:,} in one value)")
        elif operator == "**" and _is_int(left) and _is_int(right) and abs(left) > 1:
            digits = right * max(_size(left), 1)
            if digits > self.limits.value_size:
                raise TemplateLimitExceeded(
                    f"a power of {right:,} of a {_size(left) or 1:,}-digit number makes "
                    f"about {digits:,} digits (at most {self.limits.value_size:,} in one "
                    "value)")
        elif operator == "%" and isinstance(left, str):
            budget.format_widths(what, left, list(right) if isinstance(right, tuple)
                                 else [right])
        budget.step()  # `+` and the others make at most the sum of their sizes: measured after
        return budget.made_value(super().call_binop(context, operator, left, right), what)

    def call(__self, __context: jinja2.runtime.Context, __obj: Any,
             *args: Any, **kwargs: Any) -> Any:
        """A call from the template (a method, a macro, ``range``…), measured."""
        budget = _budget(__context)
        name = getattr(__obj, "__name__", type(__obj).__name__)
        # str.format comes wrapped by the sandbox: the text it formats is the wrapped method's.
        owner = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
        what = (f"the macro {name}" if isinstance(__obj, jinja2.runtime.Macro)
                else f"{type(owner).__name__}.{name}" if isinstance(owner, _SIZED)
                else name)
        if name in ("format", "format_map") and isinstance(owner, str):
            budget.format_widths(what, owner, [*args, *kwargs.values()])
        elif isinstance(owner, list | dict | set):  # append, extend, update: they add
            budget.before(what, [owner], [*args, *kwargs.values()], multiplies=False)
        elif not isinstance(__obj, jinja2.runtime.Macro):
            inputs = [owner, *args] if isinstance(owner, _SIZED) else list(args)
            budget.before(what, inputs, [*args, *kwargs.values()] if isinstance(
                owner, _SIZED) else [])
        result = budget.made_value(super().call(__context, __obj, *args, **kwargs), what)
        if isinstance(owner, list | dict | set):  # the value grew: measured, made no new one
            budget.check_size(owner, what)
        return result

    def made(self, context: jinja2.runtime.Context, value: Any, what: str) -> Any:
        """``value``, made by ``what`` in the template, measured against the budget."""
        return _budget(context).made_value(value, what)

    def rounds(self, context: jinja2.runtime.Context, sequence: Any) -> Iterator[Any]:
        """The items of a loop's sequence, each round a step of the render."""
        budget = _budget(context)
        for item in sequence:
            budget.step()
            yield item


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


@jinja2.pass_context
def _finalize(context: jinja2.runtime.Context, value: Any) -> Any:
    # Every printed value is measured (a {% set %} block holds what it prints) and literal
    # text: escaped for XML, whatever it contains.
    _budget(context).made_value(value, "printing a value")
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
