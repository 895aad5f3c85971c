import json
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from docsbot.adapters.models import AdapterVersion
from docsbot.adapters.selectors import adapter_version_get_promoted
from docsbot.adapters.services import adapter_version_promote, adapter_version_rollback, gate_decide
from docsbot.core.errors import AppError


def evaluation(f1: float, rouge: float = 0.5, base_f1: float = 0.1, forgetting: float = 1.0) -> dict:
    return {"evaluation": {"heldout_examples": 5, "adapter": {"f1": f1, "rouge_l": rouge},
                           "base": {"f1": base_f1, "rouge_l": 0.1}, "forgetting_ppl_ratio": forgetting}}


def version(team, number: int, f1: float = 0.5, path=None) -> AdapterVersion:
    """A version row whose directory has just enough for the serving layer's checks."""
    if path is None:
        path = settings.ADAPTER_DIR / ".versions" / team.slug / f"v{number}"
        path.mkdir(parents=True)
        (path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 8}))
    return AdapterVersion.objects.create(team=team, number=number, path=str(path), method="lora",
                                         rank=8, base_model="tiny", metrics=evaluation(f1))


def significant(p_value: float, gain: float = 0.3) -> dict:
    candidate = evaluation(0.4)
    candidate["evaluation"]["significance"] = {"f1": {"gain": gain, "p_value": p_value, "n": 50}}
    return candidate


def test_it_promotes_only_a_significant_gain_over_the_base_model():
    assert gate_decide(candidate=significant(0.01), current=None, max_forgetting=1.05).promote
    weak = gate_decide(candidate=significant(0.2), current=None, max_forgetting=1.05)
    assert not weak.promote and "not a significant gain" in weak.reason and "p=0.2" in weak.reason
    forgot = gate_decide(candidate=significant(0.01) | {"evaluation": {
        **significant(0.01)["evaluation"], "forgetting_ppl_ratio": 1.06}}, current=None, max_forgetting=1.05)
    assert not forgot.promote and forgot.reason.startswith("forgetting")


def test_it_refuses_an_adapter_that_says_not_covered_where_it_was_given_the_source():
    def refusing(adapter: float, base: float = 0.0) -> dict:
        candidate = significant(0.01)
        candidate["evaluation"]["adapter"]["false_abstention"] = adapter
        candidate["evaluation"]["base"]["false_abstention"] = base
        return candidate

    decision = gate_decide(candidate=refusing(0.63), current=None, max_forgetting=1.05, max_false_abstention=0.25)
    assert not decision.promote and decision.reason.startswith("abstention") and "63%" in decision.reason
    assert gate_decide(candidate=refusing(0.2), current=None, max_forgetting=1.05, max_false_abstention=0.25).promote
    # No worse than the base: the limit is the base model's own share when that is higher.
    assert gate_decide(candidate=refusing(0.3, base=0.35), current=None, max_forgetting=1.05,
                       max_false_abstention=0.25).promote


def test_it_compares_with_the_current_version_on_the_same_examples_when_it_was_scored_there():
    candidate = significant(0.01)
    candidate["evaluation"]["current"] = {"f1": 0.45, "rouge_l": 0.5}
    decision = gate_decide(candidate=candidate, current=evaluation(0.1), max_forgetting=1.05)
    assert not decision.promote and "on the same examples" in decision.reason


def test_it_promotes_only_what_beats_the_current_version():
    assert gate_decide(candidate=evaluation(0.4), current=None, max_forgetting=1.5).promote
    assert not gate_decide(candidate=evaluation(0.05), current=None, max_forgetting=1.5).promote
    assert gate_decide(candidate=evaluation(0.6), current=evaluation(0.5), max_forgetting=1.5).promote
    tie = gate_decide(candidate=evaluation(0.5, rouge=0.5), current=evaluation(0.5, rouge=0.5), max_forgetting=1.5)
    assert not tie.promote and "does not beat the current version" in tie.reason
    forgot = gate_decide(candidate=evaluation(0.9, forgetting=2.0), current=None, max_forgetting=1.5)
    assert not forgot.promote and forgot.reason.startswith("forgetting")
    assert not gate_decide(candidate={}, current=None, max_forgetting=1.5).promote


def test_it_keeps_one_promoted_version_and_rolls_back(team, other_team, adapter_settings):
    v1, v2 = version(team, 1), version(team, 2)
    theirs = adapter_version_promote(version=version(other_team, 1))
    adapter_version_promote(version=v1)
    adapter_version_promote(version=v2)
    v1.refresh_from_db()
    assert v1.status == "retired" and adapter_version_get_promoted(team=team) == v2
    assert adapter_version_rollback(team=team) == v1
    assert adapter_version_get_promoted(team=team) == v1
    assert adapter_version_get_promoted(team=other_team) == theirs  # other teams are untouched
    with pytest.raises(AppError, match="no earlier promoted version"):
        adapter_version_rollback(team=team)
    link = Path(settings.ADAPTER_DIR) / "team-alpha"
    assert link.is_symlink() and link.resolve() == Path(v1.path).resolve()


def test_it_does_not_promote_what_serving_rejects(team, adapter_settings, tmp_path):
    missing = version(team, 1, path=tmp_path / "gone")
    with pytest.raises(AppError, match="serving did not take version 1"):
        adapter_version_promote(version=missing)
    assert adapter_version_get_promoted(team=team) is None


def test_it_promotes_and_rolls_back_from_the_command_line(team, adapter_settings, capsys):
    version(team, 1), version(team, 2)
    call_command("promote", "--team", team.slug, "--version", "1")
    call_command("promote", "--team", team.slug, "--version", "2")
    call_command("rollback", "--team", team.slug)
    assert "rolled back to version 1" in capsys.readouterr().out
    with pytest.raises(CommandError, match="has no adapter version 9"):
        call_command("promote", "--team", team.slug, "--version", "9")
    with pytest.raises(CommandError, match="no team 'nope'"):
        call_command("rollback", "--team", "nope")
