"""The shipped fingerprint database, installed as the package ``camscan.rules``.

This folder holds data only: every ``*.yaml`` here is a rule file (``vocabulary.yaml`` is the
maker/brand vocabulary) and every ``policies/*.yaml`` a policy. pyproject.toml maps the folder
to ``camscan.rules`` (``[tool.setuptools] package-dir``) so wheels, ``pipx`` and editable
installs all carry it; camscan finds it with ``importlib.resources``
(camscan/fingerprints/loading.py).
A new ``*.yaml`` dropped here is picked up by the next build or, in an editable install, at once.
"""
