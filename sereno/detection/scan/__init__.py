"""The scan engine: pure numpy, no Django."""

from .engine import scan
from .model import Cluster, ScanInput, ScanParams, ScanResult
from .reference import reference_scan

__all__ = ["Cluster", "ScanInput", "ScanParams", "ScanResult", "reference_scan", "scan"]
