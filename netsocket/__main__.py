"""``python -m netsocket``: the ``netsocket`` command."""

from netsocket.cli import run

run()
