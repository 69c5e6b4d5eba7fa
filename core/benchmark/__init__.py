"""The TinyAD benchmark grid: methods x backbones x layer groups x settings, each cell trained in its own process."""
