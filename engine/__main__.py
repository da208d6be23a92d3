"""`python -m engine`: the same CLI as the `ses-rules` console script."""
from engine.tools.cli import main

raise SystemExit(main())
