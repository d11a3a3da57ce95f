"""The flow language: models, strict loading with located errors, lint, schema, graphs."""

from flows.catalog import Catalog, check_paths, load_catalog
from flows.loader import LoadedFlow, check_text, load_path, load_text
from flows.model import Flow
from flows.problems import FlowError, Problem

__all__ = [
    "Catalog",
    "Flow",
    "FlowError",
    "LoadedFlow",
    "Problem",
    "check_paths",
    "check_text",
    "load_catalog",
    "load_path",
    "load_text",
]
