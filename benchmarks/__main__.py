"""``python -m benchmarks`` runs every benchmark and prints the table (see ``benchmarks/run.py``)."""

from benchmarks.run import main

raise SystemExit(main())
