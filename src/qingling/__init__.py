"""Qingling (清零): a platform to find illegal cryptocurrency mining and clear every case with proof."""

__version__ = "0.1.0"
