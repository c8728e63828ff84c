"""RESULTS.md and README.md stay usable: their links and commands point at what exists, and the
benchmarks carry no diary or ticket numbers."""

import re
from pathlib import Path

import pytest

from benchmarks import side_by_side

HERE = Path(__file__).resolve().parents[1]
PAGES = [HERE / "RESULTS.md", HERE / "README.md"]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_links_and_commands_point_at_what_exists(page):
    text = page.read_text()
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
        assert (page.parent / target).exists(), f"{page.name} links to a missing {target}"
    for script in re.findall(r"benchmarks/([\w/]+\.(?:py|sh))", text):
        assert (HERE / script).exists(), f"{page.name} names a missing {script}"
    for names in re.findall(r"--contestants\s+([\w,]+)", text):
        unknown = set(names.split(",")) - set(side_by_side.CONTESTANTS)
        assert not unknown, f"{page.name} names unknown contestants {unknown}"


def test_no_diary_or_ticket_numbers():
    numbered = re.compile(r"\b(session|issue|ticket)s?\s+#?\d+|\(#\d+\)", re.IGNORECASE)
    files = [p for p in HERE.rglob("*") if p.suffix in (".md", ".py", ".sh", ".json", ".jsonl")]
    found = [
        f"{path.relative_to(HERE)}: {match.group()}"
        for path in files
        for match in numbered.finditer(path.read_text())
    ]
    assert not found, found
