"""verdant.hypervolume and verdant.nondominated against moocore, and their errors (issue 22)."""

import math

import moocore
import numpy as np
import pytest

import verdant


def random_front(rng, n, d):
    """n points on the positive unit sphere's surface in d dimensions (mutually nondominated),
    mixed with as many dominated points."""
    on = np.abs(rng.standard_normal((n, d)))
    on /= np.linalg.norm(on, axis=1, keepdims=True)
    behind = on + rng.uniform(0.0, 0.5, (n, d))
    return np.vstack([on, behind])


@pytest.mark.parametrize("d", [2, 3, 4, 5, 6])
def test_hypervolume_equals_moocore(d):
    rng = np.random.default_rng(d)
    for n in (1, 10, 150):
        points = random_front(rng, n, d)
        ref = np.full(d, 1.6)
        ours = verdant.hypervolume(points, ref)
        theirs = moocore.hypervolume(points, ref=ref)
        assert math.isclose(ours, theirs, rel_tol=1e-12, abs_tol=0.0), (d, n, ours, theirs)


@pytest.mark.parametrize("d", [2, 3, 4, 5])
def test_nondominated_equals_moocore(d):
    rng = np.random.default_rng(100 + d)
    # Integer grid values: ties and duplicates happen.
    points = rng.integers(0, 6, (300, d)).astype(float)
    ours = verdant.nondominated(points)
    theirs = np.flatnonzero(moocore.is_nondominated(points, keep_weakly=True))
    assert ours.tolist() == theirs.tolist()


def test_points_beyond_the_reference_add_nothing():
    assert verdant.hypervolume(np.array([[1.0, 2.0], [2.0, 1.0]]), np.array([3.0, 3.0])) == 3.0
    assert verdant.hypervolume(np.array([[4.0, 1.0]]), np.array([3.0, 3.0])) == 0.0
    assert verdant.hypervolume(np.zeros((0, 2)), np.array([3.0, 3.0])) == 0.0


@pytest.mark.parametrize(
    "points, ref, message",
    [
        (np.array([[1.0, math.nan]]), np.array([3.0, 3.0]), "points[0, 1] is NaN"),
        (np.array([[1.0, 2.0], [math.inf, 1.0]]), np.array([3.0, 3.0]), "points[1, 0] is inf"),
        (np.array([[1.0, 2.0]]), np.array([3.0]), "ref has 1 values"),
        (np.array([[1.0, 2.0]]), np.array([3.0, math.nan]), "ref[1] is NaN"),
        (np.zeros((2, 0)), np.zeros(0), "at least one objective"),
    ],
)
def test_bad_arguments_raise_value_errors(points, ref, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        verdant.hypervolume(points, ref)


def test_wrong_shapes_raise_and_never_crash():
    with pytest.raises(TypeError):
        verdant.hypervolume(np.array([1.0, 2.0]), np.array([3.0, 3.0]))
    with pytest.raises(TypeError):
        verdant.nondominated(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="is NaN"):
        verdant.nondominated(np.array([[1.0, math.nan]]))


@pytest.mark.parametrize("d", [2, 3, 5])
def test_epsilon_and_igd_plus_equal_moocore(d):
    rng = np.random.default_rng(200 + d)
    reference = random_front(rng, 40, d)[:40]
    approximation = random_front(rng, 25, d) + rng.uniform(-0.1, 0.2, (50, d))
    ours = verdant.additive_epsilon(approximation, reference)
    theirs = moocore.epsilon_additive(approximation, ref=reference)
    assert math.isclose(ours, theirs, rel_tol=1e-12, abs_tol=1e-15), (ours, theirs)
    ours = verdant.igd_plus(approximation, reference)
    theirs = moocore.igd_plus(approximation, ref=reference)
    assert math.isclose(ours, theirs, rel_tol=1e-12, abs_tol=1e-15), (ours, theirs)


def test_indicators_refuse_mismatched_or_empty_sets():
    with pytest.raises(ValueError, match="points have 2 objectives but ref has 3"):
        verdant.igd_plus(np.ones((2, 2)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="at least one row"):
        verdant.additive_epsilon(np.ones((0, 2)), np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"ref\[1, 0\] is NaN"):
        verdant.additive_epsilon(np.ones((2, 2)), np.array([[1.0, 1.0], [math.nan, 1.0]]))
