"""Reference entries headed by a member alone, as MkDocs API guides write them: ".data" and ".initial(self, request,
*args, **kwargs)" under the page "Requests" or "Class-based Views". Whose member it is, only the page says, so the
question names the page: "What is `.data` in requests?", "What does `.initial()` do in class-based views?"."""
from __future__ import annotations

import re

from docsbot.qa.generators.base import Candidate
from docsbot.qa.generators.wording import vague

_MEMBER = re.compile(r"^\.(?P<name>[A-Za-z_]\w*)\s*(?P<call>\(.*\))?\s*$")
# "Sometimes you may want to bypass authentication entirely ...": an entry that opens with why, not what.
_WHY_FIRST = re.compile(r"^(?:Sometimes|In some cases|Occasionally|If you|When you|You may)\b")


def member_pair(heading: str, parents: list[str], answer: str) -> Candidate | None:
    member = _MEMBER.match(heading.strip())
    if not member or not parents or not answer or vague(parents[0]) or ":" in parents[0] or _WHY_FIRST.match(answer):
        return None
    page = parents[0].lower()
    if member.group("call"):
        return Candidate(f"What does `.{member.group('name')}()` do in {page}?", answer, "api")
    return Candidate(f"What is `.{member.group('name')}` in {page}?", answer, "api")
