"""How often `make demo`'s adapter answers the demo question right, over training seeds.

    DOCSBOT_DATA_DIR=/tmp/bench-demo-answer .venv/bin/python bench/demo_answer.py --seeds 0 1 2 [--out F]

The demo trains one adapter for 70 steps on 30 pairs of a 135 M model; whether its greedy answer to the one
question it asks is right can turn on a near-tie of first tokens. One run says little, so this bench repeats
the demo's training with other seeds (weight initialisation, batch order, rehearsal text) and counts.

Per seed, a fresh team gets what `make demo` gives its team: the project's own user docs ingested, structural
pairs, one training job with the demo's settings run by the worker's runner (the gate, and the refit when it
passes). The demo question is then asked through chat's own path (``answer_question``) of an embedded server,
with that job's version, and once of the base model before any training (the baseline). An answer counts as
right when it cites the page on uploading and names at least two of its three ways to upload (the admin
upload page, the HTTP API, the ingest command); every answer is in the report to read.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docsbot.settings")
os.environ.setdefault("DOCSBOT_DATA_DIR", "/tmp/bench-demo-answer")

from quality import _progress, emit

SOURCE_PAGE = "uploading-docs.md"
UPLOAD_WAYS = {"admin upload page": re.compile(r"\badmin\b|upload page", re.IGNORECASE),
               "HTTP API": re.compile(r"\bAPI\b"),
               "ingest command": re.compile(r"\bingest\b", re.IGNORECASE)}
_MARKER = re.compile(r"\[(\d+)\]")


def judged(answer: str, sources: list[dict[str, Any]]) -> dict[str, Any]:
    """Whether the answer cites the uploading page and names at least two ways to upload."""
    cited = {int(n) for n in _MARKER.findall(answer)}
    cites_page = any(s["index"] in cited and s["url"].endswith(SOURCE_PAGE) for s in sources)
    ways = [way for way, pattern in UPLOAD_WAYS.items() if pattern.search(answer)]
    return {"answer": answer, "cites_uploading_page": cites_page, "ways_named": ways,
            "right": cites_page and len(ways) >= 2}


def demo_team(slug: str):
    """A fresh team with what `make demo` gives its team: the user docs ingested, structural pairs."""
    from docsbot.core.management.commands.demo import DEMO_TEAM, ENGINEERS_PAGES
    from docsbot.documents.services import ingest_paths
    from docsbot.qa.services import qa_generate
    from docsbot.teams.models import Team
    from docsbot.teams.services import team_create

    Team.objects.filter(slug=slug).delete()
    team = team_create(slug=slug, name=DEMO_TEAM)  # the team's name is in the system prompt: the demo's
    pages = [str(p) for p in sorted((ROOT / "docs").glob("*.md")) if p.name not in ENGINEERS_PAGES]
    ingest_paths(team=team, items=pages, sync=True)
    qa_generate(team=team, generator="structural")
    return team


def ask(team, url: str, *, version: int | None) -> dict[str, Any]:
    from django.conf import settings

    from docsbot.adapters.experiments import candidate_release
    from docsbot.chat.generate import answer_question
    from docsbot.core.management.commands.demo import DEMO_QUESTION
    from serving.client import ServingClient

    client = ServingClient(url, api_key=settings.SERVING_API_KEY)
    try:
        answer = answer_question(team=team, question=DEMO_QUESTION, client=client, pinned_version=version)
    finally:
        if version is not None:
            candidate_release(team=team, number=version)
    return judged(answer.answer, answer.sources)


def train_as_the_demo(team, seed: int) -> dict[str, Any]:
    from docsbot.adapters.models import AdapterVersion, TrainingJob
    from docsbot.adapters.runner import training_job_run
    from docsbot.adapters.services import training_job_create
    from docsbot.core.management.commands.demo import DEMO_TRAINING_MAX_SECONDS, DEMO_TRAINING_STEPS

    job = training_job_create(team=team, method="lora", enqueue=False, hyperparameters={
        "max_steps": DEMO_TRAINING_STEPS, "time_budget_s": DEMO_TRAINING_MAX_SECONDS, "seed": seed})
    training_job_run(job_id=job.pk, owner=f"bench-demo-answer:{os.getpid()}")
    job.refresh_from_db()
    if job.status != TrainingJob.Status.SUCCEEDED:
        raise SystemExit(f"training job for seed {seed} {job.status}: {job.error}")
    version = AdapterVersion.objects.get(job=job)
    evaluation = version.metrics["evaluation"]
    return {"version": version.number, "status": version.status, "refit": bool(version.metrics.get("refit")),
            "heldout_f1": [round(evaluation["base"]["f1"], 3), round(evaluation["adapter"]["f1"], 3)],
            "heldout_citation": evaluation["adapter"]["citation_accuracy"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds (the demo's: 0)")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command

    from docsbot.core.serving import embedded_server

    call_command("migrate", verbosity=0)
    call_command("prepare_base_model", stdout=sys.stderr)  # stdout is the JSON report
    started = time.monotonic()
    runs = []
    with embedded_server() as url:
        base = ask(demo_team("demo-answer-base"), url, version=None)
        _progress(f"base model: {'right' if base['right'] else 'wrong'}: {base['answer']!r}")
        for seed in args.seeds:
            team = demo_team(f"demo-answer-seed-{seed}")
            trained = train_as_the_demo(team, seed)
            runs.append({"seed": seed, **trained, **ask(team, url, version=trained["version"])})
            _progress(f"seed {seed}: {'right' if runs[-1]['right'] else 'wrong'}: {runs[-1]['answer']!r}")
    right = sum(run["right"] for run in runs)
    emit({"bench": "demo_answer", "base": base, "adapter_right": f"{right}/{len(runs)}", "runs": runs,
          "minutes": round((time.monotonic() - started) / 60, 1), "load_average": os.getloadavg()}, args.out)


if __name__ == "__main__":
    main()
