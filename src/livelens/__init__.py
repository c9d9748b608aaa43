"""livelens: real-time contact analysis that speaks the Amazon Connect Contact Lens wire protocol."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("livelens")  # set at build time from the git tag (setuptools-scm)
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
