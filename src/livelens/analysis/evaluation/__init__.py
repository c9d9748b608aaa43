"""Measuring the analysers on the public data sets in ``shared/data``.

The data sets are read from disk at evaluation time and never copied into the
package: several are non-commercial or GPL (see ``shared/data/README.md``).
"""
