"""Answer-against-reference text metrics (SQuAD-style token F1, ROUGE-L) and the not-covered reading of an
answer. Standard library only: the pair generator's round trip (docsbot.qa) and chat's answer-support check
use them in web and worker processes that never load torch."""
from __future__ import annotations

import re
import string
from collections import Counter

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_NOT_COVERED = re.compile(
    r"\b(does not|doesn't|do not|don't|did not|cannot|can't)\s+(cover|answer|say|mention|contain|provide|include)"
    r"|\bnot (covered|mentioned|documented)\b|\bno (information|mention)\b", re.IGNORECASE)
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize_tokens(text: str) -> list[str]:
    """SQuAD-style: lower case, no punctuation or articles, whitespace tokens."""
    return _ARTICLES.sub(" ", text.lower().translate(_PUNCT)).split()


def says_not_covered(text: str) -> bool:
    """Whether an answer says the documents do not cover the question, in any of a small model's wordings."""
    return bool(_NOT_COVERED.search(text))


def token_f1(prediction: str, reference: str) -> float:
    predicted, expected = normalize_tokens(prediction), normalize_tokens(reference)
    if not predicted or not expected:
        return float(predicted == expected)
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure from the longest common subsequence of normalised tokens."""
    predicted, expected = normalize_tokens(prediction), normalize_tokens(reference)
    if not predicted or not expected:
        return float(predicted == expected)
    previous = [0] * (len(expected) + 1)
    for token in predicted:
        current = [0]
        for j, other in enumerate(expected):
            current.append(previous[j] + 1 if token == other else max(previous[j + 1], current[j]))
        previous = current
    lcs = previous[-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(predicted), lcs / len(expected)
    return 2 * precision * recall / (precision + recall)
