"""Synthetic moving-shape videos: reproducible, told apart only by motion; the video model
learns them (slow: test accuracy >= 0.95)."""

import numpy as np
import pytest

from seqnets.classify import Classifier
from seqnets.classify.videos import MOTIONS, moving_shapes
from seqnets.errors import ConfigError


def test_videos_are_seeded_shaped_and_vary_in_length():
    v, labels = moving_shapes(5, frames=8, size=16, seed=3)
    again, _ = moving_shapes(7, frames=8, size=16, seed=3)
    assert labels == [m for m in MOTIONS for _ in range(5)]
    assert all(a.dtype == np.float32 and a.shape[1:] == (1, 16, 16) for a in v)
    assert {len(a) for a in v} <= set(range(6, 9)) and len({len(a) for a in v}) > 1
    np.testing.assert_array_equal(v[5], again[7])  # video 0 of 'right', whatever n is
    assert not np.array_equal(v[0], moving_shapes(5, seed=4)[0][0])


def test_one_frame_does_not_tell_the_class_but_the_motion_does():
    v, labels = moving_shapes(200, noise=0.0, seed=0)
    labels = np.array(labels)

    def mass(a):
        return a[:, 0].sum(axis=(1, 2))

    def moment(frame):  # the bar's position on the torus: the angle of its mass's mean
        img = frame[0]
        k = 2 * np.pi * (np.arange(16) + 0.5) / 16
        return (np.angle((img.sum(0) * np.exp(1j * k)).sum()),
                np.angle((img.sum(1) * np.exp(1j * k)).sum()))

    # first frames: the same mass (size x brightness) and uniform positions in every class
    first_mass = np.array([mass(a)[0] for a in v])
    means = [first_mass[labels == m].mean() for m in MOTIONS]
    assert np.ptp(means) < 0.1 * np.mean(means)
    first = np.array([moment(a[0]) for a in v])
    for m in MOTIONS:
        resultant = np.abs(np.exp(1j * first[labels == m]).mean(axis=0))
        assert np.all(resultant < 0.2), (m, resultant)  # no preferred position
    # the motion: steps of the position's angle, and the mass
    step = np.array([np.angle(np.exp(1j * (np.array(moment(a[1])) - moment(a[0]))))
                     for a in v]) * 16 / (2 * np.pi)  # pixels moved in one frame
    assert np.all(step[labels == "left", 0] < -0.4) and np.all(step[labels == "right", 0] > 0.4)
    assert np.all(step[labels == "up", 1] < -0.4) and np.all(step[labels == "down", 1] > 0.4)
    assert all(np.all(np.diff(mass(a)) > 0) for a, m in zip(v, labels, strict=True)
               if m == "growing")
    assert np.abs(step[labels == "rotating"]).max() < 0.3


@pytest.mark.parametrize("kw, words", [
    ({"n_per_class": 0}, "n_per_class"), ({"frames": 2}, "frames"), ({"size": 8}, "size"),
    ({"min_frames": 9, "frames": 8}, "at most"), ({"seed": -1}, "seed"),
    ({"noise": -0.1}, "noise"), ({"motions": ("left", "sideways")}, "motions"),
    ({"motions": ("left",)}, "motions"),
])
def test_bad_settings_are_refused(kw, words):
    with pytest.raises(ConfigError, match=words):
        moving_shapes(**kw)


VIDEO_RECIPE = {"model_options": {"units": 48, "frame_filters": (16, 32), "frame_units": 64},
                "epochs": 40, "patience": 8, "lr": 2e-3, "seed": 0, "threads": 2}


@pytest.mark.slow
def test_the_video_model_learns_the_motions():
    """Measured 0.971 (0.975 before the initialiser's thread fix): 300 videos per motion to
    train, 40 to test (another seed)."""
    train, labels = moving_shapes(300, seed=0)
    test, test_labels = moving_shapes(40, seed=1)
    clf = Classifier("video_gru", **VIDEO_RECIPE).fit(train, labels)
    accuracy = clf.score(test, test_labels)
    print(f"moving-shape videos: test accuracy {accuracy:.4f}, best epoch {clf.best_epoch_}")
    assert accuracy >= 0.95
