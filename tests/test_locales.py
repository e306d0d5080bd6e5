"""The letter's language: choosing a locale and a catalog, the Jinja filters bound to it, names
and phrases per locale, and adding a language or a layout without touching code."""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docx
import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import write_po

from drafter import LocaleError, load_letter, render_letter
from drafter.locales import (
    Localizer,
    Subtags,
    fallback_chain,
    likely_subtags,
    load_catalog,
    locale_for,
    localizer_for,
    missing_catalog,
    negotiate,
    paper_for,
    territory_of,
)
from drafter.model import Letter
from drafter.template import builtin_templates_dir, find_template

from .conftest import EXAMPLES, docx_text

TEMPLATE = builtin_templates_dir() / "advocacy-letter"
CATALOGS = TEMPLATE / "locales"
SHIPPED = ["en", "zh_Hans", "ko", "ar"]  # the catalogs the built-in template ships


def localizer(identifier: str, catalogs: Path = CATALOGS) -> Localizer:
    locale = locale_for(identifier)
    return Localizer(locale, load_catalog(catalogs, locale))


def lines_of(rendered_docx: bytes) -> list[str]:
    return docx_text(rendered_docx).splitlines()


@pytest.fixture(scope="module")
def letter() -> Letter:
    return load_letter(EXAMPLES / "letter-en.yaml")


# --- choosing a locale --------------------------------------------------------------------------

@pytest.mark.parametrize(("identifier", "chain"), [
    ("zh_Hans_CN", ["zh_Hans_CN", "zh_Hans", "zh_CN", "zh"]),
    ("zh", ["zh_Hans", "zh"]),  # CLDR's likely script for Chinese is Simplified
    ("zh_TW", ["zh_Hant_TW", "zh_Hant", "zh_TW", "zh"]),  # …but Taiwan writes Traditional
    ("ko_KR", ["ko_KR", "ko"]),
    ("en", ["en"]),
    ("zh-Hans-CN", ["zh_Hans_CN", "zh_Hans", "zh_CN", "zh"]),  # BCP 47 spelling too
])
def test_the_fallback_chain_runs_from_specific_to_general(identifier: str,
                                                          chain: list[str]) -> None:
    assert fallback_chain(locale_for(identifier)) == chain


@pytest.mark.parametrize(("given", "likely"), [
    ("ko", Subtags("ko", "Kore", "KR")),  # Babel's Locale.parse("ko_Kore_KR") drops "Kore"
    ("zh", Subtags("zh", "Hans", "CN")),
    ("zh_Hant", Subtags("zh", "Hant", "TW")),  # the script decides the territory
    ("zh_TW", Subtags("zh", "Hant", "TW")),  # …and the territory the script
    ("sr_ME", Subtags("sr", "Latn", "ME")),  # not Serbian's own Cyrillic
    ("ar", Subtags("ar", "Arab", "EG")),
    ("en_GB", Subtags("en", "Latn", "GB")),  # what is given is kept
    ("und_CN", Subtags("zh", "Hans", "CN")),  # a territory alone: its language
    ("und_GB", Subtags("en", "Latn", "GB")),  # …also where Babel's table has no entry
    ("und_US", Subtags("en", "Latn", "US")),
    ("eo", Subtags("eo", "Latn", "001")),  # Esperanto belongs to the world
])
def test_likely_subtags_fill_in_what_a_locale_leaves_unsaid(given: str, likely: Subtags) -> None:
    assert likely_subtags(given) == likely
    if not given.startswith("und"):
        assert likely_subtags(locale_for(given)) == likely


def test_a_language_cldr_has_no_data_for_gets_no_guesses() -> None:
    assert likely_subtags("xx") == Subtags("xx", "", "")


@pytest.mark.parametrize(("identifier", "territory"), [
    ("en", "US"), ("en_GB", "GB"), ("zh_Hant", "TW"), ("ko", "KR"), ("ar", "EG")])
def test_a_locale_without_a_territory_gets_its_likely_one(identifier: str,
                                                          territory: str) -> None:
    assert territory_of(locale_for(identifier)) == territory


def test_localizer_for_binds_the_templates_catalog_to_the_locale() -> None:
    loc = localizer_for(find_template("advocacy-letter"), "zh_Hans_CN")
    assert loc.identifier == "zh_Hans_CN"
    assert loc.gettext("Sincerely,") != "Sincerely,"  # from locales/zh_Hans
    assert loc.gettext("Sincerely,") == localizer("zh_Hans").gettext("Sincerely,")
    with pytest.raises(LocaleError):
        localizer_for(find_template("advocacy-letter"), "xx_nowhere")


@pytest.mark.parametrize(("identifier", "available", "chosen"), [
    ("zh_Hans_CN", SHIPPED, "zh_Hans"),
    ("zh_Hans_CN", ["en", "zh"], "zh"),
    ("zh_Hans_CN", ["en", "zh-Hans"], "zh-Hans"),  # returned as the available one spells it
    ("zh_TW", ["zh_Hans", "zh_Hant"], "zh_Hant"),
    ("zh_TW", ["zh_Hans"], None),  # never Simplified phrases in a Traditional letter
    ("ko_KR", SHIPPED, "ko"),
    ("en_GB", SHIPPED, "en"),
    ("ar_EG", SHIPPED, "ar"),
    ("fr_FR", SHIPPED, None),
])
def test_negotiate_picks_the_closest_available(identifier: str, available: list[str],
                                              chosen: str | None) -> None:
    assert negotiate(locale_for(identifier), available) == chosen


@pytest.mark.parametrize(("identifier", "paper"), [
    ("en", "Letter"), ("en_US", "Letter"), ("en_CA", "Letter"), ("fr_CA", "Letter"),
    ("es_MX", "Letter"), ("en_PH", "Letter"),
    ("en_GB", "A4"), ("en_AU", "A4"), ("fr", "A4"), ("de_DE", "A4"), ("zh_Hans_CN", "A4"),
    ("ko", "A4"), ("ar", "A4"), ("ja", "A4"),
])
def test_paper_follows_the_territory(identifier: str, paper: str) -> None:
    assert paper_for(locale_for(identifier)) == paper


@pytest.mark.parametrize(("identifier", "tag", "script", "rtl"), [
    ("en_US", "en-US", "Latn", False),
    ("zh_Hans_CN", "zh-Hans-CN", "Hans", False),
    ("zh_TW", "zh-Hant-TW", "Hant", False),
    ("ko_KR", "ko-KR", "Kore", False),
    ("ja", "ja", "Jpan", False),
    ("ar", "ar", "Arab", True),
])
def test_a_localizer_knows_its_tag_script_and_direction(identifier: str, tag: str, script: str,
                                                        rtl: bool) -> None:
    loc = localizer(identifier)
    assert loc.language_tag == tag
    assert loc.script == script
    assert loc.right_to_left is rtl


def test_an_unknown_locale_is_an_error_naming_it(letter: Letter) -> None:
    with pytest.raises(LocaleError, match="unknown locale 'tlh_XX'"):
        render_letter(letter, locale="tlh_XX")


def test_an_unknown_locale_in_the_data_names_the_field(run, write_data, example_data,
                                                       tmp_path: Path) -> None:
    example_data["locale"] = "xx_YY"
    data = write_data(example_data)
    outdir = tmp_path / "out"
    result = run("render", data, "-o", outdir, "-f", "docx")
    assert result.exit_code != 0
    line = next(i for i, text in enumerate(data.read_text(encoding="utf-8").splitlines(), 1)
                if text.startswith("locale:"))
    assert f"{data}:{line}:" in result.output
    assert "locale: unknown locale 'xx_YY'" in result.output
    assert not outdir.exists()


# --- catalogs -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("identifier", "cc"), [
    ("zh_Hans_CN", "抄送："), ("zh", "抄送："), ("ko_KR", "참조:"), ("ar_EG", "نسخة إلى:"),
    ("en_GB", "CC:"), ("fr_FR", "Copie à\u00a0:"), ("pt_BR", "Com cópia para:"),
    ("pt_PT", "Com conhecimento a:"), ("zh_Hant_TW", "副本："), ("ja_JP", "写し送付先："),
    ("it_IT", "CC:"),  # no Italian catalog: the phrase as the template has it
])
def test_load_catalog_picks_the_closest_catalog(identifier: str, cc: str) -> None:
    assert localizer(identifier).gettext("CC:") == cc


def test_no_catalog_folder_means_the_template_phrases(tmp_path: Path) -> None:
    loc = localizer("zh_Hans_CN", tmp_path / "no-such-folder")
    assert loc.gettext("Re: %(subject)s") == "Re: %(subject)s"


def _write_catalog(folder: Path, locale: str, messages: dict[Any, Any], *,
                   fuzzy: tuple[str, ...] = ()) -> Path:
    """Write ``<folder>/<locale>/LC_MESSAGES/messages.po`` as Babel's tools would."""
    catalog = Catalog(locale=locale)
    for msgid, msgstr in messages.items():
        catalog.add(msgid, msgstr, flags=("fuzzy",) if msgid in fuzzy else ())
    path = folder / locale / "LC_MESSAGES" / "messages.po"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        write_po(f, catalog)
    return path


def test_the_po_file_is_read_directly_and_no_stale_mo_shadows_it(tmp_path: Path) -> None:
    po = _write_catalog(tmp_path, "fr", {"CC:": "Copie :"})
    stale = Catalog(locale="fr")
    stale.add("CC:", "Copie à :")
    with (po.parent / "messages.mo").open("wb") as f:
        write_mo(f, stale)
    assert localizer("fr_FR", tmp_path).gettext("CC:") == "Copie :"
    _write_catalog(tmp_path, "fr", {"CC:": "Copie pour information :"})  # a translator saves
    assert localizer("fr_FR", tmp_path).gettext("CC:") == "Copie pour information :"


def test_fuzzy_entries_are_not_used(tmp_path: Path) -> None:
    _write_catalog(tmp_path, "fr", {"CC:": "Copie :", "Sincerely,": "Cordialement,"},
                   fuzzy=("Sincerely,",))
    loc = localizer("fr", tmp_path)
    assert (loc.gettext("CC:"), loc.gettext("Sincerely,")) == ("Copie :", "Sincerely,")


# --- the Jinja filters, in a template of one's own ----------------------------------------------

FILTERS = [
    '{{ date | format_date }}',
    '{{ ["a", "b", "c"] | format_list }}',
    '{{ "CN" | country_name }}',
    '{{ _("CC:") }}',
]
MORE_FILTERS = [
    '{{ 1234567.5 | format_number }}',
    '{{ "+1-212-290-4700" | format_phone }}',
    '{{ "010 6307 0900" | format_phone("CN") }}',
    '{{ "+011 10 6238 1025" | format_phone }}',
    '{{ {"en": "Beijing", "zh": "北京", "ko": "베이징"} | localized }}',
]


def _template_folder(folder: Path, paragraphs: list[str]) -> Path:
    """A template folder: a letter.docx of the given paragraphs, and the built-in catalogs."""
    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    folder.mkdir(parents=True)
    document.save(str(folder / "letter.docx"))
    shutil.copytree(CATALOGS, folder / "locales")
    return folder


@pytest.fixture(scope="module")
def filters_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _template_folder(tmp_path_factory.mktemp("filters") / "filters",
                            FILTERS + MORE_FILTERS)


@pytest.mark.parametrize(("identifier", "expected"), [
    ("en", ["November 24, 2015", "a, b, and c", "China", "CC:"]),
    ("en_GB", ["24 November 2015", "a, b and c", "China", "CC:"]),
    ("zh_Hans", ["2015年11月24日", "a、b和c", "中国", "抄送："]),
    ("ko", ["2015년 11월 24일", "a, b 및 c", "중국", "참조:"]),
])
def test_filters_format_in_the_letters_locale(letter: Letter, filters_template: Path,
                                              identifier: str, expected: list[str]) -> None:
    text = lines_of(render_letter(letter, filters_template, locale=identifier).docx)
    assert text[:len(FILTERS)] == expected


@pytest.mark.parametrize(("identifier", "expected"), [
    ("en", ["1,234,567.5", "+1 212 290 4700", "+86 10 6307 0900", "+011 10 6238 1025",
            "Beijing"]),
    ("de", ["1.234.567,5", "+1 212 290 4700", "+86 10 6307 0900", "+011 10 6238 1025",
            "Beijing"]),  # no German form: the first one
    ("zh_Hans_CN", ["1,234,567.5", "+1 212 290 4700", "+86 10 6307 0900", "+011 10 6238 1025",
                    "北京"]),
])
def test_numbers_phones_and_localized_text(letter: Letter, filters_template: Path,
                                           identifier: str, expected: list[str]) -> None:
    text = lines_of(render_letter(letter, filters_template, locale=identifier).docx)
    assert text[len(FILTERS):] == expected


def test_format_date_also_takes_an_iso_string_and_a_format(letter: Letter,
                                                           tmp_path: Path) -> None:
    folder = _template_folder(tmp_path / "dates", [
        '{{ "2015-11-17" | format_date }}', '{{ date | format_date("short") }}'])
    assert lines_of(render_letter(letter, folder, locale="en_GB").docx) == [
        "17 November 2015", "24/11/2015"]


# --- names and phrases per locale ---------------------------------------------------------------

XI = {"en": "Xi Jinping", "zh": "习近平", "ko": "시진핑"}


@pytest.mark.parametrize(("value", "identifier", "chosen"), [
    (XI, "en_US", "Xi Jinping"),
    (XI, "zh_Hans_CN", "习近平"),
    (XI, "zh_TW", "习近平"),  # zh_Hant_TW → zh_Hant → zh_TW → zh
    (XI, "ko_KR", "시진핑"),
    ({"zh": "习近平", "zh_Hans": "习近平 (Hans)"}, "zh_Hans_CN", "习近平 (Hans)"),
    ({"default": "Xi Jinping", "zh": "习近平"}, "fr", "Xi Jinping"),
    ({"zh": "习近平", "ko": "시진핑"}, "en", "习近平"),  # no form, no default: the first one
    ("Xi Jinping", "zh_Hans_CN", "Xi Jinping"),
])
def test_a_text_field_picks_its_form_per_locale(value: str | dict[str, str], identifier: str,
                                                chosen: str) -> None:
    assert localizer(identifier).text(value) == chosen


@pytest.mark.parametrize(("identifier", "salutation"), [
    ("en_US", "Dear President Xi Jinping,"),
    ("zh_Hans_CN", "尊敬的习近平主席："),
    ("ko_KR", "존경하는 시진핑 주석님께"),
    ("ar", "President Xi Jinping المحترم،"),  # no Arabic forms: the default, the first
])
def test_names_per_locale_reach_the_letter(example_data: dict, write_data: Callable[..., Path],
                                           identifier: str, salutation: str) -> None:
    example_data["recipient"]["name"] = XI
    example_data["recipient"]["honorific"] = {"default": "President", "zh": "主席", "ko": "주석"}
    letter = load_letter(write_data(example_data))
    assert salutation in lines_of(render_letter(letter, locale=identifier).docx)


@pytest.fixture(scope="module")
def examples() -> dict[str, list[str]]:
    """The paragraphs of each non-English example, rendered once."""
    return {name: lines_of(render_letter(load_letter(EXAMPLES / f"letter-{name}.yaml")).docx)
            for name in ("zh_Hans", "ko", "ar")}


@pytest.mark.parametrize(("example", "subject", "salutation", "close"), [
    ("zh_Hans", "事由：九名朝鲜难民遭拘押一事", "尊敬的习近平主席：", ["此致", "敬礼！"]),
    ("ko", "제목: 북한 난민 9명 구금 건", "존경하는 시진핑 주석님께", ["감사합니다."]),
    ("ar", "الموضوع: اعتقال المحامي والمدافع عن حقوق الإنسان عادل فهمي إسماعيل",
     "معالي اللواء سامي عبد الرحمن المحترم،", ["وتفضلوا بقبول فائق الاحترام والتقدير،"]),
])
def test_the_examples_get_their_phrases_from_the_catalogs(
        examples: dict[str, list[str]], example: str, subject: str, salutation: str,
        close: list[str]) -> None:
    text = examples[example]
    # The data gives neither salutation nor close: both come from the catalog.
    assert subject in text
    assert salutation in text
    first = text.index(close[0])
    assert text[first:first + len(close)] == close


# --- a new language or layout is files, not code ------------------------------------------------

ITALIAN = {
    "Re: %(subject)s": "Oggetto: %(subject)s",
    "Dear %(form_of_address)s,": "Gentile %(form_of_address)s,",
    "CC:": "Per conoscenza:",
    "Sincerely,": "Distinti saluti,",
}
FRENCH = {
    "CC:": "Copie à :",
    # CLDR gives French three plural forms (one, many, other): the header's Plural-Forms says so.
    ("%(count)s person in copy", "%(count)s people in copy"):
        ("%(count)s personne en copie", "%(count)s de personnes en copie",
         "%(count)s personnes en copie"),
}


@pytest.fixture
def template_copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(TEMPLATE, tmp_path / "advocacy-letter"))


def test_adding_a_locale_needs_no_code(template_copy: Path, example_data: dict,
                                       write_data: Callable[..., Path]) -> None:
    _write_catalog(template_copy / "locales", "it", ITALIAN)
    del example_data["close"]  # left to the catalog
    letter = load_letter(write_data(example_data))
    rendered = render_letter(letter, template_copy, locale="it_IT")
    text = lines_of(rendered.docx)
    for line in ("Oggetto: Detention of Nine North Korean refugees",
                 "Gentile President Xi Jinping,", "Per conoscenza:", "Distinti saluti,",
                 "24 novembre 2015",
                 "Tel: +1 212 290 4700"):  # not translated: as the template writes it
        assert line in text
    assert rendered.paper == "A4"
    document = docx.Document(io.BytesIO(rendered.docx))
    assert document.sections[0].page_width.twips == 11906  # type: ignore[union-attr]
    assert document.core_properties.language == "it-IT"


@pytest.mark.parametrize(("cc", "expected"), [
    (2, "2 personnes en copie"), (1, "1 personne en copie"),
    (0, "0 personne en copie"),  # French counts zero as singular, English would not
])
def test_plural_forms_follow_the_catalogs_rules(letter: Letter, tmp_path: Path, cc: int,
                                                expected: str) -> None:
    folder = _template_folder(tmp_path / "plural", [
        "{% trans count=cc|length %}{{ count }} person in copy{% pluralize %}"
        "{{ count }} people in copy{% endtrans %}"])
    _write_catalog(folder / "locales", "fr", FRENCH)
    changed = letter.model_copy(update={"cc": [letter.cc[0]] * cc})
    assert lines_of(render_letter(changed, folder, locale="fr").docx) == [expected]
    assert lines_of(render_letter(changed, folder, locale="en").docx) == [
        f"{cc} {'person' if cc == 1 else 'people'} in copy"]


def test_a_template_variant_per_language(template_copy: Path, letter: Letter) -> None:
    variant = docx.Document(str(template_copy / "letter.docx"))
    variant.add_paragraph("KO VARIANT")
    variant.save(str(template_copy / "letter.ko.docx"))
    assert set(find_template(template_copy).variants) == {"", "ja", "ko"}
    for identifier in ("ko_KR", "ko"):
        assert "KO VARIANT" in lines_of(render_letter(letter, template_copy,
                                                      locale=identifier).docx)
    for identifier in ("en", "zh_Hans_CN"):
        assert "KO VARIANT" not in lines_of(render_letter(letter, template_copy,
                                                          locale=identifier).docx)



# --- forms of address: salutation and close by gender and form, per language -------------------

def _salutation_and_close(example_data: dict, write_data: Callable[..., Path], identifier: str,
                          **recipient: Any) -> tuple[str, str]:
    example_data["recipient"].update(recipient)
    del example_data["close"]
    text = lines_of(render_letter(load_letter(write_data(example_data)),
                                  locale=identifier).docx)
    subject = next(i for i, line in enumerate(text) if "Detention of Nine" in line)
    close = next(i for i in range(len(text) - 1, 0, -1)
                 if text[i + 1:i + 2] == ["Sophie Richardson"])
    return text[subject + 1], text[close]


@pytest.mark.parametrize(("identifier", "recipient", "salutation", "close"), [
    ("fr", {"gender": "male", "form_of_address": "Monsieur le Président"},
     "Monsieur le Président,",
     "Veuillez agréer, Monsieur le Président, l’expression de ma très haute considération."),
    ("fr", {"gender": "female"}, "Madame,",
     "Veuillez agréer, Madame, l’expression de ma très haute considération."),
    ("fr", {}, "Madame, Monsieur,",
     "Veuillez agréer, Madame, Monsieur, l’expression de ma très haute considération."),
    ("ru", {"gender": "male", "form_of_address": "господин Председатель"},
     "Уважаемый господин Председатель!", "С уважением,"),
    ("ru", {"gender": "female", "name": "Мария Захарова", "honorific": "госпожа"},
     "Уважаемая госпожа Мария Захарова!", "С уважением,"),
    ("ru", {"gender": "unspecified", "honorific": None, "name": "Ли Хуэй"},
     "Уважаемый(-ая) Ли Хуэй!", "С уважением,"),
    ("de", {"gender": "female", "honorific": None, "name": "Merkel"}, "Sehr geehrte Frau Merkel,",
     "Mit freundlichen Grüßen"),
    ("de", {"gender": "male", "form_of_address": "Herr Botschafter"},
     "Sehr geehrter Herr Botschafter,", "Mit freundlichen Grüßen"),
    ("es", {"gender": "female", "form_of_address": "señora ministra"},
     "Estimada señora ministra:", "Atentamente,"),
    ("pt_BR", {"gender": "male", "form_of_address": "Senhor Presidente"},
     "Prezado Senhor Presidente,", "Atenciosamente,"),
    ("pt_PT", {"gender": "female", "form_of_address": "Senhora Ministra"},
     "Exma. Senhora Ministra,", "Com os melhores cumprimentos,"),
    ("ar", {"gender": "female", "honorific": "معالي", "name": "هالة السعيد"},
     "معالي هالة السعيد المحترمة،", "وتفضلوا بقبول فائق الاحترام والتقدير،"),
    ("ar", {"gender": "male", "honorific": "معالي", "name": "سامي عبد الرحمن"},
     "معالي سامي عبد الرحمن المحترم،", "وتفضلوا بقبول فائق الاحترام والتقدير،"),
    ("en_GB", {}, "Dear President Xi Jinping,", "Yours sincerely,"),
    ("en_US", {"form_of_address": "Mr. President"}, "Dear Mr. President,", "Sincerely,"),
    ("ja", {"honorific": "国家主席", "name": "習近平"}, "拝啓", "敬具"),
])
def test_salutation_and_close_follow_gender_and_form_of_address(
        example_data: dict, write_data: Callable[..., Path], identifier: str,
        recipient: dict[str, Any], salutation: str, close: str) -> None:
    for key in [k for k, v in recipient.items() if v is None]:  # None: the field left out
        example_data["recipient"].pop(key, None)
    recipient = {k: v for k, v in recipient.items() if v is not None}
    assert _salutation_and_close(example_data, write_data, identifier, **recipient) == (
        salutation, close)


def test_an_unknown_gender_is_an_error_naming_the_field(run, write_data, example_data) -> None:
    example_data["recipient"]["gender"] = "m"
    result = run("render", write_data(example_data), "-f", "docx")
    assert result.exit_code != 0
    assert "recipient.gender" in result.output and "'female', 'male' or 'unspecified'" in (
        result.output)


# --- no catalog, no word ------------------------------------------------------------------------

def test_a_locale_without_catalog_is_a_warning_naming_the_closest(
        run, write_data, example_data, tmp_path: Path) -> None:
    example_data["locale"] = "it_IT"
    data = write_data(example_data)
    result = run("render", data, "-o", tmp_path / "out", "-f", "docx")
    assert result.exit_code == 0
    assert f"{data}: warning: locale: no catalog for it_IT (Italian (Italy))" in result.output
    assert "printed in English; the closest catalog is 'en'" in result.output
    checked = run("check", "advocacy-letter", "--data", data)
    assert "warning: no catalog for it_IT" in checked.output


def test_the_closest_catalog_is_of_the_same_language(tmp_path: Path) -> None:
    shutil.copytree(CATALOGS / "zh_Hans", tmp_path / "zh_Hans")
    shutil.copytree(CATALOGS / "en", tmp_path / "en")
    message = missing_catalog(tmp_path, locale_for("zh_Hant_TW"))
    assert message is not None and "the closest catalog is 'zh_Hans'" in message
    assert missing_catalog(tmp_path, locale_for("zh_Hans_SG")) is None
    assert missing_catalog(tmp_path / "none", locale_for("it")) is None  # no catalogs at all


@pytest.mark.parametrize("identifier", ["de", "pt_BR", "ja", "zh_Hant_TW", "fr_CA", "es_MX",
                                        "ru", "en_GB", "pt_PT", "ko", "ar_EG", "zh_Hans_CN"])
def test_every_language_of_the_publisher_has_a_catalog(identifier: str) -> None:
    assert missing_catalog(CATALOGS, locale_for(identifier)) is None


def test_a_merge_warns_once_per_locale_without_catalog(run, write_data, tmp_path: Path) -> None:
    from .conftest import SHORT_CASE
    case = write_data(SHORT_CASE, "case.yaml")
    recipients = tmp_path / "recipients.csv"
    recipients.write_text("id,locale,name\na,it,Mario Rossi\nb,it,Anna Bianchi\nc,fr,Paul Durand\n",
                          encoding="utf-8")
    result = run("merge", case, recipients, "-o", tmp_path / "out", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output.count("no catalog for it") == 1
    assert "no catalog for fr" not in result.output


def test_english_phrases_stay_left_to_right_in_a_right_to_left_letter(
        example_data: dict, write_data: Callable[..., Path]) -> None:
    example_data["locale"] = "he"  # Hebrew: no catalog, so the phrases are the English ones
    example_data["subject"] = "מעצרם של תשעה פליטים"
    del example_data["close"]
    text = lines_of(render_letter(load_letter(write_data(example_data))).docx)
    lrm = "\u200e"  # a left-to-right mark on each side of every neutral run of the phrase
    assert f"Re{lrm}: {lrm}מעצרם של תשעה פליטים" in text
    assert f"Sincerely{lrm},{lrm}" in text
    assert f"Dear{lrm} {lrm}President Xi Jinping{lrm},{lrm}" in text


# --- a letter put into its language once ------------------------------------------------------

def _campaign_letter(identifier: str) -> Letter:
    import yaml

    data = yaml.safe_load((EXAMPLES / "campaign" / "case.yaml").read_text(encoding="utf-8"))
    data["locale"] = identifier
    data["recipient"] = {"name": {"en": "Xi Jinping", "zh_Hans": "习近平"},
                         "honorific": {"en": "President", "zh_Hans": "主席"},
                         "address": {"country": "CN", "city": {"en": "Beijing",
                                                               "zh_Hans": "北京市"}}}
    return Letter.model_validate(data)


@pytest.mark.parametrize(("identifier", "subject", "name", "layout"), [
    ("zh_Hans_CN", "九名朝鲜难民遭拘押一事", "习近平", "%N%n%O%n%A%n%C, %S %Z"),
    ("ko_KR", "북한 난민 9명 구금 건", "Xi Jinping", "%N%n%O%n%A%n%C, %S %Z"),
    ("es_ES", "Detention of Nine North Korean refugees", "Xi Jinping", ""),
])
def test_resolve_gives_the_letters_own_strings(identifier: str, subject: str, name: str,
                                               layout: str) -> None:
    letter = _campaign_letter(identifier)
    resolved = localizer(identifier).resolve(letter)
    assert resolved.subject == subject and resolved.recipient.name == name
    assert all(isinstance(paragraph, str) for paragraph in resolved.body)
    assert resolved.sender.address is not None
    # A layout is only taken in a language it was written for: Spanish gets `default: ""`.
    assert resolved.sender.address.layout == layout
    assert resolved.locale == letter.locale and resolved.date == letter.date
    assert letter.subject != subject  # the letter itself keeps every form


def test_resolve_gives_no_layout_where_none_is_written_for_the_language() -> None:
    letter = _campaign_letter("ru_RU").model_copy(update={"sender": _campaign_letter(
        "ru_RU").sender.model_copy(update={"address": _campaign_letter(
            "ru_RU").sender.address.model_copy(update={"layout": {"en": "%A%n%C"}})})})
    assert localizer("ru_RU").resolve(letter).sender.address.layout is None
    assert localizer("en_GB").resolve(letter).sender.address.layout == "%A%n%C"


def test_the_context_of_a_resolved_letter_is_the_letters_context() -> None:
    from drafter.context import build_context

    for identifier in ("zh_Hans_CN", "ko_KR", "fr_FR", "en_US"):
        loc = localizer(identifier)
        letter = _campaign_letter(identifier)
        assert (build_context(loc.resolve(letter), loc).values
                == build_context(letter, loc).values)


def test_known_parts_are_taken_as_resolved_once() -> None:
    loc = localizer("ko_KR")
    case = _campaign_letter("ko_KR")
    known = loc.resolved_parts(case)
    # A letter of the same case: its texts are the case's own objects (validation keeps them).
    letter = Letter.model_validate({**case.model_dump(), "subject": case.subject,
                                    "body": case.body})
    assert letter.subject is case.subject
    resolved = loc.resolve(letter, known)
    assert all(mine is shared for mine, shared in zip(resolved.body, known[id(case.body)][1],
                                                      strict=True))
    assert resolved.subject == "북한 난민 9명 구금 건"
