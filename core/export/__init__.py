"""Exporters: they write artefacts (ONNX, quantized ONNX, bundles); runtimes in core.runtime load them."""
