"""Other people's landmark data in: one reader per format, each giving recordings to write.

:func:`read_source` detects the format of a file or folder (module of each format) and
:func:`~actionrec.data.importers.common.write_sessions` writes our session CSVs.
"""
