"""The store: the only part of rjcoach that writes. SQLite file by default, any SQLAlchemy URL.

Every turn is committed as it happens, so a crash or restart loses nothing already said. The
schema is managed by Alembic migrations (``rjcoach/migrations``), applied on start.
"""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, create_engine, event, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

REPO_ROOT = Path(__file__).resolve().parent.parent
ROLES = ("trainee", "instructor", "admin")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(dt: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were stored as UTC."""
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def default_url() -> str:
    """RJCOACH_DATABASE_URL, else a SQLite file in RJCOACH_DATA_DIR (default ./data/runs)."""
    url = os.environ.get("RJCOACH_DATABASE_URL")
    if url:
        return url
    data_dir = Path(os.environ.get("RJCOACH_DATA_DIR", REPO_ROOT / "data" / "runs"))
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{data_dir / 'rjcoach.sqlite3'}"


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PracticeSessionRow(Base):
    __tablename__ = "practice_sessions"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    scenario_id: Mapped[str] = mapped_column(String(64))
    persona_id: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(16))
    seed: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    source: Mapped[str] = mapped_column(String(16), default="app")  # "app" or "import"
    external_ref: Mapped[str | None] = mapped_column(String(128), nullable=True, unique=True)  # import key
    title: Mapped[str | None] = mapped_column(String(255), nullable=True)  # an imported file's name
    assessment_id: Mapped[int | None] = mapped_column(ForeignKey("assessments.id"), nullable=True)


class TurnRow(Base):
    __tablename__ = "turns"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("practice_sessions.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # order within the session, rewound turns included
    trainee_text: Mapped[str] = mapped_column(Text)
    analysis: Mapped[dict] = mapped_column(JSON)
    feedback: Mapped[dict] = mapped_column(JSON)
    persona_text: Mapped[str] = mapped_column(Text)
    persona: Mapped[dict] = mapped_column(JSON)  # tags and state after the turn
    rewound: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Cohort(Base):
    __tablename__ = "cohorts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CohortMember(Base):
    """Trainees and instructors of a cohort (what they are is their account's role)."""
    __tablename__ = "cohort_members"
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)


class FlagCorrection(Base):
    """An instructor's verdict on one label of one message, kept beside the model's output."""
    __tablename__ = "flag_corrections"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    turn_id: Mapped[int] = mapped_column(ForeignKey("turns.id"), index=True)
    label: Mapped[str] = mapped_column(String(32))
    verdict: Mapped[str] = mapped_column(String(8))  # confirm / reject / add
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Comment(Base):
    __tablename__ = "comments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("practice_sessions.id"), index=True)
    turn_id: Mapped[int | None] = mapped_column(ForeignKey("turns.id"), nullable=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SessionReview(Base):
    __tablename__ = "session_reviews"
    session_id: Mapped[str] = mapped_column(ForeignKey("practice_sessions.id"), primary_key=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    rating: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Assessment(Base):
    """A certification assessment: fixed scenario, person and seed, and pass criteria."""
    __tablename__ = "assessments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    scenario_id: Mapped[str] = mapped_column(String(64))
    persona_id: Mapped[str] = mapped_column(String(64))
    seed: Mapped[int] = mapped_column(Integer)
    criteria: Mapped[list] = mapped_column(JSON)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class AssessmentResult(Base):
    """The filed result of one attempt, as decided when it ended."""
    __tablename__ = "assessment_results"
    session_id: Mapped[str] = mapped_column(ForeignKey("practice_sessions.id"), primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id"), index=True)
    passed: Mapped[bool] = mapped_column(Boolean)
    result: Mapped[dict] = mapped_column(JSON)
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


@dataclass(frozen=True)
class StoredTurn:
    id: int
    position: int
    trainee_text: str
    analysis: dict
    feedback: dict
    persona_text: str
    persona: dict
    rewound: bool


POOL_SIZE = 16
"""Pooled database connections kept open: more than the app's concurrent turns (a connection beyond
the pool is opened, set up and closed for each use)."""


def _pool_settings(url: str) -> dict:
    if url in ("sqlite://", "sqlite:///:memory:"):  # one connection per thread: no pool to size
        return {}
    # a server can drop a connection; a local SQLite file cannot, so it needs no ping
    return {"pool_size": POOL_SIZE, "max_overflow": POOL_SIZE, "pool_pre_ping": not url.startswith("sqlite")}


class StoreError(RuntimeError):
    """The database could not be written or read; the message is safe to show a trainee."""


class Store:
    def __init__(self, url: str | None = None, migrate: bool = True) -> None:
        self.url = url or default_url()
        self.engine = create_engine(self.url, future=True, **_pool_settings(self.url))
        if self.engine.dialect.name == "sqlite":
            @event.listens_for(self.engine, "connect")
            def _sqlite_pragmas(conn, _record):  # durable writes, concurrent readers
                cur = conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=FULL")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.close()
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if migrate:
            self.migrate()

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema to an Alembic revision, the newest by default (creates it on an empty database)."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        cfg.attributes["connection_url"] = self.url
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)

    def _write(self, fn):
        try:
            with self._sessions.begin() as db:
                return fn(db)
        except StoreError:
            raise
        except Exception as exc:  # OperationalError (disk full, read-only), IntegrityError, ...
            raise StoreError(f"could not save to the database ({type(exc).__name__}); nothing already saved was changed") from exc

    # users ---------------------------------------------------------------------------------------
    def create_user(self, username: str, password_hash: str, role: str) -> int:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        return self._write(lambda db: _add(db, User(username=username, password_hash=password_hash, role=role)).id)

    def user(self, username: str) -> User | None:
        with self._sessions() as db:
            return db.scalar(select(User).where(User.username == username))

    def user_count(self) -> int:
        with self._sessions() as db:
            return len(db.scalars(select(User.id)).all())

    def user_by_id(self, user_id: int) -> User | None:
        with self._sessions() as db:
            return db.get(User, user_id)

    def users(self, role: str | None = None) -> list[User]:
        with self._sessions() as db:
            q = select(User).order_by(User.username)
            if role is not None:
                q = q.where(User.role == role)
            return list(db.scalars(q))

    # cohorts -------------------------------------------------------------------------------------
    def create_cohort(self, name: str) -> int:
        return self._write(lambda db: _add(db, Cohort(name=name)).id)

    def cohort(self, name: str) -> Cohort | None:
        with self._sessions() as db:
            return db.scalar(select(Cohort).where(Cohort.name == name))

    def cohorts(self) -> list[Cohort]:
        with self._sessions() as db:
            return list(db.scalars(select(Cohort).order_by(Cohort.name)))

    def add_member(self, cohort_id: int, user_id: int) -> bool:
        """Add a user to a cohort; False if they were in it already."""
        def fn(db):
            if db.get(CohortMember, (cohort_id, user_id)) is not None:
                return False
            _add(db, CohortMember(cohort_id=cohort_id, user_id=user_id))
            return True
        return self._write(fn)

    def remove_member(self, cohort_id: int, user_id: int) -> bool:
        def fn(db):
            row = db.get(CohortMember, (cohort_id, user_id))
            if row is None:
                return False
            db.delete(row)
            return True
        return self._write(fn)

    def members(self, cohort_id: int) -> list[User]:
        with self._sessions() as db:
            q = (select(User).join(CohortMember, CohortMember.user_id == User.id)
                 .where(CohortMember.cohort_id == cohort_id).order_by(User.username))
            return list(db.scalars(q))

    def cohort_names_by_user(self) -> dict[int, list[str]]:
        """user id -> names of the cohorts they belong to (by cohort name)."""
        with self._sessions() as db:
            q = (select(CohortMember.user_id, Cohort.name).join(Cohort, Cohort.id == CohortMember.cohort_id)
                 .order_by(Cohort.name))
            out: dict[int, list[str]] = {}
            for user_id, name in db.execute(q):
                out.setdefault(user_id, []).append(name)
            return out

    def cohorts_of(self, user_id: int) -> list[Cohort]:
        with self._sessions() as db:
            q = (select(Cohort).join(CohortMember, CohortMember.cohort_id == Cohort.id)
                 .where(CohortMember.user_id == user_id).order_by(Cohort.name))
            return list(db.scalars(q))

    # sessions ------------------------------------------------------------------------------------
    def create_session(self, user_id: int, scenario_id: str, persona_id: str, level: str, seed: int,
                       source: str = "app", external_ref: str | None = None, title: str | None = None,
                       assessment_id: int | None = None) -> str:
        row = PracticeSessionRow(user_id=user_id, scenario_id=scenario_id, persona_id=persona_id, level=level,
                                 seed=seed, source=source, external_ref=external_ref, title=title,
                                 assessment_id=assessment_id)
        return self._write(lambda db: _add(db, row).id)

    def import_session(self, user_id: int, scenario_id: str, persona_id: str, external_ref: str, title: str,
                       turns: list[dict], created_at: datetime | None = None) -> str:
        """A whole transcript recorded elsewhere, in one transaction: it lands entirely or not at all.

        ``turns`` items have trainee_text, analysis, feedback, persona_text, persona (as add_turn).
        """
        def fn(db):
            row = _add(db, PracticeSessionRow(user_id=user_id, scenario_id=scenario_id, persona_id=persona_id,
                                              level="imported", seed=0, status="ended", source="import",
                                              external_ref=external_ref, title=title,
                                              created_at=created_at or utcnow(), ended_at=created_at or utcnow()))
            for i, t in enumerate(turns, start=1):
                db.add(TurnRow(session_id=row.id, position=i, **t))
            return row.id
        return self._write(fn)

    def session_by_ref(self, external_ref: str) -> PracticeSessionRow | None:
        with self._sessions() as db:
            return db.scalar(select(PracticeSessionRow).where(PracticeSessionRow.external_ref == external_ref))

    def all_sessions(self, user_ids: list[int] | None = None) -> list[PracticeSessionRow]:
        """Sessions, newest first; only those of ``user_ids`` when given."""
        with self._sessions() as db:
            q = select(PracticeSessionRow).order_by(PracticeSessionRow.created_at.desc())
            if user_ids is not None:
                q = q.where(PracticeSessionRow.user_id.in_(user_ids))
            return list(db.scalars(q))

    def session(self, session_id: str) -> PracticeSessionRow | None:
        with self._sessions() as db:
            return db.get(PracticeSessionRow, session_id)

    def sessions_of(self, user_id: int) -> list[PracticeSessionRow]:
        with self._sessions() as db:
            q = select(PracticeSessionRow).where(PracticeSessionRow.user_id == user_id).order_by(PracticeSessionRow.created_at.desc())
            return list(db.scalars(q))

    def end_session(self, session_id: str) -> None:
        def fn(db):
            row = db.get(PracticeSessionRow, session_id)
            row.status, row.ended_at = "ended", utcnow()
        self._write(fn)

    # turns ---------------------------------------------------------------------------------------
    def add_turn(self, session_id: str, trainee_text: str, analysis: dict, feedback: dict,
                 persona_text: str, persona: dict) -> StoredTurn:
        def fn(db):
            last = db.scalar(select(TurnRow.position).where(TurnRow.session_id == session_id)
                             .order_by(TurnRow.position.desc()).limit(1))
            row = _add(db, TurnRow(session_id=session_id, position=(last or 0) + 1, trainee_text=trainee_text,
                                   analysis=analysis, feedback=feedback, persona_text=persona_text, persona=persona))
            return _stored(row)
        return self._write(fn)

    def rewind_last(self, session_id: str) -> StoredTurn | None:
        """Mark the newest live turn as rewound (kept in the record, out of the conversation)."""
        def fn(db):
            row = db.scalar(select(TurnRow).where(TurnRow.session_id == session_id, TurnRow.rewound.is_(False))
                            .order_by(TurnRow.position.desc()).limit(1))
            if row is None:
                return None
            row.rewound = True
            return _stored(row)
        return self._write(fn)

    def turns(self, session_id: str, include_rewound: bool = False) -> list[StoredTurn]:
        with self._sessions() as db:
            q = select(TurnRow).where(TurnRow.session_id == session_id)
            if not include_rewound:
                q = q.where(TurnRow.rewound.is_(False))
            return [_stored(r) for r in db.scalars(q.order_by(TurnRow.position))]


    def turn_session(self, turn_id: int) -> str | None:
        """The session a turn belongs to (None for no such turn)."""
        with self._sessions() as db:
            return db.scalar(select(TurnRow.session_id).where(TurnRow.id == turn_id))

    # assessments ---------------------------------------------------------------------------------
    def create_assessment(self, name: str, scenario_id: str, persona_id: str, seed: int, criteria: list[dict],
                          created_by: int) -> int:
        row = Assessment(name=name, scenario_id=scenario_id, persona_id=persona_id, seed=seed, criteria=criteria,
                         created_by=created_by, active=True)
        return self._write(lambda db: _add(db, row).id)

    def assessment(self, assessment_id: int) -> Assessment | None:
        with self._sessions() as db:
            return db.get(Assessment, assessment_id)

    def assessment_named(self, name: str) -> Assessment | None:
        with self._sessions() as db:
            return db.scalar(select(Assessment).where(Assessment.name == name))

    def assessments(self, active_only: bool = True) -> list[Assessment]:
        with self._sessions() as db:
            q = select(Assessment).order_by(Assessment.name)
            if active_only:
                q = q.where(Assessment.active.is_(True))
            return list(db.scalars(q))

    def file_result(self, session_id: str, assessment_id: int, passed: bool, result: dict) -> None:
        """File an attempt's result once; a second call leaves the first result as it was."""
        def fn(db):
            if db.get(AssessmentResult, session_id) is None:
                _add(db, AssessmentResult(session_id=session_id, assessment_id=assessment_id, passed=passed,
                                          result=result))
        self._write(fn)

    def result_of(self, session_id: str) -> AssessmentResult | None:
        with self._sessions() as db:
            return db.get(AssessmentResult, session_id)

    def results(self, assessment_id: int | None = None) -> list[AssessmentResult]:
        with self._sessions() as db:
            q = select(AssessmentResult).order_by(AssessmentResult.finished_at)
            if assessment_id is not None:
                q = q.where(AssessmentResult.assessment_id == assessment_id)
            return list(db.scalars(q))

    # review --------------------------------------------------------------------------------------
    def add_correction(self, turn_id: int, label: str, verdict: str, reviewer_id: int) -> int:
        row = FlagCorrection(turn_id=turn_id, label=label, verdict=verdict, reviewer_id=reviewer_id)
        return self._write(lambda db: _add(db, row).id)

    def corrections(self, session_ids: list[str] | None = None) -> list[FlagCorrection]:
        """Corrections in the order they were made (a later one on the same label supersedes)."""
        with self._sessions() as db:
            q = select(FlagCorrection).order_by(FlagCorrection.id)
            if session_ids is not None:
                q = q.join(TurnRow, TurnRow.id == FlagCorrection.turn_id).where(TurnRow.session_id.in_(session_ids))
            return list(db.scalars(q))

    def add_comment(self, session_id: str, turn_id: int | None, author_id: int, text: str) -> int:
        row = Comment(session_id=session_id, turn_id=turn_id, author_id=author_id, text=text)
        return self._write(lambda db: _add(db, row).id)

    def comments(self, session_ids: list[str]) -> list[Comment]:
        with self._sessions() as db:
            q = select(Comment).where(Comment.session_id.in_(session_ids)).order_by(Comment.id)
            return list(db.scalars(q))

    def set_review(self, session_id: str, reviewer_id: int, rating: int, note: str) -> None:
        def fn(db):
            row = db.get(SessionReview, session_id)
            if row is None:
                row = _add(db, SessionReview(session_id=session_id, reviewer_id=reviewer_id, rating=rating, note=note))
            row.reviewer_id, row.rating, row.note, row.updated_at = reviewer_id, rating, note, utcnow()
        self._write(fn)

    def reviews(self, session_ids: list[str]) -> dict[str, SessionReview]:
        with self._sessions() as db:
            q = select(SessionReview).where(SessionReview.session_id.in_(session_ids))
            return {r.session_id: r for r in db.scalars(q)}


def _add(db: Session, obj):
    db.add(obj)
    db.flush()
    return obj


def _stored(r: TurnRow) -> StoredTurn:
    return StoredTurn(r.id, r.position, r.trainee_text, r.analysis, r.feedback, r.persona_text, r.persona, r.rewound)
