"""The default ``llm.model``, written out: ``current_haiku()`` of the packaged model catalogue
(``drain_ls.models``). A module of its own so that the settings, which every ``drain-ls
check`` run resolves, hold it without importing the catalogue's code and its price types.
tests/test_model_catalogue.py fails when the catalogue's rule picks another model: update it
here then."""

DEFAULT_MODEL = "claude-haiku-5-5"
