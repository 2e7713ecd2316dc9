"""Voice-agent integrations: time from a turn's first TTS audio to the first speaking picture,
through pipecat's HeadcastVideoService and LiveKit's HeadcastVideoGenerator, each in local
mode (the integration starts its own ``headcast serve``) and remote mode (a server started
apart, reached over loopback), with the TTS ahead of real time and at real time; and the CPU
an avatar stream costs the agent and the server.

Each integration has its own locked environment (``make integrations``): its benchmark runs
with that environment's python, one after the other, so they do not share the cores.

Run: `make integrations && .venv/bin/python benchmarks/bench_integrations.py [--turns 5]`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHES = {
    "pipecat": ROOT / "integrations/pipecat/bench_first_frame.py",
    "livekit": ROOT / "integrations/livekit/bench_first_frame.py",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=5, help="turns timed per case")
    args = parser.parse_args()
    missing = [
        name for name in BENCHES if not (ROOT / "integrations" / name / ".venv/bin/python").exists()
    ]
    if missing:
        sys.exit(f"set up the integrations' environments first: make integrations ({missing})")
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    print(f"commit {head.stdout.strip()}")
    for name, script in BENCHES.items():
        python = ROOT / "integrations" / name / ".venv/bin/python"
        print(f"\n== {name}", flush=True)
        subprocess.run([str(python), str(script), "--turns", str(args.turns)], cwd=ROOT, check=True)


if __name__ == "__main__":
    main()
