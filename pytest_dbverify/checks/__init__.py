"""The built-in verification suite, collected by :mod:`pytest_dbverify.run` under --dbverify.

One module per concern; each function is an ordinary pytest test, parametrized by
``pytest_generate_tests`` from the run (one item per object, ids that read as a report).
"""
