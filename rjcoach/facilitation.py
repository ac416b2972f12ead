"""Coaching for facilitation: everyone heard, neutrality, questions that fit the stage, summarising
before moving on, and a concrete agreement. Pure, like the coach: the record in, tips and metrics out.

Decisions (written in docs/facilitation.md):
- A *speaking share* is a participant's share of the words the participants said; *balance* is the
  smallest share times the number of participants (1 = everyone said as much, 0 = someone silent).
- A question *fits the stage* when it is put to someone whose voice the stage is for (the
  responsible party's account: the responsible party, and so on); the opening, what needs to
  happen and agreement stages are everyone's, so every question fits there. Questions to the whole
  group fit every stage.
- *Summarised before moving on*: one of the last two facilitator messages before a stage change
  carries the rubric's ``summary`` label.
- *Neutral*: no accusatory label in any facilitator message, toward either side; each one is
  counted against the side of the person it was said to.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

from rjcoach.analysis import Analysis
from rjcoach.coach import Tip
from rjcoach.labels import ACCUSATORY

QUESTIONS = frozenset({"open_question", "closed_question", "restorative_question"})
UNHEARD_AFTER = 6
"""After this many facilitator messages, someone who has not spoken yet gets a tip."""
SUMMARY_NUDGE_AFTER = 4
"""Messages in one stage after which the coach suggests a summary before moving on."""
GROUND_RULES = re.compile(r"\b(ground rules?|one at a time|one person at a time|talking piece|respect|interrupt|"
                          r"take turns?|in turn|listen to each other|confidential|no one has to|pass if)\b", re.I)


@dataclass(frozen=True)
class StageView:
    """What the live coach needs to know about the room at this message."""

    stage: str
    stage_title: str
    speakers: frozenset[str] | None  # roles whose voice the stage is for (None: everyone's)
    addressed_role: str | None  # None: the whole group
    addressed_name: str
    stage_names: tuple[str, ...]  # first names of the people the stage is for
    unheard: tuple[str, ...]  # first names of people who have not spoken at all
    messages_in_stage: int
    summarised_in_stage: bool
    facilitator_messages: int


def fits_stage(speakers: frozenset[str] | None, addressed_role: str | None) -> bool:
    return speakers is None or addressed_role is None or addressed_role in speakers


def facilitation_tip(analysis: Analysis, view: StageView) -> Tip | None:
    """One facilitation tip for a message that carries no accusatory label (the coach's own tip
    comes first for those), or None."""
    labels = analysis.labels
    if labels & ACCUSATORY:
        return None
    if view.stage == "opening" and view.messages_in_stage == 1 and not GROUND_RULES.search(analysis.text):
        return Tip("facilitation", "Open by saying how this will go: everyone will be heard, one at a time, "
                                   "and anyone can pause. Ground rules make the room safe to speak in.")
    if labels & QUESTIONS and not fits_stage(view.speakers, view.addressed_role):
        who = " and ".join(view.stage_names) or "someone else"
        return Tip("facilitation", f"This stage is {view.stage_title.lower()}: the question fits {who}. "
                                   f"{view.addressed_name} will have their turn; keep to the order so each "
                                   "voice is heard in full.", analysis.text.strip()[:120] or None)
    if view.unheard and view.facilitator_messages >= UNHEARD_AFTER:
        names = ", ".join(view.unheard)
        return Tip("facilitation", f"{names} {'has' if len(view.unheard) == 1 else 'have'} not spoken yet. "
                                   "Everyone in the room should be heard: invite them by name.")
    if (view.messages_in_stage >= SUMMARY_NUDGE_AFTER and not view.summarised_in_stage
            and "summary" not in labels):
        return Tip("facilitation", "Before you move on, sum up what you have heard in this stage "
                                   "(\u201cSo what I'm hearing is...\u201d): people know they were heard, "
                                   "and the group hears it together.")
    return None


def neutrality_note(addressed_name: str) -> str:
    return (f"As facilitator you are the neutral person in the room: blaming {addressed_name} in front of the "
            "others takes a side, and their supporters will close up too.")


def move_on_tip(stage_title: str, recent_labels: Sequence[frozenset[str]], lead_unheard: Sequence[str]) -> Tip | None:
    """Said when the facilitator moves to the next stage: a summary first, and the stage's own voices."""
    if lead_unheard:
        return Tip("facilitation", f"You moved on from {stage_title.lower()} before "
                                   f"{' and '.join(lead_unheard)} had spoken in it.")
    if not any("summary" in labels for labels in recent_labels[-2:]):
        return Tip("facilitation", f"You moved on from {stage_title.lower()} without a summary. Next time, "
                                   "sum up what was said before moving on.")
    return None


@dataclass
class Facilitation:
    """The facilitation figures of a multi-party session (from the stored record)."""

    participants: dict[str, str]  # persona id -> name
    lines: dict[str, int]
    words: dict[str, int]
    stages: list[dict]  # per stage visited: id, title, messages, speakers heard, questions, fitting, summarised
    moves: int  # stage changes
    moves_summarised: int
    questions_to_someone: int
    questions_fitting: int
    accusatory_by_side: dict[str, int]
    agreed: list[str]
    agreement_required: int
    ground_rules: bool
    apologies: list[dict] = field(default_factory=list)

    @property
    def shares(self) -> dict[str, float]:
        total = sum(self.words.values())
        return {p: (self.words.get(p, 0) / total if total else 0.0) for p in self.participants}

    @property
    def balance(self) -> float:
        shares = self.shares
        return min(shares.values()) * len(shares) if shares else 0.0

    @property
    def everyone_heard(self) -> bool:
        return all(self.lines.get(p, 0) > 0 for p in self.participants)

    @property
    def summarised_share(self) -> float | None:
        return self.moves_summarised / self.moves if self.moves else None

    @property
    def stage_fit_share(self) -> float | None:
        return self.questions_fitting / self.questions_to_someone if self.questions_to_someone else None

    @property
    def neutral(self) -> bool:
        return not any(self.accusatory_by_side.values())

    @property
    def agreement_reached(self) -> bool:
        return len(self.agreed) >= self.agreement_required

    @property
    def stages_reached(self) -> int:
        return len(self.stages)

    def to_dict(self) -> dict:
        return {"participants": self.participants, "lines": self.lines, "words": self.words,
                "shares": {p: round(v, 4) for p, v in self.shares.items()}, "balance": round(self.balance, 4),
                "everyone_heard": self.everyone_heard, "stages": self.stages, "moves": self.moves,
                "moves_summarised": self.moves_summarised, "summarised_share": self.summarised_share,
                "questions_to_someone": self.questions_to_someone, "questions_fitting": self.questions_fitting,
                "stage_fit_share": self.stage_fit_share, "accusatory_by_side": self.accusatory_by_side,
                "neutral": self.neutral, "agreed": self.agreed, "agreement_required": self.agreement_required,
                "agreement_reached": self.agreement_reached, "ground_rules": self.ground_rules,
                "apologies": self.apologies}


def facilitation(turns: Sequence, participants: dict[str, str], roles: dict[str, str], sides: dict[str, str],
                 stage_titles: dict[str, str], stage_speakers: dict[str, frozenset[str] | None],
                 agreement_required: int) -> Facilitation:
    """The figures from stored turns (not taken back), each with ``trainee_text``, ``analysis`` and the
    group record in ``persona`` (stage, to, utterances, agreed)."""
    lines = {p: 0 for p in participants}
    words = {p: 0 for p in participants}
    stages: list[dict] = []
    moves = summarised = asked = fitting = 0
    by_side = {"harmed": 0, "responsible": 0, "neutral": 0, "everyone": 0}
    agreed: list[str] = []
    ground_rules = False
    apologies = []
    prev_stage, recent = None, []
    for t in turns:
        g = t.persona
        labels = frozenset(t.analysis.get("labels", []))
        stage = g.get("stage", "")
        if stage != prev_stage:
            if prev_stage is not None:
                moves += 1
                summarised += any("summary" in ls for ls in recent[-2:])
            stages.append({"id": stage, "title": stage_titles.get(stage, stage), "messages": 0, "heard": [],
                           "questions": 0, "fitting": 0, "restorative": 0, "summarised": False})
            prev_stage, recent = stage, []
        cur = stages[-1]
        cur["messages"] += 1
        recent.append(labels)
        cur["summarised"] = cur["summarised"] or "summary" in labels
        cur["restorative"] += "restorative_question" in labels
        to = g.get("to")
        role = roles.get(to) if to in roles else None
        if stage == "opening" and GROUND_RULES.search(t.trainee_text or ""):
            ground_rules = True
        if labels & QUESTIONS:
            cur["questions"] += 1
            if role is not None:
                asked += 1
                ok = fits_stage(stage_speakers.get(stage), role)
                fitting += ok
                cur["fitting"] += ok
            else:
                cur["fitting"] += 1
        if labels & ACCUSATORY:
            by_side[sides.get(to, "everyone") if to in sides else "everyone"] += 1
        for u in g.get("utterances", []):
            pid = u.get("persona_id")
            if pid in lines:
                lines[pid] += 1
                words[pid] += len(str(u.get("text", "")).split())
                if pid not in cur["heard"]:
                    cur["heard"].append(pid)
            if u.get("kind") == "apology":
                apologies.append({"position": t.position, "text": u.get("text"), "verdict": u.get("verdict"),
                                  "wording": u.get("wording")})
            if u.get("kind") == "apology_response" and apologies:
                apologies[-1]["answer"] = u.get("verdict")
        agreed = list(g.get("agreed", agreed))
    return Facilitation(participants, lines, words, stages, moves, summarised, asked, fitting, by_side, agreed,
                        agreement_required, ground_rules, apologies)
