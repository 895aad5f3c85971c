"""The admin is scoped by team: a staff user sees, opens, offers and imports only the rows of the
teams they own or administer, whatever model permissions they hold; superusers see every team.

Every ModelAdmin registered for a model that belongs to a team is checked here, found by
enumerating the admin site: one registered without ``TeamScopedAdmin``, or without a row factory
below, fails ``test_it_scopes_every_team_admin_with_the_one_mixin``.
"""
from __future__ import annotations

import io
import json
from collections.abc import Callable

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from docsbot.adapters.models import AdapterVersion, Event, Experiment, RetrainPolicy, TrainingJob
from docsbot.chat.models import Conversation, Feedback, Message, ReviewItem, SlackInstallation
from docsbot.documents.models import Chunk, Document, IngestRun
from docsbot.qa.models import ChunkRejection, GenerationRun, QAPair, QATeamSettings
from docsbot.teams.admin_scope import TeamScopedAdmin, team_lookup
from docsbot.teams.models import ApiToken, Membership, Team, WidgetKey
from docsbot.teams.services import api_token_create, membership_set, team_create, widget_key_create

User = get_user_model()


def _document(team):
    return Document.objects.create(team=team, source_path=f"{team.slug}-guide.md", status="indexed")


def _experiment(team):
    control, candidate = (AdapterVersion.objects.create(team=team, number=number, path="/nowhere", method="lora",
                                                        rank=8, base_model="base") for number in (101, 102))
    return Experiment.objects.create(team=team, control=control, candidate=candidate, ends_by=timezone.now())


def _message(team, content="How do I deploy?"):
    conversation = Conversation.objects.create(team=team)
    return Message.objects.create(team=team, conversation=conversation, role="user", content=content)


# One row of each team-owned model, for a team. A model registered in the admin with a team must be here.
FACTORIES: dict[type, Callable] = {
    Team: lambda team: team,
    Membership: lambda team: Membership.objects.create(
        team=team, user=User.objects.create_user(f"member-of-{team.slug}"), role="member"),
    ApiToken: lambda team: api_token_create(team=team).record,
    WidgetKey: lambda team: widget_key_create(team=team, allowed_origins=[f"https://{team.slug}.example.com"]),
    Document: _document,
    Chunk: lambda team: Chunk.objects.create(team=team, document=_document(team), ordinal=0, text="text",
                                             content_hash="h" * 64),
    IngestRun: lambda team: IngestRun.objects.create(team=team),
    QAPair: lambda team: QAPair.objects.create(team=team, question=f"Q {team.slug}?", answer="A.",
                                               generator="structural"),
    GenerationRun: lambda team: GenerationRun.objects.create(team=team),
    QATeamSettings: lambda team: QATeamSettings.objects.create(team=team),
    ChunkRejection: lambda team: ChunkRejection.objects.create(team=team, chunk_hash="h" * 64,
                                                               generator="structural", reason="empty"),
    TrainingJob: lambda team: TrainingJob.objects.create(team=team, base_model="base"),
    AdapterVersion: lambda team: AdapterVersion.objects.create(team=team, number=1, path="/nowhere",
                                                               method="lora", rank=8, base_model="base"),
    Conversation: lambda team: Conversation.objects.create(team=team),
    Message: _message,
    Feedback: lambda team: Feedback.objects.create(team=team, message=_message(team), rating=-1),
    ReviewItem: lambda team: ReviewItem.objects.create(team=team, message=_message(team), rating=-1),
    SlackInstallation: lambda team: SlackInstallation.objects.create(team=team, bot_token=f"xoxb-{team.slug}"),
    Experiment: _experiment,
    Event: lambda team: Event.objects.create(team=team, kind="promoted", reason=f"{team.slug} promoted"),
    RetrainPolicy: lambda team: RetrainPolicy.objects.create(team=team),
}


def _url(obj, view: str) -> str:
    meta = obj._meta
    return f"/admin/{meta.app_label}/{meta.model_name}/" + (f"{obj.pk}/{view}/" if view else "")


def _staff(username: str, *, team=None, role="admin", codenames=None) -> Client:
    """A logged-in staff user, with these model permissions (all of every team model by default)."""
    user = User.objects.create_user(username, password="pw-long-enough-1", is_staff=True)
    models = list(FACTORIES)
    perms = Permission.objects.filter(content_type__app_label__in={m._meta.app_label for m in models})
    user.user_permissions.add(*(perms if codenames is None else perms.filter(codename__in=codenames)))
    if team is not None:
        membership_set(team=team, user=user, role=role)
    client = Client()
    client.force_login(user)
    return client


def team_scoped_ids(model, pks: set[int]) -> list[int]:
    """The teams these rows belong to."""
    lookup = "pk" if model is Team else "team_id"
    return list(model.objects.filter(pk__in=pks).values_list(lookup, flat=True).distinct())


def _listed(client: Client, model) -> set[int]:
    response = client.get(f"/admin/{model._meta.app_label}/{model._meta.model_name}/")
    assert response.status_code == 200
    return {obj.pk for obj in response.context["cl"].queryset}


def test_it_scopes_every_team_admin_with_the_one_mixin():
    team_models = {model: model_admin for model, model_admin in admin.site._registry.items()
                   if team_lookup(model) is not None}
    assert Team in team_models and len(team_models) >= len(FACTORIES)
    unscoped = [model.__name__ for model, model_admin in team_models.items()
                if not isinstance(model_admin, TeamScopedAdmin)]
    assert not unscoped, f"registered without TeamScopedAdmin: {unscoped}"
    untested = [model.__name__ for model in team_models if model not in FACTORIES]
    assert not untested, f"add a row factory to FACTORIES for: {untested}"


@pytest.mark.parametrize("model", list(FACTORIES), ids=lambda m: m.__name__)
def test_it_shows_a_team_admin_only_their_own_teams_rows(model, team, other_team):
    mine, theirs = FACTORIES[model](team), FACTORIES[model](other_team)
    alpha_admin = _staff("alpha-admin", team=team)
    listed = _listed(alpha_admin, model)
    assert mine.pk in listed and theirs.pk not in listed
    assert set(team_scoped_ids(model, listed)) == {team.pk}
    assert alpha_admin.get(_url(mine, "change")).status_code == 200
    for view in ("change", "history", "delete"):
        assert alpha_admin.get(_url(theirs, view)).status_code == 404, view  # as if it did not exist
    assert model.objects.filter(pk=theirs.pk).exists()

    # Staff with every permission but no team, or only a member's role, see and open nothing.
    for client in (_staff("no-team"), _staff("member", team=team, role="member")):
        assert _listed(client, model) == set()
        assert client.get(_url(mine, "change")).status_code == 404

    root = Client()
    root.force_login(User.objects.create_superuser("root", "root@example.com", "pw-long-enough-1"))
    assert _listed(root, model) >= {mine.pk, theirs.pk}
    assert root.get(_url(theirs, "change")).status_code == 200


def test_it_keeps_other_teams_secrets_out_of_every_page(team, other_team):
    SlackInstallation.objects.create(team=other_team, bot_token="xoxb-bravo-bot-token")
    issued = api_token_create(team=other_team)
    key = widget_key_create(team=other_team, allowed_origins=["https://bravo.example.com"])
    secrets = [other_team.slack_signing_secret, other_team.webhook_token, "xoxb-bravo-bot-token", key.key,
               issued.record.prefix]
    client = _staff("alpha-admin", team=team)
    pages = ["/admin/teams/team/", f"/admin/teams/team/{team.pk}/change/", "/admin/chat/slackinstallation/",
             "/admin/teams/apitoken/", "/admin/teams/widgetkey/", "/admin/teams/widgetkey/add/",
             f"/admin/teams/apitoken/?team__id__exact={other_team.pk}"]
    for page in pages:
        html = client.get(page).content.decode()
        leaked = [secret for secret in secrets if secret in html]
        assert not leaked, (page, leaked)
    own = client.get(f"/admin/teams/team/{team.pk}/change/").content.decode()
    assert team.slack_signing_secret in own  # their own team's page still works


def test_it_offers_only_the_users_teams_in_choices_and_filters(team, other_team):
    client = _staff("alpha-admin", team=team)
    form = client.get("/admin/teams/widgetkey/add/").context["adminform"].form
    assert list(form.fields["team"].queryset) == [team]
    response = client.post("/admin/teams/widgetkey/add/", {"team": other_team.pk, "label": "x",
                                                           "allowed_origins": "https://evil.example.com",
                                                           "active": "on"})
    assert response.status_code == 200 and "team" in response.context["adminform"].form.errors
    assert not WidgetKey.objects.filter(team=other_team).exists()

    # A raw-id field takes any typed id: another team's document is refused by validation.
    pair, foreign = FACTORIES[QAPair](team), _document(other_team)
    response = client.post(_url(pair, "change"), {
        "team": team.pk, "question": pair.question, "answer": pair.answer, "generator": "structural",
        "status": "pending", "split": "train", "document": foreign.pk, "kind": "", "chunk_hash": "",
        "reject_reason": ""})
    assert response.status_code == 200 and "document" in response.context["adminform"].form.errors
    pair.refresh_from_db()
    assert pair.document_id is None

    # The team filter lists the user's teams that have documents (here two), never another team.
    third = team_create(slug="charlie", name="Charlie")
    membership_set(team=third, user=User.objects.get(username="alpha-admin"), role="owner")
    for owner in (team, third):
        _document(owner)
    changelist = client.get("/admin/documents/document/")
    team_filter = next(spec for spec in changelist.context["cl"].filter_specs if spec.field_path == "team")
    assert sorted(label for _, label in team_filter.lookup_choices) == [team.slug, third.slug]

    # Bulk actions only ever see the user's rows.
    theirs = FACTORIES[QAPair](other_team)
    client.post("/admin/qa/qapair/", {"action": "approve", "_selected_action": [pair.pk, theirs.pk]})
    theirs.refresh_from_db()
    assert theirs.status == QAPair.Status.PENDING


def test_it_labels_no_other_teams_row_in_a_raw_id_field(team, other_team):
    """An add page given another team's ids (sequential, so countable) must not show their titles."""
    theirs = Document.objects.create(team=other_team, source_path="bravo-payroll.md", title="Bravo Payroll",
                                      status="indexed")
    chunk = Chunk.objects.create(team=other_team, document=theirs, ordinal=0, text="salaries", content_hash="h" * 64)
    mine = Document.objects.create(team=team, source_path="alpha-guide.md", title="Alpha Guide", status="indexed")
    client = _staff("alpha-admin", team=team)
    for page in (f"/admin/qa/qapair/add/?chunk={chunk.pk}&document={theirs.pk}",
                 f"/admin/qa/chunkrejection/add/?chunk={chunk.pk}"):
        html = client.get(page).content.decode()
        assert "Bravo Payroll" not in html, page
    assert "Alpha Guide" in client.get(f"/admin/qa/qapair/add/?document={mine.pk}").content.decode()


def test_it_lists_no_usernames_on_the_membership_page(team, other_team):
    User.objects.create_user("bravo-admin-user")
    html = _staff("alpha-admin", team=team).get("/admin/teams/membership/add/").content.decode()
    assert "bravo-admin-user" not in html


def test_it_shows_chat_analytics_only_for_the_users_teams_and_with_permission(team, other_team):
    _message(other_team, "Where does Bravo keep its vault code?")
    _message(team, "How does Alpha deploy?")
    url = "/admin/chat/conversation/analytics/"

    assert _staff("no-perms", team=other_team, codenames=[]).get(url).status_code == 403
    page = _staff("no-team").get(url, {"team": other_team.slug})
    assert page.status_code in (403, 404) and "vault code" not in page.content.decode()
    default = _staff("no-team-2").get(url)
    assert default.status_code == 200 and "vault code" not in default.content.decode()

    alpha_admin = _staff("alpha-admin", team=team)
    assert alpha_admin.get(url, {"team": other_team.slug}).status_code == 404
    own = alpha_admin.get(url).content.decode()
    assert "how does alpha deploy?" in own and "vault code" not in own
    assert f'value="{other_team.slug}"' not in own  # not even offered


def _jsonl(question: str) -> io.BytesIO:
    upload = io.BytesIO(json.dumps({"messages": [{"role": "user", "content": question},
                                                 {"role": "assistant", "content": "Planted."}]}).encode())
    upload.name = "pairs.jsonl"
    return upload


def test_it_imports_pairs_only_into_a_team_the_user_administers(team, other_team):
    url = "/admin/qa/qapair/import/"
    no_perms = _staff("no-perms", team=other_team, codenames=[])
    assert no_perms.get(url).status_code == 403
    assert no_perms.post(url, {"team": other_team.pk, "file": _jsonl("q1?")}).status_code == 403

    no_team = _staff("no-team")
    response = no_team.post(url, {"team": other_team.pk, "file": _jsonl("q2?")})
    assert response.status_code == 200 and "team" in response.context["form"].errors

    alpha_admin = _staff("alpha-admin", team=team)
    assert list(alpha_admin.get(url).context["form"].fields["team"].queryset) == [team]
    response = alpha_admin.post(url, {"team": other_team.pk, "file": _jsonl("q3?")})
    assert response.status_code == 200 and "team" in response.context["form"].errors
    assert not QAPair.objects.filter(team=other_team).exists()

    assert alpha_admin.post(url, {"team": team.pk, "file": _jsonl("How do I deploy?")}).status_code == 302
    assert QAPair.objects.filter(team=team, question="How do I deploy?", status="approved").count() == 1
