"""Hostile documents and data that try to reach outside the letter: linked pictures and other
external references in templates, annexes and converted files; a converter that would fetch
them; links to local paths; signature images from anywhere on the host."""

from __future__ import annotations

import http.server
import io
import os
import re
import struct
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import docx
import pikepdf
import pytest
import yaml
from click.testing import Result
from docx.shared import Inches

from drafter import DataError, TemplateError, convert_docx, load_letter, render_file
from drafter.merge import MergeOptions, merge
from drafter.package import outside_references, read_docx
from drafter.pdf import NO_FETCHING, LibreOffice, WarmLibreOffice, harden_profile

Run = Callable[..., Result]

LETTER = {
    "date": "2015-11-24",
    "sender": {"name": "Human Rights Watch"},
    "recipient": {"name": "Wang Yi"},
    "subject": "Detention of refugees",
    "body": ["We write to you."],
    "signatory": {"name": "Sophie Richardson"},
}


def png(width: int = 4, height: int = 4) -> bytes:
    """A real PNG image, red."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                             0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def picture_docx(path: Path, text: str = "A letter with a picture.") -> Path:
    """A plain Word document with one embedded picture (word/media/image1.png)."""
    document = docx.Document()
    document.add_paragraph(text)
    document.add_picture(io.BytesIO(png()), width=Inches(1))
    document.save(str(path))
    return path


def changed(path: Path, edit: Callable[[dict[str, bytes]], None]) -> Path:
    """Rewrite a DOCX archive with ``edit`` applied to its members (by name)."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    edit(members)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def linked_picture(path: Path, url: str) -> Path:
    """A DOCX whose picture is linked, not embedded: LibreOffice loads it from ``url``."""
    def edit(members: dict[str, bytes]) -> None:
        rels = members["word/_rels/document.xml.rels"].decode()
        members["word/_rels/document.xml.rels"] = re.sub(
            r'Target="media/image1\.png"', f'Target="{url}" TargetMode="External"', rels).encode()
        members["word/document.xml"] = members["word/document.xml"].replace(b"r:embed=",
                                                                            b"r:link=")
        del members["word/media/image1.png"]
    return changed(picture_docx(path), edit)


_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _add_relationship(members: dict[str, bytes], rels: str, kind: str, target: str,
                      external: bool = True) -> None:
    mode = ' TargetMode="External"' if external else ""
    relationship = f'<Relationship Id="rIdOut" Type="{_REL}/{kind}" Target="{target}"{mode}/>'
    held = members.get(rels, b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns='
                             b'"http://schemas.openxmlformats.org/package/2006/relationships">'
                             b"</Relationships>")
    members[rels] = held.replace(b"</Relationships>", relationship.encode() + b"</Relationships>")


def _in_body(xml: str) -> Callable[[dict[str, bytes]], None]:
    def edit(members: dict[str, bytes]) -> None:
        members["word/document.xml"] = members["word/document.xml"].replace(
            b"<w:sectPr", xml.encode() + b"<w:sectPr", 1)
    return edit


_FIELD = ('<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText>{0}'
          '</w:instrText></w:r><w:r><w:instrText>{1}</w:instrText></w:r><w:r><w:fldChar '
          'w:fldCharType="separate"/></w:r><w:r><w:t>shown</w:t></w:r><w:r><w:fldChar '
          'w:fldCharType="end"/></w:r></w:p>')
_VML = ('<w:p><w:r><w:pict><v:shape xmlns:v="urn:schemas-microsoft-com:vml" '
        'style="width:10pt;height:10pt"><v:imagedata xmlns:o="urn:schemas-microsoft-com:'
        'office:office" o:href="file:///etc/hostname" o:title=""/></v:shape></w:pict></w:r>'
        '</w:p>')
_OLE = ('<w:p><w:r><w:object><o:OLEObject xmlns:o="urn:schemas-microsoft-com:office:office" '
        'Type="Link" ProgID="Excel.Sheet.12" ShapeID="_x0000_i1025" DrawAspect="Content" '
        'ObjectID="_1"/></w:object></w:r></w:p>')

# Everything Word or LibreOffice would load from outside a document: (what, edit, message).
OUTSIDE: dict[str, tuple[Callable[[dict[str, bytes]], None], str, str]] = {
    "attached template": (lambda m: _add_relationship(
        m, "word/_rels/settings.xml.rels", "attachedTemplate", "file:///C:/Normal.dotm"),
        "word/settings.xml", "an attached template outside the document (file:///C:/Normal.dotm)"),
    "subdocument": (lambda m: _add_relationship(
        m, "word/_rels/document.xml.rels", "subDocument", "http://127.0.0.1:9/sub.docx"),
        "word/document.xml", "a subdocument outside the document"),
    "frame": (lambda m: _add_relationship(
        m, "word/_rels/webSettings.xml.rels", "frame", "http://127.0.0.1:9/frame.html"),
        "word/webSettings.xml", "a frame outside the document"),
    "linked object by relationship": (lambda m: _add_relationship(
        m, "word/_rels/document.xml.rels", "oleObject", "file:///tmp/book.xlsx"),
        "word/document.xml", "a linked object outside the document"),
    "chart's external data": (lambda m: _add_relationship(
        m, "word/charts/_rels/chart1.xml.rels", "package", "file:///tmp/data.xlsx"),
        "word/charts/chart1.xml", "a linked file outside the document"),
    "header from elsewhere": (lambda m: _add_relationship(
        m, "word/_rels/document.xml.rels", "header", "http://127.0.0.1:9/header.xml"),
        "word/document.xml", "a header outside the document"),
    "a URL as an internal target": (lambda m: _add_relationship(
        m, "word/_rels/document.xml.rels", "image", "http://127.0.0.1:9/p.png", external=False),
        "word/document.xml", "a picture outside the document (http://127.0.0.1:9/p.png)"),
    "INCLUDEPICTURE split over runs": (_in_body(_FIELD.format(' INCLUDE', 'PICTURE '
                                                             '"http://127.0.0.1:9/x.png" \\d')),
                                       "word/document.xml",
                                       "a field that loads from outside the document"),
    "INCLUDETEXT as a simple field": (_in_body(
        '<w:p><w:fldSimple w:instr=" INCLUDETEXT &quot;/etc/hostname&quot; "><w:r><w:t>x</w:t>'
        '</w:r></w:fldSimple></w:p>'), "word/document.xml",
        "a field that loads from outside the document ('INCLUDETEXT \"/etc/hostname\"')"),
    "LINK field": (_in_body(_FIELD.format(" LINK Excel.Sheet.12 ", '"C:\\\\book.xlsx" "A1" \\a')),
                   "word/document.xml", "a field that loads from outside the document"),
    "DDEAUTO field": (_in_body(_FIELD.format(" DDEAUTO ", 'cmd "/c calc"')),
                      "word/document.xml", "a field that loads from outside the document"),
    "VML picture by address": (_in_body(_VML), "word/document.xml",
                               "a picture by address (file:///etc/hostname)"),
    "linked OLE object": (_in_body(_OLE), "word/document.xml",
                          "a linked object (Excel.Sheet.12)"),
    "altChunk": (_in_body('<w:altChunk r:id="rId1"/>'), "word/document.xml",
                 "an embedded foreign document (altChunk)"),
    "SVG that refers out": (lambda m: m.update({"word/media/pic.svg": (
        b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
        b'<image xlink:href="http://127.0.0.1:9/x.png" width="9" height="9"/></svg>')}),
        "word/media/pic.svg", "an SVG picture that refers to other files"),
    "hyperlink to a relative path": (lambda m: _add_relationship(
        m, "word/_rels/document.xml.rels", "hyperlink", "report.pdf"),
        "word/document.xml", "a link to 'report.pdf', a local file or no web address"),
    "hyperlink to file:": (lambda m: _add_relationship(
        m, "word/_rels/document.xml.rels", "hyperlink", "file:///home/me/report.pdf"),
        "word/document.xml", "a link to 'file:///home/me/report.pdf'"),
}


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/logo.png", "file:///etc/hostname"])
def test_a_template_with_a_linked_picture_is_refused_naming_the_part(run: Run, tmp_path: Path,
                                                                     url: str) -> None:
    template = linked_picture(tmp_path / "letter.docx", url)
    data = tmp_path / "letter.yaml"
    data.write_text(yaml.safe_dump(LETTER), encoding="utf-8")
    result = run("render", data, "-t", template, "-o", tmp_path / "out")
    assert result.exit_code == 1
    assert (f"{template}, word/document.xml: a picture outside the document ({url}), which "
            "Word and LibreOffice would load") in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()
    check = run("check", template)
    assert check.exit_code == 1
    assert f"a picture outside the document ({url})" in check.output


@pytest.mark.parametrize("case", sorted(OUTSIDE))
def test_every_kind_of_outside_reference_is_refused(tmp_path: Path, case: str) -> None:
    edit, part, message = OUTSIDE[case]
    template = changed(picture_docx(tmp_path / "letter.docx"), edit)
    data = _data(tmp_path)
    with pytest.raises(TemplateError) as raised:
        render_file(data, tmp_path / "out", template=template, formats=["docx"])
    assert any(p.location.part == part and message in p.message
               for p in raised.value.problems), str(raised.value)
    assert not (tmp_path / "out").exists()


def _data(folder: Path) -> Path:
    path = folder / "letter.yaml"
    path.write_text(yaml.safe_dump(LETTER), encoding="utf-8")
    return path


def test_web_hyperlinks_and_harmless_fields_in_a_template_are_fine(tmp_path: Path) -> None:
    def edit(members: dict[str, bytes]) -> None:
        _add_relationship(members, "word/_rels/document.xml.rels", "hyperlink",
                          "https://www.hrw.org/news")
        _in_body(_FIELD.format(" PAGE ", "") + _FIELD.format(' HYPERLINK "https://hrw.org" ',
                                                            ""))(members)
    template = changed(picture_docx(tmp_path / "letter.docx"), edit)
    assert list(outside_references(read_docx(template))) == []
    (written,) = render_file(_data(tmp_path), tmp_path / "out", template=template,
                             formats=["docx"])
    assert "A letter with a picture." in [p.text for p in docx.Document(str(written)).paragraphs]


def _annex_template(folder: Path) -> Path:
    template = folder / "annexed"
    template.mkdir()
    document = docx.Document()
    document.add_paragraph("Before the annex.")
    document.add_paragraph("{{p annex }}")
    document.add_paragraph("After the annex.")
    document.save(str(template / "letter.docx"))
    (template / "fields.yaml").write_text("annex: {type: document, required: true}\n",
                                          encoding="utf-8")
    return template


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x.png", "file:///etc/hostname"])
def test_an_annex_with_a_linked_picture_is_refused(run: Run, tmp_path: Path, url: str) -> None:
    template = _annex_template(tmp_path)
    annex = linked_picture(tmp_path / "annex.docx", url)
    data = tmp_path / "letter.yaml"
    data.write_text(yaml.safe_dump({**LETTER, "annex": "annex.docx"}), encoding="utf-8")
    result = run("render", data, "-t", template, "-f", "docx", "-o", tmp_path / "out")
    assert result.exit_code == 1
    assert f"{annex}, word/document.xml: a picture outside the document ({url})" in result.output
    assert not (tmp_path / "out").exists()
    # The same annex, embedded: added to the letter.
    picture_docx(annex, "The annex itself.")
    result = run("render", data, "-t", template, "-f", "docx", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    text = [p.text for p in docx.Document(str(tmp_path / "out" / "letter.docx")).paragraphs]
    assert "The annex itself." in text


def test_converting_a_docx_that_refers_outside_is_refused(run: Run, tmp_path: Path) -> None:
    hostile = linked_picture(tmp_path / "hostile.docx", "http://127.0.0.1:9/x.png")
    linked = changed(picture_docx(tmp_path / "linked.docx"), OUTSIDE["LINK field"][0])
    result = run("convert", hostile, linked)
    assert result.exit_code == 1
    assert "2 problems found" in result.output
    assert f"{hostile}, word/document.xml: a picture outside the document" in result.output
    assert f"{linked}, word/document.xml: a field that loads from outside" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hostile.docx", "linked.docx"]
    with pytest.raises(DataError, match="a picture outside the document"):
        convert_docx(hostile)


# --- the converter itself fetches nothing ------------------------------------------------


class _Recorder(http.server.BaseHTTPRequestHandler):
    requests: list[str]

    def _record(self) -> None:
        self.requests.append(f"{self.command} {self.path}")
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        body = png(32, 32)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_OPTIONS = do_PROPFIND = _record

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def web_server() -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server on loopback that records every request, serving a PNG."""
    requests: list[str] = []
    handler = type("Handler", (_Recorder,), {"requests": requests})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()


def _images(pdf: Path) -> int:
    with pikepdf.Pdf.open(pdf) as document:
        return sum(len(page.get_images()) for page in document.pages)


@pytest.mark.libreoffice
def test_the_converter_loads_nothing_from_outside_a_document(tmp_path: Path,
                                                             web_server: tuple[str, list[str]]
                                                             ) -> None:
    base, requests = web_server
    local = tmp_path / "secret.png"
    local.write_bytes(png(64, 64))
    # The check is passed by: LibreOffice is given the hostile files straight.
    fetched = linked_picture(tmp_path / "fetched.docx", f"{base}/picture.png")
    included = linked_picture(tmp_path / "included.docx", local.as_uri())
    plain = docx.Document()
    plain.add_paragraph("A letter with a field.")
    plain.save(str(tmp_path / "field.docx"))
    field = changed(tmp_path / "field.docx", _in_body(_FIELD.format(
        " INCLUDEPICTURE ", f'"{base}/field.png" \\d')))
    pdfs = LibreOffice().convert([fetched, included, field], tmp_path / "out")
    assert requests == []
    assert [_images(pdf) for pdf in pdfs] == [0, 0, 0]  # neither the URL nor the local file
    # The control: an embedded picture does show (the count above can see one).
    (embedded,) = LibreOffice().convert([picture_docx(tmp_path / "embedded.docx")],
                                        tmp_path / "out")
    assert _images(embedded) == 1


@pytest.mark.libreoffice
def test_a_warm_libreoffice_loads_nothing_from_outside_either(
        tmp_path: Path, web_server: tuple[str, list[str]]) -> None:
    base, requests = web_server
    fetched = linked_picture(tmp_path / "fetched.docx", f"{base}/warm.png")
    try:
        office = WarmLibreOffice()
    except Exception as e:  # no python3-uno: LibreOfficeMissing
        pytest.skip(str(e))
    with office:
        (pdf,) = office.convert([fetched], tmp_path / "out")
        (again,) = office.convert([fetched], tmp_path / "again")  # the same LibreOffice
    assert requests == []
    assert _images(pdf) == _images(again) == 0


def test_a_kept_profile_gets_its_settings_back(tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    harden_profile(profile)
    settings = profile / "user" / "registrymodifications.xcu"
    text = settings.read_text(encoding="utf-8")
    for path, name, value in NO_FETCHING:
        assert (f'<item oor:path="{path}"><prop oor:name="{name}" oor:op="fuse"><value>'
                f"{value}</value></prop></item>") in text
    # Someone (or LibreOffice) turned the blocking off and added a setting of their own.
    settings.write_text(text.replace(
        '"BlockUntrustedRefererLinks" oor:op="fuse"><value>true', '"BlockUntrustedRefererLinks"'
        ' oor:op="fuse"><value>false').replace(
        "</oor:items>", '<item oor:path="/org.openoffice.Office.Common/Misc"><prop oor:name='
        '"FirstRun" oor:op="fuse"><value>false</value></prop></item>\n</oor:items>'),
        encoding="utf-8")
    harden_profile(profile)
    text = settings.read_text(encoding="utf-8")
    assert "BlockUntrustedRefererLinks\" oor:op=\"fuse\"><value>true" in text
    assert "<value>false</value></prop></item>" in text  # FirstRun kept
    assert text.count("BlockUntrustedRefererLinks") == 1


# --- links to local paths ----------------------------------------------------------------


def _rels_targets(docx_path: Path) -> list[str]:
    with zipfile.ZipFile(docx_path) as archive:
        rels = archive.read("word/_rels/document.xml.rels").decode()
    return re.findall(r'Target="([^"]*)" TargetMode="External"', rels)


@pytest.mark.parametrize(("link", "printed"), [
    ("[report](report.pdf)", "report"),
    ("[the file](file:///home/me/out/report.pdf)", "[the file](file:///home/me/out/report.pdf)"),
    ("[click](javascript:alert(1))", "[click](javascript:alert(1))"),
    ("[data](data:text/html;base64,PHA+)", "[data](data:text/html;base64,PHA+)"),
    ("[archive](ftp://ftp.example.org/a.zip)", "archive"),
    ("[host](//evil.example.org/x)", "host"),
    ("[no host](http:report.pdf)", "no host"),
])
def test_only_web_and_mail_addresses_become_links(run: Run, tmp_path: Path, link: str,
                                                  printed: str) -> None:
    data = tmp_path / "letter.yaml"
    body = [f"See {link} now.", "Write to [us](mailto:asia@hrw.org) or see www.hrw.org."]
    data.write_text(yaml.safe_dump({**LETTER, "body": body}), encoding="utf-8")
    result = run("render", data, "-f", "docx", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    written = tmp_path / "out" / "letter.docx"
    assert sorted(_rels_targets(written)) == ["http://www.hrw.org", "mailto:asia@hrw.org"]
    text = [p.text for p in docx.Document(str(written)).paragraphs]
    assert f"See {printed} now." in text
    if printed != link:  # a link Markdown read, without a web address: said so
        assert re.search(rf"{re.escape(str(data))}:\d+:\d+: warning: body\[0\]: the link to "
                         r"'.+' is printed as text, without the link", result.output)


def test_a_bare_www_address_is_a_web_link_and_plain_fields_are_never_links(tmp_path: Path
                                                                           ) -> None:
    data = tmp_path / "letter.yaml"
    data.write_text(yaml.safe_dump({**LETTER, "subject": "[x](https://a.example.org) www.b.org",
                                    "body": ["See www.hrw.org/asia."]}), encoding="utf-8")
    assert not load_letter(data).warnings
    (written,) = render_file(data, tmp_path / "out", formats=["docx"])
    assert _rels_targets(written) == ["http://www.hrw.org/asia"]


def test_a_merge_warns_once_for_the_case_and_per_record_for_its_extra_paragraph(
        tmp_path: Path) -> None:
    case = tmp_path / "case.yaml"
    case.write_text(yaml.safe_dump({k: v for k, v in LETTER.items() if k != "recipient"} | {
        "body": ["See [the report](report.pdf)."]}), encoding="utf-8")
    recipients = tmp_path / "recipients.csv"
    recipients.write_text("name,extra_paragraph\nWang Yi,Also [this](../notes.txt).\n"
                          "Li Qiang,Nothing more.\n", encoding="utf-8")
    report = merge(case, recipients, tmp_path / "out", MergeOptions(formats=("docx",)))
    links = [str(w) for w in report.warnings if "is printed as text" in w.message]
    assert len(links) == 2, links
    assert links[0].startswith(f"{case}:")
    assert "'report.pdf'" in links[0]
    assert "record 1 (1)" in links[1] and "'../notes.txt'" in links[1]
    for written in (tmp_path / "out").glob("*.docx"):
        assert _rels_targets(written) == []


@pytest.mark.libreoffice
def test_a_relative_link_leaves_no_file_link_in_the_pdf(tmp_path: Path) -> None:
    data = tmp_path / "letter.yaml"
    data.write_text(yaml.safe_dump({**LETTER, "body": [
        "See [report](report.pdf) and [HRW](https://www.hrw.org)."]}), encoding="utf-8")
    (pdf,) = render_file(data, tmp_path / "out", formats=["pdf"])
    with pikepdf.Pdf.open(pdf) as document:
        uris = [str(annotation.A.URI) for page in document.pages
                for annotation in page.get("/Annots", []) if "/A" in annotation
                and "/URI" in annotation.A]
    assert uris == ["https://www.hrw.org/"] or uris == ["https://www.hrw.org"]


# --- signature images --------------------------------------------------------------------


def _with_signature(folder: Path, signature: str) -> Path:
    data = folder / "letter.yaml"
    data.write_text(yaml.safe_dump({**LETTER, "signatory": {"name": "Sophie Richardson",
                                                            "signature": signature}}),
                    encoding="utf-8")
    return data


def test_a_signature_outside_the_data_files_folder_is_refused(run: Run, tmp_path: Path) -> None:
    letters = tmp_path / "letters"
    letters.mkdir()
    secret = tmp_path / "secret.png"
    secret.write_bytes(png())
    for written in (str(secret), "../secret.png"):
        data = _with_signature(letters, written)
        result = run("render", data, "-f", "docx", "-o", tmp_path / "out")
        assert result.exit_code == 1
        assert (f"signatory.signature: {written!r} leads outside the folder of the file that "
                f"names it ({secret})") in result.output
        assert not (tmp_path / "out").exists()
    # A symbolic link inside the folder that leads out of it is refused too.
    (letters / "signature.png").symlink_to(secret)
    with pytest.raises(DataError, match=r"'signature\.png' leads outside the folder"):
        load_letter(_with_signature(letters, "signature.png"))
    # A picture in a folder inside it is fine.
    (letters / "images").mkdir()
    (letters / "images" / "signature.png").write_bytes(png())
    assert load_letter(_with_signature(letters, "images/signature.png")).signatory.signature


@pytest.mark.parametrize(("content", "message"), [
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * (5 * 1024 * 1024), "file is larger than 5 MiB"),
    (b"this is a text file", "signature.png is not a PNG, JPEG or GIF image"),
    (b"%PDF-1.4 not a picture", "signature.png is not a PNG, JPEG or GIF image"),
])
def test_a_signature_must_be_a_real_image_of_at_most_5_mib(tmp_path: Path, content: bytes,
                                                           message: str) -> None:
    (tmp_path / "signature.png").write_bytes(content)
    with pytest.raises(DataError) as raised:
        load_letter(_with_signature(tmp_path, "signature.png"))
    (problem,) = raised.value.problems
    assert problem.field == "signatory.signature"
    assert message in problem.message


def test_a_signature_from_a_recipients_row_stays_beside_the_recipients_or_the_case(
        tmp_path: Path) -> None:
    campaign = tmp_path / "campaign"
    (campaign / "people").mkdir(parents=True)
    secret = tmp_path / "secret.png"
    secret.write_bytes(png())
    (campaign / "signature.png").write_bytes(png())
    case = campaign / "case.yaml"
    case.write_text(yaml.safe_dump({k: v for k, v in LETTER.items() if k != "recipient"}),
                    encoding="utf-8")
    recipients = campaign / "people" / "recipients.csv"
    recipients.write_text("name,signatory.signature\nWang Yi,../../secret.png\n"
                          f"Li Qiang,{secret}\nHan Zheng,../signature.png\n", encoding="utf-8")
    with pytest.raises(DataError) as raised:
        merge(case, recipients, tmp_path / "out", MergeOptions(formats=("docx",)))
    problems = [str(p) for p in raised.value.problems]
    assert len(problems) == 2, problems  # the third, beside the case file, is fine
    assert all("leads outside the folder" in p for p in problems)
    assert "record 1 (1)" in problems[0] and "record 2 (2)" in problems[1]
    assert not (tmp_path / "out").exists()
    assert os.path.exists(secret)
