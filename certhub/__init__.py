"""certhub composition: settings, database, the app, the CLI and web pages.

No domain logic lives here; it assembles the domain packages.
"""

__version__ = "0.1.0"
