"""Outlines never leave the slide: the left-border zig-zag between x = 0 and x = −1."""

import numpy as np

from wnet_gui.nuclick.postprocess import clip_to_slide


def test_zigzag_at_the_left_border_is_clipped_to_a_straight_edge():
    ring = np.array([[0, 10], [-1, 11], [0, 12], [-1, 13], [0, 14], [6, 14], [6, 10]], float)
    clipped = clip_to_slide(ring, 100, 100)
    assert clipped.min() >= 0
    left = clipped[clipped[:, 0] == 0]
    assert len(left) == 2  # one straight edge from y 10 to 14
    assert set(left[:, 1]) == {10.0, 14.0}


def test_inside_outlines_are_untouched_and_outside_ones_vanish():
    inside = np.array([[5, 5], [9, 5], [9, 9]], float)
    assert clip_to_slide(inside, 100, 100) is inside
    assert clip_to_slide(np.array([[-9, -9], [-5, -9], [-5, -5]], float), 100, 100) is None
    right = clip_to_slide(np.array([[95, 5], [103, 5], [103, 9], [95, 9]], float), 100, 100)
    assert right[:, 0].max() == 100
