"""The mathematics travels with the code: docs/theory.md, its citations, LICENSE and CITATION.cff.

Each check is a function of the text it checks, applied to the repository's files and, as a
control, to a text made to fail it (so a check that can never fail is caught here too).
"""
from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
THEORY = ROOT / "docs" / "theory.md"
SECTIONS = tuple(range(1, 9))

# Built from pieces so that this file does not contain what it forbids.
FORBIDDEN = ("../" + "shared", "shared" + "/design")

# `docs/theory.md §4`, `docs/theory.md §4, §7`, `docs/theory.md §4.3`
_CITATION = re.compile(r"docs/theory\.md((?:[\s,;]*(?:and\s+)?§\s*\d+(?:\.\d+)?)+)")
_SECTION_REF = re.compile(r"§\s*(\d+)(?:\.(\d+))?")
_HEADING = re.compile(r"^## (\d+)\. \S", re.MULTILINE)
_SUBHEADING = re.compile(r"^### (\d+)\.(\d+) \S", re.MULTILINE)

# A phrase every copy of the license's standard text contains, per SPDX id.
LICENSE_TEXT = {"MIT": "Permission is hereby granted, free of charge, to any person obtaining a copy"}


# ---------------------------------------------------------------- helpers (the checks)
def repo_files():
    """Paths of the repository's files: git's tracked and untracked-but-not-ignored files (so a
    new file is checked before it is committed); a plain walk when git is unavailable."""
    try:
        out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                             cwd=ROOT, capture_output=True, check=True).stdout
        names = [n for n in out.decode().split("\0") if n]
        return [ROOT / n for n in names if (ROOT / n).is_file()]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", "build", "dist", "__pycache__", "results"}
        found = []
        for d, dirs, files in os.walk(ROOT):
            dirs[:] = [x for x in dirs if x not in skip and not x.endswith(".egg-info")]
            found += [Path(d) / f for f in files]
        return found


def read_text(path):
    """The file's text, or ``None`` for a binary file."""
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None


def theory_sections(text):
    """``(sections, subsections)`` of a theory document: ``[1, 2, ...]`` in order of appearance,
    and the set of ``(N, M)`` of its ``### N.M`` headings."""
    return ([int(n) for n in _HEADING.findall(text)],
            {(int(a), int(b)) for a, b in _SUBHEADING.findall(text)})


def cited_sections(text):
    """Every ``(N, M or None)`` cited as ``docs/theory.md §N[.M]`` (lists such as ``§4, §7``)."""
    out = []
    for m in _CITATION.finditer(text):
        for a, b in _SECTION_REF.findall(m.group(1)):
            out.append((int(a), int(b) if b else None))
    return out


def missing_sections(citations, sections, subsections):
    """The citations that name a section (or subsection) the document does not have."""
    return [(a, b) for a, b in citations
            if a not in sections or (b is not None and (a, b) not in subsections)]


def forbidden_hits(text):
    """The forbidden strings (paths outside the repository) that ``text`` contains."""
    return [s for s in FORBIDDEN if s in text]


def license_mismatch(pyproject, license_text):
    """``None`` if ``license_text`` is the standard text of pyproject's license, else why not."""
    declared = pyproject["project"]["license"]
    name = declared.get("text") if isinstance(declared, dict) else declared
    phrase = LICENSE_TEXT.get(name)
    if phrase is None:
        return f"no standard text known for license {name!r}"
    if phrase not in " ".join(license_text.split()):
        return f"LICENSE is not the {name} license text"
    if not license_text.lstrip().startswith(f"{name} License"):
        return f"LICENSE does not start with '{name} License'"
    return None


def cff_version(cff_text):
    """The top-level ``version:`` of a CITATION.cff, read without a YAML parser."""
    m = re.search(r"^version:\s*[\"']?([^\"'\s#]+)", cff_text, re.MULTILINE)
    return m.group(1) if m else None


@pytest.fixture(scope="module")
def pyproject():
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)


# ---------------------------------------------------------------- the repository
def test_theory_md_has_sections_1_to_8_in_order():
    assert THEORY.is_file(), "docs/theory.md is missing"
    sections, _ = theory_sections(THEORY.read_text(encoding="utf-8"))
    assert tuple(sections) == SECTIONS, f"docs/theory.md sections: {sections}"


def test_every_cited_section_exists():
    sections, subsections = theory_sections(THEORY.read_text(encoding="utf-8"))
    citations, bad = 0, []
    for path in repo_files():
        if path.suffix not in (".py", ".md", ".toml", ".txt", ".rst"):
            continue
        text = read_text(path)
        if text is None:
            continue
        found = cited_sections(text)
        citations += len(found)
        bad += [(str(path.relative_to(ROOT)), c) for c in missing_sections(found, sections, subsections)]
    assert citations >= 20, f"only {citations} citations of docs/theory.md found: is the pattern broken?"
    assert not bad, f"citations of sections docs/theory.md does not have: {bad}"


def test_no_file_refers_to_paths_outside_the_repository():
    files = repo_files()
    assert any(p.name == "pyproject.toml" for p in files)
    bad = []
    for path in files:
        if ".git" in path.relative_to(ROOT).parts:
            continue
        text = read_text(path)
        if text is not None and forbidden_hits(text):
            bad.append((str(path.relative_to(ROOT)), forbidden_hits(text)))
    assert not bad, f"references to paths outside the repository: {bad}"


def test_license_matches_pyproject(pyproject):
    assert license_mismatch(pyproject, (ROOT / "LICENSE").read_text(encoding="utf-8")) is None


def test_citation_cff_version_equals_pyproject(pyproject):
    text = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    assert cff_version(text) == pyproject["project"]["version"]


def test_citation_cff_is_valid_yaml_with_the_three_papers(pyproject):
    yaml = pytest.importorskip("yaml")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0"
    assert cff["type"] == "software"
    assert str(cff["version"]) == pyproject["project"]["version"]
    assert cff["license"] == pyproject["project"]["license"]["text"]
    assert cff["authors"] and cff["title"] and cff["message"]
    ids = {i["value"] for r in cff["references"] for i in r["identifiers"]}
    assert ids == {"arXiv:2512.16598", "arXiv:2505.13416", "arXiv:2510.19933"}
    for ref in cff["references"]:
        assert ref["authors"] and ref["title"] and ref["type"] and ref["year"]
        assert all("family-names" in a and "given-names" in a for a in ref["authors"])


# ---------------------------------------------------------------- controls: each check can fail
def test_controls_each_check_rejects_a_bad_input(pyproject):
    sections, subsections = theory_sections(THEORY.read_text(encoding="utf-8"))
    # a citation of a section that does not exist, inside a list, and of a missing subsection
    # (built from pieces: this file's own citations are checked by the test above)
    doc = "docs/theory" + ".md"
    bad = cited_sections(f"see {doc} §4, §9 and {doc} §4.99; {doc} §2")
    assert bad == [(4, None), (9, None), (4, 99), (2, None)]
    assert missing_sections(bad, sections, subsections) == [(9, None), (4, 99)]
    # a document with a section missing or out of order
    assert theory_sections("## 1. A\n## 3. C\n## 2. B\n")[0] != list(SECTIONS)
    # a path outside the repository
    assert forbidden_hits("start from " + FORBIDDEN[0] + "/design/THEORY.md") == list(FORBIDDEN)
    assert forbidden_hits("docs/theory.md") == []
    # another license text, another declared license, another version
    assert license_mismatch(pyproject, "Apache License\nVersion 2.0, January 2004\n") is not None
    other = {"project": {**pyproject["project"], "license": {"text": "GPL-3.0"}}}
    assert license_mismatch(other, (ROOT / "LICENSE").read_text(encoding="utf-8")) is not None
    assert cff_version("cff-version: 1.2.0\nversion: 9.9.9\n") == "9.9.9" != pyproject["project"]["version"]
