"""`rjcoach cohort ...` and `rjcoach review ...`: cohorts, session lists and progress from a terminal.

The command line runs on the agency's machine with direct access to the database, so it acts
with an administrator's rights; the same functions in rjcoach.review decide what happens.
"""
from __future__ import annotations

import argparse
import json
import sys

from rjcoach.review import CLI_ADMIN


def _store(args):
    from rjcoach.store import Store

    return Store(getattr(args, "database_url", None))


def _fail(cmd: str, exc: Exception) -> int:
    print(f"rjcoach {cmd}: {exc}", file=sys.stderr)
    return 2


def cmd_cohort_create(args) -> int:
    from rjcoach.review import AccessDenied, ReviewError, create_cohort

    try:
        create_cohort(_store(args), CLI_ADMIN, args.name)
    except (ReviewError, AccessDenied) as exc:
        return _fail("cohort create", exc)
    print(f"created cohort {args.name!r}")
    return 0


def cmd_cohort_members(args) -> int:
    from rjcoach.review import AccessDenied, ReviewError, assign, unassign

    store, change = _store(args), assign if args.cohort_command == "add" else unassign
    failed = 0
    for username in args.usernames:
        try:
            changed = change(store, CLI_ADMIN, args.name, username)
        except (ReviewError, AccessDenied) as exc:
            print(f"rjcoach cohort {args.cohort_command}: {exc}", file=sys.stderr)
            failed += 1
            continue
        verb = "added to" if args.cohort_command == "add" else "removed from"
        print(f"{username} {verb} {args.name}" if changed else f"{username}: no change")
    return 2 if failed else 0


def cmd_cohort_list(args) -> int:
    store = _store(args)
    cohorts = store.cohorts()
    if not cohorts:
        print("no cohorts yet: rjcoach cohort create NAME")
    for c in cohorts:
        members = store.members(c.id)
        trainees = [u.username for u in members if u.role == "trainee"]
        instructors = [u.username for u in members if u.role == "instructor"]
        print(f"{c.name}: instructors {', '.join(instructors) or '-'}; trainees {', '.join(trainees) or '-'}")
    return 0


def _pct(v):
    return "  n/a" if v is None else f"{v * 100:4.0f}%"


def cmd_review_list(args) -> int:
    from dataclasses import asdict

    from rjcoach.review import Filters, ReviewError, list_sessions

    try:
        rows = list_sessions(_store(args), CLI_ADMIN,
                             Filters(trainee=args.trainee, cohort=args.cohort, scenario=args.scenario), args.sort)
    except ReviewError as exc:
        return _fail("review list", exc)
    if args.json:
        print(json.dumps([asdict(r) for r in rows], default=str, indent=1))
        return 0
    print(f"{'started':16s} {'trainee':12s} {'scenario':22s} {'level':10s} {'msgs':>4s} {'R:Q':>5s} {'open':>5s} "
          f"{'accus':>5s} {'rated':>5s}  id")
    for r in rows:
        rq = "  n/a" if r.rq_ratio is None else f"{r.rq_ratio:5.2f}"
        print(f"{r.created_at:%Y-%m-%d %H:%M} {r.trainee[:12]:12s} {r.scenario[:22]:22s} "
              f"{r.level:10s} {r.messages:4d} {rq} {_pct(r.open_share)} {r.accusatory:5d} {r.rating or '-':>5}  {r.id}")
    return 0


def cmd_review_progress(args) -> int:
    from rjcoach.progress import METRICS, cohort_html, cohort_progress, fmt_metric, trainee_html, trainee_progress
    from rjcoach.review import AccessDenied

    store = _store(args)
    try:
        if args.cohort:
            c = cohort_progress(store, CLI_ADMIN, args.cohort)
            html = cohort_html(c)
            print(f"cohort {c.name}: {len(c.trainees)} trainee(s)")
            for k, (title, *_rest) in METRICS.items():
                (f, nf), (l, nl) = c.first[k], c.latest[k]
                print(f"  {title:45s} first {fmt_metric(k, f)} (n={nf})  latest {fmt_metric(k, l)} (n={nl})")
            trips = c.trips
        else:
            p = trainee_progress(store, CLI_ADMIN, args.trainee)
            html = trainee_html(p)
            print(f"{p.username}: {len(p.points)} session(s), {p.messages} message(s)")
            if p.points:
                for k, (title, *_rest) in METRICS.items():
                    print(f"  {title:45s} first {fmt_metric(k, p.first.values[k])}  latest {fmt_metric(k, p.latest.values[k])}")
            trips = p.trips
    except AccessDenied as exc:
        return _fail("review progress", exc)
    print("  trips on most: " + (", ".join(f"{label} ({n})" for label, n in trips[:5]) or "nothing flagged"))
    if args.html:
        from pathlib import Path

        Path(args.html).write_text(f"<!doctype html><meta charset='utf-8'><title>rjcoach progress</title>{html}",
                                   encoding="utf-8")
        print(f"wrote {args.html}")
    return 0


def register(sub) -> None:
    """Add `cohort` and `review` to the top-level sub-commands."""
    from rjcoach.review import SORTS

    db = argparse.ArgumentParser(add_help=False)
    db.add_argument("--database-url", help="SQLAlchemy URL (default: RJCOACH_DATABASE_URL or the SQLite file)")

    p = sub.add_parser("cohort", help="cohorts of trainees and their instructors")
    csub = p.add_subparsers(dest="cohort_command", required=True)
    c = csub.add_parser("create", parents=[db], help="create a cohort")
    c.add_argument("name")
    c.set_defaults(func=cmd_cohort_create)
    for name, text in (("add", "put trainees (or instructors) in a cohort"), ("remove", "take users out of a cohort")):
        c = csub.add_parser(name, parents=[db], help=text)
        c.add_argument("name")
        c.add_argument("usernames", nargs="+")
        c.set_defaults(func=cmd_cohort_members)
    c = csub.add_parser("list", parents=[db], help="cohorts and their members")
    c.set_defaults(func=cmd_cohort_list)

    p = sub.add_parser("review", help="review sessions: list, progress, import transcripts")
    rsub = p.add_subparsers(dest="review_command", required=True)
    r = rsub.add_parser("list", parents=[db], help="sessions with their metrics")
    r.add_argument("--trainee")
    r.add_argument("--cohort")
    r.add_argument("--scenario")
    r.add_argument("--sort", default="newest", choices=list(SORTS))
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=cmd_review_list)
    r = rsub.add_parser("progress", parents=[db], help="a trainee's or a cohort's metrics over time")
    who = r.add_mutually_exclusive_group(required=True)
    who.add_argument("--trainee")
    who.add_argument("--cohort")
    r.add_argument("--html", help="also write the plots to this HTML file")
    r.set_defaults(func=cmd_review_progress)
    from rjcoach import transcripts

    transcripts.register_cli(rsub)
