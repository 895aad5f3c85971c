"""Training writes adapter directories and serving reads them without importing each other
(DESIGN.md): both sides must agree on the file names and on which method a config describes."""
from __future__ import annotations

import pytest

from serving import adapter_format as served
from training import artifacts as written

CONFIGS = [
    {"peft_type": "LORA", "r": 8},
    {"peft_type": "LORA", "r": 8, "use_dora": True},
    {"peft_type": "IA3"},
    {"peft_type": "PROMPT_TUNING"},
    {"peft_type": "PREFIX_TUNING"},
    {"peft_type": "BOTTLENECK"},
    {"peft_type": "LOHA"},
    {},
]


def test_it_names_the_files_alike_on_both_sides():
    assert (written.CONFIG, written.WEIGHTS, written.MANIFEST) == (served.CONFIG, served.WEIGHTS, served.MANIFEST)


@pytest.mark.parametrize("config", CONFIGS)
def test_it_reads_the_method_of_a_config_alike_on_both_sides(config):
    assert written.method_of(config) == served.method_of(config)


@pytest.mark.parametrize("config", CONFIGS)
def test_it_lets_the_embedded_engine_serve_what_training_says_it_serves(config):
    says_embedded = "embedded" in written.servable_by(config, max_rank=64)
    assert says_embedded == (served.embedded_problems(config, max_rank=64) == [])
