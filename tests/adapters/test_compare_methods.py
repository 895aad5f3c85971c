"""manage.py compare_methods: each method on the same pairs and split, a report on the team, the
admin's table and its promote action; and the vLLM note before a method vLLM cannot serve."""
from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from docsbot.adapters.models import AdapterVersion, TrainingJob
from docsbot.adapters.services import training_job_create

pytestmark = pytest.mark.django_db


def test_it_compares_methods_reports_each_and_promotes_the_winner_from_the_admin(
        admin_client, team, dataset, adapter_settings, tmp_path):
    path = tmp_path / "dataset.json"
    path.write_text(json.dumps(dataset))
    out = StringIO()
    call_command("compare_methods", "--team", team.slug, "--methods", "ia3", "bottleneck", "--max-steps", "2",
                 "--minutes-per-method", "1", "--eval-max-examples", "2", "--eval-max-new-tokens", "4",
                 "--decode-tokens", "4", "--dataset", str(path), "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert [row["method"] for row in report["methods"]] == ["ia3", "bottleneck"]
    for row in report["methods"]:
        assert row["trainable_parameters"] > 0 and row["size_bytes"] > 0 and row["steps"] == 2
        assert row["train_tokens_per_second"] > 0 and row["peak_memory_bytes"] > 0
        assert row["adapter"]["f1_interval"][0] <= row["adapter"]["f1"] <= row["adapter"]["f1_interval"][1]
        assert "f1" in row["base"] and row["forgetting_ppl_ratio"] > 0
        assert row["serving"]["decode_tokens_per_second"] > 0, row["serving"]
        assert row["serving"]["mixed"]["other_adapters"] == 7 and row["serving"]["mixed"]["per_stream_tokens_per_second"] > 0
        assert "vllm" not in row["servable_by"] and row["serving_note"]
    team.refresh_from_db()
    assert team.method_comparison == report
    page = admin_client.get(f"/admin/teams/methodcomparison/{team.pk}/change/")
    assert page.status_code == 200 and b"bottleneck" in page.content and b"decode tok/s" in page.content
    assert page.content.count(b"<rect") == 2  # the chart: one F1 bar per method
    report["winner"] = "bottleneck"  # whatever won, promote one
    type(team).objects.filter(pk=team.pk).update(method_comparison=report)
    admin_client.post("/admin/teams/methodcomparison/", {"action": "promote_winner", "_selected_action": [team.pk]})
    version = AdapterVersion.objects.get(team=team)
    assert (version.method, version.status, version.job) == ("bottleneck", AdapterVersion.Status.PROMOTED, None)


@pytest.mark.parametrize("method, warned", [("lora", False), ("ia3", True), ("prompt_tuning", True)])
def test_it_says_before_training_when_vllm_cannot_serve_the_method(team, adapter_settings, method, warned):
    job = training_job_create(team=team, method=method, enqueue=False)
    warnings = [e.message for e in job.events.filter(level="warn")]
    assert bool(warnings) == warned and all("vLLM cannot serve" in w for w in warnings)
    assert TrainingJob.objects.get(pk=job.pk).method == method


def test_it_picks_as_winner_only_a_method_the_gate_would_promote():
    from docsbot.adapters.comparisons import comparison_winner

    def row(method: str, f1: float, *, forgetting: float = 1.0, refused: float = 0.0) -> dict:
        return {"method": method, "trainable_parameters": 1000, "forgetting_ppl_ratio": forgetting,
                "adapter": {"f1": f1, "false_abstention": refused}, "base": {"f1": 0.1, "false_abstention": 0.0}}

    rows = [row("lora", 0.5), row("dora", 0.6, refused=0.7), row("ia3", 0.7, forgetting=1.2)]
    assert comparison_winner(rows, max_forgetting=1.05, max_false_abstention=0.5) == "lora"
    assert comparison_winner(rows, max_forgetting=1.05, max_false_abstention=0.8) == "dora"
