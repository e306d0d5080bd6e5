"""DOCX throughput: `drafter merge` against a plain docxtpl loop (load, render, save per letter).

Two cases, each of COUNT letters (default 1,000):

- monolingual: the source letter (English) to officials with varying names and addresses;
- multilingual: the campaign example (data/examples/campaign: its texts in seven languages),
  its sixteen recipients (Chinese, English, Korean, French, German, Japanese and Russian
  letters) repeated, each copy with its own id.

The docxtpl loop is given drafter's ready-made contexts and Jinja environment (one per locale,
and the locale's layout), so it is timed on the template work alone: the ratio is a lower bound.
Prints letters per second for both and the ratio (target: >= 20x on both cases), for drafter
on one core (``-j 1``) and on every core (the default: rendering processes, drafter/workers.py).

    python benchmarks/merge_docx.py [COUNT]
"""

from __future__ import annotations

import csv
import sys
import tempfile
import time
from pathlib import Path

from docxtpl import DocxTemplate

from drafter.compiled import compile_template
from drafter.context import build_context
from drafter.loading import load_yaml
from drafter.locales import localizer_for
from drafter.merge import MergeOptions, _validated, merge
from drafter.recipients import read_recipients
from drafter.template import find_template
from drafter.workers import cores

from common import ROOT, write_case, write_recipients

CAMPAIGN = ROOT / "data" / "examples" / "campaign"


def docxtpl_loop(case: Path, recipients: Path, outdir: Path) -> tuple[int, float]:
    """The baseline: what a hand-rolled docxtpl script does for each letter."""
    template = find_template(None)
    source = load_yaml(case)
    letters = []
    environments = {}
    for record in read_recipients(recipients):
        letter = _validated(source.value, source.where, record)
        loc = localizer_for(template, letter.locale)
        if letter.locale not in environments:
            environments[letter.locale] = (template.docx_for(loc),
                                           compile_template(template, loc).environment)
        letters.append((letter.locale, build_context(letter, loc)))
    outdir.mkdir()
    start = time.perf_counter()
    for i, (locale, context) in enumerate(letters):
        layout, environment = environments[locale]
        document = DocxTemplate(layout)
        document.render(context.values, environment)
        document.save(outdir / f"{i}.docx")
    return len(letters), time.perf_counter() - start


def drafter_merge(case: Path, recipients: Path, outdir: Path, jobs: int = 0) -> tuple[int, float]:
    start = time.perf_counter()
    report = merge(case, recipients, outdir, MergeOptions(formats=("docx",), jobs=jobs))
    return report.written, time.perf_counter() - start


def campaign_recipients(folder: Path, count: int) -> Path:
    """The campaign's recipients, repeated to ``count`` rows, each with its own id."""
    with (CAMPAIGN / "recipients.csv").open(encoding="utf-8", newline="") as f:
        header, *rows = list(csv.reader(f))
    path = folder / f"campaign-{count}.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for i in range(count):
            row = list(rows[i % len(rows)])
            row[header.index("id")] = f"{row[header.index('id')]}-{i + 1}"
            writer.writerow(row)
    return path


def measure(label: str, case: Path, recipients: Path, folder: Path, count: int) -> float:
    base_n, base_s = docxtpl_loop(case, recipients, folder / f"docxtpl-{label}")
    one_n, one_s = drafter_merge(case, recipients, folder / f"drafter-{label}-1", jobs=1)
    ours_n, ours_s = drafter_merge(case, recipients, folder / f"drafter-{label}")
    assert base_n == one_n == ours_n == count, (base_n, one_n, ours_n, count)
    print(f"{label}: {count} letters")
    print(f"  docxtpl loop:       {base_s:7.2f} s  {count / base_s:8.1f} letters/s")
    print(f"  drafter merge -j 1: {one_s:7.2f} s  {count / one_s:8.1f} letters/s"
          f"  {base_s / one_s:.1f}x")
    print(f"  drafter merge:      {ours_s:7.2f} s  {count / ours_s:8.1f} letters/s"
          f"  {base_s / ours_s:.1f}x (target >= 20x; {cores()} cores)")
    return base_s / ours_s


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        measure("monolingual", write_case(folder), write_recipients(folder, count), folder,
                count)
        measure("multilingual", CAMPAIGN / "case.yaml", campaign_recipients(folder, count),
                folder, count)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
