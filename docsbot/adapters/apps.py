from django.apps import AppConfig


class AdaptersConfig(AppConfig):
    name = "docsbot.adapters"
    label = "adapters"
