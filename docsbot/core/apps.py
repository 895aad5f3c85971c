from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "docsbot.core"
    label = "core"

    def ready(self):
        from docsbot.core import health
        from docsbot.core.serving import check_serving

        health.register("serving", check_serving)
