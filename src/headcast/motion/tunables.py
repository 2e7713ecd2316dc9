"""Tunables of speech-to-motion, in one place, with their units in their names."""

# Timing of mouth shapes.
CURVE_RATE_HZ = 100  # internal sampling of the control curves
SMOOTHING_SIGMA_MS = 18.0  # against frame-to-frame flicker
LONG_PHONE_MS = 160.0  # phones longer than this hold their shape over two keys
SILENCE_EASE_MS = 90.0  # the mouth reaches rest this long into a pause
MIN_SILENCE_FOR_REST_MS = 180.0  # shorter pauses keep the speaking shape in between
MIN_SHAPE_MS = 50.0  # phones shorter than this reach only part of their shape

# Coarticulation: lip rounding spreads over neighbouring consonants.
ROUNDING_SPREAD_MIN = 0.3  # only clearly rounded sounds spread
ROUNDING_ANTICIPATION_MS = 160.0
ROUNDING_CARRYOVER_MS = 70.0
ROUNDING_SPREAD_SHARE = 0.8

# Hard constraints.
BILABIAL_LEAD_MS = 30.0  # lips shut this long before a /p b m/ starts
BILABIAL_LAG_MS = 10.0
LABIODENTAL_TUCK_MIN = 0.8
LABIODENTAL_JAW_MAX = 0.12
VOWEL_MIN_OPEN_SHARE = 0.5  # of the vowel's own opening, whatever the smoothing did

# Loudness scales the opening of vowels: quiet speech opens the mouth less.
ENERGY_FLOOR_SHARE = 0.55  # opening share at the quietest voiced frame
ENERGY_WINDOW_MS = 30.0
LOUDNESS_HISTORY_S = 10.0  # loudness is judged against the loud level of this much speech before
PITCH_HISTORY_S = 30.0  # the speaker's usual pitch is the median over this much speech before

# Blinks (Bentivoglio et al.: ~17 blinks/min at rest, fewer when speaking, more at pauses).
# Real lids close in under 100 ms, stay shut a frame or two and reopen more slowly.
BLINK_MEAN_INTERVAL_S = 3.6
BLINK_MIN_INTERVAL_S = 1.4
BLINK_CLOSE_MS = 90.0
BLINK_HOLD_MS = 70.0  # longer than a frame at 25 fps, so one frame always shows the lid shut
BLINK_OPEN_MS = 170.0
BLINK_AT_PAUSE_PROBABILITY = (
    0.6  # chance of a blink at the start of a pause ≥ MIN_SILENCE_FOR_REST_MS
)

# Brows rise on accented syllables (pitch and loudness peaks on vowels).
BROW_RAISE_MAX = 0.6
BROW_ACCENT_MIN_SEMITONES = 2.0  # pitch above the speaker's median that counts as an accent
BROW_RISE_MS = 120.0
BROW_FALL_MS = 350.0
BROW_MIN_GAP_S = 1.2

# How far ahead of a frame the speech is heard before the frame is made final. A phone shapes
# the mouth up to ROUNDING_ANTICIPATION_MS plus smoothing before it starts and a brow rises
# BROW_RISE_MS before its accented vowel; 120 ms serves both well enough. A file waits no
# longer than a live stream: on the five LibriVox clips a longer look-ahead closed the lips on
# no more /p b m/ with a transcript (29 of 29 at 120 ms and at 1 s) and on fewer without one
# (25 of 29 at 120 ms, 22 at 250 ms to 4 s), so a file and a stream use the same one.
LOOKAHEAD_MS = 120.0
MAX_LOOKAHEAD_MS = 1000.0
MOUTH_CONTEXT_S = 0.8  # phones further back than this no longer shape the current frame

# Gaze: small fixations around the camera, with occasional glances away at phrase starts.
GAZE_FIXATION_MEAN_S = 1.8
GAZE_JITTER = 0.08  # fixation spread, in gaze units (1 = to the eye corner)
GAZE_AWAY = 0.35
GAZE_AWAY_PROBABILITY = 0.3  # per pause
GAZE_SACCADE_MS = 40.0

# Head motion. The intensity is a share of the liveliest head the motion makes: 0 holds the head
# still, HEAD_MOTION_DEFAULT moves it like the median real speaker talking to camera.
HEAD_MOTION_DEFAULT = 0.6
# (yaw, pitch, roll) spreads; an independent landmark model on real footage finds a median
# speaker's head at 2.7° of roll and nose offsets from the eyes of 0.049 (yaw) and 0.044
# (pitch) eye distances, about 5° and 4.4° of turn on a portrait's mesh.
HEAD_DRIFT_DEG = (8.0, 8.0, 5.0)  # amplitude of the slow drift, while speaking or idle
HEAD_DRIFT_PERIOD_S = 6.0  # typical period of the drift
HEAD_POSTURE_DEG = (6.5, 6.5, 3.5)  # spread of the posture taken at each phrase start
HEAD_POSTURE_LEAD_MS = 150.0  # the head moves this long before the phrase starts
HEAD_POSTURE_MOVE_MS = 650.0
HEAD_SETTLE_AFTER_S = 1.2  # a pause this long lets the posture ease back
HEAD_SETTLE_MS = 1500.0
HEAD_SETTLE_SHARE = 0.35  # of the posture kept after each settling move
HEAD_BEAT_NOD_DEG = 4.0  # nod on a full-strength stressed syllable (chin down)
HEAD_BEAT_TURN_DEG = 1.0  # at most, either way, with it
HEAD_BEAT_TILT_DEG = 0.8
HEAD_BEAT_NOD_MS = 420.0  # down and back up, its deepest at the vowel's middle
HEAD_BEAT_MIN_GAP_S = 0.5
# A live stream's head eases from one source of motion (idle, a turn of speech) to the next.
HEAD_HANDOVER_MS = 700.0
HEAD_NOD_DEG = 1.5  # extra pitch at full speech loudness
HEAD_NOD_SMOOTHING_MS = 250.0  # time constant of the nod following loudness
HEAD_PITCH_SMOOTHING_MS = 500.0  # time constant of the lift and tilt following pitch
HEAD_PITCH_FOLLOWS_F0_DEG_PER_OCTAVE = 3.0  # head lifts with rising pitch (raised F0 → chin up)
HEAD_TILT_FOLLOWS_F0_DEG_PER_OCTAVE = 1.5

# Beats: a vowel is stressed when it is loud and pitched above the speaker's usual (a quarter
# to a third of the vowels of the LibriVox readings).
BEAT_MIN_LOUDNESS = 0.85  # of the recent loud level
BEAT_MIN_SEMITONES = 2.0  # above the speaker's median
