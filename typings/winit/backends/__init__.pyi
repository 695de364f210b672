"""``winit.backends`` as mypy sees it: the top-level ``backends/`` folder, which installs under that name.

setuptools maps the package ``winit.backends`` to ``backends/`` (pyproject's package-dir); mypy cannot
follow that mapping, so it checks the folder as the package ``backends`` and reads ``winit.backends.X``
through these one-line stubs (``mypy_path``). tests/test_architecture.py keeps them in step.
"""
