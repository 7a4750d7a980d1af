# `gunicorn -c gunicorn.conf.py wsgi:app` uses the same defaults as `vigil serve`
# (run `vigil db upgrade` first: plain gunicorn does not migrate).
from app.gunicorn_conf import *  # noqa: F401,F403
