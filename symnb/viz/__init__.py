"""Displays for the notebook: the sampler widget (Gibbs against rates-FPCD, animated)."""


def __getattr__(name):
    # the sampler widget needs anywidget and symnb.sampling: loaded on first use only
    if name == "SamplerWidget":
        from .sampler import SamplerWidget
        return SamplerWidget
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
