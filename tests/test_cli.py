import json
import subprocess
import sys

import pytest

from rjcoach.analysis import Evidence
from rjcoach.cli import highlight

pytestmark = pytest.mark.slow


def run(*args):
    return subprocess.run([sys.executable, "-m", "rjcoach", *args], capture_output=True, text=True, timeout=300)


def test_analyze_prints_labels_scores_and_highlights():
    out = run("analyze", "Why did you take it?", "--context", "I took the bike.")
    assert out.returncode == 0, out.stderr
    assert "[[Why did you]]" in out.stdout
    assert "why_question" in out.stdout and "open_question" in out.stdout


def test_analyze_json():
    out = run("analyze", "Mm-hmm.", "--json")
    data = json.loads(out.stdout)
    assert "encourager" in data["labels"] and set(data["scores"]) >= {"advice", "threat"}


def test_highlight_marks_spans_without_overlap():
    ev = [Evidence("why_question", 0, 11, "Why did you", "rule:x"), Evidence("open_question", 0, 20, "Why did you take it?", "m")]
    assert highlight("Why did you take it?", ev, colour=False) in ("[[Why did you]] take it?", "[[Why did you take it?]]")
