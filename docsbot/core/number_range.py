"""An API request naming a number no database column holds gets a 422, not a 500.

Ids and counts are 64-bit integers in every table; a path segment or query value of digits past that
(``/api/v1/ingest-runs/99999999999999999999``, ``?offset=9223372036854775808``) makes SQLite raise
OverflowError or a datatype mismatch and PostgreSQL an out-of-range error deep inside a query.
"""
from __future__ import annotations

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

API_PREFIX = "/api/"
LARGEST = 2 ** 63 - 1
DIGITS = re.compile(r"[+-]?\d+")


def out_of_range(value: str) -> bool:
    return len(value) > 18 and DIGITS.fullmatch(value) is not None and abs(int(value)) > LARGEST


class ApiNumberRangeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(API_PREFIX):
            values = [*request.path.split("/"), *(v for _, given in request.GET.lists() for v in given)]
            if any(out_of_range(value) for value in values):
                return JsonResponse({"detail": "Invalid request: a number in it is out of range"}, status=422)
        return self.get_response(request)
