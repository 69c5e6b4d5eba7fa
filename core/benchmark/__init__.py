"""The TinyAD benchmark: methods x backbones x layer groups x settings, with the PaSTe paper's resource figures."""
