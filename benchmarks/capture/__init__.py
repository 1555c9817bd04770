"""Seeded simulator of phone captures of door plates, and the scanning benchmark."""
