"""``python -m layers.cli``: the ``sasaran`` command."""

from layers.cli.main import main

main()
