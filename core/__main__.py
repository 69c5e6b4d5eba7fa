"""Command line of the engine: `python -m core {train,evaluate,predict,...} ...`."""

from core.cli import main

raise SystemExit(main())
