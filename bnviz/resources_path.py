"""Where the files of resources/ are: installed as the bnviz.resources
package, or next to the package in a source checkout."""
from __future__ import annotations

from importlib import resources
from pathlib import Path


def resource_path(name: str) -> Path:
    """The path of a file from resources/ (icons, the desktop file, ...)."""
    checkout = Path(__file__).resolve().parent.parent / "resources" / name
    if checkout.exists():
        return checkout
    try:
        return Path(str(resources.files("bnviz.resources") / name))
    except ModuleNotFoundError:
        return checkout
