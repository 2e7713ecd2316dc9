"""The numbers of the enrolled engine, in one place."""

from __future__ import annotations

# Base playback: stretches between joins last this long (uniformly drawn), and a join is
# crossfaded over this many frames.
STRETCH_MIN_S = 2.0
STRETCH_MAX_S = 6.0
JOIN_FADE_FRAMES = 3
# Joins go to frames not shown for this long, or for this share of a short clip's length.
RECENT_S = 20.0
RECENT_SHARE = 0.3
# Speaking and idle stretches of the base: after this long out of step with the speech, a
# join into a stretch of the right kind is taken as soon as one is offered.
STATE_MISMATCH_S = 1.0
SPEAKING_JAW_OPEN = 0.05  # motion with the jaw this open within the last half second speaks
SPEAKING_WINDOW_S = 0.5

# Mouth choice: weights of the shape numbers (opening, width, rounding, press, teeth,
# tongue), each in units of its spread over the atlas.
SHAPE_WEIGHTS = (6.0, 1.5, 1.0, 1.0, 0.6, 0.0)
# A mouth from a head turned or tipped this many degrees from the base frame's costs as
# much as one spread of the opening.
POSE_SCALE_DEG = 6.0
# A mouth from a frame lit unlike the base frame (mean skin colour, RGB levels) costs this
# per level squared of difference, after the difference is corrected: what cannot be
# corrected by a shift of the colour (a shadow, a highlight) still shows.
COLOUR_WEIGHT = 0.02
# Where the motion wants the lips closed, a mouth not among the clip's most closed share
# pays this (more than any shape difference).
CLOSED_SHARE = 0.1
CLOSED_PRESS = 0.5  # lips pressed this hard are closed
OPEN_WHEN_CLOSED_COST = 50.0
# Moving on to the next frame of the clip is free; any other mouth pays this, and pays for
# looking unlike the one that naturally follows (``SMOOTHNESS_WEIGHT``).
SWITCH_COST = 0.6
SMOOTHNESS_WEIGHT = 0.5

# Blending: the seam is feathered over this share of the inter-ocular distance, and the
# mouth's colour matched to the base frame in the band where they meet.
FEATHER_IOD = 0.05

# A mouth less open than the motion asks by more than this share of the eye distance is
# opened further by a warp, by at most the second share; the warp fades out this many mouth
# widths beside the corners and below the chin.
STRETCH_MIN_IOD = 0.02
STRETCH_MAX_IOD = 0.12
STRETCH_SIDE_REACH = 0.5
