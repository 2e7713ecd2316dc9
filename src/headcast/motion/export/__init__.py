"""Lip-sync tracks for animators: Rhubarb mouth cues, Oculus visemes, ARKit blendshapes.

One module per format, each with ``write(...) -> str`` and ``read(text)``; ``FORMATS`` maps
the command-line names to them through a ``LipSyncResult``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from headcast.motion.arkit import arkit_rotations, arkit_weights
from headcast.motion.export import (
    arkit_csv,
    arkit_json,
    moho_dat,
    oculus_json,
    rhubarb_json,
    rhubarb_tsv,
    rhubarb_xml,
)
from headcast.motion.face_motion import MotionTrack
from headcast.motion.mouth_cues import MouthCue
from headcast.motion.oculus_visemes import oculus_viseme_weights
from headcast.phones.track import PhoneTrack


@dataclass(frozen=True)
class LipSyncResult:
    """Everything a lip-sync export needs: phones, mouth cues and per-frame motion."""

    track: PhoneTrack
    cues: tuple[MouthCue, ...]
    motion: MotionTrack
    fps: float
    sound_file: str = ""
    extended_shapes: str = "GHX"  # the optional shapes the cues may use

    @property
    def duration_s(self) -> float:
        return self.track.duration_s

    @property
    def rest_shape(self) -> str:
        """The shape of a resting mouth: X, or A for a character drawn without X."""
        return "X" if "X" in self.extended_shapes else "A"

    def viseme_weights(self) -> dict[str, np.ndarray]:
        """Per-frame Oculus viseme weights: the motion's own, or made from the phones."""
        if self.motion.visemes is not None:
            return self.motion.visemes
        return oculus_viseme_weights(self.track, self.motion.fps, self.motion.n_frames)


Writer = Callable[..., str]


@dataclass(frozen=True)
class ExportFormat:
    name: str
    extension: str
    mime_type: str
    description: str
    frame_based: bool  # whether the frame rate matters (``--fps``)
    write: Writer  # (result, **options) -> text


def _tsv(result: LipSyncResult) -> str:
    return rhubarb_tsv.write(result.cues, rest_shape=result.rest_shape)


def _json(result: LipSyncResult) -> str:
    return rhubarb_json.write(
        result.cues, sound_file=result.sound_file, duration_s=_cue_end(result)
    )


def _xml(result: LipSyncResult) -> str:
    return rhubarb_xml.write(result.cues, sound_file=result.sound_file, duration_s=_cue_end(result))


def _dat(result: LipSyncResult, *, preston_blair: bool = False) -> str:
    return moho_dat.write(
        result.cues, result.fps, rest_shape=result.rest_shape, preston_blair=preston_blair
    )


def _oculus(result: LipSyncResult) -> str:
    return oculus_json.write(result.viseme_weights(), result.motion.fps)


def _arkit_csv(result: LipSyncResult) -> str:
    return arkit_csv.write(
        arkit_weights(result.motion), result.motion.fps, arkit_rotations(result.motion)
    )


def _arkit_json(result: LipSyncResult) -> str:
    return arkit_json.write(
        arkit_weights(result.motion), result.motion.fps, arkit_rotations(result.motion)
    )


def _cue_end(result: LipSyncResult) -> float:
    return result.cues[-1].end_s if result.cues else 0.0


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("rhubarb-tsv", ".tsv", "text/tab-separated-values",
                     "Rhubarb TSV: start time and mouth shape per line", False, _tsv),
        ExportFormat("rhubarb-json", ".json", "application/json",
                     "Rhubarb JSON: metadata and mouthCues", False, _json),
        ExportFormat("rhubarb-xml", ".xml", "application/xml",
                     "Rhubarb XML: <rhubarbResult> with <mouthCue> elements", False, _xml),
        ExportFormat("dat", ".dat", "text/plain",
                     "Moho / OpenToonz switch data (MohoSwitch1), frames at --fps", True, _dat),
        ExportFormat("oculus-json", ".json", "application/json",
                     "Oculus/Meta visemes: 15 weights per frame", True, _oculus),
        ExportFormat("arkit-csv", ".csv", "text/csv",
                     "ARKit blendshapes in Live Link Face's CSV layout", True, _arkit_csv),
        ExportFormat("arkit-json", ".json", "application/json",
                     "ARKit blendshapes per frame, camelCase names", True, _arkit_json),
    )
}  # fmt: skip
"""Export formats by command-line name."""


def export(result: LipSyncResult, format_name: str, **options: object) -> str:
    """The text of ``result`` in one of ``FORMATS``; options a format does not take are ignored.

    Options: ``preston_blair`` (dat: Preston Blair shape names, for OpenToonz).
    """
    try:
        writer = FORMATS[format_name].write
    except KeyError:
        raise ValueError(
            f"unknown format {format_name!r}; choose one of {', '.join(FORMATS)}"
        ) from None
    accepted = inspect.signature(writer).parameters
    return writer(result, **{k: v for k, v in options.items() if k in accepted})


__all__ = ["FORMATS", "ExportFormat", "LipSyncResult", "export"]
