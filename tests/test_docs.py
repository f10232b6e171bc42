"""The README and docs/ describe the product as it is, and everything they link to is in the repository."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_link_stays_in_the_repository_and_points_at_a_file_that_exists(doc):
    for target in LINK.findall(doc.read_text()):
        if target.startswith(("http://", "https://", "mailto:", "#")):
            continue
        path = (doc.parent / target.split("#")[0]).resolve()
        assert path.is_relative_to(ROOT), f"{doc.name} links outside the repository: {target}"
        assert path.exists(), f"{doc.name} links to a missing file: {target}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_no_doc_describes_work_in_progress_or_cites_files_outside_the_repository(doc):
    text = doc.read_text()
    for phrase in ("as the issues land", "(in progress)", "So far:", "../shared", "DESIGN.md", "RULES.md"):
        assert phrase not in text, f"{doc.name}: {phrase!r}"
