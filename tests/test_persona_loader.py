import shutil
from collections import Counter
from pathlib import Path

import pytest

from rjcoach.persona_loader import MAX_FILE_BYTES, PERSONA_DIR, load_file, load_folder

FILES = sorted(PERSONA_DIR.glob("*.yml"))
EXAMPLE = PERSONA_DIR / "rana_haddad.yml"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_shipped_file_validates(path):
    model, errors = load_file(path, PERSONA_DIR)
    assert not errors, "\n".join(map(str, errors))
    assert model is not None


def test_shipped_library_is_complete():
    lib = load_folder()
    assert not lib.errors, "\n".join(map(str, lib.errors))
    assert len(lib.scenarios) >= 6
    assert len(lib.personas) >= 16
    with_family_and_community = 0
    for sid, sc in lib.scenarios.items():
        roles = {r.role for r in sc.roster}
        assert {"harmed", "responsible"} <= roles, sid
        with_family_and_community += bool(roles & {"parent", "supporter"}) and "community" in roles
    assert with_family_and_community >= 3
    temperaments = Counter(p.voice.temperament for p in lib.personas.values())
    assert {"grieving", "angry", "anxious", "defiant", "ashamed", "numb"} <= set(temperaments)
    assert {p.difficulty for p in lib.personas.values()} == {1, 2, 3}
    ages = [p.age for p in lib.personas.values()]
    assert min(ages) < 16 and max(ages) > 65


@pytest.fixture
def folder(tmp_path):
    """A copy of one complete scenario (graffiti_bakery and its roster)."""
    lib = load_folder()
    sc = lib.scenarios["graffiti_bakery"]
    shutil.copy(PERSONA_DIR / "graffiti_bakery.yml", tmp_path)
    for r in sc.roster:
        shutil.copy(lib.files[r.persona], tmp_path)
    return tmp_path


def errors_for(lib, name):
    return [e for e in lib.errors if Path(e.file).name == name]


def test_bad_yaml_names_file_and_line(folder):
    (folder / "broken.yml").write_text("schema_version: 1\nkind: persona\nid: [unclosed\n")
    lib = load_folder(folder)
    (err,) = errors_for(lib, "broken.yml")
    assert "not valid YAML" in err.message and err.line is not None
    assert len(lib.personas) == 4 and "graffiti_bakery" in lib.scenarios  # the valid ones still load


def _variant(folder, old, new, name="variant.yml"):
    text = EXAMPLE.read_text().replace("id: rana_haddad", "id: rana_variant", 1)
    assert old in text
    (folder / name).write_text(text.replace(old, new, 1))
    return load_folder(folder)


def test_unknown_key_names_field_and_line(folder):
    lib = _variant(folder, "difficulty: 2", "difficulty: 2\nmood: cross")
    (err,) = errors_for(lib, "variant.yml")
    assert err.field == "mood" and err.message == "unknown key"
    lines = (folder / "variant.yml").read_text().splitlines()
    assert lines[err.line - 1].startswith("mood:")


def test_missing_field(folder):
    lib = _variant(folder, "age: 47\n", "")
    (err,) = errors_for(lib, "variant.yml")
    assert err.field == "age" and "required" in err.message.lower()


def test_wrong_type_points_at_the_line(folder):
    lib = _variant(folder, "  trust: 0.3", "  trust: lots")
    (err,) = errors_for(lib, "variant.yml")
    assert err.field == "start.trust"
    assert (folder / "variant.yml").read_text().splitlines()[err.line - 1].strip() == "trust: lots"


def test_nested_error_path(folder):
    lib = _variant(folder, "      - Morning. I've got twenty minutes before the lunch rush.\n", "")
    (err,) = errors_for(lib, "variant.yml")
    assert err.field == "topics.small_talk.guarded"


def test_duplicate_id(folder):
    shutil.copy(EXAMPLE, folder / "copy_of_rana.yml")
    lib = load_folder(folder)
    dup = [e for e in lib.errors if "already used" in e.message]
    assert len(dup) == 1 and "rana_haddad" in dup[0].message
    assert "rana_haddad" in lib.personas


def test_roster_naming_missing_persona(folder):
    (folder / "des_okafor.yml").unlink()
    lib = load_folder(folder)
    (err,) = errors_for(lib, "graffiti_bakery.yml")
    assert "des_okafor" in err.message and err.field == "roster"
    assert "graffiti_bakery" not in lib.scenarios
    assert "rana_haddad" in lib.personas


def test_file_over_size_limit(folder):
    (folder / "huge.yml").write_text("# " + "x" * MAX_FILE_BYTES + "\n")
    (err,) = errors_for(load_folder(folder), "huge.yml")
    assert str(MAX_FILE_BYTES) in err.message


def test_path_outside_the_folder(folder, tmp_path_factory):
    outside = tmp_path_factory.mktemp("elsewhere") / "evil.yml"
    shutil.copy(EXAMPLE, outside)
    link = folder / "link.yml"
    link.symlink_to(outside)
    lib = load_folder(folder)
    (err,) = errors_for(lib, "link.yml")
    assert "outside" in err.message
    _, errs = load_file(folder / ".." / "x" / "evil.yml", folder)
    assert errs and "outside" in errs[0].message


def test_yaml_bomb_is_refused_quickly(folder):
    bomb = ["schema_version: 1", "kind: persona", "a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        bomb.append(f"{chr(97 + i)}: &{chr(97 + i)} [*{chr(96 + i)}, *{chr(96 + i)}, *{chr(96 + i)}, *{chr(96 + i)}]")
    (folder / "bomb.yml").write_text("\n".join(bomb) + "\n")
    (err,) = errors_for(load_folder(folder), "bomb.yml")
    assert "aliases" in err.message and err.line == 4


def test_deep_nesting_is_refused(folder):
    (folder / "deep.yml").write_text("a: " + "[" * 50 + "]" * 50 + "\n")
    (err,) = errors_for(load_folder(folder), "deep.yml")
    assert "nested deeper" in err.message


def test_not_utf8(folder):
    (folder / "latin.yml").write_bytes("name: Jos\xe9\n".encode("latin-1"))
    (err,) = errors_for(load_folder(folder), "latin.yml")
    assert "UTF-8" in err.message


def test_wrong_kind(folder):
    (folder / "what.yml").write_text("schema_version: 1\nkind: robot\n")
    (err,) = errors_for(load_folder(folder), "what.yml")
    assert err.field == "kind" and err.line == 2


def test_goal_naming_unknown_disclosure(folder):
    p = folder / "graffiti_bakery.yml"
    p.write_text(p.read_text().replace("disclosure: rana_father_shop", "disclosure: nobody_has_this"))
    (err,) = errors_for(load_folder(folder), "graffiti_bakery.yml")
    assert "nobody_has_this" in err.message


def test_role_mismatch(folder):
    p = folder / "graffiti_bakery.yml"
    p.write_text(p.read_text().replace("persona: des_okafor\n    role: community", "persona: des_okafor\n    role: supporter"))
    (err,) = errors_for(load_folder(folder), "graffiti_bakery.yml")
    assert "des_okafor" in err.message and "community" in err.message
