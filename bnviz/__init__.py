"""bnviz: a desktop laboratory for batch normalization."""

__version__ = "0.1.0"
