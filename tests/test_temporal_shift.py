"""TemporalShift: 1/8 channels from the next frame, 1/8 from the previous, zero fill."""

import numpy as np
import pytest

from layer_checks import random_video, run_standard_checks
from vidzoo.layers import TemporalShift


def test_hand_computed_shift():
    # Frame t holds value 10 t + c in channel c; C = 8, so one channel each way.
    t, c = np.meshgrid(np.arange(3), np.arange(8), indexing="ij")
    x = (10.0 * t + c).astype("float32").reshape(1, 3, 1, 1, 8)
    y = TemporalShift()(x).numpy().reshape(3, 8)
    np.testing.assert_array_equal(y[:, 0], [10.0, 20.0, 0.0])   # from frame t+1
    np.testing.assert_array_equal(y[:, 1], [0.0, 1.0, 11.0])    # from frame t-1
    np.testing.assert_array_equal(y[:, 2:], x.reshape(3, 8)[:, 2:])


def test_rank4_frames_in_batch_match_rank5():
    x = random_video((2, 4, 3, 3, 16))
    five = TemporalShift()(x).numpy()
    four = TemporalShift(num_frames=4)(x.reshape(8, 3, 3, 16)).numpy()
    np.testing.assert_array_equal(four.reshape(five.shape), five)


def test_bad_input():
    with pytest.raises(ValueError, match="num_frames"):
        TemporalShift()(random_video((8, 3, 3, 16)))
    with pytest.raises(ValueError, match="rank 5"):
        TemporalShift()(random_video((8, 3, 16)))


def test_framework_checks(tmp_path):
    run_standard_checks(lambda: TemporalShift(), (2, 4, 4, 4, 16), tmp_path, trains=False)
