"""The PySide6 desktop app: widgets only; all work is done by the Qt-free core."""
