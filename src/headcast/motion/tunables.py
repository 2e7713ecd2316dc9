"""Tunables of speech-to-motion, in one place, with their units in their names."""

# Timing of mouth shapes.
CURVE_RATE_HZ = 100  # internal sampling of the control curves
SMOOTHING_SIGMA_MS = 18.0  # against frame-to-frame flicker
LONG_PHONE_MS = 160.0  # phones longer than this hold their shape over two keys
SILENCE_EASE_MS = 90.0  # the mouth reaches rest this long into a pause
MIN_SILENCE_FOR_REST_MS = 180.0  # shorter pauses keep the speaking shape in between

# Loudness scales the opening of vowels: quiet speech opens the mouth less.
ENERGY_FLOOR_SHARE = 0.55  # opening share at the quietest voiced frame
ENERGY_WINDOW_MS = 30.0

# Blinks (Bentivoglio et al.: ~17 blinks/min at rest, fewer when speaking, more at pauses).
BLINK_MEAN_INTERVAL_S = 3.6
BLINK_MIN_INTERVAL_S = 1.4
BLINK_CLOSE_MS = 80.0
BLINK_HOLD_MS = 40.0
BLINK_OPEN_MS = 130.0
BLINK_AT_PAUSE_PROBABILITY = (
    0.5  # chance of a blink at the start of a pause ≥ MIN_SILENCE_FOR_REST_MS
)

# Head motion.
HEAD_SWAY_YAW_DEG = 2.0
HEAD_SWAY_PITCH_DEG = 1.2
HEAD_SWAY_ROLL_DEG = 1.2
HEAD_SWAY_PERIOD_S = 4.0  # typical period of the slow idle sway
HEAD_NOD_DEG = 1.5  # extra pitch at full speech loudness
HEAD_NOD_SMOOTHING_MS = 120.0
