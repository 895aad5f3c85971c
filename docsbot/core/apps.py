from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "docsbot.core"
    label = "core"
