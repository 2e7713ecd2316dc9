"""Tunables of the built-in warp renderer, in one place, with their units in their names."""

# Mouth geometry, as ratios of the mouth's width (corner to corner), a smile's capped at a
# relaxed mouth's width for the face's size.
RELAXED_MOUTH_WIDTH_TO_IOD = 0.62  # outer eye corner to outer eye corner; measured 0.50-0.64
JAW_OPEN_MAX_TO_MOUTH_WIDTH = 0.45  # lower-lip travel at jaw_open = 1
UPPER_LIP_RAISE_TO_JAW = 0.10  # the upper lip lifts a little as the jaw drops
CORNER_DROP_TO_JAW = 0.30
JAW_SHARE_OF_HEAD_RING = 0.5  # of the chin's travel taken by the ring around the face
CORNER_NARROW_TO_JAW = 0.06
STRETCH_MAX_TO_MOUTH_WIDTH = 0.10  # each corner's travel at mouth_stretch = ±1
PUCKER_NARROW_TO_MOUTH_WIDTH = 0.14
PUCKER_PROTRUDE_TO_MOUTH_WIDTH = 0.05
PRESS_THIN_TO_MOUTH_WIDTH = 0.03
FUNNEL_FLARE_TO_MOUTH_WIDTH = 0.06
FUNNEL_NARROW_TO_MOUTH_WIDTH = 0.08
UPPER_LIP_RAISE_TO_MOUTH_WIDTH = 0.07
TUCK_ROLL_SHARE = 0.6  # of the lower lip's thickness that rolls in behind the upper teeth

# How far the lips' motion spreads into the surrounding skin (multiples of mouth width).
LIP_SKIN_FALLOFF_TO_MOUTH_WIDTH = 0.35

# Eyes.
BLINK_UPPER_LID_SHARE = 0.8  # of the lid gap closed by the upper lid; the rest by the lower
BLINK_FOLD_SHARE = 0.45  # the skin fold above the lid follows this share of the lid

# Gaze.
IRIS_FILL_MARGIN_PX = 1.5  # the whites are filled in this far beyond the iris edge
LID_SHADOW = 0.35  # how much darker the white is right under a lid
LID_MARGIN_DARKENING = 0.25  # a closing lid is this much darker at its lashes than at its fold
LASH_STRIP_TO_EYE_WIDTH = 0.1  # the warped lashes left showing above a closing lid's edge
LID_TEXTURE_SKIP_TO_EYE_WIDTH = 0.12  # the lid's texture is taken from above the crease
LID_TEXTURE_DETAIL_PX = 2.0  # finer detail than this is copied onto the closed lid
LID_TEXTURE_MAX_DETAIL = 10.0  # grey levels: stronger edges than skin's are left off the lid
LID_EDGE_SOFTNESS_PX = 0.8
LID_PAINT_MIN_BLINK = 0.05

# Brows.
BROW_LIFT_TO_IOD = 0.08  # brow travel at brow_raise = 1, in eye distances

# Head.
HEAD_PIVOT_BEHIND_FACE_TO_IOD = 1.2  # rotation centre depth behind the face, in eye distances
HEAD_PIVOT_BELOW_EYES_TO_IOD = 0.9
# The largest turn drawn; where part of the face would fold over at these, the depth it
# turns with is eased towards a smooth bowl, a step at a time.
MAX_TURN_YAW_DEG = 16.0
MAX_TURN_PITCH_DEG = 12.0
MAX_TURN_ROLL_DEG = 12.0
TURN_DEPTH_PASSES = 16
TURN_DEPTH_EASE = 0.7  # of the mesh's own depth kept at each pass by a folding vertex

# Backward-map refinement: fixed-point steps inverting the forward displacement field.
INVERSE_ITERATIONS = 2
# Triangles stretched or squashed more than this (share of their size) by some mouth or lid
# pose get the exact rasterised map.
EXACT_MAP_MIN_STRAIN = 0.25
# The smooth field is computed on a grid this coarse and enlarged (lips and lids are exact);
# the grid scales with the output so that it keeps the same density over the face.
FIELD_STEP_PX_AT_512 = 4

# Mouth interior.
CAVITY_DARKNESS = 0.35
CAVITY_BASE_RGB = (110, 38, 34)  # a mouth's inside is red-brown whatever the lip colour
REAL_INTERIOR_MIN_STRETCH = 0.55  # photo's own mouth kept while stretched less than 1/this
CAVITY_DEPTH_SHADE = 0.6  # how much darker the middle of the cavity is than its rim
TEETH_BRIGHTNESS_TO_SKIN = 0.78
TEETH_RGB = (236, 228, 212)  # teeth where the photo's light is not known: a warm white
ENAMEL_RGB = (242, 238, 230)  # teeth under the light the eye whites show: about their colour
# Teeth lit at most this much above the eye whites' lit part (luma): the brightest of a
# photo's own teeth read 1.05, 1.09 and 1.66 times it (obama2, astronaut, and obama, whose
# whites lie in the brows' shadow); drawn ones far brighter glow in a dim picture.
TEETH_MAX_LUMA_TO_WHITES = 1.1
# What is read as the eye whites is taken as the photo's white only while their lit part is
# at least this light against the cheeks (luma), and they are hardly more colourful.
WHITES_MIN_LUMA_TO_CHEEK = 0.7
WHITES_CHROMA_OVER_CHEEK_MAX = 0.05  # (max - min) / max of RGB
LIGHT_GAIN_RANGE = (0.55, 1.45)  # per channel: no light turns white further from grey
LIGHT_RED_GREEN_MAX = 3.0  # CIE a* a light may give a white, plus a share of its b*
LIGHT_RED_GREEN_PER_YELLOW = 0.3
TYPICAL_LIP_CHROMA = 0.35  # lips less colourful than this make the inside of the mouth greyer
TONGUE_TO_CAVITY = 1.7
UPPER_TEETH_HEIGHT_TO_MOUTH_WIDTH = 0.09
LOWER_TEETH_HEIGHT_TO_MOUTH_WIDTH = 0.05
TEETH_WIDTH_SHARE = 0.8
TEETH_CORNER_FADE = 0.45  # of the arch's depth over which teeth fade into the cheeks' dark
TOOTH_ARC_RAD = 0.44  # angle between neighbouring teeth along the arch
TOOTH_GAP_WIDTH_TO_MOUTH_WIDTH = 0.01
TOOTH_GAP_DARKNESS = 0.15
TONGUE_TIP_HALF_WIDTH_SHARE = 0.55  # of the opening's half width, at tongue_tip = 1
TONGUE_TIP_BEHIND_TEETH_SHARE = 0.3  # of the upper teeth's height the tip rises behind them
MOUTH_EDGE_SOFTNESS_PX_AT_512 = 1.2
INTERIOR_BLUR_PX_AT_512 = 0.7

# Bringing an open mouth to rest.
REST_UPPER_LIP_SHARE = 0.4  # of the lip gap the upper lip closes; the jaw closes the rest
REST_LIP_OVERLAP_TO_GAP = 0.0  # each lip passes the meeting line by this share of the gap
REST_LIP_OVERLAP_PX_AT_512 = 0.0  # plus this much per 100 px of mouth width

# Seams where closed lips and closed lids meet.
LIP_SEAM_SHADE = 0.5  # the seam's colour, as a share of the lips' median colour
LIP_SEAM_HALF_WIDTH_TO_MOUTH_WIDTH = 0.007
LIP_SEAM_CLOSED_GAP_TO_MOUTH_WIDTH = 0.03  # lips this far apart show no seam any more
LIP_SEAM_OPACITY = 0.85
LASH_PERCENTILE = 40  # of the colours along the upper lid's edge: the lashes
LASH_LINE_HALF_WIDTH_TO_EYE_WIDTH = 0.025
LASH_LINE_CLOSED_GAP_TO_EYE_WIDTH = 0.12
LASH_LINE_OPACITY = 0.9
SEAM_CORNER_TAPER_SHARE = 0.06  # of the seam's length over which it fades into each corner
