import pytest
import spacy

from rjcoach.analyzer import SPACY_PIPELINE
from rjcoach.rules import PatternFileError, RuleCues, label_features, load_cue_files


@pytest.fixture(scope="module")
def nlp():
    return spacy.load(SPACY_PIPELINE, exclude=["ner", "lemmatizer"])


@pytest.fixture(scope="module")
def rules(nlp):
    return RuleCues(nlp.vocab)


# (label, utterance, words the cue must cover)
CASES = [
    ("open_question", "How did the rest of that day go for you?", "How"),
    ("open_question", "Can you tell me about the night it happened?", "Can you tell"),
    ("closed_question", "Was the gate locked?", "Was the"),
    ("closed_question", "You'd only just moved in, is that right?", "is that right"),
    ("reflection", "It sounds like the bike meant a lot more than money.", "sounds like"),
    ("reflection", "So you were on your own when they came in.", "So you"),
    ("emotion_label", "You must have been terrified.", "terrified"),
    ("emotion_label", "What a frightening thing to walk in on.", "frightening"),
    ("summary", "So far: the damage, the missed shifts, and not feeling safe walking home.", "So far"),
    ("summary", "Let me sum up what I've heard.", "Let me sum"),
    ("encourager", "Mm-hmm.", "Mm"),
    ("encourager", "Take your time.", "Take your time"),
    ("validation", "Of course you're upset; most people would be.", "Of course you"),
    ("validation", "It took real courage to say that.", "took real courage"),
    ("sympathy", "I'm really sorry you went through that.", "I'm really sorry you"),
    ("sympathy", "That must have been awful.", "awful"),
    ("restorative_question", "What do you think would help put this right?", "put this right"),
    ("restorative_question", "Who else has been affected by this?", "affected"),
    ("restorative_question", "What were you thinking at the time?", "were you thinking"),
    ("restorative_question", "What's been the hardest thing for you?", "hardest thing"),
    ("accusation", "You did this on purpose.", "on purpose"),
    ("accusation", "You're just lying to get out of here.", "lying"),
    ("labeling", "You're a vandal.", "vandal"),
    ("labeling", "Listen here, you little thief.", "little thief"),
    ("victim_blaming", "You shouldn't have left the window open.", "shouldn't have left"),
    ("victim_blaming", "If you'd locked the car this wouldn't have happened.", "If you'd locked"),
    ("threat", "Answer me or this gets worse for you.", "worse for you"),
    ("threat", "Sit down and be quiet.", "Sit down"),
    ("minimizing", "It's only a bike, relax.", "only a bike"),
    ("minimizing", "Calm down, it's not a big deal.", "Calm down"),
    ("why_question", "Why did you take it?", "Why did you"),
    ("why_question", "How come you didn't stop?", "How come you"),
    ("generalization", "You never think before you act.", "You never"),
    ("generalization", "People like you never learn.", "People like you"),
    ("advice", "You should put up a camera.", "You should put"),
    ("advice", "If I were you I'd move the car round the back.", "If I were you"),
]


@pytest.mark.parametrize("label,text,words", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_cue_fires_with_evidence(nlp, rules, label, text, words):
    hits = [h for h in rules(nlp(text)) if h.label == label]
    assert hits, f"no {label} cue in {text!r}"
    assert any(words.lower() in h.text.lower() or h.text.lower() in words.lower() for h in hits)
    for h in hits:
        assert text[h.start : h.end] == h.text


NEGATIVES = [
    ("why_question", "Why don't we take a short break?"),
    ("threat", "Please take a seat."),
    ("labeling", "Thanks for coming in today."),
    ("minimizing", "We can take this slowly; you're safe here."),
]


@pytest.mark.parametrize("label,text", NEGATIVES)
def test_cue_stays_quiet_on_near_misses(nlp, rules, label, text):
    assert not [h for h in rules(nlp(text)) if h.label == label]


def test_label_features_one_per_label(nlp, rules):
    feats = label_features(rules(nlp("Why did you take it?")))
    assert len(feats) == 17 and feats[14] == 1.0  # why_question


def test_pattern_files_validate():
    files = load_cue_files()
    assert {f.family for _, f in files} == {"listening", "empathy", "restorative", "accusatory", "other"}


BAD_CUE_FILES = [
    ("label: advise", "[[{LOWER: a}]]", "bad.yml.*advise"),  # not a rubric id
    ("label: advice", "[[{LOWR: a}]]", "bad.yml.*typo"),  # misspelt token attribute
    ("label: threat", "[[{LOWER: a}]]", "family"),  # a threat cue in the 'other' family file
]


@pytest.mark.parametrize("label_line,patterns,message", BAD_CUE_FILES)
def test_bad_cue_file_names_file_and_problem(tmp_path, nlp, label_line, patterns, message):
    (tmp_path / "feelings.yml").write_text("schema_version: 1\nwords: [sad]\n")
    (tmp_path / "bad.yml").write_text(
        f"schema_version: 1\nfamily: other\ncues:\n  - id: typo\n    {label_line}\n    patterns: {patterns}\n"
    )
    with pytest.raises(PatternFileError, match=message):
        RuleCues(nlp.vocab, tmp_path)
