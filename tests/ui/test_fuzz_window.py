"""Bad files opened in the window, as a user would (File > Open, a drop):
each one either starts its run or brings a message, and afterwards a run
trains on: the window never stands still. The files are the property
tests' own (tests/fuzzing.py): mutated settings, CSV and NPZ data sets and
sessions, opened through the real training process."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PySide6.QtWidgets import QMessageBox

from fuzzing import PROFILE, config_texts, csv_files, good_session, npz_files, session_files

EXAMPLES = 6 if PROFILE == "ci" else 150
SUFFIX = {"settings": ".toml", "csv": ".csv", "npz": ".npz", "session": ".npz"}


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    return good_session(tmp_path_factory.mktemp("good") / "good.npz")


def _file(data, kind: str, session) -> bytes:
    if kind == "settings":
        return data.draw(config_texts()).encode("utf-8", "surrogatepass")
    strategy = {"csv": csv_files(), "npz": npz_files(), "session": session_files(session)}[kind]
    return data.draw(strategy)


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.data())
def test_a_bad_file_opened_in_the_window_brings_a_message_or_its_run_and_training_goes_on(
        qtbot, window, monkeypatch, tmp_path_factory, session, data):
    kind = data.draw(st.sampled_from(sorted(SUFFIX)), label="kind")
    raw = _file(data, kind, session)
    messages: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _parent, _title, text, *a, **k:
                        messages.append(text) or QMessageBox.Ok)
    path = tmp_path_factory.mktemp("opened") / f"bad{SUFFIX[kind]}"
    path.write_bytes(raw)
    before = window.model.run_id
    window.files.open_path(str(path))

    def settled():
        frame = window.model.frame
        started = window.model.run_id != before and frame is not None and frame.run_id == window.model.run_id
        return bool(messages) or started
    qtbot.waitUntil(settled, timeout=15000)
    event(f"{kind}: {'a message' if messages else 'its run started'}")
    for text in messages:   # a message names the file, or says what failed in words
        assert text.strip() and "Traceback" not in text, text
    qtbot.waitUntil(lambda: window.model.frame is not None and window.model.frame.run_id == window.model.run_id,
                    timeout=15000)
    frame = window.model.frame
    window.step(2)
    qtbot.waitUntil(lambda: window.model.frame.run_id == frame.run_id and (
        window.model.frame.step >= frame.step + 2 or window.model.frame.diverged_at is not None), timeout=15000)
