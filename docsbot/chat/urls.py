from django.urls import path

from docsbot.chat import views, webhooks

urlpatterns = [
    # Plain Django views under the API prefix (see views.py for why not django-ninja);
    # Django's resolver reaches them after the ninja API finds no such route.
    path("api/v1/chat", views.chat, name="chat"),
    path("api/v1/chat/messages/<int:message_id>/feedback", views.feedback, name="chat-feedback"),
    path("api/v1/chat/messages/<int:message_id>/source-click", views.source_click, name="chat-source-click"),
    path("s/<str:token>", views.source_redirect, name="source-redirect"),
    path("widget.js", views.widget_js, name="widget-js"),
    path("widget/demo", views.widget_demo, name="widget-demo"),
    path("slack/<slug:team_slug>/events", webhooks.slack_events, name="slack-events"),
    path("slack/<slug:team_slug>/commands", webhooks.slack_command, name="slack-command"),
    path("webhooks/<slug:team_slug>/outgoing", webhooks.outgoing_webhook, name="outgoing-webhook"),
]
