"""The README and the pages under docs/ link to files and sections that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation but ``-`` and ``_`` dropped,
    spaces made hyphens (inline code marks dropped with the rest)."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading's anchor on ``page``, repeated headings numbered as GitHub does."""
    seen: dict[str, int] = {}
    out = set()
    for line in FENCE.sub("", page.read_text()).splitlines():
        match = re.match(r"#{1,6} (.+)", line)
        if match:
            base = slug(match.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    return out


def links(page: Path) -> list[str]:
    """The relative targets of ``page``'s markdown links and images, code blocks left out."""
    text = FENCE.sub("", page.read_text())
    return [t for t in LINK.findall(text) if not re.match(r"[a-z]+:", t)]


def test_slugs_follow_githubs_rule():
    assert slug("Baselines, comparison, evaluation, videos and W&B") == (
        "baselines-comparison-evaluation-videos-and-wb"
    )
    assert slug("Rainbow against DQN on CartPole, and the update's cost") == (
        "rainbow-against-dqn-on-cartpole-and-the-updates-cost"
    )
    assert slug("QR-DQN against sb3-contrib") == "qr-dqn-against-sb3-contrib"


def broken_links(page: Path) -> list[str]:
    """The targets on ``page`` whose file, or section of a markdown file, does not exist."""
    broken = []
    for target in links(page):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists() or (anchor and file.suffix == ".md" and anchor not in anchors(file)):
            broken.append(target)
    return broken


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_link_reaches_a_file_and_section_that_exist(page):
    assert not broken_links(page), page.name


def test_the_checker_finds_a_missing_file_and_a_missing_section(tmp_path):
    (tmp_path / "figure.png").write_bytes(b"")
    page = tmp_path / "page.md"
    page.write_text(
        "# A page\n\n## Its part, with W&B\n\n"
        "![ok](figure.png) [ok](#its-part-with-wb) [ok](page.md#a-page) [web](https://x.org/y)\n"
        "![gone](figure2.png) [gone](#its-part) [gone](page.md#b-page) [gone](other.md#a)\n"
        "```\n[in code](not-checked.png)\n```\n"
    )
    assert broken_links(page) == ["figure2.png", "#its-part", "page.md#b-page", "other.md#a"]
    assert "docs/minatar.md" in links(ROOT / "README.md")
