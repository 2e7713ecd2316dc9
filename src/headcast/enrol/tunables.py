"""The numbers of enrolment, in one place."""

from __future__ import annotations

# What a clip must hold.
MIN_USABLE_S = 5.0  # of frames where one face is tracked well enough to use
MIN_FACE_HEIGHT_PX = 64  # brow to chin in the source video
# A second face at least this share of the first's area is a second speaker, not a poster.
SECOND_FACE_AREA_RATIO = 0.25
# Share of the sampled frames that must show a face (or two) before the clip is judged so.
FACE_FOUND_MIN_SHARE = 0.5
SEVERAL_FACES_MIN_SHARE = 0.3
DETECT_EVERY_S = 0.5  # how often the whole frame is searched for faces

# A frame is usable when the face is turned or tipped no further than this from the clip's
# median pose (degrees, estimated from the landmarks).
MAX_YAW_FROM_MEDIAN_DEG = 20.0
MAX_PITCH_FROM_MEDIAN_DEG = 20.0

# Landmarks are smoothed over time with a Gaussian of this many frames (sd): the rigid
# anchors more, the lips little so that a closure of two frames survives.
ANCHOR_SMOOTHING_FRAMES = 1.5
LIP_SMOOTHING_FRAMES = 0.6

# Storage: the base frames as WebP (about 60 % of a JPEG's size for the same look, which
# keeps a minute of footage near 40 MB), the mouth crops as JPEG (small, and decoded for
# every frame drawn).
BASE_WEBP_QUALITY = 85
MOUTH_JPEG_QUALITY = 85

# The mouth crop, in the representative frame's pixels, as shares of its inter-ocular
# distance around the mouth centre: wide enough for the cheeks, low enough for the chin.
MOUTH_CROP_HALF_WIDTH_IOD = 1.15
MOUTH_CROP_ABOVE_IOD = 0.55
MOUTH_CROP_BELOW_IOD = 1.1

# Pixels in the inner mouth that are teeth (bright, grey) or tongue (red, mid bright).
TEETH_MIN_VALUE = 0.55
TEETH_MAX_SATURATION = 0.35

# Base graph: a join from frame i to frame j replaces i+1 with j; it is kept when the two
# look alike (pose, eyes) and move alike. Joins land at least this far from where they
# leave, and stretches between joins last at least this long.
JOIN_MIN_DISTANCE_S = 1.0
JOINS_PER_FRAME = 8
JOIN_MAX_COST = 1.0  # in units of base_graph.JOIN_TOLERANCES

# A cut in the clip (clips joined one after another): a frame that differs from the one
# before this many times more than any of the two frames before and after it change, and by
# at least this many grey levels on average. Nothing plays across a cut.
CUT_CHANGE_RATIO = 4.0
CUT_MIN_CHANGE = 2.5

# A speaking stretch: frames within this of speech in the clip's audio.
SPEECH_MARGIN_S = 0.2
