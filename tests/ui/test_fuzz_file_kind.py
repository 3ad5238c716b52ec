"""A file dropped on the window is sorted by ``file_kind`` from its own
bytes: mutated data sets and sessions give a kind or a ValueError naming
the file, never another exception, and a zip bomb is not expanded."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bnviz.ui.file_actions import file_kind
from fuzzing import SECONDS, Timer, good_session, npz_files, session_files, zip_bomb


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    return good_session(tmp_path_factory.mktemp("good") / "good.npz")


@given(st.data())
def test_fuzz_file_kind(tmp_path_factory, session, data):
    raw = data.draw(st.one_of(npz_files(), session_files(session)))
    path = tmp_path_factory.mktemp("kind") / "dropped.npz"
    path.write_bytes(raw)
    with Timer() as t:
        try:
            assert file_kind(str(path)) in ("session", "data")
        except ValueError as exc:
            assert str(path) in str(exc)
    assert t.seconds < SECONDS


def test_session_tag_of_a_zip_bomb_is_not_expanded(tmp_path):
    path = tmp_path / "bomb.npz"
    path.write_bytes(zip_bomb(1 << 30, name="format.npy"))
    with Timer() as t:
        assert file_kind(str(path)) == "data"   # too large to be a session's tag
    assert t.seconds < 1
