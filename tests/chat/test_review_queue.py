"""Feedback into training (issue 20 item 3): thumbs-down answers without a correction wait in a review
queue with the retrieved chunks; those and the analytics' unanswered questions are answered in one step
into approved QA pairs, which leave the queue and go into the next training run."""
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from docsbot.chat.feedback import feedback_set
from docsbot.chat.generate import answer_finish
from docsbot.chat.models import Feedback
from docsbot.chat.prepare import answer_prepare
from docsbot.qa.models import QAPair
from docsbot.qa.selectors import dataset_build
from docsbot.teams.services import membership_set
from tests.chat.test_admin import CORRECTION, ON_TOPIC, bad_answer

OFF_TOPIC = "What is the capital of France?"
GAP_ANSWER = "Acme has no opinion on capitals; see the deployment guide for what it covers."


def asked(team, question, settings):
    settings.SERVING_URL = "http://127.0.0.1:9"  # never called: the base model name is configured
    settings.SERVING_BASE_MODEL_NAME = "base"
    prepared = answer_prepare(team=team, question=question)
    return answer_finish(prepared=prepared, text="Whatever." if prepared.relevant else prepared.fallback_text)


def test_it_queues_a_thumbs_down_without_correction_with_its_question_answer_and_chunks(
        api, other_api, admin_client, docs_team, other_team, settings):
    answer = bad_answer(docs_team, settings)
    liked = asked(docs_team, ON_TOPIC, settings)
    feedback = feedback_set(team=docs_team, message_id=answer.message_id, rating=-1, comment="Wrong")
    feedback_set(team=docs_team, message_id=liked.message_id, rating=1)

    queue = api.get("/api/v1/review-queue").json()
    assert [item["id"] for item in queue] == [feedback.pk]  # not the thumbs-up
    item = queue[0]
    assert (item["question"], item["answer"], item["comment"]) == (ON_TOPIC, "Delete the widget and deploy it again.",
                                                                   "Wrong")
    assert [s["chunk_id"] for s in item["sources"]] == [s["chunk_id"] for s in answer.sources]
    assert all(s["text"] for s in item["sources"])  # the retrieved chunks themselves
    assert other_api.get("/api/v1/review-queue").json() == []

    page = admin_client.get(f"/admin/chat/reviewitem/{feedback.pk}/change/").content.decode()
    assert ON_TOPIC in page and "Delete the widget" in page and answer.sources[0]["title"] in page
    listing = admin_client.get("/admin/chat/reviewitem/")
    assert listing.context["cl"].result_count == 1
    assert answer.sources[0]["title"] in listing.content.decode() and "gone" not in listing.content.decode()


def test_it_answers_a_queued_item_in_one_admin_step_and_trains_on_it(admin_client, docs_team, settings):
    answer = bad_answer(docs_team, settings)
    feedback = feedback_set(team=docs_team, message_id=answer.message_id, rating=-1)
    source = answer.sources[-1]["chunk_id"]

    saved = admin_client.post(f"/admin/chat/reviewitem/{feedback.pk}/change/",
                              {"answer": CORRECTION, "source_chunk": str(source), "_save": "Save"}, follow=True)
    assert saved.status_code == 200 and "approved QA pair #" in saved.content.decode()
    feedback.refresh_from_db()
    pair = QAPair.objects.get(pk=feedback.correction_pair_id)
    assert (pair.question, pair.answer, pair.chunk_id, pair.status) == (ON_TOPIC, CORRECTION, source, "approved")
    assert saved.context["cl"].result_count == 0  # it left the queue
    assert pair.pk in dataset_build(team=docs_team, distractors=1).pair_ids


def test_it_answers_and_dismisses_queued_items_through_the_api(api, other_api, docs_team, other_team, settings):
    first, second = bad_answer(docs_team, settings), bad_answer(docs_team, settings)
    one = feedback_set(team=docs_team, message_id=first.message_id, rating=-1)
    two = feedback_set(team=docs_team, message_id=second.message_id, rating=-1)

    assert other_api.post(f"/api/v1/review-queue/{one.pk}/answer", {"answer": CORRECTION}).status_code == 404
    refused = api.post(f"/api/v1/review-queue/{one.pk}/answer", {"answer": CORRECTION, "source_chunk_id": 999999})
    assert refused.status_code == 400 and not QAPair.objects.exists()
    created = api.post(f"/api/v1/review-queue/{one.pk}/answer", {"answer": CORRECTION, "source_chunk_id": None})
    assert created.status_code == 201
    pair = QAPair.objects.get(pk=created.json()["pair_id"])
    assert (pair.question, pair.answer, pair.chunk_id, pair.kind) == (ON_TOPIC, CORRECTION, None, "correction")

    assert api.post(f"/api/v1/review-queue/{two.pk}/dismiss").status_code == 204
    assert Feedback.objects.get(pk=two.pk).dismissed and QAPair.objects.count() == 1
    assert api.get("/api/v1/review-queue").json() == []
    assert api.post(f"/api/v1/review-queue/{one.pk}/answer", {"answer": "again"}).status_code == 404


def test_it_answers_an_unanswered_question_from_the_analytics_in_one_step(admin_client, docs_team, settings):
    for _ in range(2):
        reply = asked(docs_team, OFF_TOPIC, settings)
    page = admin_client.get("/admin/chat/conversation/analytics/", {"team": docs_team.slug}).content.decode()
    question_id = reply.message_id - 1
    link = f"/admin/chat/conversation/analytics/answer/{question_id}/"
    assert link in page

    form = admin_client.get(link).content.decode()
    assert OFF_TOPIC in form and reply.sources[0]["title"] in form
    done = admin_client.post(link, {"answer": GAP_ANSWER, "source_chunk": ""}, follow=True)
    assert done.status_code == 200 and "approved QA pair #" in done.content.decode()
    pair = QAPair.objects.get(team=docs_team)
    assert (pair.question, pair.answer, pair.kind, pair.status) == (OFF_TOPIC, GAP_ANSWER, "unanswered", "approved")
    assert "capital of france" not in done.context["stats"].gaps.__repr__()  # answered: no longer a gap
    assert pair.pk in dataset_build(team=docs_team, distractors=1).pair_ids


def test_it_lists_and_answers_unanswered_questions_through_the_api_for_its_team_only(
        api, other_api, docs_team, other_team, settings):
    reply = asked(docs_team, OFF_TOPIC, settings)
    asked(docs_team, ON_TOPIC, settings)  # covered by the docs: not a gap
    listed = api.get("/api/v1/unanswered").json()
    assert listed == [{"message_id": reply.message_id - 1, "question": OFF_TOPIC.lower(), "times": 1}]
    assert other_api.get("/api/v1/unanswered").json() == []
    path = f"/api/v1/unanswered/{reply.message_id - 1}/answer"
    assert other_api.post(path, {"answer": GAP_ANSWER}).status_code == 404
    assert api.post(path, {"answer": "  "}).status_code == 400
    assert api.post(path, {"answer": GAP_ANSWER}).status_code == 201
    assert api.get("/api/v1/unanswered").json() == []


def test_it_lets_a_staff_user_answer_only_their_own_teams_questions(docs_team, other_team, settings):
    reply = asked(other_team, OFF_TOPIC, settings)
    feedback = feedback_set(team=other_team, message_id=reply.message_id, rating=-1)
    user = get_user_model().objects.create_user("staff", password="pw-long-enough-1", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label__in=("chat", "qa")))
    membership_set(team=docs_team, user=user, role="admin")
    client = Client()
    client.force_login(user)
    assert client.get(f"/admin/chat/conversation/analytics/answer/{reply.message_id - 1}/").status_code == 404
    assert client.post(f"/admin/chat/conversation/analytics/answer/{reply.message_id - 1}/",
                       {"answer": GAP_ANSWER}).status_code == 404
    assert client.get(f"/admin/chat/reviewitem/{feedback.pk}/change/").status_code == 404
    assert client.get("/admin/chat/reviewitem/").context["cl"].result_count == 0
    assert not QAPair.objects.exists()
