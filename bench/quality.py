"""Answer quality of a team adapter on SmolLM2-135M-Instruct, on documentation nobody tuned for. Prints JSON.

    DOCSBOT_DATA_DIR=/tmp/bench-quality .venv/bin/python bench/quality.py --corpus requests|celery|drf|all \
        [--train-minutes 10] [--out bench/results/quality.json]

Per corpus, the product's own path end to end, in one process: ingest the HTML pages (fresh team
``quality-<corpus>``) → structural pairs → RAFT dataset (qa.selectors.dataset_build) → a LoRA
training job on the default base model, time-bounded, run in the foreground by the worker's own
runner (so the gate and its held-out evaluation are the production ones) → base vs adapter on
(a) the held-out pairs (the adapter the gate judged): F1, citation accuracy, not-covered accuracy on
withheld-source twins, with paired tests; (b) natural user questions written from the pages before any
pair was generated (bench/questions/<corpus>.jsonl), asked of the served adapter (for a team under 200
pairs, the refit on every pair) as chat asks them (top-k hybrid retrieval, the production prompt):
citation accuracy (cites a chunk of the expected page), F1 against the short reference,
abstention on the questions the docs do not cover.

Targets (issue 14): held-out F1 gain >= 0.10 with p < 0.05; natural-question citation accuracy
improved with p < 0.05; forgetting (general-text perplexity, the worse of the gate's and the refit's) < +5 %; one corpus under 30 minutes
on 2 idle cores. Corpora: the Requests docs in ../shared/corpora, and Debian's python-celery-doc
and python-djangorestframework-doc (installed with apt-get when missing). Never the Flask set
(the generators were tuned on it).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docsbot.settings")
os.environ.setdefault("DOCSBOT_DATA_DIR", "/tmp/bench-quality")
QUESTIONS = ROOT / "bench" / "questions"
from corpora import CORPORA, Corpus, pages_folder

# Never Flask: the generators were tuned on it.
QUALITY_CORPORA = ("requests", "celery", "drf")
TARGETS = {"heldout_f1_gain": 0.10, "p_value": 0.05, "forgetting_ppl_ratio": 1.05, "corpus_minutes": 30}


def corpus_team(corpus_name: str, *, prefix: str):
    """A fresh team ``<prefix>-<corpus>`` with the corpus's pages ingested and its structural pairs generated."""
    from docsbot.documents.services import ingest_paths
    from docsbot.qa.services import qa_generate
    from docsbot.teams.models import Team
    from docsbot.teams.services import team_create

    slug = f"{prefix}-{corpus_name}"
    Team.objects.filter(slug=slug).delete()
    team = team_create(slug=slug, name=corpus_name)
    with tempfile.TemporaryDirectory() as scratch:
        ingest_paths(team=team, items=[str(pages_folder(CORPORA[corpus_name], Path(scratch)))])
    qa_generate(team=team, generator="structural")
    return team


def load_questions(name: str) -> list[dict[str, Any]]:
    path = QUESTIONS / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def natural_examples(team, questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each question as chat sends it: top-k hybrid retrieval kept and ordered as chat does, the production prompt;
    ``gold`` is the numbers of the retrieved chunks that come from the expected page."""
    from django.conf import settings

    from docsbot.chat.relevance import hit_similarities, prompt_hits
    from docsbot.core.prompts import NO_ANSWER, build_messages
    from docsbot.documents.excerpts import prompt_contexts
    from docsbot.documents.models import Document
    from docsbot.documents.selectors import chunk_search

    paths = dict(Document.objects.filter(team=team).values_list("pk", "source_path"))
    examples = []
    for question in questions:
        found = chunk_search(team=team, query=question["question"], k=settings.CHAT_TOP_K)
        # As chat orders and keeps them (most similar first, within CHAT_CONTEXT_MARGIN of the best); the
        # relevance threshold is not applied: every question here is asked of the model.
        hits = prompt_hits(found, hit_similarities(query=question["question"], hits=found), min_score=-1.0,
                           margin=settings.CHAT_CONTEXT_MARGIN)
        contexts = prompt_contexts(question["question"], [hit.context() for hit in hits])
        messages = build_messages(team=team.name, question=question["question"], contexts=contexts)
        covered = question.get("covered", True)
        gold = {n for n, h in enumerate(hits, start=1) if paths.get(h.document_id) == question["expected_page"]} \
            if covered else None
        messages.append({"role": "assistant", "content": question["reference"] if covered else NO_ANSWER})
        examples.append({"id": question["id"], "messages": messages, "gold": gold, "covered": covered,
                         "page_retrieved": bool(gold)})
    return examples


def score_natural(model, tokenizer, examples: list[dict[str, Any]], *, max_new_tokens: int) -> dict[str, Any]:
    from training.evaluate import generate_answers, score_answer, summarize

    answers = generate_answers(model, tokenizer, examples, max_new_tokens=max_new_tokens)
    scores = [score_answer(answer, example["messages"][-1]["content"],
                           gold=example["gold"] if example["covered"] else None)
              for answer, example in zip(answers, examples, strict=True)]
    return {**summarize(scores), "scores": scores,
            "answers": [{"id": e["id"], "answer": a} for e, a in zip(examples, answers, strict=True)]}


def rescored_as_shown(side: dict[str, Any], examples: list[dict[str, Any]]) -> dict[str, Any]:
    """``side``'s answers rescored after chat's own finishing of an answer (docsbot.chat.generate: citations
    as_shown, and an answer its documents do not say withheld as not covered); ``withheld``: how many."""
    from docsbot.chat.generate import as_shown, is_withheld, shown_support
    from docsbot.core.prompts import NO_ANSWER, prompt_question
    from training.evaluate import score_answer, summarize

    scores, withheld = [], 0
    for answer, example in zip(side["answers"], examples, strict=True):
        prompt = example["messages"][-2]["content"]
        text = as_shown(answer["answer"], prompt=prompt, documents=prompt.count("<document index="))
        if is_withheld(shown_support(text, prompt=prompt, question=prompt_question(prompt))):
            text, withheld = NO_ANSWER, withheld + 1
        scores.append(score_answer(text, example["messages"][-1]["content"],
                                   gold=example["gold"] if example["covered"] else None))
    return {**summarize(scores), "scores": scores, "withheld": withheld}


def adapter_model(base_model: str, version_path: str):
    """(tokenizer, the base model with the adapter version on it), loaded in float32 as the gate loads them."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base_model, dtype=torch.float32)
    return AutoTokenizer.from_pretrained(base_model), PeftModel.from_pretrained(model, version_path).eval()


def natural_questions(team, version_path: str, base_model: str, *, max_new_tokens: int = 80) -> dict[str, Any]:
    from training.evaluate import compare, inference_dtype

    examples = natural_examples(team, load_questions(team.slug.removeprefix("quality-")))
    tokenizer, model = adapter_model(base_model, version_path)
    with inference_dtype(model):  # the gate's dtype: bf16 on CPUs with native bf16
        adapter = score_natural(model, tokenizer, examples, max_new_tokens=max_new_tokens)
        with model.disable_adapter():
            base = score_natural(model, tokenizer, examples, max_new_tokens=max_new_tokens)
    base_shown, adapter_shown = rescored_as_shown(base, examples), rescored_as_shown(adapter, examples)
    return {"questions": len(examples), "covered": sum(e["covered"] for e in examples),
            "expected_page_retrieved": sum(e["page_retrieved"] for e in examples if e["covered"]),
            "base": side_rates(base), "adapter": side_rates(adapter), "significance": compare(base, adapter),
            # the answers as chat shows them (citations that name no document dropped, quotes cited)
            "as_shown": {"base": side_rates(base_shown), "adapter": side_rates(adapter_shown),
                         "significance": compare(base_shown, adapter_shown)},
            "answers": [{"id": b["id"], "base": b["answer"], "adapter": a["answer"]}
                        for b, a in zip(base["answers"], adapter["answers"], strict=True)]}


def side_rates(side: dict[str, Any]) -> dict[str, Any]:
    """Rates with 95 % intervals (Wilson for proportions, bootstrap for mean F1)."""
    from training.stats import mean_interval, wilson_interval

    scores = side["scores"]
    covered = [s for s in scores if s["covered"]]
    withheld = [s for s in scores if not s["covered"]]
    citable = [s for s in covered if s["cites_gold"] is not None]
    out: dict[str, Any] = {"f1": round(side["f1"], 4),
                           "f1_ci": [round(v, 4) for v in mean_interval([s["f1"] for s in covered])]}
    for key, items, flag in (("citation_accuracy", citable, "cites_gold"),
                             ("not_covered_accuracy", withheld, "abstained"),
                             ("false_abstention", covered, "abstained")):
        hits = sum(1 for s in items if s[flag])
        out[key] = round(hits / len(items), 4) if items else None
        out[f"{key}_ci"] = [round(v, 4) for v in wilson_interval(hits, len(items))] if items else None
        out[f"{key}_n"] = len(items)
    if "withheld" in side:
        out["withheld"] = side["withheld"]  # as chat shows them: answers its documents do not say
    return out


def run_corpus(corpus: Corpus, *, train_minutes: float, eval_max: int,
               overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    from docsbot.adapters.models import AdapterVersion, TrainingJob
    from docsbot.adapters.runner import evaluation_figures, training_job_run
    from docsbot.adapters.services import training_job_create
    from docsbot.core.serving import base_model_path
    from docsbot.documents.models import Chunk, Document
    from docsbot.documents.services import ingest_paths
    from docsbot.qa.selectors import dataset_build
    from docsbot.qa.services import qa_generate
    from docsbot.teams.models import Team
    from docsbot.teams.services import team_create

    started = time.monotonic()
    timings: dict[str, float] = {}
    slug = f"quality-{corpus.name}"
    Team.objects.filter(slug=slug).delete()
    team = team_create(slug=slug, name=corpus.name)
    with tempfile.TemporaryDirectory() as scratch:
        folder = pages_folder(corpus, Path(scratch))
        mark = time.monotonic()
        ingest_paths(team=team, items=[str(folder)])
        timings["ingest_s"] = time.monotonic() - mark
    mark = time.monotonic()
    generation = qa_generate(team=team, generator="structural").as_dict()
    timings["pairs_s"] = time.monotonic() - mark
    mark = time.monotonic()
    dataset = dataset_build(team=team)
    timings["dataset_s"] = time.monotonic() - mark
    _progress(f"{corpus.name}: {Document.objects.filter(team=team).count()} pages, "
              f"{Chunk.objects.filter(team=team).count()} chunks, {len(dataset.train)} train / "
              f"{dataset.heldout_pairs} held-out pairs ({len(dataset.heldout)} held-out examples); training "
              f"{train_minutes:.0f} min")
    mark = time.monotonic()
    job = training_job_create(team=team, method="lora", dataset=dataset, enqueue=False,
                              hyperparameters={"time_budget_s": train_minutes * 60, "eval_max_examples": eval_max,
                                               **(overrides or {})})
    training_job_run(job_id=job.pk, owner=f"bench-quality:{os.getpid()}")
    job.refresh_from_db()
    timings["train_and_gate_s"] = time.monotonic() - mark
    if job.status != TrainingJob.Status.SUCCEEDED:
        return {"corpus": corpus.name, "error": f"training job {job.status}: {job.error}"}
    version = AdapterVersion.objects.get(job=job)
    metrics = version.metrics
    evaluation = metrics["evaluation"]
    mark = time.monotonic()
    natural = natural_questions(team, version.path, base_model_path())
    timings["natural_questions_s"] = time.monotonic() - mark
    gate = job.events.filter(message__contains="version").order_by("-pk").values_list("message", flat=True).first()
    heldout_tests = evaluation["significance"]
    result = {
        "corpus": corpus.name, "base_model": job.base_model,
        "pages": Document.objects.filter(team=team).count(), "chunks": Chunk.objects.filter(team=team).count(),
        "pairs": {"generated": generation.get("pairs"), "kept": generation.get("kept"),
                  "train_examples": len(dataset.train), "heldout_pairs": dataset.heldout_pairs},
        "training": {"steps": metrics["steps"], "seconds": metrics["train_seconds"],
                     "tokens_per_second": metrics["tokens_per_second"], "final_loss": metrics["final_loss"],
                     "time_budget": metrics.get("time_budget", ""), "config": job.config,
                     "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                     # a small team's version trained again on every pair once the gate passed (adapters.runner)
                     "refit": metrics.get("refit")},
        "heldout": {**evaluation_figures(evaluation), "base": side_rates(evaluation["base"]),
                    "adapter": side_rates(evaluation["adapter"]), "significance": heldout_tests},
        "natural": natural,
        "gate": gate, "adapter_status": version.status,
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "minutes": round((time.monotonic() - started) / 60, 1),
    }
    natural_citation = natural["significance"].get("citation", {})
    forgetting = max(evaluation["forgetting_ppl_ratio"], (metrics.get("refit") or {}).get("forgetting_ppl_ratio", 0))
    result["targets"] = {
        "heldout_f1_gain": {"value": round(evaluation["f1_gain"], 4), "p": heldout_tests["f1"]["p_value"],
                            "met": evaluation["f1_gain"] >= TARGETS["heldout_f1_gain"]
                            and heldout_tests["f1"]["p_value"] < TARGETS["p_value"]},
        "natural_citation_gain": {"value": natural_citation.get("gain"), "p": natural_citation.get("p_value"),
                                  "met": (natural_citation.get("gain") or 0) > 0
                                  and (1 if natural_citation.get("p_value") is None else natural_citation["p_value"]) < TARGETS["p_value"]},
        # the served adapter's: the refit's when there was one
        "forgetting": {"value": round(forgetting, 4), "met": forgetting < TARGETS["forgetting_ppl_ratio"]},
        "minutes": {"value": result["minutes"], "met": result["minutes"] < TARGETS["corpus_minutes"]},
    }
    return result


def emit(report: dict[str, Any], out: Path | None) -> None:
    """Print a bench's JSON report, and write it to ``out`` too when given."""
    text = json.dumps(report, indent=2, default=str)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    print(text)


def _progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", choices=[*QUALITY_CORPORA, "all"], default="requests")
    parser.add_argument("--train-minutes", type=float, default=10.0, help="training time budget per corpus")
    parser.add_argument("--eval-max", type=int, default=75, help="held-out examples the gate scores")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a training setting for every corpus (as manage.py train --set), e.g. adapted_layers=all")
    args = parser.parse_args()

    import django

    django.setup()
    from docsbot.adapters.management.commands.train import parse_settings

    overrides = parse_settings(args.set)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("prepare_base_model", stdout=sys.stderr)  # stdout is the JSON report
    names = list(QUALITY_CORPORA) if args.corpus == "all" else [args.corpus]
    results = []
    for name in names:
        _progress(f"{name}: start")
        results.append(run_corpus(CORPORA[name], train_minutes=args.train_minutes, eval_max=args.eval_max,
                                  overrides=overrides))
        _progress(f"{name}: done in {results[-1].get('minutes')} min")
    report = {"bench": "quality", "targets": TARGETS, "load_average": os.getloadavg(),
              "corpora": results}
    emit(report, args.out)


if __name__ == "__main__":
    main()
