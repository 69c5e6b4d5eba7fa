"""One module per `python -m core` subcommand: `register(subparsers)` and `run(args)`. The top layer of the engine:
nothing else in `core` imports a command (see the layers contract in pyproject.toml)."""
