"""The ``sasaran`` command: one module per command group, all registered in `layers.cli.main`.

The CLI converts at the edges: it parses options, calls the library, and writes answers. The
library never imports it, and neither does the service.
"""

from layers.cli.main import app, main

__all__ = ["app", "main"]
