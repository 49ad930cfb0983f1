import numpy as np
import pytest

from mlp_studio.core import DATASETS, Dataset, FeatureMap, make_dataset


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_shapes_types_and_reproducibility(name):
    data = make_dataset(name, 301, 0.2, seed=7)
    assert data.X.shape == (301, 2) and data.y.shape == (301,)
    assert data.X.dtype == np.float64
    if data.task == "regression":
        assert data.y.dtype == np.float64 and data.n_classes == 0
    else:
        assert data.y.dtype == np.int64
        assert set(np.unique(data.y)) == set(range(data.n_classes))
    again = make_dataset(name, 301, 0.2, seed=7)
    assert np.array_equal(data.X, again.X) and np.array_equal(data.y, again.y)
    other = make_dataset(name, 301, 0.2, seed=8)
    assert not np.array_equal(data.X, other.X)
    assert not data.X.flags.writeable and not data.y.flags.writeable


def test_circle_follows_the_playground_radii():
    data = make_dataset("circle", 1000, 0.0, seed=0)
    r = np.hypot(*data.X.T)
    assert r[data.y == 1].max() <= 2.5
    assert r[data.y == 0].min() >= 3.5 and r[data.y == 0].max() <= 5.0


def test_xor_labels_follow_the_quadrants():
    data = make_dataset("xor", 1000, 0.0, seed=0)
    assert np.abs(data.X).max() <= 5.3
    same_sign = data.X[:, 0] * data.X[:, 1] > 0
    assert np.array_equal(same_sign, data.y == 1)


def test_gaussians_sit_at_plus_and_minus_two():
    data = make_dataset("gauss", 4000, 0.0, seed=0)
    np.testing.assert_allclose(data.X[data.y == 1].mean(0), [2, 2], atol=0.1)
    np.testing.assert_allclose(data.X[data.y == 0].mean(0), [-2, -2], atol=0.1)


def test_spiral_arms_turn_one_and_three_quarter_times():
    data = make_dataset("spiral", 400, 0.0, seed=0)
    arm = data.X[data.y == 1]
    angle = np.unwrap(np.arctan2(arm[:, 0], arm[:, 1]))
    turns = (angle[-1] - angle[0]) / (2 * np.pi)
    assert turns == pytest.approx(1.75, abs=0.02)
    assert np.hypot(*arm.T).max() <= 5.0


def test_blobs_have_the_classes_asked_for():
    data = make_dataset("blobs", 60, 0.0, seed=0, classes=6)
    assert data.task == "multiclass" and data.n_classes == 6
    assert np.bincount(data.y).tolist() == [10] * 6


def test_noise_spreads_points():
    clean = make_dataset("gauss", 2000, 0.0, seed=0)
    noisy = make_dataset("gauss", 2000, 0.5, seed=0)
    assert noisy.X[noisy.y == 1].std() > 1.5 * clean.X[clean.y == 1].std()


def test_split_partitions_the_points():
    data = make_dataset("moons", 101, 0.1, seed=0)
    train, test = data.split(0.7, seed=3)
    assert len(train) == 71 and len(test) == 30
    together = np.vstack([train.X, test.X])
    assert sorted(map(tuple, together)) == sorted(map(tuple, data.X))
    again, _ = data.split(0.7, seed=3)
    assert np.array_equal(again.X, train.X)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(name="square"), "unknown data set"),
        (dict(name="circle", n=0), "number of points"),
        (dict(name="circle", n=2.5), "whole number"),
        (dict(name="circle", noise=-0.1), "noise"),
        (dict(name="circle", noise=float("nan")), "noise"),
        (dict(name="blobs", classes=7), "classes"),
    ],
)
def test_bad_arguments_name_the_problem(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_dataset(**kwargs)


def test_dataset_rejects_bad_contents():
    with pytest.raises(ValueError, match="NaN"):
        Dataset(np.array([[np.nan, 0.0]]), np.array([0]), "binary", 2)
    with pytest.raises(ValueError, match="labels"):
        Dataset(np.zeros((2, 2)), np.array([0, 2]), "binary", 2)
    with pytest.raises(ValueError, match="shape"):
        Dataset(np.zeros((2, 3)), np.array([0, 1]), "binary", 2)


def test_features_in_canonical_order():
    features = FeatureMap(["sin(x2)", "x1*x2", "x1"])
    assert features.names == ("x1", "x1*x2", "sin(x2)")
    points = np.array([[2.0, 3.0]])
    np.testing.assert_allclose(features.transform(points), [[2.0, 6.0, np.sin(3.0)]])
    all_features = FeatureMap(
        ["x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"])
    np.testing.assert_allclose(
        all_features.transform(points),
        [[2, 3, 4, 9, 6, np.sin(2), np.sin(3)]],
    )
    with pytest.raises(ValueError, match="unknown input feature"):
        FeatureMap(["x3"])
    with pytest.raises(ValueError, match="at least one"):
        FeatureMap([])
