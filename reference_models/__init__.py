"""Reference models (torch) whose descriptors vprmetrics scores. Needs the ``models`` extra."""
