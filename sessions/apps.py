from django.apps import AppConfig


class BrowserSessionsConfig(AppConfig):
    name = "sessions"
    # "sessions" is django.contrib.sessions' label; ours must differ from the first migration on.
    label = "browser_sessions"
    verbose_name = "Browser sessions"
