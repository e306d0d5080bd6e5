"""Start-up: what `drafter --help` imports and how long it takes, against `python -c pass`; and
`drafter render` of one letter (`-f docx`) against a plain docxtpl script doing the same.

Each command is a fresh process, run several times (after one warm-up run); the medians are
printed, with the ratios. `--help` must import none of the letter libraries (Babel, pydantic,
python-docx, docxtpl, Jinja, pypdf, pikepdf, Starlette); a one-letter DOCX render must import no
PDF library and nothing of the web app.

The docxtpl script loads the template, renders it with drafter's values for the letter (made
beforehand and read from a JSON file: the script only formats the date, with Babel) and saves
the DOCX: the least a script that renders this template does.

Times are each process's CPU time (user + system, from the kernel), which other work on a
shared machine changes much less than the wall time; the wall times are printed beside them.

    python benchmarks/startup.py [RUNS]       (default: 7)
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LETTER = ROOT / "data" / "examples" / "letter-en.yaml"
TEMPLATE = ROOT / "templates" / "advocacy-letter" / "letter.docx"
LIBRARIES = ("babel", "pydantic", "docx", "docxtpl", "jinja2", "pypdf", "pikepdf", "starlette")

DOCXTPL_SCRIPT = """
import datetime as dt
import json
import sys

import jinja2
from babel.dates import format_date
from babel.lists import format_list
from babel.numbers import format_decimal
from docxtpl import DocxTemplate

with open(sys.argv[1], encoding="utf-8") as f:
    context = json.load(f)
environment = jinja2.Environment(extensions=["jinja2.ext.i18n"])
environment.install_null_translations(newstyle=True)
environment.filters.update(
    format_date=lambda value, format="long": format_date(dt.date.fromisoformat(value), format,
                                                         locale="en"),
    format_list=lambda items, style="standard": format_list(list(items), style, locale="en"),
    format_number=lambda value: format_decimal(value, locale="en"),
    country_name=str, format_phone=lambda number, country=None: number,
    localized=lambda value: value, image=lambda value, *args, **kwargs: value)
document = DocxTemplate(sys.argv[2])
document.render(context, environment)
document.save(sys.argv[3])
"""


def letter_context(path: Path) -> None:
    """The letter's template values as drafter computes them, as JSON for the docxtpl script
    (dates as ISO text, Word XML as its text)."""
    from drafter.context import build_context
    from drafter.loading import load_letter
    from drafter.locales import localizer_for
    from drafter.template import find_template

    letter = load_letter(LETTER)
    values = build_context(letter, localizer_for(find_template(None), letter.locale)).values
    path.write_text(json.dumps(values, default=str, ensure_ascii=False), encoding="utf-8")


def seconds(command: list[str], runs: int, cwd: Path) -> tuple[float, float]:
    """The median CPU time (user + system) and wall time of ``command`` over ``runs`` fresh
    processes (after one warm-up run)."""
    cpu, wall = [], []
    for i in range(runs + 1):
        start = time.perf_counter()
        child = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, f"{command} failed"
        if i:
            wall.append(time.perf_counter() - start)
            cpu.append(usage.ru_utime + usage.ru_stime)
    return statistics.median(cpu), statistics.median(wall)


def _line(label: str, measured: tuple[float, float], baseline: tuple[float, float] | None,
          against: str = "") -> str:
    cpu, wall = measured
    text = f"{label:<26}{cpu * 1000:6.0f} ms CPU ({wall * 1000:5.0f} ms wall)"
    if baseline is not None:
        text += f"  {cpu / baseline[0]:4.2f}x {against}"
    return text


def imported(command: list[str], cwd: Path) -> list[str]:
    """The top-level packages ``command`` imports, in import order (Python's -X importtime)."""
    done = subprocess.run(command, cwd=cwd, check=True, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"})
    names = re.findall(r"^import time:\s*\d+ \|\s*\d+ \|\s*(\S+)", done.stderr, re.MULTILINE)
    return list(dict.fromkeys(name.split(".")[0] for name in names))


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    python = sys.executable
    drafter = str(Path(python).parent / "drafter")
    # Bytecode for drafter and what it imports, as an installed package has it: where
    # PYTHONDONTWRITEBYTECODE is set, each run would otherwise compile drafter's modules anew.
    subprocess.run([python, "-m", "compileall", "-q", str(ROOT / "drafter"),
                    sysconfig.get_paths()["purelib"]], check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        modules = imported([drafter, "--help"], folder)
        third_party = [m for m in modules if m not in sys.stdlib_module_names
                       and not m.startswith("_")]
        print(f"`drafter --help` imports {len(modules)} top-level modules; not the standard "
              f"library's: {', '.join(third_party)}")
        heavy = [m for m in LIBRARIES if m in modules]
        print(f"  of {', '.join(LIBRARIES)}: {', '.join(heavy) or 'none'}")
        render = [drafter, "render", str(LETTER), "-f", "docx", "-o", str(folder / "out"), "-q"]
        pdf_libraries = [m for m in imported(render, folder)
                         if m in ("pypdf", "pikepdf", "starlette", "uvicorn")]
        print(f"`drafter render -f docx` imports of pypdf, pikepdf, starlette, uvicorn: "
              f"{', '.join(pdf_libraries) or 'none'}")

        bare = seconds([python, "-c", "pass"], runs, folder)
        helped = seconds([drafter, "--help"], runs, folder)
        print(_line("python -c pass:", bare, None))
        print(_line("drafter --help:", helped, bare, "python's own start"))
        script = folder / "plain_docxtpl.py"
        script.write_text(DOCXTPL_SCRIPT, encoding="utf-8")
        letter_context(folder / "context.json")
        plain = seconds([python, str(script), str(folder / "context.json"), str(TEMPLATE),
                         str(folder / "plain.docx")], runs, folder)
        ours = seconds(render, runs, folder)
        print(_line("plain docxtpl script:", plain, None))
        print(_line("drafter render -f docx:", ours, plain, "the script's time"))


if __name__ == "__main__":
    main()
