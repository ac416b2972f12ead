"""HTML pieces shared by the practice and review pages: escaping and highlighting by rubric family."""
from __future__ import annotations

import html

FAMILY_COLOURS = {"listening": "#cfe2ff", "empathy": "#d1e7dd", "restorative": "#cff4fc",
                  "accusatory": "#f8d7da", "other": "#fff3cd"}


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def highlight(text: str, evidence: list[dict]) -> str:
    """The text, escaped, with each evidence span marked in its family's colour."""
    from rjcoach.analysis import segments

    return "".join(
        esc(piece) if fam is None
        else f'<mark class="rj-{fam}" style="background:{FAMILY_COLOURS[fam]}" title="{esc(fam)}">{esc(piece)}</mark>'
        for piece, fam in segments(text, [(e["start"], e["end"], e["label"]) for e in evidence])
    )
