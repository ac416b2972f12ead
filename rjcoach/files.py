"""Private scratch folders: debrief reports, exports and Gradio's file cache hold transcripts, so
they live in folders only the server's own account can read (mode 0700), never in a shared /tmp
folder that other local users could list or read."""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def private_dir(name: str) -> Path:
    """``<tmp>/rjcoach-<uid>/<name>``, created 0700; refuses a base folder another account owns."""
    base = Path(os.environ.get("RJCOACH_TMP_DIR") or Path(tempfile.gettempdir()) / f"rjcoach-{os.getuid()}")
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = base.lstat()
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.getuid():
        raise RuntimeError(f"{base} is not a folder owned by this account; remove it or set RJCOACH_TMP_DIR")
    if info.st_mode & 0o077:
        base.chmod(0o700)
    folder = base / name
    folder.mkdir(mode=0o700, exist_ok=True)
    folder.chmod(0o700)
    return folder
