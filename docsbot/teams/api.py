from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

router = Router(tags=["teams"])


class TeamOut(Schema):
    slug: str
    name: str


@router.get("/team", response=TeamOut, summary="The team the token belongs to")
def team_me(request: HttpRequest):
    return request.auth
