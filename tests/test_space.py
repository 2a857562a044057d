"""The search-space DSL: every distribution compiles to the right Ray Tune domain and stays in bounds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ray.tune.search.sample import Categorical, Float, Integer, Quantized

from hwk4tune.space import Categorical as CategoricalParam
from hwk4tune.space import FloatRange, IntRange, Normal, Param, Space, SpaceError, flatten, nest
from hwk4tune.tune.search_space import tune_domain, tune_param_space

DRAWS = 2000

# (DSL, expected Ray domain class, expected sampler class name)
CASES = {
    "uniform": ([0.1, 0.6], Float, "_Uniform"),
    "loguniform": ([1e-4, 0.3], Float, "_LogUniform"),
    "quniform": ([0.0, 1.0, 0.25], Float, "_Uniform"),
    "qloguniform": ([1e-3, 1.0, 1e-3], Float, "_LogUniform"),
    "randint": ([1, 4], Integer, "_Uniform"),
    "qrandint": ([8, 64, 8], Integer, "_Uniform"),
    "lograndint": ([1, 512], Integer, "_LogUniform"),
    "normal": ([0.0, 2.0], Float, "_Normal"),
    "choice": (["sgd", "adam", "adagrad"], Categorical, "_Uniform"),
}


def _draws(domain, n=DRAWS):
    rng = np.random.default_rng(0)
    return domain.sample(size=n, random_state=rng)


@pytest.mark.parametrize("kind", CASES)
def test_each_distribution_compiles_and_samples_within_bounds(kind):
    args, domain_cls, sampler_name = CASES[kind]
    domain = tune_domain(Param.parse(f"space.{kind}", kind, args))
    assert isinstance(domain, domain_cls)
    sampler = domain.get_sampler()
    inner = sampler.sampler if isinstance(sampler, Quantized) else sampler
    assert type(inner).__name__ == sampler_name
    values = _draws(domain)
    if kind == "choice":
        assert set(values) == set(args)  # every value reachable
        return
    if kind == "normal":
        assert abs(np.mean(values) - args[0]) < 0.2 and abs(np.std(values) - args[1]) < 0.2
        return
    low, high = args[0], args[1]
    assert min(values) >= low and max(values) <= high, (min(values), max(values))
    if kind in ("randint", "qrandint", "lograndint"):
        assert all(isinstance(v, (int, np.integer)) for v in values)
        # both bounds are included in our DSL (Ray's randint excludes the upper one: we add 1)
        if kind == "randint":
            assert set(values) == {1, 2, 3, 4}
    if len(args) == 3:
        q = args[2]
        assert all(math.isclose(v / q, round(v / q), abs_tol=1e-6) for v in values)


def test_log_distributions_spread_over_decades():
    values = np.array(_draws(tune_domain(Param.parse("lr", "loguniform", [1e-4, 1.0]))))
    # a log-uniform draw puts about a quarter of its mass in each decade
    share_below_1e3 = np.mean(values < 1e-3)
    assert 0.18 < share_below_1e3 < 0.32


def test_grid_becomes_grid_search():
    domain = tune_domain(Param.parse("opt", "grid", ["sgd", "adam"]))
    assert domain == {"grid_search": ["sgd", "adam"]}


@pytest.mark.parametrize(
    "kind, args, fragment",
    [
        ("uniform", [2.0, 1.0], "low <= high"),
        ("loguniform", [-1.0, 1.0], "low > 0"),
        ("qloguniform", [0.0, 1.0, 0.1], "low > 0"),
        ("quniform", [0.0, 1.0, 0.0], "q > 0"),
        ("quniform", [0.0, 1.0, 2.0], "q <= high - low"),
        ("randint", [1.5, 4], "integers"),
        ("qrandint", [1, 10, 0.5], "integers"),
        ("lograndint", [0, 10], "low >= 1"),
        ("normal", [0.0, -1.0], "sd > 0"),
        ("choice", [], "at least one"),
        ("grid", [], "at least one"),
        ("uniform", [0.0], "takes [low, high]"),
        ("uniform", "0..1", "takes [low, high]"),
        ("uniform", [0, True], "takes [low, high]"),
        ("uniform", [0.0, float("inf")], "takes [low, high]"),
    ],
)
def test_bad_arguments_are_refused_naming_the_rule_and_values(kind, args, fragment):
    with pytest.raises(SpaceError) as info:
        Param.parse("space.x", kind, args)
    assert info.value.key == "space.x"
    assert fragment in info.value.message


def test_nested_constants_and_typos():
    space = Space.parse({"lr": {"loguniform": [1e-3, 1e-1]},
                         "opt": {"name": "adam", "beta": {"uniform": [0.8, 0.99]}}, "hidden": 64})
    assert set(space.params) == {"lr", "opt/beta"}
    assert space.constants == {"opt": {"name": "adam"}, "hidden": 64}
    compiled = tune_param_space(space)
    assert compiled["hidden"] == 64 and compiled["opt"]["name"] == "adam"
    assert isinstance(compiled["opt"]["beta"], Float)
    assert dict(space.describe())["lr"] == "loguniform(0.001, 0.1)"
    assert dict(space.describe())["hidden"] == "= 64"
    with pytest.raises(SpaceError, match="did you mean 'uniform'") as info:
        Space.parse({"opt": {"beta": {"unifrom": [0.8, 0.99]}}})
    assert info.value.key == "space.opt.beta.unifrom"


@pytest.mark.parametrize("raw, key, fragment", [
    ({"x": {}}, "space.x", "empty mapping"),
    ({"a/b": 1}, "space.a/b", "cannot contain '/'"),
    ({1: 2}, "space.1", "must be strings"),
    ([1, 2], "space", "must be a mapping"),
    ({"g": {"h": {"choice": []}}}, "space.g.h", "at least one value"),
])
def test_bad_trees_name_the_dotted_key(raw, key, fragment):
    with pytest.raises(SpaceError) as info:
        Space.parse(raw)
    assert info.value.key == key and fragment in info.value.message


DSL = {
    "lr": {"loguniform": [1e-4, 0.3]},
    "hidden": {"qrandint": [8, 64, 8]},
    "opt": {"name": "sgd", "momentum": {"uniform": [0.5, 0.9]}, "nesterov": {"choice": [True, False]}},
    "noise": {"normal": [0.0, 1.0]},
    "layers": {"grid": [1, 2]},
    "seed": 3,
}


def test_to_yaml_is_the_inverse_of_parse():
    space = Space.parse(DSL)
    assert space.to_yaml() == DSL
    assert Space.parse(space.to_yaml()) == space  # value objects: equal when written alike
    assert space.params["opt/momentum"] == FloatRange("uniform", 0.5, 0.9)
    assert space.params["hidden"] == IntRange("qrandint", 8, 64, False, 8)
    assert space.params["noise"] == Normal("normal", 0.0, 1.0)
    assert space.params["layers"] == CategoricalParam("grid", (1, 2)) and space.params["layers"].grid
    assert hash(Param.parse("k", "uniform", [0.0, 1.0])) == hash(Param.parse("other", "uniform", [0.0, 1.0]))
    assert Param.parse("k", "uniform", [0.0, 1.0]) != Param.parse("k", "uniform", [0.0, 2.0])
    assert not Space.parse({}) and Space.parse({"a": 1})


def test_flatten_and_nest_are_inverse():
    tree = {"a": {"b": 1, "c": {"d": 2}}, "e": 3, "f": {}}
    flat = flatten(tree)
    assert flat == {"a/b": 1, "a/c/d": 2, "e": 3, "f": {}}
    assert list(flat) == ["a/b", "a/c/d", "e", "f"]  # file order
    assert nest(flat) == tree
    assert flatten(tree, sep=".") == {"a.b": 1, "a.c.d": 2, "e": 3, "f": {}}


@pytest.mark.parametrize("kind, args, inside, outside", [
    ("uniform", [0.1, 0.6], [0.1, 0.35, 0.6], [0.09, 0.61, "0.3", True, float("nan")]),
    ("loguniform", [1e-4, 0.3], [1e-4, 0.3], [1e-5, 1.0]),
    ("randint", [1, 4], [1, 4], [0, 5, 2.5, True]),
    ("lograndint", [1, 512], [1, 512], [0, 513]),
    ("choice", ["sgd", 1, True], ["sgd", 1, True], ["adam", 2, None]),
    ("normal", [0.0, 1.0], [-100.0, 100, 0.0], ["x", None, float("inf")]),
])
def test_contains(kind, args, inside, outside):
    p = Param.parse("x", kind, args)
    assert all(p.contains(v) for v in inside), [v for v in inside if not p.contains(v)]
    assert not any(p.contains(v) for v in outside), [v for v in outside if p.contains(v)]


def test_bounds_for_pb2():
    assert Param.parse("x", "loguniform", [1e-4, 1e-1]).bounds == (1e-4, 1e-1)
    assert Param.parse("x", "randint", [2, 9]).bounds == (2.0, 9.0)
    assert Param.parse("x", "choice", [1, 2]).bounds is None
    assert Param.parse("x", "normal", [0.0, 1.0]).bounds is None
