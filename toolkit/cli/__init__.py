"""Command-line tools of the toolkit (``edge-simulate`` and its subcommands)."""
