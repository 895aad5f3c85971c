"""Questions the docs ask themselves: a heading that is a question (an FAQ's entry), a heading that states what the
section explains ("How documents are cut and searched" -> "How are documents cut and searched?"), and a question
the text asks and answers ("So how exactly does Flask handle uploads? Well it will ...")."""
from __future__ import annotations

import itertools
import re

from docsbot.qa.generators import vocabulary
from docsbot.qa.generators.base import Candidate
from docsbot.qa.generators.text import Block, clip, fenced, first_paragraphs, lead, verb_base
from docsbot.qa.generators.wording import VAGUE, vague

# A question opens with a question word or an auxiliary ("Why not Httplib2?", "Can I use ...?", "I'm having ... Why?").
_ASKS = re.compile(r"^(?:(?:what|why|how|when|where|which|who|whom|whose)\b|(?:is|are|was|were|do|does|did|can|could|"
                   r"should|would|shall|may|might|must|has|have|had)(?:n[’']t)?\b|(?:will|wo)n[’']t\b|will\b)|"
                   r".*[.!]\s+\w+(?: \w+){0,3}\?$", re.IGNORECASE)  # "Doesn't HTML5 support PUT forms?" asks too

# "How documents are cut and searched", "How routing works": a heading that states what the section explains.
_HOW_CLAUSE = re.compile(r"^How (?P<subject>(?!to\b)[\w`'’-]+(?: [\w`'’-]+){0,3}?) (?P<verb>is|are|[a-z]+s|work|run)"
                         r"(?P<rest>(?: [\w`'’,-]+){0,6})$")


def how_clause_question(heading: str) -> str | None:
    """'How documents are cut and searched' -> 'How are documents cut and searched?'; 'How docsbot works' -> 'How does
    docsbot work?'."""
    match = _HOW_CLAUSE.match(heading.strip())
    if not match or vague(match["subject"]) or match["subject"].lower() in {"it", "you", "we"}:
        return None
    subject, verb, rest = match["subject"], match["verb"], match["rest"]
    be = re.match(r" (is|are)\b", rest)
    if be and verb not in {"is", "are"}:  # "How hyperlinked views are determined": "views" is the subject's noun
        subject, verb, rest = f"{subject} {verb}", be.group(1), rest[be.end():]
    if verb in {"is", "are"}:
        return f"How {verb} {subject}{rest}?"
    if verb.endswith("s") and not verb.endswith("ss"):
        base = verb_base(verb)
        return f"How does {subject} {base}{rest}?" if base else None
    return f"How do {subject} {verb}{rest}?"


_ASKED = re.compile(r"^(?:(?:So|But|Well|Now|And),?\s+)?(?P<question>(?:What|How|Why|When|Where|Which|Who)\b.{10,160}\?)$",
                    re.IGNORECASE)

_FILLERS = re.compile(r"\s+(?:actually|exactly|then|though)\b")

_DEMONSTRATIVE_NAME = re.compile(r"\b(?:that|this) (?=`?\w+\(\)`? )")

_EXAMPLE_OF_SITUATION = re.compile(r"^(?:An?|One) (?:\w+ )?example (?:for|of) (?:that|this)\b", re.IGNORECASE)

_REASON = re.compile(r"\b(?:because|since|so that|reason|due to|in order to|otherwise|that way|this way|which means|"
                     r"the idea is|the problem is|as a result)\b", re.IGNORECASE)


def asked_pair(sentence: str, after: list[str], following: list[Block]) -> Candidate | None:
    """The text asks a question and answers it ("So how exactly does Flask handle uploads? Well it will store
    them ..."): the question, without its filler words, and what follows it as the answer. A question that leans
    on the page ("Why is this the case?", "How would you implement that?") is skipped."""
    match = _ASKED.match(sentence)
    if not match:
        return None
    question = _DEMONSTRATIVE_NAME.sub("the ", _FILLERS.sub("", match.group("question")))
    question = question[:1].upper() + question[1:]
    if (VAGUE | {"now"}) & set(re.findall(r"[a-z']+", question.lower())) or len(question.split()) < 4:
        return None
    after = list(itertools.takewhile(lambda s: not s.endswith("?"), after))  # up to the next question
    if after:
        if _EXAMPLE_OF_SITUATION.match(after[0]):
            return None  # "What happens if you want X? A common example for that would be ...": the answer comes later
        answer = " ".join(after[:2])
        if question.lower().startswith("why") and not _REASON.search(answer):
            return None  # "Why doesn't Flask have X? You can use Y, but ...": the reasons come later, if at all
        if answer.endswith(":") and following and following[0].kind == "code":
            answer += "\n\n" + fenced(following[0].text)
    else:
        items = list(itertools.takewhile(lambda b: b.kind == "paragraph" and b.text.startswith("- "), following))
        answer = "\n".join(b.text for b in items[:3]) if items else lead(first_paragraphs(following)[:1])
    return Candidate(question, clip(answer), "faq") if len(answer) >= 40 else None


_SIGNPOST_WORDS = {"what", "whats", "s", "why", "how", "where", "now", "next", "then", "else", "more", "is", "are",
                   "do", "i", "we", "it", "so", "and"}


def question_heading_pairs(heading: str, blocks: list[Block], answer: str) -> list[Candidate] | None:
    """The heading itself when it is a question a user types, answered by the section; [] for a question heading
    that is only a label, None for a heading that is no question."""
    if not heading.endswith("?"):
        return None
    if not _ASKS.match(heading):
        # "Python 2 Support?": an FAQ's label, asked when it names what the product supports and the answer says
        # yes or no ("Yes! Requests officially supports Python 3.7+").
        supported = _SUPPORT_LABEL.match(heading)
        supporter = _SUPPORTER.search(answer)
        if supported and supporter and supporter.group(1) not in _NOT_SUPPORTERS and _YES_OR_NO.match(answer):
            return [Candidate(f"Does {supporter.group(1)} support {supported.group('what')}?", answer, "faq")]
        return []
    if not {word.lower() for word in re.findall(r"\w+", heading)} - _SIGNPOST_WORDS:
        return []  # "What's next?", "Why?": a tutorial's signpost, about nothing the question names
    # "What does “micro” mean?" opens with what it does not mean; the meaning follows.
    return [Candidate(_product_for_it(heading), lead(first_paragraphs(blocks), min_chars=240) or answer, "faq")]


_SUPPORT_LABEL = re.compile(r"^(?P<what>[\w.+-]+(?: [\w.+-]+){0,3}) [Ss]upport\?$")
_YES_OR_NO = re.compile(r"^(?:Yes|No)\b")
_SUPPORTER = re.compile(r"\b([A-Z][\w.-]*) (?:\w+ ){0,2}supports\b")  # "Requests officially supports", "no longer"
_NOT_SUPPORTERS = {"It", "This", "That", "The", "They", "We", "You", "He", "She", "There", "Yes", "No"}
_ABOUT_IT = re.compile(r"^(Does|Is|Can|Will|Should) it\b")


def _product_for_it(question: str) -> str:
    """'Does it work on FreeBSD?' on an FAQ asks about the product: 'Does Celery work on FreeBSD?'."""
    product = vocabulary.product()
    return _ABOUT_IT.sub(lambda m: f"{m.group(1)} {product}", question) if product else question


def question_term_pair(text: str, following: list[Block]) -> Candidate | None:
    """A definition list of questions (gitfaq(7): "What should I put in user.name?:" then the answer paragraph): the
    term is the question, its description the answer."""
    term = text.strip()
    if not term.endswith("?:") or not _ASKS.match(term) or len(term) > 200 or not following \
            or following[0].kind != "paragraph":
        return None
    return Candidate(term[:-1], clip(following[0].text.strip()), "faq")
