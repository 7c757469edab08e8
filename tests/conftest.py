"""Session-wide test settings: the wall time of every run is printed at its end.

The default run (``python -m pytest``, i.e. ``-m 'not slow and not heavy'`` from
pyproject.toml) must stay under 3 minutes on the project's 2-core machine; ``.ci/run`` shows
this line in its log.
"""

import time

_START = []
DEFAULT_MARKEXPR = "not slow and not heavy"
TARGET_S = 180.0


def pytest_sessionstart(session):
    _START.append(time.perf_counter())


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _START:
        return
    wall = time.perf_counter() - _START[0]
    expr = config.getoption("markexpr") or "all tests"
    if expr == DEFAULT_MARKEXPR and not config.option.file_or_dir:   # the whole default run
        verdict = "within" if wall <= TARGET_S else "OVER"
        note = f" - default run, {verdict} the {TARGET_S:.0f} s target"
    else:
        note = ""
    terminalreporter.write_line(f"wall time of this run (-m '{expr}'): {wall:.1f} s{note}")
