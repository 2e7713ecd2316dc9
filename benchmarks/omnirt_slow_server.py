"""An OmniRT realtime-avatar server slower than real time, run as its own process:
``python benchmarks/omnirt_slow_server.py SPEED`` prints its port, then answers each audio chunk
with real JPEG frames (the portrait sent in ``session.create``, shifted a little frame to
frame), paced so that it sustains SPEED times real time (0.5: one second of speech every two
seconds). It stands for a GPU server that cannot keep up, to measure what the client holds
meanwhile.
"""

from __future__ import annotations

import base64
import json
import sys
import time

import cv2
import numpy as np
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from headcast.render.remote.omnirt_wire import RemoteSessionSpec, created_message, video_message

CHUNK_SAMPLES = 7680  # 0.48 s at 16 kHz: 12 frames at 25 fps
FPS = 25
RATE_HZ = 16_000
FRAMES_PER_CHUNK = CHUNK_SAMPLES * FPS // RATE_HZ
JPEG_QUALITY = 85


def _frames(image_b64: str, side: int) -> list[bytes]:
    """A chunk's JPEG frames: the portrait, shifted by a pixel more each frame."""
    data = np.frombuffer(base64.b64decode(image_b64), np.uint8)
    portrait = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if portrait is None:
        portrait = np.full((side, side, 3), 128, np.uint8)
    portrait = cv2.resize(portrait, (side, side))
    out = []
    for k in range(FRAMES_PER_CHUNK):
        ok, jpeg = cv2.imencode(
            ".jpg", np.roll(portrait, k, axis=0), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
        )
        assert ok
        out.append(jpeg.tobytes())
    return out


def _handler(speed: float):
    chunk_work_s = CHUNK_SAMPLES / RATE_HZ / speed

    def handle(ws: ServerConnection) -> None:
        frames: list[bytes] = []
        ready_at = time.monotonic()
        try:
            for message in ws:
                if isinstance(message, str):
                    request = json.loads(message)
                    kind = request.get("type")
                    if kind == "session.create":
                        config = request.get("config") or {}
                        side = int(config.get("width") or 512)
                        image = (request.get("inputs") or {}).get("image_b64", "")
                        frames = _frames(str(image), side)
                        terms = RemoteSessionSpec("slow", RATE_HZ, CHUNK_SAMPLES, FPS, side, side)
                        ws.send(json.dumps(created_message(terms)))
                    elif kind == "session.cancel":
                        ws.send(json.dumps({"type": "session.cancelled"}))
                    elif kind == "ping":
                        ws.send(json.dumps({"type": "pong"}))
                    elif kind == "session.close":
                        return
                    continue
                # One chunk at a time, each taking chunk_work_s: the server's own pace.
                ready_at = max(ready_at, time.monotonic()) + chunk_work_s
                time.sleep(max(0.0, ready_at - time.monotonic()))
                ws.send(video_message(frames))
        except ConnectionClosed:
            pass

    return handle


def main() -> None:
    speed = float(sys.argv[1]) if len(sys.argv) > 1 else 0.5
    with serve(_handler(speed), "127.0.0.1", 0, max_size=1 << 24) as server:
        print(server.socket.getsockname()[1], flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
