"""Scripts copied into every bundle and run on the Jetson: they must stay Python 3.8 syntax and standard library
only (plus tensorrt/numpy/pycuda where noted), and must not import anything from `core`."""
