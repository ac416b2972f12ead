"""The `rjcoach` command line."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rjcoach.labels import FAMILY_OF

_COLOURS = {"listening": "34", "empathy": "32", "restorative": "36", "accusatory": "31", "other": "33"}


def highlight(text: str, evidence, colour: bool) -> str:
    """Mark evidence spans: ANSI colour by family on a terminal, [[...]] otherwise."""
    from rjcoach.analysis import segments

    out = []
    for piece, fam in segments(text, [(e.start, e.end, e.label) for e in evidence]):
        if fam is None:
            out.append(piece)
        else:
            out.append(f"\x1b[1;{_COLOURS[fam]}m{piece}\x1b[0m" if colour else f"[[{piece}]]")
    return "".join(out)


def cmd_analyze(args) -> int:
    from rjcoach.analyzer import analyze

    result = analyze(args.text, args.context)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return 0
    print(highlight(result.text, result.evidence, sys.stdout.isatty()))
    print()
    if not result.labels:
        print("labels: none")
    for label, score in sorted(result.scores.items(), key=lambda kv: -kv[1]):
        if label in result.labels or score >= 0.2:
            mark = "*" if label in result.labels else " "
            spans = "; ".join(repr(e.text) for e in result.evidence_for(label))
            print(f" {mark} {label:22s} {score:5.2f}  {FAMILY_OF[label]:11s} {spans}")
    return 0


def cmd_evaluate(args) -> int:
    from rjcoach import evaluation

    if args.esconv_ceiling:
        try:
            report = evaluation.esconv_ceiling(limit=args.limit)
        except (ValueError, FileNotFoundError) as exc:
            print(f"rjcoach evaluate: {exc}", file=sys.stderr)
            return 2
        print(json.dumps(report, indent=2) if args.json else evaluation.format_ceiling(report))
        return 0
    if args.suite:
        suite = evaluation.evaluate_suite(limit=args.limit, progress=not args.json)
        if args.write:
            from rjcoach.model import model_dir_from_env

            path = model_dir_from_env() / "metrics.json"
            path.write_text(json.dumps(suite, indent=2) + "\n")
            card = model_dir_from_env().parent / "MODEL_CARD.md"
            if card.is_file():
                evaluation.update_card(card, suite)
            print(f"wrote {path} and the metrics block of {card}", file=sys.stderr)
        print(json.dumps(suite, indent=2) if args.json else evaluation.format_suite(suite))
        return 0
    if not args.file:
        print("rjcoach evaluate: give FILE.jsonl or --suite", file=sys.stderr)
        return 2
    try:
        report = evaluation.evaluate_file(Path(args.file), progress=not args.json)
    except (ValueError, FileNotFoundError) as exc:
        print(f"rjcoach evaluate: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2) if args.json else evaluation.format_report(report))
    return 0


def cmd_train(args) -> int:
    from rjcoach.model import model_dir_from_env
    from rjcoach.training import TrainSettings, train

    settings = TrainSettings(
        sources=tuple(s.strip() for s in args.sources.split(",") if s.strip()),
        epochs=args.epochs,
        seed=args.seed,
        limit=args.limit,
        tuned_layers=args.tuned_layers,
    )
    out = Path(args.out) if args.out else model_dir_from_env()
    try:
        if args.recalibrate:
            from rjcoach.training import calibrate

            calibrate(out, settings.sources)
            print(f"recalibrated {out}")
            return 0
        train(settings, out)
    except (ValueError, FileNotFoundError) as exc:
        print(f"rjcoach train: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_bench(args) -> int:
    from rjcoach.bench import run_bench

    run_bench(n_single=args.n, n_batch=args.batch_n)
    if not args.skip_turns:
        from rjcoach.bench import run_turn_bench

        run_turn_bench(sessions=args.sessions, runs=args.runs)
    return 0


def cmd_data(args) -> int:
    from rjcoach import dataset
    from rjcoach.sources import INDOMAIN_DIR

    files = args.files or [str(p) for p in sorted(INDOMAIN_DIR.glob("*.jsonl"))]
    return dataset.main(["check", *files])


def cmd_persona_validate(args) -> int:
    from rjcoach.persona_loader import PERSONA_DIR, load_folder

    paths = [Path(p).resolve() for p in args.paths] or [PERSONA_DIR]
    files: set[Path] = set()
    for p in paths:
        files |= set(p.glob("*.y*ml")) if p.is_dir() else {p}
    folder = paths[0] if len(paths) == 1 and paths[0].is_dir() else PERSONA_DIR
    # Scenarios and personas refer to each other: load the whole folder, report the named files.
    lib = load_folder(folder, sorted(files | set(folder.glob("*.y*ml"))))
    wanted = {str(f) for f in files}
    errors = [e for e in lib.errors if e.file in wanted]
    for e in errors:
        print(e)
    bad = {e.file for e in errors}
    print(f"{len(files)} files: {len(wanted - bad)} valid, {len(bad)} with problems ({len(errors)} problems)")
    return 1 if errors else 0


def cmd_serve(args) -> int:
    from rjcoach.webapp import serve

    serve(args.host, args.port)
    return 0


def cmd_user_add(args) -> int:
    import getpass

    from rjcoach.auth import AuthError, add_user
    from rjcoach.store import Store

    password = args.password_stdin and sys.stdin.readline().rstrip("\n") or None
    if password is None:
        password = getpass.getpass(f"password for {args.username}: ")
        if getpass.getpass("again: ") != password:
            print("rjcoach user add: the two passwords differ", file=sys.stderr)
            return 2
    try:
        user = add_user(Store(), args.username, password, args.role)
    except AuthError as exc:
        print(f"rjcoach user add: {exc}", file=sys.stderr)
        return 2
    print(f"created {user.role} {user.username!r}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from rjcoach.sources import DEFAULT_SOURCES

    parser = argparse.ArgumentParser(prog="rjcoach", description="Practice coach for restorative-justice dialogue.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("analyze", help="code one utterance against the rubric")
    p.add_argument("text")
    p.add_argument("--context", help="what the other person said just before")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("evaluate", help="precision, recall and F1 per label on a labelled JSONL file")
    p.add_argument("file", nargs="?", help='JSON lines of {"text", "context", "labels"}')
    p.add_argument("--suite", action="store_true", help="in-domain test split + public validation sets")
    p.add_argument("--write", action="store_true", help="with --suite: write models/analyser/metrics.json")
    p.add_argument("--limit", type=int, help="with --suite or --esconv-ceiling: at most N utterances per set")
    p.add_argument("--esconv-ceiling", action="store_true",
                   help="how far ESConv's four tasks go under rubric rule 1, and for a head fitted to ESConv "
                        "on this model's features (docs/data-sources.md)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("train", help="rebuild the classifier from the data (seeded, CPU)")
    p.add_argument("--sources", default=",".join(DEFAULT_SOURCES),
                   help="comma-separated: indomain, annomi, esconv, epitome, corrections (default: all; corrections "
                        "only when data/corrections or RJCOACH_CORRECTIONS_DIR holds files)")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--limit", type=int, help="at most N examples per source (quick runs)")
    p.add_argument("--tuned-layers", type=int, default=3, help="top encoder layers to fine-tune (0-6)")
    p.add_argument("--recalibrate", action="store_true",
                   help="keep the trained weights in --out, refit only calibration and thresholds")
    p.add_argument("--out", help="output folder (default: models/analyser)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("bench", help="speed and memory beside a RoBERTa-base reference")
    p.add_argument("--n", type=int, default=200, help="single-utterance calls to time")
    p.add_argument("--batch-n", type=int, default=512, help="utterances for the batch throughput")
    p.add_argument("--sessions", type=int, default=10, help="concurrent practice sessions for the turn cost")
    p.add_argument("--runs", type=int, default=3, help="times each multi-session turn mode runs (its p95 is their median)")
    p.add_argument("--skip-turns", action="store_true", help="only the analyser figures")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("persona", help="persona and scenario files")
    psub = p.add_subparsers(dest="persona_command", required=True)
    pv = psub.add_parser("validate", help="report every problem in persona/scenario files")
    pv.add_argument("paths", nargs="*", help="files or folders (default: personas/)")
    pv.set_defaults(func=cmd_persona_validate)
    from rjcoach import persona_cli
    from rjcoach.persona_schema import ROLES

    pn = psub.add_parser("new", help="write a valid persona skeleton to fill in")
    pn.add_argument("--role", required=True, choices=ROLES)
    pn.add_argument("--scenario", required=True)
    pn.add_argument("--id")
    pn.add_argument("--name")
    pn.add_argument("--out", help="folder (default: personas/)")
    pn.set_defaults(func=persona_cli.cmd_new)
    pt = psub.add_parser("try", help="chat with a persona in the terminal, showing its state")
    pt.add_argument("id")
    pt.add_argument("--seed", type=int, default=0)
    pt.set_defaults(func=persona_cli.cmd_try)

    import os

    p = sub.add_parser("serve", help="start the practice app in the browser")
    p.add_argument("--host", default=os.environ.get("RJCOACH_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("RJCOACH_PORT", "7860")))
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("user", help="accounts")
    usub = p.add_subparsers(dest="user_command", required=True)
    ua = usub.add_parser("add", help="create an account (asks for the password)")
    ua.add_argument("username")
    ua.add_argument("--role", required=True, choices=["trainee", "instructor", "admin"])
    ua.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    ua.set_defaults(func=cmd_user_add)

    from rjcoach import export, loadtest, review_cli

    review_cli.register(sub)
    export.register_cli(sub)
    loadtest.register_cli(sub)

    p = sub.add_parser("data", help="check the labelled utterance files")
    p.add_argument("action", choices=["check"])
    p.add_argument("files", nargs="*")
    p.set_defaults(func=cmd_data)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
