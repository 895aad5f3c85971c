"""A team's slug names its served adapter: it cannot be renamed, and a deleted team's adapters leave serving."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.test import Client

User = get_user_model()


def test_the_admin_keeps_a_teams_slug_once_created(team):
    admin = User.objects.create_superuser("root", password="pw-long-enough-1")
    client = Client()
    client.force_login(admin)
    page = client.get(f"/admin/teams/team/{team.pk}/change/").content.decode()
    assert 'name="slug"' not in page and team.slug in page
    client.post(f"/admin/teams/team/{team.pk}/change/", {"slug": "renamed", "name": "Renamed", "_save": "Save"})
    team.refresh_from_db()
    assert team.slug == "alpha"
    assert 'name="slug"' in client.get("/admin/teams/team/add/").content.decode()  # a new team names its own


def test_deleting_a_team_takes_its_live_and_candidate_adapters_off_serving(team, other_team, settings, tmp_path):
    settings.ADAPTER_DIR = tmp_path / "adapters"
    settings.ADAPTER_DIR.mkdir()
    version = tmp_path / "version"
    version.mkdir()
    names = ["team-alpha", "team-alpha.v3", "team-bravo", "team-bravo.v1", "team-alphabet"]
    for name in names:
        (settings.ADAPTER_DIR / name).symlink_to(version, target_is_directory=True)
    team.delete()
    assert sorted(path.name for path in settings.ADAPTER_DIR.iterdir()) == ["team-alphabet", "team-bravo",
                                                                              "team-bravo.v1"]
    assert version.is_dir()  # the version's files are not the link's to delete
