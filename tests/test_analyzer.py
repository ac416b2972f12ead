"""The real shipped model, loaded once: unambiguous utterances, the API contract, bad input."""
import numpy as np
import pytest
import spacy

import rjcoach
from rjcoach.analysis import MAX_TEXT_CHARS, Analysis
from rjcoach.analyzer import COMPONENT, SPACY_PIPELINE, get_analyzer
from rjcoach.labels import ACCUSATORY, FAMILIES, LABELS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def analyzer():
    return get_analyzer()


# Unambiguous utterances per family: (text, context, labels that must be there, labels that must not).
CLEAR = [
    ("How did the rest of that day go for you?", "It was the day after my birthday.", {"open_question"}, ACCUSATORY),
    ("Was the gate locked?", None, {"closed_question"}, {"open_question"} | ACCUSATORY),
    ("You must have been terrified.", "I heard them downstairs and I just froze under the duvet.",
     {"emotion_label", "reflection"}, ACCUSATORY),
    ("Mm-hmm. Go on.", "And then I saw the back door was open.", {"encourager"}, ACCUSATORY),
    ("I'm so sorry that happened to you.", "They took my late husband's watch.", {"sympathy"}, ACCUSATORY),
    ("What do you think needs to happen to make things right?", None,
     {"restorative_question", "open_question"}, ACCUSATORY),
    ("Who else has been affected by what you did?", None, {"restorative_question", "open_question"}, set()),
    ("You're nothing but a lying little thug.", None, {"labeling"}, {"sympathy", "validation"}),
    ("Why did you take it?", "I took the bike.", {"why_question", "open_question"}, {"sympathy"}),
    ("You shouldn't have left your car unlocked.", "They took it from the drive.", {"victim_blaming"}, {"sympathy"}),
    ("Answer me now or you'll be spending the night in a cell.", "...", {"threat"}, {"sympathy"}),
    ("It's only a shed, get over it.", "I can't sleep since it happened.", {"minimizing"}, {"sympathy"}),
    ("You lot never think before you act.", None, {"generalization"}, {"sympathy"}),
    ("The room is ours until four, and there's tea at the back.", None, set(), set(LABELS)),
]


@pytest.mark.parametrize("text,context,must,must_not", CLEAR, ids=[c[0][:30] for c in CLEAR])
def test_unambiguous_utterances(analyzer, text, context, must, must_not):
    a = analyzer.analyze(text, context)
    assert must <= a.labels, f"missing {must - a.labels}; got {sorted(a.labels)}"
    assert not (a.labels & must_not), f"wrongly flagged {sorted(a.labels & must_not)}"


def test_accusatory_family_is_flagged(analyzer):
    a = analyzer.analyze("You did this on purpose and you know it.", None)
    assert a.accusatory and a.families["accusatory"].flagged
    calm = analyzer.analyze("Thank you for coming in today. Please take a seat.", None)
    assert not calm.accusatory


def test_contract(analyzer):
    text = "I'm really sorry. Why did you leave the door open?"
    a = rjcoach.analyze(text, "They got in through the back.")
    assert isinstance(a, Analysis)
    assert set(a.scores) == set(LABELS)
    assert all(0.0 <= s <= 1.0 for s in a.scores.values())
    assert a.labels <= set(LABELS)
    assert set(a.families) == set(FAMILIES)
    for fam, summary in a.families.items():
        assert set(summary.labels) == a.labels & set(FAMILIES[fam])
    for e in a.evidence:
        assert e.label in a.labels
        assert text[e.start : e.end] == e.text and e.text.strip()
    assert {e.label for e in a.evidence} == a.labels  # every flag says which words carry it
    d = a.to_dict()
    assert d["labels"] == [label for label in LABELS if label in a.labels]


def test_batch_matches_single(analyzer):
    texts = ["Go on.", "Why did you do it?", "", "So you felt nobody was listening."]
    contexts = [None, "I did it.", None, "I rang them four times and nobody came."]
    many = rjcoach.analyze_many(texts, contexts, batch_size=2)
    for t, c, m in zip(texts, contexts, many):  # in float32 and bfloat16 alike (rjcoach.model.bert_layer)
        one = analyzer.analyze(t, c)
        assert one.labels == m.labels
        for label in LABELS:
            assert abs(one.scores[label] - m.scores[label]) < 1e-5


def test_a_bfloat16_analyser_scores_a_message_the_same_alone_and_in_a_batch(monkeypatch):
    """Concurrent trainees share batches: in bfloat16 too, a message's flags must not depend on
    who else was typing (shorter and longer messages and contexts around it)."""
    from rjcoach.analyzer import Analyzer

    monkeypatch.setenv("RJCOACH_PRECISION", "bfloat16")
    bf16 = Analyzer()
    texts = ["You never think.", "So it's the damage, the lost time, and not feeling safe walking home at night.",
             "Why did you take it?", "Mm-hmm.", "Get a steering lock, they're twenty quid. Would've saved you all this."]
    contexts = ["I just went.", None, "We were bored, there's nothing to do round here, honestly nothing at all, "
                "no youth club since they shut it, no buses after seven, and everyone just hangs about the car park "
                "because where else would we go, you tell me.",  # longer than every message
                "And then it all went quiet.", "I just came out and the space was empty."]
    many = bf16.analyze_many(texts, contexts)
    for t, c, m in zip(texts, contexts, many):
        bf16.component.forget_contexts()
        one = bf16.analyze(t, c)
        assert one.labels == m.labels
        for label in LABELS:
            assert abs(one.scores[label] - m.scores[label]) < 1e-5, (t, label)


def test_context_is_used(analyzer):
    text = "So the bike was the one thing you'd bought with your own money."
    with_ctx = analyzer.analyze(text, "I saved for that bike for a whole year from my paper round.")
    without = analyzer.analyze(text, None)
    assert with_ctx.scores["reflection"] != without.scores["reflection"]


def test_a_context_heard_before_gives_the_same_result(analyzer, monkeypatch):
    """The analyser keeps each context's lower-layer states (a persona line is answered many
    times); scores with a kept context equal those computed afresh, and what is kept is bounded."""
    from rjcoach import analyzer as analyzer_module

    component = analyzer.component
    context = "I keep checking the back door, every night, three or four times."
    component.forget_contexts()
    fresh = analyzer.analyze("You check it again and again.", context)
    assert context in component._contexts
    kept = analyzer.analyze("You check it again and again.", context)
    for label in LABELS:
        assert abs(fresh.scores[label] - kept.scores[label]) < 1e-6
    monkeypatch.setattr(analyzer_module, "CONTEXT_TOKENS", 30)  # each line below is 8 word pieces with [CLS] and [SEP]
    rjcoach.analyze_many(["Go on."] * 4, [f"line {i} of what they said" for i in range(4)])
    assert component._context_tokens <= 30
    assert sum(st.shape[0] for st in component._contexts.values()) == component._context_tokens
    assert "line 3 of what they said" in component._contexts and "line 0 of what they said" not in component._contexts


def test_lines_read_ahead_are_kept_and_give_the_same_scores(analyzer):
    """keep_contexts (a session start reads its persona's lines) computes each new line once; a
    message answering one then scores as if its context had been read in the turn."""
    component = analyzer.component
    lines = ["The van was parked across the drive again.", "I just want it to stop.", "  ", "I just want it to stop."]
    message = "It sounds like you are worn out by it."
    component.forget_contexts()
    in_turn = analyzer.analyze(message, lines[0])
    component.forget_contexts()
    assert analyzer.keep_contexts(lines) == 2  # blank and repeated lines are skipped
    assert set(component._contexts) == {lines[0], lines[1]}
    assert analyzer.keep_contexts(lines) == 0  # nothing is redone
    ahead = analyzer.analyze(message, lines[0])
    for label in LABELS:
        assert abs(in_turn.scores[label] - ahead.scores[label]) < 1e-6
    assert in_turn.labels == ahead.labels


@pytest.mark.parametrize("blank", ["", "   ", "\n\t "])
def test_empty_text_has_no_labels(analyzer, blank):
    a = analyzer.analyze(blank)
    assert a.labels == frozenset() and a.evidence == ()
    assert set(a.scores) == set(LABELS)


@pytest.mark.parametrize("bad", [None, 42, b"bytes", ["a list"]])
def test_non_string_raises_type_error(analyzer, bad):
    with pytest.raises(TypeError, match=type(bad).__name__):
        analyzer.analyze(bad)


def test_non_string_context_raises_type_error(analyzer):
    with pytest.raises(TypeError, match="context"):
        analyzer.analyze("Go on.", 3)


def test_over_long_text_raises_value_error_naming_the_limit(analyzer):
    with pytest.raises(ValueError, match=str(MAX_TEXT_CHARS)):
        analyzer.analyze("a" * (MAX_TEXT_CHARS + 1))
    assert analyzer.analyze("word " * (MAX_TEXT_CHARS // 5)).scores  # at the limit: fine


def test_long_context_is_accepted(analyzer):
    a = analyzer.analyze("Go on.", "It was late. " * 1000)
    assert "encourager" in a.labels


@pytest.mark.parametrize(
    "text",
    ["😀😀😀", "مرحبا، كيف حالك؟", "שלום", "a\x00b\x00c", "\u202eevil\u202c?", "\x07\x1b[31mred",
     "漢字だけの文です。", "\ufeff\u200b", "?" * 500, "why " * 400],
)
def test_any_unicode_works(analyzer, text):
    a = analyzer.analyze(text)
    for e in a.evidence:
        assert text[e.start : e.end] == e.text


def test_spacy_component_in_a_users_pipeline():
    nlp = spacy.load(SPACY_PIPELINE, exclude=["ner"])
    nlp.add_pipe(COMPONENT)
    doc = nlp.make_doc("Why did you take it?")
    doc._.rjcoach_context = "I took the bike."
    doc = nlp(doc)
    assert {"why_question", "open_question"} <= doc._.rjcoach.labels
    docs = list(nlp.pipe(["Mm-hmm.", "You're a vandal."]))
    assert "encourager" in docs[0]._.rjcoach.labels
    assert "labeling" in docs[1]._.rjcoach.labels


def test_logits_can_give_the_features_the_head_reads(analyzer):
    import torch

    texts = ["So the bike was the one thing you'd bought yourself.", "Why did you take it?"]
    contexts = ["I saved for a year for that bike.", None]
    logits = analyzer.logits(texts, contexts)
    x = analyzer.logits(texts, contexts, features=True)
    assert x.shape == (2, analyzer.component.model.head.in_features)
    with torch.inference_mode():
        again = analyzer.component.model.head(torch.from_numpy(x).float()).numpy()
    assert np.allclose(again, logits, atol=1e-4)
    assert analyzer.logits([], []).shape == (0, 17)
    assert analyzer.logits([], [], features=True).shape == (0, x.shape[1])
