"""The window's pages, one module each; each page composes widgets and drives engine jobs through workers."""
