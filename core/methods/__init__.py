"""Anomaly detection methods, one package each, and the registry that lists them."""
