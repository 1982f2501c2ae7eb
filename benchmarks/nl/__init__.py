"""ActiSeg-NL (DESIGN §7): the protocol runner (``actiseg-benchmark``, :mod:`.runner`), paper 003's tables
(:mod:`.paper003_tables`) and the report that sets ours beside them (``python -m benchmarks.nl.report``)."""
