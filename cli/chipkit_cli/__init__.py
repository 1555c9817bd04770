"""The `chipkit` command line: a thin click shell over the chipkit library."""
