"""People, postal addresses and phone numbers, laid out by their country's convention in the
letter's language: checked on the rendered examples and on addresses built from data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from drafter import load_letter, read_letter, render_letter
from drafter.addresses import address_lines, contact_lines, format_phone, person_lines
from drafter.locales import Localizer, load_catalog, locale_for
from drafter.model import Address, Contact, Person
from drafter.template import builtin_templates_dir

from .conftest import EXAMPLES, SOURCE_LETTER, docx_text

CATALOGS = builtin_templates_dir() / "advocacy-letter" / "locales"
LRM = "\u200e"  # the left-to-right mark that holds a number or a Latin line in Arabic text

BEIJING_ZH = {"street": "府右街中南海西门", "district": "西城区", "city": "北京市",
              "postal_code": "100017", "country": "CN"}
BERLIN = {"street": "Werderscher Markt 1", "city": "Berlin", "postal_code": "10117",
          "country": "DE"}
CAMBRIDGE = {"street": "1 Trinity Street", "city": "Cambridge", "region": "Cambridgeshire",
             "postal_code": "CB2 1TN", "country": "GB"}
CAIRO = {"street": "Sheikh Rihan Street", "district": "Bab al-Louk", "city": "Cairo",
         "country": "EG"}


def localizer(identifier: str) -> Localizer:
    locale = locale_for(identifier)
    return Localizer(locale, load_catalog(CATALOGS, locale))


def lines(address: dict[str, Any], identifier: str, **kwargs: Any) -> list[str]:
    return address_lines(Address.model_validate(address), localizer(identifier), **kwargs)


def has_block(text: list[str], block: list[str]) -> bool:
    """Whether the lines of ``block`` occur in ``text`` one after the other, nothing between."""
    return any(text[i:i + len(block)] == block for i in range(len(text) - len(block) + 1))


@pytest.fixture(scope="module")
def examples() -> dict[str, list[str]]:
    """The paragraphs of each example letter as rendered, one entry a line."""
    return {name: docx_text(render_letter(load_letter(EXAMPLES / f"letter-{name}.yaml")).docx)
            .splitlines() for name in ("en", "zh_Hans", "ko", "ar")}


def source_blocks() -> list[list[str]]:
    """The source letter's paragraphs-of-lines, split at its blank lines."""
    blocks, block = [], []
    for line in SOURCE_LETTER.read_text(encoding="utf-8").splitlines():
        if line.strip():
            block.append(line.strip())
        elif block:
            blocks.append(block)
            block = []
    return [*blocks, block] if block else blocks


def test_the_english_example_has_every_address_block_of_the_source_letter(
        examples: dict[str, list[str]]) -> None:
    blocks = {block[0]: block for block in source_blocks()}
    for name in ("Human Rights Watch", "President Xi Jinping", "Guo Shengkun", "Wang Yi"):
        assert len(blocks[name]) >= 4
        assert has_block(examples["en"], blocks[name]), blocks[name]
    assert has_block(examples["en"], ["Xicheng District, Beijing 100017",
                                      "People’s Republic of China",
                                      "Fax: +86 10 6307 0900; +011 10 6238 1025"])


def test_chinese_addresses_run_big_to_small_without_spaces(
        examples: dict[str, list[str]]) -> None:
    assert has_block(examples["zh_Hans"], [
        "中华人民共和国", "100017", "北京市西城区", "府右街中南海西门", "中国共产党中央委员会",
        "总书记办公室", "习近平主席", "传真：+86 10 6307 0900；+011 10 6238 1025"])
    assert has_block(examples["zh_Hans"], [
        "中华人民共和国", "100741", "北京市东城区", "东长安街14号", "公安部部长", "郭声琨"])


def test_korean_addresses_run_big_to_small_with_spaces(examples: dict[str, list[str]]) -> None:
    assert has_block(examples["ko"], [
        "중화인민공화국", "100017", "베이징시 시청구", "푸유가 중난하이 시먼",
        "중국공산당 중앙위원회", "총서기 판공실", "시진핑 주석",
        "팩스: +86 10 6307 0900, +011 10 6238 1025"])


def test_a_person_block_puts_the_name_last_in_a_big_to_small_layout() -> None:
    person = Person(honorific="主席", name="习近平", office="总书记办公室",
                    organization="中国共产党中央委员会", address=Address.model_validate(BEIJING_ZH))
    assert person_lines(person, localizer("zh_Hans_CN")) == [
        "中国", "100017", "北京市西城区", "府右街中南海西门", "中国共产党中央委员会",
        "总书记办公室", "习近平主席"]


def test_a_chinese_address_in_an_english_letter_is_small_to_big() -> None:
    address = {**BEIJING_ZH, "street": "Zhongnanhai Ximen, Fuyou Street",
               "district": "Xicheng District", "city": "Beijing"}
    assert lines(address, "en", name=["President Xi Jinping"]) == [
        "President Xi Jinping", "Zhongnanhai Ximen, Fuyou Street", "Xicheng District", "Beijing",
        "100017", "China"]


def test_a_german_address_in_an_english_letter() -> None:
    assert lines(BERLIN, "en_US", name=["Anna Schmidt"], organization=["Federal Foreign Office"]
                 ) == ["Anna Schmidt", "Federal Foreign Office", "Werderscher Markt 1",
                       "10117 Berlin", "Germany"]


@pytest.mark.parametrize(("identifier", "country"), [
    ("de", "Deutschland"), ("zh_Hans", "德国"), ("ko", "독일")])
def test_a_german_address_keeps_its_layout_in_other_languages(identifier: str,
                                                               country: str) -> None:
    # Germany writes small to big: even a Chinese letter keeps that order, country last.
    assert lines(BERLIN, identifier) == ["Werderscher Markt 1", "10117 Berlin", country]


def test_a_uk_address_puts_the_county_after_the_town() -> None:
    assert lines(CAMBRIDGE, "en_GB", name=["Jane Doe"]) == [
        "Jane Doe", "1 Trinity Street", "Cambridge, Cambridgeshire", "CB2 1TN", "United Kingdom"]


def test_an_egyptian_district_is_not_dropped() -> None:
    # Egypt's format has no district line: the district follows the street.
    assert lines(CAIRO, "en") == ["Sheikh Rihan Street", "Bab al-Louk", "Cairo", "Egypt"]
    arabic = {**CAIRO, "street": "شارع الشيخ ريحان", "district": "باب اللوق", "city": "القاهرة"}
    assert lines(arabic, "ar") == ["شارع الشيخ ريحان", "باب اللوق", "القاهرة", "مصر"]


@pytest.mark.parametrize(("identifier", "country", "first"), [
    ("en", "China", False), ("zh_Hans_CN", "中国", True), ("ko_KR", "중국", True),
    ("ar", "الصين", False)])
def test_country_names_come_from_cldr_in_the_letters_language(identifier: str, country: str,
                                                              first: bool) -> None:
    result = lines({"city": "Beijing", "country": "CN"}, identifier)
    assert result[0 if first else -1] == country
    assert result.count(country) == 1


def test_country_name_overrides_cldr() -> None:
    address = {**BEIJING_ZH, "country_name": {"en": "People’s Republic of China",
                                              "zh": "中华人民共和国"}}
    assert lines(address, "zh_Hans_CN")[0] == "中华人民共和国"
    assert lines({**address, "street": "Fuyou Street"}, "en")[-1] == "People’s Republic of China"


def test_a_layout_reproduces_an_address_as_published() -> None:
    address = {"street": "Zhongnanhai Ximen, Fuyou Street", "district": "Xicheng District",
               "city": "Beijing", "postal_code": "100017", "country": "CN",
               "layout": "%N%n%O%n%A%n%D, %C %Z"}
    assert lines(address, "en", name=["President Xi Jinping"]) == [
        "President Xi Jinping", "Zhongnanhai Ximen, Fuyou Street",
        "Xicheng District, Beijing 100017", "China"]
    # A separator is kept only between two values.
    assert lines({**address, "district": None}, "en")[1] == "Beijing 100017"


def test_a_layout_may_place_the_country_itself() -> None:
    address = {"street": "350 Fifth Avenue, 34th Floor", "city": "New York", "region": "NY",
               "postal_code": "10118-3299", "country": "US", "country_name": "USA",
               "layout": "%A%n%C, %S %Z %K"}
    assert lines(address, "en_US") == ["350 Fifth Avenue, 34th Floor",
                                       "New York, NY 10118-3299 USA"]


# --- phone and fax numbers ----------------------------------------------------------------------

@pytest.mark.parametrize(("number", "country", "formatted"), [
    ("+1 212 290 4700", None, "+1 212 290 4700"),
    ("+1-212-290-4700", None, "+1 212 290 4700"),  # E.123: spaces, no hyphens
    ("(212) 290-4700", "US", "+1 212 290 4700"),  # national notation, read by the country
    ("+86 10 6307 0900", None, "+86 10 6307 0900"),
    ("010 6307 0900", "CN", "+86 10 6307 0900"),
    ("+44 20 7946 0321", None, "+44 20 7946 0321"),
    ("+011 10 6238 1025", None, None),  # not a valid number
    ("call us", None, None),
])
def test_numbers_are_printed_in_international_notation(number: str, country: str | None,
                                                       formatted: str | None) -> None:
    assert format_phone(number, country) == formatted


def test_contact_lines_group_by_kind_and_keep_an_invalid_number_as_given() -> None:
    contacts = [Contact(kind="fax", value="+86 10 6307 0900"),
                Contact(kind="email", value="press@example.org"),
                Contact(kind="phone", value="010 6626 2114"),
                Contact(kind="fax", value="+011 10 6238 1025")]
    assert contact_lines(contacts, localizer("en"), "CN") == [
        "Tel: +86 10 6626 2114", "Fax: +86 10 6307 0900; +011 10 6238 1025",
        "Email: press@example.org"]
    assert contact_lines(contacts, localizer("zh_Hans_CN"), "CN")[0] == "电话：+86 10 6626 2114"


def test_an_invalid_number_is_a_warning_naming_its_field(
        run: Callable[..., Any], write_data: Callable[..., Path], example_data: dict,
        tmp_path: Path) -> None:
    example_data["cc"][0]["contacts"][0] = {"phone": "+86 10 6626"}
    data = write_data(example_data)
    _, warnings = read_letter(data)
    # The example's `+011 10 6238 1025` is marked `as_given`: printed as written, no warning.
    assert [(w.field, w.severity) for w in warnings] == [("cc[0].contacts[0]", "warning")]
    result = run("render", data, "-o", tmp_path / "out", "-f", "docx")
    assert result.exit_code == 0, result.output
    assert "warning: cc[0].contacts[0]: '+86 10 6626' is not a valid phone number" in (
        result.output)
    assert "Tel: +86 10 6626" in docx_text(tmp_path / "out" / "letter.docx").splitlines()


# --- right-to-left letters ----------------------------------------------------------------------

def test_numbers_and_latin_lines_are_isolated_in_an_arabic_letter(
        examples: dict[str, list[str]]) -> None:
    assert has_block(examples["ar"], [
        f"{LRM}10 Queen Street Place{LRM}", f"{LRM}London{LRM}", f"{LRM}EC4R 1BE{LRM}",
        "المملكة المتحدة", f"هاتف: {LRM}+44 20 7946 0321{LRM}"])
    assert has_block(examples["ar"], ["شارع الشيخ ريحان", "باب اللوق", "القاهرة",
                                      "جمهورية مصر العربية"])  # Arabic lines: no marks


@pytest.mark.parametrize("example", ["en", "zh_Hans", "ko"])
def test_left_to_right_letters_have_no_marks(examples: dict[str, list[str]],
                                                example: str) -> None:
    text = "\n".join(examples[example])
    assert LRM not in text


def test_isolate_wraps_only_left_to_right_text_in_a_right_to_left_letter() -> None:
    arabic, english = localizer("ar"), localizer("en")
    assert arabic.isolate("+44 20 7946 0321") == f"{LRM}+44 20 7946 0321{LRM}"
    assert arabic.isolate("القاهرة") == "القاهرة"
    assert english.isolate("+44 20 7946 0321") == "+44 20 7946 0321"


# --- every field given is printed, in its country's place ---------------------------------------

TOKYO_JA = {"street": "永田町二丁目3番1号", "city": "千代田区", "region": "東京都",
            "postal_code": "100-8968", "country": "JP"}
TOKYO_EN = {"street": "2-3-1 Nagatacho", "city": "Chiyoda-ku", "region": "Tokyo",
            "postal_code": "100-8968", "country": "JP"}
TAIPEI_ZH = {"street": "重慶南路一段122號", "district": "中正區", "city": "臺北市",
             "postal_code": "100", "country": "TW"}
TAIPEI_EN = {"street": "No. 122, Sec. 1, Chongqing S. Rd.", "district": "Zhongzheng Dist.",
             "city": "Taipei City", "postal_code": "100", "country": "TW"}


def test_a_japanese_ward_is_printed_after_the_prefecture_in_japanese() -> None:
    assert lines(TOKYO_JA, "ja") == ["日本", "〒100-8968", "東京都千代田区", "永田町二丁目3番1号"]


def test_a_japanese_ward_is_printed_before_the_prefecture_in_english() -> None:
    assert lines(TOKYO_EN, "en") == ["2-3-1 Nagatacho, Chiyoda-ku, Tokyo", "100-8968", "Japan"]


def test_a_taiwanese_district_follows_the_city_before_the_street() -> None:
    assert lines(TAIPEI_ZH, "zh_Hant_TW") == ["台灣", "100", "臺北市中正區", "重慶南路一段122號"]
    assert lines(TAIPEI_EN, "en") == ["No. 122, Sec. 1, Chongqing S. Rd.", "Zhongzheng Dist.",
                                      "Taipei City 100", "Taiwan"]


# The countries of the shipped examples, the campaign and the catalogs' languages.
COUNTRIES = ["US", "CN", "KR", "EG", "GB", "CH", "JP", "TW", "FR", "DE", "ES", "PT", "BR", "RU",
             "HK"]


@pytest.mark.parametrize("country", COUNTRIES)
@pytest.mark.parametrize("identifier", ["en", "zh_Hans", "ja", "ko", "fr", "ru", "ar"])
def test_no_given_field_is_dropped_by_any_format(country: str, identifier: str) -> None:
    address = {"street": "Street 1", "district": "District 2", "city": "City 3",
               "region": "Region 4", "postal_code": "5678", "country": country}
    text = "\n".join(lines(address, identifier))
    for value in ("Street 1", "District 2", "City 3", "Region 4", "5678"):
        assert value in text, (country, identifier, text)


@pytest.mark.parametrize("country", COUNTRIES)
def test_a_small_to_big_address_runs_street_district_city_region(country: str) -> None:
    address = {"street": "Street 1", "district": "District 2", "city": "City 3",
               "region": "Region 4", "postal_code": "5678", "country": country}
    text = " ".join(lines(address, "en"))
    positions = [text.index(value) for value in ("Street 1", "District 2", "City 3")]
    assert positions == sorted(positions), text
    if country not in ("CH", "FR", "DE", "PT"):  # their formats print no region: it follows
        assert text.index("City 3") < text.index("Region 4"), text


def test_domestic_mail_has_no_country_line(example_data: dict,
                                           write_data: Callable[..., Path]) -> None:
    example_data["recipient"]["address"] = {
        "street": "3505 International Place NW", "city": "Washington", "region": "DC",
        "postal_code": "20008", "country": "US"}
    text = docx_text(render_letter(load_letter(write_data(example_data))).docx).splitlines()
    assert has_block(text, ["3505 International Place NW", "Washington, DC 20008",
                            "Fax: +86 10 6307 0900; +011 10 6238 1025"])
    assert "United States" not in text
    # A CC in another country keeps the country line, and the letterhead its own.
    assert "People’s Republic of China" in text
    assert "New York, NY 10118-3299 USA" in text


def test_without_the_senders_address_the_country_is_printed(
        example_data: dict, write_data: Callable[..., Path]) -> None:
    del example_data["sender"]["address"]
    example_data["recipient"]["address"] = {"street": "1 Main Street", "city": "Boston",
                                            "region": "MA", "postal_code": "02108",
                                            "country": "US"}
    text = docx_text(render_letter(load_letter(write_data(example_data))).docx).splitlines()
    assert has_block(text, ["Boston, MA 02108", "United States"])


@pytest.mark.parametrize(("identifier", "separator"), [
    ("en", "; "), ("zh_Hans", "；"), ("zh_Hant", "；"), ("ja", "、"), ("ko", ", "),
    ("ar", "؛ "), ("fr", "\u00a0; ")])
def test_the_contact_separator_follows_the_language(identifier: str, separator: str) -> None:
    contacts = [Contact(kind="fax", value="+86 10 6307 0900"),
                Contact(kind="fax", value="+86 10 6559 1516")]
    (line,) = contact_lines(contacts, localizer(identifier), "CN")
    assert f"0900{separator}+86" in line.replace("\u200e", "")
