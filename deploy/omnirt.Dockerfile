# syntax=docker/dockerfile:1
# FlashHead worker image: SoulX-FlashHead behind an OmniRT server, for a node with one NVIDIA
# GPU. headcast's remote engine talks to it; see docs/gpu.md.
#
#   docker build -f deploy/omnirt.Dockerfile -t headcast-flashhead deploy
#   docker run --gpus 1 -p 8000:8000 -v flashhead-weights:/models headcast-flashhead
#
# Both projects are installed as their own READMEs say, at pinned commits:
# - SoulX-FlashHead (github.com/Soul-AILab/SoulX-FlashHead): Python 3.10, torch 2.7.1 +
#   torchvision 0.22.1 from the cu128 index, requirements.txt, flash_attn 2.8.0.post2 built
#   without build isolation, ffmpeg.
# - OmniRT (github.com/datascale-ai/omnirt): `pip install '.[runtime,server]'` over a CUDA
#   runtime base, as its Docker deployment page does; `omnirt serve` is the server.
# The weights (SoulX-FlashHead-1_3B, wav2vec2-base-960h, about 16 GB) are not in the image:
# they live on a volume mounted at /models (the Kubernetes worker downloads them there once;
# a new Docker volume takes the image's /models, writable by the image's user).
# Nothing is copied from the build context.

# CUDA 12.8 for torch's cu128 wheels (which bring their own cuDNN); Ubuntu 22.04's Python is
# 3.10, FlashHead's. The build stage has nvcc for FlashAttention.
ARG CUDA_DEVEL_IMAGE=nvidia/cuda:12.8.1-devel-ubuntu22.04
ARG CUDA_RUNTIME_IMAGE=nvidia/cuda:12.8.1-runtime-ubuntu22.04

FROM ${CUDA_DEVEL_IMAGE} AS build
ARG FLASHHEAD_COMMIT=12467cef31a9554cd9682a0521e6e87deaef9810
ARG OMNIRT_COMMIT=91d2c504a3eca40b7ce0b5d55b684aed7fefee0c
# flash_attn compiles its CUDA kernels when no prebuilt wheel matches; this caps its memory.
ARG MAX_JOBS=4
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
       git ca-certificates python3 python3-dev python3-venv build-essential \
       libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MAX_JOBS=${MAX_JOBS}
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN git clone https://github.com/Soul-AILab/SoulX-FlashHead.git /opt/SoulX-FlashHead \
    && git -C /opt/SoulX-FlashHead checkout --quiet ${FLASHHEAD_COMMIT} \
    && rm -rf /opt/SoulX-FlashHead/.git
RUN pip install torch==2.7.1 torchvision==0.22.1 --index-url https://download.pytorch.org/whl/cu128 \
    && pip install -r /opt/SoulX-FlashHead/requirements.txt \
    && pip install ninja packaging wheel \
    && pip install flash_attn==2.8.0.post2 --no-build-isolation \
    && pip install "huggingface_hub[cli]"
RUN git clone https://github.com/datascale-ai/omnirt.git /tmp/omnirt \
    && git -C /tmp/omnirt checkout --quiet ${OMNIRT_COMMIT} \
    && pip install "/tmp/omnirt[runtime,server]" \
    && rm -rf /tmp/omnirt
# Fails the build unless the server and the FlashHead code import (no GPU needed for this).
RUN omnirt models soulx-flashhead-1.3b \
    && cd /opt/SoulX-FlashHead && python -c "import flash_attn, flash_head.inference"

FROM ${CUDA_RUNTIME_IMAGE} AS runtime
# python3 for the environment's interpreter, ffmpeg for FlashHead's video writing, libGL and
# GLib for the non-headless OpenCV that FlashHead's requirements also install.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 ffmpeg libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 omnirt \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp omnirt \
    && mkdir /models && chown 10001:10001 /models
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/SoulX-FlashHead /opt/SoulX-FlashHead
# Where OmniRT finds FlashHead (OMNIRT_FLASHHEAD_*): the code here, the weights on /models.
# HOME and the working directory are /tmp: torch's compile caches and OmniRT's outputs/.
ENV PATH=/opt/venv/bin:$PATH \
    HOME=/tmp \
    HF_HOME=/tmp/huggingface \
    OMNIRT_FLASHHEAD_REPO_PATH=/opt/SoulX-FlashHead \
    OMNIRT_FLASHHEAD_PYTHON=/opt/venv/bin/python \
    OMNIRT_FLASHHEAD_CKPT_DIR=/models/SoulX-FlashHead-1_3B \
    OMNIRT_FLASHHEAD_WAV2VEC_DIR=/models/wav2vec2-base-960h \
    PYTHONUNBUFFERED=1
WORKDIR /tmp
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["omnirt", "serve", "--host", "0.0.0.0", "--port", "8000", "--backend", "cuda", "--model-tier", "core", "--api-key-file", "/etc/omnirt/api-keys"]
