"""AppModel: what the window is about, without Qt.

Run A's settings, the runs trained beside it (compare mode, a lesson), the
id of the runs asked for and of those on screen, the lesson open, the
session behind the runs, the frame on screen. The window, its file
actions, compare mode and menus each hold this one model instead of
sharing each other's private state; every new run (a reset, a preset, a
lesson, a session, a data file) goes through ``begin``, and its first
frame through ``arrive``. Listeners are plain callbacks.
"""
from __future__ import annotations

from ..engine.compare import RunSet
from ..engine.config import RunConfig


class AppModel:
    EVENTS = ("run_started", "run_refused")

    def __init__(self, config: RunConfig):
        self.config = config.validate()   # run A's settings (live edits included)
        self.runset = RunSet()            # the runs asked for beside A
        self.run_id = 0                   # of the runs whose frames are accepted
        self._issued = 0                  # the last run id given out (never reused)
        self.frame = None                 # the frame on screen
        self.lesson = None                # the lesson open, or None
        self.last_session = None          # the last session saved or opened (to go on after a crash)
        self._live = (0, self.runset)     # run id and runs of the frames on screen
        self._recent = None               # a file to list under Open recent once its run starts
        self._session = None              # a session whose runs are about to start
        self._listeners = {event: [] for event in self.EVENTS}

    # ------------------------------------------------------------ listeners
    def on(self, event: str, callback) -> None:
        self._listeners[event].append(callback)

    def _emit(self, event: str, *args) -> None:
        for callback in list(self._listeners[event]):
            callback(*args)

    # ------------------------------------------------------------- queries
    def comparing(self) -> bool:
        return self.runset.comparing

    def step(self) -> int:
        return 0 if self.frame is None else self.frame.step

    def configs(self, config: RunConfig | None = None) -> tuple:
        """Every run's settings for run A = ``config`` (A first)."""
        return self.runset.configs(config or self.config)

    # -------------------------------------------------------- one reset path
    def begin(self, runset: RunSet | None = None, *, recent: str | None = None,
              session: str | None = None) -> int:
        """New runs are asked for (``runset`` beside A, or the same ones): the
        id their frames will carry. Older frames are stale from now on."""
        self._issued += 1
        self.run_id = self._issued
        if runset is not None:
            self.runset = runset
        self._recent = recent or session
        self._session = session
        return self.run_id

    def fresh(self, frame) -> bool:
        """Whether ``frame`` is of the runs asked for last."""
        return frame.run_id == self.run_id

    def arrive(self, frame) -> tuple[bool, str | None]:
        """``frame`` is about to be shown: (whether it is the first of its
        runs, a file to add to Open recent now that its run started)."""
        first = self.frame is None or self.frame.run_id != frame.run_id
        recent = None
        if first:
            self.config = frame.config
            self.runset = RunSet.of((frame.config, *(o.config for o in frame.others)),
                                    (frame.label, *(o.label for o in frame.others)))
            self._live = (frame.run_id, self.runset)
            recent, self._recent = self._recent, None
            if self._session:
                self.last_session, self._session = self._session, None
            self._emit("run_started", frame)
        return first, recent

    def shown(self, frame) -> None:
        """Every panel has ``frame``: it is the one on screen."""
        self.frame = frame

    def refused(self, message: str) -> None:
        """The runs asked for could not start: the ones on screen go on."""
        self.run_id, self.runset = self._live
        self._recent = self._session = None
        self._emit("run_refused", message)
