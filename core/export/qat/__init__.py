"""INT8 by quantization-aware training (torchao PT2E): fine-tune a trained model with fake quantization of its
networks' convolutions (as its method's spec declares them), then export a Q/DQ ONNX graph for ONNX Runtime ("cpu") or TensorRT ("tensorrt").

Route: torch.export capture (batch norm folded) -> `prepare_qat_pt2e` with our conv-only quantizer -> fine-tune the
trained networks -> `convert_pt2e` -> the TorchScript ONNX exporter with QuantizeLinear/DequantizeLinear translations for the
converted graph's quantize/dequantize ops. The learned scales and zero points go into the ONNX graph as they are.

Example:
    >>> path = run_to_end(qat_job(Path("models/demo"), [Path("data/bottle")], Path("int8.onnx"), flavour="cpu"))
"""

from core.export.qat.job import FLAVOURS, fine_tune, qat_job

__all__ = ["FLAVOURS", "fine_tune", "qat_job"]
