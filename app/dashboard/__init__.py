"""The web dashboard: server-rendered pages under / for people (the API is for programs)."""
from app.dashboard.blueprint import bp, register
from app.dashboard.session import secret_key

__all__ = ["bp", "register", "secret_key"]
