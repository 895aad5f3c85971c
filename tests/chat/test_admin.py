"""The admin: corrections of bad answers become approved QA pairs; per-team chat analytics."""
from docsbot.chat.feedback import feedback_set
from docsbot.chat.generate import answer_finish
from docsbot.chat.models import Feedback
from docsbot.chat.prepare import answer_prepare
from docsbot.documents.models import Chunk
from docsbot.qa.models import QAPair
from docsbot.qa.selectors import dataset_build

ON_TOPIC = "How do I roll back a deployment?"
CORRECTION = "Run `acme rollback`; traffic is back on the previous bundle within ten seconds."


def bad_answer(team, settings):
    """A stored answer to an on-topic question, as if the model had got it wrong (no serving needed)."""
    settings.SERVING_URL = "http://127.0.0.1:9"  # never called: the base model name is configured
    settings.SERVING_BASE_MODEL_NAME = "base"
    prepared = answer_prepare(team=team, question=ON_TOPIC)
    return answer_finish(prepared=prepared, text="Delete the widget and deploy it again.")


def test_it_turns_an_admin_correction_into_an_approved_pair_for_training(admin_client, docs_team, settings):
    answer = bad_answer(docs_team, settings)
    feedback = feedback_set(team=docs_team, message_id=answer.message_id, rating=-1, comment="Wrong")
    path = f"/admin/chat/feedback/{feedback.pk}/change/"
    page = admin_client.get(path)
    assert page.status_code == 200
    assert ON_TOPIC in page.content.decode() and "Delete the widget" in page.content.decode()

    saved = admin_client.post(path, {"correction": f"  {CORRECTION}\n", "_save": "Save"}, follow=True)
    assert saved.status_code == 200
    feedback.refresh_from_db()
    pair = QAPair.objects.get(pk=feedback.correction_pair_id)
    assert f"approved QA pair #{pair.pk}" in saved.content.decode()
    assert (pair.team_id, pair.question, pair.answer) == (docs_team.pk, ON_TOPIC, CORRECTION)
    assert pair.status == QAPair.Status.APPROVED and pair.kind == "correction"
    assert pair.chunk_id == answer.sources[0]["chunk_id"]  # the source the bad answer was given from
    assert feedback.correction == CORRECTION
    assert pair.pk in dataset_build(team=docs_team, distractors=1).pair_ids

    # Saving the same feedback again without changing the correction adds nothing.
    admin_client.post(path, {"correction": CORRECTION, "_save": "Save"})
    assert QAPair.objects.filter(team=docs_team, kind="correction").count() == 1


def test_it_refuses_an_empty_correction_without_creating_a_pair(admin_client, docs_team, settings):
    answer = bad_answer(docs_team, settings)
    feedback = feedback_set(team=docs_team, message_id=answer.message_id, rating=-1)
    response = admin_client.post(f"/admin/chat/feedback/{feedback.pk}/change/",
                                 {"correction": "   ", "_save": "Save"})
    assert response.status_code == 302
    assert not QAPair.objects.filter(team=docs_team).exists()
    assert Feedback.objects.get(pk=feedback.pk).correction_pair_id is None


def test_it_shows_one_teams_chat_analytics_in_the_admin(admin_client, api, other_api, docs_team, other_team):
    for _ in range(2):
        first = api.post("/api/v1/chat", {"question": "What is the capital of France?", "stream": False}).json()
    api.post(f"/api/v1/chat/messages/{first['message_id']}/feedback", {"rating": "down"})
    other_api.post("/api/v1/chat", {"question": "Where does Bravo keep its secrets?", "stream": False})

    page = admin_client.get("/admin/chat/conversation/analytics/", {"team": docs_team.slug, "days": "7"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "(2 in 7 days)" in html
    assert "what is the capital of france?" in html  # top questions and gaps (the docs did not cover it)
    assert 'aria-label="Questions per day"' in html and 'aria-label="feedback"' in html  # the two charts
    assert "50% of answers rated" in html and "0 👍, 1 👎" in html
    assert "bravo keep its secrets" not in html

    other = admin_client.get("/admin/chat/conversation/analytics/", {"team": other_team.slug}).content.decode()
    assert "bravo keep its secrets" in other and "capital of france" not in other
    assert "(1 in 30 days)" in other and "No feedback yet." in other


def test_it_keeps_a_correction_whose_source_was_reingested_away(admin_client, docs_team, settings):
    answer = bad_answer(docs_team, settings)
    Chunk.objects.filter(team=docs_team, pk=answer.sources[0]["chunk_id"]).delete()
    feedback = feedback_set(team=docs_team, message_id=answer.message_id, rating=-1)
    admin_client.post(f"/admin/chat/feedback/{feedback.pk}/change/", {"correction": CORRECTION, "_save": "Save"})
    pair = QAPair.objects.get(team=docs_team, kind="correction")
    assert pair.chunk_id is None and pair.status == QAPair.Status.APPROVED and pair.question == ON_TOPIC
