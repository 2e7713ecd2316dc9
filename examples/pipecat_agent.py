"""A pipecat voice agent with a headcast avatar in the video slot.

    transport in → STT → user context → LLM → TTS → HeadcastVideoService → transport out

The avatar sits where ``SimliVideoService`` (or HeyGen's, Tavus's) would: it takes the TTS's
audio and emits the talking head's frames together with that audio. STT, LLM and TTS are
placeholders from pipecat's catalogue; swap in any. Install the services' extras beside the
integration (``pipecat-ai[daily,deepgram,openai,cartesia,silero,webrtc,runner]``), set their
keys (``DEEPGRAM_API_KEY``, ``OPENAI_API_KEY``, ``CARTESIA_API_KEY``, ``CARTESIA_VOICE_ID``),
then:

    integrations/pipecat/.venv/bin/python examples/pipecat_agent.py            # SmallWebRTC
    integrations/pipecat/.venv/bin/python examples/pipecat_agent.py -t daily

``HEADCAST_URL`` (and ``HEADCAST_API_KEY``) point the avatar at a running ``headcast serve``;
without them it starts one beside the agent from ``HEADCAST_COMMAND`` (local mode).
``HEADCAST_PORTRAIT`` is the face (default: the repository's sample portrait).
"""

from __future__ import annotations

import os
from pathlib import Path

from headcast_pipecat import HeadcastVideoService
from loguru import logger
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.frames.frames import LLMRunFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.runner.types import RunnerArguments
from pipecat.runner.utils import create_transport
from pipecat.services.cartesia.tts import CartesiaTTSService
from pipecat.services.deepgram.stt import DeepgramSTTService
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.transports.base_transport import BaseTransport, TransportParams
from pipecat.transports.daily.transport import DailyParams
from pipecat.workers.runner import WorkerRunner

SIZE_PX = 512
FPS = 25
PORTRAIT = Path(
    os.environ.get("HEADCAST_PORTRAIT")
    or Path(__file__).resolve().parents[1] / "samples" / "astronaut.png"
)

# The avatar's size and rate. Not video_out_is_live: the service routes each picture through
# the transport's audio queue, so it is shown exactly when its audio starts playing.
video_out = {
    "video_out_enabled": True,
    "video_out_width": SIZE_PX,
    "video_out_height": SIZE_PX,
    "video_out_framerate": FPS,
}
transport_params = {
    "daily": lambda: DailyParams(audio_in_enabled=True, audio_out_enabled=True, **video_out),
    "webrtc": lambda: TransportParams(audio_in_enabled=True, audio_out_enabled=True, **video_out),
}


def avatar() -> HeadcastVideoService:
    """Remote mode with ``HEADCAST_URL``, else local mode."""
    return HeadcastVideoService(
        portrait=PORTRAIT,
        url=os.environ.get("HEADCAST_URL"),
        api_key=os.environ.get("HEADCAST_API_KEY", ""),
        settings=HeadcastVideoService.Settings(fps=FPS, size_px=SIZE_PX),
    )


async def run_bot(transport: BaseTransport, runner_args: RunnerArguments) -> None:
    stt = DeepgramSTTService(api_key=os.environ["DEEPGRAM_API_KEY"])
    llm = OpenAILLMService(
        api_key=os.environ["OPENAI_API_KEY"],
        settings=OpenAILLMService.Settings(
            system_instruction=(
                "You are a friendly assistant in a video call. Your answers are spoken, so "
                "use no lists, emojis or formatting. Keep them short."
            ),
        ),
    )
    tts = CartesiaTTSService(
        api_key=os.environ["CARTESIA_API_KEY"],
        settings=CartesiaTTSService.Settings(voice=os.environ["CARTESIA_VOICE_ID"]),
    )
    context = LLMContext()
    user_aggregator, assistant_aggregator = LLMContextAggregatorPair(
        context, user_params=LLMUserAggregatorParams(vad_analyzer=SileroVADAnalyzer())
    )

    pipeline = Pipeline(
        [
            transport.input(),
            stt,
            user_aggregator,
            llm,
            tts,
            avatar(),  # was: SimliVideoService(api_key=..., face_id=...)
            transport.output(),
            assistant_aggregator,
        ]
    )
    # A lost avatar server is reported as a non-fatal error: the agent talks on without
    # video, and the avatar comes back between turns once the server does.
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(enable_metrics=True, enable_usage_metrics=True),
        idle_timeout_secs=runner_args.pipeline_idle_timeout_secs,
    )
    runner = WorkerRunner(handle_sigint=runner_args.handle_sigint)
    await runner.add_workers(worker)

    @transport.event_handler("on_client_connected")
    async def on_client_connected(transport: BaseTransport, client: object) -> None:
        logger.info("client connected")
        await worker.queue_frames([LLMRunFrame()])  # the agent speaks first

    @transport.event_handler("on_client_disconnected")
    async def on_client_disconnected(transport: BaseTransport, client: object) -> None:
        await runner.cancel()

    await runner.run()


async def bot(runner_args: RunnerArguments) -> None:
    """The entry point pipecat's runner (and Pipecat Cloud) calls."""
    transport = await create_transport(runner_args, transport_params)
    await run_bot(transport, runner_args)


if __name__ == "__main__":
    from pipecat.runner.run import main

    main()
