"""An assistant that keeps learning (issue 20): a docs release, the retrain it fires, and an A/B. Prints JSON.

    DOCSBOT_DATA_DIR=/tmp/bench-continuous .venv/bin/python bench/continuous.py \
        [--train-minutes 8 | --steps N] [--eval-max 40] [--threshold-chunks 10] [--quick] [--out FILE]

The product's own path end to end, in one process, on the Requests 2.28 docs (../shared/corpora) and
the real base model (SmolLM2-135M-Instruct) on CPU:

1. v1: ingest the HTML pages into a fresh team ``continuous-requests`` (the retrain check runs after
   the ingest as the worker runs it) → structural pairs → RAFT dataset → a LoRA job, time-bounded, run
   in the foreground by the worker's runner; the production gate decides (v1 is promoted by hand,
   and the JSON says so, when the gate keeps it).
2. The next release: ten facts changed on ten different pages (a default, an argument name, a
   renamed extension, numbers; EDITS), each checked to have applied, and the folder ingested again.
   The retrain check (``retrain_check_run``, what the worker runs after an ingest) must queue the
   job by itself (trigger docs_changed, pairs regenerated for the changed chunks, warm start from
   v1); the bench only runs that queued job in the foreground. Auto-promotion is off for it, so v2
   stays a candidate for the A/B; the gate's verdict is recomputed and reported.
3. 30 questions about the changed facts (3 per edit), asked as chat asks them (top-k retrieval over
   the NEW docs, the production prompt) of the base model, v1 and v2. "States the new fact" and
   "repeats the old fact" are whole-word, case-insensitive matches of the edit's new and old value
   in the answer; v1's stale-fact rate is how often the old adapter repeats the old fact although
   retrieval hands it the new page.
4. Unchanged pages: from v2's gate evaluation (v1 and v2 scored on the same held-out examples), F1
   on held-out pairs of pages the release did not touch, with the one-sided paired bootstrap of a drop.
5. A/B: v2 answers 50 % of 400 simulated conversations routed by chat's own router (no model runs:
   each answer is stored as chat stores it, with a thumbs up/down drawn with a fixed seed, P(up)
   0.55 for v1 and 0.75 for v2); the production evaluation decides; its Fisher p-value is checked
   against scipy's (or an exact computation here when scipy is missing).

Targets (issue 20): v2 states the new fact in >= 80 % of the 30 answers; no significant drop
(p < 0.05) on unchanged pages; the A/B ends with v2 promoted; its reported p-value is correct.

The retrain threshold: the product's default (20 chunks or 5 % of the team's, whichever is fewer)
is not reached by ten one-sentence edits on Requests (514 chunks, about 12 changed), so the team's
setting is lowered to ``--threshold-chunks`` (10) before the release, and the JSON reports what the
default policy would have decided.
"""
from __future__ import annotations

import argparse
import math
import os
import random
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("DOCSBOT_DATA_DIR", "/tmp/bench-continuous")  # before quality's own default
sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpora import CORPORA, ROOT, pages_folder
from quality import _progress, emit, natural_examples

sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docsbot.settings")
TEAM_SLUG = "continuous-requests"
TARGETS = {"v2_new_fact_rate": 0.8, "p_value": 0.05, "traffic_share_tolerance": 0.075}
AB_CONVERSATIONS = 400
AB_SEED = 20
P_THUMBS_UP = {"v1": 0.55, "v2": 0.75}  # the simulated users' built-in preference


@dataclass(frozen=True)
class Edit:
    page: str
    kind: str
    replacements: tuple[tuple[str, str], ...]  # HTML (old, new); every occurrence on the page
    old: str  # the fact's value as the page said it, and as the new page says it
    new: str
    questions: tuple[str, str, str]


EDITS = (
    Edit("index.html", "protocol version",
         (("allows you to send HTTP/1.1 requests", "allows you to send HTTP/2 requests"),),
         "HTTP/1.1", "HTTP/2",
         ("Which version of HTTP does Requests let me send requests with?",
          "What kind of HTTP requests does Requests allow you to send extremely easily?",
          "Which HTTP protocol version do the requests made with this library use?")),
    Edit("community/faq.html", "recommended version",
         (("migrate to Python 3.8+ now", "migrate to Python 3.10+ now"),),
         "3.8", "3.10",
         ("Which Python version is it highly recommended that Python 2.7 users migrate to?",
          "I'm still on Python 2.7. Which Python version should I move to?",
          "Now that Requests no longer supports Python 2.7, which Python should users migrate to?")),
    Edit("community/support.html", "limit",
         (("less than 280 characters", "less than 500 characters"),),
         "280", "500",
         ("How short does my question have to be to send it as a tweet to the maintainers?",
          "What is the character limit for questions I send to the Requests maintainers on Twitter?",
          "Can I tweet my question about Requests, and how long can it be?")),
    Edit("community/vulnerabilities.html", "deadline",
         (("two days <em>at the outside</em>", "five days <em>at the outside</em>"),),
         "two days", "five days",
         ("How long at most will it take for a project member to respond to my security report?",
          "After I report a vulnerability, within how many days will someone respond at the outside?",
          "What is the longest I should wait for a response to a security issue I reported?")),
    Edit("dev/contributing.html", "limit",
         (("soft-limit of 79 characters wide", "soft-limit of 99 characters wide"),),
         "79", "99",
         ("What is the soft limit on line width in the documentation text files?",
          "How many characters wide should lines be when I contribute documentation?",
          "When I contribute docs, what line length should I keep my text files to?")),
    Edit("community/recommended.html", "extension renamed",
         (("CacheControl", "requests-cache"),
          ("https://cachecontrol.readthedocs.io/en/latest/", "https://requests-cache.readthedocs.io/en/stable/")),
         "CacheControl", "requests-cache",
         ("Which extension adds a full HTTP cache to Requests?",
          "Is there a recommended package for caching HTTP responses with Requests?",
          "What should I use to make my web requests more efficient when I'm making a lot of them?")),
    Edit("user/install.html", "repository URL",
         (("git clone git://github.com/psf/requests.git", "git clone https://github.com/psf/requests.git"),),
         "git://github.com/psf/requests.git", "https://github.com/psf/requests.git",
         ("What command do I use to clone the public Requests repository?",
          "How can I get the Requests source code with git?",
          "What is the git URL to clone Requests from GitHub?")),
    Edit("user/advanced.html", "environment variable renamed",
         (("REQUESTS_CA_BUNDLE", "REQUESTS_CA_FILE"),),
         "REQUESTS_CA_BUNDLE", "REQUESTS_CA_FILE",
         ("Which environment variable can I use to specify the list of trusted CAs?",
          "How do I point Requests at a custom CA bundle through an environment variable?",
          "Which environment variable is read for trusted CAs before falling back to CURL_CA_BUNDLE?")),
    Edit("user/authentication.html", "handler replaced",
         (('requests/requests-ntlm">NTLM</a>', 'requests/requests-spnego">SPNEGO</a>'),),
         "NTLM", "SPNEGO",
         ("Which other forms of authentication are brought together under the Requests organization?",
          "Besides Kerberos, which authentication handler is available from the Requests organization?",
          "Which authentication handlers from the Requests organization can I plug in?")),
    Edit("user/quickstart.html", "example value",
         (('chunk_size</span><span class="o">=</span><span class="mi">128</span>',
           'chunk_size</span><span class="o">=</span><span class="mi">8192</span>'),),
         "128", "8192",
         ("What chunk_size does the quickstart pass to iter_content to save a streamed download?",
          "When saving a streamed response to a file, which chunk size should I pass to iter_content?",
          "How do I save what is being streamed to a file, and with which chunk size?")),
)


# --- the release --------------------------------------------------------------------------------

def _normalise(text: str) -> str:
    text = text.lower().replace("\u2019", "'")
    return " ".join(re.sub(r"[`*]", "", text).split())


def mentions(text: str, value: str) -> bool:
    """``value`` in ``text``, case-insensitive, as a whole word ("99" is not in "1999")."""
    value = _normalise(value)
    pattern = re.escape(value)
    if value[:1].isalnum() or value[:1] == "_":
        pattern = r"(?<!\w)" + pattern
    if value[-1:].isalnum() or value[-1:] == "_":
        pattern += r"(?!\w)"
    return re.search(pattern, _normalise(text)) is not None


def release_apply(folder: Path) -> list[dict[str, Any]]:
    """Apply EDITS to the HTML pages in ``folder``; fails loudly when an edit finds nothing to change."""
    pages = [edit.page for edit in EDITS]
    if len(set(pages)) != len(pages):
        raise SystemExit("bench/continuous.py: every edit must be on a different page")
    applied = []
    for edit in EDITS:
        path = folder / edit.page
        html = path.read_text(encoding="utf-8")
        counts = []
        for old, new in edit.replacements:
            if old not in html:
                raise SystemExit(f"bench/continuous.py: edit on {edit.page}: {old!r} is not on the page")
            counts.append(html.count(old))
            html = html.replace(old, new)
            if old in html:
                raise SystemExit(f"bench/continuous.py: edit on {edit.page}: {old!r} is still on the page")
        path.write_text(html, encoding="utf-8")
        applied.append({"page": edit.page, "kind": edit.kind, "old": edit.old, "new": edit.new,
                        "html_replacements": [{"old": old, "new": new, "occurrences": count}
                                              for (old, new), count in zip(edit.replacements, counts, strict=True)]})
    return applied


def release_check_ingested(team) -> None:
    """After the ingest: each edited page's chunks state the new value and no longer the old one."""
    from docsbot.documents.models import Chunk

    for edit in EDITS:
        text = "\n".join(Chunk.objects.filter(team=team, document__source_path=edit.page).values_list("text", flat=True))
        if not mentions(text, edit.new) or mentions(text, edit.old):
            raise SystemExit(f"bench/continuous.py: {edit.page} as ingested does not say {edit.new!r} instead of "
                             f"{edit.old!r}")


def ingest_and_check(team, folder: Path) -> tuple[dict[str, Any], Any]:
    """An ingest run, then the retrain check the worker runs after it (retrain_check_enqueue's task)."""
    from docsbot.adapters.retrain import retrain_check_run
    from docsbot.documents.services import ingest_paths

    report = ingest_paths(team=team, items=[str(folder)])
    decision = retrain_check_run(team_id=team.pk, run_id=report.get("run"))
    return report, decision


def default_policy_verdict(changes) -> dict[str, Any]:
    """What the product's default retrain policy would have decided on the same changes."""
    from docsbot.adapters.models import RetrainPolicy
    from docsbot.adapters.retrain import retrain_threshold

    default = RetrainPolicy()  # unsaved: the field defaults
    threshold = retrain_threshold(policy=default, chunks=max(changes.chunks, changes.unchanged + changes.removed))
    return {"threshold_chunks": default.threshold_chunks, "threshold_percent": default.threshold_percent,
            "threshold": threshold, "changed_chunks": changes.total, "would_fire": changes.total >= threshold}


# --- training and the gate ----------------------------------------------------------------------

def job_run(job_id: int) -> Any:
    from docsbot.adapters.models import AdapterVersion, TrainingJob
    from docsbot.adapters.runner import training_job_run

    training_job_run(job_id=job_id, owner=f"bench-continuous:{os.getpid()}")
    job = TrainingJob.objects.select_related("team").get(pk=job_id)
    if job.status != TrainingJob.Status.SUCCEEDED:
        raise SystemExit(f"bench/continuous.py: training job {job.pk} {job.status}: {job.error}")
    return job, AdapterVersion.objects.get(job=job)


def gate_event(job) -> str | None:
    """The runner's word on the version: "promoted version N: ..." or "kept version N as a candidate: ..."."""
    return (job.events.filter(message__regex=r"^(promoted|kept) version").order_by("-pk")
            .values_list("message", flat=True).first())


def version_summary(job, version) -> dict[str, Any]:
    from docsbot.adapters.runner import evaluation_figures

    metrics = version.metrics
    evaluation = metrics.get("evaluation")
    figures = evaluation_figures(evaluation) if evaluation else {}
    return {"version": version.number, "job": job.pk, "trigger": job.trigger, "steps": metrics.get("steps"),
            "train_seconds": metrics.get("train_seconds"), "time_budget": metrics.get("time_budget"),
            "refit": metrics.get("refit"), "config": {k: job.config.get(k) for k in ("learning_rate", "rank", "epochs")},
            "heldout": {key: figures.get(key) for key in (
                "heldout_examples", "covered_examples", "f1_base", "f1_adapter", "p_f1", "citation_accuracy_base",
                "citation_accuracy_adapter", "forgetting_ppl_ratio")},
            "gate_event": gate_event(job)}


def v1_train(team, dataset, hyperparameters: dict[str, Any]) -> dict[str, Any]:
    from docsbot.adapters.models import AdapterVersion
    from docsbot.adapters.services import adapter_version_promote, training_job_create

    job = training_job_create(team=team, method="lora", dataset=dataset, enqueue=False,
                              hyperparameters=hyperparameters)
    job, version = job_run(job.pk)
    summary = version_summary(job, version)
    summary["promoted_by"] = "gate" if version.status == AdapterVersion.Status.PROMOTED else "bench (by hand)"
    if version.status != AdapterVersion.Status.PROMOTED:
        adapter_version_promote(version=version, actor="bench",
                                reason="bench/continuous.py: v1 must be live before the release")
    return summary


def unchanged_pages(job, version) -> dict[str, Any]:
    """v1 (``current``) and v2 (``adapter``) F1 on the gate's held-out pairs, split by the job's changed
    pages as retrain.changed_pages_check splits them; p_drop: one-sided paired bootstrap that v2 is worse."""
    from docsbot.qa.models import QAPair
    from training.stats import paired_bootstrap

    evaluation = version.metrics.get("evaluation") or {}
    ids = evaluation.get("example_ids") or []
    current = (evaluation.get("current") or {}).get("scores")
    if not current or len(current) != len(ids):
        return {"error": "v1 was not scored on v2's held-out examples: "
                         f"{(evaluation.get('current') or {}).get('error', 'no rival scores')}"}
    changed = set((job.changes or {}).get("pages") or [])
    page_of = dict(QAPair.objects.filter(team=job.team, pk__in=ids).values_list("pk", "chunk__document__source_path"))
    rows = [(page_of.get(pk) in changed, old["f1"], new["f1"])
            for pk, old, new in zip(ids, current, evaluation["adapter"]["scores"], strict=True) if old.get("covered")]
    out = {}
    for name, wanted in (("changed_pages", True), ("unchanged_pages", False)):
        v1 = [old for is_changed, old, _ in rows if is_changed == wanted]
        v2 = [new for is_changed, _, new in rows if is_changed == wanted]
        drop, gain = paired_bootstrap(v2, v1), paired_bootstrap(v1, v2)
        out[name] = {"heldout_pairs": len(v1), "f1_v1": round(drop.mean_b, 4), "f1_v2": round(drop.mean_a, 4),
                     "p_drop": round(drop.p_value, 4), "p_gain": round(gain.p_value, 4)}
    return out


def retrain_run(team, decision, *, jobs_before: int) -> tuple[dict[str, Any], Any, Any]:
    """Run the job the retrain check queued (the worker would), with auto-promotion off so that v2 stays
    a candidate for the A/B; the gate's verdict is recomputed with v1 still live."""
    from django.conf import settings

    from docsbot.adapters.models import TrainingJob
    from docsbot.adapters.runner import gate_decision

    queued = decision.job
    if decision.action != "queued" or queued is None:
        raise SystemExit(f"bench/continuous.py: the retrain did not fire: {decision.action}: {decision.reason}")
    fired = {"decision": decision.action, "reason": decision.reason, "job": queued.pk, "trigger": queued.trigger,
             "jobs_created_by_the_check": TrainingJob.objects.filter(team=team).count() - jobs_before,
             "changes": decision.changes.as_dict()}
    settings.AUTO_PROMOTE = False
    try:
        job, version = job_run(queued.pk)
    finally:
        settings.AUTO_PROMOTE = True
    verdict = gate_decision(job, version.metrics)
    fired.update(fired_by_itself=queued.trigger == TrainingJob.Trigger.DOCS_CHANGED
                 and fired["jobs_created_by_the_check"] == 1,
                 job_reason=job.reason, warm_start=(job.changes or {}).get("warm_start"),
                 warm_start_reason=(job.changes or {}).get("warm_start_reason"),
                 pairs=(job.changes or {}).get("pairs"), live_version=(job.changes or {}).get("live_version"))
    summary = {**version_summary(job, version), "gate": {"promote": verdict.promote, "reason": verdict.reason,
                                                         "auto_promote": False}, "status": version.status,
               **unchanged_pages(job, version)}
    return fired, summary, version


# --- the changed-fact questions -----------------------------------------------------------------

def fact_questions() -> list[dict[str, Any]]:
    return [{"id": f"e{e:02d}-q{q}", "question": text, "expected_page": edit.page, "reference": edit.new,
             "covered": True, "edit": edit}
            for e, edit in enumerate(EDITS, start=1) for q, text in enumerate(edit.questions, start=1)]


def ask(team, versions: dict[str, str], base_model: str, *, max_new_tokens: int = 80) -> dict[str, Any]:
    """Each question as chat asks it (retrieval over the team's docs now), answered by the base model and
    by each version's adapter, loaded beside each other on one base in transformers + PEFT."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from training.evaluate import generate_answers, inference_dtype

    questions = fact_questions()
    examples = natural_examples(team, questions)
    tokenizer = AutoTokenizer.from_pretrained(base_model)
    model = AutoModelForCausalLM.from_pretrained(base_model, dtype=torch.float32)
    names = list(versions)
    model = PeftModel.from_pretrained(model, versions[names[0]], adapter_name=names[0])
    for name in names[1:]:
        model.load_adapter(versions[name], adapter_name=name)
    model.eval()
    answers: dict[str, list[str]] = {}
    with inference_dtype(model):
        for name in names:
            model.set_adapter(name)
            answers[name] = generate_answers(model, tokenizer, examples, max_new_tokens=max_new_tokens)
        with model.disable_adapter():
            answers["base"] = generate_answers(model, tokenizer, examples, max_new_tokens=max_new_tokens)
    return fact_scores(questions, examples, answers)


def fact_scores(questions: list[dict[str, Any]], examples: list[dict[str, Any]],
                answers: dict[str, list[str]]) -> dict[str, Any]:
    rows = []
    for index, (question, example) in enumerate(zip(questions, examples, strict=True)):
        edit: Edit = question["edit"]
        prompt = "\n".join(message["content"] for message in example["messages"][:-1])
        rows.append({"id": question["id"], "page": edit.page, "question": question["question"],
                     "old": edit.old, "new": edit.new, "page_retrieved": example["page_retrieved"],
                     "new_fact_retrieved": mentions(prompt, edit.new), "old_fact_in_context": mentions(prompt, edit.old),
                     "answers": {name: {"answer": texts[index], "states_new": mentions(texts[index], edit.new),
                                        "repeats_old": mentions(texts[index], edit.old)}
                                 for name, texts in answers.items()}})
    retrieved = [row for row in rows if row["new_fact_retrieved"]]
    rates = {name: {"new_fact": _rate(rows, name, "states_new"), "stale_fact": _rate(rows, name, "repeats_old"),
                    "stale_fact_when_new_fact_retrieved": _rate(retrieved, name, "repeats_old"),
                    "new_fact_when_new_fact_retrieved": _rate(retrieved, name, "states_new")}
             for name in answers}
    return {"questions": len(rows), "new_fact_retrieved": len(retrieved),
            "expected_page_retrieved": sum(row["page_retrieved"] for row in rows),
            "rates": rates, "per_question": rows}


def _rate(rows: list[dict[str, Any]], name: str, flag: str) -> dict[str, Any]:
    from training.stats import wilson_interval

    hits = sum(1 for row in rows if row["answers"][name][flag])
    low, high = wilson_interval(hits, len(rows))
    return {"hits": hits, "n": len(rows), "rate": round(hits / len(rows), 4) if rows else None,
            "ci": [round(low, 4), round(high, 4)]}


# --- the A/B ------------------------------------------------------------------------------------

def ab_test(team, control, candidate, *, conversations: int = AB_CONVERSATIONS, seed: int = AB_SEED) -> dict[str, Any]:
    from django.conf import settings

    from docsbot.adapters.experiments import (
        experiment_decide,
        experiment_start,
        experiments_evaluate,
    )
    from docsbot.adapters.models import AdapterVersion
    from docsbot.chat.feedback import feedback_set
    from docsbot.chat.models import Conversation, Message

    # team_model asks the serving endpoint for its base model's name unless it is configured; no model runs here
    settings.SERVING_BASE_MODEL_NAME = settings.SERVING_BASE_MODEL_NAME or "bench-base"
    experiment = experiment_start(team=team, candidate=candidate, traffic_share=0.5, actor="bench",
                                  reason="bench/continuous.py: v2 against v1 on simulated conversations")
    preference = {control.number: P_THUMBS_UP["v1"], candidate.number: P_THUMBS_UP["v2"]}
    drawn = {control.number: [0, 0], candidate.number: [0, 0]}  # [up, down]
    rng = random.Random(seed)
    earliest = None
    for index in range(1, conversations + 1):
        conversation = Conversation.objects.create(team=team)
        name, number, _ = _team_model(team, conversation)
        reply = _store_answer(team, conversation, number, name)
        up = rng.random() < preference[number]
        drawn[number][0 if up else 1] += 1
        feedback_set(team=team, message_id=reply.pk, rating=1 if up else -1)
        if earliest is None:  # a vote queues the evaluation in production: when would it have ended?
            decision = experiment_decide(experiment=experiment)
            if decision is not None:
                earliest = {"after_conversations": index, "outcome": decision[0], "reason": decision[1]}
    outcomes = experiments_evaluate(team_id=team.pk)
    experiment.refresh_from_db()
    results = experiment.results or {}
    control_counts, candidate_counts = drawn[control.number], drawn[candidate.number]
    reported = ((results.get("significance") or {}).get("thumbs_up") or {}).get("p_value")
    recomputed, method = fisher_two_sided(control_counts, candidate_counts)
    on_candidate = sum(candidate_counts)
    share_low_high = _wilson(on_candidate, conversations)
    live = AdapterVersion.objects.filter(team=team, status=AdapterVersion.Status.PROMOTED).first()
    stored = Message.objects.filter(team=team, role=Message.Role.ASSISTANT, feedback__isnull=False).count()
    return {
        "conversations": conversations, "seed": seed, "traffic_share": 0.5,
        "preference_p_up": {f"v{control.number}": preference[control.number],
                            f"v{candidate.number}": preference[candidate.number]},
        "routed": {f"v{control.number}": sum(control_counts), f"v{candidate.number}": on_candidate},
        "observed_candidate_share": round(on_candidate / conversations, 4), "observed_share_ci": share_low_high,
        "drawn_votes": {f"v{control.number}": {"up": control_counts[0], "down": control_counts[1]},
                        f"v{candidate.number}": {"up": candidate_counts[0], "down": candidate_counts[1]}},
        "rated_answers_stored": stored,
        "figures": {"control": _figures(results.get("control")), "candidate": _figures(results.get("candidate"))},
        "counts_match_simulation": _counts_match(results, control_counts, candidate_counts),
        "p_value": {"reported": reported, "recomputed": recomputed, "method": method,
                    "match": reported is not None and abs(reported - recomputed) < 1e-6},
        "outcome": experiment.outcome, "reason": experiment.reason, "evaluate_returned": outcomes,
        "earliest_decision": earliest, "live_version_after": live.number if live else None,
    }


def _team_model(team, conversation) -> tuple[str, int, Any]:
    from docsbot.chat.routing import team_model

    return team_model(team=team, client=None, conversation=conversation)


def _store_answer(team, conversation, number: int, name: str):
    """An answer stored as chat stores it: the question, the reply with the version that answered."""
    from docsbot.chat.models import Message

    question = Message.objects.create(team=team, conversation=conversation, role=Message.Role.USER,
                                      content="How do I set a timeout?")
    return Message.objects.create(team=team, conversation=conversation, role=Message.Role.ASSISTANT,
                                  content="Pass timeout= to the request [1].", reply_to=question,
                                  adapter_version=number, model_name=name,
                                  sources=[{"index": 1, "title": "Quickstart", "section": "Timeouts", "url": ""}],
                                  timings={"retrieval_ms": 10.0, "prompt_ms": 1.0, "generation_ms": 500.0})


def _figures(side: dict[str, Any] | None) -> dict[str, Any] | None:
    keys = ("version", "answers", "rated", "thumbs_up", "thumbs_down", "thumbs_up_rate", "thumbs_up_rate_ci")
    return {key: side.get(key) for key in keys} if side else None


def _counts_match(results: dict[str, Any], control: list[int], candidate: list[int]) -> bool:
    sides = (results.get("control") or {}, results.get("candidate") or {})
    return all(side.get("thumbs_up") == up and side.get("thumbs_down") == down
               for side, (up, down) in zip(sides, (control, candidate), strict=True))


def _wilson(hits: int, n: int) -> list[float]:
    from training.stats import wilson_interval

    return [round(value, 4) for value in wilson_interval(hits, n)]


def fisher_two_sided(a: list[int], b: list[int]) -> tuple[float, str]:
    """Two-sided Fisher exact p of [[a_up, a_down], [b_up, b_down]]: scipy's when installed, else summed
    here over the hypergeometric tables no more likely than the observed one."""
    try:
        from scipy.stats import fisher_exact
    except ImportError:
        pass
    else:
        return float(fisher_exact([a, b], alternative="two-sided").pvalue), "scipy.stats.fisher_exact"
    n_a, n_b, ups = sum(a), sum(b), a[0] + b[0]

    def probability(k: int) -> float:
        return math.comb(n_a, k) * math.comb(n_b, ups - k) / math.comb(n_a + n_b, ups)

    observed = probability(a[0])
    tables = range(max(0, ups - n_b), min(n_a, ups) + 1)
    return min(1.0, sum(p for p in map(probability, tables) if p <= observed * (1 + 1e-7))), "exact (here)"


# --- the run ------------------------------------------------------------------------------------

def run(*, train_minutes: float, steps: int | None, eval_max: int, quick: bool, threshold_chunks: int
        ) -> dict[str, Any]:
    from docsbot.adapters.models import AdapterVersion, TrainingJob
    from docsbot.adapters.retrain import retrain_policy_update
    from docsbot.core.serving import base_model_path
    from docsbot.documents.models import Chunk, Document
    from docsbot.qa.selectors import dataset_build
    from docsbot.qa.services import qa_generate
    from docsbot.teams.models import Team
    from docsbot.teams.services import team_create

    started = time.monotonic()
    timings: dict[str, float] = {}

    def stage(name: str, mark: float) -> float:
        timings[name] = round(time.monotonic() - mark, 1)
        _progress(f"{name}: {timings[name]} s")
        return time.monotonic()

    hyperparameters: dict[str, Any] = {"eval_max_examples": eval_max}
    # a step count makes v1 and v2 comparable on a machine whose load changes between the two jobs
    hyperparameters.update({"max_steps": steps or 20} if quick or steps else {"time_budget_s": train_minutes * 60})
    Team.objects.filter(slug=TEAM_SLUG).delete()
    team = team_create(slug=TEAM_SLUG, name="requests")
    retrain_policy_update(team=team, threshold_chunks=threshold_chunks)
    with tempfile.TemporaryDirectory(prefix="continuous-") as scratch:
        folder = pages_folder(CORPORA["requests"], Path(scratch) / "release")
        mark = time.monotonic()
        first_ingest, first_check = ingest_and_check(team, folder)
        mark = stage("ingest_v1_s", mark)
        generation = qa_generate(team=team, generator="structural").as_dict()
        dataset = dataset_build(team=team)
        mark = stage("pairs_and_dataset_s", mark)
        _progress(f"v1: {Document.objects.filter(team=team).count()} pages, {Chunk.objects.filter(team=team).count()} "
                  f"chunks, {len(dataset.train)} train examples, {dataset.heldout_pairs} held-out pairs; training")
        v1 = v1_train(team, dataset, hyperparameters)
        mark = stage("train_and_gate_v1_s", mark)

        edits = release_apply(folder)
        jobs_before = TrainingJob.objects.filter(team=team).count()
        second_ingest, decision = ingest_and_check(team, folder)
        release_check_ingested(team)
        mark = stage("ingest_release_and_retrain_check_s", mark)
    retrain, v2, v2_version = retrain_run(team, decision, jobs_before=jobs_before)
    retrain["default_policy"] = default_policy_verdict(decision.changes)
    retrain["team_policy"] = {"threshold_chunks": threshold_chunks, "threshold_percent": 5.0}
    mark = stage("train_and_gate_v2_s", mark)

    v1_version = AdapterVersion.objects.get(team=team, number=v1["version"])
    facts = ask(team, {"v1": v1_version.path, "v2": v2_version.path}, base_model_path())
    mark = stage("changed_fact_questions_s", mark)
    ab = ab_test(team, v1_version, v2_version)
    stage("ab_s", mark)

    rates = facts["rates"]
    unchanged = v2.get("unchanged_pages") or {}
    result = {
        "bench": "continuous", "corpus": "requests 2.28 (../shared/corpora)", "base_model": base_model_path(),
        "quick": quick, "hyperparameters": hyperparameters, "load_average": os.getloadavg(),
        "first_ingest": {k: first_ingest.get(k) for k in ("run", "documents", "chunks")},
        "first_check": {"action": first_check.action, "reason": first_check.reason} if first_check else None,
        "pairs": {"generated": generation.get("pairs"), "kept": generation.get("kept"),
                  "train_examples": len(dataset.train), "heldout_pairs": dataset.heldout_pairs},
        "edits": edits,
        "release_ingest": {k: second_ingest.get(k) for k in ("run", "documents", "chunks", "unchanged")},
        "v1": v1, "retrain": retrain, "v2": v2,
        "changed_fact_questions": facts, "ab": ab,
        "timings_s": timings, "minutes": round((time.monotonic() - started) / 60, 1),
    }
    result["targets"] = {
        "v2_new_fact_rate": {"value": rates["v2"]["new_fact"]["rate"], "ci": rates["v2"]["new_fact"]["ci"],
                             "met": (rates["v2"]["new_fact"]["rate"] or 0) >= TARGETS["v2_new_fact_rate"]},
        "v1_stale_fact_rate": {"value": rates["v1"]["stale_fact"]["rate"], "ci": rates["v1"]["stale_fact"]["ci"],
                               "met": None},  # reported, no target
        "retrain_fired_by_itself": {"met": bool(retrain.get("fired_by_itself"))},
        "no_significant_drop_on_unchanged_pages": {
            "f1_v1": unchanged.get("f1_v1"), "f1_v2": unchanged.get("f1_v2"), "p_drop": unchanged.get("p_drop"),
            "n": unchanged.get("heldout_pairs"),
            "met": bool(unchanged.get("heldout_pairs")) and unchanged["p_drop"] >= TARGETS["p_value"]},
        "ab_ends_with_v2_promoted": {"outcome": ab["outcome"], "live_after": ab["live_version_after"],
                                     "met": ab["outcome"] == "promoted" and ab["live_version_after"] == v2["version"]},
        "ab_p_value_correct": {"reported": ab["p_value"]["reported"], "recomputed": ab["p_value"]["recomputed"],
                               "met": ab["p_value"]["match"] and ab["counts_match_simulation"]},
        "ab_traffic_share_near_half": {"value": ab["observed_candidate_share"],
                                       "met": abs(ab["observed_candidate_share"] - 0.5)
                                       <= TARGETS["traffic_share_tolerance"]},
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-minutes", type=float, default=8.0, help="time budget of each training job")
    parser.add_argument("--steps", type=int,
                        help="optimizer steps per training job instead of a time budget (20 with --quick)")
    parser.add_argument("--eval-max", type=int, help="held-out examples the gate scores (default 40; 10 with --quick)")
    parser.add_argument("--threshold-chunks", type=int, default=10,
                        help="the team's retrain threshold in changed chunks (the product's default is 20)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 20 optimizer steps per job, eval-max 10")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    eval_max = args.eval_max or (10 if args.quick else 40)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("prepare_base_model", stdout=sys.stderr)  # stdout is the JSON report
    report = run(train_minutes=args.train_minutes, steps=args.steps, eval_max=eval_max, quick=args.quick,
                 threshold_chunks=args.threshold_chunks)
    report["targets_wanted"] = TARGETS
    emit(report, args.out)


if __name__ == "__main__":
    main()
