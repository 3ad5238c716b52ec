"""Test setup shared by every folder: Qt runs offscreen, BLAS single-threaded.

QT_QPA_PLATFORM is set when it is unset *or empty*: with an empty value Qt
tries X11 and aborts on a machine with no display.
"""
import os

if not os.environ.get("QT_QPA_PLATFORM"):
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")
