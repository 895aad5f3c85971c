from django.apps import AppConfig


class TeamsConfig(AppConfig):
    name = "docsbot.teams"
    label = "teams"
