"""DMTL Studio: data-augmented transfer learning for image classification, on a desktop, offline."""

__version__ = "0.1.0"
