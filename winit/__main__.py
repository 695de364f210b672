"""``python -m winit``: the same command line as the ``winit`` script."""

from winit.cli import main

raise SystemExit(main())
