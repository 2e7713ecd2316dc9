"""A LiveKit Agents voice agent with a headcast avatar.

The avatar takes the agent's speech and publishes the talking head's video with that speech
into the room, as LiveKit's local avatars (bitHuman's) do: the agent's participant carries
both tracks, in step. STT, LLM and TTS are LiveKit Inference model names as placeholders;
swap in any plugins. With ``LIVEKIT_URL``, ``LIVEKIT_API_KEY`` and ``LIVEKIT_API_SECRET`` set:

    integrations/livekit/.venv/bin/python examples/livekit_agent.py dev

``HEADCAST_URL`` (and ``HEADCAST_API_KEY``) point the avatar at a running ``headcast serve``;
without them it starts one beside the agent from ``HEADCAST_COMMAND`` (local mode) and stops
it when the job ends. ``HEADCAST_PORTRAIT`` is the face (default: the repository's sample).
"""

from __future__ import annotations

import os
from pathlib import Path

from headcast_livekit import AvatarSession
from livekit.agents import Agent, AgentServer, AgentSession, JobContext, cli, room_io

PORTRAIT = os.environ.get(
    "HEADCAST_PORTRAIT", str(Path(__file__).resolve().parents[1] / "samples" / "astronaut.png")
)

server = AgentServer()


@server.rtc_session()
async def entrypoint(ctx: JobContext) -> None:
    session = AgentSession(
        stt="deepgram/nova-3",
        llm="openai/gpt-4.1-mini",
        tts="cartesia/sonic-2",
    )

    # avatar = bithuman.AvatarSession(model_path="model.imx")  # what this replaces
    avatar = AvatarSession(portrait=PORTRAIT)  # remote mode from $HEADCAST_URL, else local
    await avatar.start(session, room=ctx.room)

    await session.start(
        agent=Agent(instructions="You are a friendly assistant. Keep your answers short."),
        room=ctx.room,
        # The avatar publishes the agent's speech with its video.
        room_options=room_io.RoomOptions(audio_output=False),
    )
    await session.generate_reply(instructions="Greet the user and offer your help.")


if __name__ == "__main__":
    cli.run_app(server)
