"""The documentation holds together: links and images lead somewhere, the generated role matrix
is current, and the README stays a short first page."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
README_MAX_BYTES = 12_500

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
# [text](target) and ![alt](target), with an optional "title"; <img src="…"> and <a href="…">.
_MD_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HTML_LINK = re.compile(r"<(?:img|a)\b[^>]*?\b(?:src|href)=\"([^\"]+)\"", re.I)
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.M)


def _markdown_files() -> list[Path]:
    return [README, *sorted((ROOT / "docs").rglob("*.md"))]


def _prose(text: str) -> str:
    """The text without code blocks, inline code and comments (their brackets are not links)."""
    return _INLINE_CODE.sub("", _FENCE.sub("", _COMMENT.sub("", text)))


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    heading = re.sub(r"<[^>]+>", "", heading)
    heading = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    heading = heading.replace("`", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", heading).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    anchors = set()
    for match in _HEADING.finditer(_FENCE.sub("", path.read_text(encoding="utf-8"))):
        slug = _slug(match.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _links(path: Path) -> list[str]:
    text = _prose(path.read_text(encoding="utf-8"))
    return [*_MD_LINK.findall(text), *_HTML_LINK.findall(text)]


def test_the_slug_follows_github():
    assert _slug("Order lifecycle and the role × action matrix") == "order-lifecycle-and-the-role--action-matrix"
    assert _slug("Roles and actions · 角色与操作") == "roles-and-actions--角色与操作"
    assert _slug("Warehouse system (WMS): `POST /webhooks/wms/events`") == "warehouse-system-wms-post-webhookswmsevents"


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_and_images_point_at_files_and_headings(path):
    broken = []
    for target in _links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # https:, mailto: …
            continue
        file_part, _, anchor = target.partition("#")
        destination = (path.parent / unquote(file_part)).resolve() if file_part else path
        if not destination.exists():
            broken.append(f"{target}: no such file")
            continue
        if anchor and destination.suffix == ".md" and unquote(anchor).lower() not in _anchors(destination):
            broken.append(f"{target}: no heading #{anchor} in {destination.relative_to(ROOT)}")
    assert not broken, f"{path.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_docs_link_to_something():
    # The checks above would pass on pages whose links the patterns no longer find.
    assert len(_links(README)) >= 10


def test_roles_page_is_what_the_generator_renders():
    from orders.docs import DOCS_ROLES_PATH, roles_markdown

    written = (ROOT / DOCS_ROLES_PATH).read_text(encoding="utf-8")
    assert written == roles_markdown(), (
        "docs/roles.md is stale: run `python manage.py docs_roles --write docs/roles.md`"
    )


def test_docs_roles_command_prints_and_writes(tmp_path):
    import io

    from django.core.management import call_command

    from orders.docs import roles_markdown

    out = io.StringIO()
    call_command("docs_roles", stdout=out)
    assert out.getvalue() == roles_markdown()
    target = tmp_path / "roles.md"
    call_command("docs_roles", "--write", str(target), stdout=io.StringIO())
    assert target.read_text(encoding="utf-8") == roles_markdown()


def test_readme_is_a_short_first_page():
    size = README.stat().st_size
    assert size <= README_MAX_BYTES, (
        f"README.md is {size:,} bytes; keep it at most {README_MAX_BYTES:,} (move detail to docs/)"
    )
