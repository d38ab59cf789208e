"""pytest entry point of pytest-dbverify (``pytest11``): options, hooks and fixtures.

Inert unless ``--dbverify`` is given; importing it must stay cheap.
"""
