"""The error of a model that cannot be used, importable without torch (the CLI's error
handler and the GUI's model list need it before any model is loaded)."""


class ModelError(Exception):
    """A model card or its weights are missing, corrupt or do not match."""
