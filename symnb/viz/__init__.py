"""Displays for the notebook: the sampler widget (Gibbs against rates-FPCD, animated)."""
from .sampler import SamplerWidget  # noqa: F401
