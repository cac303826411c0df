"""Whether the 8 x 8 thumbnails of two images agree enough to confirm a near-duplicate pair their hashes found.

A perceptual hash ignores brightness and hue, and the hash of a nearly flat picture is mostly noise, so a pair
within :data:`~dmtl_studio.core.project.perceptual.HASH_DISTANCE` bits is confirmed by thumbnails
(:func:`~dmtl_studio.core.project.perceptual.thumbnails_of`: ``(S, 64, 3)`` float32, levels of 255, the whole
image first):

- **as taken**: the grey thumbnails (ITU-R 601 luma) differ by at most :data:`THUMBNAIL_DIFFERENCE` levels on
  average and the colour ones by at most :data:`COLOUR_DIFFERENCE` (two plain walls of different greys, or a green
  disc on pink and a pink disc on green of one luminance, stay apart);
- **a grey copy**: when either thumbnail has no colour (its channels within :data:`GREY_SPREAD` levels of each
  other on average) the colour comparison is skipped: a colour picture and its grey conversion have one grey
  thumbnail;
- **another exposure**: a copy made brighter or darker, or of other contrast, is compared after its grey
  thumbnail's mean and spread are matched to the other's (a gain within :data:`MAX_GAIN` either way, the same gain
  and offset applied to its colour thumbnail): grey within :data:`EXPOSURE_DIFFERENCE` levels, colour within
  :data:`COLOUR_DIFFERENCE`. Only pictures with structure qualify (a grey spread of at least :data:`MIN_SPREAD`
  levels in both): two flat pictures of different brightness match any exposure of each other.

Each thumbnail set's whole image is compared with every thumbnail of the other (whole or central crop), either way
round, as the hashes are.
"""

from __future__ import annotations

import numpy as np

#: Largest mean absolute difference (grey levels of 255) of the 8 x 8 thumbnails of a near-duplicate pair.
THUMBNAIL_DIFFERENCE = 8.0
#: Largest mean absolute difference (levels of 255, over the red, green and blue values) of their colour thumbnails.
COLOUR_DIFFERENCE = 16.0
#: A thumbnail whose channels differ by at most this on average (levels of 255) has no colour: a grey picture.
GREY_SPREAD = 3.0
#: Least standard deviation (grey levels) of both thumbnails for a pair compared after matching their exposure.
MIN_SPREAD = 12.0
#: Largest mean absolute grey difference (levels of 255) of two thumbnails after their exposure is matched: a
#: brightened copy of a real picture is within 2.7 levels (median; 4.7 for three in four), where a small spider
#: and a small fly on white drawn by one artist were 6.3 apart.
EXPOSURE_DIFFERENCE = 5.0
#: Largest ratio of the two grey spreads (either way) of a pair compared after matching their exposure.
MAX_GAIN = 1.6
#: ITU-R 601 luma weights, as Pillow's ``convert("L")``: the grey thumbnail from the colour one.
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _closest(first: np.ndarray, second: np.ndarray) -> float:
    """Mean absolute difference ``(S, K)`` vs ``(S, K)``, whole against whole or central crop, either way round."""
    whole_first = np.abs(second - first[0]).mean(axis=1).min()
    whole_second = np.abs(first - second[0]).mean(axis=1).min()
    return float(min(whole_first, whole_second))


def thumbnail_difference(first: np.ndarray, second: np.ndarray) -> float:
    """Mean absolute grey difference (levels of 255) of two :func:`thumbnails_of` results ``(S, 64, 3)``, whole
    against whole or central crop."""
    return _closest(first @ LUMA, second @ LUMA)


def colour_difference(first: np.ndarray, second: np.ndarray) -> float:
    """Mean absolute difference (levels of 255, over the three colour values) of two :func:`thumbnails_of`
    results ``(S, 64, 3)``, whole against whole or central crop."""
    return _closest(first.reshape(len(first), -1), second.reshape(len(second), -1))


def is_grey(thumbnail: np.ndarray) -> bool:
    """Whether a ``(64, 3)`` thumbnail has no colour (:data:`GREY_SPREAD`)."""
    return float((thumbnail.max(axis=1) - thumbnail.min(axis=1)).mean()) <= GREY_SPREAD


def _exposure_matched(whole: np.ndarray, other: np.ndarray, colourless: bool) -> bool:
    """Whether ``other`` ``(64, 3)``, its grey mean and spread matched to those of ``whole`` ``(64, 3)``, is within
    the limits of it (the module docstring)."""
    grey, other_grey = whole @ LUMA, other @ LUMA
    spread, other_spread = float(grey.std()), float(other_grey.std())
    if min(spread, other_spread) < MIN_SPREAD or max(spread, other_spread) > MAX_GAIN * min(
        spread, other_spread
    ):
        return False
    gain = spread / other_spread
    offset = float(grey.mean()) - gain * float(other_grey.mean())
    if float(np.abs(gain * other_grey + offset - grey).mean()) > EXPOSURE_DIFFERENCE:
        return False
    return colourless or float(np.abs(gain * other + offset - whole).mean()) <= COLOUR_DIFFERENCE


def thumbnails_agree(first: np.ndarray, second: np.ndarray) -> bool:
    """Whether two thumbnail sets ``(S, 64, 3)`` and ``(T, 64, 3)`` (the whole image first) confirm a pair, by the
    rules of the module docstring."""
    colourless = is_grey(first[0]) or is_grey(second[0])
    if thumbnail_difference(first, second) <= THUMBNAIL_DIFFERENCE and (
        colourless or colour_difference(first, second) <= COLOUR_DIFFERENCE
    ):
        return True
    return any(_exposure_matched(first[0], other, colourless) for other in second) or any(
        _exposure_matched(second[0], other, colourless) for other in first
    )
