"""kpoc's version, in a leaf module: kpoc/__init__ imports modules that need it."""

__version__ = "0.1.0"
