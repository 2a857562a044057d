"""hwk4tune: tune vision models from YAML with Ray Tune.

The public API, importable without starting Ray or loading torch::

    from hwk4tune import load_sweep, load_space, load_compare, SpecError

and, loading torch only when called, ``hwk4tune.load_model(DIR)``: the model ``hwk4tune train`` wrote
(:mod:`hwk4tune.model.trained`).
"""

from hwk4tune.spec import SpecError, load_any, load_compare, load_space, load_sweep

__all__ = ["SpecError", "load_any", "load_compare", "load_model", "load_space", "load_sweep"]


def __getattr__(name: str):
    """``load_model`` imports torch: only when it is asked for (``import hwk4tune`` stays light)."""
    if name == "load_model":
        from hwk4tune.model.trained import load_model

        return load_model
    raise AttributeError(f"module 'hwk4tune' has no attribute {name!r}")
__version__ = "0.1.0"
