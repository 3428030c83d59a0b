"""The README and docs/ promise what runs: every command they show exists and takes the flags they
give it, every link leads to a file (and heading) that exists, and the README stays short."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import pytest
from conftest import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), *sorted(REPO.glob("recipes/*/README.md"))]
SCRIPTS = dict(re.findall(r'^(nmt-[a-z]+) = "([\w.:]+)"$', (REPO / "pyproject.toml").read_text(encoding="utf-8"), re.M))
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")


def shell_lines(page: Path) -> list[str]:
    """The command lines of a page's ```sh blocks, continuation lines joined, comments dropped."""
    lines, inside = [], False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            inside = line.strip() == "```sh"
            continue
        if inside:
            code = line.split(" # ")[0].strip()
            if lines and lines[-1].endswith("\\"):
                lines[-1] = lines[-1][:-1] + " " + code
            elif code:
                lines.append(code)
    return lines


def invocations() -> list[tuple[Path, str, str, list[str]]]:
    """(page, command line, program, the flags the line gives it) for nmt-*, tools and recipe scripts;
    a program's path is made absolute, following a block's `cd DIR` (relative to the repository)."""
    found = []
    for page in PAGES:
        cwd = None
        for line in shell_lines(page):
            for part in re.split(r"\s*(?:\||&&|;)\s*", line):
                words = part.replace("[", " ").replace("]", " ").split()
                if not words:
                    continue
                if words[0] == "cd" and len(words) > 1:
                    cwd = REPO / words[1]
                    continue
                if words[0] in ("python", "python3", "bash") and len(words) > 1:
                    words = words[1:]
                program = words[0]
                if program.endswith((".py", ".sh")):
                    program = str(resolve(page, program, cwd))
                if program.startswith("nmt-") or program.endswith((".py", ".sh")):
                    found.append((page, line, program, FLAG.findall(" ".join(words[1:]))))
    return found


def resolve(page: Path, program: str, cwd: Path | None = None) -> Path:
    """A tool or recipe script named on `page`: relative to the block's `cd`, the repository or the page."""
    for base in (cwd, REPO, page.parent):
        if base is not None and (base / program).exists():
            return (base / program).resolve()
    return REPO / program


@cache
def help_text(program: str) -> str:
    if program.startswith("nmt-"):
        module = SCRIPTS[program].split(":")[0]
        command = [sys.executable, "-m", module, "--help"]
    else:
        command = [sys.executable, program, "--help"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, f"{program} --help: {result.stderr[-500:]}"
    return result.stdout


def test_the_readme_stays_short():
    assert len((REPO / "README.md").read_text(encoding="utf-8").splitlines()) < 200


def test_every_command_the_pages_show_exists_and_takes_the_flags_they_give_it():
    calls = invocations()
    assert len(calls) > 40  # the pages do show commands (a broken parser would find none)
    for page, line, program, _ in calls:
        if program.startswith("nmt-"):
            assert program in SCRIPTS, f"{page.name}: `{line}` names no console script {program}"
        else:
            assert Path(program).is_file(), f"{page.name}: `{line}` names a missing file {program}"
    programs = sorted({p for _, _, p, _ in calls if not p.endswith(".sh")})
    with ThreadPoolExecutor(max_workers=4) as pool:
        helps = dict(zip(programs, pool.map(help_text, programs)))
    for page, line, program, flags in calls:
        if program.endswith(".sh"):
            text = Path(program).read_text(encoding="utf-8") + "".join(  # and the shared parts recipes source
                (REPO / "recipes/lib" / shared).read_text(encoding="utf-8") for shared in ("stages.sh", "ablation.sh", "caption_ablation.sh"))
        else:
            text = helps[program]
        for flag in flags:
            assert flag in text, f"{page.name}: `{line}`: {program} has no option {flag}"


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_link_leads_to_a_file_and_heading_that_exist(page):
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name}: link to a missing {target}"
        if anchor and linked.suffix == ".md":
            headings = [_slug(h) for h in re.findall(r"^#+ (.+)$", linked.read_text(encoding="utf-8"), re.M)]
            assert anchor in headings, f"{page.name}: no heading #{anchor} in {linked.name}"


def test_the_flag_finder_reads_brackets_comments_and_continuations(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```sh\nnmt-translate --model A [--beam 5] \\\n  --nbest 3  # not --this\n```\n", encoding="utf-8")
    assert shell_lines(page) == ["nmt-translate --model A [--beam 5]  --nbest 3"]
    assert FLAG.findall(shlex.join(["--beam", "x--y", "--top-k"])) == ["--beam", "--top-k"]
