from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "docsbot.documents"
    label = "documents"
