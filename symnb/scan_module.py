"""PyTensor's `scan_module` names (`scan_module.until`, `scan_module.scan`), for code that
imports them from there; the loop itself is built in core/scan.py."""
from .core.scan import scan, until  # noqa: F401
