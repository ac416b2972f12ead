"""instructor review: cohorts, flag corrections, comments, session reviews; imported sessions

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("practice_sessions") as batch:
        batch.add_column(sa.Column("source", sa.String(16), nullable=False, server_default="app"))
        batch.add_column(sa.Column("external_ref", sa.String(128), nullable=True))
        batch.add_column(sa.Column("title", sa.String(255), nullable=True))
    op.create_index("ix_practice_sessions_external_ref", "practice_sessions", ["external_ref"], unique=True)
    op.create_table(
        "cohorts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_cohorts_name", "cohorts", ["name"], unique=True)
    op.create_table(
        "cohort_members",
        sa.Column("cohort_id", sa.Integer, sa.ForeignKey("cohorts.id"), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
    )
    op.create_table(
        "flag_corrections",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("turn_id", sa.Integer, sa.ForeignKey("turns.id"), nullable=False),
        sa.Column("label", sa.String(32), nullable=False),
        sa.Column("verdict", sa.String(8), nullable=False),
        sa.Column("reviewer_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_flag_corrections_turn_id", "flag_corrections", ["turn_id"])
    op.create_table(
        "comments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("session_id", sa.String(36), sa.ForeignKey("practice_sessions.id"), nullable=False),
        sa.Column("turn_id", sa.Integer, sa.ForeignKey("turns.id"), nullable=True),
        sa.Column("author_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_comments_session_id", "comments", ["session_id"])
    op.create_table(
        "session_reviews",
        sa.Column("session_id", sa.String(36), sa.ForeignKey("practice_sessions.id"), primary_key=True),
        sa.Column("reviewer_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("rating", sa.Integer, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("session_reviews")
    op.drop_index("ix_comments_session_id", "comments")
    op.drop_table("comments")
    op.drop_index("ix_flag_corrections_turn_id", "flag_corrections")
    op.drop_table("flag_corrections")
    op.drop_table("cohort_members")
    op.drop_index("ix_cohorts_name", "cohorts")
    op.drop_table("cohorts")
    op.drop_index("ix_practice_sessions_external_ref", "practice_sessions")
    with op.batch_alter_table("practice_sessions") as batch:
        batch.drop_column("title")
        batch.drop_column("external_ref")
        batch.drop_column("source")
