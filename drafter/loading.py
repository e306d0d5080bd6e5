"""Reading letter data from YAML, keeping where every value came from.

YAML is composed into nodes with a local safe loader and turned into plain Python values by hand,
so that every value's ``file:line:column`` is known when validation reports a problem. Scalars
stay text (``country: NO`` is Norway, ``postal_code: 01234`` keeps its zero); the data model
converts dates and numbers itself.

This module owns reading data files (UTF-8 text, YAML with positions) and validating plain data
against the model, each problem placed at its :class:`~drafter.errors.Location`.
"""

from __future__ import annotations

import bisect
import contextlib
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import pydantic
import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from .addresses import format_phone
from .errors import DataError, Location, Problem, did_you_mean, sorted_problems
from .files import open_regular, read_bounded
from .markup import (
    ParagraphWriter,
    find_control_characters,
    has_control_characters,
    strip_control_characters,
)
from .model import CONTACT_KINDS, Letter
from .package import MAX_TOTAL_BYTES
from .wordml import MAX_IMAGE_BYTES

FieldPath = tuple[str | int, ...]
Locate = Callable[[FieldPath], Location]  # where a field of some data came from
ModelT = TypeVar("ModelT", bound=pydantic.BaseModel)

MAX_BYTES = 20 * 1024 * 1024  # a data file read whole (a letter, a case); one recipient
MAX_VALUES = 200_000  # keys, values and list items written in a file read whole
MAX_RECORD_VALUES = 10_000  # ... in one recipient of a recipients file, read one at a time
MAX_LIST_BYTES = 1 << 30  # a recipients YAML file, read one recipient at a time: 1 GiB
MAX_ALIAS_VALUES = 100_000  # values that aliases (*name, <<: *name) bring in, file or recipient


_PLAIN_TAGS = {"!", *(f"tag:yaml.org,2002:{name}" for name in
                      ("str", "int", "float", "bool", "null", "timestamp", "map", "seq"))}
_CONTROL_REMOVED = "invisible control characters removed (they cannot be stored in a document)"
# Files that are documents, not data: a Word file given where a letter's data belongs.
_DOCUMENT_SUFFIXES = (".docx", ".docm", ".dotx", ".doc", ".odt", ".rtf", ".pdf")
_ZIP_MAGIC = b"PK\x03\x04"
# A person's contact written as a field of its own (`email: …`), and what it is called there.
_CONTACT_FIELDS: dict[str, str] = {**{kind: kind for kind in CONTACT_KINDS}, "tel": "phone",
                                   "telephone": "phone", "mobile": "phone", "e-mail": "email",
                                   "mail": "email"}


class _Counted:
    """A loader that counts the values it composes and refuses more than ``limit``: the
    memory a file takes is bounded before it is taken."""

    def counting(self, path: Path, limit: int = MAX_VALUES, what: str = "the file") -> None:
        self.path = path
        self.written = 0
        self.limit = limit
        self.what = what  # "the file", "recipient 12": what the limit is of

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        loader = cast(Any, self)
        if not loader.check_event(yaml.AliasEvent):  # an alias composes nothing new
            self.written += 1
            if self.written > self.limit:
                mark = loader.peek_event().start_mark
                raise DataError([Problem(
                    Location(str(self.path), mark.line + 1, mark.column + 1), "",
                    f"{self.what} holds more than {self.limit:,} values (keys, values and list "
                    f"items as written; at most {self.limit:,}"
                    + (" in one recipient)" if self.limit == MAX_RECORD_VALUES else
                       " in a data file; a list of recipients goes in a recipients file, "
                       "read one at a time)"))])
        return cast(yaml.Node, super().compose_node(parent, index))  # type: ignore[misc]


class _SafeLoader(_Counted, yaml.SafeLoader):
    """A safe loader of our own, so that nothing we change leaks into PyYAML's global one."""

    def __init__(self, stream: Any, path: Path) -> None:
        yaml.SafeLoader.__init__(self, stream)
        self.counting(path)


if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class _StreamLoader(_Counted, Composer, CParser, SafeConstructor, Resolver):
        """The same, on libyaml's parser (about ten times as fast): for recipients files,
        which may hold 100,000 records."""

        def __init__(self, stream: Any, path: Path) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self.counting(path)
else:  # pragma: no cover - PyYAML built without libyaml
    _StreamLoader = _SafeLoader  # type: ignore[misc,assignment]


@dataclass(frozen=True)
class SourceData:
    """Plain data read from a file, with the position of every mapping key and value."""

    path: Path
    value: Any
    positions: dict[FieldPath, tuple[int, int]]  # field path -> (line, column), 1-based
    problems: tuple[Problem, ...] = ()  # found while reading (duplicate keys, odd tags)

    def where(self, field: FieldPath) -> Location:
        """The line and column of a field, or of its nearest enclosing field that exists."""
        for end in range(len(field), -1, -1):
            if field[:end] in self.positions:
                line, column = self.positions[field[:end]]
                return Location(str(self.path), line, column)
        return Location(str(self.path))


def read_text(path: Path) -> str:
    """The text of a data file, with a clear error for files that are not UTF-8 text."""
    raw = read_bounded(path, MAX_BYTES)  # a regular file, at most MAX_BYTES of it
    if path.suffix.lower() in _DOCUMENT_SUFFIXES or raw.startswith(_ZIP_MAGIC):
        raise DataError([Problem(Location(str(path)), "", _not_data(path))])
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a UTF-8 byte-order mark, as Windows editors write it, is harmless
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataError([Problem(Location(str(path), line), "",
                                 "the file is not UTF-8 text; save it "
                                 "as UTF-8 (in Excel: CSV UTF-8)")]) from e


def _not_data(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".docx", ".docm", ".dotx") or (not suffix and path.is_file()):
        return ("this is a Word document, not letter data (YAML); to make a ready-to-send "
                f"PDF of it, run: drafter convert {path}")
    if suffix == ".pdf":
        return "this is a PDF, not letter data (YAML); the data is a .yaml file"
    return (f"this is a {suffix or 'zip'} document, not letter data (YAML); to make a PDF of it, "
            "save it as .docx and run: drafter convert FILE.docx")


def load_yaml(path: Path, text: str | None = None) -> SourceData:
    """Read a YAML file into plain data and positions; syntax errors say line and column.

    ``text``: the file's content as it is being edited (the studio's editor), read as if it
    were at ``path``; ``None``: what is on disk.
    """
    if text is not None and len(text.encode("utf-8")) > MAX_BYTES:
        raise DataError([Problem(Location(str(path)), "",
                                 f"file is larger than {MAX_BYTES >> 20} MiB")])
    original = read_text(path) if text is None else text.removeprefix("\ufeff")
    # PyYAML refuses a file holding a raw control character (pasted from a PDF or a
    # spreadsheet); drafter removes it with a warning naming the field, as for CSV cells.
    found = find_control_characters(original)
    text = strip_control_characters(original) if found else original
    removed = [offset - i for i, offset in enumerate(found)]  # offsets in `text`
    loader = None
    try:
        with _yaml_problems(path):
            loader = _SafeLoader(text, path)
            node = loader.get_single_node()
    finally:
        if loader is not None:
            loader.dispose()
    positions: dict[FieldPath, tuple[int, int]] = {}
    problems: list[Problem] = []
    builder = _Builder(path, loader, positions, problems, removed)
    try:
        value = None if node is None else builder.build(node, ())
    except RecursionError as e:
        raise DataError([Problem(Location(str(path)), "",
                                 "the values are nested too deeply")]) from e
    for offset, index in zip(found, removed, strict=True):
        if index not in builder.claimed:  # in a key or a comment: no field to name
            line = original.count("\n", 0, offset) + 1
            column = offset - original.rfind("\n", 0, offset)
            problems.append(Problem(Location(str(path), line, column), "", _CONTROL_REMOVED,
                                    severity="warning"))
    return SourceData(path, value, positions, tuple(problems))


@dataclass(frozen=True)
class YamlItem:
    """One item of a YAML list read one at a time: its place in the file, its plain data, the
    problems found while reading it, and where each of its fields came from."""

    index: int  # 0-based, in the list
    field: FieldPath  # the item's own path: (index,) or ("recipients", index)
    value: Any
    source: SourceData  # positions of this item's fields (and problems), by full path


class _CleanText:
    """A UTF-8 text file read in pieces, its invisible control characters taken out (each
    one's place noted), at most ``limit`` characters from the current item's start."""

    def __init__(self, path: Path, file: Any) -> None:
        self.path = path
        self.file = file
        self.read_so_far = 0  # characters handed to the YAML reader, control ones taken out
        self.line, self.column = 1, 0  # of the original text, where the next piece starts
        self.removed: list[int] = []  # offsets (in the text handed over) of removed characters
        self.places: list[tuple[int, int]] = []  # ... and their line and column in the file
        self.limit_at: int | None = None
        self.item, self.item_line = "", 1  # the item being read ("recipient 12"), its line

    def read(self, size: int) -> str:
        try:
            piece = self.file.read(size)
        except UnicodeDecodeError as e:
            raise DataError([Problem(Location(str(self.path), self.line), "",
                                     "the file is not UTF-8 text; save it as UTF-8 "
                                     "(in Excel: CSV UTF-8)")]) from e
        for i, offset in enumerate(find_control_characters(piece)):
            before = piece.rfind("\n", 0, offset)
            self.removed.append(self.read_so_far + offset - i)
            self.places.append((self.line + piece.count("\n", 0, offset),
                                offset - before if before >= 0 else self.column + offset + 1))
        if "\n" in piece:
            self.line += piece.count("\n")
            self.column = len(piece) - piece.rfind("\n") - 1
        else:
            self.column += len(piece)
        piece = strip_control_characters(piece)
        self.read_so_far += len(piece)
        if self.limit_at is not None and self.read_so_far > self.limit_at:
            raise DataError([Problem(Location(str(self.path), self.item_line), "",
                                     f"{self.item} is larger than {MAX_BYTES >> 20} MiB (at "
                                     f"most {MAX_BYTES >> 20} MiB in one recipient)")])
        return cast(str, piece)


def read_yaml_list(path: Path, key: str) -> Iterator[YamlItem]:
    """The items of a YAML file that is a list, or a mapping whose ``key`` holds one, read
    and yielded one at a time: a file of any length takes the memory of one item. Each item
    may hold :data:`MAX_RECORD_VALUES` values as written and :data:`MAX_ALIAS_VALUES` brought
    in by aliases, and at most :data:`MAX_BYTES`; aliases may refer to earlier items."""
    # a regular file (not /dev/zero, not a FIFO), read one item at a time
    file = io.TextIOWrapper(open_regular(path, MAX_LIST_BYTES), encoding="utf-8-sig",
                            newline="")
    with file:
        text = _CleanText(path, file)
        loader = _StreamLoader(text, path)
        try:
            with _yaml_problems(path):
                yield from _items(path, key, loader, text)
        finally:
            loader.dispose()


@contextlib.contextmanager
def _yaml_problems(path: Path) -> Iterator[None]:
    """YAML's own errors while reading ``path``, as a DataError at their line and column."""
    try:
        yield
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = (Location(str(path), mark.line + 1, mark.column + 1) if mark
                 else Location(str(path)))
        raise DataError([Problem(where, "", f"YAML syntax error: {e.problem or e}")]) from e
    except yaml.YAMLError as e:
        raise DataError([Problem(Location(str(path)), "", f"YAML error: {e}")]) from e
    except RecursionError as e:
        raise DataError([Problem(Location(str(path)), "",
                                 "the values are nested too deeply")]) from e


def _not_a_list(path: Path, key: str) -> DataError:
    return DataError([Problem(Location(str(path)), "", f"expected a list of {key} (lines "
                              f"starting with `- `), or a `{key}:` key holding one")])


def _items(path: Path, key: str, loader: Any, text: _CleanText) -> Iterator[YamlItem]:
    loader.get_event()  # the stream's start
    if loader.check_event(yaml.StreamEndEvent):
        raise _not_a_list(path, key)
    loader.get_event()  # the document's start
    base: FieldPath = ()
    if loader.check_event(yaml.MappingStartEvent):
        loader.get_event()
        while True:
            if loader.check_event(yaml.MappingEndEvent):
                raise _not_a_list(path, key)
            name = loader.compose_node(None, None)
            if (isinstance(name, yaml.ScalarNode) and name.value == key
                    and loader.check_event(yaml.SequenceStartEvent)):
                base = (key,)
                break
            loader.compose_node(None, None)  # another key's value: read, and not kept
    elif not loader.check_event(yaml.SequenceStartEvent):
        raise _not_a_list(path, key)
    loader.get_event()  # the list's start
    index = 0
    while not loader.check_event(yaml.SequenceEndEvent):
        field = (*base, index)
        start = loader.peek_event().start_mark
        text.item_line = start.line + 1
        text.limit_at = text.read_so_far + MAX_BYTES
        loader.written, loader.limit = 0, MAX_RECORD_VALUES
        loader.what = text.item = f"recipient {index + 1}"
        node = loader.compose_node(None, index)
        positions: dict[FieldPath, tuple[int, int]] = {}
        problems: list[Problem] = []
        builder = _Builder(path, loader, positions, problems, text.removed)
        value = builder.build(node, field)
        end = node.end_mark.index
        while text.removed and text.removed[0] <= end:  # the item's, and those before it
            offset, (line, column) = text.removed.pop(0), text.places.pop(0)
            if offset not in builder.claimed:  # in a key or a comment: no field to name
                problems.append(Problem(Location(str(path), line, column), "",
                                        _CONTROL_REMOVED, severity="warning"))
        yield YamlItem(index, field, value, SourceData(path, value, positions, tuple(problems)))
        index += 1
    text.limit_at = None


class _Builder:
    """Turns composed YAML nodes into dicts, lists and strings, noting positions."""

    def __init__(self, path: Path, loader: Any,
                 positions: dict[FieldPath, tuple[int, int]], problems: list[Problem],
                 removed: list[int]) -> None:
        self.path = path
        self.loader = loader
        self.positions = positions
        self.problems = problems
        self.built: set[int] = set()  # the nodes built once: building one again is an alias's
        self.aliased = 0  # values built again, brought in by an alias
        self.removed = removed  # where raw control characters were taken out of the text
        self.claimed: set[int] = set()  # ... those inside a value, warned about with its field
        self.building: set[int] = set()  # the nodes being built: an alias to one is a cycle

    def _where(self, mark: yaml.Mark) -> Location:
        return Location(str(self.path), mark.line + 1, mark.column + 1)

    def build(self, node: yaml.Node, field: FieldPath) -> Any:
        if id(node) in self.built:
            self.aliased += 1
            if self.aliased > MAX_ALIAS_VALUES:
                raise DataError([Problem(self._where(node.start_mark), dotted(field),
                                         f"aliases (*name, <<: *name) bring in more than "
                                         f"{MAX_ALIAS_VALUES:,} values in {self.loader.what} "
                                         f"(at most {MAX_ALIAS_VALUES:,}, from "
                                         f"{self.loader.written:,} written): are aliases "
                                         "expanding without bound?")])
        else:
            self.built.add(id(node))
        self.positions.setdefault(field, (node.start_mark.line + 1, node.start_mark.column + 1))
        if node.tag not in _PLAIN_TAGS:
            self.problems.append(Problem(self._where(node.start_mark), dotted(field),
                                         f"unsupported YAML tag {node.tag} "
                                         "(drafter reads plain YAML only)"))
            return None
        if id(node) in self.building:
            self.problems.append(Problem(self._where(node.start_mark), dotted(field),
                                         "an alias refers to the value that contains it"))
            return None
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            self.building.add(id(node))
            try:
                if isinstance(node, yaml.MappingNode):
                    return self._mapping(node, field)
                return [self.build(item, (*field, i)) for i, item in enumerate(node.value)]
            finally:
                self.building.discard(id(node))
        if node.tag == "tag:yaml.org,2002:null" and getattr(node, "style", None) is None:
            return None
        text = str(node.value)
        start = bisect.bisect_left(self.removed, node.start_mark.index)
        end = bisect.bisect_right(self.removed, node.end_mark.index)
        self.claimed.update(self.removed[start:end])
        if has_control_characters(text) or end > start:
            self.problems.append(Problem(self._where(node.start_mark), dotted(field),
                                         _CONTROL_REMOVED, severity="warning"))
            text = strip_control_characters(text)
        return text

    def _mapping(self, node: yaml.MappingNode, field: FieldPath) -> dict[str, Any] | None:
        # The pairs `<<` brought in are noted on the node itself: an anchored mapping is
        # flattened once, however many records of a file refer to it.
        merged: set[int] | None = getattr(node, "drafter_merged", None)
        if merged is None:  # first visit: resolve `<<: *defaults` merge keys
            given = {id(pair) for pair in node.value}
            try:
                self.loader.flatten_mapping(node)
            except yaml.MarkedYAMLError as e:
                mark = e.problem_mark or node.start_mark
                self.problems.append(Problem(self._where(mark), dotted(field),
                                             f"YAML error: {e.problem}"))
                return None
            merged = {id(pair) for pair in node.value} - given
            node.drafter_merged = merged  # type: ignore[attr-defined]
        # Keys written in the mapping override merged ones, as in YAML; merged keys come first.
        written = {pair[0].value for pair in node.value
                   if id(pair) not in merged and isinstance(pair[0], yaml.ScalarNode)}
        result: dict[str, Any] = {}
        for pair in node.value:
            key_node, value_node = pair
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _PLAIN_TAGS:
                self.problems.append(Problem(self._where(key_node.start_mark), dotted(field),
                                             "a key must be plain text"))
                continue
            key = str(key_node.value)  # as written: `no:` is Norwegian, not `False`
            if id(pair) in merged and (key in written or key in result):
                continue
            if key in result:
                self.problems.append(Problem(self._where(key_node.start_mark),
                                             dotted((*field, key)),
                                             "duplicate key (the earlier value would be lost)"))
                continue
            self.positions[(*field, key)] = (key_node.start_mark.line + 1,
                                             key_node.start_mark.column + 1)
            result[key] = self.build(value_node, (*field, key))
        return result


def dotted(field: FieldPath) -> str:
    """A field path as a user writes it: ``cc[1].address.city``."""
    text = ""
    for part in field:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def validate(model: type[ModelT], source: SourceData) -> ModelT:
    """Validate a file's data against a model; every problem is reported at once, with its place."""
    return validate_value(model, source.value, source.where, source.problems)


def validate_value(model: type[ModelT], value: Any, locate: Locate,
                   found: Iterable[Problem] = ()) -> ModelT:
    """Validate plain data against a model; ``locate`` says where a field came from.

    The data's ``locale`` tells validation which language's country names to suggest a code
    from (``country: Deutschland`` → DE).
    """
    errors = [p for p in found if p.severity == "error"]
    locale = value.get("locale") if isinstance(value, dict) else None
    context = {"locale": locale if isinstance(locale, str) else None}
    try:
        result = model.model_validate(value, context=context)
    except pydantic.ValidationError as e:
        # A value refused while reading (a YAML tag) is missing here too: say it once.
        refused = {p.field for p in errors}
        problems = [*errors, *(p for p in problems_in(model, e, locate)
                               if p.field not in refused)]
        raise DataError(sorted_problems(problems)) from e
    if errors:
        raise DataError(errors)
    return result


def problems_in(model: type[pydantic.BaseModel], error: pydantic.ValidationError,
                locate: Locate) -> Iterator[Problem]:
    """The problems of a pydantic error, each placed by ``locate`` and worded for a user."""
    for item in error.errors(include_url=False):
        field = tuple(part for part in item["loc"] if not _is_internal(part))
        kind = item["type"]
        message = item["msg"].removeprefix("Value error, ")
        if kind == "missing":
            message = "required field is missing"
            where = locate(field[:-1])
        elif kind == "extra_forbidden":
            message = "unknown field" + _did_you_mean(model, field)
            where = locate(field)
        else:
            where = locate(field)
        if kind in {"model_type", "dict_type"}:
            message = "expected a mapping of fields (`key: value` lines)"
        elif kind == "list_type":
            message = "expected a list (lines starting with `- `)"
        yield Problem(where, dotted(field), message)


def _is_internal(part: str | int) -> bool:
    # pydantic puts validator and union-member names in error locations; users never wrote them
    return isinstance(part, str) and ("[" in part or part.startswith("function-"))


def _did_you_mean(model: type[pydantic.BaseModel], field: FieldPath) -> str:
    known = _fields_at(model, field[:-1])
    kind = _CONTACT_FIELDS.get(str(field[-1]).casefold())
    if kind and "contacts" in known:
        article = "an" if kind == "email" else "a"
        return (f"; {article} {kind} goes in the `contacts:` list: write `contacts:` and below it, "
                f"indented, `- {kind}: …` (one line for each number or address)")
    hint = did_you_mean(str(field[-1]), known)
    if hint:
        return hint
    if field[:1] == ("recipient",) and len(field) == 2:
        # A spreadsheet column that is no recipient field may be a misspelt letter field
        # (one the template declares, say): `case_numbr` for `case_number`.
        letter_hint = did_you_mean(str(field[-1]), list(model.model_fields))
        if letter_hint:
            return letter_hint.replace("?", " (a field of the letter)?")
    return f"; expected one of: {', '.join(known)}" if known else ""


def _fields_at(model: type[pydantic.BaseModel], field: FieldPath) -> list[str]:
    current: Any = model
    for part in field:
        if isinstance(part, int):
            continue
        info = current.model_fields.get(part) if hasattr(current, "model_fields") else None
        if info is None:
            return []
        current = _model_in(info.annotation)
        if current is None:
            return []
    return list(current.model_fields) if hasattr(current, "model_fields") else []


def _model_in(annotation: Any) -> type[pydantic.BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


FILE_TYPES = frozenset({"image", "document"})  # fields whose value names a file


def load_letter(path: Path | str, model: type[Letter] = Letter, *,
                template: Any = None) -> Letter:
    """Read and validate a letter data file; raises :class:`DataError` listing every problem.

    A letter for a template that declares fields of its own is read with that template
    (``template="urgent-appeal"``: a built-in name, a folder or a
    :class:`~drafter.template.LetterTemplate`), or with its model
    (:func:`drafter.fields.letter_model`). The warnings about its data (a number printed as
    given, characters removed) are the letter's :attr:`~drafter.model.Letter.warnings`.
    """
    if template is not None:
        from .fields import letter_model, template_fields  # fields.py reads YAML with this
        from .template import LetterTemplate, find_template

        found = template if isinstance(template, LetterTemplate) else find_template(template)
        model = letter_model(template_fields(found), model)
    return read_letter(path, model)[0]


def read_letter(path: Path | str, model: type[Letter] = Letter, *,
                text: str | None = None) -> tuple[Letter, list[Problem]]:
    """A validated letter and the warnings about it (numbers that are not valid numbers, …).

    ``model``: the letters of a template with fields of its own (:func:`load_letter`).
    ``text``: the data file's content as it is being edited, instead of what is on disk (a
    signature image is still found beside ``path``). The letter carries the warnings too, as
    ``letter.warnings``.
    """
    path = Path(path)
    source = load_yaml(path, text)
    if not isinstance(source.value, dict):
        raise DataError([Problem(Location(str(path)), "",
                                 "expected the letter's fields (`key: value` "
                                 "lines), found " + ("nothing" if source.value is None
                                                     else type(source.value).__name__))])
    letter = validate_letter(model, source.value, source.where, source.problems)
    warnings = [p for p in source.problems if p.severity == "warning"]
    warnings += contact_warnings(letter, source.where)
    warnings += link_warnings(letter, source.where)
    return letter.with_warnings(warnings), warnings


def file_fields(letter: Letter) -> Iterator[tuple[FieldPath, str, str]]:
    """The files a letter names, each with its field path, its kind and its path as written:
    the signature, the letterhead logo, and the template's image and document fields."""
    if letter.signatory.signature:
        yield ("signatory", "signature"), "image", letter.signatory.signature
    if letter.sender.logo:
        yield ("sender", "logo"), "image", letter.sender.logo
    for declared in type(letter).declared:  # fields.Declared
        value = getattr(letter, declared.name)
        if declared.type in FILE_TYPES and value:
            yield (declared.name,), declared.type, value
        elif declared.type == "records":
            for index, record in enumerate(value):
                for inner in declared.fields:
                    path = getattr(record, inner.name)
                    if inner.type in FILE_TYPES and path:
                        yield (declared.name, index, inner.name), inner.type, path


_SUFFIXES = {"image": (".png", ".jpg", ".jpeg", ".gif"), "document": (".docx",)}
_KINDS = {"image": "a PNG, JPEG or GIF image", "document": "a Word document (.docx)"}
_MAGIC = {"image": (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a"),
          "document": (b"PK\x03\x04",)}  # how each kind of file begins


def with_files_found(letter: Letter, locate: Any,
                     roots: Sequence[Path] = ()) -> tuple[Letter, list[Problem]]:
    """The letter with every file it names as an absolute path, found relative to the data
    file the name came from (a merge's case file, or its recipients file); and the problems
    of the files that are missing or of the wrong kind."""
    problems = []
    found: dict[FieldPath, str] = {}
    for field, kind, written in file_fields(letter):
        path, problem = _file_found(field, kind, written, locate, roots)
        if problem is not None:
            problems.append(problem)
        else:
            found[field] = str(path)
    if problems or not found:
        return letter, problems
    data = letter.model_dump()
    for field, absolute in found.items():
        target: Any = data
        for part in field[:-1]:
            target = target[part]
        target[field[-1]] = absolute
    return type(letter).model_validate(data), []


def validate_letter(model: type[Letter], value: Any, locate: Locate,
                    found: Iterable[Problem] = (), roots: Sequence[Path] = ()) -> Letter:
    """Validate a letter's data and find the files it names (:func:`with_files_found`):
    every problem in one run, a missing signature image with a bad date alike."""
    try:
        letter = validate_value(model, value, locate, found)
    except DataError as e:
        # The data is invalid, so its model cannot say which fields name files: the usual
        # ones are looked up in the data itself, to be reported in this run too.
        named = {p.field for p in e.problems}
        files = [p for field, kind, written in _files_in_data(value)
                 if (p := _file_found(field, kind, written, locate, roots)[1]) is not None
                 and p.field not in named]
        raise DataError(sorted_problems([*e.problems, *files])) from e
    letter, problems = with_files_found(letter, locate, roots)
    if problems:
        raise DataError(problems)
    return letter


def _files_in_data(value: Any) -> Iterator[tuple[FieldPath, str, str]]:
    """The signature and logo of plain (not yet valid) letter data, as :func:`file_fields`."""
    for field in (("signatory", "signature"), ("sender", "logo")):
        parent = value.get(field[0]) if isinstance(value, dict) else None
        written = parent.get(field[1]) if isinstance(parent, dict) else None
        if isinstance(written, str) and written:
            yield field, "image", written


def _file_found(field: FieldPath, kind: str, written: str, locate: Any,
                roots: Sequence[Path] = ()) -> tuple[Path, Problem | None]:
    """The absolute path of a file a field names, found relative to the data file the name
    came from, and the problem when it is missing, of the wrong kind, too large, or outside
    the folder of that data file (and of ``roots``: a merge's case folder), a symbolic link
    that leads out of it included."""
    where = locate(field)
    base = Path(where.file).parent if where.file else Path.cwd()
    path = (base / written).resolve()
    what = "image" if kind == "image" else "document"
    allowed = [base.resolve(), *(root.resolve() for root in roots)]
    if not any(path.is_relative_to(folder) for folder in allowed):
        folders = " or ".join(str(folder) for folder in dict.fromkeys(allowed))
        return path, Problem(where, dotted(field), (
            f"{written!r} leads outside the folder of the file that names it ({path}); put "
            f"the {what} in {folders} (or a folder inside it) and name it from there"))
    limit = MAX_IMAGE_BYTES if kind == "image" else MAX_TOTAL_BYTES
    try:
        with open_regular(path, limit, field=dotted(field)) as f:
            head = f.read(8)
    except DataError as e:
        reason = e.problems[0].message
        message = (f"no {what} file at {path} (the path is relative to the folder of the file "
                   "that names it)" if reason == "no such file" else f"{path}: {reason}")
        return path, Problem(where, dotted(field), message)
    if path.suffix.lower() not in _SUFFIXES[kind]:
        return path, Problem(where, dotted(field), f"expected {_KINDS[kind]}, not {path.name}")
    if not head.startswith(_MAGIC[kind]):
        return path, Problem(where, dotted(field), (
            f"{path.name} is not {_KINDS[kind]}: its content is something else (a renamed "
            "file?); save it again in that format"))
    return path, None


def link_warnings(letter: Letter, locate: Locate,
                  writer: ParagraphWriter | None = None) -> Iterator[Problem]:
    """Warnings for links in Markdown fields (``body``, a merge's ``extra_paragraph``, a
    template's ``markdown`` fields) whose target is no web or mail address: their text is
    printed without the link (:mod:`drafter.markup`). ``writer``: one that has read the
    paragraphs before (a merge's), so that the case's shared ones are parsed once."""
    writer = writer or ParagraphWriter()
    fields: list[tuple[FieldPath, Any]] = [(("body", i), text)
                                           for i, text in enumerate(letter.body)]
    fields += [((declared.name,), getattr(letter, declared.name))
               for declared in type(letter).declared if declared.type == "markdown"]
    for field, text in fields:
        forms = text.values() if isinstance(text, dict) else [text] if text else []
        for target in dict.fromkeys(t for form in forms for t in writer.plain_links(form)):
            yield Problem(locate(field), dotted(field), (
                f"the link to {target!r} is printed as text, without the link: only http(s):// "
                "and mailto: addresses become links (a link to a file would point into your "
                "folders from the PDF); write the full address, such as https://…"),
                severity="warning")


def contact_warnings(letter: Letter, locate: Locate) -> Iterator[Problem]:
    """Warnings for phone and fax numbers that are not valid numbers (printed as given)."""
    people: list[tuple[FieldPath, Any]] = [(("sender",), letter.sender),
                                           (("recipient",), letter.recipient)]
    people += [(("cc", i), person) for i, person in enumerate(letter.cc)]
    for field, person in people:
        country = person.address.country if person.address else None
        for i, contact in enumerate(person.contacts):
            if contact.as_given or contact.kind == "email":
                continue
            if format_phone(contact.value, country) is None:
                at = (*field, "contacts", i)
                message = (f"{contact.value!r} is not a valid phone number; it is printed as "
                           "given (mark it `as_given: true` if that is how it should read)")
                yield Problem(locate(at), dotted(at), message, severity="warning")
