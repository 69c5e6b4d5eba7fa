"""Backbones: registry of timm networks with layer groups, offline weights, and the shared feature extractor."""
