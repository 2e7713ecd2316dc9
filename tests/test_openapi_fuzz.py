"""Schemathesis over the real server's OpenAPI schema: no request it makes up gets a 5xx.

Every operation in the schema is called with generated data (valid and invalid), with a key.
Limits are tiny so that a request the fuzzer happens to get right (a text job, say) renders a
second of video, not minutes; examples per operation are few, to keep the run well under a
minute.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.support.servers import server_fixture

KEY = "fuzz-key"
MAX_EXAMPLES = 6


fuzzed_server = server_fixture(
    shared_dir=True,
    api_keys=(KEY,),
    rate_limit_per_min=0,
    max_upload_bytes=256 * 1024,
    max_audio_s=2.0,
    max_text_chars=40,
    max_queued_jobs=2,
    max_live_sessions=2,
)


def _fuzz(operation, mode: GenerationMode, called: list[str]) -> None:
    """Call ``operation`` with generated requests of one kind; fail on a 5xx or a non-JSON error."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same requests every run: a failure here is reproducible
        phases=[Phase.generate],  # no shrinking: the failure message names the call
        suppress_health_check=list(HealthCheck),
    )
    def call(case):
        response = case.call(headers={"X-API-Key": KEY}, timeout=60)
        where = f"{case.method} {case.formatted_path} ({mode.value})"
        called.append(where)
        assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:300]}"
        if response.status_code >= 400:
            content_type = {k.lower(): v for k, v in response.headers.items()}["content-type"]
            assert content_type[0].startswith("application/json"), where
            assert response.json()["error"]["message"], where

    try:
        call()
    except Unsatisfiable:
        # Nothing to get wrong: an operation without parameters has no invalid requests.
        assert mode is GenerationMode.NEGATIVE


def test_no_server_errors_and_errors_are_json(fuzzed_server):
    schema = schemathesis.openapi.from_url(fuzzed_server.base_url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10, "the schema lists the service's operations"
    called: list[str] = []
    for operation in operations:
        _fuzz(operation, GenerationMode.POSITIVE, called)
        if _can_be_wrong(operation):
            _fuzz(operation, GenerationMode.NEGATIVE, called)
    assert len(called) >= len(operations) + 5


def _can_be_wrong(operation) -> bool:
    """Whether invalid requests exist: any string is a valid path parameter, so an operation
    with no body and no query parameters has none (and Hypothesis would search in vain)."""
    locations = {parameter.location for parameter in operation.iter_parameters()}
    return bool(operation.get_request_payload_content_types()) or bool(locations - {"path"})
