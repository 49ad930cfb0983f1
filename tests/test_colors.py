"""The colour look-up that turns value grids into pixels."""

from __future__ import annotations

import warnings

import numpy as np

from mlp_studio.app import colors


def test_values_beyond_the_levels_take_the_table_ends_without_warnings():
    lut = colors.qt_order(colors.diverging_lut())
    words = lut.view(np.uint32)[:, 0]
    values = np.array([[-1.0, 0.0, 1.0],
                       [-1e300, 1e300, 3e38],
                       [-np.inf, np.inf, np.nan]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pixels = colors.colorize(values, -1.0, 1.0, lut, top_down=False)
    got = pixels.view(np.uint32)[..., 0]
    low, high = words[0], words[-1]
    assert got[0].tolist() == [low, words[(len(words) - 1) // 2], high]
    assert got[1].tolist() == [low, high, high]
    assert got[2].tolist() == [low, high, low]  # NaN: the low end


def test_top_down_flips_the_rows():
    lut = colors.qt_order(colors.diverging_lut())
    values = np.linspace(-1.0, 1.0, 6).reshape(3, 2)
    upright = colors.colorize(values, -1.0, 1.0, lut, top_down=False)
    flipped = colors.colorize(values, -1.0, 1.0, lut, top_down=True)
    np.testing.assert_array_equal(flipped, upright[::-1])
