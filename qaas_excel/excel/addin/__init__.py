"""The QaaS Excel add-in: text sources (customUI14.xml, QaasRibbon.bas, QaasFunctions.bas) and the .xlam build.

How the ribbon reaches Python
-----------------------------
``qaas_excel.xlam`` carries only our ribbon (``customUI/customUI14.xml``), one VBA module of
ribbon callbacks and one of worksheet-function stubs (``excel/udf_stubs.py``, Windows). Each
callback runs ``Application.Run "xlwings.xlam!RunPython", "import
qaas_excel.startup as s; s.use_os_trust_store(); import qaas_excel.excel.macros as m; m.<function>()"``
(each Python Excel starts first trusts the OS certificate store): ``RunPython`` lives in the standard xlwings
add-in, which ``qaas-excel addin install`` installs with ``xlwings addin install`` next to ours.

Why not embed xlwings' VBA module: xlwings.bas is some 1,200 lines of someone else's code tied to
one xlwings version (on macOS it calls the AppleScript file named after that version), so every
xlwings upgrade would need a rebuilt add-in; the standard add-in is upgraded with the package.
Why ``Application.Run`` rather than a VBA reference to the xlwings project: a reference breaks
compilation of the whole module when xlwings.xlam is missing; ``Application.Run`` fails only at
the click, where the callback says what to do.
The interpreter RunPython starts is set in xlwings' user config (``INTERPRETER_WIN`` /
``INTERPRETER_MAC``, or ``CONDA PATH``/``CONDA ENV``), as ``xlwings addin install`` does.

Sources and build
-----------------
``qaas_excel.excel.ribbon.BUTTONS`` is the one list of buttons and ``udfs.FUNCTIONS`` the one list of
worksheet functions; ``build.write_sources()`` regenerates the three text files from them and a test keeps
the committed copies in step.
``build.build_addin(folder)`` writes the .xlam on any OS, byte for byte the same every time.
"""
