import os
import secrets
import subprocess
import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]


def test_it_passes_the_deploy_checks_with_production_settings(tmp_path):
    env = {**os.environ, "DOCSBOT_PRODUCTION": "true", "DOCSBOT_SECRET_KEY": secrets.token_urlsafe(64),
           "DOCSBOT_DATA_DIR": str(tmp_path), "DOCSBOT_DEBUG": "false"}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_it_refuses_an_admin_post_without_a_csrf_token(db):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "a-long-password-1")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post("/admin/teams/team/add/", {"slug": "evil", "name": "Evil"})
    assert response.status_code == 403
    from docsbot.teams.models import Team

    assert not Team.objects.filter(slug="evil").exists()
