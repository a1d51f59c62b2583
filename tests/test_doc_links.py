"""Comments, docstrings and docs point only at documents that are in the repository.

Design notes kept outside the repository (a `reference/` folder, a DESIGN.md beside the checkout) are
invisible to a reader of the code, so a pointer to one is a dead end. This scans the sources (.py,
.toml), README.md and docs/ for `reference/NAME.md`, `DESIGN.md` and `docs/NAME.md` references and
fails on any whose file is not in the repository: quote the fact inline or point at README.md or docs/.
Paths in code resolve from the repository root; in Markdown, from the file's folder (as links do).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("ctxbench", "trainers", "tests", "bench", "ablations", "docs")
SUFFIXES = {".py", ".toml", ".md"}
# a path prefix (`../shared/`), then the document; `reference/name` may break its line before `.md`
REF = re.compile(r"(?<![\w./-])((?:\.\./|[\w.-]+/)*(?:reference/[\w-]+(?:\.md)?|DESIGN\.md|docs/[\w-]+\.md))")

# References in files other engineers are editing during issue 10; each entry must still be stale
# (the last test fails once the file is fixed, so the entry gets removed).
PENDING: dict[str, set[str]] = {}


def scanned_files() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "app.py"]
    for top in SCANNED:
        files += [p for p in (ROOT / top).rglob("*") if p.suffix in SUFFIXES and "__pycache__" not in p.parts]
    return sorted(p for p in files if p.is_file() and p != Path(__file__).resolve())


def target(path: Path, ref: str) -> Path:
    if ref.split("/")[-2:-1] == ["reference"] and not ref.endswith(".md"):
        ref += ".md"
    base = path.parent if path.suffix == ".md" else ROOT
    return (base / ref).resolve()


def refs_in(text: str) -> set[str]:
    return set(REF.findall(text))


def stale_refs() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for path in scanned_files():
        for ref in refs_in(path.read_text(encoding="utf-8")):
            dest = target(path, ref)
            if not (dest.is_relative_to(ROOT) and dest.is_file()):
                out.setdefault(path.relative_to(ROOT).as_posix(), set()).add(ref)
    return out


def test_reference_pattern():
    text = ("see reference/contextrl-method.md §4 and (DESIGN.md, Store); docs/adding-a-benchmark.md;\n"
            "split (reference/offline-assets\n.md §3); ../shared/DESIGN.md; my_reference/x is not one")
    assert refs_in(text) == {"reference/contextrl-method.md", "DESIGN.md", "docs/adding-a-benchmark.md",
                             "reference/offline-assets", "../shared/DESIGN.md"}
    assert target(ROOT / "x.py", "reference/offline-assets") == ROOT / "reference" / "offline-assets.md"
    assert not target(ROOT / "README.md", "../shared/DESIGN.md").is_relative_to(ROOT)
    assert target(ROOT / "docs" / "a.md", "docs/b.md") == ROOT / "docs" / "docs" / "b.md"


def test_references_point_at_files_in_the_repository():
    stale = {f: refs for f, refs in stale_refs().items() if not refs <= PENDING.get(f, set())}
    assert not stale, ("references to documents that are not in the repository (quote the fact inline, or "
                       f"point at README.md or docs/): {stale}")


def test_pending_entries_are_still_stale():
    stale = stale_refs()
    fixed = {f: refs - stale.get(f, set()) for f, refs in PENDING.items() if refs - stale.get(f, set())}
    assert not fixed, f"fixed since: remove these from PENDING in {__file__}: {fixed}"
