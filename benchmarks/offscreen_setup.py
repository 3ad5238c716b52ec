"""Set up a GUI benchmark before Qt and NumPy load: offscreen Qt (unless a
platform is chosen), one BLAS thread as the app uses, and this checkout's
bnviz on the path. Import it first."""
import os
import sys

if not os.environ.get("QT_QPA_PLATFORM"):
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
