import os
import stat

import pytest

from rjcoach.files import private_dir


def test_private_folders_are_0700(tmp_path, monkeypatch):
    base = tmp_path / "scratch"
    monkeypatch.setenv("RJCOACH_TMP_DIR", str(base))
    folder = private_dir("reports")
    assert folder.parent == base
    for p in (base, folder):
        assert stat.S_IMODE(p.stat().st_mode) == 0o700
    base.chmod(0o777)  # loosened by someone: tightened again
    private_dir("reports")
    assert stat.S_IMODE(base.stat().st_mode) == 0o700


def test_a_base_folder_that_is_a_link_or_someone_elses_is_refused(tmp_path, monkeypatch):
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target)
    monkeypatch.setenv("RJCOACH_TMP_DIR", str(link))
    with pytest.raises(RuntimeError, match="not a folder owned by this account"):
        private_dir("reports")
    if os.geteuid() == 0:  # only root can hand a folder to another account
        theirs = tmp_path / "theirs"
        theirs.mkdir()
        os.chown(theirs, 54321, -1)
        monkeypatch.setenv("RJCOACH_TMP_DIR", str(theirs))
        with pytest.raises(RuntimeError, match="owned by this account"):
            private_dir("reports")


def test_the_app_keeps_reports_and_gradios_cache_private():
    import rjcoach.webapp  # noqa: F401  (sets GRADIO_TEMP_DIR before Gradio is used)

    cache = os.environ["GRADIO_TEMP_DIR"]
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o700
