"""The desktop application: the window that drives the engine."""
