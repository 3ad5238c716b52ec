"""The training process: the window's runs live in child processes.

Qt-free (it imports only ``bnviz.engine``): ``host`` serves the window's
commands and decides what to send, ``runs`` trains the runs (all in one
process, or each comparison run in a ``follower`` process, in lockstep),
``process`` is the child's loop and the parent's handle on it, ``messages``
what crosses the pipe, and ``replica`` the window's copy of the runs'
histories, fed with the rows each frame brings.
"""
