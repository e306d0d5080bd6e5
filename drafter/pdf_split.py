"""Splitting a PDF of many letters, converted as one document, into one PDF per letter.

This module owns the splitting of a combined conversion (:func:`split_letters`): where each
letter starts, and making each letter's PDF what its own conversion gives. A combined DOCX
(:func:`drafter.combine.combine_docx`) starts each letter with a bookmark, which LibreOffice
exports as a named destination on the letter's first page; those destinations are the letter
boundaries, and a combined PDF without one for every letter, in order, is refused.

Each letter's PDF gets:

- its pages (with their fonts, pictures and link annotations);
- its own structure tree: the Document element's children that mark content on its pages,
  cut from their parent and hung under a Document element of its own, the parent tree and the
  pages' ``/StructParents`` and links' ``/StructParent`` numbered afresh from 0, so that a
  screen reader (or ``pdfinfo -struct-text``) reads that letter and nothing of its neighbours';
- the catalog's language, PDF/A output intent, viewer preferences and marked-content flag;
- its own title, author and subject (from its DOCX's core properties, as LibreOffice takes
  them), in the document information and the XMP, whose PDF/A-2b identification stays.
"""

from __future__ import annotations

import bisect
import io
import itertools
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pikepdf
from lxml import etree

from .errors import ConversionError
from .files import write_atomic

# The named destination LibreOffice writes for the bookmark that starts letter N (from 1) of
# a combined DOCX (drafter.combine.letter_mark); it writes the bookmark's "_" as "5F".
_LETTER_MARK = re.compile(r"DrafterLetter(\d+)$")
# Catalog entries a letter's PDF does not take from the combined one: made afresh, or about
# the combined document only (its destinations, the bookmarks that mark the letters).
_OWN_ENTRIES = {"/Type", "/Pages", "/StructTreeRoot", "/Metadata", "/Dests", "/Names",
                "/Outlines", "/OpenAction", "/PageLabels", "/AcroForm"}
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_DC = "http://purl.org/dc/elements/1.1/"
_CORE = {"dc": "http://purl.org/dc/elements/1.1/",
         "cp": "http://schemas.openxmlformats.org/package/2006/metadata/core-properties"}


@dataclass(frozen=True)
class DocumentProperties:
    """A letter's title, author and subject, as its DOCX's core properties say."""

    title: str = ""
    author: str = ""
    subject: str = ""


def document_properties(docx: Path) -> DocumentProperties:
    """The core properties LibreOffice puts in a PDF's information and XMP (``dc:title``,
    ``dc:creator``, ``dc:subject``); empty strings for those a file lacks. (Its keywords are
    the template's, shared by the letters converted together.)"""
    try:
        with zipfile.ZipFile(docx) as archive:
            core = etree.fromstring(archive.read("docProps/core.xml"))
    except (OSError, KeyError, zipfile.BadZipFile, etree.XMLSyntaxError):
        return DocumentProperties()

    def text(path: str) -> str:
        found = core.find(path, _CORE)
        return (found.text or "").strip() if found is not None else ""

    return DocumentProperties(text("dc:title"), text("dc:creator"), text("dc:subject"))


def letter_starts(pdf: pikepdf.Pdf, letters: int) -> list[int]:
    """The index of the first page of each of ``letters`` letters in a combined PDF.

    Read from the destinations of the bookmarks that start each letter; raises
    :class:`ConversionError` unless there is one for every letter, the first on the first page
    and each on a later page than the one before.
    """
    pages = {page.obj.objgen: index for index, page in enumerate(pdf.pages)}
    found: dict[int, int] = {}
    for name, destination in _destinations(pdf):
        match = _LETTER_MARK.search(name)
        if match and isinstance(destination, pikepdf.Array) and len(destination):
            page = pages.get(destination[0].objgen)
            if page is not None:
                found[int(match.group(1)) - 1] = page
    starts = [found.get(index, -1) for index in range(letters)]
    if (len(found) != letters or starts[0] != 0
            or any(b <= a for a, b in itertools.pairwise(starts))):
        raise ConversionError(f"the combined PDF does not say where each of its {letters} "
                              f"letters starts (found {sorted(found.values())})")
    return starts


def _destinations(pdf: pikepdf.Pdf) -> Iterator[tuple[str, pikepdf.Object]]:
    """A PDF's named destinations: the catalog's /Dests (PDF 1.1) and its /Names tree."""
    dests = pdf.Root.get("/Dests")
    if isinstance(dests, pikepdf.Dictionary):
        for key, value in dests.items():
            yield key, value.get("/D", value) if isinstance(value, pikepdf.Dictionary) else value
    names = pdf.Root.get("/Names")
    if isinstance(names, pikepdf.Dictionary) and "/Dests" in names:
        for key, value in pikepdf.NameTree(names.Dests).items():
            yield key, value.get("/D", value) if isinstance(value, pikepdf.Dictionary) else value


def split_letters(combined: Path, sources: Sequence[Path],
                  outdir: Path) -> list[tuple[Path, int]]:
    """Split ``combined``, the PDF of the combined DOCX of ``sources`` (in that order), into
    one PDF per letter, ``outdir/<source's name>.pdf``; returns them in order, each with its
    page count.

    Each letter's metadata comes from its own DOCX (:func:`document_properties`). Raises
    :class:`ConversionError` when the letters' boundaries cannot be found.
    """
    with pikepdf.open(combined) as pdf:
        starts = letter_starts(pdf, len(sources))
        ends = [*starts[1:], len(pdf.pages)]
        owners = _structure_owners(pdf, starts)
        parents = _parent_tree(pdf)
        targets = []
        for index, source in enumerate(sources):
            target = outdir / f"{source.stem}.pdf"
            with _letter_pdf(pdf, range(starts[index], ends[index]), owners.get(index, []),
                             parents, document_properties(source)) as letter:
                buffer = io.BytesIO()
                letter.save(buffer, min_version=pdf.pdf_version, fix_metadata_version=False)
            write_atomic(target, buffer.getvalue(), durable=False)
            targets.append((target, ends[index] - starts[index]))
    return targets


def _document(pdf: pikepdf.Pdf) -> pikepdf.Dictionary | None:
    """The structure tree's Document element, whose children are the letters' elements."""
    root = pdf.Root.get("/StructTreeRoot")
    if not isinstance(root, pikepdf.Dictionary):
        return None
    kids = root.get("/K")
    if isinstance(kids, pikepdf.Array) and len(kids) == 1:
        kids = kids[0]
    if isinstance(kids, pikepdf.Dictionary) and kids.get("/S") == "/Document":
        return kids
    return None


def _structure_owners(pdf: pikepdf.Pdf, starts: list[int]) -> dict[int, list[pikepdf.Object]]:
    """The Document element's children of each letter (by index): those whose first marked
    content is on its pages; a child that marks nothing goes with the one before it."""
    document = _document(pdf)
    if document is None:
        return {}
    below = document.get("/K")
    kids = list(below) if isinstance(below, pikepdf.Array) else [below] if below else []
    pages = {page.obj.objgen: index for index, page in enumerate(pdf.pages)}
    owners: dict[int, list[pikepdf.Object]] = {}
    letter = 0
    for kid in kids:
        if not isinstance(kid, pikepdf.Dictionary):
            continue
        page = _first_page(kid, pages)
        if page is not None:
            letter = bisect.bisect_right(starts, page) - 1
        owners.setdefault(letter, []).append(kid)
    return owners


def _first_page(element: pikepdf.Dictionary, pages: dict[tuple[int, int], int]) -> int | None:
    """The index of the first page an element (or one below it) marks content on."""
    todo: list[pikepdf.Object] = [element]
    while todo:
        item = todo.pop(0)
        if not isinstance(item, pikepdf.Dictionary):
            continue
        page = item.get("/Pg")
        if isinstance(page, pikepdf.Dictionary) and page.objgen in pages:
            return pages[page.objgen]
        kids = item.get("/K")
        if isinstance(kids, pikepdf.Array):
            todo[:0] = list(kids)
        elif isinstance(kids, pikepdf.Dictionary):
            todo.insert(0, kids)
    return None


def _parent_tree(pdf: pikepdf.Pdf) -> dict[int, pikepdf.Object]:
    """The structure tree's parent tree: what each ``/StructParents`` key stands for."""
    root = pdf.Root.get("/StructTreeRoot")
    tree = root.get("/ParentTree") if isinstance(root, pikepdf.Dictionary) else None
    if not isinstance(tree, pikepdf.Dictionary):
        return {}
    return dict(pikepdf.NumberTree(tree).items())


def _elements_below(kids: Sequence[pikepdf.Object]) -> set[tuple[int, int]]:
    """The object numbers of these structure elements and every element below them."""
    seen: set[tuple[int, int]] = set()
    todo = list(kids)
    while todo:
        item = todo.pop()
        if isinstance(item, pikepdf.Dictionary) and item.get("/Type") != "/OBJR" and (
                "/S" in item) and item.objgen not in seen:
            seen.add(item.objgen)
            below = item.get("/K")
            if isinstance(below, pikepdf.Array):
                todo += list(below)
            elif isinstance(below, pikepdf.Dictionary):
                todo.append(below)
    return seen


def _letter_pdf(pdf: pikepdf.Pdf, pages: range, kids: Sequence[pikepdf.Object],
                parents: dict[int, pikepdf.Object],
                properties: DocumentProperties) -> pikepdf.Pdf:
    """One letter's PDF: ``pages`` of the combined ``pdf`` with the structure elements ``kids``
    (the Document element's children on those pages) and the letter's ``properties``."""
    letter = pikepdf.new()
    letter.pages.extend(pdf.pages[pages.start:pages.stop])
    _copy_catalog(pdf, letter)
    document = _document(pdf)
    if document is not None:
        _copy_structure(pdf, letter, document, kids, pages, parents)
    _set_properties(pdf, letter, properties)
    return letter


def _copy_catalog(pdf: pikepdf.Pdf, letter: pikepdf.Pdf) -> None:
    for key, value in pdf.Root.items():
        if key not in _OWN_ENTRIES:
            letter.Root[key] = _copied(letter, value)
    # LibreOffice opens a PDF at its first page, the top left corner as it is.
    letter.Root.OpenAction = pikepdf.Array([letter.pages[0].obj, pikepdf.Name.XYZ, None, None,
                                            0])


def _copied(letter: pikepdf.Pdf, value: pikepdf.Object) -> pikepdf.Object:
    """A direct object of the combined PDF, with what it refers to, copied into ``letter``."""
    if isinstance(value, pikepdf.Dictionary):
        return pikepdf.Dictionary({k: _copied(letter, v) for k, v in value.items()})
    if isinstance(value, pikepdf.Array):
        return pikepdf.Array([_copied(letter, v) for v in value])
    if isinstance(value, pikepdf.Object) and value.is_indirect:
        return letter.copy_foreign(value)
    return value


def _copy_structure(pdf: pikepdf.Pdf, letter: pikepdf.Pdf, document: pikepdf.Dictionary,
                    kids: Sequence[pikepdf.Object], pages: range,
                    parents: dict[int, pikepdf.Object]) -> None:
    """Give ``letter`` a structure tree of its own: a Document element over copies of
    ``kids`` (cut from the combined tree, so that nothing else comes with them), and a parent
    tree numbered afresh."""
    root = letter.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.StructTreeRoot))
    own = pikepdf.Dictionary({key: _copied(letter, value) for key, value in document.items()
                              if key not in ("/P", "/K", "/Pg")})
    own.P = root
    own.Pg = letter.pages[0].obj
    own_document = letter.make_indirect(own)
    parents_of_kids = [kid.get("/P") for kid in kids]
    for kid in kids:
        del kid["/P"]  # else copying it would copy the whole combined tree
    try:  # all at once: one copy of what they share
        copies = letter.copy_foreign(pdf.make_indirect(pikepdf.Array(kids)))
    finally:
        for kid, parent in zip(kids, parents_of_kids, strict=True):
            if parent is not None:
                kid.P = parent
    for copy in copies:
        copy.P = own_document
    own_document.K = copies
    root.K = own_document
    for key in ("/RoleMap", "/ClassMap"):
        if key in pdf.Root.StructTreeRoot:
            root[key] = _copied(letter, pdf.Root.StructTreeRoot[key])

    members = _elements_below(kids)

    def mapped(element: pikepdf.Object) -> pikepdf.Object:
        # Already copied with its letter's elements: copy_foreign returns that copy.
        if isinstance(element, pikepdf.Dictionary) and element.objgen in members:
            return letter.copy_foreign(element)
        return pikepdf.Object.parse(b"null")

    numbers: list[object] = []  # the parent tree's keys, from 0, and values
    for page in letter.pages:
        page_key = page.obj.get("/StructParents")
        if page_key is not None:
            marked = parents.get(int(page_key))
            page.obj.StructParents = len(numbers) // 2
            numbers += [len(numbers) // 2, pikepdf.Array(
                [mapped(e) for e in marked] if isinstance(marked, pikepdf.Array) else [])]
        for annotation in page.obj.get("/Annots", []):
            link_key = annotation.get("/StructParent")
            if link_key is not None:
                annotation.StructParent = len(numbers) // 2
                element = parents.get(int(link_key))
                numbers += [len(numbers) // 2,
                            mapped(element) if element is not None else None]
    root.ParentTree = letter.make_indirect(pikepdf.Dictionary(Nums=pikepdf.Array(numbers)))
    root.ParentTreeNextKey = len(numbers) // 2
    letter.Root.StructTreeRoot = root


def _set_properties(pdf: pikepdf.Pdf, letter: pikepdf.Pdf,
                    properties: DocumentProperties) -> None:
    """The combined PDF's document information and XMP, with the letter's own title, author
    and subject (LibreOffice leaves out those that are empty)."""
    info = {key: value for key, value in pdf.docinfo.items()
            if key not in ("/Title", "/Author", "/Subject")}
    for key, value in (("/Title", properties.title), ("/Author", properties.author),
                       ("/Subject", properties.subject)):
        if value:
            info[key] = pikepdf.String(value)
    letter.docinfo = letter.make_indirect(pikepdf.Dictionary(info))
    if "/Metadata" in pdf.Root:
        xmp = etree.parse(io.BytesIO(pdf.Root.Metadata.read_bytes()))
        description = xmp.find(f".//{{{_RDF}}}Description")
        if description is not None:
            for name, kind, value in (("title", "Alt", properties.title),
                                      ("creator", "Seq", properties.author),
                                      ("description", "Alt", properties.subject)):
                _set_xmp(description, name, kind, value)
        stream = pikepdf.Stream(letter, etree.tostring(xmp, encoding="UTF-8"))
        stream.Type, stream.Subtype = pikepdf.Name.Metadata, pikepdf.Name.XML
        letter.Root.Metadata = letter.make_indirect(stream)


def _set_xmp(description: etree._Element, name: str, kind: str, value: str) -> None:
    """Set the Dublin Core property ``name`` (an rdf:Alt or rdf:Seq of one item) of an XMP
    packet, in the description that holds the Dublin Core ones; remove it when empty."""
    for found in description.getparent().iter(f"{{{_DC}}}{name}"):
        found.getparent().remove(found)
    if not value:
        return
    holder = next((d for d in description.getparent() if d.find(f"{{{_DC}}}*") is not None),
                  None)
    if holder is None:
        holder = etree.SubElement(description.getparent(), f"{{{_RDF}}}Description",
                                  {f"{{{_RDF}}}about": ""})
    item = etree.SubElement(etree.SubElement(etree.SubElement(
        holder, f"{{{_DC}}}{name}"), f"{{{_RDF}}}{kind}"), f"{{{_RDF}}}li")
    if kind == "Alt":
        item.set("{http://www.w3.org/XML/1998/namespace}lang", "x-default")
    item.text = value
