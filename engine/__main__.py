"""`python -m engine`: the same CLI as the `ses-rules` console script."""
from .cli import main

raise SystemExit(main())
