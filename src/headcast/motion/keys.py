"""Step 1 of the mouth: phones → key shapes in time (one per phone, two for long ones)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from headcast.motion import tunables as T
from headcast.motion.visemes import REST, MouthTarget, target_for
from headcast.phones.track import PhoneTrack


@dataclass(frozen=True)
class MouthKey:
    time_s: float
    shape: MouthTarget
    label: str  # the phone it comes from ("SIL" for rest keys)


def mouth_keys(track: PhoneTrack) -> list[MouthKey]:
    """Key shapes: at each phone's middle (two keys for long phones), rest in long pauses.

    Phones shorter than ``T.MIN_SHAPE_MS`` reach only part of their shape — real articulators
    cannot get there in time, and full shapes that short read as flicker.
    """
    keys = [MouthKey(0.0, REST, "SIL")]
    ease = T.SILENCE_EASE_MS / 1000
    for phone in track.phones:
        if phone.is_silence:
            if phone.duration_s * 1000 >= T.MIN_SILENCE_FOR_REST_MS:
                keys.append(MouthKey(phone.start_s + ease, REST, "SIL"))
                keys.append(MouthKey(phone.end_s - ease, REST, "SIL"))
            continue
        target = target_for(phone.label)
        duration_ms = phone.duration_s * 1000
        if duration_ms < T.MIN_SHAPE_MS:
            target = _scaled(target, max(duration_ms / T.MIN_SHAPE_MS, 0.5))
        if duration_ms > T.LONG_PHONE_MS:
            keys.append(MouthKey(phone.start_s + 0.3 * phone.duration_s, target, phone.label))
            keys.append(MouthKey(phone.end_s - 0.3 * phone.duration_s, target, phone.label))
        else:
            keys.append(MouthKey(0.5 * (phone.start_s + phone.end_s), target, phone.label))
    keys.append(MouthKey(track.duration_s, REST, "SIL"))
    keys.sort(key=lambda k: k.time_s)
    deduped = [keys[0]]
    for key in keys[1:]:
        if key.time_s - deduped[-1].time_s > 1e-4:
            deduped.append(key)
    return deduped


def _scaled(shape: MouthTarget, share: float) -> MouthTarget:
    fields = {name: getattr(shape, name) * share for name in shape.__dataclass_fields__}
    return replace(shape, **fields)
