"""Shared set-up for the benchmarks: a case letter and N recipients, written to a folder."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "data" / "examples" / "letter-en.yaml"

GIVEN = ["Wei", "Ming", "Li", "Hua", "Jun", "Lan", "Tao", "Yan", "Bo", "Ning"]
FAMILY = ["Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang", "Zhou", "Wu"]
CITIES = [("Beijing", "100017"), ("Shanghai", "200003"), ("Changchun", "130051"),
          ("Yanji", "133000"), ("Tumen", "133100"), ("Shenyang", "110032")]


def write_case(folder: Path) -> Path:
    """The source letter without its recipient, as a merge case."""
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data.pop("recipient")
    path = folder / "case.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def write_recipients(folder: Path, count: int, seed: int = 1) -> Path:
    """A CSV of ``count`` officials with varying names, titles and addresses."""
    rng = random.Random(seed)
    path = folder / f"recipients-{count}.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "honorific", "name", "title", "organization", "address.street",
                         "address.city", "address.postal_code", "address.country", "fax"])
        for i in range(1, count + 1):
            city, postal = rng.choice(CITIES)
            writer.writerow([f"r{i}", "Director", f"{rng.choice(FAMILY)} {rng.choice(GIVEN)}",
                             "Director", f"Public Security Bureau of {city}",
                             f"No. {rng.randint(1, 300)}, Renmin Road", city, postal, "CN",
                             f"+86 10 6307 {rng.randint(1000, 9999)}"])
    return path


CAMPAIGN = ROOT / "data" / "examples" / "campaign"


def write_mixed_recipients(folder: Path, count: int,
                           locales: tuple[str, ...] = ("en_US", "zh_Hans_CN", "ko_KR")) -> Path:
    """A CSV of ``count`` recipients of the campaign example (``CAMPAIGN / "case.yaml"``), its
    rows in ``locales`` taken in turn, each with an id of its own."""
    with (CAMPAIGN / "recipients.csv").open(newline="", encoding="utf-8") as f:
        rows = [row for row in csv.DictReader(f) if row["locale"] in locales]
    path = folder / f"mixed-{count}.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        for i in range(count):
            writer.writerow({**rows[i % len(rows)], "id": f"r{i + 1}"})
    return path
