"""Every fenced ```python, ```bash and ```sh block of README.md runs, so the README cannot drift.

Conventions (also in the README, section "Contributing"):

* ``python`` blocks share one namespace per section (``##`` heading), in README order: the test
  of a block first runs the section's earlier blocks.  Working directory: a fresh temporary one.
* ``bash``/``sh`` blocks: every command line (blank and ``#`` lines skipped, a trailing ``\\``
  continues the line) runs with bash in a fresh temporary directory, with this environment's
  ``effcoef`` script first on PATH, and must exit 0 - or N if its comment says ``exits N``.
* An HTML comment on the line right before the fence marks the block:
  ``<!-- not-run: reason -->`` is never run (the reason is required and shown in the skip);
  ``<!-- heavy: reason -->`` runs under ``-m heavy`` (``.ci/run`` runs it after the default run).
  A block after a heavy one in the same section is heavy as well (it needs its names).
* Any other fence language (output tables, ``text``) is not code and is not run.
"""

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
RUN_LANGS = {"python", "bash", "sh"}
MARK = re.compile(r"^<!--\s*(not-run|heavy)\s*:\s*(.*?)\s*-->$")


@dataclass
class Block:
    index: int
    line: int          # 1-based line of the opening fence
    lang: str
    section: str
    marker: str        # "", "not-run" or "heavy"
    reason: str
    code: str

    @property
    def id(self):
        slug = re.sub(r"[^a-z0-9]+", "-", self.section.lower()).strip("-")
        return f"L{self.line}-{self.lang}-{slug}"


def parse(text):
    blocks, section, lines = [], "", text.splitlines()
    i = 0
    while i < len(lines):
        ln = lines[i]
        if ln.startswith("## "):
            section = ln[3:].strip()
        m = re.match(r"^```(\w*)\s*$", ln)
        if m:
            lang, start = m.group(1).lower(), i
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            k = i - 1
            while k >= 0 and not lines[k].strip():
                k -= 1
            mk = MARK.match(lines[k].strip()) if k >= 0 else None
            blocks.append(Block(len(blocks), start + 1, lang, section,
                                mk.group(1) if mk else "", mk.group(2) if mk else "",
                                "\n".join(lines[i + 1:j]) + "\n"))
            i = j
        i += 1
    return blocks


BLOCKS = parse(README.read_text())
CODE = [b for b in BLOCKS if b.lang in RUN_LANGS]


def _earlier(block):
    return [b for b in CODE if b.lang == "python" and b.section == block.section
            and b.index < block.index and b.marker != "not-run"]


def _is_heavy(block):
    return block.marker == "heavy" or (block.lang == "python" and
                                       any(b.marker == "heavy" for b in _earlier(block)))


def _params():
    out = []
    for b in CODE:
        marks = [pytest.mark.heavy] if _is_heavy(b) else []
        out.append(pytest.param(b, id=b.id, marks=marks))
    return out


def test_markers_are_well_formed():
    """Every marker has a reason and sits before a runnable block; the README has blocks."""
    # the README keeps the set-up commands and one example (issue 20); the rest of the
    # examples live in docs/, where the light ones run when the site is built
    assert len(CODE) >= 4
    for b in BLOCKS:
        if b.marker:
            assert b.reason, f"README line {b.line}: a {b.marker} marker needs a reason"
            assert b.lang in RUN_LANGS, f"README line {b.line}: marker on a {b.lang!r} block"
    text = README.read_text().splitlines()
    for n, ln in enumerate(text, 1):
        if re.match(r"^<!--\s*(not-run|heavy)\b", ln.strip()):
            assert MARK.match(ln.strip()), f"README line {n}: malformed marker {ln!r}"


def test_parser_reads_markers_and_sections():
    text = ("## A\n\n<!-- not-run: why -->\n```bash\nx\n```\n\n```python\ny = 1\n```\n"
            "## B\n<!-- heavy: slow -->\n```python\nz = 2\n```\n```\nout\n```\n")
    b = parse(text)
    assert [(x.lang, x.section, x.marker, x.reason) for x in b] == [
        ("bash", "A", "not-run", "why"), ("python", "A", "", ""), ("python", "B", "heavy", "slow"),
        ("", "B", "", "")]
    assert b[1].code == "y = 1\n"


def _commands(code):
    cmds, cur = [], ""
    for ln in code.splitlines():
        if not cur and (not ln.strip() or ln.lstrip().startswith("#")):
            continue
        part = ln.strip() if cur else ln.rstrip()
        if part.endswith("\\"):
            cur += part[:-1].rstrip() + " "
        else:
            cmds.append((cur + part).strip())
            cur = ""
    return cmds


def _expected_status(cmd):
    m = re.search(r"#.*\bexits (\d+)", cmd)
    return int(m.group(1)) if m else 0


def _env():
    env = dict(os.environ, MPLBACKEND="Agg")
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    return env


def _run_python(block, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    ns = {"__name__": "__readme__"}
    for b in _earlier(block) + [block]:
        exec(compile(b.code, f"README.md:{b.line}", "exec"), ns)


def _run_shell(block, tmp_path):
    assert shutil.which("effcoef", path=_env()["PATH"]), "the effcoef script is not installed"
    for cmd in _commands(block.code):
        out = subprocess.run(["bash", "-c", cmd], cwd=tmp_path, env=_env(), capture_output=True,
                             text=True, timeout=1800, stdin=subprocess.DEVNULL)
        want = _expected_status(cmd)
        assert out.returncode == want, (f"README line {block.line}: `{cmd}` exited "
                                        f"{out.returncode}, expected {want}\n{out.stderr[-2000:]}")
        if want:                    # a documented failure says why, in one line
            assert out.stderr.strip() and len(out.stderr.strip().splitlines()) == 1, out.stderr


@pytest.mark.parametrize("block", _params())
def test_readme_block_runs(block, tmp_path, monkeypatch):
    if block.marker == "not-run":
        pytest.skip(f"README line {block.line}: not run: {block.reason}")
    if block.lang == "python":
        _run_python(block, tmp_path, monkeypatch)
    else:
        _run_shell(block, tmp_path)


def test_commands_and_exit_status_parsing():
    code = "# comment\n\neffcoef a \\\n  --b 1\neffcoef c  # fails; exits 2\n"
    assert _commands(code) == ["effcoef a --b 1", "effcoef c  # fails; exits 2"]
    assert _expected_status("effcoef c  # exits 2, one line") == 2
    assert _expected_status("effcoef c") == 0
