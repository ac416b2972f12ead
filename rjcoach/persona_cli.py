"""`rjcoach persona new` (a valid skeleton to fill in) and `rjcoach persona try` (chat in the terminal)."""
from __future__ import annotations

import re
import sys
from pathlib import Path

from rjcoach.persona_schema import ROLES, TOPICS

_REACTIONS = ("accusation", "labeling", "victim_blaming", "threat", "minimizing", "why_question", "generalization")


def skeleton(persona_id: str, name: str, role: str, scenario: str) -> str:
    """YAML text of a persona that validates, with every line to rewrite marked TODO."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if not re.fullmatch(r"[a-z][a-z0-9_]{1,48}", persona_id):
        raise ValueError(f"id must be lower case letters, digits and _ (2-49 characters), got {persona_id!r}")
    lines = [
        f"# Persona skeleton written by `rjcoach persona new`. Replace every TODO; see personas/README.md.",
        "schema_version: 1",
        "kind: persona",
        f"id: {persona_id}",
        f"name: {name}",
        "age: 30",
        f"role: {role}",
        f"scenario: {scenario}",
        "difficulty: 2",
        "background: TODO who they are, in two or three sentences.",
        "voice:",
        "  style: TODO how they talk (register, pace, manner).",
        "  temperament: guarded",
        "  phrases: []",
        "knows:",
        "  - TODO what they know about the incident.",
        "feels:",
        "  - TODO what they feel about it.",
        "needs:",
        "  - TODO what they need to make things right.",
        "start:",
        "  trust: 0.3",
        "  distress: 0.5",
        "  defensiveness: 0.5",
        "sensitivity:",
        "  listening: 1.0",
        "  empathy: 1.0",
        "  restorative: 1.0",
        "  accusatory: 1.0",
        "  interrogation: 1.0",
        "topics:",
    ]
    for topic in TOPICS:
        words = topic.replace("_", " ")
        lines += [
            f"  {topic}:",
            "    prompts:",
            f"      - TODO a trainee question about {words}",
            f"      - TODO another way a trainee might raise {words}",
            "    guarded:",
            f"      - TODO a short, guarded reply about {words}",
            f"      - TODO another guarded reply about {words}",
            "    open:",
            f"      - TODO an open, specific reply about {words}",
            f"      - TODO another open reply about {words}",
        ]
    lines += [
        "disclosures:",
        f"  - id: {persona_id}_first_disclosure",
        "    topics: [impact, feelings]",
        "    min_trust: 0.6",
        "    emotion: neutral",
        "    text: TODO something they only say once they trust the trainee.",
        "reactions:",
    ]
    for label in _REACTIONS:
        words = label.replace("_", " ")
        lines += [f"  {label}:", f"    - TODO how they answer {words}", f"    - TODO another answer to {words}"]
    return "\n".join(lines) + "\n"


def cmd_new(args) -> int:
    from rjcoach.persona_loader import PERSONA_DIR, load_folder

    folder = Path(args.out) if args.out else PERSONA_DIR
    if not folder.is_dir():
        print(f"rjcoach persona new: folder {folder} does not exist", file=sys.stderr)
        return 2
    lib = load_folder(folder)
    if args.scenario not in lib.scenarios:
        known = ", ".join(sorted(lib.scenarios)) or "none"
        print(f"rjcoach persona new: scenario {args.scenario!r} does not exist in {folder} (known: {known})", file=sys.stderr)
        return 2
    persona_id = args.id or f"new_{args.role}_{args.scenario}"[:49]
    path = folder / f"{persona_id}.yml"
    if path.exists() or persona_id in lib.personas:
        print(f"rjcoach persona new: {path} or id {persona_id!r} already exists; choose another --id", file=sys.stderr)
        return 2
    try:
        text = skeleton(persona_id, args.name or "TODO Name", args.role, args.scenario)
    except ValueError as exc:
        print(f"rjcoach persona new: {exc}", file=sys.stderr)
        return 2
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}; fill in every TODO, add it to the scenario's roster, then run `rjcoach persona validate`")
    return 0


def cmd_try(args) -> int:
    from rjcoach.analysis import MAX_TEXT_CHARS
    from rjcoach.rehearsal import Rehearsal
    from rjcoach.persona_loader import load_folder

    lib = load_folder()
    for err in lib.errors:
        print(f"(skipped) {err}", file=sys.stderr)
    if args.id not in lib.personas:
        print(f"rjcoach persona try: no valid persona {args.id!r}; valid ids: {', '.join(sorted(lib.personas))}", file=sys.stderr)
        return 2
    persona = lib.personas[args.id]
    rehearsal = Rehearsal(persona, seed=args.seed)
    s = rehearsal.agent.state
    print(f"{persona.name}, {persona.age} ({persona.role}, {persona.scenario}). Type to talk; an empty line or Ctrl-D ends.")
    print(f"  state: trust {s.trust:.2f}  distress {s.distress:.2f}  defensiveness {s.defensiveness:.2f}")
    while True:
        try:
            line = input("you> ")
        except EOFError:
            break
        if not line.strip():
            break
        if len(line) > MAX_TEXT_CHARS:
            print(f"  (too long: at most {MAX_TEXT_CHARS} characters; nothing was sent)")
            continue
        analysis, turn = rehearsal.turn(line)
        s = turn.state
        print(f"{persona.name.split()[0]}> {turn.text}")
        tags = f"emotion {turn.emotion}" + (f", disclosure {turn.disclosure}" if turn.disclosure else "")
        print(f"  labels: {', '.join(sorted(analysis.labels)) or 'none'}  [{turn.variant}: {turn.topic}; {tags}]")
        print(f"  state: trust {s.trust:.2f}  distress {s.distress:.2f}  defensiveness {s.defensiveness:.2f}")
    return 0
