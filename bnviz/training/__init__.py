"""The training process: the window's runs live in a child process.

Qt-free (it imports only ``bnviz.engine``): ``host`` trains the runs and
decides what to send, ``process`` is the child's loop and the parent's
handle on it, ``messages`` what crosses the pipe, and ``replica`` the
window's copy of the runs' histories, fed with the rows each frame brings.
"""
