"""assessments for certification: definitions, attempts (sessions), filed results

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assessments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("scenario_id", sa.String(64), nullable=False),
        sa.Column("persona_id", sa.String(64), nullable=False),
        sa.Column("seed", sa.Integer, nullable=False),
        sa.Column("criteria", sa.JSON, nullable=False),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
    )
    op.create_index("ix_assessments_name", "assessments", ["name"], unique=True)
    with op.batch_alter_table("practice_sessions") as batch:
        batch.add_column(sa.Column("assessment_id", sa.Integer, sa.ForeignKey("assessments.id",
                                                                             name="fk_sessions_assessment"),
                                   nullable=True))
    op.create_table(
        "assessment_results",
        sa.Column("session_id", sa.String(36), sa.ForeignKey("practice_sessions.id"), primary_key=True),
        sa.Column("assessment_id", sa.Integer, sa.ForeignKey("assessments.id"), nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("result", sa.JSON, nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_assessment_results_assessment_id", "assessment_results", ["assessment_id"])


def downgrade() -> None:
    op.drop_index("ix_assessment_results_assessment_id", "assessment_results")
    op.drop_table("assessment_results")
    with op.batch_alter_table("practice_sessions") as batch:
        batch.drop_column("assessment_id")
    op.drop_index("ix_assessments_name", "assessments")
    op.drop_table("assessments")
