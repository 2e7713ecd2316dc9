"""An OmniRT realtime-avatar server that creates sessions properly and then misbehaves, run
as its own process: ``python -m tests.support.omnirt_faulty MODE`` prints its port, then
answers every audio chunk as MODE says:

- ``bad-jpeg``: the right number of frames, none of them a JPEG;
- ``wrong-count``: real JPEG frames, fewer than the chunk makes;
- ``error``: an ``error`` message, as a server out of GPU memory sends.
"""

from __future__ import annotations

import json
import sys

import cv2
import numpy as np
from websockets.sync.server import ServerConnection, serve

from headcast.render.remote.omnirt_wire import RemoteSessionSpec, created_message, video_message

CHUNK_SAMPLES = 7680  # 0.48 s at 16 kHz: 12 frames at 25 fps
FPS = 25
RATE_HZ = 16_000


def _handler(mode: str):
    def handle(ws: ServerConnection) -> None:
        side = 512
        for message in ws:
            if isinstance(message, str):
                request = json.loads(message)
                if request.get("type") == "session.create":
                    side = int((request.get("config") or {}).get("width") or side)
                    terms = RemoteSessionSpec("faulty", RATE_HZ, CHUNK_SAMPLES, FPS, side, side)
                    ws.send(json.dumps(created_message(terms)))
                continue
            frames = CHUNK_SAMPLES * FPS // RATE_HZ
            if mode == "bad-jpeg":
                ws.send(video_message([b"\xff\xd8 not a jpeg"] * frames))
            elif mode == "wrong-count":
                ok, jpeg = cv2.imencode(".jpg", np.full((side, side, 3), 128, np.uint8))
                assert ok
                ws.send(video_message([jpeg.tobytes()] * (frames - 3)))
            else:
                ws.send(json.dumps({"type": "error", "code": "out_of_memory",
                                    "message": "CUDA out of memory"}))  # fmt: skip

    return handle


def main() -> None:
    with serve(_handler(sys.argv[1]), "127.0.0.1", 0, max_size=1 << 24) as server:
        print(server.socket.getsockname()[1], flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
