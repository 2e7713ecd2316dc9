"""Landmark index sets of the 478-point MediaPipe face mesh (refined, with irises).

"Left" and "right" are the subject's, as MediaPipe names them.
"""

from __future__ import annotations

import numpy as np

N_LANDMARKS = 478

# Clockwise outline from the top of the forehead.
FACE_OVAL = (
    10,
    338,
    297,
    332,
    284,
    251,
    389,
    356,
    454,
    323,
    361,
    288,
    397,
    365,
    379,
    378,
    400,
    377,
    152,
    148,
    176,
    149,
    150,
    136,
    172,
    58,
    132,
    93,
    234,
    127,
    162,
    21,
    54,
    103,
    67,
    109,
)
CHIN = 152
FOREHEAD = 10
NOSE_TIP = 1

# Lip rings from the mouth's right corner (image left) to its left corner; shared corners
# are listed once, in MOUTH_CORNERS_*.
UPPER_LIP_RINGS = (
    (185, 40, 39, 37, 0, 267, 269, 270, 409),  # outer edge
    (184, 74, 73, 72, 11, 302, 303, 304, 408),
    (183, 42, 41, 38, 12, 268, 271, 272, 407),
    (191, 80, 81, 82, 13, 312, 311, 310, 415),  # inner edge
)
LOWER_LIP_RINGS = (
    (146, 91, 181, 84, 17, 314, 405, 321, 375),  # outer edge
    (77, 90, 180, 85, 16, 315, 404, 320, 307),
    (96, 89, 179, 86, 15, 316, 403, 319, 325),
    (95, 88, 178, 87, 14, 317, 402, 318, 324),  # inner edge
)
MOUTH_CORNERS_RIGHT = (61, 76, 62, 78)  # outer → inner
MOUTH_CORNERS_LEFT = (291, 306, 292, 308)
INNER_LIP_CORNERS = (78, 308)
UPPER_LIP_INNER = UPPER_LIP_RINGS[-1]
LOWER_LIP_INNER = LOWER_LIP_RINGS[-1]
# The inner-lip polygon, clockwise in image coordinates.
INNER_LIP_LOOP = (78, *UPPER_LIP_INNER, 308, *reversed(LOWER_LIP_INNER))
OUTER_LIP_LOOP = (61, *UPPER_LIP_RINGS[0], 291, *reversed(LOWER_LIP_RINGS[0]))
# The inner edge of each lip as a line from corner to corner.
UPPER_LIP_INNER_LINE = (INNER_LIP_CORNERS[0], *UPPER_LIP_INNER, INNER_LIP_CORNERS[1])
LOWER_LIP_INNER_LINE = (INNER_LIP_CORNERS[0], *LOWER_LIP_INNER, INNER_LIP_CORNERS[1])

# Eyelids, from the outer corner to the inner corner.
RIGHT_EYE_UPPER = (246, 161, 160, 159, 158, 157, 173)
RIGHT_EYE_LOWER = (7, 163, 144, 145, 153, 154, 155)
RIGHT_EYE_CORNERS = (33, 133)
LEFT_EYE_UPPER = (466, 388, 387, 386, 385, 384, 398)
LEFT_EYE_LOWER = (249, 390, 373, 374, 380, 381, 382)
LEFT_EYE_CORNERS = (263, 362)
# Each lid's edge as a line from corner to corner.
RIGHT_EYE_UPPER_LINE = (RIGHT_EYE_CORNERS[0], *RIGHT_EYE_UPPER, RIGHT_EYE_CORNERS[1])
RIGHT_EYE_LOWER_LINE = (RIGHT_EYE_CORNERS[0], *RIGHT_EYE_LOWER, RIGHT_EYE_CORNERS[1])
LEFT_EYE_UPPER_LINE = (LEFT_EYE_CORNERS[0], *LEFT_EYE_UPPER, LEFT_EYE_CORNERS[1])
LEFT_EYE_LOWER_LINE = (LEFT_EYE_CORNERS[0], *LEFT_EYE_LOWER, LEFT_EYE_CORNERS[1])
# Eye openings, from the outer corner along the upper lid and back along the lower one.
RIGHT_EYE_LOOP = (
    RIGHT_EYE_CORNERS[0],
    *RIGHT_EYE_UPPER,
    RIGHT_EYE_CORNERS[1],
    *reversed(RIGHT_EYE_LOWER),
)
LEFT_EYE_LOOP = (
    LEFT_EYE_CORNERS[0],
    *LEFT_EYE_UPPER,
    LEFT_EYE_CORNERS[1],
    *reversed(LEFT_EYE_LOWER),
)
RIGHT_IRIS = (468, 469, 470, 471, 472)  # centre first
LEFT_IRIS = (473, 474, 475, 476, 477)

RIGHT_BROW = (70, 63, 105, 66, 107, 46, 53, 52, 65, 55)
LEFT_BROW = (300, 293, 334, 296, 336, 276, 283, 282, 295, 285)


def loop_points(landmarks: np.ndarray, indices: tuple[int, ...]) -> np.ndarray:
    """The (x, y) points of ``indices`` as a float32 array."""
    return np.asarray(landmarks[list(indices), :2], dtype=np.float32)


def inter_ocular_px(landmarks: np.ndarray) -> float:
    """Distance between the outer eye corners, the face's natural unit of length."""
    return float(
        np.linalg.norm(landmarks[RIGHT_EYE_CORNERS[0], :2] - landmarks[LEFT_EYE_CORNERS[0], :2])
    )
