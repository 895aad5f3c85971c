"""Question-answer examples about the fixture docs (tests/fixtures/docs), in dataset_build's format.

Used by the training tests and bench/train.py until real pairs come from docsbot.qa;
each example's messages carry the source section and two distractors, as RAFT does.
"""
from __future__ import annotations

import random

from docsbot.core.prompts import ContextChunk, build_messages

SECTIONS = {
    "install": ContextChunk("Quickstart", "Installing the CLI",
                            "Install the command-line tool with pip: pip install acme-widgets. "
                            "Then run acme login to authenticate with your API key."),
    "config": ContextChunk("Quickstart", "Configuring the project",
                           "Create a file named acme.toml in the project root. The region option selects the "
                           "data centre; the default is eu-west. The timeout option sets the request timeout in "
                           "seconds and defaults to 30. The retries option sets how many times a failed upload "
                           "is retried and defaults to 3."),
    "401": ContextChunk("Quickstart", "Error ACME-401: invalid API key",
                        "The API key was revoked or mistyped. Create a new key on the account page and run "
                        "acme login again."),
    "429": ContextChunk("Quickstart", "Error ACME-429: too many requests",
                        "You sent more than 100 requests in a minute. Wait a minute, or raise the limit on the "
                        "billing page."),
    "deploy": ContextChunk("Deploying widgets", "Deploying widgets",
                           "Widgets are deployed with the acme deploy command. A deployment uploads the built "
                           "widget bundle and switches traffic to it once health checks pass."),
    "rollback": ContextChunk("Deploying widgets", "Rolling back",
                             "Run acme rollback to switch traffic back to the previous bundle. Rollbacks take "
                             "effect within ten seconds and keep the failed bundle for inspection."),
    "env": ContextChunk("Deploying widgets", "Environment variables",
                        "ACME_TOKEN is the API token used by the CLI when no login session exists. ACME_REGION "
                        "overrides the region option from acme.toml."),
    "create": ContextChunk("API reference", "Creating a widget",
                           "Send POST /widgets with a JSON body containing the widget name and its size. The "
                           "response contains the new widget's id."),
    "delete": ContextChunk("API reference", "Deleting a widget",
                           "Send DELETE /widgets/{id}. Deleted widgets can be restored for 30 days."),
}

PAIRS = [  # (section, question, answer)
    ("install", "How do I install the CLI?", "Install it with pip: pip install acme-widgets [1]."),
    ("install", "How do I authenticate the CLI?", "Run acme login to authenticate with your API key [1]."),
    ("config", "What is the default region?", "The default region is eu-west [1]."),
    ("config", "What is the default request timeout?", "The timeout defaults to 30 seconds [1]."),
    ("config", "Where do I put the acme.toml file?", "Create acme.toml in the project root [1]."),
    ("config", "How many times is a failed upload retried?", "A failed upload is retried 3 times by default [1]."),
    ("401", "What does error ACME-401 mean?", "The API key was revoked or mistyped [1]."),
    ("401", "How do I fix an invalid API key?", "Create a new key on the account page and run acme login again [1]."),
    ("429", "What causes error ACME-429?", "You sent more than 100 requests in a minute [1]."),
    ("429", "How do I get past the request limit?", "Wait a minute, or raise the limit on the billing page [1]."),
    ("deploy", "How are widgets deployed?", "Widgets are deployed with the acme deploy command [1]."),
    ("deploy", "When does a deployment switch traffic?", "Traffic switches once health checks pass [1]."),
    ("rollback", "How do I roll back a deployment?", "Run acme rollback to switch traffic back to the previous bundle [1]."),
    ("rollback", "How fast does a rollback take effect?", "Rollbacks take effect within ten seconds [1]."),
    ("env", "What is ACME_TOKEN?", "ACME_TOKEN is the API token used by the CLI when no login session exists [1]."),
    ("env", "How do I override the region?", "Set ACME_REGION to override the region option from acme.toml [1]."),
    ("create", "How do I create a widget?", "Send POST /widgets with a JSON body containing the name and size [1]."),
    ("create", "What does the create response contain?", "The response contains the new widget's id [1]."),
    ("delete", "How do I delete a widget?", "Send DELETE /widgets/{id} [1]."),
    ("delete", "Can a deleted widget be restored?", "Deleted widgets can be restored for 30 days [1]."),
]
HELDOUT_EVERY = 4  # every 4th pair is held out


def example(index: int, section: str, question: str, answer: str, *, rng: random.Random,
            team: str = "alpha", distractors: int = 2) -> dict:
    others = [key for key in SECTIONS if key != section]
    contexts = [SECTIONS[section]] + [SECTIONS[key] for key in rng.sample(others, distractors)]
    rng.shuffle(contexts)
    answer = answer.replace("[1]", f"[{contexts.index(SECTIONS[section]) + 1}]")
    messages = build_messages(team=team, question=question, contexts=contexts)
    return {"id": index + 1, "question": question, "answer": answer, "context": SECTIONS[section].text,
            "messages": messages + [{"role": "assistant", "content": answer}]}


def fixture_examples(*, seed: int = 0, team: str = "alpha", distractors: int = 2) -> tuple[list[dict], list[dict]]:
    """(train, heldout) examples."""
    rng = random.Random(seed)
    examples = [example(i, s, q, a, rng=rng, team=team, distractors=distractors)
                for i, (s, q, a) in enumerate(PAIRS)]
    heldout = [e for i, e in enumerate(examples) if i % HELDOUT_EVERY == HELDOUT_EVERY - 1]
    train = [e for i, e in enumerate(examples) if i % HELDOUT_EVERY != HELDOUT_EVERY - 1]
    return train, heldout
