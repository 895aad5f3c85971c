"""The admin login slows a password guesser: a user name is refused from a client after repeated failures."""
from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

PASSWORD = "pw-long-enough-1"


@pytest.fixture
def staff(db, settings):
    settings.LOGIN_FAILURES = 3
    return get_user_model().objects.create_user(f"ann-{uuid.uuid4().hex[:8]}", password=PASSWORD, is_staff=True)


def _login(user, password: str, address: str = "203.0.113.7"):
    return Client(REMOTE_ADDR=address).post("/admin/login/?next=/admin/",
                                            {"username": user.username, "password": password})


def test_it_refuses_a_user_name_after_repeated_failures_from_one_client_even_with_the_right_password(staff):
    for _ in range(3):
        wrong = _login(staff, "guess")
        assert wrong.status_code == 200 and "correct username and password" in wrong.content.decode()
    locked = _login(staff, PASSWORD)
    assert locked.status_code == 200 and "Too many failed logins" in locked.content.decode()
    assert "try again in 15 minutes" in locked.content.decode()
    assert _login(staff, PASSWORD, address="198.51.100.9").status_code == 302  # no lockout from elsewhere


def test_a_successful_login_clears_the_failures(staff):
    for _ in range(2):
        _login(staff, "guess")
    assert _login(staff, PASSWORD).status_code == 302
    for _ in range(2):
        _login(staff, "guess")
    assert _login(staff, PASSWORD).status_code == 302
