"""Finding letter templates on disk (drafter.template): names, folders, files, variants."""

from __future__ import annotations

import shutil
from pathlib import Path

import docx
import pytest

from drafter import TemplateError, find_template
from drafter.locales import Localizer, locale_for
from drafter.template import BUILTIN_TEMPLATE, builtin_templates_dir

from .conftest import ROOT

BUILTIN = ROOT / "templates" / "advocacy-letter"


def _loc(identifier: str) -> Localizer:
    return Localizer(locale_for(identifier))


def _layout(path: Path, text: str) -> Path:
    document = docx.Document()
    document.add_paragraph(text)
    document.save(str(path))
    return path


def test_the_default_is_the_built_in_letter_with_its_catalogs_and_sample() -> None:
    template = find_template()
    assert template.name == BUILTIN_TEMPLATE
    assert template.folder.resolve() == BUILTIN.resolve() == builtin_templates_dir().resolve() \
        / BUILTIN_TEMPLATE
    assert template.variants[""].name == "letter.docx"
    assert (template.catalogs / "zh_Hans" / "LC_MESSAGES" / "messages.po").is_file()
    assert template.sample.read_text(encoding="utf-8").startswith(("#", "locale", "date"))


def test_a_folder_s_variants_are_chosen_by_the_letter_s_language(tmp_path: Path) -> None:
    _layout(tmp_path / "letter.docx", "default")
    _layout(tmp_path / "letter.zh_Hans.docx", "简体")
    _layout(tmp_path / "letter.ko.docx", "한국어")
    template = find_template(tmp_path)
    assert set(template.variants) == {"", "zh_Hans", "ko"}
    assert template.docx_for(_loc("zh_Hans_CN")).name == "letter.zh_Hans.docx"
    assert template.docx_for(_loc("zh")).name == "letter.zh_Hans.docx"
    assert template.docx_for(_loc("ko_KR")).name == "letter.ko.docx"
    assert template.docx_for(_loc("fr")).name == "letter.docx"


def test_a_single_docx_is_a_template_of_one_layout(tmp_path: Path) -> None:
    path = _layout(tmp_path / "memo.docx", "{{ subject }}")
    template = find_template(path)
    assert (template.name, dict(template.variants)) == ("memo", {"": path})
    assert template.docx_for(_loc("ar")) == path


@pytest.mark.parametrize(("name", "message"), [
    ("memo.docm", "macro-enabled documents are refused; save the template as .docx"),
    ("memo.pdf", "a template must be a Word document (.docx)")])
def test_other_files_are_refused_by_their_name(tmp_path: Path, name: str, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"not looked at")
    with pytest.raises(TemplateError) as caught:
        find_template(path)
    assert [str(p) for p in caught.value.problems] == [f"{path}: {message}"]


def test_a_folder_needs_its_default_layout(tmp_path: Path) -> None:
    _layout(tmp_path / "letter.ko.docx", "한국어")
    with pytest.raises(TemplateError) as caught:
        find_template(tmp_path)
    assert str(caught.value.problems[0]) == f"{tmp_path}: no letter.docx in the template folder"


def test_an_unknown_name_lists_the_built_in_templates(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # "nosuch" is not a folder here either
    with pytest.raises(TemplateError) as caught:
        find_template("nosuch")
    assert str(caught.value.problems[0]) == (
        "nosuch: no such template; built-in templates: advocacy-letter, urgent-appeal, or give "
        "the path of a folder or .docx file")


def test_a_copied_folder_is_found_by_its_path(tmp_path: Path) -> None:
    copy = shutil.copytree(BUILTIN, tmp_path / "mine")
    template = find_template(copy)
    assert template.name == "mine" and template.variants[""] == copy / "letter.docx"
