"""Errors the engine raises for problems the user can fix.

Every message names the file or setting at fault and says what is wrong with it, so that the CLI and the app can
show it as it is, without a traceback.
"""


class InputError(Exception):
    """Bad input from the user: an unreadable image, an empty folder, a model directory that fails verification."""


class Cancelled(Exception):
    """A job was cancelled through its cancel token; whatever it was writing has been discarded."""
