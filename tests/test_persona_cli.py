import shutil
import subprocess
import sys

import pytest

from rjcoach.persona_loader import PERSONA_DIR, load_folder


def run(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "rjcoach", "persona", *args], input=stdin,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture
def folder(tmp_path):
    for name in ("graffiti_bakery", "rana_haddad", "jayden_price", "kerry_price", "des_okafor"):
        shutil.copy(PERSONA_DIR / f"{name}.yml", tmp_path)
    return tmp_path


def test_new_writes_a_valid_skeleton(folder):
    out = run("new", "--role", "supporter", "--scenario", "graffiti_bakery", "--id", "aunt_sam", "--out", str(folder))
    assert out.returncode == 0, out.stderr
    path = folder / "aunt_sam.yml"
    assert "TODO" in path.read_text()
    lib = load_folder(folder)
    assert "aunt_sam" in lib.personas and not lib.errors
    again = run("new", "--role", "supporter", "--scenario", "graffiti_bakery", "--id", "aunt_sam", "--out", str(folder))
    assert again.returncode == 2 and "already exists" in again.stderr


def test_new_refuses_unknown_scenario(folder):
    out = run("new", "--role", "harmed", "--scenario", "moon_landing", "--out", str(folder))
    assert out.returncode == 2 and "moon_landing" in out.stderr and "graffiti_bakery" in out.stderr


def test_validate_reports_every_problem_and_exits_non_zero(folder):
    assert run("validate", str(folder)).returncode == 0
    p = folder / "rana_haddad.yml"
    p.write_text(p.read_text().replace("age: 47", "age: old").replace("difficulty: 2", "difficulty: 2\ncolour: red"))
    out = run("validate", str(folder))
    assert out.returncode == 1
    assert f"{p}:" in out.stdout and "age" in out.stdout and "colour" in out.stdout
    # the broken persona also leaves its scenario with a roster naming a missing persona
    assert "2 with problems (3 problems)" in out.stdout and "roster" in out.stdout


@pytest.mark.slow
def test_try_chats_and_shows_state():
    out = run("try", "rana_haddad", stdin="Hi Rana, thanks for seeing me.\nWhat happened that morning?\n\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("state: trust") == 3  # the start, then after each of two turns
    assert "Rana>" in out.stdout and "labels:" in out.stdout


def test_try_unknown_persona():
    out = run("try", "nobody_here")
    assert out.returncode == 2 and "rana_haddad" in out.stderr
