"""The documentation stays true: every python code block in it runs, and the site builds.

Python blocks (```python) of one page run in order in one namespace, like a notebook, in a
temporary working directory. Blocks in other languages (```bash, ```text, ...) are not run.
The site is built with `mkdocs build --strict` (warnings are errors), skipped with a reason if
MkDocs is not installed.
"""

import importlib.util
import linecache
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "docs").glob("**/*.md")) + [ROOT / "README.md"]
# A fenced block: its opening fence (``` or ~~~, indented or not), info string, body, same fence.
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^\n]*)\n"
    r"(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$",
    re.S | re.M,
)


def python_blocks(text):
    """(line number, code) of every ```python block of a Markdown text, in order."""
    blocks = []
    for match in FENCE.finditer(text):
        language = match["info"].strip().split(" ")[0].lower()
        if language in ("python", "py"):
            line = text.count("\n", 0, match.start()) + 2
            indent = len(match["indent"])
            body = "".join(row[indent:] for row in match["body"].splitlines(keepends=True))
            blocks.append((line, body))
    return blocks


def test_python_blocks_are_found():
    text = "a\n```python\nx = 1\n```\n\n```bash\nls\n```\n  ```py\n  y = 2\n  ```\n"
    assert python_blocks(text) == [(3, "x = 1\n"), (10, "y = 2\n")]


PAGES_WITH_CODE = [page for page in PAGES if python_blocks(page.read_text(encoding="utf-8"))]


def test_pages_have_code():
    names = {page.relative_to(ROOT).as_posix() for page in PAGES_WITH_CODE}
    assert {"README.md", "docs/index.md", "docs/math.md"} <= names


@pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_code_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs__"}
    for line, code in python_blocks(page.read_text(encoding="utf-8")):
        where = f"{page.relative_to(ROOT).as_posix()}:{line}"
        # Let tracebacks and tf.function's AutoGraph find the block's source.
        linecache.cache[where] = (len(code), None, code.splitlines(keepends=True), where)
        try:
            exec(compile(code, where, "exec"), namespace)
        except Exception as error:  # re-raised with the block's location
            raise AssertionError(f"the code block at {where} failed: {error!r}") from error


def test_site_builds_strict(tmp_path):
    if (
        importlib.util.find_spec("mkdocs") is None
        or importlib.util.find_spec("mkdocstrings") is None
    ):
        pytest.skip(
            "MkDocs is not installed: pip install mkdocs mkdocs-material 'mkdocstrings[python]'"
        )
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},  # Material's end-of-life banner
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "api" / "bijectors" / "index.html").is_file()
