"""Implementation of the ``heymarket`` command (entry point: :func:`heymarket_async.cli.main`).

Modules: ``_output`` (JSON or human output, tables, progress, exit codes, error lines),
``_args`` (argparse types shared by the commands), ``_api`` (one command per API
resource), ``_broadcast`` (``broadcast --csv``), ``_demo`` and ``_sandbox`` (the embedded
fake API).
"""
