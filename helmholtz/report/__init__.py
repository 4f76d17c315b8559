"""The report of a log folder: report.md, its sections, plots, tables and TensorBoard files."""
