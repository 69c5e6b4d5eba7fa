"""The parts behind `core.export.trt_check`: the operator tables read as data (`table`), what a graph holds
(`graph`), restriction prose turned into checks (`restrictions`), element types (`dtypes`), the Q/DQ symmetry rule
(`quantization`) and the walk over the nodes (`check`)."""
