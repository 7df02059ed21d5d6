from django.apps import AppConfig


class OncallConfig(AppConfig):
    name = "oncall"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_save

        from oncall import signals

        post_save.connect(signals.user_created, sender=get_user_model(), dispatch_uid="oncall.user_created")
