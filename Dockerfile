# Home Assistant add-on image: the CosyVoice Wyoming server on a Debian base with CPU-only PyTorch.
# The Supervisor passes BUILD_FROM and TORCH_INDEX_URL from build.yaml; by hand:
#   docker build --build-arg BUILD_FROM=ghcr.io/home-assistant/amd64-base-debian:bookworm \
#     --build-arg TORCH_INDEX_URL=<PyTorch's CPU-only wheel index> .
ARG BUILD_FROM
FROM ${BUILD_FROM}

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

ENV PATH="/opt/cosyvoice/bin:${PATH}" \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Debian's Python (3.11 on bookworm) in a virtual environment, and the user the server runs as.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
    && python3 -m venv /opt/cosyvoice \
    && useradd --system --user-group --create-home --home-dir /var/lib/cosyvoice \
        --shell /usr/sbin/nologin cosyvoice

# CPU-only PyTorch from PyTorch's CPU wheel index (TORCH_INDEX_URL, from build.yaml): the default index's Linux
# builds of torch (amd64, and aarch64 too in recent releases such as 2.13) pull in several GB of CUDA libraries.
# The check refuses a CUDA build. Headers, test programs and the protobuf compiler (for building extensions and
# testing torch) go.
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=""
RUN if [ -z "${TORCH_INDEX_URL}" ]; then \
        echo "Set the build argument TORCH_INDEX_URL to PyTorch's CPU-only wheel index" >&2; exit 1; \
    fi \
    && pip install --extra-index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}" \
    && python -W ignore -c "import sys, torch; sys.exit(f'torch {torch.__version__} is a CUDA build' if torch.version.cuda else 0)" \
    && torch_dir="$(python -W ignore -c 'import os, torch; print(os.path.dirname(torch.__file__))')" \
    && rm -rf "${torch_dir}"/include "${torch_dir}"/test "${torch_dir}"/bin/*Test "${torch_dir}"/bin/test_* \
        "${torch_dir}"/bin/protoc* "${torch_dir}"/lib/lib*test*.so \
    && python -W ignore -c "import torch; assert float(torch.ones(3) @ torch.ones(3)) == 3.0"

# This repository's server package; pip itself is not needed at run time.
COPY pyproject.toml README.md /usr/src/wyoming-cosyvoice/
COPY wyoming_cosyvoice /usr/src/wyoming-cosyvoice/wyoming_cosyvoice
RUN pip install /usr/src/wyoming-cosyvoice \
    && rm -rf /usr/src/wyoming-cosyvoice \
    && pip uninstall --yes pip

# s6-overlay services: the server and the discovery message to Home Assistant.
COPY rootfs /

# Healthy once the server answers describe. The first start downloads the model (about 1.7 GB) before the
# server listens: the start period leaves an hour for that.
HEALTHCHECK --start-period=60m --interval=30s --timeout=15s --retries=3 \
    CMD ["/opt/cosyvoice/bin/python", "-m", "wyoming_cosyvoice.health_check", "--uri", "tcp://127.0.0.1:10200"]
