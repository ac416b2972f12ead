import re
from pathlib import Path

import pytest

from rjcoach.labels import ACCUSATORY, FAMILIES, FAMILY_OF, LABELS, PLAIN_WORDS, check_label

RUBRIC = Path(__file__).resolve().parents[2] / "shared" / "rubric.md"


def test_seventeen_labels_in_five_families():
    assert len(LABELS) == 17
    assert set(FAMILIES) == {"listening", "empathy", "restorative", "accusatory", "other"}
    assert len(ACCUSATORY) == 7
    assert set(PLAIN_WORDS) == set(LABELS)


@pytest.mark.skipif(not RUBRIC.is_file(), reason="../shared/rubric.md is not beside the project")
def test_label_ids_match_the_rubric():
    text = RUBRIC.read_text()
    in_rubric = re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.M)
    assert sorted(in_rubric) == sorted(LABELS)
    for family in FAMILIES:
        assert f"(`{family}`)" in text
    for label, family in FAMILY_OF.items():
        section = text.split(f"(`{family}`)")[1].split("###")[0]
        assert f"`{label}`" in section


def test_check_label_names_valid_ids():
    assert check_label("summary") == "summary"
    with pytest.raises(ValueError, match="open_question"):
        check_label("empathic_statement")
