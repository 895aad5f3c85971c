from django.apps import AppConfig


class QaConfig(AppConfig):
    name = "docsbot.qa"
    label = "qa"
