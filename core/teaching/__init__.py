"""Teach by correction: frames the operator marked good change the model, checked against every known defect first,
as a new model version (`core.model_versions`)."""
