"""What one render, one data file and one check may take, and that check and render agree.

The templates and files here would each take gigabytes or never end without drafter's bounds;
they run in a subprocess under a 400 MB address-space limit (and a CPU-time limit as a safety
net), so that a regression fails the test with a MemoryError instead of taking the machine
down. Every refusal is asserted as the user reads it: the part, the paragraph, the words
around the tag, and the limit in numbers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import docx
import pytest

from drafter import TemplateError, check_template, load_letter, render_letter
from drafter.errors import DataError
from drafter.recipients import read_recipients
from drafter.sandbox import BoundedSandbox, TemplateLimitExceeded, TemplateLimits

from .conftest import EXAMPLES

ROOT = Path(__file__).resolve().parent.parent
DATA = EXAMPLES / "letter-en.yaml"
MEMORY_LIMIT = 400 << 20
CPU_LIMIT = 600  # seconds: only a safety net; no test asserts on time

_LIMITED = f"""
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_LIMIT}, {MEMORY_LIMIT}))
resource.setrlimit(resource.RLIMIT_CPU, ({CPU_LIMIT}, {CPU_LIMIT}))
"""


def run_limited(code: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """``code`` run by this Python in a process of its own, under the memory limit."""
    return subprocess.run([sys.executable, "-c", _LIMITED + code, *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, check=False)


def template_with(path: Path, *paragraphs: str) -> Path:
    """A template of "Dear …," and ``paragraphs``."""
    document = docx.Document()
    document.add_paragraph("Dear {{ recipient.full_name }},")
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    document.save(str(path))
    return path


# ---- 1. memory and time through the sandbox ----------------------------------------------------

DOUBLING = ("{% set ns = namespace(s='a') %}{% for i in range(60) %}{% set ns.s = EXPR %}"
            "{% endfor %}")
SANDBOX = "refused by the template sandbox: "
ONE_VALUE = "(at most 1,000,000 in one value)"

MEMORY = [
    # The failures the issue reports…
    (DOUBLING.replace("EXPR", "ns.s ~ ns.s"),
     f"{SANDBOX}`~` makes a value of 1,048,576 characters {ONE_VALUE}"),
    ("{{ subject|center(10**9) }}", f"{SANDBOX}the filter center is given the number "
     "1,000,000,000 (a width or count; at most 1,000,000 on a text or list)"),
    ("{{ '%1000000000s'|format('x') }}", f"{SANDBOX}the filter format pads or extends to "
     f"1,000,000,000 characters {ONE_VALUE}"),
    # … and their neighbours: other ways to pad, repeat, grow, and nest.
    ("{{ '%*s'|format(10**9, 'x') }}", f"{SANDBOX}the filter format pads or extends to "
     f"1,000,000,000 characters {ONE_VALUE}"),
    ("{{ '%.1000000000f'|format(1.5) }}", f"{SANDBOX}the filter format pads or extends to "
     f"1,000,000,000 characters {ONE_VALUE}"),
    ("{{ '%1000000000s' % subject }}", f"{SANDBOX}`%` pads or extends to 1,000,000,000 "
     f"characters {ONE_VALUE}"),
    ("{{ '{:>1000000000}'.format(1) }}", f"{SANDBOX}str.format pads or extends to "
     f"1,000,000,000 characters {ONE_VALUE}"),
    ("{{ '{:{w}}'.format(1, w=10**9) }}", f"{SANDBOX}str.format pads or extends to "
     f"1,000,000,000 characters {ONE_VALUE}"),
    ("{{ subject.ljust(10**9) }}", f"{SANDBOX}str.ljust is given the number 1,000,000,000 (a "
     "width or count; at most 1,000,000 on a text or list)"),
    ("{{ subject.zfill(10**9) }}", f"{SANDBOX}str.zfill is given the number 1,000,000,000"),
    ("{{ ('a\tb' * 10).expandtabs(10**8) }}", f"{SANDBOX}str.expandtabs is given the number "
     "100,000,000"),
    ("{{ subject|indent(10**9) }}", f"{SANDBOX}the filter indent is given the number "
     "1,000,000,000"),
    ("{{ range(100)|batch(10**9, 'x')|list }}", f"{SANDBOX}the filter batch is given the "
     "number 1,000,000,000"),
    (DOUBLING.replace("EXPR", "[ns.s, ns.s]|join"),
     f"{SANDBOX}the filter join makes a value of 1,048,576 characters {ONE_VALUE}"),
    (DOUBLING.replace("EXPR", "ns.s + ns.s"),
     f"{SANDBOX}`+` makes a value of 1,048,576 characters {ONE_VALUE}"),
    (DOUBLING.replace("EXPR", "ns.s * 2"),
     f"{SANDBOX}a repetition of 1,048,576 items or characters {ONE_VALUE}"),
    (DOUBLING.replace("'a'", "'ab'").replace("EXPR", "ns.s|replace('a', ns.s)"),
     f"{SANDBOX}the filter replace on sizes of 16,385 and 16,385 (characters or items of its "
     "values, a width or count) could make 268,468,225 (at most 100,000,000 are tried)"),
    ("{{ ('x\\n' * 100000)|indent(999999) }}", f"{SANDBOX}the filter indent on sizes of "
     "999,999 and 200,000 (characters or items of its values, a width or count) could make "
     "199,999,800,000 (at most 100,000,000 are tried)"),
    (DOUBLING.replace("EXPR", "ns.s.replace('a', 'aa')"),
     f"{SANDBOX}str.replace makes a value of 1,048,576 characters {ONE_VALUE}"),
    ("{% set ns = namespace(n=7) %}{% for i in range(60) %}{% set ns.n = ns.n * ns.n %}"
     "{% endfor %}", f"{SANDBOX}`*` makes a value of"),
    ("{{ ['x' * 100000] * 10000 }}", f"{SANDBOX}a repetition of 1,000,010,000 items or "
     f"characters {ONE_VALUE}"),
    ("{% set l = [] %}{% set big = 'x' * 1000000 %}{% for i in range(1000) %}"
     "{{ l.append(big) }}{% endfor %}{{ l|join }}", f"{SANDBOX}the filter join on a value of "
     "about 1,000,001,000 characters (a list of long texts; at most 100,000,000 are tried)"),
    ("{% set l = [1] %}{% for i in range(60) %}{{ l.extend(l) }}{% endfor %}",
     f"{SANDBOX}list.extend makes a value of 1,048,576 items {ONE_VALUE}"),
    ("{% set l = [] %}{% for i in range(2000) %}{{ l.extend(range(1000)) }}{% endfor %}",
     f"{SANDBOX}list.extend makes a value of 1,001,000 items {ONE_VALUE}"),
    ("{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set ns.s %}{{ ns.s }}"
     "{{ ns.s }}{% endset %}{% endfor %}",
     f"{SANDBOX}printing a value makes a value of 1,048,576 characters {ONE_VALUE}"),
    ("{% set big = 'y' * 999999 %}{% for i in range(60) %}{{ big }}{% endfor %}",
     f"{SANDBOX}the values made in this part come to more than 50,000,000 characters, items "
     "and digits (at most 50,000,000), the last by printing a value"),
    ("{% for i in range(100000) %}{% for j in range(10) %}" + "y" * 100 + "{% endfor %}"
     "{% endfor %}", "refused: the template makes too much (the rendered part is larger than "
     "50 MiB)"),
    # Time: loops that make nothing still count their rounds.
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
     f"{SANDBOX}more than 5,000,000 steps in this part (loop rounds, calls, filters and "
     "operations; at most 5,000,000): a loop that runs too long or grows a value?"),
    ("{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}", "refused: the template calls "
     "itself too deeply (a macro or a recursive loop: maximum recursion depth exceeded"),
    ("{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}", "refused: the template calls "
     "itself too deeply (a macro or a recursive loop: maximum recursion depth exceeded"),
]

_RENDER_ALL = """
import json
from drafter import TemplateError, load_letter, render_letter
letter = load_letter(sys.argv[1])
said = {}
for path in sys.argv[2:]:
    try:
        render_letter(letter, path).docx
        said[path] = "rendered"
    except TemplateError as e:
        said[path] = [str(p) for p in e.problems]
    except MemoryError:
        said[path] = "MemoryError: a bound is missing"
print(json.dumps(said))
"""


@pytest.fixture(scope="module")
def refusals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """What rendering each template of MEMORY says, all in one limited process."""
    folder = tmp_path_factory.mktemp("bounds")
    paths = [template_with(folder / f"t{i}.docx", f"Intro {tag}")
             for i, (tag, _) in enumerate(MEMORY)]
    done = run_limited(_RENDER_ALL, DATA, *paths)
    assert done.returncode == 0, done.stderr
    said = json.loads(done.stdout)
    return {tag: said[str(path)] for (tag, _), path in zip(MEMORY, paths, strict=True)}


@pytest.mark.parametrize(("tag", "message"), MEMORY, ids=[tag[:60] for tag, _ in MEMORY])
def test_a_template_is_held_to_its_budget(refusals: dict[str, object], tag: str,
                                          message: str) -> None:
    problems = refusals[tag]
    assert isinstance(problems, list), problems
    (problem,) = problems
    template, _, rest = problem.partition(", ")
    assert Path(template).suffix == ".docx"
    assert rest.startswith(f"body paragraph 2: {message}")
    assert rest.endswith('"') and ' — in "Intro {' in rest  # the words around the tag


@pytest.mark.parametrize("tag", [
    "{{ body|first|string|wordwrap(79) }}", "{{ '%.2f'|format(2500000.5) }}",
    "{{ 2500000|round }}", "{{ subject|truncate(20) }}", "{{ '{:>8}'.format(subject[:5]) }}",
    "{{ subject.ljust(70) }}", "{% for i in range(10000) %}{{ i }} {% endfor %}",
    "{% set ns = namespace(s='') %}{% for i in range(2000) %}{% set ns.s = ns.s ~ 'x' %}"
    "{% endfor %}{{ ns.s|length }}",
    "{% set l = [] %}{% for i in range(5000) %}{{ l.append(i) or '' }}{% endfor %}"
    "{{ l|length }}",
])
def test_letters_within_the_bounds_render(tmp_path: Path, tag: str) -> None:
    template = template_with(tmp_path / "fine.docx", tag)
    assert render_letter(load_letter(DATA), template).docx


def test_cpu_time_is_bounded_for_steps_that_are_each_slow() -> None:
    environment = BoundedSandbox(limits=TemplateLimits(cpu_seconds=0.5))
    template = environment.from_string(
        "{% set big = 'ab' * 500000 %}{% for i in range(100000) %}{{ big.count('ba') }}"
        "{% endfor %}")
    with pytest.raises(TemplateLimitExceeded) as caught:
        template.render()
    assert str(caught.value) == ("more than 0.5 seconds of CPU time in this part (at most "
                                 "0.5): a loop that runs too long or grows a value?")


@pytest.mark.parametrize(("limits", "source", "message"), [
    (TemplateLimits(steps=1000), "{% for i in range(2000) %}{% endfor %}",
     "more than 1,000 steps in this part"),
    (TemplateLimits(value_size=100), "{{ 'x' ~ 'y' * 100 }}", "`~` makes a value of 101 "
     "characters (at most 100 in one value)"),
    (TemplateLimits(total_size=1000), "{% for i in range(200) %}{{ 'abcdef' ~ i }}{% endfor %}",
     "the values made in this part come to more than 1,000 characters"),
])
def test_each_limit_is_its_own_number(limits: TemplateLimits, source: str,
                                      message: str) -> None:
    with pytest.raises(TemplateLimitExceeded) as caught:
        BoundedSandbox(limits=limits).from_string(source).render()
    assert str(caught.value).startswith(message)


def test_the_budget_is_per_render(tmp_path: Path) -> None:
    template = BoundedSandbox(limits=TemplateLimits(steps=1500)).from_string(
        "{% for i in range(1000) %}{% endfor %}done")
    assert [template.render() for _ in range(3)] == ["done"] * 3


_MERGE = """
from drafter.cli import main
sys.argv = ["drafter", *sys.argv[1:]]
main()
"""


@pytest.mark.parametrize(("pattern", "message"), [
    ("{% set ns = namespace(s='a') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}"
     "{% endfor %}{{ ns.s }}", "`~` makes a value of 1,048,576 characters"),
    ("{{ id|center(10**9) }}", "the filter center is given the number 1,000,000,000"),
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
     "more than 5,000,000 steps"),
])
def test_the_file_name_pattern_runs_in_the_same_bounds(tmp_path: Path, pattern: str,
                                                       message: str) -> None:
    recipients = tmp_path / "recipients.csv"
    recipients.write_text("id,name,address.country\nxi,Xi Jinping,CN\n", encoding="utf-8")
    out = tmp_path / "out"
    done = run_limited(_MERGE, "merge", EXAMPLES / "campaign" / "case.yaml", recipients,
                       "-o", out, "-f", "docx", "--name", pattern)
    assert done.returncode == 1, done.stderr
    assert "--name" in done.stderr and message in done.stderr
    assert "Traceback" not in done.stderr
    assert not list(out.glob("*.docx"))


# ---- 9. limits that fit real data -------------------------------------------------------------

_COUNT = """
from drafter.errors import DataError
from drafter.recipients import read_recipients
try:
    records = list(read_recipients(sys.argv[1]))
    print(len(records), records[0].id, records[-1].id, records[-1].locate(("recipient", "name")))
except DataError as e:
    print("\\n".join(str(p) for p in e.problems))
"""


def _recipients(path: Path, count: int, entry: str, head: str = "recipients:\n") -> Path:
    with path.open("w", encoding="utf-8") as f:
        f.write(head)
        for i in range(count):
            f.write(entry.format(i=i))
    return path


def test_thirty_thousand_recipients_without_aliases_are_read(tmp_path: Path) -> None:
    path = _recipients(tmp_path / "r.yaml", 30_000, "  - id: r{i}\n    name: Person {i}\n"
                       "    title: Minister\n    email: p{i}@example.org\n    address:\n"
                       "      street: {i} Main Street\n      city: Springfield\n"
                       "      country: US\n")
    done = run_limited(_COUNT, path)
    assert done.stdout.split() == ["30000", "r0", "r29999", f"{path}:239995:5"], done.stderr


def test_a_hundred_thousand_recipients_take_the_memory_of_one(tmp_path: Path) -> None:
    path = _recipients(tmp_path / "r.yaml", 100_000, "- name: Person {i}\n", head="")
    done = run_limited(_COUNT, path)
    assert done.stdout.split() == ["100000", "1", "100000", f"{path}:100000:3"], done.stderr


def test_aliases_that_repeat_within_bounds_in_every_record_are_fine(tmp_path: Path) -> None:
    path = _recipients(tmp_path / "r.yaml", 20_000, "  - <<: *defaults\n    id: r{i}\n"
                       "    name: Person {i}\n",
                       head="defaults: &defaults\n  title: Minister\n  address: {city: Oslo, "
                       "country: 'NO'}\nrecipients:\n")
    records = list(read_recipients(path))
    assert len(records) == 20_000
    assert records[-1].data["recipient"]["address"] == {"city": "Oslo", "country": "NO"}
    assert records[-1].data["recipient"]["title"] == "Minister"


def test_alias_expansion_is_told_apart_from_size(tmp_path: Path) -> None:
    laughs = "".join(f"    l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n"
                     for i in range(1, 9))
    path = tmp_path / "r.yaml"
    path.write_text("recipients:\n  - name: Fine\n  - name: Laughs\n    notes:\n"
                    "      l0: &l0 lol\n" + laughs.replace("    l", "      l"),
                    encoding="utf-8")
    done = run_limited(_COUNT, path)
    (line,) = done.stdout.splitlines()
    assert line.startswith(f"{path}:")
    assert line.endswith(": aliases (*name, <<: *name) bring in more than 100,000 values in "
                         "recipient 2 (at most 100,000, from 23 written): are aliases "
                         "expanding without bound?"), line


def test_a_recipient_with_too_many_values_is_named_with_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("- name: Fine\n- name: Many\n  notes: [" + ", ".join(["x"] * 10_001)
                    + "]\n", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        list(read_recipients(path))
    (problem,) = caught.value.problems
    assert str(problem).endswith(": recipient 2 holds more than 10,000 values (keys, values and "
                                 "list items as written; at most 10,000 in one recipient)")
    assert str(problem).startswith(f"{path}:3:")


def test_a_recipient_larger_than_a_data_file_may_be_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("- name: Fine\n- name: Large\n  notes: " + "x" * (21 << 20) + "\n",
                    encoding="utf-8")
    done = run_limited(_COUNT, path)
    assert done.stdout.strip() == (f"{path}:2: recipient 2 is larger than 20 MiB (at most 20 MiB "
                                   "in one recipient)"), done.stderr


def test_a_letter_file_of_absurd_size_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "letter.yaml"
    path.write_text("subject: x\nnotes: [" + ",".join(["1"] * 200_001) + "]\n",
                    encoding="utf-8")
    done = run_limited("""
from pathlib import Path
from drafter.errors import DataError
from drafter.loading import load_yaml
try:
    load_yaml(Path(sys.argv[1]))
except DataError as e:
    print(e.problems[0])
""", path)
    assert done.stdout.strip().endswith(
        ": the file holds more than 200,000 values (keys, values and list items as written; at "
        "most 200,000 in a data file; a list of recipients goes in a recipients file, read one "
        "at a time)"), done.stderr


# ---- 10. check and render agree ---------------------------------------------------------------

AGREEMENT = [
    (("{{ ''.__class__.__mro__ }}",), False),
    (("{% for i in range(10**9) %}x{% endfor %}",), False),
    (('{% set greeting = "Hi" %}{{ greeting }}',), True),
    (("{{ subject|center(10**9) }}",), False),
    (("{{ cycler.__init__ }}",), False),
    ((DOUBLING.replace("EXPR", "ns.s ~ ns.s"),), False),
    (("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",), False),
    (("{% if subject %}{% set greeting = 'Hi' %}{% endif %}{{ greeting }}",), True),
    (("{% set greeting = 'Hi' %}", "{{ greeting|upper }}"), True),
    (("{{ greeting }}", "{% set greeting = 'Hi' %}"), False),
    (("{% for person in cc %}{{ person.full_name }}{% endfor %}{{ person }}",), False),
    (("{% macro hello(who) %}Hi {{ who }}{% endmacro %}{{ hello(subject) }}",), True),
]


def _errors(findings: list) -> list:
    return [f for f in findings if f.severity == "error"]


def _renders(template: Path) -> bool:
    try:
        render_letter(load_letter(DATA), template)
    except TemplateError:
        return False
    return True


@pytest.mark.parametrize(("paragraphs", "renders"), AGREEMENT,
                         ids=[" ".join(p)[:50] for p, _ in AGREEMENT])
def test_check_passes_exactly_the_templates_render_renders(tmp_path: Path,
                                                           paragraphs: tuple[str, ...],
                                                           renders: bool) -> None:
    template = template_with(tmp_path / "t.docx", *paragraphs)
    assert _renders(template) is renders
    assert (not _errors(check_template(template))) is renders
    assert (not _errors(check_template(template, DATA))) is renders


def test_check_says_what_render_says(tmp_path: Path) -> None:
    template = template_with(tmp_path / "t.docx", "Intro {{ subject|center(10**9) }}")
    with pytest.raises(TemplateError) as caught:
        render_letter(load_letter(DATA), template)
    (finding,) = _errors(check_template(template))
    (problem,) = caught.value.problems
    assert (finding.kind, finding.where()) == ("refused", "body paragraph 2")
    assert finding.message == problem.message == (
        "refused by the template sandbox: the filter center is given the number 1,000,000,000 "
        "(a width or count; at most 1,000,000 on a text or list)")


def test_a_name_set_in_one_part_is_not_given_to_another(tmp_path: Path) -> None:
    template = tmp_path / "t.docx"
    document = docx.Document()
    document.add_paragraph("{% set greeting = 'Hi' %}{{ greeting }}")
    document.sections[0].header.paragraphs[0].text = "{{ greeting }}"
    document.save(str(template))
    assert not _renders(template)
    (finding,) = _errors(check_template(template))
    assert (finding.kind, finding.where()) == ("unknown-name", "header paragraph 1")


def test_a_value_only_a_branch_not_taken_reads_is_a_warning(tmp_path: Path) -> None:
    template = template_with(tmp_path / "t.docx",
                             "{% if not subject %}{{ recipient.nickname }}{% endif %}")
    assert _renders(template)
    (finding,) = check_template(template, DATA)[:1]
    assert (finding.severity, finding.kind) == ("warning", "missing-value")
    assert finding.message.endswith("(this letter renders: the tag is in a branch it does not "
                                    "take)")
    assert not _errors(check_template(template, DATA))
