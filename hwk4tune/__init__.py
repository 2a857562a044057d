"""hwk4tune: tune vision models from YAML with Ray Tune.

The public API, importable without starting Ray or loading torch::

    from hwk4tune import load_sweep, load_space, load_compare, SpecError
"""

from hwk4tune.spec import SpecError, load_any, load_compare, load_space, load_sweep

__all__ = ["SpecError", "load_any", "load_compare", "load_space", "load_sweep"]
__version__ = "0.1.0"
