from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "docsbot.chat"
    label = "chat"
