"""DOCX throughput: `drafter merge` against a plain docxtpl loop (load, render, save per letter).

Both write the same 1,000 letters of the source letter to different recipients. The docxtpl loop
is given drafter's ready-made contexts, so it is timed on the template work alone: the ratio is a
lower bound. Prints letters per second for both and the ratio (target: >= 10x).

    python benchmarks/merge_docx.py [COUNT]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from docxtpl import DocxTemplate

from drafter.compiled import compile_template
from drafter.context import build_context
from drafter.loading import load_yaml
from drafter.merge import MergeOptions, _validated, merge
from drafter.recipients import read_recipients
from drafter.render import localizer_for
from drafter.template import find_template

from common import write_case, write_recipients


def docxtpl_loop(case: Path, recipients: Path, outdir: Path) -> tuple[int, float]:
    """The baseline: what a hand-rolled docxtpl script does for each letter."""
    template = find_template(None)
    source = load_yaml(case)
    contexts = []
    environment = None
    for record in read_recipients(recipients):
        letter = _validated(source.value, source.where, record)
        loc = localizer_for(template, letter.locale)
        environment = environment or compile_template(template, loc).environment
        contexts.append(build_context(letter, loc))
    outdir.mkdir()
    start = time.perf_counter()
    for i, context in enumerate(contexts):
        document = DocxTemplate(template.variants[""])
        document.render(context.values, environment)
        document.save(outdir / f"{i}.docx")
    return len(contexts), time.perf_counter() - start


def drafter_merge(case: Path, recipients: Path, outdir: Path) -> tuple[int, float]:
    start = time.perf_counter()
    report = merge(case, recipients, outdir, MergeOptions(formats=("docx",)))
    return report.written, time.perf_counter() - start


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        case, recipients = write_case(folder), write_recipients(folder, count)
        base_n, base_s = docxtpl_loop(case, recipients, folder / "docxtpl")
        ours_n, ours_s = drafter_merge(case, recipients, folder / "drafter")
    assert base_n == ours_n == count
    print(f"letters: {count}")
    print(f"docxtpl loop:  {base_s:7.2f} s  {count / base_s:8.1f} letters/s")
    print(f"drafter merge: {ours_s:7.2f} s  {count / ours_s:8.1f} letters/s")
    print(f"ratio: {base_s / ours_s:.1f}x (target >= 10x)")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
