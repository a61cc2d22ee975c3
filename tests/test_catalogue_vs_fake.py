"""Two readings of the documentation must agree: the model catalogue drain-ls prices and
plans requests from (``drain_ls/models.toml``) and the fake API's own table
(``tests/fake_anthropic.py`` ``MODELS``), transcribed separately, each figure with its
source. A figure one of them gets wrong shows up here as a disagreement."""

from __future__ import annotations

import tomllib
from importlib import resources

import pytest

from drain_ls.models import catalogue
from tests.fake_anthropic import MODELS

RAW = {
    entry["id"]: entry
    for entry in tomllib.loads(
        resources.files("drain_ls").joinpath("models.toml").read_text("utf-8")
    )["model"]
}


def unknown(model_id: str) -> set[str]:
    """The catalogue's placeholders (figures no page gives)."""
    entry = RAW.get(catalogue()[model_id].id, {})
    return set(entry.get("unknown", []))


@pytest.mark.parametrize("model_id", sorted(MODELS))
def test_the_catalogue_and_the_fake_agree(model_id: str) -> None:
    ours = catalogue()[model_id]
    fake = MODELS[model_id]
    if "min_cacheable" not in unknown(model_id):
        assert ours.min_cacheable == fake.min_cacheable
    assert ours.tokens_per_text == pytest.approx(fake.tokenizer)
    assert (ours.thinking_default == "adaptive") == (fake.thinking in ("on", "always"))
    # What drain-ls sends to keep thinking out of a short answer is accepted by the fake.
    params = ours.thinking_params()
    if "thinking" in params:
        assert params["thinking"]["type"] in fake.thinking_types
    effort = params.get("output_config", {}).get("effort")
    if effort is not None:
        assert effort in fake.efforts
    if fake.retires is not None:
        assert ours.retires_on == fake.retires
