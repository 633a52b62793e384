"""kpoc's version, in a module of its own so that any module can import it while the package
is still initialising."""

__version__ = "0.1.0"
