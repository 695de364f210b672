"""Backend adapters, installed as ``winit.backends``: one thin module per framework.

Each module imports its framework on import and exposes ``ADAPTER``; a missing framework raises
ImportError naming the extra to install.
"""
