"""The subcommands of the `kerasexport` console script, one module each.

`kerasexport.cli` registers them by name and imports one only when it runs;
the helpers beside them parse what a shell gives (JSON, array files) and
pick the Keras backend before Keras is imported.
"""
